//! The fuzz targets' view of cmkguard: the pure decision core compiled in directly (it needs
//! only serde, serde_json, sha2, thiserror and aws_lambda_events' EventBridge envelope type),
//! plus the checks the targets share. Each target
//! asserts properties, not just "no panic": a violated assertion is a crash too.

#[allow(dead_code, clippy::all)]
#[path = "../../src/core/mod.rs"]
pub mod core;

use serde_json::Value;

use crate::core::policy::Policy;

/// The bucket, partition and owner the targets judge against.
pub const BUCKET: &str = "data-bucket";
pub const PARTITION: &str = "aws";
pub const OWNER: &str = "111122223333";

/// Fuzz input as JSON, when it is JSON (most mutations of the seeds still are).
pub fn json(data: &[u8]) -> Option<Value> {
    serde_json::from_slice(data).ok()
}

/// The raw statements of a parsed policy whose Sid is not `sid`, in document order.
pub fn others(policy: &Policy, sid: &str) -> Vec<Value> {
    policy
        .statements
        .iter()
        .filter(|s| s.sid.as_deref() != Some(sid))
        .map(|s| s.raw.clone())
        .collect()
}
