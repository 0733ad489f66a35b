//! The TLS patch of DOMAIN.md §8 as a pure function: upsert, by Sid, the Deny on
//! `aws:SecureTransport = false`, keeping every other statement and field exactly as it was.

use serde_json::{json, Value};

use crate::core::arn::bucket_arn;

use crate::core::json::get_ci_present;
use crate::core::policy::model::{parse_statements, unwrap_document_ref, Policy, Statement};
use crate::core::policy::secure_transport::{evaluate_tls_statements, TlsStatus};

/// The Sid the guardrail owns in bucket policies.
pub const DEFAULT_TLS_SID: &str = "DenyInsecureTransport";
/// S3's bucket policy size limit.
pub const MAX_BUCKET_POLICY_BYTES: usize = 20 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub enum TlsPatch {
    /// The policy already enforces TLS (under any Sid): nothing to write.
    AlreadyEnforced,
    /// The policy to write. `replaced_in_place` when a statement with our Sid but other
    /// content was replaced at its position.
    Patched {
        policy: Value,
        replaced_in_place: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchRefusal {
    #[error("patched policy would be {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("current policy cannot be read safely: {0}")]
    Unreadable(String),
    #[error("{0}")]
    Unsafe(String),
}

/// The statement the guardrail adds.
pub fn tls_statement(bucket: &str, partition: &str, sid: &str) -> Value {
    let arn = bucket_arn(partition, bucket);
    json!({
        "Sid": sid,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn.clone(), format!("{arn}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}
    })
}

/// Patches `current` (the bucket policy document; None = no policy) for `bucket`.
pub fn patch_tls(
    current: Option<&Value>,
    bucket: &str,
    partition: &str,
    sid: &str,
) -> Result<TlsPatch, PatchRefusal> {
    check_target(bucket, partition)?;
    let unreadable =
        |e: crate::core::policy::model::PolicyError| PatchRefusal::Unreadable(e.to_string());
    match current.filter(|v| !v.is_null()) {
        None => patch(None, bucket, partition, sid),
        Some(v) => {
            // Read in place: the patch copies the document once, when it builds the result.
            let doc = unwrap_document_ref(v).map_err(unreadable)?;
            let statements = parse_statements(&doc).map_err(unreadable)?;
            patch(Some((&doc, &statements)), bucket, partition, sid)
        }
    }
}

/// [`patch_tls`] on a policy the caller has already parsed (`decide` has: parsing it again
/// would be most of the patch's cost on a large policy).
pub fn patch_tls_parsed(
    current: Option<&Policy>,
    bucket: &str,
    partition: &str,
    sid: &str,
) -> Result<TlsPatch, PatchRefusal> {
    check_target(bucket, partition)?;
    patch(
        current.map(|p| (&p.raw, p.statements.as_slice())),
        bucket,
        partition,
        sid,
    )
}

/// The patch on a document and its parsed statements.
fn patch(
    current: Option<(&Value, &[Statement])>,
    bucket: &str,
    partition: &str,
    sid: &str,
) -> Result<TlsPatch, PatchRefusal> {
    let ours = tls_statement(bucket, partition, sid);
    let (result, replaced_in_place) = match current {
        None => (
            json!({"Version": "2012-10-17", "Statement": [ours.clone()]}),
            false,
        ),
        Some((doc, statements)) => {
            if evaluate_statements_tls(statements, bucket, partition) == TlsStatus::Enforced {
                return Ok(TlsPatch::AlreadyEnforced);
            }
            upsert(doc, statements, ours.clone(), sid)?
        }
    };
    let size = serialised_len(&result)
        .map_err(|e| PatchRefusal::Unsafe(format!("patched policy cannot be serialised: {e}")))?;
    if size > MAX_BUCKET_POLICY_BYTES {
        return Err(PatchRefusal::TooLarge {
            size,
            limit: MAX_BUCKET_POLICY_BYTES,
        });
    }
    // Belt and braces: never hand back a write that would not fix what it claims to fix. The
    // result's statements as the parser finds them (same lookup of `Statement`) must hold our
    // statement, and it alone must enforce TLS; the other statements were read above and
    // cannot make an enforcing Deny stop enforcing.
    let holds_ours = match get_ci_present(&result, "Statement") {
        Some(Value::Array(items)) => items.contains(&ours),
        Some(single) => *single == ours,
        None => false,
    };
    let enforces = parse_statements(&json!({ "Statement": [ours] }))
        .map(|st| evaluate_statements_tls(&st, bucket, partition) == TlsStatus::Enforced)
        .unwrap_or(false);
    if !(holds_ours && enforces) {
        return Err(PatchRefusal::Unsafe(
            "the patched policy does not verify as enforcing TLS".to_string(),
        ));
    }
    Ok(TlsPatch::Patched {
        policy: result,
        replaced_in_place,
    })
}

fn evaluate_statements_tls(statements: &[Statement], bucket: &str, partition: &str) -> TlsStatus {
    evaluate_tls_statements(Some(statements), bucket, partition).status
}

fn check_target(bucket: &str, partition: &str) -> Result<(), PatchRefusal> {
    if bucket.trim().is_empty() || partition.trim().is_empty() {
        return Err(PatchRefusal::Unsafe(
            "bucket name and partition are required to build the TLS statement".to_string(),
        ));
    }
    Ok(())
}

/// The length of `v` as compact JSON (what S3 measures against its limit), without building
/// the text.
fn serialised_len(v: &Value) -> Result<usize, serde_json::Error> {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, v)?;
    Ok(count.0)
}

/// A Deny conditioned on `aws:SecureTransport = false`: everything it denies, ours denies
/// too (its other conditions only narrow it), so replacing it never widens access.
pub fn is_weaker_tls_deny(st: &crate::core::policy::model::Statement) -> bool {
    st.is_deny()
        && !st.malformed_condition
        && st.conditions.iter().any(|c| {
            c.key == "aws:securetransport"
                && c.base == "bool"
                && c.set_op.is_none()
                && !c.values.is_empty()
                && c.values.iter().all(|v| v.eq_ignore_ascii_case("false"))
        })
}

/// Puts `ours` into the document: at the position of the statement that already carries
/// `sid`, else at the end. Every other key and statement is moved over untouched, so the
/// document keeps its order (serde_json `preserve_order`).
fn upsert(
    raw: &Value,
    statements: &[Statement],
    ours: Value,
    sid: &str,
) -> Result<(Value, bool), PatchRefusal> {
    let Value::Object(doc) = raw else {
        return Err(PatchRefusal::Unreadable(
            "policy is not a JSON object".to_string(),
        ));
    };
    // The parser's positions line up with the document's statements (it parses every
    // element, even non-objects), so its Sids say where ours is.
    let ours_at: Vec<usize> = statements
        .iter()
        .filter(|s| s.sid.as_deref() == Some(sid))
        .map(|s| s.index)
        .collect();
    if ours_at.len() > 1 {
        return Err(PatchRefusal::Unsafe(format!(
            "{} statements already carry Sid '{sid}'; refusing to guess which one to replace",
            ours_at.len()
        )));
    }
    let at = ours_at.first().copied();
    if let Some(existing) = at.and_then(|i| statements.iter().find(|s| s.index == i)) {
        if !is_weaker_tls_deny(existing) {
            return Err(PatchRefusal::Unsafe(format!(
                "statement {} carries Sid '{sid}' but is not a TLS Deny: replacing it could remove access or a denial; rename it or use another --sid",
                existing.label()
            )));
        }
    }
    // The same key the parser read: exact `Statement` first, then any case.
    let key = if doc.contains_key("Statement") {
        Some("Statement".to_string())
    } else {
        doc.keys()
            .find(|k| k.eq_ignore_ascii_case("Statement"))
            .cloned()
    };
    let replaced = at.is_some();
    let new_statements = match key.as_ref().and_then(|k| doc.get(k)) {
        None | Some(Value::Null) => Value::Array(vec![ours]),
        Some(Value::Array(items)) => {
            let mut items = items.clone();
            match at.and_then(|i| items.get_mut(i)) {
                Some(slot) => *slot = ours,
                None => items.push(ours),
            }
            Value::Array(items)
        }
        // A lone statement object keeps its shape when it is ours, else becomes a list.
        Some(single @ Value::Object(_)) => {
            if replaced {
                ours
            } else {
                Value::Array(vec![single.clone(), ours])
            }
        }
        Some(_) => {
            return Err(PatchRefusal::Unreadable(
                "policy 'Statement' is neither an object nor a list".to_string(),
            ))
        }
    };
    // Every other key copied over in its place, the statements not copied twice; a document
    // without statements gets them at the end.
    let mut new_statements = Some(new_statements);
    let mut out = serde_json::Map::with_capacity(doc.len() + 1);
    for (k, v) in doc {
        if Some(k) == key.as_ref() {
            out.insert(k.clone(), new_statements.take().unwrap_or(Value::Null));
        } else {
            out.insert(k.clone(), v.clone());
        }
    }
    if let Some(statements) = new_statements {
        out.insert("Statement".to_string(), statements);
    }
    Ok((Value::Object(out), replaced))
}

#[cfg(test)]
mod tests;
