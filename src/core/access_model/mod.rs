//! The concrete-request evaluator: does a policy allow one request (principal, action,
//! resource, request context)? It reads raw JSON, not the core's parsed model, so a bug in the
//! parser cannot hide a widening from it. Two uses:
//!
//! - the "never widen access" test oracle (`universe`, `allowed`): over a finite universe of
//!   concrete requests, `allowed` is the set some Allow matches and no Deny matches; the patch
//!   properties compare these sets before and after a patch. Its context is **closed**: a key
//!   the request does not carry is absent.
//! - the caller-side AccessDenied diagnosis (DOMAIN.md §6, `evaluate_identity`): do the denied
//!   principal's identity policies and permissions boundary allow the denied action on the
//!   foreign ARN? Its context is **open**: a condition on a key the request does not carry
//!   makes the answer `Unknown`, naming the condition — never a guessed "missing".
//!
//! IAM semantics kept: wildcards in actions (case-insensitive) and resources, `NotPrincipal`,
//! `NotAction`, `NotResource`, an explicit Deny beating every Allow, `…IfExists`, negated
//! operators, `ForAnyValue:` / `ForAllValues:` over the request's single value. In a closed
//! context a missing key fails every operator but the negated and `…IfExists` ones, and an
//! operator the model does not know makes its statement match (for a Deny: it denies more
//! before the patch, so removing it must be covered by what replaces it); in an open context
//! both are `Unknown`.

use std::collections::BTreeSet;

use serde_json::Value;

/// Who makes a request.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Who {
    Anonymous,
    /// An IAM principal: its account and ARN.
    Aws {
        account: String,
        arn: String,
    },
    Service(String),
    Canonical(String),
}

impl Who {
    pub fn aws(account: &str, name: &str) -> Who {
        Who::Aws {
            account: account.to_string(),
            arn: format!("arn:aws:iam::{account}:{name}"),
        }
    }

    pub fn account(&self) -> Option<&str> {
        match self {
            Who::Aws { account, .. } => Some(account),
            _ => None,
        }
    }
}

/// One concrete request.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Request {
    pub who: Who,
    pub action: String,
    pub resource: String,
    /// Condition keys present in the request (lower-cased key, value).
    pub context: Vec<(String, String)>,
    /// Open context: the request may carry keys not listed, so a condition on one of them is
    /// `Unknown` rather than failed (see the module doc).
    pub open: bool,
}

impl Request {
    /// An open-context request: `context` lists what is known about it (keys any case).
    pub fn open(who: Who, action: &str, resource: &str, context: &[(&str, &str)]) -> Request {
        Request {
            who,
            action: action.to_string(),
            resource: resource.to_string(),
            context: context
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
                .collect(),
            open: true,
        }
    }
}

/// Every combination of the given dimensions; `contexts` are extra keys, to which
/// `aws:PrincipalAccount` / `kms:CallerAccount` of IAM principals are added. Closed context.
pub fn universe(
    whos: &[Who],
    actions: &[&str],
    resources: &[&str],
    contexts: &[Vec<(&str, &str)>],
) -> Vec<Request> {
    let mut out = Vec::new();
    for who in whos {
        for action in actions {
            for resource in resources {
                for ctx in contexts {
                    let mut context: Vec<(String, String)> = ctx
                        .iter()
                        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
                        .collect();
                    if let Some(a) = who.account() {
                        context.push(("aws:principalaccount".into(), a.into()));
                        context.push(("kms:calleraccount".into(), a.into()));
                    }
                    out.push(Request {
                        who: who.clone(),
                        action: action.to_string(),
                        resource: resource.to_string(),
                        context,
                        open: false,
                    });
                }
            }
        }
    }
    out
}

