//! The TLS patch of DOMAIN.md §8 as a pure function: upsert, by Sid, the Deny on
//! `aws:SecureTransport = false`, keeping every other statement and field exactly as it was.

use serde_json::Value;

/// The Sid the guardrail owns in bucket policies.
pub const DEFAULT_TLS_SID: &str = "DenyInsecureTransport";
/// S3's bucket policy size limit.
pub const MAX_BUCKET_POLICY_BYTES: usize = 20 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub enum TlsPatch {
    /// The policy already enforces TLS (under any Sid): nothing to write.
    AlreadyEnforced,
    /// The policy to write. `replaced_in_place` when a statement with our Sid but other
    /// content was replaced at its position.
    Patched {
        policy: Value,
        replaced_in_place: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchRefusal {
    #[error("patched policy would be {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("current policy cannot be read safely: {0}")]
    Unreadable(String),
    #[error("{0}")]
    Unsafe(String),
}

/// The statement the guardrail adds.
pub fn tls_statement(bucket: &str, partition: &str, sid: &str) -> Value {
    todo!()
}

/// Patches `current` (the bucket policy document; None = no policy) for `bucket`.
pub fn patch_tls(
    current: Option<&Value>,
    bucket: &str,
    partition: &str,
    sid: &str,
) -> Result<TlsPatch, PatchRefusal> {
    todo!()
}
