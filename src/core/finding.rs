//! Findings: the rule ids, severities and the serialisable record every sink renders. A
//! finding's id is a hash of rule + resource (+ caller for diagnoses), so a re-post updates
//! the same finding instead of duplicating it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Stable rule ids (DOMAIN.md §3). Serialised as `SHARED_BUCKET_AWS_MANAGED_KEY`, ….
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RuleId {
    SharedBucketAwsManagedKey,
    SharedBucketSseS3,
    SharedBucketKeyNotArn,
    SharedBucketKeyUnusable,
    KeyPolicyMissingGrant,
    TlsNotEnforced,
    TlsPartial,
    KeyRotationDisabled,
    KeyExternalAdmin,
    KeyPublic,
    AccessDeniedDiagnosis,
    // Beyond S3 (DOMAIN-BEYOND-S3.md §6).
    SharedSnapshotAwsManagedKey,
    SharedImageAwsManagedKey,
    SharedSnapshotUnencrypted,
    SnapshotPublic,
    ImagePublic,
    SharedSnapshotKeyUnusable,
    SharedSecretAwsManagedKey,
    SecretPublic,
    SharedSecretKeyUnusable,
    EbsDefaultKeyAwsManaged,
    KeyGrantExternal,
}

impl RuleId {
    /// Every rule id, in the order of the README's rules tables.
    pub const ALL: [RuleId; 22] = [
        RuleId::SharedBucketAwsManagedKey,
        RuleId::SharedBucketSseS3,
        RuleId::SharedBucketKeyNotArn,
        RuleId::SharedBucketKeyUnusable,
        RuleId::KeyPolicyMissingGrant,
        RuleId::TlsNotEnforced,
        RuleId::TlsPartial,
        RuleId::KeyRotationDisabled,
        RuleId::KeyExternalAdmin,
        RuleId::KeyPublic,
        RuleId::AccessDeniedDiagnosis,
        RuleId::SharedSnapshotAwsManagedKey,
        RuleId::SharedImageAwsManagedKey,
        RuleId::SharedSnapshotUnencrypted,
        RuleId::SnapshotPublic,
        RuleId::ImagePublic,
        RuleId::SharedSnapshotKeyUnusable,
        RuleId::SharedSecretAwsManagedKey,
        RuleId::SecretPublic,
        RuleId::SharedSecretKeyUnusable,
        RuleId::EbsDefaultKeyAwsManaged,
        RuleId::KeyGrantExternal,
    ];

