//! Policy documents: the shared model and vocabulary (`model`, `conditions`), and the three
//! judges built on them — who can reach a bucket (`sharing`), whether plain HTTP is denied
//! (`secure_transport`), what a key policy grants (`key_policy`), what a key's policy and
//! grants give one account (`key_half`) — plus the pure patches
//! (`patch`: the TLS Deny, the key usage grant).

pub mod conditions;
pub mod key_half;
pub mod key_policy;
pub mod model;
pub mod patch;
pub mod secure_transport;
pub mod sharing;

pub use model::{Policy, PolicyError};
