//! Test oracle for "never widen access": a small, independent evaluator of resource policies
//! over a finite universe of concrete requests (principal, action, resource, request context).
//! It reads the raw JSON, not the core's parsed model, so a bug in the parser cannot hide a
//! widening from it. `allowed` is the set of requests some Allow matches and no Deny matches;
//! the patch properties compare these sets before and after a patch.
//!
//! IAM semantics kept: wildcards in actions (case-insensitive) and resources, `NotPrincipal`,
//! `NotAction`, `NotResource`, a missing condition key failing every operator but the negated
//! and `…IfExists` ones. An operator the model does not know makes its statement match (for a
//! Deny: it denies more before the patch, so removing it must be covered by what replaces it).

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
}

/// Every combination of the given dimensions; `contexts` are extra keys, to which
/// `aws:PrincipalAccount` / `kms:CallerAccount` of IAM principals are added.
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
                    });
                }
            }
        }
    }
    out
}

/// The requests of `universe` that `policy` allows.
pub fn allowed(policy: &Value, universe: &[Request]) -> BTreeSet<Request> {
    let statements = statements(policy);
    universe
        .iter()
        .filter(|r| {
            let matching = |effect: &str| {
                statements.iter().any(|s| {
                    field(s, "Effect").and_then(Value::as_str) == Some(effect) && matches(s, r)
                })
            };
            matching("Allow") && !matching("Deny")
        })
        .cloned()
        .collect()
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

fn matches(st: &Value, r: &Request) -> bool {
    let principal = match (field(st, "Principal"), field(st, "NotPrincipal")) {
        (Some(p), None) => principal_matches(p, &r.who),
        (None, Some(np)) => !principal_matches(np, &r.who),
        _ => false,
    };
    let action = element(st, "Action", |p| wildcard(p, &r.action, true));
    let resource = element(st, "Resource", |p| wildcard(p, &r.resource, false));
    principal && action && resource && conditions_match(field(st, "Condition"), r)
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

fn principal_matches(p: &Value, who: &Who) -> bool {
    match p {
        Value::String(s) => s == "*",
        Value::Object(map) => map.iter().any(|(kind, v)| {
            strings(v).iter().any(|id| match (kind.as_str(), who) {
                ("AWS", _) if id == "*" => true,
                ("AWS", Who::Aws { account, arn }) => {
                    id == account || *id == format!("arn:aws:iam::{account}:root") || id == arn
                }
                ("Service", Who::Service(s)) => id == s,
                ("CanonicalUser", Who::Canonical(c)) => id == c,
                _ => false,
            })
        }),
        _ => false,
    }
}

fn conditions_match(block: Option<&Value>, r: &Request) -> bool {
    let Some(block) = block else {
        return true;
    };
    let Some(ops) = block.as_object() else {
        // Malformed: scope unknown, so it matches (see the module doc).
        return true;
    };
    ops.iter().all(|(op, keys)| {
        let Some(keys) = keys.as_object() else {
            return true;
        };
        keys.iter().all(|(key, values)| {
            let present = r
                .context
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str());
            operator_matches(op, present, &strings(values))
        })
    })
}

fn operator_matches(op: &str, present: Option<&str>, values: &[String]) -> bool {
    let (base, if_exists) = match op.strip_suffix("IfExists") {
        Some(b) => (b, true),
        None => (op, false),
    };
    let negated = matches!(
        base,
        "StringNotEquals" | "StringNotLike" | "StringNotEqualsIgnoreCase" | "ArnNotEquals"
    );
    let Some(v) = present else {
        return if_exists || negated;
    };
    let any = |f: &dyn Fn(&str) -> bool| values.iter().any(|x| f(x));
    match base {
        "Bool" => any(&|x| x.eq_ignore_ascii_case(v)),
        "StringEquals" | "ArnEquals" => any(&|x| x == v),
        "StringEqualsIgnoreCase" => any(&|x| x.eq_ignore_ascii_case(v)),
        "StringLike" | "ArnLike" => any(&|x| wildcard(x, v, false)),
        "StringNotEquals" | "ArnNotEquals" => !any(&|x| x == v),
        "StringNotEqualsIgnoreCase" => !any(&|x| x.eq_ignore_ascii_case(v)),
        "StringNotLike" => !any(&|x| wildcard(x, v, false)),
        "NumericLessThan" => num(v).is_some_and(|n| any(&|x| num(x).is_some_and(|x| n < x))),
        "NumericGreaterThanEquals" => {
            num(v).is_some_and(|n| any(&|x| num(x).is_some_and(|x| n >= x)))
        }
        _ => true,
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
mod tests {
    use super::*;
    use serde_json::json;

    fn req(who: Who, action: &str, secure: &str) -> Vec<Request> {
        universe(
            &[who],
            &[action],
            &["arn:aws:s3:::b/k"],
            &[vec![("aws:SecureTransport", secure)]],
        )
    }

    /// The oracle itself: each IAM rule it models, as a named row.
    #[test]
    fn oracle_rows() {
        let other = Who::aws("444455556666", "role/r");
        let allow_other = json!({"Effect": "Allow", "Principal": {"AWS": "444455556666"},
            "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/*"});
        let tls_deny = json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": "arn:aws:s3:::b/*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}});
        let rows: &[(&str, Value, Vec<Request>, bool)] = &[
            (
                "account principal covers its roles",
                json!({"Statement": [allow_other]}),
                req(other.clone(), "s3:GetObject", "true"),
                true,
            ),
            (
                "action wildcard is case-insensitive",
                json!({"Statement": [allow_other]}),
                req(other.clone(), "S3:GETOBJECT", "true"),
                true,
            ),
            (
                "other action",
                json!({"Statement": [allow_other]}),
                req(other.clone(), "s3:PutObject", "true"),
                false,
            ),
            (
                "other account",
                json!({"Statement": [allow_other]}),
                req(Who::aws("222233334444", "root"), "s3:GetObject", "true"),
                false,
            ),
            (
                "TLS deny on plain HTTP",
                json!({"Statement": [allow_other, tls_deny]}),
                req(other.clone(), "s3:GetObject", "false"),
                false,
            ),
            (
                "TLS deny not on HTTPS",
                json!({"Statement": [allow_other, tls_deny]}),
                req(other.clone(), "s3:GetObject", "true"),
                true,
            ),
            (
                "NotPrincipal allow",
                json!({"Statement": {"Effect": "Allow", "NotPrincipal": {"AWS": "111122223333"}, "Action": "*", "Resource": "*"}}),
                req(Who::Anonymous, "s3:GetObject", "true"),
                true,
            ),
            (
                "NotAction allow",
                json!({"Statement": {"Effect": "Allow", "Principal": "*", "NotAction": "s3:Get*", "Resource": "*"}}),
                req(Who::Anonymous, "s3:GetObject", "true"),
                false,
            ),
            (
                "missing key fails StringEquals",
                json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}}}),
                req(Who::Anonymous, "s3:GetObject", "true"),
                false,
            ),
            (
                "missing key passes IfExists",
                json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1"}}}}),
                req(Who::Anonymous, "s3:GetObject", "true"),
                true,
            ),
            (
                "policy as a string",
                Value::String(json!({"Statement": [allow_other]}).to_string()),
                req(other.clone(), "s3:GetObject", "true"),
                true,
            ),
            (
                "no statement allows nothing",
                json!({"Version": "2012-10-17"}),
                req(other, "s3:GetObject", "true"),
                false,
            ),
        ];
        for (name, policy, u, want) in rows {
            assert_eq!(allowed(policy, u).len() == 1, *want, "{name}");
        }
    }
}