    /// The id as written in findings, logs and the README.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleId::SharedBucketAwsManagedKey => "SHARED_BUCKET_AWS_MANAGED_KEY",
            RuleId::SharedBucketSseS3 => "SHARED_BUCKET_SSE_S3",
            RuleId::SharedBucketKeyNotArn => "SHARED_BUCKET_KEY_NOT_ARN",
            RuleId::SharedBucketKeyUnusable => "SHARED_BUCKET_KEY_UNUSABLE",
            RuleId::KeyPolicyMissingGrant => "KEY_POLICY_MISSING_GRANT",
            RuleId::TlsNotEnforced => "TLS_NOT_ENFORCED",
            RuleId::TlsPartial => "TLS_PARTIAL",
            RuleId::KeyRotationDisabled => "KEY_ROTATION_DISABLED",
            RuleId::KeyExternalAdmin => "KEY_EXTERNAL_ADMIN",
            RuleId::KeyPublic => "KEY_PUBLIC",
            RuleId::AccessDeniedDiagnosis => "ACCESS_DENIED_DIAGNOSIS",
            RuleId::SharedSnapshotAwsManagedKey => "SHARED_SNAPSHOT_AWS_MANAGED_KEY",
            RuleId::SharedImageAwsManagedKey => "SHARED_IMAGE_AWS_MANAGED_KEY",
            RuleId::SharedSnapshotUnencrypted => "SHARED_SNAPSHOT_UNENCRYPTED",
            RuleId::SnapshotPublic => "SNAPSHOT_PUBLIC",
            RuleId::ImagePublic => "IMAGE_PUBLIC",
            RuleId::SharedSnapshotKeyUnusable => "SHARED_SNAPSHOT_KEY_UNUSABLE",
            RuleId::SharedSecretAwsManagedKey => "SHARED_SECRET_AWS_MANAGED_KEY",
            RuleId::SecretPublic => "SECRET_PUBLIC",
            RuleId::SharedSecretKeyUnusable => "SHARED_SECRET_KEY_UNUSABLE",
            RuleId::EbsDefaultKeyAwsManaged => "EBS_DEFAULT_KEY_AWS_MANAGED",
            RuleId::KeyGrantExternal => "KEY_GRANT_EXTERNAL",
        }
    }

    /// A short human title.
    pub fn title(self) -> &'static str {
        match self {
            RuleId::SharedBucketAwsManagedKey => {
                "Shared bucket encrypted with an AWS managed key (other accounts cannot decrypt)"
            }
            RuleId::SharedBucketSseS3 => {
                "Shared bucket uses SSE-S3 (no customer control of the key)"
            }
            RuleId::SharedBucketKeyNotArn => {
                "Shared bucket references its KMS key by alias or id, not full ARN"
            }
            RuleId::SharedBucketKeyUnusable => "Shared bucket's KMS key cannot be used by S3",
            RuleId::KeyPolicyMissingGrant => {
                "Key policy does not grant accounts the bucket shares with"
            }
            RuleId::TlsNotEnforced => "Bucket policy does not deny plain-HTTP requests",
            RuleId::TlsPartial => "Bucket policy denies plain HTTP only partially",
            RuleId::KeyRotationDisabled => "KMS key rotation is not enabled",
            RuleId::KeyExternalAdmin => "Key policy gives another account more than usage",
            RuleId::KeyPublic => "Key policy allows any principal",
            RuleId::AccessDeniedDiagnosis => {
                "Cross-account AccessDenied: missing half of the handshake"
            }
            RuleId::SharedSnapshotAwsManagedKey => {
                "Shared snapshot encrypted with an AWS managed key (other accounts cannot use it)"
            }
            RuleId::SharedImageAwsManagedKey => {
                "Shared AMI backed by snapshots under an AWS managed key (other accounts cannot launch it)"
            }
            RuleId::SharedSnapshotUnencrypted => {
                "Shared snapshot is unencrypted (no key control or revocation)"
            }
            RuleId::SnapshotPublic => "Snapshot is public",
            RuleId::ImagePublic => "AMI is public",
            RuleId::SharedSnapshotKeyUnusable => "Shared snapshot's KMS key cannot be used",
            RuleId::SharedSecretAwsManagedKey => {
                "Shared secret encrypted with aws/secretsmanager (other accounts cannot decrypt)"
            }
            RuleId::SecretPublic => "Secret resource policy allows any principal",
            RuleId::SharedSecretKeyUnusable => "Shared secret's KMS key cannot be used",
            RuleId::EbsDefaultKeyAwsManaged => {
                "EBS default key is aws/ebs in a region where snapshots or AMIs are shared"
            }
            RuleId::KeyGrantExternal => "KMS grant to a principal outside the trusted accounts",
        }
    }
}

impl std::fmt::Display for RuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Severity labels as Security Hub spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Informational => "INFORMATIONAL",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

/// ASFF resource types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResourceType {
    AwsS3Bucket,
    AwsKmsKey,
    AwsEc2Snapshot,
    AwsEc2Image,
    AwsRdsDbSnapshot,
    AwsRdsDbClusterSnapshot,
    AwsSecretsManagerSecret,
    /// An account's settings in one region (the EBS default key).
    AwsAccount,
}

/// What happens about a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Remediation {
    /// Enforce mode: the plan's steps with these indexes fix it.
    Planned { steps: Vec<usize> },
    /// Report mode: these steps would fix it in enforce mode.
    WouldApply { steps: Vec<usize> },
    /// The resource carries the exemption tag: reported, never patched.
    Exempt,
    /// No automatic patch; `reason` says why (the `fix` says what to do by hand).
    Manual { reason: String },
}

