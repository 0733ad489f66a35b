//! The patches of DOMAIN.md §8 as pure functions over policy documents (`tls`: the TLS Deny
//! upsert; `usage_grant`: the key-policy usage grants for accounts a bucket shares with), and the document comparisons the app uses around a write: the fresh read against
//! the plan's `based_on`, and the read-back that proves no statement was lost.

pub mod tls;
pub mod usage_grant;

pub use tls::*;

use serde_json::Value;

use super::model::unwrap_document;

/// A policy as a document value, whatever shape it was read in (string, object, wrapper).
pub fn normalise(v: Option<&Value>) -> Option<Value> {
    let v = v.filter(|v| !v.is_null())?;
    Some(unwrap_document(v).unwrap_or_else(|_| v.clone()))
}

/// The statements of a policy document (a lone statement object counts as one).
pub fn statements(doc: &Value) -> Vec<Value> {
    match doc.get("Statement") {
        Some(Value::Array(items)) => items.clone(),
        Some(obj @ Value::Object(_)) => vec![obj.clone()],
        _ => Vec::new(),
    }
}

fn sid_of(stmt: &Value) -> Option<&str> {
    stmt.get("Sid").and_then(Value::as_str)
}

/// Every statement of `before` is still in `after` (ours, by Sid, may have been replaced).
pub fn statements_kept(
    before: Option<&Value>,
    after: &Value,
    own_sid: Option<&str>,
) -> Result<(), String> {
    let after_stmts = statements(after);
    for s in before.map(statements).unwrap_or_default() {
        if own_sid.is_some() && sid_of(&s) == own_sid {
            continue;
        }
        if !after_stmts.contains(&s) {
            return Err(format!(
                "statement {} of the previous policy is missing after the write",
                sid_of(&s).unwrap_or("(no Sid)")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statements_kept_detects_a_lost_statement() {
        let before = json!({"Statement": [{"Sid": "A", "Effect": "Allow"}, {"Sid": "Ours", "Effect": "Deny"}]});
        let ok = json!({"Statement": [{"Sid": "A", "Effect": "Allow"}, {"Sid": "Ours", "Effect": "Deny", "X": 1}]});
        let lost = json!({"Statement": [{"Sid": "Ours", "Effect": "Deny"}]});
        assert!(statements_kept(Some(&before), &ok, Some("Ours")).is_ok());
        assert!(statements_kept(Some(&before), &lost, Some("Ours")).is_err());
        assert!(statements_kept(None, &lost, None).is_ok());
    }

    #[test]
    fn normalise_accepts_string_and_object() {
        let doc = json!({"Version": "2012-10-17", "Statement": []});
        assert_eq!(
            normalise(Some(&Value::String(doc.to_string()))),
            normalise(Some(&doc))
        );
        assert_eq!(normalise(Some(&Value::Null)), None);
    }

    #[test]
    fn a_lone_statement_object_is_one_statement() {
        let one = json!({"Statement": {"Sid": "A"}});
        assert_eq!(statements(&one), vec![json!({"Sid": "A"})]);
        assert!(statements(&json!({})).is_empty());
    }
}
