//! cmkguard: an event-driven AWS guardrail. A bucket shared with other accounts must use
//! SSE-KMS with a customer managed key (by full ARN, granted to those accounts), and every
//! bucket must deny plain-HTTP requests.
//!
//! ```text
//! event bytes ─► core::event ─► Trigger | Ignored{reason}
//!                  adapters re-read current state ─► Snapshot
//!                  core::decide(&Trigger, &Snapshot, &Config) ─► Plan { findings, steps }
//!                  app executes what the mode allows, verifies, posts findings ─► Outcome
//! ```
//!
//! In an organisation, the relay (`relay`, its own Lambda) forwards the caller-side denial
//! records members send to a central bus to the owner's account, whose guardrail diagnoses
//! them like its own.
//!
//! Invariants: the core is pure; the event is a trigger, never the truth; a patch only adds
//! (a Deny, a CMK, a usage grant for accounts already granted) and never removes a statement.

pub mod app;
pub mod aws;
pub mod commands;
pub mod config;
pub mod core;
#[cfg(feature = "dev")]
pub mod dev;
pub mod ports;
pub mod relay;
pub mod render;
pub mod scan;
