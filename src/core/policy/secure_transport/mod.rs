//! "TLS enforced" (DOMAIN.md §5): does one Deny statement refuse every plain-HTTP request to
//! the bucket and its objects? Judged on structure, never by string matching; a near miss is
//! `partial` with every gap listed.

use serde::{Deserialize, Serialize};

use serde_json::Value;

use crate::core::arn::bucket_arn;

use super::model::{
    wildcard_match, Condition, ListSpec, Policy, Principal, PrincipalSpec, Statement,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsStatus {
    Enforced,
    Partial,
    NotEnforced,
}

/// Field names are a public interface (check-policy JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsReport {
    pub status: TlsStatus,
    /// The enforcing statement, or the closest partial one: its Sid or `#index`.
    pub statement: Option<String>,
    /// For `partial`: what the closest Deny misses, one plain sentence each.
    /// For `not_enforced`: why (no policy, no Deny on aws:SecureTransport, …).
    pub gaps: Vec<String>,
}

/// Judges `policy` (None = the bucket has no policy) for bucket `bucket` in `partition`.
pub fn evaluate_tls(policy: Option<&Policy>, bucket: &str, partition: &str) -> TlsReport {
    evaluate_tls_statements(policy.map(|p| p.statements.as_slice()), bucket, partition)
}

/// [`evaluate_tls`] on a policy's statements (None = no policy): the judge needs nothing else.
pub fn evaluate_tls_statements(
    policy: Option<&[Statement]>,
    bucket: &str,
    partition: &str,
) -> TlsReport {
    let Some(statements) = policy else {
        return TlsReport {
            status: TlsStatus::NotEnforced,
            statement: None,
            gaps: vec!["bucket has no policy".to_string()],
        };
    };
    let target = Target {
        bucket: bucket_arn(partition, bucket),
        objects: format!("{}/", bucket_arn(partition, bucket)),
    };
    // The closest candidate: fewest gaps, first in document order on a tie.
    let mut best: Option<(&Statement, Vec<String>)> = None;
    for st in statements.iter().filter(|s| s.is_deny()) {
        let gaps = statement_gaps(st, &target);
        if gaps.is_empty() {
            return TlsReport {
                status: TlsStatus::Enforced,
                statement: Some(st.id()),
                gaps: Vec::new(),
            };
        }
        if !mentions_secure_transport(st) {
            continue;
        }
        match &best {
            Some((_, closest)) if closest.len() <= gaps.len() => {}
            _ => best = Some((st, gaps)),
        }
    }
    if let Some((st, gaps)) = best {
        return TlsReport {
            status: TlsStatus::Partial,
            statement: Some(st.id()),
            gaps,
        };
    }
    TlsReport {
        status: TlsStatus::NotEnforced,
        statement: None,
        gaps: not_enforced_gaps(statements),
    }
}

/// What a TLS Deny must cover: `arn:P:s3:::B` and every `arn:P:s3:::B/<key>`.
struct Target {
    bucket: String,
    /// `arn:P:s3:::B/`: every object ARN is this plus a non-empty key.
    objects: String,
}

fn mentions_secure_transport(st: &Statement) -> bool {
    st.conditions.iter().any(|c| c.key == "aws:securetransport")
}

