//! The key of a shared carrier: resolved from its `KmsKeyId` (AWS managed by alias or by
//! `DescribeKey`, customer managed, not found, not read), judged usable, and — per sharee —
//! whether key policy or grants cover the kind's key set (`beyond::key_set`). Findings:
//! `SHARED_*_AWS_MANAGED_KEY`, `SHARED_*_KEY_UNUSABLE`, `KEY_POLICY_MISSING_GRANT`.

use serde_json::{json, Value};

use super::super::bucket::key_policy_of;
use super::super::builder::{Draft, PlanBuilder};
use crate::core::arn::KmsRef;
use crate::core::beyond::key_set::{key_set, org_admitted, sharee_key_half, Carrier};
use crate::core::beyond::shared::ShareReport;
use crate::core::finding::{RuleId, Severity};
use crate::core::key_class::KeyClass;
use crate::core::policy::key_half::KeyHalf;
use crate::core::policy::Policy;
use crate::core::snapshot::{KeyLookup, ResolvedKey, Snapshot};

/// What a carrier is encrypted with. Short-lived and matched at once (as `KeyLookup`), so the
/// size difference between variants costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
pub(super) enum KeyVerdict<'a> {
    Unencrypted,
    /// AWS managed: what says so.
    AwsManaged(String),
    Cmk(ResolvedKey<'a>),
    /// The key reference names no key (`NotFoundException`).
    NotFound(String),
    /// Not known: why.
    Unknown(String),
}

/// Resolves a carrier's key. `absent_means` is the AWS managed alias a missing `KmsKeyId`
/// stands for (secrets: `aws/secretsmanager`); `None` when a missing id is just unknown
/// (EBS: the emulator omits it).
pub(super) fn resolve<'a>(
    snap: &'a Snapshot,
    encrypted: Option<bool>,
    kms_key_id: Option<&str>,
    absent_means: Option<&str>,
    account: &str,
    region: &str,
) -> KeyVerdict<'a> {
    if encrypted == Some(false) {
        return KeyVerdict::Unencrypted;
    }
    let Some(id) = kms_key_id else {
        return match (absent_means, encrypted) {
            (Some(alias), _) => {
                KeyVerdict::AwsManaged(format!("no KmsKeyId: the AWS managed key {alias}"))
            }
            (None, Some(true)) => {
                KeyVerdict::Unknown("encrypted, but the key (KmsKeyId) was not read".into())
            }
            (None, _) => KeyVerdict::Unknown("neither encryption nor key was read".into()),
        };
    };
    let Some(r) = KmsRef::parse(id) else {
        return KeyVerdict::Unknown(format!("KmsKeyId '{id}' is not a KMS key reference"));
    };
    let alias = match &r {
        KmsRef::AliasName { alias } | KmsRef::AliasArn { alias, .. } => Some(alias.as_str()),
        _ => None,
    };
    if let Some(a) = alias.filter(|a| a.to_ascii_lowercase().starts_with("alias/aws/")) {
        return KeyVerdict::AwsManaged(format!("{a} is an AWS managed key"));
    }
    match snap.lookup_key(&r, account, region) {
        KeyLookup::Found(k) if k.info.class == KeyClass::AwsManaged => KeyVerdict::AwsManaged(
            format!("{} is an AWS managed key (KeyManager AWS)", k.info.key_arn),
        ),
        KeyLookup::Found(k) => KeyVerdict::Cmk(k),
        KeyLookup::NotFound => KeyVerdict::NotFound(format!("the key {id} does not exist")),
        KeyLookup::Unknown(why) => KeyVerdict::Unknown(
            why.unwrap_or_else(|| format!("the key {id} was not read (DescribeKey)")),
        ),
    }
}

/// Why a customer managed key cannot serve a carrier in `region` (empty when it can).
pub(super) fn unusable(k: &ResolvedKey, region: &str) -> Vec<String> {
    let mut out = Vec::new();
    if !k.info.key_state.eq_ignore_ascii_case("Enabled") {
        out.push(format!(
            "the key {} is {}, not Enabled",
            k.info.key_arn, k.info.key_state
        ));
    }
    if !k.info.region.is_empty() && k.info.region != region {
        out.push(format!(
            "the key {} is in {}, the resource in {region} (a snapshot's key is in its region)",
            k.info.key_arn, k.info.region
        ));
    }
    if !k.info.key_spec.eq_ignore_ascii_case("SYMMETRIC_DEFAULT") {
        out.push(format!(
            "the key {} is {}, not a symmetric key",
            k.info.key_arn, k.info.key_spec
        ));
    }
    out
}

