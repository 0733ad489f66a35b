//! Key policy analysis: which other accounts get usage of a KMS key, which get more than
//! usage (`KEY_EXTERNAL_ADMIN`), whether the key is public (`KEY_PUBLIC`). It only analyses;
//! the patch that adds usage-only grants is `policy::patch::usage_grant`.

use super::conditions::{
    aws_target, has_wildcard, key_kind, named_account, op_family, AccountKey, AwsTarget, KeyKind,
    OpFamily,
};
use super::model::{wildcard_match, ListSpec, Policy, Principal, PrincipalSpec, SetOp, Statement};
use crate::core::access_model::{self, Decision, Kind, Named, Request, Who};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

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
    /// Per other account, the usage actions (Encrypt, Decrypt, ReEncrypt*, GenerateDataKey*,
    /// DescribeKey, spelt `kms:…`, sorted) the key policy lets it use, after subtracting
    /// the Deny statements that certainly apply to it: a writer-only account (only
    /// `kms:GenerateDataKey*`) is listed here though it is not in `usage_accounts`.
    #[serde(default)]
    pub account_usage: BTreeMap<String, Vec<String>>,
    /// Per other account, the grant-management actions (`kms:CreateGrant`, `kms:ListGrants`
    /// is read-only and not here, `kms:RetireGrant`, `kms:RevokeGrant`) the key policy lets it
    /// use, with or without `kms:GrantIsForAWSResource`, Denies subtracted as for
    /// `account_usage`. EBS and RDS sharees need `kms:CreateGrant` (DOMAIN-BEYOND-S3.md §4);
    /// S3 never does, so this stays out of the S3 verdicts. Empty lists are not written.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub account_grant_ops: BTreeMap<String, Vec<String>>,
    pub public: bool,
    pub issues: Vec<KeyPolicyIssue>,
    pub reasons: Vec<String>,
}

impl KeyPolicyReport {
    /// True when `account` is the owner or is in `usage_accounts`.
    pub fn grants_usage_to(&self, owner_account: &str, account: &str) -> bool {
        (!account.is_empty() && account == owner_account)
            || self.usage_accounts.iter().any(|a| a == account)
    }
}

