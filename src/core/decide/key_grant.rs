//! `KEY_POLICY_MISSING_GRANT` for a shared bucket (DOMAIN.md §3): per account the bucket
//! policy grants and per direction — object readers need `kms:Decrypt`, writers
//! `kms:GenerateDataKey` and `kms:Decrypt` (multipart uploads) — does the bucket's customer
//! managed key let it use them, by key policy or KMS grant, Denies subtracted
//! (`policy::key_half`)? An account granted only bucket-level actions needs nothing of the key.
//! When the key policy alone falls short and the grants were not read, the plan asks for them.

use super::bucket::{grant_statement, grant_step, key_policy_of, BucketView};
use super::builder::{Draft, PlanBuilder};
use crate::core::finding::{RuleId, Severity};
use crate::core::policy::key_half::{key_half, s3_key_actions, KeyHalf};
use crate::core::policy::sharing::access::{READ, WRITE};
use crate::core::policy::Policy;
use crate::core::snapshot::ResolvedKey;

pub(super) fn missing_grant_rule(
    b: &mut PlanBuilder,
    v: &BucketView,
    key: &ResolvedKey,
    shared: String,
) {
    let (doc, report) = match key_policy_of(key) {
        Ok(x) => x,
        Err(why) => return b.undetermined(RuleId::KeyPolicyMissingGrant, why),
    };
    let policy = match Policy::parse_any(&doc) {
        Ok(p) => p,
        Err(e) => return b.undetermined(RuleId::KeyPolicyMissingGrant, e.to_string()),
    };
    let arn = &key.info.key_arn;
    let grants = match key.state.read_grants() {
        Ok(g) => g,
        Err(why) => {
            b.note(format!(
                "the grants of {arn} cannot be read ({why}): judged on the key policy alone"
            ));
            None
        }
    };
    let s = &v.sharing;
    let mut missing: Vec<(String, KeyHalf, Vec<String>)> = Vec::new();
    for a in &s.external_accounts {
        let access = s.object_access.get(a).cloned().unwrap_or_default();
        let needed = s3_key_actions(
            access.iter().any(|d| d == READ),
            access.iter().any(|d| d == WRITE),
        );
        if needed.is_empty() {
            continue;
        }
        let half = key_half(
            &policy,
            grants.as_deref().unwrap_or_default(),
            &key.info.account,
            a,
            &needed,
        );
        if !half.complete() {
            missing.push((a.clone(), half, access));
        }
    }
    let missing_orgs: Vec<String> = s
        .organisations
        .iter()
        .filter(|o| !report.organisations.contains(o))
        .cloned()
        .collect();
    if missing.is_empty() && missing_orgs.is_empty() {
        if !s.unknown_principals.is_empty() || !s.networks.is_empty() || s.public {
            b.note("the bucket also shares with principals that name no account: their key access cannot be checked");
        }
        return;
    }
    if !missing.is_empty() && grants.is_none() {
        // A KMS grant could still opt these accounts in: the app reads the grants and decides
        // again; without them (offline, or ListGrants denied) the finding says so.
        b.need_grants(arn);
    }
    let mut reasons = vec![shared];
    for (a, half, access) in &missing {
        let multipart =
            access.iter().any(|d| d == WRITE) && half.missing.iter().any(|m| m == "kms:Decrypt");
        reasons.push(format!(
            "account {a} is granted object {} but the key {arn} does not let it use {}{}: step 2 of the handshake is missing",
            access.join(" and "),
            half.missing.join(", "),
            if multipart { " (writers need kms:Decrypt for multipart uploads)" } else { "" },
        ));
        reasons.extend(half.held(arn));
        reasons.extend(half.notes.iter().cloned());
    }
    if !missing.is_empty() && grants.is_none() {
        reasons.push(format!(
            "the KMS grants of {arn} were not read: a grant to a principal of {} would opt it in",
            missing
                .iter()
                .map(|(a, _, _)| a.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for o in &missing_orgs {
        reasons.push(format!(
            "the key policy of {arn} does not grant organisation {o}"
        ));
    }
    let accounts: Vec<String> = missing.iter().map(|(a, _, _)| a.clone()).collect();
    let statements: Vec<String> = accounts
        .iter()
        .map(|a| grant_statement(a, &key.info.partition, &key.info.region).to_string())
        .collect();
    let fix = format!(
        "Add to the key policy of {arn} (keep every statement): {}",
        if statements.is_empty() {
            "a usage grant conditioned on aws:PrincipalOrgID".to_string()
        } else {
            statements.join(" ")
        }
    );
    let remedy = if !missing_orgs.is_empty() {
        Err("organisation grants are not added automatically".to_string())
    } else {
        grant_step(b, v, key, doc, &accounts).map(|s| vec![s])
    };
    b.add(
        &v.resource,
        v.exempt,
        Draft::new(
            RuleId::KeyPolicyMissingGrant,
            Severity::High,
            reasons,
            fix,
            remedy,
        ),
    );
}
