//! What each sharee needs of the key ("the key set", DOMAIN-BEYOND-S3.md §4) per kind, and
//! whether the key gives it (`policy::key_half`: key policy or a live grant to a principal of
//! that account, minus the Denies that certainly apply).
//!
//! The true minimum for EBS is [U]; the spec's conservative reading is required: `DescribeKey`,
//! `CreateGrant` (EBS creates a grant for the sharee; `kms:GrantIsForAWSResource` is enough),
//! `Decrypt`, `ReEncrypt*` (both directions, as the console writes it) and
//! `GenerateDataKeyWithoutPlaintext` — `GenerateDataKey` is accepted in its place, as the spec
//! allows `GenerateDataKey*`. RDS: `CreateGrant`, `Decrypt`, `DescribeKey` (the key policy
//! must name the sharee and allow `CreateGrant`; AWS's example adds the rest). Secrets:
//! `Decrypt`, `DescribeKey`.

use serde::{Deserialize, Serialize};

use crate::core::policy::key_half::{key_half, Grant, KeyHalf};
use crate::core::policy::key_policy::KeyPolicyReport;
use crate::core::policy::Policy;

/// The kinds of resource that carry data under a key to another account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Carrier {
    EbsSnapshot,
    Image,
    DbSnapshot,
    ClusterSnapshot,
    Secret,
}

impl Carrier {
    /// Plain words.
    pub fn noun(self) -> &'static str {
        match self {
            Carrier::EbsSnapshot => "EBS snapshot",
            Carrier::Image => "AMI",
            Carrier::DbSnapshot => "DB snapshot",
            Carrier::ClusterSnapshot => "cluster snapshot",
            Carrier::Secret => "secret",
        }
    }

    /// What a sharee does with it, for "the sharee cannot …" reasons.
    pub fn use_verb(self) -> &'static str {
        match self {
            Carrier::EbsSnapshot => "copy it or create volumes from it",
            Carrier::Image => "launch it or copy it",
            Carrier::DbSnapshot => "copy it (an encrypted DB snapshot is copied before restore)",
            Carrier::ClusterSnapshot => "restore or copy it",
            Carrier::Secret => "read its value",
        }
    }
}

const EBS: &[&str] = &[
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
];
const RDS: &[&str] = &["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey"];
const SECRET: &[&str] = &["kms:Decrypt", "kms:DescribeKey"];

/// The key set of a kind, spelt `kms:…`.
pub fn key_set(c: Carrier) -> &'static [&'static str] {
    match c {
        Carrier::EbsSnapshot | Carrier::Image => EBS,
        Carrier::DbSnapshot | Carrier::ClusterSnapshot => RDS,
        Carrier::Secret => SECRET,
    }
}

/// One sharee account's key half for a kind: the `KeyHalf` of `policy::key_half` with the
/// kind's key set, `GenerateDataKey` standing in for `GenerateDataKeyWithoutPlaintext`.
pub fn sharee_key_half(
    c: Carrier,
    policy: &Policy,
    grants: &[Grant],
    owner: &str,
    account: &str,
) -> KeyHalf {
    let mut needed: Vec<&str> = key_set(c).to_vec();
    if needed.contains(&"kms:GenerateDataKeyWithoutPlaintext") {
        needed.push("kms:GenerateDataKey");
    }
    let mut half = key_half(policy, grants, owner, account, &needed);
    let has = |a: &str| half.has.iter().any(|h| h.eq_ignore_ascii_case(a));
    let either = has("kms:GenerateDataKeyWithoutPlaintext") || has("kms:GenerateDataKey");
    half.missing.retain(|m| {
        let alternative = m == "kms:GenerateDataKey" || m == "kms:GenerateDataKeyWithoutPlaintext";
        !(alternative && either)
    });
    if !either {
        // One of the two is needed, not both: name the one the spec names.
        half.missing.retain(|m| m != "kms:GenerateDataKey");
    }
    half
}

/// An organisation sharee (AMI shared with an organisation or OU) is admitted only when the
/// key policy grants usage on `aws:PrincipalOrgID` / `aws:PrincipalOrgPaths` naming it
/// (AMI-XACCT); grants cannot name an organisation.
pub fn org_admitted(report: &KeyPolicyReport, org: &str) -> bool {
    report.organisations.iter().any(|o| o == org)
}