/// Analyses a key policy of a key owned by `owner_account`.
///
/// Semantics, written down because they decide findings:
/// - Only `Allow` statements grant; `Deny` and misspelt effects are skipped (a Deny that takes
///   a grant back is not subtracted, so usage may be over-reported, never admin under-reported).
/// - Actions are matched case-insensitively, wildcards included, against the known KMS
///   actions. Usage: Encrypt, Decrypt, ReEncrypt*, GenerateDataKey*, DescribeKey. Read-only
///   metadata (`kms:Get*`, `kms:List*`, `kms:Describe*`) is not admin. `CreateGrant`,
///   `RevokeGrant` and `RetireGrant` are harmless only under `Bool kms:GrantIsForAWSResource
///   true` (without `IfExists`). Everything else (`Put*`, `ScheduleKeyDeletion`, `Sign`, …), a
///   `kms:` pattern matching no known action, and any `NotAction` on an Allow is beyond usage.
/// - A usage account is one allowed `kms:Decrypt` by an Allow (`usage_accounts`: the patch
///   and the CMK move read it as "named by a grant"). `account_usage` is the effective set per
///   account: a Deny subtracts an action when the concrete-request evaluator
///   (`access_model`) says it certainly applies to that account's principals (its principal
///   covers the account root, no condition it cannot decide); a Deny that only may apply is
///   named in the reasons and not subtracted. KMS grants are added by `key_half`.
/// - An `AWS` principal names an account only as a 12-digit id or an `iam` / `sts` ARN; any
///   other ARN (a bucket, a function) or a unique id names none and only gets a reason
///   (`conditions::aws_target`, shared with `sharing`).
/// - `*`, `{"AWS": "*"}`, an ARN whose account holds a wildcard or a policy variable (`${…}`)
///   and `NotPrincipal` are wide. A wide principal is narrowed only by `kms:CallerAccount`,
///   `aws:PrincipalAccount`, `aws:SourceAccount`, `aws:SourceOwner`,
///   `s3:DataAccessPointAccount` (accounts),
///   `aws:PrincipalArn` / `aws:SourceArn` (the account in the ARN), `aws:PrincipalOrgID` /
///   `aws:PrincipalOrgPaths` (organisations), under `StringEquals`, `StringLike`,
///   `StringEqualsIgnoreCase`, `ArnEquals`, `ArnLike` (`IfExists` and `ForAnyValue:` allowed),
///   with concrete values. Anything else (`kms:ViaService`, negated operators, wildcards or
///   policy variables in a value, unknown keys, a malformed condition block) leaves it public.
/// - Service principals count only when conditioned on `aws:SourceAccount`, `aws:SourceArn`
///   or `aws:SourceOwner`; then as those accounts.
/// - The owner's own principals never produce issues.
pub fn analyse_key_policy(policy: &Policy, owner_account: &str) -> KeyPolicyReport {
    let mut report = KeyPolicyReport::default();
    let mut usage: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    let mut grant_ops: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    for st in &policy.statements {
        analyse_statement(st, owner_account, &mut report, &mut usage, &mut grant_ops);
    }
    for (account, actions) in grant_ops {
        // The Deny reasons are already written once per account by the usage pass below when
        // the account has usage; a separate list keeps them from being doubled.
        let mut quiet = Vec::new();
        let denied = denied_usage(policy, &account, &actions, &mut quiet);
        let left: Vec<String> = actions
            .iter()
            .filter(|a| !denied.contains(*a))
            .map(|a| a.to_string())
            .collect();
        if !left.is_empty() {
            report.account_grant_ops.insert(account, left);
        }
    }
    for (account, actions) in usage {
        let denied = denied_usage(policy, &account, &actions, &mut report.reasons);
        let left: Vec<String> = actions
            .iter()
            .filter(|a| !denied.contains(*a))
            .map(|a| a.to_string())
            .collect();
        report.account_usage.insert(account, left);
    }
    for list in [
        &mut report.usage_accounts,
        &mut report.admin_accounts,
        &mut report.organisations,
    ] {
        list.sort();
        list.dedup();
    }
    report
}

/// How a KMS action counts when another account is allowed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ActionClass {
    /// The handshake actions (DOMAIN.md §3).
    Usage,
    /// Read-only metadata: not admin.
    Read,
    /// Grant management: harmless only for grants AWS services make for their resources.
    Grant,
    /// Anything that changes the key, its policy, its life or uses it beyond usage.
    Admin,
}

