//! The key half of the handshake for one account (DOMAIN.md §3, DOMAIN-BEYOND-S3.md §5): which
//! KMS usage actions a customer managed key lets another account use, from its key policy (a
//! statement naming that account, or `*` narrowed to it — `key_policy`) **or** a live KMS grant
//! to one of its principals (`ListGrants`), minus the key policy's Deny statements that
//! certainly apply to it. Not S3-specific: a caller asks "does account X have action set S?"
//! (S3 object reads need `kms:Decrypt`, writes `kms:GenerateDataKey` and `kms:Decrypt` for
//! multipart uploads; snapshot and secret sharing ask for their own sets).
//!
//! Grants only allow. A grant to a service principal (EC2, RDS acting for a resource) opts no
//! account in. Encryption-context constraints narrow a grant without refusing it, as
//! `kms:ViaService` narrows a key policy statement; both are noted.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::conditions::{aws_target, AwsTarget};
use super::key_policy::{analyse_key_policy, denied_usage, grant_ops_named_by, usage_named_by};
use super::model::Policy;
use crate::core::json::{get_ci_present, str_field, string_list};

/// One KMS grant, as `ListGrants` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub id: String,
    pub name: Option<String>,
    /// `GranteePrincipal` as written.
    pub grantee: String,
    /// The account of the grantee, when it is an IAM / STS principal of one.
    pub account: Option<String>,
    /// `Operations`, spelt `kms:…`.
    pub operations: Vec<String>,
    /// The grant carries `Constraints` (an encryption context it applies to).
    pub constrained: bool,
}

/// Reads `ListGrants` output (`{"Grants": [...]}`), a bare list of grants, or `null` (no
/// grants). Entries that are not objects or name no grantee are skipped; anything else that
/// is not such a list is an error, so a state file cannot pass off junk as "no grants".
pub fn parse_grants(v: &Value) -> Result<Vec<Grant>, String> {
    let list = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        Value::Object(_) => match get_ci_present(v, "Grants") {
            Some(Value::Array(items)) => items,
            Some(Value::Null) | None => return Ok(Vec::new()),
            Some(_) => return Err("Grants is not a list".into()),
        },
        _ => return Err("grants are neither ListGrants output nor a list".into()),
    };
    Ok(list
        .iter()
        .filter(|g| g.is_object())
        .filter_map(|g| {
            let grantee = str_field(g, "GranteePrincipal")?;
            let account = match aws_target(&grantee) {
                AwsTarget::Account(a) => Some(a),
                AwsTarget::Wide | AwsTarget::Unknown(_) => None,
            };
            let operations = get_ci_present(g, "Operations")
                .map(string_list)
                .unwrap_or_default()
                .into_iter()
                .map(|op| {
                    let op = op.trim().to_string();
                    if op.to_ascii_lowercase().starts_with("kms:") {
                        op
                    } else {
                        format!("kms:{op}")
                    }
                })
                .collect();
            Some(Grant {
                id: str_field(g, "GrantId").unwrap_or_else(|| "(no GrantId)".into()),
                name: str_field(g, "Name"),
                grantee,
                account,
                operations,
                constrained: get_ci_present(g, "Constraints").is_some_and(|c| !c.is_null()),
            })
        })
        .collect())
}

/// What one account has of a key, and what it lacks of the actions asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyHalf {
    pub account: String,
    /// Usage actions the account may use (key policy ∪ grants, minus certain Denies), sorted.
    pub has: Vec<String>,
    /// Of the actions asked for, those it does not have.
    pub missing: Vec<String>,
    /// Grants that add to `has` (their ids).
    pub grants: Vec<String>,
    /// Narrowing constraints and Denies that only may apply, in plain words.
    pub notes: Vec<String>,
}

impl KeyHalf {
    pub fn complete(&self) -> bool {
        self.missing.is_empty()
    }

    /// "account A has X, Y on ARN (grants G)": what a finding says the account already has,
    /// when it has anything.
    pub fn held(&self, key_arn: &str) -> Option<String> {
        if self.has.is_empty() {
            return None;
        }
        let grants = if self.grants.is_empty() {
            String::new()
        } else {
            format!(" (grants {})", self.grants.join(", "))
        };
        Some(format!(
            "account {} has {} on {key_arn}{grants}",
            self.account,
            self.has.join(", ")
        ))
    }
}

