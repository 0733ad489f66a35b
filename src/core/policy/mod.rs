//! Policy documents: the shared model, and the three judges built on it — who can reach a
//! bucket (`sharing`), whether plain HTTP is denied (`secure_transport`), what a key policy
//! grants (`key_policy`) — plus the pure patches (`patch`: the TLS Deny, the key usage grant).

pub mod key_policy;
pub mod model;
pub mod patch;
pub mod secure_transport;
pub mod sharing;

pub use model::{Policy, PolicyError};