/// The KMS actions known to the analyser; patterns are expanded against this list.
const KMS_ACTIONS: &[(&str, ActionClass)] = &[
    ("kms:CancelKeyDeletion", ActionClass::Admin),
    ("kms:ConnectCustomKeyStore", ActionClass::Admin),
    ("kms:CreateAlias", ActionClass::Admin),
    ("kms:CreateCustomKeyStore", ActionClass::Admin),
    ("kms:CreateGrant", ActionClass::Grant),
    ("kms:CreateKey", ActionClass::Admin),
    ("kms:Decrypt", ActionClass::Usage),
    ("kms:DeleteAlias", ActionClass::Admin),
    ("kms:DeleteCustomKeyStore", ActionClass::Admin),
    ("kms:DeleteImportedKeyMaterial", ActionClass::Admin),
    ("kms:DeriveSharedSecret", ActionClass::Admin),
    ("kms:DescribeCustomKeyStores", ActionClass::Read),
    ("kms:DescribeKey", ActionClass::Usage),
    ("kms:DisableKey", ActionClass::Admin),
    ("kms:DisableKeyRotation", ActionClass::Admin),
    ("kms:DisconnectCustomKeyStore", ActionClass::Admin),
    ("kms:EnableKey", ActionClass::Admin),
    ("kms:EnableKeyRotation", ActionClass::Admin),
    ("kms:Encrypt", ActionClass::Usage),
    ("kms:GenerateDataKey", ActionClass::Usage),
    ("kms:GenerateDataKeyPair", ActionClass::Usage),
    (
        "kms:GenerateDataKeyPairWithoutPlaintext",
        ActionClass::Usage,
    ),
    ("kms:GenerateDataKeyWithoutPlaintext", ActionClass::Usage),
    ("kms:GenerateMac", ActionClass::Admin),
    ("kms:GenerateRandom", ActionClass::Admin),
    ("kms:GetKeyPolicy", ActionClass::Read),
    ("kms:GetKeyRotationStatus", ActionClass::Read),
    ("kms:GetParametersForImport", ActionClass::Read),
    ("kms:GetPublicKey", ActionClass::Read),
    ("kms:ImportKeyMaterial", ActionClass::Admin),
    ("kms:ListAliases", ActionClass::Read),
    ("kms:ListGrants", ActionClass::Read),
    ("kms:ListKeyPolicies", ActionClass::Read),
    ("kms:ListKeyRotations", ActionClass::Read),
    ("kms:ListKeys", ActionClass::Read),
    ("kms:ListResourceTags", ActionClass::Read),
    ("kms:ListRetirableGrants", ActionClass::Read),
    ("kms:PutKeyPolicy", ActionClass::Admin),
    ("kms:ReEncryptFrom", ActionClass::Usage),
    ("kms:ReEncryptTo", ActionClass::Usage),
    ("kms:ReplicateKey", ActionClass::Admin),
    ("kms:RetireGrant", ActionClass::Grant),
    ("kms:RevokeGrant", ActionClass::Grant),
    ("kms:RotateKeyOnDemand", ActionClass::Admin),
    ("kms:ScheduleKeyDeletion", ActionClass::Admin),
    ("kms:Sign", ActionClass::Admin),
    ("kms:SynchronizeMultiRegionKey", ActionClass::Admin),
    ("kms:TagResource", ActionClass::Admin),
    ("kms:UntagResource", ActionClass::Admin),
    ("kms:UpdateAlias", ActionClass::Admin),
    ("kms:UpdateCustomKeyStore", ActionClass::Admin),
    ("kms:UpdateKeyDescription", ActionClass::Admin),
    ("kms:UpdatePrimaryRegion", ActionClass::Admin),
    ("kms:Verify", ActionClass::Admin),
    ("kms:VerifyMac", ActionClass::Admin),
];

/// What one Allow statement permits on the key, as far as the verdict goes.
#[derive(Debug, Default)]
struct Permits {
    /// Any KMS action at all.
    any: bool,
    decrypt: bool,
    /// The usage actions it allows.
    usage: Vec<&'static str>,
    /// The grant-management actions it allows (whatever their conditions).
    grant_ops: Vec<&'static str>,
    /// Plain-words pieces naming each action beyond usage.
    beyond: Vec<String>,
}

fn is_beyond(class: ActionClass, grants_for_aws_resources: bool) -> bool {
    match class {
        ActionClass::Usage | ActionClass::Read => false,
        ActionClass::Grant => !grants_for_aws_resources,
        ActionClass::Admin => true,
    }
}

