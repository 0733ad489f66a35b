//! The IAM policy document model shared by bucket and key policy analysis: statements with
//! their effect, principals, actions, resources and conditions, parsed leniently from any of
//! the shapes AWS and people produce (string or list, single statement object, odd key case).
//! Nothing here judges a policy; `sharing`, `secure_transport` and `key_policy` do.

use std::borrow::Cow;

use serde_json::Value;

use crate::core::json::{embedded_document, get_ci, get_ci_present, string_list};

/// A parsed policy document. `raw` is the document exactly as read, for patching.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub raw: Value,
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy is not valid JSON: {0}")]
    NotJson(String),
    #[error("policy is not a JSON object (found {0})")]
    NotAnObject(&'static str),
    #[error("policy 'Statement' is neither an object nor a list")]
    BadStatement,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
    /// Missing or misspelt: IAM rejects it, so it neither grants nor denies.
    Other(String),
}

/// One principal entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// `"*"`, `{"AWS": "*"}`
    Wildcard,
    /// An `AWS` principal as written: account id, ARN, or unique id.
    Aws(String),
    Service(String),
    CanonicalUser(String),
    Federated(String),
    /// Any other principal type, kept with its type name.
    Other(String, String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalSpec {
    Principal(Vec<Principal>),
    NotPrincipal(Vec<Principal>),
    /// No principal element (identity policies; invalid in a resource policy).
    Missing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListSpec {
    Listed(Vec<String>),
    Not(Vec<String>),
    Missing,
}

/// How a condition combines several request values (`ForAnyValue:` / `ForAllValues:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOp {
    ForAnyValue,
    ForAllValues,
}

/// One `operator → key → values` triple of a `Condition` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The operator as written, e.g. `ForAnyValue:StringLikeIfExists`.
    pub operator: String,
    /// Lower-cased operator without set prefix and `IfExists`, e.g. `stringlike`.
    pub base: String,
    pub if_exists: bool,
    pub set_op: Option<SetOp>,
    /// Lower-cased condition key, e.g. `aws:securetransport`.
    pub key: String,
    /// The key as written, for messages.
    pub key_as_written: String,
    /// Values rendered as strings (`true`, `"false"`, `["x"]` → `["x"]`).
    pub values: Vec<String>,
    /// The values exactly as written.
    pub raw_values: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// Position in the document (0-based).
    pub index: usize,
    pub sid: Option<String>,
    pub effect: Effect,
    pub principal: PrincipalSpec,
    pub action: ListSpec,
    pub resource: ListSpec,
    pub conditions: Vec<Condition>,
    /// A `Condition` element that is present but not an object of objects: the statement's
    /// scope is unknown, so judges must fail closed.
    pub malformed_condition: bool,
}

impl Statement {
    /// `Sid` when present, else `#index` — how findings name a statement.
    pub fn label(&self) -> String {
        match &self.sid {
            Some(sid) if !sid.is_empty() => format!("'{sid}'"),
            _ => format!("#{}", self.index),
        }
    }

    /// `Sid` when present, else `#index`, unquoted — for JSON fields scripts compare.
    pub fn id(&self) -> String {
        match &self.sid {
            Some(sid) if !sid.is_empty() => sid.clone(),
            _ => format!("#{}", self.index),
        }
    }

    pub fn is_allow(&self) -> bool {
        self.effect == Effect::Allow
    }

    pub fn is_deny(&self) -> bool {
        self.effect == Effect::Deny
    }
}

impl Policy {
    /// Parses a policy from JSON text (also accepts a JSON string holding the document and
    /// `get-bucket-policy` / `get-key-policy` output `{"Policy": "..."}`).
    pub fn parse_text(text: &str) -> Result<Policy, PolicyError> {
        let v: Value =
            serde_json::from_str(text.trim()).map_err(|e| PolicyError::NotJson(e.to_string()))?;
        Policy::parse_any(&v)
    }

    /// Like [`Policy::parse_text`] for an already-parsed value. The document is copied once
    /// (into `raw`), or not at all when it had to be decoded from text.
    pub fn parse_any(v: &Value) -> Result<Policy, PolicyError> {
        Policy::parse_owned(unwrap_document_ref(v)?.into_owned())
    }

