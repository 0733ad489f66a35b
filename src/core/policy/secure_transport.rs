//! "TLS enforced" (DOMAIN.md §5): does one Deny statement refuse every plain-HTTP request to
//! the bucket and its objects? Judged on structure, never by string matching; a near miss is
//! `partial` with every gap listed.

use serde::{Deserialize, Serialize};

use super::model::Policy;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsStatus {
    Enforced,
    Partial,
    NotEnforced,
}

/// Field names are a public interface (check-policy JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsReport {
    pub status: TlsStatus,
    /// The enforcing statement, or the closest partial one: its Sid or `#index`.
    pub statement: Option<String>,
    /// For `partial`: what the closest Deny misses, one plain sentence each.
    /// For `not_enforced`: why (no policy, no Deny on aws:SecureTransport, …).
    pub gaps: Vec<String>,
}

/// Judges `policy` (None = the bucket has no policy) for bucket `bucket` in `partition`.
pub fn evaluate_tls(policy: Option<&Policy>, bucket: &str, partition: &str) -> TlsReport {
    todo!()
}
