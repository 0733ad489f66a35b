//! Key policy analysis: which other accounts get usage of a KMS key, which get more than
//! usage (`KEY_EXTERNAL_ADMIN`), whether the key is public (`KEY_PUBLIC`); and the pure
//! key-policy patch that adds usage-only grants for accounts a bucket already shares with.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::Policy;
use super::patch::PatchRefusal;

/// KMS's key policy size limit.
pub const MAX_KEY_POLICY_BYTES: usize = 32 * 1024;
/// Sid prefix of the grants the guardrail adds (one statement per account).
pub const GRANT_SID_PREFIX: &str = "CmkguardS3Usage";

/// One problem found in a key policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPolicyIssue {
    /// `KEY_EXTERNAL_ADMIN` or `KEY_PUBLIC`.
    pub rule: String,
    /// The account concerned, when one is named.
    pub account: Option<String>,
    /// Statement Sid or `#index`.
    pub statement: String,
    /// Plain words: which actions beyond usage, or why the principal is public.
    pub detail: String,
}

/// Field names are a public interface (check-key-policy JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPolicyReport {
    /// Other accounts allowed `kms:Decrypt` (directly, by ARN, or `*` narrowed by
    /// `kms:CallerAccount` / `aws:PrincipalAccount`), sorted. Never the owner.
    pub usage_accounts: Vec<String>,
    /// Other accounts allowed anything beyond the usage actions, sorted.
    pub admin_accounts: Vec<String>,
    /// Organisations granted usage via `aws:PrincipalOrgID` on a wide principal, sorted.
    pub organisations: Vec<String>,
    pub public: bool,
    pub issues: Vec<KeyPolicyIssue>,
    pub reasons: Vec<String>,
}

impl KeyPolicyReport {
    /// True when `account` is the owner or is in `usage_accounts`.
    pub fn grants_usage_to(&self, owner_account: &str, account: &str) -> bool {
        todo!()
    }
}

/// Analyses a key policy of a key owned by `owner_account`.
pub fn analyse_key_policy(policy: &Policy, owner_account: &str) -> KeyPolicyReport {
    todo!()
}

/// Adds, per account, a usage-only Allow for S3 (`kms:Decrypt`, `kms:GenerateDataKey*`,
/// `kms:DescribeKey`, `kms:Encrypt`, `kms:ReEncrypt*`) on `Resource: "*"` limited by
/// `kms:ViaService = s3.<region>.amazonaws.com`, Sid `GRANT_SID_PREFIX<account>`. Keeps every
/// statement; idempotent; refuses non-account principals and results over 32 KB.
pub fn add_usage_grants(
    policy: &Value,
    accounts: &[String],
    region: &str,
    partition: &str,
) -> Result<Value, PatchRefusal> {
    todo!()
}
