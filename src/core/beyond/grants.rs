//! KMS grants as opt-ins (DOMAIN-BEYOND-S3.md §5): which live grants of a customer managed key
//! reach principals outside the owner and the trusted accounts (`KEY_GRANT_EXTERNAL`). A grant
//! to a service principal (`ec2.amazonaws.com`, `rds.<region>.amazonaws.com`, …) is how a
//! service uses the key for a resource, not an account opting in: never external. A grant
//! whose grantee names no account (a unique id, something unreadable) fails closed: external.
//! A grant that includes `CreateGrant` lets its grantee re-delegate the key: high.

use serde::{Deserialize, Serialize};

use crate::core::policy::key_half::Grant;
use crate::core::policy::sharing::Trust;

/// One grant to an outside principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalGrant {
    pub grant_id: String,
    pub grantee: String,
    /// The grantee's account, when it names one.
    pub account: Option<String>,
    pub operations: Vec<String>,
    /// The operations include `kms:CreateGrant` (re-delegation).
    pub redelegates: bool,
}

/// `ec2.amazonaws.com`, `rds.eu-west-1.amazonaws.com`, `….amazonaws.com.cn`: a service.
pub fn is_service_principal(grantee: &str) -> bool {
    let g = grantee.trim().to_ascii_lowercase();
    !g.starts_with("arn:") && (g.ends_with(".amazonaws.com") || g.ends_with(".amazonaws.com.cn"))
}

/// The grants of a key owned by `owner` that reach outside principals.
pub fn external_grants(grants: &[Grant], owner: &str, trust: &Trust) -> Vec<ExternalGrant> {
    grants
        .iter()
        .filter(|g| !is_service_principal(&g.grantee))
        .filter(|g| match g.account.as_deref() {
            Some(a) => a != owner && !trust.accounts.contains(a),
            None => true,
        })
        .map(|g| ExternalGrant {
            grant_id: g.id.clone(),
            grantee: g.grantee.clone(),
            account: g.account.clone(),
            operations: g.operations.clone(),
            redelegates: g
                .operations
                .iter()
                .any(|op| op.eq_ignore_ascii_case("kms:CreateGrant")),
        })
        .collect()
}