/// One failed check. Field names are a public interface (CLI JSON, EventBridge detail).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Deterministic: hash of rule + resource (+ discriminator).
    pub id: String,
    pub rule_id: RuleId,
    pub severity: Severity,
    pub title: String,
    pub resource_type: ResourceType,
    pub resource_arn: String,
    pub account: String,
    pub region: String,
    pub exempt: bool,
    /// Plain words, naming the statement / condition / key involved.
    pub reasons: Vec<String>,
    /// The exact fix to apply (a command or a statement to paste).
    pub fix: String,
    pub remediation: Remediation,
}

impl Finding {
    /// The finding as one line of text, as every text report prints it:
    /// `[HIGH] RULE_ID (exempt) — arn` (no indentation, no newline).
    pub fn line(&self) -> String {
        format!(
            "[{}] {}{} — {}",
            self.severity.as_str(),
            self.rule_id,
            if self.exempt { " (exempt)" } else { "" },
            self.resource_arn
        )
    }
}

/// A check that was evaluated and passed: sinks mark an earlier finding with this id resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Passed {
    pub id: String,
    pub rule_id: RuleId,
    pub resource_type: ResourceType,
    pub resource_arn: String,
    pub account: String,
    pub region: String,
}

/// The deterministic finding id: `cmkguard/<rule>/<sha256(rule|resource|extra)[..32]>`.
pub fn finding_id(rule: RuleId, resource_arn: &str, discriminator: &str) -> String {
    let mut h = Sha256::new();
    h.update(rule.as_str().as_bytes());
    h.update(b"|");
    h.update(resource_arn.as_bytes());
    h.update(b"|");
    h.update(discriminator.as_bytes());
    let digest = h.finalize();
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("cmkguard/{}/{hex}", rule.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_deterministic_and_distinct() {
        let a = finding_id(RuleId::TlsNotEnforced, "arn:aws:s3:::a", "");
        assert_eq!(a, finding_id(RuleId::TlsNotEnforced, "arn:aws:s3:::a", ""));
        assert_ne!(a, finding_id(RuleId::TlsPartial, "arn:aws:s3:::a", ""));
        assert_ne!(a, finding_id(RuleId::TlsNotEnforced, "arn:aws:s3:::b", ""));
        assert!(a.starts_with("cmkguard/TLS_NOT_ENFORCED/"));
        assert_eq!(a.len(), "cmkguard/TLS_NOT_ENFORCED/".len() + 32);
    }

    #[test]
    fn rule_ids_serialise_as_written_in_the_spec() {
        for r in [
            RuleId::SharedBucketSseS3,
            RuleId::KeyPolicyMissingGrant,
            RuleId::AccessDeniedDiagnosis,
        ] {
            assert_eq!(
                serde_json::to_value(r).unwrap(),
                serde_json::json!(r.as_str())
            );
        }
        assert_eq!(serde_json::to_value(Severity::High).unwrap(), "HIGH");
    }

    #[test]
    fn every_rule_id_serialises_as_its_string_and_is_listed_once() {
        let mut seen = std::collections::BTreeSet::new();
        for r in RuleId::ALL {
            assert_eq!(
                serde_json::to_value(r).unwrap(),
                serde_json::json!(r.as_str())
            );
            assert!(seen.insert(r.as_str()), "{r} listed twice");
            assert!(!r.title().is_empty());
        }
        for id in [
            "SHARED_SNAPSHOT_AWS_MANAGED_KEY",
            "SHARED_IMAGE_AWS_MANAGED_KEY",
            "SHARED_SNAPSHOT_UNENCRYPTED",
            "SNAPSHOT_PUBLIC",
            "IMAGE_PUBLIC",
            "SHARED_SNAPSHOT_KEY_UNUSABLE",
            "SHARED_SECRET_AWS_MANAGED_KEY",
            "SECRET_PUBLIC",
            "SHARED_SECRET_KEY_UNUSABLE",
            "EBS_DEFAULT_KEY_AWS_MANAGED",
            "KEY_GRANT_EXTERNAL",
            "KEY_POLICY_MISSING_GRANT",
        ] {
            assert!(seen.contains(id), "{id} missing from RuleId::ALL");
            let back: RuleId = serde_json::from_value(serde_json::json!(id)).unwrap();
            assert_eq!(back.as_str(), id);
        }
    }
}