fn permits(st: &Statement) -> Permits {
    let safe_grants = grants_only_for_aws_resources(st);
    let mut out = Permits::default();
    match &st.action {
        ListSpec::Missing => {}
        ListSpec::Listed(patterns) => {
            for pattern in patterns {
                let pattern = pattern.trim();
                let matched: Vec<&(&str, ActionClass)> = KMS_ACTIONS
                    .iter()
                    .filter(|(name, _)| wildcard_match(pattern, name, true))
                    .collect();
                if matched.is_empty() {
                    // A kms: action the table does not know yet: fail closed.
                    let service = pattern.split_once(':').map(|(s, _)| s);
                    if service.is_some_and(|s| wildcard_match(s, "kms", true)) {
                        out.any = true;
                        out.beyond
                            .push(format!("{pattern} (not a known KMS action)"));
                    }
                    continue;
                }
                out.any = true;
                out.decrypt |= matched.iter().any(|(n, _)| *n == "kms:Decrypt");
                out.usage.extend(
                    matched
                        .iter()
                        .filter(|(_, c)| *c == ActionClass::Usage)
                        .map(|(n, _)| *n),
                );
                out.grant_ops.extend(
                    matched
                        .iter()
                        .filter(|(_, c)| *c == ActionClass::Grant)
                        .map(|(n, _)| *n),
                );
                let beyond: Vec<&str> = matched
                    .iter()
                    .filter(|(_, c)| is_beyond(*c, safe_grants))
                    .map(|(n, _)| *n)
                    .collect();
                match beyond.as_slice() {
                    [] => {}
                    [only] if only.eq_ignore_ascii_case(pattern) => {
                        out.beyond.push((*only).to_string())
                    }
                    names => out.beyond.push(format!("{pattern} ({})", names.join(", "))),
                }
            }
        }
        ListSpec::Not(patterns) => {
            let allowed: Vec<&(&str, ActionClass)> = KMS_ACTIONS
                .iter()
                .filter(|(name, _)| {
                    !patterns
                        .iter()
                        .any(|p| wildcard_match(p.trim(), name, true))
                })
                .collect();
            out.any = true;
            out.decrypt = allowed.iter().any(|(n, _)| *n == "kms:Decrypt");
            out.usage.extend(
                allowed
                    .iter()
                    .filter(|(_, c)| *c == ActionClass::Usage)
                    .map(|(n, _)| *n),
            );
            out.grant_ops.extend(
                allowed
                    .iter()
                    .filter(|(_, c)| *c == ActionClass::Grant)
                    .map(|(n, _)| *n),
            );
            let beyond: Vec<&str> = allowed
                .iter()
                .filter(|(_, c)| is_beyond(*c, safe_grants))
                .map(|(n, _)| *n)
                .collect();
            let listed = if beyond.is_empty() {
                String::new()
            } else {
                format!(": {}", beyond.join(", "))
            };
            out.beyond.push(format!(
                "NotAction allows every KMS action it does not list, future ones included{listed}"
            ));
        }
    }
    out
}

/// `Bool kms:GrantIsForAWSResource true` (no `IfExists`: the key is absent on direct calls).
fn grants_only_for_aws_resources(st: &Statement) -> bool {
    st.conditions.iter().any(|c| {
        c.base == "bool"
            && !c.if_exists
            && c.set_op.is_none()
            && c.key == "kms:grantisforawsresource"
            && !c.values.is_empty()
            && c.values
                .iter()
                .all(|v| v.trim().eq_ignore_ascii_case("true"))
    })
}

/// Who a statement reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Grantee {
    Account(String),
    Organisation(String),
    Public(String),
}

/// Whether a condition key can narrow who a statement reaches: for a wide principal the
/// caller, source and organisation keys of the shared vocabulary; for a service principal
/// (`service`) only the source keys, which name the account the service acts for.
fn narrows(kind: KeyKind, service: bool) -> bool {
    match kind {
        KeyKind::Account(AccountKey::SourceAccount | AccountKey::SourceArn) => true,
        KeyKind::Account(AccountKey::PrincipalAccount | AccountKey::PrincipalArn)
        | KeyKind::OrgId
        | KeyKind::OrgPath => !service,
        KeyKind::Account(AccountKey::AccessPointArn)
        | KeyKind::SourceIp
        | KeyKind::SourceVpc
        | KeyKind::SourceVpce
        | KeyKind::CallerControlled
        | KeyKind::Harmless
        | KeyKind::Unknown => false,
    }
}