/// The requests of `universe` that the resource policy `policy` allows.
pub fn allowed(policy: &Value, universe: &[Request]) -> BTreeSet<Request> {
    let named = [Named {
        name: "policy",
        document: policy,
    }];
    universe
        .iter()
        .filter(|r| {
            matches!(
                evaluate(Kind::Resource, &named, r),
                Decision::Allowed { .. }
            )
        })
        .cloned()
        .collect()
}

/// Whether a policy is attached to a resource (statements name principals) or to an identity
/// (statements have no principal: they apply to the identity they are attached to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Resource,
    Identity,
}

/// A policy document with the name findings call it by.
#[derive(Debug, Clone, Copy)]
pub struct Named<'a> {
    pub name: &'a str,
    pub document: &'a Value,
}

/// The answer for one request against a set of policies of one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// An Allow matches and no Deny can: `by` names the statement.
    Allowed { by: String },
    /// A Deny matches.
    ExplicitDeny { by: String },
    /// No Allow can match (whatever the unknown keys are).
    NotAllowed,
    /// It depends on request keys the context does not know: the conditions, as written.
    Unknown { conditions: Vec<String> },
}

/// How one statement answers a request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Match {
    Yes,
    No,
    /// Principal, action and resource match; these conditions cannot be decided.
    Unknown(Vec<String>),
}

/// The IAM evaluation order over `policies` (all of one kind): an explicit Deny wins, then an
/// Allow; an open context turns undecidable conditions into `Unknown` instead of a guess.
pub fn evaluate(kind: Kind, policies: &[Named], request: &Request) -> Decision {
    let mut deny_unknown = Vec::new();
    let mut allow_unknown = Vec::new();
    let mut allow_by = None;
    for p in policies {
        for (i, st) in statements(p.document).iter().enumerate() {
            let effect = field(st, "Effect").and_then(Value::as_str);
            let label = statement_label(p.name, st, i);
            let m = statement_matches(kind, st, request);
            match (effect, m) {
                (Some("Deny"), Match::Yes) => return Decision::ExplicitDeny { by: label },
                (Some("Deny"), Match::Unknown(c)) => deny_unknown.extend(c),
                (Some("Allow"), Match::Yes) => {
                    allow_by.get_or_insert(label);
                }
                (Some("Allow"), Match::Unknown(c)) => allow_unknown.extend(c),
                _ => {}
            }
        }
    }
    match allow_by {
        Some(by) if deny_unknown.is_empty() => Decision::Allowed { by },
        Some(_) => Decision::Unknown {
            conditions: deny_unknown,
        },
        None if allow_unknown.is_empty() => Decision::NotAllowed,
        None => Decision::Unknown {
            conditions: allow_unknown,
        },
    }
}

/// What the caller's own half of the handshake says about one request (DOMAIN.md §1 step 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityVerdict {
    /// An identity policy allows it, the boundary (if any) too, and no Deny applies.
    Allowed { by: String },
    /// No identity policy allows it: the caller half is missing.
    Missing,
    /// A Deny in an identity policy or the boundary.
    Denied { by: String },
    /// The permissions boundary allows nothing that covers it.
    BoundaryBlocks { boundary: String },
    /// Undecidable from here: conditions on keys the record does not carry.
    Unknown { conditions: Vec<String> },
}

