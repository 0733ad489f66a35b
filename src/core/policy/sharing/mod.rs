//! "Shared" (DOMAIN.md §4): who besides the owner can reach a bucket, from its bucket policy
//! (here) and its ACL (`acl`), with the reasons. Conservative: a condition it does not
//! understand on a wide principal fails closed (shared, and says which condition).

pub mod access;
mod acl;
#[cfg(test)]
mod tests;

pub use acl::evaluate_acl_sharing;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::core::arn::Arn;

use super::conditions::{
    aws_target, has_wildcard, key_kind, named_account, op_family, AccountKey, AwsTarget, KeyKind,
    OpFamily,
};
use super::model::{Condition, Policy, Principal, PrincipalSpec, SetOp, Statement};

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
    /// Per external account, the object access its grants give: `read` (`s3:GetObject`),
    /// `write` (`s3:PutObject`); empty for bucket-level actions only. What decides the KMS
    /// actions the account needs on the bucket's key.
    #[serde(default)]
    pub object_access: BTreeMap<String, Vec<String>>,
}

impl SharingReport {
    /// Combines the policy and ACL verdicts (lists merged, sorted, deduplicated).
    pub fn merge(self, other: SharingReport) -> SharingReport {
        let union = |a: Vec<String>, b: Vec<String>| -> Vec<String> {
            a.into_iter()
                .chain(b)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        };
        // Reasons keep their order (policy first, then ACL): they read as a narrative.
        let mut reasons = self.reasons;
        for r in other.reasons {
            if !reasons.contains(&r) {
                reasons.push(r);
            }
        }
        let mut object_access = self.object_access;
        for (account, access) in other.object_access {
            let mine = object_access.remove(&account).unwrap_or_default();
            object_access.insert(account, union(mine, access));
        }
        SharingReport {
            shared: self.shared || other.shared,
            public: self.public || other.public,
            untrusted: self.untrusted || other.untrusted,
            external_accounts: union(self.external_accounts, other.external_accounts),
            organisations: union(self.organisations, other.organisations),
            unknown_principals: union(self.unknown_principals, other.unknown_principals),
            networks: union(self.networks, other.networks),
            reasons,
            object_access,
        }
    }
}

/// Judges the Allow statements of a bucket policy.
pub fn evaluate_policy_sharing(
    policy: &Policy,
    ctx: &BucketContext,
    trust: &Trust,
) -> SharingReport {
    let mut acc = Acc::default();
    for st in &policy.statements {
        // Deny never grants; a missing or misspelt Effect makes IAM reject the statement.
        if st.is_allow() {
            judge_statement(&mut acc, st, ctx, trust);
        }
    }
    acc.finish()
}

/// The verdict under construction. Sets keep the output sorted and deduplicated.
#[derive(Default)]
struct Acc {
    shared: bool,
    public: bool,
    untrusted: bool,
    external_accounts: BTreeSet<String>,
    organisations: BTreeSet<String>,
    unknown_principals: BTreeSet<String>,
    networks: BTreeSet<String>,
    reasons: Vec<String>,
    object_access: BTreeMap<String, BTreeSet<&'static str>>,
}

impl Acc {
    fn reason(&mut self, r: String) {
        if !self.reasons.contains(&r) {
            self.reasons.push(r);
        }
    }

    fn public(&mut self, reason: String) {
        self.shared = true;
        self.public = true;
        self.untrusted = true;
        self.reason(reason);
    }

    fn unknown(&mut self, who: String, reason: String) {
        self.shared = true;
        self.untrusted = true;
        self.unknown_principals.insert(who);
        self.reason(reason);
    }

