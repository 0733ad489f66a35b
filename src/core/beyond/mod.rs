//! Beyond S3 (DOMAIN-BEYOND-S3.md): the same handshake on EBS snapshots, AMIs, RDS DB and
//! cluster snapshots and Secrets Manager secrets, with KMS grants as a second way for a key to
//! opt an account in. Pure, like the rest of the core: the typed state the adapters will fill
//! (`ec2`, `rds`, `secret`, gathered in `state`), who each resource is shared with (`shared`),
//! what each sharee needs of the key and whether it has it (`key_set`), and the grants to
//! outside principals (`grants`). The rules that turn these into findings live in
//! `decide::beyond`.

pub mod ec2;
pub mod grants;
pub mod key_set;
mod lenient;
pub mod rds;
pub mod secret;
pub mod shared;
pub mod state;

pub use state::BeyondState;

#[cfg(test)]
mod tests;