/// Evaluates identity policies under an optional permissions boundary: an explicit Deny in
/// either wins, the boundary must allow, and an identity policy must allow.
pub fn evaluate_identity(
    policies: &[Named],
    boundary: Option<Named>,
    request: &Request,
) -> IdentityVerdict {
    let mut all: Vec<Named> = policies.to_vec();
    all.extend(boundary);
    // Denies of both kinds first: a Deny in the boundary denies as one in a policy does.
    if let Decision::ExplicitDeny { by } = evaluate(Kind::Identity, &all, request) {
        return IdentityVerdict::Denied { by };
    }
    let mut unknown = Vec::new();
    if let Some(b) = boundary {
        match evaluate(Kind::Identity, &[b], request) {
            Decision::Allowed { .. } => {}
            Decision::Unknown { conditions } => unknown.extend(conditions),
            Decision::NotAllowed | Decision::ExplicitDeny { .. } => {
                return IdentityVerdict::BoundaryBlocks {
                    boundary: b.name.to_string(),
                }
            }
        }
    }
    match evaluate(Kind::Identity, policies, request) {
        Decision::Allowed { by } if unknown.is_empty() => IdentityVerdict::Allowed { by },
        Decision::Allowed { .. } => IdentityVerdict::Unknown {
            conditions: unknown,
        },
        Decision::ExplicitDeny { by } => IdentityVerdict::Denied { by },
        Decision::NotAllowed => IdentityVerdict::Missing,
        Decision::Unknown { conditions } => {
            unknown.extend(conditions);
            IdentityVerdict::Unknown {
                conditions: unknown,
            }
        }
    }
}

fn statement_label(policy: &str, st: &Value, index: usize) -> String {
    match field(st, "Sid")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        Some(sid) => format!("{policy} statement '{sid}'"),
        None => format!("{policy} statement #{index}"),
    }
}

fn statements(policy: &Value) -> Vec<Value> {
    let doc = match policy {
        // A policy handed over as a JSON string (get-bucket-policy output shape).
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
        Value::Object(o) if o.contains_key("Policy") && !o.contains_key("Statement") => o
            .get("Policy")
            .and_then(Value::as_str)
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or(Value::Null),
        other => other.clone(),
    };
    match field(&doc, "Statement") {
        Some(Value::Array(items)) => items.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    }
}

/// IAM element names are case-insensitive.
fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let o = v.as_object()?;
    o.get(key).or_else(|| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        Value::Bool(b) => vec![b.to_string()],
        Value::Number(n) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

fn statement_matches(kind: Kind, st: &Value, r: &Request) -> Match {
    let principal = match (kind, field(st, "Principal"), field(st, "NotPrincipal")) {
        // An identity policy applies to the identity it is attached to; IAM rejects one that
        // names a principal, so such a statement is not one that can be in force.
        (Kind::Identity, None, None) => true,
        (Kind::Identity, _, _) => false,
        (Kind::Resource, Some(p), None) => principal_matches(p, &r.who),
        (Kind::Resource, None, Some(np)) => !principal_matches(np, &r.who),
        (Kind::Resource, _, _) => false,
    };
    let action = element(st, "Action", |p| wildcard(p, &r.action, true));
    let resource = element(st, "Resource", |p| wildcard(p, &r.resource, false));
    if !(principal && action && resource) {
        return Match::No;
    }
    conditions_match(field(st, "Condition"), r)
}

/// `Action` / `NotAction` (or `Resource` / `NotResource`): exactly one of the pair.
fn element(st: &Value, name: &str, hit: impl Fn(&str) -> bool) -> bool {
    let not = format!("Not{name}");
    match (field(st, name), field(st, &not)) {
        (Some(v), None) => strings(v).iter().any(|p| hit(p)),
        (None, Some(v)) => !strings(v).iter().any(|p| hit(p)),
        _ => false,
    }
}

/// Whether `arn` is the root of `account` in any partition (`arn:<p>:iam::<account>:root`).
fn is_root_of(arn: &str, account: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", _, "iam", "", a, "root"] if *a == account)
}

fn principal_matches(p: &Value, who: &Who) -> bool {
    match p {
        Value::String(s) => s == "*",
        Value::Object(map) => map.iter().any(|(kind, v)| {
            strings(v).iter().any(|id| match (kind.as_str(), who) {
                ("AWS", _) if id == "*" => true,
                ("AWS", Who::Aws { account, arn }) => {
                    id == account || is_root_of(id, account) || id == arn
                }
                ("Service", Who::Service(s)) => id == s,
                ("CanonicalUser", Who::Canonical(c)) => id == c,
                _ => false,
            })
        }),
        _ => false,
    }
}

/// How one condition of a statement answers.
enum Cond {
    Yes,
    No,
    Unknown,
}

fn conditions_match(block: Option<&Value>, r: &Request) -> Match {
    let Some(block) = block else {
        return Match::Yes;
    };
    let Some(ops) = block.as_object() else {
        // Malformed: scope unknown, so it matches (see the module doc).
        return if r.open {
            Match::Unknown(vec![format!("a Condition that cannot be read: {block}")])
        } else {
            Match::Yes
        };
    };
    let mut unknown = Vec::new();
    for (op, keys) in ops {
        let Some(keys) = keys.as_object() else {
            if r.open {
                unknown.push(format!("{op}: {keys}"));
            }
            continue;
        };
        for (key, values) in keys {
            let present = r
                .context
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str());
            let answer = match (present, r.open) {
                // Open context: the key may well be in the real request.
                (None, true) => Cond::Unknown,
                _ => operator_matches(op, present, &strings(values), r.open),
            };
            match answer {
                Cond::Yes => {}
                Cond::No => return Match::No,
                Cond::Unknown => unknown.push(format!("{op} {key} {values}")),
            }
        }
    }
    if unknown.is_empty() {
        Match::Yes
    } else {
        Match::Unknown(unknown)
    }
}