/// The concrete id one condition value names, if it names one.
fn narrowed_value(kind: KeyKind, value: &str) -> Option<String> {
    let value = value.trim();
    match kind {
        KeyKind::Account(shape) => named_account(shape, value),
        KeyKind::OrgId => {
            (value.starts_with("o-") && !has_wildcard(value)).then(|| value.to_string())
        }
        KeyKind::OrgPath => {
            let org = value.split('/').next()?;
            (org.starts_with("o-") && !has_wildcard(org)).then(|| org.to_string())
        }
        _ => None,
    }
}

/// The result of reading a statement's conditions for a wide or service principal.
struct Narrowed {
    accounts: Option<Vec<String>>,
    organisations: Option<Vec<String>>,
    /// Conditions that did not narrow anything, as written, for reasons.
    not_narrowing: Vec<String>,
}

fn narrow(st: &Statement, service: bool) -> Narrowed {
    let mut out = Narrowed {
        accounts: None,
        organisations: None,
        not_narrowing: Vec::new(),
    };
    for c in &st.conditions {
        let operator_ok =
            op_family(&c.base) == OpFamily::Names && !matches!(c.set_op, Some(SetOp::ForAllValues));
        let kind = key_kind(&c.key);
        let values: Option<Vec<String>> = match narrows(kind, service) {
            true if operator_ok && !c.values.is_empty() => {
                c.values.iter().map(|v| narrowed_value(kind, v)).collect()
            }
            _ => None,
        };
        match (kind, values) {
            (KeyKind::Account(_), Some(vals)) => {
                // Conditions are ANDed: only accounts every condition admits remain.
                out.accounts = Some(match out.accounts.take() {
                    None => vals,
                    Some(prev) => prev.into_iter().filter(|a| vals.contains(a)).collect(),
                });
            }
            (KeyKind::OrgId | KeyKind::OrgPath, Some(vals)) => {
                out.organisations = Some(match out.organisations.take() {
                    None => vals,
                    Some(prev) => prev.into_iter().filter(|o| vals.contains(o)).collect(),
                });
            }
            _ => out
                .not_narrowing
                .push(format!("{} {}", c.operator, c.key_as_written)),
        }
    }
    out
}

