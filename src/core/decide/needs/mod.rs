//! What a bucket's verdict needs read, for the sweep's reads by need (issue 17): the policy
//! and ACL always (they say whether the bucket is shared, and whether TLS is enforced); the
//! default encryption only for a shared bucket (every rule that reads it is a shared-bucket
//! rule); the tags only when the plan has a finding or a patch (the exemption tag only marks
//! findings exempt and holds patches back). Event handling reads everything in one round trip
//! and never asks; the sweep, where requests and not depth are the cost, asks here.

use super::bucket::bucket_sharing;
use crate::core::plan::Plan;
use crate::core::policy::sharing::Trust;
use crate::core::policy::Policy;
use crate::core::snapshot::BucketState;

/// True when the bucket's default encryption can change its verdict: it exists, its policy
/// (if any) can be read, and it is shared. A policy that cannot be read makes the bucket
/// "not judged", so its encryption is not needed either.
pub fn bucket_needs_encryption(state: &BucketState, trust: &Trust) -> bool {
    if !state.exists {
        return false;
    }
    let policy = match state.policy.as_ref().filter(|v| !v.is_null()) {
        None => None,
        Some(v) => match Policy::parse_any(v) {
            Ok(p) => Some(p),
            Err(_) => return false,
        },
    };
    bucket_sharing(state, policy.as_ref(), trust).shared
}

/// True when the resource's tags can change the plan: there is a finding to mark exempt or a
/// step to hold back. A plan without either is the same whatever the tags say.
pub fn plan_needs_tags(plan: &Plan) -> bool {
    plan.ignored.is_none() && (!plan.findings.is_empty() || !plan.steps.is_empty())
}

#[cfg(test)]
mod tests;