fn operator_matches(op: &str, present: Option<&str>, values: &[String], open: bool) -> Cond {
    // Over a request's single value, ForAnyValue / ForAllValues read as the plain operator.
    let op = op.split_once(':').map_or(op, |(_, rest)| rest);
    let (base, if_exists) = match op.strip_suffix("IfExists") {
        Some(b) => (b, true),
        None => (op, false),
    };
    let negated = matches!(
        base,
        "StringNotEquals"
            | "StringNotLike"
            | "StringNotEqualsIgnoreCase"
            | "ArnNotEquals"
            | "ArnNotLike"
    );
    let Some(v) = present else {
        return if if_exists || negated {
            Cond::Yes
        } else {
            Cond::No
        };
    };
    let any = |f: &dyn Fn(&str) -> bool| values.iter().any(|x| f(x));
    let yes = match base {
        "Bool" => any(&|x| x.eq_ignore_ascii_case(v)),
        "StringEquals" | "ArnEquals" => any(&|x| x == v),
        "StringEqualsIgnoreCase" => any(&|x| x.eq_ignore_ascii_case(v)),
        "StringLike" | "ArnLike" => any(&|x| wildcard(x, v, false)),
        "StringNotEquals" | "ArnNotEquals" => !any(&|x| x == v),
        "StringNotEqualsIgnoreCase" => !any(&|x| x.eq_ignore_ascii_case(v)),
        "StringNotLike" | "ArnNotLike" => !any(&|x| wildcard(x, v, false)),
        "NumericLessThan" => num(v).is_some_and(|n| any(&|x| num(x).is_some_and(|x| n < x))),
        "NumericGreaterThanEquals" => {
            num(v).is_some_and(|n| any(&|x| num(x).is_some_and(|x| n >= x)))
        }
        _ if open => return Cond::Unknown,
        _ => true,
    };
    if yes {
        Cond::Yes
    } else {
        Cond::No
    }
}

fn num(s: &str) -> Option<f64> {
    s.trim().parse().ok()
}

/// `*` and `?` glob.
fn wildcard(pattern: &str, text: &str, case_insensitive: bool) -> bool {
    let (p, t) = if case_insensitive {
        (pattern.to_ascii_lowercase(), text.to_ascii_lowercase())
    } else {
        (pattern.to_string(), text.to_string())
    };
    let (p, t): (Vec<char>, Vec<char>) = (p.chars().collect(), t.chars().collect());
    // Classic two-pointer glob with backtracking to the last star.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < t.len() {
        if i < p.len() && (p[i] == '?' || p[i] == t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests;