/// Whether `account` may use `needed` on a key owned by `owner`. The owner's own principals
/// are governed by their IAM policies (a default key policy delegates to them), so the owner's
/// half is always complete here.
///
/// `needed` may name grant-management actions too (`kms:CreateGrant`: EBS and RDS create a
/// grant for the sharee when it copies or launches, DOMAIN-BEYOND-S3.md §4). They count as
/// held when the key policy allows them to the account (with `kms:GrantIsForAWSResource` or
/// without) or a grant to it includes them; they are listed in `has` only when asked for, so
/// the S3 verdicts and `account_usage` read as before.
pub fn key_half(
    policy: &Policy,
    grants: &[Grant],
    owner: &str,
    account: &str,
    needed: &[&str],
) -> KeyHalf {
    let mut half = KeyHalf {
        account: account.to_string(),
        ..KeyHalf::default()
    };
    if account == owner {
        half.has = needed.iter().map(|a| a.to_string()).collect();
        return half;
    }
    let report = analyse_key_policy(policy, owner);
    // The key policy's own usage, its Denies already subtracted (and named in its reasons).
    let asked_grant_ops: BTreeSet<&'static str> =
        grant_ops_named_by(&needed.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .into_iter()
            .filter(|op| needed.iter().any(|n| n.eq_ignore_ascii_case(op)))
            .collect();
    let from_policy: BTreeSet<&'static str> = report
        .account_usage
        .get(account)
        .into_iter()
        .flatten()
        .filter_map(|a| usage_named_by(std::slice::from_ref(a)).into_iter().next())
        .chain(
            report
                .account_grant_ops
                .get(account)
                .into_iter()
                .flatten()
                .filter_map(|a| {
                    grant_ops_named_by(std::slice::from_ref(a))
                        .into_iter()
                        .next()
                })
                .filter(|op| asked_grant_ops.contains(op)),
        )
        .collect();
    let about = |r: &String| {
        r.contains(&format!("denies account {account} "))
            || r.contains(&format!("may deny account {account} "))
    };
    half.notes
        .extend(report.reasons.iter().filter(|r| about(r)).cloned());
    let mut from_grants: BTreeSet<&'static str> = BTreeSet::new();
    for g in grants
        .iter()
        .filter(|g| g.account.as_deref() == Some(account))
    {
        let mut added = usage_named_by(&g.operations);
        added.extend(
            grant_ops_named_by(&g.operations)
                .into_iter()
                .filter(|op| asked_grant_ops.contains(op)),
        );
        if added.is_empty() {
            continue;
        }
        half.grants.push(g.id.clone());
        if g.constrained {
            half.notes.push(format!(
                "grant {} to {} applies only under its encryption-context constraints",
                g.id, g.grantee
            ));
        }
        from_grants.extend(added);
    }
    // A key policy Deny overrides a grant too.
    let extra: BTreeSet<&'static str> = from_grants.difference(&from_policy).copied().collect();
    let mut reasons = Vec::new();
    let denied = denied_usage(policy, account, &extra, &mut reasons);
    half.notes.extend(reasons);
    half.has = from_policy
        .iter()
        .chain(extra.iter().filter(|a| !denied.contains(*a)))
        .map(|a| a.to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    half.missing = needed
        .iter()
        .filter(|n| !half.has.iter().any(|h| h.eq_ignore_ascii_case(n)))
        .map(|n| n.to_string())
        .collect();
    half
}

/// Every other account's usage of the key, from the key policy and the grants, minus the
/// Denies that certainly apply: the per-account list `check-key-policy` prints.
pub fn account_usage(
    policy: &Policy,
    grants: &[Grant],
    owner: &str,
) -> BTreeMap<String, Vec<String>> {
    let report = analyse_key_policy(policy, owner);
    let accounts: BTreeSet<&str> = report
        .account_usage
        .keys()
        .map(String::as_str)
        .chain(grants.iter().filter_map(|g| g.account.as_deref()))
        .filter(|a| *a != owner)
        .collect();
    accounts
        .into_iter()
        .map(|a| {
            let all: Vec<&str> = super::key_policy::usage_actions().collect();
            (a.to_string(), key_half(policy, grants, owner, a, &all).has)
        })
        .collect()
}

/// The KMS actions S3 makes on an account's behalf for its object access on an SSE-KMS bucket
/// (DOMAIN.md §3): reads decrypt; writes generate a data key, and decrypt for multipart
/// uploads (which the AWS CLI and SDKs use for large objects).
pub fn s3_key_actions(read: bool, write: bool) -> Vec<&'static str> {
    let mut out = Vec::new();
    if write {
        out.push("kms:GenerateDataKey");
    }
    if read || write {
        out.push("kms:Decrypt");
    }
    out
}

#[cfg(test)]
mod tests;
