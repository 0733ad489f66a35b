//! The one integration test binary: a module per area.

mod check_template;
mod cli;
mod layering;
// The emulator, its seeding and the demo world are behind the `dev` feature (scripts/test and
// CI enable it; CI also counts that these tests ran).
#[cfg(feature = "dev")]
mod e2e;
mod no_delete;
mod template;
