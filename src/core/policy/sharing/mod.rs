//! "Shared" (DOMAIN.md §4): who besides the owner can reach a bucket, from its bucket policy
//! and its ACL, with the reasons. Conservative: a condition it does not understand on a wide
//! principal fails closed (shared, and says which condition).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::arn::Arn;
use crate::core::json::{embedded_document, get_ci_present, path, str_field};

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
        SharingReport {
            shared: self.shared || other.shared,
            public: self.public || other.public,
            untrusted: self.untrusted || other.untrusted,
            external_accounts: union(self.external_accounts, other.external_accounts),
            organisations: union(self.organisations, other.organisations),
            unknown_principals: union(self.unknown_principals, other.unknown_principals),
            networks: union(self.networks, other.networks),
            reasons,
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

/// Judges a bucket ACL: GetBucketAcl output (`{"Owner": {...}, "Grants": [...]}`), PascalCase
/// or camelCase. Grants to another canonical id or to the AllUsers / AuthenticatedUsers groups
/// share the bucket.
pub fn evaluate_acl_sharing(acl: &Value, ctx: &BucketContext, _trust: &Trust) -> SharingReport {
    // Trust lists name accounts, orgs and networks; an ACL grantee is none of these, so trust
    // cannot clear an ACL grant.
    let mut acc = Acc::default();
    // No ACL read at all is not a grant; anything else that is not an object is unreadable.
    if acl.is_null() {
        return acc.finish();
    }
    let doc = embedded_document(acl).unwrap_or(Value::Null);
    if !doc.is_object() {
        acc.shared = true;
        acc.untrusted = true;
        acc.reason(
            "the bucket ACL is not a JSON object, so its grants cannot be read; treated as shared (fail closed)"
                .to_string(),
        );
        return acc.finish();
    }
    let acl_owner = path(&doc, &["Owner", "ID"]).and_then(scalar_text);
    let is_owner =
        |id: &str| ctx.owner_canonical_id == Some(id) || acl_owner.as_deref() == Some(id);
    let grants: Vec<&Value> = match get_ci_present(&doc, "Grants") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => Vec::new(),
    };
    for (i, grant) in grants.into_iter().enumerate() {
        let permission = str_field(grant, "Permission").unwrap_or_else(|| "access".to_string());
        let Some(grantee) = get_ci_present(grant, "Grantee") else {
            acc.unknown(
                format!("ACL grantee #{i}"),
                format!("ACL grant #{i} ({permission}) has no readable grantee; treated as external (fail closed)"),
            );
            continue;
        };
        let kind = str_field(grantee, "Type")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let id = get_ci_present(grantee, "ID").and_then(scalar_text);
        let uri = str_field(grantee, "URI");
        let email = str_field(grantee, "EmailAddress");
        match (kind.as_str(), id, uri, email) {
            ("canonicaluser" | "", Some(id), _, _) => {
                if !is_owner(&id) {
                    acc.unknown(
                        format!("canonical user {id}"),
                        format!("ACL grants {permission} to canonical user {id}, which is not the bucket owner"),
                    );
                }
            }
            ("group" | "", _, Some(uri), _) => match acl_group(&uri) {
                AclGroup::AllUsers => acc.public(format!(
                    "ACL grants {permission} to AllUsers ({uri}): anyone on the internet, the bucket is public"
                )),
                AclGroup::AuthenticatedUsers => acc.public(format!(
                    "ACL grants {permission} to AuthenticatedUsers ({uri}): any AWS account, the bucket is public"
                )),
                AclGroup::LogDelivery => acc.reason(format!(
                    "ACL grants {permission} to the LogDelivery group ({uri}); S3 writes access logs with it, which does not share the bucket"
                )),
                AclGroup::Other => acc.unknown(
                    format!("group {uri}"),
                    format!("ACL grants {permission} to group {uri}, which is not understood; treated as external (fail closed)"),
                ),
            },
            ("amazoncustomerbyemail" | "", _, _, Some(email)) => acc.unknown(
                format!("email {email}"),
                format!("ACL grants {permission} to the account of {email}"),
            ),
            _ => acc.unknown(
                format!("ACL grantee {grantee}"),
                format!("ACL grants {permission} to grantee {grantee}, which is not understood; treated as external (fail closed)"),
            ),
        }
    }
    acc.finish()
}