    /// Parses a policy document object.
    pub fn parse(doc: &Value) -> Result<Policy, PolicyError> {
        if !doc.is_object() {
            return Err(PolicyError::NotAnObject(type_name(doc)));
        }
        Policy::parse_owned(doc.clone())
    }

    /// Parses a policy document object it takes over as `raw`.
    pub fn parse_owned(doc: Value) -> Result<Policy, PolicyError> {
        let statements = parse_statements(&doc)?;
        Ok(Policy {
            raw: doc,
            statements,
        })
    }

    /// Statement `index` exactly as written in `raw` (statements keep no copy of their own).
    pub fn statement_raw(&self, index: usize) -> Option<&Value> {
        match get_ci_present(&self.raw, "Statement")? {
            Value::Array(items) => items.get(index),
            obj @ Value::Object(_) if index == 0 => Some(obj),
            _ => None,
        }
    }
}

/// The statements of a policy document object, without taking a copy of the document (a
/// patch that only reads it needs none).
pub fn parse_statements(doc: &Value) -> Result<Vec<Statement>, PolicyError> {
    if !doc.is_object() {
        return Err(PolicyError::NotAnObject(type_name(doc)));
    }
    Ok(match get_ci_present(doc, "Statement") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, s)| parse_statement(i, s))
            .collect(),
        Some(obj @ Value::Object(_)) => vec![parse_statement(0, obj)],
        Some(_) => return Err(PolicyError::BadStatement),
    })
}

/// Finds the policy document inside the shapes people hand us: the document itself, a JSON
/// string of it, or `{"Policy": "<json>"}`.
pub fn unwrap_document(v: &Value) -> Result<Value, PolicyError> {
    unwrap_document_ref(v).map(Cow::into_owned)
}

