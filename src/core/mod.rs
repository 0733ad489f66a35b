//! The pure decision core: no I/O, no async, no environment, no clock. Everything the
//! guardrail decides is decided here from data, so every rule is a table test away.

pub mod access_model;
#[cfg(test)]
mod arbitrary_inputs;
pub mod arn;
pub mod backfill;
pub mod beyond;
pub mod config;
pub mod decide;
pub mod doctor;
pub mod encryption;
pub mod encryption_rule;
pub mod event;
pub mod finding;
pub mod iam;
pub mod json;
pub mod key_class;
pub mod plan;
pub mod policy;
pub mod relay;
pub mod schedule;
pub mod snapshot;
pub mod template;
#[cfg(test)]
pub mod testing;
pub mod time;
