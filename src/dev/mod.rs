//! Development-only code, compiled only with the cargo feature `dev` (the demo, the tests and
//! the benches enable it; the Lambda's default build does not): the local AWS emulator, the
//! seeding helper (which creates, disables and tags things the guardrail never would), and
//! the demo's world, and several accounts on one emulator (`accounts`).

pub mod accounts;
pub mod emulator;
pub mod scenario;
pub mod seed;