/// [`unwrap_document`], borrowing the document when it is already JSON in `v`.
pub fn unwrap_document_ref(v: &Value) -> Result<Cow<'_, Value>, PolicyError> {
    let doc =
        match v {
            Value::String(_) => Cow::Owned(embedded_document(v).ok_or_else(|| {
                PolicyError::NotJson("string does not hold a JSON document".into())
            })?),
            _ => Cow::Borrowed(v),
        };
    if let Some(inner) = get_ci_present(&doc, "Policy") {
        if get_ci(&doc, "Statement").is_none() {
            return embedded_document(inner).map(Cow::Owned).ok_or_else(|| {
                PolicyError::NotJson("'Policy' does not hold a JSON document".into())
            });
        }
    }
    match doc.as_ref() {
        Value::Object(_) => Ok(doc),
        other => Err(PolicyError::NotAnObject(type_name(other))),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn parse_statement(index: usize, raw: &Value) -> Statement {
    let sid = get_ci_present(raw, "Sid").map(|s| match s {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let effect = match get_ci_present(raw, "Effect").and_then(Value::as_str) {
        Some(e) if e.eq_ignore_ascii_case("allow") => Effect::Allow,
        Some(e) if e.eq_ignore_ascii_case("deny") => Effect::Deny,
        Some(e) => Effect::Other(e.to_string()),
        None => Effect::Other(String::new()),
    };
    let principal = if let Some(p) = get_ci_present(raw, "Principal") {
        PrincipalSpec::Principal(parse_principals(p))
    } else if let Some(p) = get_ci_present(raw, "NotPrincipal") {
        PrincipalSpec::NotPrincipal(parse_principals(p))
    } else {
        PrincipalSpec::Missing
    };
    let (conditions, malformed_condition) = match get_ci_present(raw, "Condition") {
        None => (Vec::new(), false),
        Some(c) => parse_conditions(c),
    };
    Statement {
        index,
        sid,
        effect,
        principal,
        action: list_spec(raw, "Action", "NotAction"),
        resource: list_spec(raw, "Resource", "NotResource"),
        conditions,
        malformed_condition,
    }
}

fn list_spec(raw: &Value, key: &str, not_key: &str) -> ListSpec {
    if let Some(v) = get_ci_present(raw, key) {
        ListSpec::Listed(string_list(v))
    } else if let Some(v) = get_ci_present(raw, not_key) {
        ListSpec::Not(string_list(v))
    } else {
        ListSpec::Missing
    }
}

fn parse_principals(v: &Value) -> Vec<Principal> {
    match v {
        Value::String(s) if s.trim() == "*" => vec![Principal::Wildcard],
        Value::String(s) => vec![aws_principal(s)],
        Value::Array(items) => items.iter().flat_map(parse_principals).collect(),
        Value::Object(map) => map
            .iter()
            .flat_map(|(kind, vals)| {
                let kind_lc = kind.to_ascii_lowercase();
                string_list(vals).into_iter().map(move |s| {
                    let s = s.trim().to_string();
                    match kind_lc.as_str() {
                        "aws" => aws_principal(&s),
                        "service" => Principal::Service(s),
                        "canonicaluser" => Principal::CanonicalUser(s),
                        "federated" => Principal::Federated(s),
                        _ => Principal::Other(kind.clone(), s),
                    }
                })
            })
            .collect(),
        other => vec![Principal::Other(String::new(), other.to_string())],
    }
}

fn aws_principal(s: &str) -> Principal {
    let s = s.trim();
    if s == "*" {
        Principal::Wildcard
    } else {
        Principal::Aws(s.to_string())
    }
}

fn parse_conditions(v: &Value) -> (Vec<Condition>, bool) {
    let Some(ops) = v.as_object() else {
        return (Vec::new(), true);
    };
    let mut out = Vec::new();
    let mut malformed = false;
    for (operator, block) in ops {
        let Some(block) = block.as_object() else {
            malformed = true;
            continue;
        };
        let (set_op, rest) = split_set_op(operator);
        let lower = rest.to_ascii_lowercase();
        let (base, if_exists) = match lower.strip_suffix("ifexists") {
            Some(b) => (b.to_string(), true),
            None => (lower, false),
        };
        for (key, values) in block {
            out.push(Condition {
                operator: operator.clone(),
                base: base.clone(),
                if_exists,
                set_op,
                key: key.trim().to_ascii_lowercase(),
                key_as_written: key.clone(),
                values: string_list(values),
                raw_values: values.clone(),
            });
        }
    }
    (out, malformed)
}

fn split_set_op(operator: &str) -> (Option<SetOp>, &str) {
    let op = operator.trim();
    if let Some((prefix, rest)) = op.split_once(':') {
        if prefix.eq_ignore_ascii_case("foranyvalue") {
            return (Some(SetOp::ForAnyValue), rest);
        }
        if prefix.eq_ignore_ascii_case("forallvalues") {
            return (Some(SetOp::ForAllValues), rest);
        }
    }
    (None, op)
}

/// IAM wildcard match (`*` any run, `?` one character), ASCII case-insensitive when asked.
/// Used for actions (case-insensitive) and resources / ARNs (case-sensitive). Called for every
/// action and resource of every statement, so it allocates nothing: ASCII inputs (nearly all)
/// are matched byte by byte, anything else character by character.
pub fn wildcard_match(pattern: &str, text: &str, case_insensitive: bool) -> bool {
    if pattern.is_ascii() && text.is_ascii() {
        let eq = |a: u8, b: u8| a == b || (case_insensitive && a.eq_ignore_ascii_case(&b));
        glob(pattern.as_bytes(), text.as_bytes(), b'*', b'?', eq)
    } else {
        // `to_ascii_lowercase` on both sides, as before: non-ASCII letters compare exactly.
        let p: Vec<char> = pattern.chars().collect();
        let t: Vec<char> = text.chars().collect();
        let eq = |a: char, b: char| a == b || (case_insensitive && a.eq_ignore_ascii_case(&b));
        glob(&p, &t, '*', '?', eq)
    }
}

/// Iterative glob with backtracking to the last star: linear in practice, no recursion.
fn glob<T: Copy + PartialEq>(p: &[T], t: &[T], star: T, one: T, eq: impl Fn(T, T) -> bool) -> bool {
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut last_star: Option<(usize, usize)> = None;
    while ti < t.len() {
        // As before the rewrite: a literal match is tried first, even for a `*` in the text.
        if pi < p.len() && (p[pi] == one || eq(p[pi], t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == star {
            last_star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = last_star {
            pi = sp + 1;
            ti = st + 1;
            last_star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == star)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_every_document_wrapper() {
        let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}]});
        let as_string = Value::String(doc.to_string());
        let wrapped = json!({"Policy": doc.to_string()});
        for v in [&doc, &as_string, &wrapped] {
            let p = Policy::parse_any(v).unwrap();
            assert_eq!(p.statements.len(), 1);
            assert_eq!(p.raw, doc);
        }
        assert!(matches!(
            Policy::parse_any(&json!([1])),
            Err(PolicyError::NotAnObject(_))
        ));
        assert!(matches!(
            Policy::parse_text("{"),
            Err(PolicyError::NotJson(_))
        ));
        assert!(matches!(
            Policy::parse_any(&json!({"Statement": 3})),
            Err(PolicyError::BadStatement)
        ));
    }

    #[test]
    fn single_statement_object_and_odd_case() {
        let p = Policy::parse(&json!({"statement": {"effect": "deny", "principal": {"aws": ["*", "111122223333"]}, "notaction": "s3:Get*"}})).unwrap();
        let s = &p.statements[0];
        assert!(s.is_deny());
        assert_eq!(
            s.principal,
            PrincipalSpec::Principal(vec![
                Principal::Wildcard,
                Principal::Aws("111122223333".into())
            ])
        );
        assert_eq!(s.action, ListSpec::Not(vec!["s3:Get*".into()]));
        assert_eq!(s.resource, ListSpec::Missing);
    }

    #[test]
    fn conditions_are_split_into_operator_parts() {
        let p = Policy::parse(&json!({"Statement": [{"Effect": "Deny", "Condition": {
            "ForAnyValue:StringLikeIfExists": {"aws:PrincipalOrgPaths": ["o-1/*"]},
            "Bool": {"aws:SecureTransport": false}}}]}))
        .unwrap();
        let c = &p.statements[0].conditions;
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].base, "stringlike");
        assert!(c[0].if_exists);
        assert_eq!(c[0].set_op, Some(SetOp::ForAnyValue));
        assert_eq!(c[1].key, "aws:securetransport");
        assert_eq!(c[1].values, vec!["false"]);
        let bad =
            Policy::parse(&json!({"Statement": [{"Effect": "Allow", "Condition": "x"}]})).unwrap();
        assert!(bad.statements[0].malformed_condition);
    }

    /// The matcher before it stopped allocating: the oracle for the property below.
    fn wildcard_match_allocating(pattern: &str, text: &str, case_insensitive: bool) -> bool {
        let norm = |s: &str| -> Vec<char> {
            if case_insensitive {
                s.to_ascii_lowercase().chars().collect()
            } else {
                s.chars().collect()
            }
        };
        let p = norm(pattern);
        let t = norm(text);
        let (mut pi, mut ti) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while ti < t.len() {
            if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
                pi += 1;
                ti += 1;
            } else if pi < p.len() && p[pi] == '*' {
                star = Some((pi, ti));
                pi += 1;
            } else if let Some((sp, st)) = star {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            } else {
                return false;
            }
        }
        p[pi..].iter().all(|&c| c == '*')
    }

    proptest::proptest! {
        #[test]
        fn wildcard_match_agrees_with_the_allocating_matcher(
            pattern in "[aAbB*?:/é]{0,10}",
            text in "[aAbB*?:/é]{0,12}",
            ci in proptest::bool::ANY,
        ) {
            proptest::prop_assert_eq!(
                wildcard_match(&pattern, &text, ci),
                wildcard_match_allocating(&pattern, &text, ci)
            );
        }
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("s3:*", "S3:GetObject", true));
        assert!(wildcard_match(
            "arn:aws:s3:::b*",
            "arn:aws:s3:::bucket/x",
            false
        ));
        assert!(!wildcard_match("arn:aws:s3:::b", "arn:aws:s3:::b/*", false));
        assert!(wildcard_match("a?c*", "abcdef", false));
        assert!(wildcard_match("*", "", false));
        assert!(!wildcard_match("a*b*c", "aXbY", false));
    }
}