/// An id that may arrive as a string or a number.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

enum AclGroup {
    AllUsers,
    AuthenticatedUsers,
    LogDelivery,
    Other,
}

fn acl_group(uri: &str) -> AclGroup {
    // Both http and https forms are seen; the path is what identifies the group.
    let path = uri
        .trim()
        .trim_end_matches('/')
        .rsplit("acs.amazonaws.com/groups/")
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match path.as_str() {
        "global/allusers" => AclGroup::AllUsers,
        "global/authenticatedusers" => AclGroup::AuthenticatedUsers,
        "s3/logdelivery" => AclGroup::LogDelivery,
        _ => AclGroup::Other,
    }
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
    fn account(&mut self, account: &str, trusted: bool, reason: String) {
        self.shared = true;
        self.untrusted |= !trusted;
        self.external_accounts.insert(account.to_string());
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
        }
    }
}

fn judge_statement(acc: &mut Acc, st: &Statement, ctx: &BucketContext, trust: &Trust) {
    let label = st.label();
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
            judge_wide(acc, st, &who, ctx, trust);
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
                    acc.account(&a, trusted, reason);
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
            Principal::Service(name) => judge_service(acc, st, name, ctx, trust),
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
        judge_wide(acc, st, &wide.join(", "), ctx, trust);
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
fn judge_service(acc: &mut Acc, st: &Statement, service: &str, ctx: &BucketContext, trust: &Trust) {
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
fn judge_wide(acc: &mut Acc, st: &Statement, who: &str, ctx: &BucketContext, trust: &Trust) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const OWNER: &str = "111122223333";
    const OTHER: &str = "444455556666";
    const THIRD: &str = "777788889999";
    const TRUSTED: &str = "222233334444";
    const OWNER_CANON: &str = "owner-canonical-id";

    fn ctx() -> BucketContext<'static> {
        BucketContext {
            bucket: "data-bucket",
            owner_account: OWNER,
            owner_canonical_id: Some(OWNER_CANON),
            partition: "aws",
        }
    }

    fn trust() -> Trust {
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        Trust {
            accounts: set(&[TRUSTED]),
            orgs: set(&["o-trusted"]),
            vpcs: set(&["vpc-trusted"]),
            vpces: set(&["vpce-trusted"]),
        }
    }

    /// An Allow of s3:GetObject on the bucket's objects.
    fn allow(principal: Value, condition: Value) -> Value {
        let mut st = json!({"Sid": "Grant", "Effect": "Allow", "Principal": principal,
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data-bucket/*"});
        if !condition.is_null() {
            st["Condition"] = condition;
        }
        st
    }

    fn wide(condition: Value) -> Value {
        allow(json!("*"), condition)
    }

    /// A bare statement is wrapped into a one-statement policy.
    fn judge(v: &Value) -> SharingReport {
        let doc = if v.get("Statement").is_some() {
            v.clone()
        } else {
            json!({"Version": "2012-10-17", "Statement": [v]})
        };
        evaluate_policy_sharing(&Policy::parse_any(&doc).unwrap(), &ctx(), &trust())
    }

    #[derive(Debug, Default)]
    struct Expect {
        shared: bool,
        public: bool,
        untrusted: bool,
        accounts: Vec<&'static str>,
        orgs: Vec<&'static str>,
        unknown: Vec<&'static str>,
        networks: Vec<&'static str>,
        reason: Option<&'static str>,
    }

    fn not_shared() -> Expect {
        Expect::default()
    }
    fn public() -> Expect {
        Expect {
            shared: true,
            public: true,
            untrusted: true,
            ..Expect::default()
        }
    }
    fn shared() -> Expect {
        Expect {
            shared: true,
            untrusted: true,
            ..Expect::default()
        }
    }

    impl Expect {
        fn trusted(mut self) -> Self {
            self.untrusted = false;
            self
        }
        fn accounts(mut self, a: &[&'static str]) -> Self {
            self.accounts = a.to_vec();
            self
        }
        fn orgs(mut self, o: &[&'static str]) -> Self {
            self.orgs = o.to_vec();
            self
        }
        fn unknown(mut self, u: &[&'static str]) -> Self {
            self.unknown = u.to_vec();
            self
        }
        fn networks(mut self, n: &[&'static str]) -> Self {
            self.networks = n.to_vec();
            self
        }
        fn reason(mut self, r: &'static str) -> Self {
            self.reason = Some(r);
            self
        }
        fn check(&self, r: &SharingReport) {
            assert_eq!(r.shared, self.shared, "shared: {r:#?}");
            assert_eq!(r.public, self.public, "public: {r:#?}");
            assert_eq!(r.untrusted, self.untrusted, "untrusted: {r:#?}");
            assert_eq!(r.external_accounts, self.accounts, "accounts: {r:#?}");
            assert_eq!(r.organisations, self.orgs, "orgs: {r:#?}");
            assert_eq!(r.unknown_principals, self.unknown, "unknown: {r:#?}");
            assert_eq!(r.networks, self.networks, "networks: {r:#?}");
            if let Some(want) = self.reason {
                assert!(
                    r.reasons.iter().any(|x| x.contains(want)),
                    "no reason contains {want:?}: {:#?}",
                    r.reasons
                );
            }
            if r.shared {
                assert!(!r.reasons.is_empty(), "shared without a reason");
            }
        }
    }

    macro_rules! sharing_cases {
        ($($name:ident: $policy:expr => $expect:expr;)*) => {$(
            #[test]
            fn $name() {
                let report = judge(&$policy);
                $expect.check(&report);
            }
        )*};
    }

    sharing_cases! {
        // Principal forms.
        principal_star_is_public: wide(Value::Null) => public().reason("statement 'Grant' makes the bucket public");
        principal_aws_star_is_public: allow(json!({"AWS": "*"}), Value::Null) => public();
        principal_aws_star_in_list_is_public: allow(json!({"AWS": ["*"]}), Value::Null) => public();
        list_holding_star_and_account: allow(json!({"AWS": [format!("arn:aws:iam::{OTHER}:root"), "*"]}), Value::Null)
            => public().accounts(&[OTHER]);
        any_account_root_is_public: allow(json!({"AWS": "arn:aws:iam::*:root"}), Value::Null) => public();
        not_principal_allow_is_public: json!({"Effect": "Allow", "NotPrincipal": {"AWS": format!("arn:aws:iam::{OTHER}:root")},
            "Action": "s3:*", "Resource": "*"}) => public().reason("NotPrincipal");
        not_principal_deny_never_shares: json!({"Effect": "Deny", "NotPrincipal": {"AWS": OWNER},
            "Action": "s3:*", "Resource": "*"}) => not_shared();
        deny_star_never_shares: json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}) => not_shared();
        misspelt_effect_never_shares: json!({"Effect": "Alow", "Principal": "*", "Action": "s3:*", "Resource": "*"}) => not_shared();
        missing_principal_grants_nobody: json!({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}) => not_shared();
        bare_account_id: allow(json!({"AWS": OTHER}), Value::Null)
            => shared().accounts(&[OTHER]).reason("statement 'Grant' grants account 444455556666");
        bare_account_as_json_number: allow(json!({"AWS": 444455556666u64}), Value::Null) => shared().accounts(&[OTHER]);
        account_root_arn: allow(json!({"AWS": format!("arn:aws:iam::{OTHER}:root")}), Value::Null) => shared().accounts(&[OTHER]);
        account_role_arn: json!({"Sid": "ShareWithAnalytics", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::444455556666:role/reader"}, "Action": "s3:GetObject", "Resource": "*"})
            => shared().accounts(&[OTHER])
                .reason("statement 'ShareWithAnalytics' grants account 444455556666 (arn:aws:iam::444455556666:role/reader)");
        account_user_arn: allow(json!({"AWS": format!("arn:aws:iam::{THIRD}:user/alice")}), Value::Null) => shared().accounts(&[THIRD]);
        assumed_role_arn: allow(json!({"AWS": format!("arn:aws:sts::{OTHER}:assumed-role/r/session")}), Value::Null)
            => shared().accounts(&[OTHER]);
        other_partition_role: allow(json!({"AWS": format!("arn:aws-cn:iam::{OTHER}:role/r")}), Value::Null) => shared().accounts(&[OTHER]);
        owner_root_not_shared: allow(json!({"AWS": format!("arn:aws:iam::{OWNER}:root")}), Value::Null) => not_shared();
        owner_bare_not_shared: allow(json!({"AWS": OWNER}), Value::Null) => not_shared();
        owner_role_and_user_not_shared: allow(json!({"AWS": [format!("arn:aws:iam::{OWNER}:role/app"),
            format!("arn:aws:iam::{OWNER}:user/bob")]}), Value::Null) => not_shared();
        trusted_account_is_shared_but_trusted: allow(json!({"AWS": TRUSTED}), Value::Null) => shared().trusted().accounts(&[TRUSTED]);
        trusted_and_untrusted_accounts: allow(json!({"AWS": [TRUSTED, OTHER]}), Value::Null) => shared().accounts(&[TRUSTED, OTHER]);
        malformed_account_is_unknown: allow(json!({"AWS": "12345"}), Value::Null) => shared().unknown(&["12345"]);
        unique_id_is_unknown: allow(json!({"AWS": "AROAEXAMPLEID1234567"}), Value::Null)
            => shared().unknown(&["AROAEXAMPLEID1234567"]).reason("unique id");
        user_unique_id_is_unknown: allow(json!({"AWS": "AIDAEXAMPLEID1234567"}), Value::Null) => shared().unknown(&["AIDAEXAMPLEID1234567"]);
        non_principal_arn_is_unknown: allow(json!({"AWS": "arn:aws:s3:::other-bucket"}), Value::Null)
            => shared().unknown(&["arn:aws:s3:::other-bucket"]);
        // An AWS principal is an account only as an id or an iam / sts ARN (M8: key_policy reads it the same way).
        lambda_function_arn_is_unknown: allow(json!({"AWS": format!("arn:aws:lambda:eu-west-1:{OTHER}:function:x")}), Value::Null)
            => shared().unknown(&["arn:aws:lambda:eu-west-1:444455556666:function:x"]).reason("an ARN that names no valid account principal");
        // Policy variables are not fixed values (M8: key_policy reads them the same way).
        policy_variable_account_principal_is_public: allow(json!({"AWS": "arn:aws:iam::${aws:PrincipalAccount}:root"}), Value::Null)
            => public().reason("Principal arn:aws:iam::${aws:PrincipalAccount}:root");
        canonical_user_of_other: allow(json!({"CanonicalUser": "abc123"}), Value::Null) => shared().unknown(&["canonical user abc123"]);
        canonical_user_of_owner: allow(json!({"CanonicalUser": OWNER_CANON}), Value::Null) => not_shared();
        federated_is_unknown_external: allow(json!({"Federated": "cognito-identity.amazonaws.com"}), Value::Null)
            => shared().unknown(&["federated cognito-identity.amazonaws.com"]).reason("federated principal");
        odd_principal_type_fails_closed: allow(json!({"Robot": "r2d2"}), Value::Null) => shared().unknown(&["Robot r2d2"]);
        // Service principals.
        service_without_condition: allow(json!({"Service": "logging.s3.amazonaws.com"}), Value::Null) => not_shared();
        service_for_owner: allow(json!({"Service": "logging.s3.amazonaws.com"}),
            json!({"StringEquals": {"aws:SourceAccount": OWNER}})) => not_shared();
        service_for_other_account: allow(json!({"Service": "logging.s3.amazonaws.com"}),
            json!({"StringEquals": {"aws:SourceAccount": OTHER}})) => shared().accounts(&[OTHER]).reason("service logging.s3.amazonaws.com");
        service_for_other_source_arn: allow(json!({"Service": "cloudtrail.amazonaws.com"}),
            json!({"ArnLike": {"aws:SourceArn": format!("arn:aws:cloudtrail:us-east-1:{THIRD}:trail/*")}})) => shared().accounts(&[THIRD]);
        service_for_other_source_owner: allow(json!({"Service": "ses.amazonaws.com"}),
            json!({"StringEquals": {"aws:SourceOwner": OTHER}})) => shared().accounts(&[OTHER]);
        service_for_bucket_arn_names_no_account: allow(json!({"Service": "logging.s3.amazonaws.com"}),
            json!({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::source-bucket"}})) => not_shared();
        service_for_trusted_account: allow(json!({"Service": "logging.s3.amazonaws.com"}),
            json!({"StringEquals": {"aws:SourceAccount": TRUSTED}})) => shared().trusted().accounts(&[TRUSTED]);
        // Account narrowing of a wide principal.
        star_limited_to_principal_account: wide(json!({"StringEquals": {"aws:PrincipalAccount": OTHER}}))
            => shared().accounts(&[OTHER]).reason("limited to account 444455556666");
        star_limited_to_owner_only: wide(json!({"StringEquals": {"aws:PrincipalAccount": OWNER}})) => not_shared();
        star_limited_to_owner_and_trusted: wide(json!({"StringEquals": {"aws:PrincipalAccount": [OWNER, TRUSTED]}}))
            => shared().trusted().accounts(&[TRUSTED]);
        narrowing_key_is_case_insensitive: wide(json!({"StringEquals": {"AWS:principalACCOUNT": OTHER}})) => shared().accounts(&[OTHER]);
        star_limited_by_principal_arn: wide(json!({"ArnLike": {"aws:PrincipalArn": format!("arn:aws:iam::{OTHER}:role/*")}}))
            => shared().accounts(&[OTHER]);
        principal_arn_with_wildcard_account_stays_public: wide(json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/x"}}))
            => public().reason("wildcard");
        wildcard_account_value_stays_public: wide(json!({"StringLike": {"aws:PrincipalAccount": "*"}})) => public();
        if_exists_does_not_narrow: wide(json!({"StringEqualsIfExists": {"aws:PrincipalAccount": OTHER}})) => public().reason("IfExists");
        for_any_value_narrows: wide(json!({"ForAnyValue:StringEquals": {"aws:PrincipalAccount": [OTHER, THIRD]}}))
            => shared().accounts(&[OTHER, THIRD]);
        for_all_values_does_not_narrow: wide(json!({"ForAllValues:StringEquals": {"aws:PrincipalAccount": OTHER}})) => public();
        negated_account_condition_does_not_narrow: wide(json!({"StringNotEquals": {"aws:PrincipalAccount": OTHER}})) => public();
        source_account_narrows_star: wide(json!({"StringEquals": {"aws:SourceAccount": OTHER}})) => shared().accounts(&[OTHER]);
        kms_caller_account_narrows_star: wide(json!({"StringEquals": {"kms:CallerAccount": THIRD}})) => shared().accounts(&[THIRD]);
        access_point_account_narrows_star: wide(json!({"StringEquals": {"s3:DataAccessPointAccount": OTHER}})) => shared().accounts(&[OTHER]);
        malformed_account_in_condition_is_unknown: wide(json!({"StringEquals": {"aws:PrincipalAccount": "12345"}})) => shared().unknown(&["12345"]);
        account_conditions_intersect: wide(json!({"StringEquals": {"aws:PrincipalAccount": [OTHER, THIRD]},
            "ArnLike": {"aws:PrincipalArn": format!("arn:aws:iam::{THIRD}:role/x")}})) => shared().accounts(&[THIRD]);
        disjoint_account_conditions_take_smallest: wide(json!({"StringEquals": {"aws:PrincipalAccount": [OTHER, THIRD], "aws:SourceAccount": TRUSTED}}))
            => shared().trusted().accounts(&[TRUSTED]);
        explicit_account_ignores_conditions: allow(json!({"AWS": OTHER}), json!({"StringEquals": {"aws:PrincipalAccount": OWNER}}))
            => shared().accounts(&[OTHER]);
        // Organisations.
        star_limited_to_org: wide(json!({"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}))
            => shared().orgs(&["o-abc123"]).reason("organisation o-abc123");
        star_limited_to_trusted_org: wide(json!({"StringEquals": {"aws:PrincipalOrgID": "o-trusted"}})) => shared().trusted().orgs(&["o-trusted"]);
        star_limited_to_org_path: wide(json!({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-trusted/r-ab12/ou-ab12-1/*"}}))
            => shared().trusted().orgs(&["o-trusted/r-ab12/ou-ab12-1/*"]);
        org_wildcard_stays_public: wide(json!({"StringLike": {"aws:PrincipalOrgID": "o-*"}})) => public();
        policy_variable_org_id_stays_public: wide(json!({"StringEquals": {"aws:PrincipalOrgID": "o-${aws:PrincipalOrgID}"}}))
            => public().reason("wildcard or catch-all value 'o-${aws:PrincipalOrgID}'");
        policy_variable_org_path_stays_public: wide(json!({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-${aws:PrincipalOrgID}/*"}}))
            => public();
        policy_variable_account_condition_stays_public: wide(json!({"StringEquals": {"aws:PrincipalAccount": "${aws:PrincipalAccount}"}}))
            => public().reason("wildcard or catch-all value '${aws:PrincipalAccount}'");
        org_if_exists_stays_public: wide(json!({"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-abc123"}})) => public();
        org_and_account_gives_accounts: wide(json!({"StringEquals": {"aws:PrincipalOrgID": "o-abc123", "aws:PrincipalAccount": OTHER}}))
            => shared().accounts(&[OTHER]);
        trusted_org_vouches_for_named_account: wide(json!({"StringEquals": {"aws:PrincipalOrgID": "o-trusted", "aws:PrincipalAccount": OTHER}}))
            => shared().trusted().accounts(&[OTHER]);
        // Networks.
        source_ip_cidr_is_shared_not_public: wide(json!({"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "198.51.100.7/32"]}}))
            => shared().networks(&["198.51.100.7/32", "203.0.113.0/24"]).reason("not public");
        source_ip_everything_is_public: wide(json!({"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}})) => public();
        source_ip_v6_everything_is_public: wide(json!({"IpAddress": {"aws:SourceIp": ["2001:db8::/32", "::/0"]}})) => public();
        not_ip_address_alone_is_public: wide(json!({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}})) => public();
        source_vpce_untrusted: wide(json!({"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c"}})) => shared().networks(&["vpce-1a2b3c"]);
        source_vpce_trusted: wide(json!({"StringEquals": {"aws:sourcevpce": "vpce-trusted"}})) => shared().trusted().networks(&["vpce-trusted"]);
        source_vpc_trusted: wide(json!({"StringEquals": {"aws:SourceVpc": "vpc-trusted"}})) => shared().trusted().networks(&["vpc-trusted"]);
        source_vpc_partly_trusted: wide(json!({"StringEquals": {"aws:SourceVpc": ["vpc-trusted", "vpc-other"]}}))
            => shared().networks(&["vpc-other", "vpc-trusted"]);
        source_vpc_wildcard_is_public: wide(json!({"StringLike": {"aws:SourceVpc": "vpc-*"}})) => public();
        source_vpc_if_exists_is_public: wide(json!({"StringEqualsIfExists": {"aws:SourceVpc": "vpc-trusted"}})) => public();
        trusted_vpce_vouches_for_cidr: wide(json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
            "StringEquals": {"aws:SourceVpce": "vpce-trusted"}})) => shared().trusted().networks(&["10.0.0.0/8", "vpce-trusted"]);
        account_wins_over_network: wide(json!({"StringEquals": {"aws:PrincipalAccount": OTHER, "aws:SourceVpce": "vpce-trusted"}}))
            => shared().trusted().accounts(&[OTHER]);
        referer_narrows_nothing: wide(json!({"StringLike": {"aws:Referer": "https://example.com/*"}})) => public().reason("aws:Referer");
        user_agent_narrows_nothing: wide(json!({"StringEquals": {"aws:UserAgent": "curl"}})) => public();
        // Harmless and unknown conditions.
        secure_transport_is_harmless: wide(json!({"Bool": {"aws:SecureTransport": "true"}})) => public();
        acl_header_is_harmless: wide(json!({"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}})) => public();
        prefix_and_time_are_harmless: wide(json!({"StringLike": {"s3:prefix": "public/*"}, "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}})) => public();
        unknown_key_fails_closed: wide(json!({"StringEquals": {"aws:PrincipalTag/team": "data"}}))
            => public().reason("aws:PrincipalTag/team = data is not understood");
        unknown_operator_on_known_key_fails_closed: wide(json!({"NumericEquals": {"aws:PrincipalAccount": OTHER}})) => public().reason("NumericEquals");
        unknown_key_beside_account_keeps_account: wide(json!({"StringEquals": {"aws:PrincipalAccount": OTHER, "aws:userid": "AROAX:*"}}))
            => shared().accounts(&[OTHER]);
        malformed_condition_fails_closed: wide(json!("aws:SecureTransport")) => public().reason("cannot be read");
        service_with_malformed_condition_fails_closed: allow(json!({"Service": "logging.s3.amazonaws.com"}), json!({"StringEquals": "x"}))
            => shared().unknown(&["service logging.s3.amazonaws.com"]);
        // Whole policies.
        several_statements_merge_sorted: json!({"Statement": [
            allow(json!({"AWS": THIRD}), Value::Null),
            json!({"Effect": "Allow", "Principal": {"AWS": [format!("arn:aws:iam::{OTHER}:role/a"), OTHER, OWNER]},
                "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::data-bucket"}),
            json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]})
            => shared().accounts(&[OTHER, THIRD]).reason("statement #1 grants account 444455556666 (arn:aws:iam::444455556666:role/a)");
        empty_policy_is_not_shared: json!({"Statement": []}) => not_shared();
    }

    fn acl(grants: Value) -> Value {
        json!({"Owner": {"ID": OWNER_CANON}, "Grants": grants})
    }

    fn owner_grant() -> Value {
        json!({"Grantee": {"Type": "CanonicalUser", "ID": OWNER_CANON}, "Permission": "FULL_CONTROL"})
    }

    fn group(uri: &str, permission: &str) -> Value {
        json!({"Grantee": {"Type": "Group", "URI": uri}, "Permission": permission})
    }

    macro_rules! acl_cases {
        ($($name:ident: $acl:expr, $owner:expr => $expect:expr;)*) => {$(
            #[test]
            fn $name() {
                let ctx = BucketContext { owner_canonical_id: $owner, ..ctx() };
                let report = evaluate_acl_sharing(&$acl, &ctx, &trust());
                $expect.check(&report);
            }
        )*};
    }

    acl_cases! {
        acl_owner_only: acl(json!([owner_grant()])), Some(OWNER_CANON) => not_shared();
        acl_all_users_is_public: acl(json!([owner_grant(), group("http://acs.amazonaws.com/groups/global/AllUsers", "READ")])), Some(OWNER_CANON)
            => public().reason("AllUsers");
        acl_authenticated_users_is_public: acl(json!([group("http://acs.amazonaws.com/groups/global/AuthenticatedUsers", "READ")])), Some(OWNER_CANON)
            => public().reason("AuthenticatedUsers");
        acl_log_delivery_does_not_share: acl(json!([owner_grant(), group("http://acs.amazonaws.com/groups/s3/LogDelivery", "WRITE")])), Some(OWNER_CANON)
            => not_shared().reason("LogDelivery");
        acl_other_canonical_user: acl(json!([owner_grant(), {"Grantee": {"Type": "CanonicalUser", "ID": "other-id"}, "Permission": "READ"}])), Some(OWNER_CANON)
            => shared().unknown(&["canonical user other-id"]);
        acl_camel_case_keys: json!({"owner": {"id": OWNER_CANON}, "grants": [{"grantee": {"type": "CanonicalUser", "id": "other-id"}, "permission": "READ"},
            {"grantee": {"type": "Group", "uri": "http://acs.amazonaws.com/groups/global/AllUsers"}, "permission": "READ"}]}), Some(OWNER_CANON)
            => public().unknown(&["canonical user other-id"]);
        acl_owner_from_document_when_unknown: acl(json!([owner_grant()])), None => not_shared();
        acl_document_owner_differs_from_context: json!({"Owner": {"ID": "acl-owner"}, "Grants": [
            {"Grantee": {"Type": "CanonicalUser", "ID": "acl-owner"}, "Permission": "FULL_CONTROL"},
            {"Grantee": {"Type": "CanonicalUser", "ID": OWNER_CANON}, "Permission": "READ"}]}), Some(OWNER_CANON) => not_shared();
        acl_unknown_group_fails_closed: acl(json!([group("http://acs.amazonaws.com/groups/global/Martians", "READ")])), Some(OWNER_CANON)
            => shared().unknown(&["group http://acs.amazonaws.com/groups/global/Martians"]);
        acl_email_grantee: acl(json!([{"Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": "a@example.com"}, "Permission": "READ"}])), Some(OWNER_CANON)
            => shared().unknown(&["email a@example.com"]);
        acl_without_grants: json!({"Owner": {"ID": OWNER_CANON}}), Some(OWNER_CANON) => not_shared();
        acl_null_is_no_acl: Value::Null, Some(OWNER_CANON) => not_shared();
        acl_not_an_object_fails_closed: json!([1, 2]), Some(OWNER_CANON) => shared().reason("cannot be read");
        acl_garbage_text_fails_closed: json!("<AccessControlPolicy>"), Some(OWNER_CANON) => shared().reason("cannot be read");
        acl_as_json_text: Value::String(acl(json!([group("http://acs.amazonaws.com/groups/global/AllUsers", "READ")])).to_string()),
            Some(OWNER_CANON) => public();
    }

    #[test]
    fn merge_unions_sorts_and_keeps_reason_order() {
        let a = judge(&allow(json!({"AWS": [THIRD, TRUSTED]}), Value::Null));
        let b = judge(&wide(
            json!({"StringEquals": {"aws:PrincipalAccount": OTHER}}),
        ));
        let c = evaluate_acl_sharing(
            &acl(json!([group(
                "http://acs.amazonaws.com/groups/global/AllUsers",
                "READ"
            )])),
            &ctx(),
            &trust(),
        );
        let merged = a.clone().merge(b).merge(c).merge(a.clone());
        assert!(merged.shared && merged.public && merged.untrusted);
        assert_eq!(merged.external_accounts, vec![TRUSTED, OTHER, THIRD]);
        assert_eq!(merged.reasons.len(), 4, "{:#?}", merged.reasons);
        assert_eq!(merged.reasons[0], a.reasons[0]);
        let empty = SharingReport::default().merge(SharingReport::default());
        assert_eq!(empty, SharingReport::default());
    }

    /// Arbitrary JSON, biased towards the keys and values the judges look at.
    const ARB_VALUES: &[&str] = &[
        "*",
        "Allow",
        "Deny",
        "s3:*",
        "false",
        OTHER,
        "arn:aws:s3:::data-bucket/*",
        "arn:aws:iam::*:root",
    ];
    const ARB_KEYS: &[&str] = &[
        "Statement",
        "Effect",
        "Principal",
        "NotPrincipal",
        "AWS",
        "Action",
        "Resource",
        "Condition",
        "Bool",
        "aws:SecureTransport",
        "Grants",
        "Grantee",
        "Sid",
    ];

    fn arb_json() -> impl Strategy<Value = Value> {
        crate::core::testing::arb_json(ARB_VALUES, ARB_KEYS)
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn judges_never_panic_on_arbitrary_json(v in arb_json()) {
            let ctx = ctx();
            let trust = trust();
            let _ = evaluate_acl_sharing(&v, &ctx, &trust);
            let policy = Policy::parse_any(&v).ok();
            if let Some(p) = &policy {
                let r = evaluate_policy_sharing(p, &ctx, &trust);
                prop_assert!(!r.public || (r.shared && r.untrusted));
                prop_assert!(r.unknown_principals.is_empty() || r.untrusted);
                prop_assert!(!r.external_accounts.iter().any(|a| a == OWNER));
            }
            let _ = crate::core::policy::secure_transport::evaluate_tls(policy.as_ref(), "data-bucket", "aws");
            let _ = crate::core::policy::patch::patch_tls(Some(&v), "data-bucket", "aws", "DenyInsecureTransport");
            // Statements are where the judges do the work: feed the value as one, too.
            let doc = json!({"Statement": [v]});
            if let Ok(p) = Policy::parse_any(&doc) {
                let _ = evaluate_policy_sharing(&p, &ctx, &trust);
                let _ = crate::core::policy::secure_transport::evaluate_tls(Some(&p), "data-bucket", "aws");
            }
            let _ = crate::core::policy::patch::patch_tls(Some(&doc), "data-bucket", "aws", "DenyInsecureTransport");
        }
    }
}
