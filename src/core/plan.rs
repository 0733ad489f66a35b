//! The plan `decide` returns: findings, passed checks, and the write steps that would fix
//! what can be fixed safely. Steps are data; the app executes them only in enforce mode, with
//! a fresh read before and a verification after each write.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::config::Mode;
use super::event::TriggerKind;
use super::finding::{Finding, Passed};

/// One write. Field names are a public interface (CLI JSON, Outcome log line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action")]
pub enum Step {
    /// Write the whole bucket policy (the current one plus the TLS Deny).
    PutBucketPolicy {
        bucket: String,
        expected_bucket_owner: String,
        /// The policy read when planning: the app re-reads and re-plans if it changed.
        based_on: Option<Value>,
        policy: Value,
        sid: String,
    },
    /// Set default encryption to SSE-KMS with a customer managed key by full ARN.
    PutBucketEncryption {
        bucket: String,
        expected_bucket_owner: String,
        kms_key_arn: String,
        bucket_key_enabled: bool,
    },
    /// Write key policy `default` with usage-only grants added.
    PutKeyPolicy {
        key_arn: String,
        policy_name: String,
        based_on: Value,
        policy: Value,
        added_accounts: Vec<String>,
    },
    EnableKeyRotation {
        key_arn: String,
    },
}

impl Step {
    /// The API call, for logs and summaries.
    pub fn api(&self) -> &'static str {
        match self {
            Step::PutBucketPolicy { .. } => "s3:PutBucketPolicy",
            Step::PutBucketEncryption { .. } => "s3:PutBucketEncryption",
            Step::PutKeyPolicy { .. } => "kms:PutKeyPolicy",
            Step::EnableKeyRotation { .. } => "kms:EnableKeyRotation",
        }
    }

    /// The resource written.
    pub fn target(&self) -> &str {
        match self {
            Step::PutBucketPolicy { bucket, .. } | Step::PutBucketEncryption { bucket, .. } => {
                bucket
            }
            Step::PutKeyPolicy { key_arn, .. } | Step::EnableKeyRotation { key_arn } => key_arn,
        }
    }
}

/// What the trigger was about, for humans and logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    pub kind: TriggerKind,
    pub event_name: String,
    /// Bucket ARN or key ARN / reference the plan is about.
    pub resource: Option<String>,
}

/// The result of `decide`. Field names are a public interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub subject: Subject,
    pub mode: Mode,
    /// Set when the trigger is ignored after all (loop guard, resource gone): no findings.
    pub ignored: Option<String>,
    pub findings: Vec<Finding>,
    pub passed: Vec<Passed>,
    /// The checks of a resource that no longer exists (bucket deleted, key deleted at the end
    /// of its waiting period): sinks archive earlier findings with these ids (ASFF
    /// `RecordState: ARCHIVED`). Set on an ignored plan too: nothing is left to decide on.
    #[serde(default)]
    pub archived: Vec<Passed>,
    /// Writes that fix findings. Executed only in enforce mode.
    pub steps: Vec<Step>,
    /// Observations that are not findings: what could not be checked and why.
    pub notes: Vec<String>,
}

impl Plan {
    /// True when some finding is not exempt (what `--fail-on-findings` looks at).
    pub fn has_violations(&self) -> bool {
        self.findings.iter().any(|f| !f.exempt)
    }
}