/// Who one Allow statement reaches, plus reasons for what was skipped.
fn grantees(st: &Statement, reasons: &mut Vec<String>) -> Vec<Grantee> {
    let label = st.label();
    let principals = match &st.principal {
        PrincipalSpec::Principal(list) => list.as_slice(),
        PrincipalSpec::NotPrincipal(_) => {
            return wide_grantees(st, "NotPrincipal with Allow", reasons);
        }
        PrincipalSpec::Missing => {
            reasons.push(format!("statement {label}: no Principal; ignored"));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    let mut wide: Option<String> = None;
    for p in principals {
        match p {
            Principal::Wildcard => wide = Some("Principal *".to_string()),
            Principal::Aws(text) => match aws_target(text) {
                AwsTarget::Account(a) => out.push(Grantee::Account(a)),
                AwsTarget::Wide => wide = Some(format!("principal {text}")),
                AwsTarget::Unknown(what) => reasons.push(format!(
                    "statement {label}: principal '{text}' names no account: it is {what}"
                )),
            },
            Principal::Service(service) => {
                let n = narrow(st, true);
                match n.accounts {
                    Some(accounts) => out.extend(accounts.into_iter().map(Grantee::Account)),
                    None => reasons.push(format!(
                        "statement {label}: service principal {service} is not an account; \
                         no aws:SourceAccount / aws:SourceArn names another one"
                    )),
                }
            }
            Principal::CanonicalUser(id) | Principal::Federated(id) | Principal::Other(_, id) => {
                reasons.push(format!(
                    "statement {label}: principal '{id}' does not apply to KMS; ignored"
                ))
            }
        }
    }
    if let Some(what) = wide {
        out.extend(wide_grantees(st, &what, reasons));
    }
    // One issue per account and statement, however often the account is named in it.
    let mut unique: Vec<Grantee> = Vec::with_capacity(out.len());
    for g in out {
        if !unique.contains(&g) {
            unique.push(g);
        }
    }
    unique
}

fn wide_grantees(st: &Statement, what: &str, reasons: &mut Vec<String>) -> Vec<Grantee> {
    let label = st.label();
    if st.malformed_condition {
        return vec![Grantee::Public(format!(
            "{what} with a Condition that cannot be read"
        ))];
    }
    let n = narrow(st, false);
    match (n.accounts, n.organisations) {
        (Some(accounts), _) => {
            reasons.push(format!(
                "statement {label}: {what} narrowed to account(s) {}",
                accounts.join(", ")
            ));
            accounts.into_iter().map(Grantee::Account).collect()
        }
        (None, Some(orgs)) => {
            reasons.push(format!(
                "statement {label}: {what} narrowed to organisation(s) {}",
                orgs.join(", ")
            ));
            orgs.into_iter().map(Grantee::Organisation).collect()
        }
        (None, None) if n.not_narrowing.is_empty() => vec![Grantee::Public(format!(
            "{what} without any condition naming accounts or an organisation"
        ))],
        (None, None) => vec![Grantee::Public(format!(
            "{what}; these conditions do not narrow who: {}",
            n.not_narrowing.join(", ")
        ))],
    }
}

fn analyse_statement(
    st: &Statement,
    owner: &str,
    report: &mut KeyPolicyReport,
    usage: &mut BTreeMap<String, BTreeSet<&'static str>>,
    grant_ops: &mut BTreeMap<String, BTreeSet<&'static str>>,
) {
    if !st.is_allow() {
        return;
    }
    let permitted = permits(st);
    if !permitted.any {
        return;
    }
    let label = st.label();
    let beyond = permitted.beyond.join("; ");
    for grantee in grantees(st, &mut report.reasons) {
        match grantee {
            Grantee::Account(a) if a == owner => {}
            Grantee::Account(a) => {
                if !permitted.usage.is_empty() {
                    usage
                        .entry(a.clone())
                        .or_default()
                        .extend(permitted.usage.iter().copied());
                }
                if !permitted.grant_ops.is_empty() {
                    grant_ops
                        .entry(a.clone())
                        .or_default()
                        .extend(permitted.grant_ops.iter().copied());
                }
                if permitted.decrypt {
                    report
                        .reasons
                        .push(format!("statement {label}: account {a} may use the key"));
                    report.usage_accounts.push(a.clone());
                }
                if !permitted.beyond.is_empty() {
                    report.issues.push(KeyPolicyIssue {
                        rule: RULE_EXTERNAL_ADMIN.to_string(),
                        account: Some(a.clone()),
                        statement: st.id(),
                        detail: format!("account {a} is allowed beyond usage: {beyond}"),
                    });
                    report.admin_accounts.push(a);
                }
            }
            Grantee::Organisation(o) => {
                if permitted.decrypt {
                    report.organisations.push(o.clone());
                }
                if !permitted.beyond.is_empty() {
                    report.issues.push(KeyPolicyIssue {
                        rule: RULE_EXTERNAL_ADMIN.to_string(),
                        account: None,
                        statement: st.id(),
                        detail: format!(
                            "every account of organisation {o} is allowed beyond usage: {beyond}"
                        ),
                    });
                }
            }
            Grantee::Public(why) => {
                report.public = true;
                report.issues.push(KeyPolicyIssue {
                    rule: RULE_PUBLIC.to_string(),
                    account: None,
                    statement: st.id(),
                    detail: format!("{why}: anyone in any account is allowed the key"),
                });
            }
        }
    }
}

/// Every KMS usage action (DOMAIN.md §3: Encrypt, Decrypt, ReEncrypt*, GenerateDataKey*,
/// DescribeKey), as `kms:…`.
pub fn usage_actions() -> impl Iterator<Item = &'static str> {
    KMS_ACTIONS
        .iter()
        .filter(|(_, c)| *c == ActionClass::Usage)
        .map(|(n, _)| *n)
}

/// The grant-management actions a pattern list names (`kms:CreateGrant`, `kms:RetireGrant`,
/// `kms:RevokeGrant`), expanded against the known KMS actions.
pub fn grant_ops_named_by(patterns: &[String]) -> BTreeSet<&'static str> {
    KMS_ACTIONS
        .iter()
        .filter(|(_, c)| *c == ActionClass::Grant)
        .map(|(n, _)| *n)
        .filter(|a| patterns.iter().any(|p| wildcard_match(p.trim(), a, true)))
        .collect()
}

