//! "Shared" (DOMAIN.md §4): who besides the owner can reach a bucket, from its bucket policy
//! and its ACL, with the reasons. Conservative: a condition it does not understand on a wide
//! principal fails closed (shared, and says which condition).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::Policy;

/// Accounts, organisations, VPCs and VPC endpoints the configuration trusts. Trust never
/// exempts a bucket from the CMK rule; it only decides `untrusted`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Trust {
    pub accounts: BTreeSet<String>,
    pub orgs: BTreeSet<String>,
    pub vpcs: BTreeSet<String>,
    pub vpces: BTreeSet<String>,
}

/// The bucket being judged.
#[derive(Debug, Clone, Copy)]
pub struct BucketContext<'a> {
    pub bucket: &'a str,
    pub owner_account: &'a str,
    /// The owner's canonical user id (from GetBucketAcl `Owner.ID`), when known.
    pub owner_canonical_id: Option<&'a str>,
    pub partition: &'a str,
}

/// Output of the sharing evaluator. Field names are a public interface (check-policy JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharingReport {
    pub shared: bool,
    pub public: bool,
    pub untrusted: bool,
    /// Other 12-digit accounts granted, sorted, no duplicates, never the owner.
    pub external_accounts: Vec<String>,
    /// Organisation ids (or org paths) a grant is limited to, sorted.
    pub organisations: Vec<String>,
    /// Principals that reach beyond the owner but name no account: unique ids (AROA…),
    /// canonical ids of others, malformed ids. Sorted.
    pub unknown_principals: Vec<String>,
    /// VPC ids, VPC endpoint ids or CIDRs that a wide grant is limited to, sorted.
    pub networks: Vec<String>,
    /// Plain-word reasons naming the statement (Sid or #index), principal and condition.
    pub reasons: Vec<String>,
}

impl SharingReport {
    /// Combines the policy and ACL verdicts (lists merged, sorted, deduplicated).
    pub fn merge(self, other: SharingReport) -> SharingReport {
        todo!()
    }
}

/// Judges the Allow statements of a bucket policy.
pub fn evaluate_policy_sharing(
    policy: &Policy,
    ctx: &BucketContext,
    trust: &Trust,
) -> SharingReport {
    todo!()
}

/// Judges a bucket ACL: GetBucketAcl output (`{"Owner": {...}, "Grants": [...]}`), PascalCase
/// or camelCase. Grants to another canonical id or to the AllUsers / AuthenticatedUsers groups
/// share the bucket.
pub fn evaluate_acl_sharing(acl: &Value, ctx: &BucketContext, trust: &Trust) -> SharingReport {
    todo!()
}
