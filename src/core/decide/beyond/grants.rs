//! `KEY_GRANT_EXTERNAL` (DOMAIN-BEYOND-S3.md §5, §6): a customer managed key with a live grant
//! to a principal outside the owner and the trusted accounts (service principals excluded:
//! they are how EC2 / RDS use the key for a resource). Medium; high when a grant includes
//! `CreateGrant` (its grantee can re-delegate), mirroring `KEY_EXTERNAL_ADMIN`. Judged for
//! the key of a grant event and for every CMK a shared carrier is under, when its grants
//! were read; a grant event whose key's grants were not read says so.

use super::super::builder::{Draft, PlanBuilder, Resource};
use crate::core::arn::KmsRef;
use crate::core::beyond::grants::external_grants;
use crate::core::event::Trigger;
use crate::core::finding::{ResourceType, RuleId, Severity};
use crate::core::key_class::KeyClass;
use crate::core::snapshot::{KeyLookup, ResolvedKey, Snapshot};

fn key_resource(k: &ResolvedKey) -> Resource {
    Resource {
        kind: ResourceType::AwsKmsKey,
        arn: k.info.key_arn.clone(),
        account: k.info.account.clone(),
        region: k.info.region.clone(),
    }
}

/// The rule on one key. `Some(false)` when its grants were not read (nothing decided).
pub(super) fn external_grant_rule(b: &mut PlanBuilder, k: &ResolvedKey) -> Option<bool> {
    if k.info.class == KeyClass::AwsManaged {
        return Some(true);
    }
    let rule = RuleId::KeyGrantExternal;
    let arn = k.info.key_arn.clone();
    let grants = match k.state.read_grants() {
        Ok(Some(g)) => g,
        Ok(None) => return Some(false),
        Err(why) => {
            b.undetermined(rule, format!("the grants of {arn} cannot be read: {why}"));
            return None;
        }
    };
    let res = key_resource(k);
    let ex = k
        .state
        .tags
        .has(&b.config.exemption_tag_key, &b.config.exemption_tag_value);
    let outside = external_grants(&grants, &k.info.account, &b.config.trust);
    if !outside.is_empty() {
        let redelegates = outside.iter().any(|g| g.redelegates);
        let reasons = outside
            .iter()
            .map(|g| {
                format!(
                    "grant {} gives {}{} {}{}",
                    g.grant_id,
                    g.grantee,
                    g.account
                        .as_deref()
                        .map(|a| format!(" (account {a}, not the owner or a trusted account)"))
                        .unwrap_or_else(|| " (names no account: treated as outside)".into()),
                    g.operations.join(", "),
                    if g.redelegates {
                        " — including kms:CreateGrant: it can re-delegate the key"
                    } else {
                        ""
                    }
                )
            })
            .collect();
        let fix = format!(
            "Review the grants of {arn} (aws kms list-grants --key-id {arn}); if a grant is not wanted, retire or revoke it (aws kms revoke-grant --key-id {arn} --grant-id <id>). Prefer key policy statements: they are reviewable."
        );
        let severity = if redelegates {
            Severity::High
        } else {
            Severity::Medium
        };
        b.add(
            &res,
            ex,
            Draft::new(
                rule,
                severity,
                reasons,
                fix,
                Err("report only: cmkguard never revokes a grant".into()),
            ),
        );
    }
    b.pass_others(&res, &[rule]);
    Some(true)
}

/// A grant event: the key it names, re-read.
pub(super) fn evaluate(b: &mut PlanBuilder, trigger: &Trigger, snap: &Snapshot) {
    let Some(key) = trigger.key.as_deref() else {
        return b.ignore_in_place("the grant event names no key".into());
    };
    let Some(r) = KmsRef::parse(key) else {
        return b.ignore_in_place(format!("'{key}' is not a KMS key reference"));
    };
    let account = trigger
        .owner_account
        .clone()
        .or_else(|| trigger.account.clone())
        .unwrap_or_default();
    let region = trigger.region.clone().unwrap_or_default();
    match snap.lookup_key(&r, &account, &region) {
        KeyLookup::Found(k) => {
            if k.info.class == KeyClass::AwsManaged {
                return b.ignore_in_place(format!(
                    "{} is an AWS managed key: its grants are AWS's (a grant to another account on it is treated as impossible)",
                    k.info.key_arn
                ));
            }
            if external_grant_rule(b, &k) == Some(false) {
                b.undetermined(
                    RuleId::KeyGrantExternal,
                    format!(
                        "the grants of {} were not read (ListGrants)",
                        k.info.key_arn
                    ),
                );
                b.need_grants(&k.info.key_arn);
            }
        }
        KeyLookup::NotFound => b.ignore_in_place(format!("the key {key} no longer exists")),
        KeyLookup::Unknown(why) => b.ignore_in_place(format!(
            "the key {key}: {}",
            why.unwrap_or_else(|| "not read (DescribeKey, ListGrants)".into())
        )),
    }
}