/// The usage actions a pattern list (as in a key policy `Action` or a grant's operations)
/// names, expanded against the known KMS actions.
pub fn usage_named_by(patterns: &[String]) -> BTreeSet<&'static str> {
    usage_actions()
        .filter(|a| patterns.iter().any(|p| wildcard_match(p.trim(), a, true)))
        .collect()
}

/// Of `actions`, those some Deny statement of the key policy certainly denies to every
/// principal of `account` (its root stands for them: a Deny naming one role of the account
/// takes nothing from the account as a whole). Decided by the concrete-request evaluator with
/// the account as `aws:PrincipalAccount` / `kms:CallerAccount` and nothing else known: a Deny
/// conditioned on anything else only *may* apply, and is named in `reasons` instead. In a key
/// policy any `Resource` means the key itself; a Deny with `NotResource` is not subtracted.
pub fn denied_usage(
    policy: &Policy,
    account: &str,
    actions: &BTreeSet<&'static str>,
    reasons: &mut Vec<String>,
) -> BTreeSet<&'static str> {
    let mut denied = BTreeSet::new();
    for st in policy.statements.iter().filter(|s| s.is_deny()) {
        if st.resource == ListSpec::Missing || matches!(st.resource, ListSpec::Not(_)) {
            continue;
        }
        let Some(mut alone) = policy.statement_raw(st.index).cloned() else {
            continue;
        };
        if let Some(obj) = alone.as_object_mut() {
            obj.retain(|k, _| !k.eq_ignore_ascii_case("Resource"));
            obj.insert("Resource".into(), Value::from("*"));
        }
        // Next to an Allow of everything, the evaluation says whether the Deny certainly
        // applies (ExplicitDeny), only may (Unknown) or does not (Allowed).
        let everything =
            json!({"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"});
        let doc = json!({ "Statement": [everything, alone] });
        let named = [Named {
            name: "key policy",
            document: &doc,
        }];
        let (mut maybe, mut now_denied) = (Vec::new(), Vec::new());
        for action in actions {
            let who = Who::Aws {
                account: account.to_string(),
                arn: format!("arn:aws:iam::{account}:root"),
            };
            let request = Request::open(
                who,
                action,
                "*",
                &[
                    ("aws:PrincipalAccount", account),
                    ("kms:CallerAccount", account),
                ],
            );
            match access_model::evaluate(Kind::Resource, &named, &request) {
                Decision::ExplicitDeny { .. } => {
                    denied.insert(*action);
                    now_denied.push(*action);
                }
                Decision::Unknown { .. } => maybe.push(*action),
                Decision::Allowed { .. } | Decision::NotAllowed => {}
            }
        }
        let label = st.label();
        if !now_denied.is_empty() {
            reasons.push(format!(
                "statement {label} denies account {account} {}",
                now_denied.join(", ")
            ));
        }
        if !maybe.is_empty() {
            reasons.push(format!(
                "statement {label} may deny account {account} {} under its conditions: not subtracted",
                maybe.join(", ")
            ));
        }
    }
    denied
}

/// Rule ids (DOMAIN.md §3).
pub const RULE_EXTERNAL_ADMIN: &str = "KEY_EXTERNAL_ADMIN";
pub const RULE_PUBLIC: &str = "KEY_PUBLIC";

#[cfg(test)]
mod tests;
