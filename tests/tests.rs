//! The one integration test binary: a module per area.

mod cli;
mod e2e;
mod no_delete;
mod template;