/// The statements a key policy needs for one sharee account (§4): usage, and grants for AWS
/// resources only (EBS and RDS create grants for the sharee).
pub(super) fn key_set_statements(c: Carrier, account: &str, partition: &str) -> Vec<Value> {
    let root = format!("arn:{partition}:iam::{account}:root");
    let mut out = vec![json!({
        "Sid": format!("cmkguard-{}-{account}", c.noun().replace(' ', "-").to_ascii_lowercase()),
        "Effect": "Allow",
        "Principal": {"AWS": root},
        "Action": match c {
            Carrier::Secret => json!(["kms:Decrypt", "kms:DescribeKey"]),
            _ => json!(["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]),
        },
        "Resource": "*",
    })];
    if key_set(c).contains(&"kms:CreateGrant") {
        out.push(json!({
            "Sid": format!("cmkguard-grants-{account}"),
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
            "Resource": "*",
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        }));
    }
    out
}

/// `KEY_POLICY_MISSING_GRANT` for a shared carrier under a usable CMK: per sharee account the
/// kind's key set by key policy or grant, per organisation a key policy statement on it. The
/// draft is returned, not added: an AMI over several snapshots under several keys gives one
/// finding (one id) with the reasons of each key.
pub(super) fn missing_grant(
    b: &mut PlanBuilder,
    c: Carrier,
    share: &ShareReport,
    key: &ResolvedKey,
    label: &str,
) -> Option<Draft> {
    let rule = RuleId::KeyPolicyMissingGrant;
    let (doc, report) = match key_policy_of(key) {
        Ok(x) => x,
        Err(why) => {
            b.undetermined(rule, why);
            return None;
        }
    };
    let policy = match Policy::parse_any(&doc) {
        Ok(p) => p,
        Err(e) => {
            b.undetermined(rule, e.to_string());
            return None;
        }
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
    let missing: Vec<KeyHalf> = share
        .external_accounts
        .iter()
        .map(|a| {
            sharee_key_half(
                c,
                &policy,
                grants.as_deref().unwrap_or_default(),
                &key.info.account,
                a,
            )
        })
        .filter(|h| !h.complete())
        .collect();
    let missing_orgs: Vec<&String> = share
        .organisations
        .iter()
        .filter(|o| !org_admitted(&report, o))
        .collect();
    if !share.unknown_principals.is_empty() {
        b.note(format!(
            "{label} is also shared with entries that name no account ({}): their key access cannot be checked",
            share.unknown_principals.join(", ")
        ));
    }
    if missing.is_empty() && missing_orgs.is_empty() {
        return None;
    }
    if !missing.is_empty() && grants.is_none() {
        b.need_grants(arn);
    }
    let mut reasons = vec![format!(
        "{label} is shared ({}) and encrypted with the customer managed key {arn}",
        share.reasons.join("; ")
    )];
    for half in &missing {
        reasons.push(format!(
            "account {} cannot {}: the key {arn} does not let it use {} (neither key policy nor a grant): the key half of the handshake is missing",
            half.account,
            c.use_verb(),
            half.missing.join(", ")
        ));
        reasons.extend(half.held(arn));
        reasons.extend(half.notes.iter().cloned());
    }
    if !missing.is_empty() && grants.is_none() {
        reasons.push(format!(
            "the KMS grants of {arn} were not read: a grant to a principal of {} covering the key set would opt it in",
            missing.iter().map(|h| h.account.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    for o in &missing_orgs {
        reasons.push(format!(
            "the key policy of {arn} does not grant organisation {o} (aws:PrincipalOrgID / aws:PrincipalOrgPaths): its accounts cannot {}",
            c.use_verb()
        ));
    }
    let statements: Vec<Value> = missing
        .iter()
        .flat_map(|h| key_set_statements(c, &h.account, &key.info.partition))
        .collect();
    let fix = format!(
        "Add to the key policy of {arn} (keep every statement){}{}. Each sharee's own IAM policy must also allow these actions on the key ARN {arn}.",
        if statements.is_empty() { String::new() } else { format!(": {}", Value::Array(statements)) },
        if missing_orgs.is_empty() { String::new() } else { " and a usage grant conditioned on aws:PrincipalOrgID for each organisation".to_string() },
    );
    Some(Draft::new(
        rule,
        Severity::High,
        reasons,
        fix,
        Err("report only: the key-policy grant for beyond-S3 sharees is not built yet".into()),
    ))
}