/// Every way `st` (a Deny) falls short of refusing all plain-HTTP requests to the bucket and
/// its objects, one sentence each. Empty means it enforces TLS.
fn statement_gaps(st: &Statement, target: &Target) -> Vec<String> {
    let mut gaps = Vec::new();
    match &st.principal {
        PrincipalSpec::Principal(ps) if ps.contains(&Principal::Wildcard) => {}
        PrincipalSpec::Principal(ps) => gaps.push(format!(
            "Principal names only {}, not \"*\", so other principals can still use plain HTTP",
            ps.iter()
                .map(describe_principal)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        PrincipalSpec::NotPrincipal(_) => gaps.push(
            "it uses NotPrincipal, so the principals it exempts can still use plain HTTP"
                .to_string(),
        ),
        PrincipalSpec::Missing => gaps.push("it has no Principal element".to_string()),
    }
    match &st.action {
        ListSpec::Listed(actions) if actions.iter().any(|a| is_all_s3_actions(a)) => {}
        ListSpec::Listed(actions) => gaps.push(format!(
            "Action is {} rather than \"s3:*\", so other S3 actions can still use plain HTTP",
            quoted_list(actions)
        )),
        ListSpec::Not(_) => gaps.push(
            "it uses NotAction, so the actions it exempts can still use plain HTTP".to_string(),
        ),
        ListSpec::Missing => gaps.push("it has no Action element".to_string()),
    }
    match &st.resource {
        ListSpec::Listed(resources) => {
            let bucket = resources.iter().any(|r| covers_bucket(r, target));
            let objects = resources.iter().any(|r| covers_objects(r, target));
            match (bucket, objects) {
                (true, true) => {}
                (true, false) => gaps.push(format!(
                    "Resource does not cover the objects ({}*), so object requests can still use plain HTTP",
                    target.objects
                )),
                (false, true) => gaps.push(format!(
                    "Resource does not cover the bucket itself ({}), so bucket-level requests can still use plain HTTP",
                    target.bucket
                )),
                (false, false) => gaps.push(format!(
                    "Resource {} covers neither {} nor {}*",
                    quoted_list(resources),
                    target.bucket,
                    target.objects
                )),
            }
        }
        ListSpec::Not(_) => gaps.push(
            "it uses NotResource, so it cannot be shown to cover the bucket and its objects"
                .to_string(),
        ),
        ListSpec::Missing => gaps.push("it has no Resource element".to_string()),
    }
    if st.malformed_condition {
        gaps.push("its Condition element cannot be read".to_string());
    }
    let mut found_tls_test = false;
    for c in &st.conditions {
        // The first well-formed SecureTransport test is the one that counts; any further
        // condition, even a second SecureTransport test, makes the Deny apply less often.
        if !found_tls_test && is_correct_tls_test(c) {
            found_tls_test = true;
            continue;
        }
        gaps.push(condition_gap(c));
    }
    if !found_tls_test && !st.conditions.iter().any(|c| c.key == "aws:securetransport") {
        gaps.push("it has no condition Bool aws:SecureTransport = false".to_string());
    }
    gaps
}

fn describe_principal(p: &Principal) -> String {
    match p {
        Principal::Wildcard => "\"*\"".to_string(),
        Principal::Aws(s) => s.clone(),
        Principal::Service(s) => format!("service {s}"),
        Principal::CanonicalUser(s) => format!("canonical user {s}"),
        Principal::Federated(s) => format!("federated {s}"),
        Principal::Other(k, s) => format!("{k} {s}"),
    }
}

fn quoted_list(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("\"{i}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_all_s3_actions(action: &str) -> bool {
    let a = action.trim();
    a == "*" || a.eq_ignore_ascii_case("s3:*")
}

fn covers_bucket(pattern: &str, target: &Target) -> bool {
    wildcard_match(pattern.trim(), &target.bucket, false)
}

/// True when `pattern` matches every `arn:P:s3:::B/<key>`. Sufficient test: the pattern ends
/// in `*` and what precedes that star matches some prefix of `arn:P:s3:::B/` — then the star
/// absorbs the rest of any key. Patterns that cover every key some other way (`B/*?`) are
/// missed, which only ever reports a gap too many, never enforcement that is not there.
fn covers_objects(pattern: &str, target: &Target) -> bool {
    let Some(head) = pattern.trim().strip_suffix('*') else {
        return false;
    };
    let objects = target.objects.as_str();
    objects
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(objects.len()))
        .any(|end| {
            objects
                .get(..end)
                .is_some_and(|prefix| wildcard_match(head, prefix, false))
        })
}

/// `Bool` / `BoolIfExists` `aws:SecureTransport` = false, as a string in any case, a JSON
/// boolean, or a one-element list of either. `IfExists` is fine: S3 always sets the key.
fn is_correct_tls_test(c: &Condition) -> bool {
    c.key == "aws:securetransport"
        && c.base == "bool"
        && c.set_op.is_none()
        && single_value(&c.raw_values).is_some_and(is_false)
}

fn single_value(v: &Value) -> Option<&Value> {
    match v {
        Value::Array(items) if items.len() == 1 => items.first(),
        Value::Array(_) => None,
        other => Some(other),
    }
}

fn is_false(v: &Value) -> bool {
    match v {
        Value::Bool(b) => !b,
        Value::String(s) => s.trim().eq_ignore_ascii_case("false"),
        _ => false,
    }
}

fn condition_gap(c: &Condition) -> String {
    let cond = format!(
        "{} {} = {}",
        c.operator.trim(),
        c.key_as_written.trim(),
        c.raw_values
    );
    if c.key != "aws:securetransport" {
        return format!(
            "condition {cond} narrows the Deny, so plain-HTTP requests that do not match it are not refused"
        );
    }
    if c.base != "bool" {
        return format!(
            "condition {cond} tests aws:SecureTransport with {} instead of Bool",
            c.operator.trim()
        );
    }
    if c.set_op.is_some() {
        return format!("condition {cond} uses a set operator; use plain Bool");
    }
    match single_value(&c.raw_values) {
        None => format!(
            "condition {cond} lists several values; aws:SecureTransport must be exactly false"
        ),
        Some(v) if is_false(v) => {
            format!("condition {cond} repeats the SecureTransport test; keep one")
        }
        Some(v) if is_true(v) => {
            format!("condition {cond} denies HTTPS requests (true) instead of plain HTTP (false)")
        }
        Some(_) => format!("condition {cond} does not test for false"),
    }
}

fn is_true(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => s.trim().eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Why there is no TLS Deny at all, naming the statements that look like one but are not.
fn not_enforced_gaps(statements: &[Statement]) -> Vec<String> {
    let mut gaps =
        vec!["no Deny statement refuses requests where aws:SecureTransport is false".to_string()];
    for st in statements {
        let label = st.label();
        if st.is_allow() && st.conditions.iter().any(|c| c.key == "aws:securetransport") {
            gaps.push(format!(
                "statement {label} is an Allow conditioned on aws:SecureTransport; an Allow does not stop plain-HTTP requests that another policy allows"
            ));
        }
        if st.is_deny() && st.conditions.iter().any(|c| c.key == "s3:tlsversion") {
            gaps.push(format!(
                "statement {label} denies on s3:TlsVersion, which only sets the minimum TLS version of HTTPS requests; plain HTTP is not refused"
            ));
        }
    }
    gaps
}

#[cfg(test)]
mod tests;