    /// An external 12-digit account (the caller has excluded the owner).
    fn account(&mut self, account: &str, trusted: bool, access: &[&'static str], reason: String) {
        self.shared = true;
        self.untrusted |= !trusted;
        self.external_accounts.insert(account.to_string());
        self.object_access
            .entry(account.to_string())
            .or_default()
            .extend(access.iter().copied());
        self.reason(reason);
    }

    fn finish(self) -> SharingReport {
        SharingReport {
            shared: self.shared,
            public: self.public,
            untrusted: self.untrusted,
            external_accounts: self.external_accounts.into_iter().collect(),
            organisations: self.organisations.into_iter().collect(),
            unknown_principals: self.unknown_principals.into_iter().collect(),
            networks: self.networks.into_iter().collect(),
            reasons: self.reasons,
            object_access: self
                .object_access
                .into_iter()
                .map(|(a, set)| (a, set.into_iter().map(str::to_string).collect()))
                .collect(),
        }
    }
}

fn judge_statement(acc: &mut Acc, st: &Statement, ctx: &BucketContext, trust: &Trust) {
    let label = st.label();
    let access = access::object_access(st, ctx);
    let principals = match &st.principal {
        // Invalid in a resource policy (S3 rejects it), so it grants nobody.
        PrincipalSpec::Missing => return,
        PrincipalSpec::NotPrincipal(ps) => {
            let who = format!(
                "everyone except NotPrincipal {}",
                ps.iter()
                    .map(describe_principal)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            judge_wide(acc, st, &who, ctx, trust, &access);
            return;
        }
        PrincipalSpec::Principal(ps) => ps,
    };
    let mut wide = Vec::new();
    for p in principals {
        match p {
            Principal::Wildcard => wide.push(describe_principal(p)),
            Principal::Aws(s) => match aws_target(s) {
                AwsTarget::Wide => wide.push(describe_principal(p)),
                AwsTarget::Account(a) if a == ctx.owner_account => {}
                AwsTarget::Account(a) => {
                    let trusted = trust.accounts.contains(&a);
                    let reason = if *s == a {
                        format!("statement {label} grants account {a}")
                    } else {
                        format!("statement {label} grants account {a} ({s})")
                    };
                    acc.account(&a, trusted, &access, reason);
                }
                AwsTarget::Unknown(what) => {
                    let who = if s.is_empty() { "(empty principal)" } else { s };
                    acc.unknown(
                        who.to_string(),
                        format!(
                            "statement {label} grants principal '{who}', which is {what}; treated as an unknown external principal"
                        ),
                    );
                }
            },
            Principal::Service(name) => judge_service(acc, st, name, ctx, trust, &access),
            Principal::CanonicalUser(id) => {
                if ctx.owner_canonical_id != Some(id.as_str()) {
                    acc.unknown(
                        format!("canonical user {id}"),
                        format!(
                            "statement {label} grants canonical user {id}, which is not the bucket owner's canonical id"
                        ),
                    );
                }
            }
            Principal::Federated(provider) => acc.unknown(
                format!("federated {provider}"),
                format!(
                    "statement {label} grants federated principal {provider}; its identities belong to no known account, so it is treated as external"
                ),
            ),
            Principal::Other(kind, value) => {
                let who = if kind.is_empty() {
                    format!("principal {value}")
                } else {
                    format!("{kind} {value}")
                };
                acc.unknown(
                    who.clone(),
                    format!(
                        "statement {label} grants {who}, a principal type that is not understood; treated as external (fail closed)"
                    ),
                );
            }
        }
    }
    if !wide.is_empty() {
        judge_wide(acc, st, &wide.join(", "), ctx, trust, &access);
    }
}

fn describe_principal(p: &Principal) -> String {
    match p {
        Principal::Wildcard => "Principal \"*\"".to_string(),
        Principal::Aws(s) => format!("Principal {s}"),
        Principal::Service(s) => format!("service {s}"),
        Principal::CanonicalUser(s) => format!("canonical user {s}"),
        Principal::Federated(s) => format!("federated {s}"),
        Principal::Other(k, s) => format!("{k} {s}"),
    }
}

fn describe_condition(c: &Condition) -> String {
    format!(
        "{} {} = {}",
        c.operator.trim(),
        c.key_as_written.trim(),
        c.values.join(", ")
    )
}

/// A service principal acts on behalf of some resource's account. It reaches another account
/// only when its source conditions name one; unconditioned, it is the service itself.
fn judge_service(
    acc: &mut Acc,
    st: &Statement,
    service: &str,
    ctx: &BucketContext,
    trust: &Trust,
    access: &[&'static str],
) {
    let label = st.label();
    if st.malformed_condition {
        acc.unknown(
            format!("service {service}"),
            format!(
                "statement {label} grants service {service} and its Condition block cannot be read, so the accounts it acts for are unknown (fail closed)"
            ),
        );
        return;
    }
    for c in &st.conditions {
        let shape = match key_kind(&c.key) {
            KeyKind::Account(shape @ AccountKey::SourceAccount)
            | KeyKind::Account(shape @ AccountKey::SourceArn) => shape,
            _ => continue,
        };
        // IfExists does not matter here: without the key the service acts for nobody in
        // particular, which is not sharing either.
        if op_family(&c.base) != OpFamily::Names {
            continue;
        }
        for v in &c.values {
            // Wildcards and account-less ARNs (a bucket as source) name no account.
            if let Target::Account(a) = account_target(shape, v) {
                if a != ctx.owner_account {
                    acc.account(
                        &a,
                        trust.accounts.contains(&a),
                        access,
                        format!(
                            "statement {label} grants service {service} acting for account {a} (condition {})",
                            describe_condition(c)
                        ),
                    );
                }
            }
        }
    }
}

/// Who a narrowing condition limits a grant to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    Account(String),
    /// Names something, but no valid account (a malformed id, a bucket ARN as source).
    Unknown(String),
}

fn account_target(shape: AccountKey, value: &str) -> Target {
    match named_account(shape, value) {
        Some(account) => Target::Account(account),
        None => Target::Unknown(value.trim().to_string()),
    }
}

/// One way a condition limits a wide grant.
enum Narrowing {
    Accounts(BTreeSet<Target>),
    /// Organisation ids or org paths, as written.
    Orgs(BTreeSet<String>),
    Networks(BTreeSet<Network>),
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Network {
    Cidr(String),
    Vpc(String),
    Vpce(String),
}

impl Network {
    fn text(&self) -> &str {
        match self {
            Network::Cidr(s) | Network::Vpc(s) | Network::Vpce(s) => s,
        }
    }

    fn trusted(&self, trust: &Trust) -> bool {
        match self {
            // Addresses move between owners; only named VPCs / endpoints can be trusted.
            Network::Cidr(_) => false,
            Network::Vpc(id) => trust.vpcs.contains(id),
            Network::Vpce(id) => trust.vpces.contains(id),
        }
    }
}

/// What one condition does to a wide principal.
enum Verdict {
    /// Limits the request, not the requester.
    Harmless,
    /// Understood, and it does not narrow who: the sentence says why.
    NoEffect(String),
    /// Not understood: assumed to narrow nothing (fail closed); the sentence says which.
    NotUnderstood(String),
    Narrows(Narrowing),
}

fn judge_condition(c: &Condition) -> Verdict {
    let cond = describe_condition(c);
    let kind = key_kind(&c.key);
    match kind {
        KeyKind::Harmless => return Verdict::Harmless,
        KeyKind::CallerControlled => {
            return Verdict::NoEffect(format!(
                "condition {cond} narrows nothing because the caller sets that header"
            ))
        }
        KeyKind::Unknown => {
            return Verdict::NotUnderstood(format!(
                "condition {cond} is not understood and is assumed not to narrow who (fail closed)"
            ))
        }
        _ => {}
    }
    let family = match kind {
        KeyKind::SourceIp => match c.base.as_str() {
            "ipaddress" => OpFamily::Names,
            "notipaddress" => OpFamily::Excludes,
            _ => OpFamily::Other,
        },
        _ => op_family(&c.base),
    };
    match family {
        OpFamily::Names => {}
        OpFamily::Excludes => {
            return Verdict::NoEffect(format!(
                "condition {cond} only excludes the values listed, so it narrows nothing"
            ))
        }
        OpFamily::Other => {
            return Verdict::NotUnderstood(format!(
                "condition {cond} uses an operator the analyser does not understand for that key and is assumed not to narrow who (fail closed)"
            ))
        }
    }
    // Every one of these keys can be absent (anonymous callers have no principal account,
    // only service calls carry source keys, internet requests have no VPC, VPC-endpoint
    // requests no public IP), and IfExists passes when the key is absent: so an IfExists
    // form never narrows a wide principal.
    if c.if_exists {
        return Verdict::NoEffect(format!(
            "condition {cond} uses IfExists, which passes requests that do not carry the key, so it narrows nothing"
        ));
    }
    // ForAllValues passes vacuously when the request has no value for the key.
    if c.set_op == Some(SetOp::ForAllValues) {
        return Verdict::NoEffect(format!(
            "condition {cond} uses ForAllValues, which passes requests without the key, so it narrows nothing"
        ));
    }
    if c.values.is_empty() {
        return Verdict::NotUnderstood(format!(
            "condition {cond} lists no values; assumed not to narrow who (fail closed)"
        ));
    }
    let wide_value = |v: &String| -> bool {
        let v = v.trim();
        match kind {
            KeyKind::Account(shape) if shape.is_arn() => {
                // A wildcard in the resource part still pins the account.
                match Arn::parse(v) {
                    Ok(arn) => has_wildcard(&arn.account),
                    Err(_) => has_wildcard(v),
                }
            }
            KeyKind::OrgPath => {
                // `o-abc/r-1/*` still pins the organisation.
                let org = v.split('/').next().unwrap_or_default();
                org.is_empty() || has_wildcard(org)
            }
            KeyKind::SourceIp => has_wildcard(v) || cidr_covers_everything(v),
            _ => has_wildcard(v),
        }
    };
    if let Some(v) = c.values.iter().find(|v| wide_value(v)) {
        return Verdict::NoEffect(format!(
            "condition {cond} allows the wildcard or catch-all value '{}', so it narrows nothing",
            v.trim()
        ));
    }
    let values = c.values.iter().map(|v| v.trim().to_string());
    Verdict::Narrows(match kind {
        KeyKind::Account(shape) => {
            Narrowing::Accounts(values.map(|v| account_target(shape, &v)).collect())
        }
        KeyKind::OrgId | KeyKind::OrgPath => Narrowing::Orgs(values.collect()),
        KeyKind::SourceIp => Narrowing::Networks(values.map(Network::Cidr).collect()),
        KeyKind::SourceVpc => Narrowing::Networks(values.map(Network::Vpc).collect()),
        KeyKind::SourceVpce => Narrowing::Networks(values.map(Network::Vpce).collect()),
        // Returned early above; should that ever change, fail closed rather than ignore.
        KeyKind::Harmless | KeyKind::CallerControlled | KeyKind::Unknown => {
            return Verdict::NotUnderstood(format!(
                "condition {cond} is not understood and is assumed not to narrow who (fail closed)"
            ))
        }
    })
}

/// `0.0.0.0/0`, `::/0` and any other zero-length prefix: the whole address space.
fn cidr_covers_everything(v: &str) -> bool {
    v.split_once('/')
        .is_some_and(|(_, len)| len.trim().parse::<u8>().is_ok_and(|n| n == 0))
}

fn org_trusted(org: &str, trust: &Trust) -> bool {
    trust.orgs.contains(org)
        || org
            .split('/')
            .next()
            .is_some_and(|id| trust.orgs.contains(id))
}

/// A wide principal (`*`, `arn:aws:iam::*:root`, NotPrincipal): public unless its conditions
/// narrow it. Conditions in one statement AND together, so each narrowing condition bounds the
/// grant on its own: the grant reaches the accounts every account condition names (or, when
/// they name disjoint sets, the smallest set), an organisation when no account condition
/// exists, and fixed networks when neither does. A condition the judge does not understand is
/// assumed to narrow nothing — it can only make an AND smaller, never larger.
fn judge_wide(
    acc: &mut Acc,
    st: &Statement,
    who: &str,
    ctx: &BucketContext,
    trust: &Trust,
    access: &[&'static str],
) {
    let label = st.label();
    if st.malformed_condition {
        acc.public(format!(
            "statement {label} grants {who} and its Condition block cannot be read, so it is treated as public (fail closed)"
        ));
        return;
    }
    let mut accounts: Vec<(BTreeSet<Target>, String)> = Vec::new();
    let mut orgs: Vec<(BTreeSet<String>, String)> = Vec::new();
    let mut networks: Vec<(BTreeSet<Network>, String)> = Vec::new();
    let mut notes = Vec::new();
    for c in &st.conditions {
        match judge_condition(c) {
            Verdict::Harmless => {}
            Verdict::NoEffect(note) | Verdict::NotUnderstood(note) => notes.push(note),
            Verdict::Narrows(Narrowing::Accounts(set)) => {
                accounts.push((set, describe_condition(c)))
            }
            Verdict::Narrows(Narrowing::Orgs(set)) => orgs.push((set, describe_condition(c))),
            Verdict::Narrows(Narrowing::Networks(set)) => {
                networks.push((set, describe_condition(c)))
            }
        }
    }
    // Because the conditions AND, one condition confining the grant to trusted organisations
    // or trusted networks is enough to make the whole grant trusted.
    let org_confined = orgs
        .iter()
        .any(|(set, _)| set.iter().all(|o| org_trusted(o, trust)));
    let net_confined = networks
        .iter()
        .any(|(set, _)| set.iter().all(|n| n.trusted(trust)));
    if let Some(reach) = account_reach(&accounts) {
        let conds = accounts
            .iter()
            .map(|(_, c)| c.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        for target in reach {
            match target {
                Target::Account(a) if a == ctx.owner_account => {}
                Target::Account(a) => {
                    let trusted = trust.accounts.contains(&a) || org_confined || net_confined;
                    acc.account(
                        &a,
                        trusted,
                        access,
                        format!("statement {label} grants {who} limited to account {a} (condition {conds})"),
                    );
                }
                Target::Unknown(v) => acc.unknown(
                    v.clone(),
                    format!(
                        "statement {label} grants {who} limited to '{v}', which names no valid account (condition {conds}); treated as an unknown external principal"
                    ),
                ),
            }
        }
        return;
    }
    if !orgs.is_empty() {
        let all: BTreeSet<&String> = orgs.iter().flat_map(|(set, _)| set).collect();
        let conds = orgs
            .iter()
            .map(|(_, c)| c.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        acc.shared = true;
        acc.untrusted |= !(org_confined || net_confined);
        acc.organisations.extend(all.iter().map(|o| o.to_string()));
        acc.reason(format!(
            "statement {label} grants {who} limited to organisation {} (condition {conds}); every account in it can reach the bucket",
            all.iter().map(|o| o.as_str()).collect::<Vec<_>>().join(", ")
        ));
        return;
    }
    if !networks.is_empty() {
        let all: BTreeSet<&Network> = networks.iter().flat_map(|(set, _)| set).collect();
        let conds = networks
            .iter()
            .map(|(_, c)| c.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        acc.shared = true;
        acc.untrusted |= !net_confined;
        acc.networks
            .extend(all.iter().map(|n| n.text().to_string()));
        acc.reason(format!(
            "statement {label} grants {who} limited to the networks {} (condition {conds}); not public, but principals of any account can send requests from them",
            all.iter().map(|n| n.text()).collect::<Vec<_>>().join(", ")
        ));
        return;
    }
    let why = if notes.is_empty() {
        String::new()
    } else {
        format!(": {}", notes.join("; "))
    };
    acc.public(format!(
        "statement {label} makes the bucket public: it grants {who} with no condition limiting it to named accounts, an organisation or fixed networks{why}"
    ));
}

/// The accounts a set of ANDed account conditions lets through: the intersection when the
/// conditions agree on some account; when they name disjoint sets (usually conditions on
/// different quantities, e.g. caller account and source account) the smallest set, so the
/// report never names more accounts than the most restrictive condition admits.
fn account_reach(conditions: &[(BTreeSet<Target>, String)]) -> Option<BTreeSet<Target>> {
    let (first, rest) = conditions.split_first()?;
    let common: BTreeSet<Target> = rest.iter().fold(first.0.clone(), |acc, (set, _)| {
        acc.intersection(set).cloned().collect()
    });
    if !common.is_empty() {
        return Some(common);
    }
    conditions
        .iter()
        .min_by_key(|(set, _)| set.len())
        .map(|(set, _)| set.clone())
}
