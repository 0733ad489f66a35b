//! Lenient JSON access shared by the parsers: case-insensitive keys, "string or list" values,
//! documents embedded as JSON strings. Real AWS records mix all of these, so every parser goes
//! through here instead of indexing `serde_json::Value` directly.

use std::borrow::Cow;

use serde_json::Value;

/// Looks a key up in an object, first exactly, then ignoring ASCII case
/// (`AWSAccountId` / `aWSAccountId` / `awsAccountId`).
pub fn get_ci<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let obj = v.as_object()?;
    if let Some(found) = obj.get(key) {
        return Some(found);
    }
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// Like [`get_ci`] but treats JSON `null` as absent.
pub fn get_ci_present<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    get_ci(v, key).filter(|v| !v.is_null())
}

/// A non-empty string field (case-insensitive key). Numbers are rendered as text, because
/// account ids sometimes arrive as JSON numbers.
pub fn str_field(v: &Value, key: &str) -> Option<String> {
    match get_ci_present(v, key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Follows a path of case-insensitive keys.
pub fn path<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().try_fold(v, |cur, k| get_ci_present(cur, k))
}

/// A value that IAM allows as "a string or a list of strings". Non-string scalars are rendered
/// as text (`true`, `123`); nested objects are kept as their JSON text so nothing is dropped.
pub fn string_list(v: &Value) -> Vec<String> {
    match v {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().flat_map(string_list).collect(),
        Value::String(s) => vec![s.clone()],
        Value::Bool(b) => vec![b.to_string()],
        Value::Number(n) => vec![n.to_string()],
        Value::Object(_) => vec![v.to_string()],
    }
}

/// A document that may arrive as an object or as a JSON string holding one (a bucket policy in
/// `requestParameters`, the `Policy` field of `get-bucket-policy`). Returns `None` when the text
/// is not JSON.
pub fn embedded_document(v: &Value) -> Option<Value> {
    embedded_document_ref(v).map(Cow::into_owned)
}

/// [`embedded_document`] without copying a document that is already JSON: borrowed unless it
/// had to be decoded from text.
pub fn embedded_document_ref(v: &Value) -> Option<Cow<'_, Value>> {
    match v {
        Value::String(_) => embedded_text(v).map(Cow::Owned),
        Value::Null => None,
        other => Some(Cow::Borrowed(other)),
    }
}

fn embedded_text(v: &Value) -> Option<Value> {
    match v {
        Value::String(s) => {
            let parsed: Value = serde_json::from_str(s.trim()).ok()?;
            // A string holding a string holding JSON has been seen in hand-made fixtures.
            match parsed {
                Value::String(_) => embedded_document(&parsed),
                other => Some(other),
            }
        }
        Value::Null => None,
        other => Some(other.clone()),
    }
}

/// Twelve ASCII digits: the only valid AWS account id form.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn case_insensitive_lookup_prefers_exact_match() {
        let v = json!({"accountId": "1", "AccountId": "2"});
        assert_eq!(get_ci(&v, "AccountId"), Some(&json!("2")));
        assert!(get_ci(&v, "ACCOUNTID").is_some());
        assert_eq!(get_ci(&json!([1]), "x"), None);
    }

    #[test]
    fn string_lists_accept_every_iam_shape() {
        assert_eq!(string_list(&json!("a")), vec!["a"]);
        assert_eq!(
            string_list(&json!(["a", ["b"], false])),
            vec!["a", "b", "false"]
        );
        assert!(string_list(&Value::Null).is_empty());
    }

    #[test]
    fn embedded_documents_unwrap_strings() {
        assert_eq!(
            embedded_document(&json!("{\"a\":1}")),
            Some(json!({"a": 1}))
        );
        assert_eq!(
            embedded_document(&json!("\"{\\\"a\\\":1}\"")),
            Some(json!({"a": 1}))
        );
        assert_eq!(embedded_document(&json!("not json")), None);
        assert_eq!(embedded_document(&json!({"a": 1})), Some(json!({"a": 1})));
    }

    #[test]
    fn account_ids_are_twelve_digits() {
        assert!(is_account_id("111122223333"));
        assert!(!is_account_id("11112222333"));
        assert!(!is_account_id("11112222333a"));
        assert!(!is_account_id("１１１１２２２２３３３３"));
    }

    #[test]
    fn str_field_renders_numbers_and_skips_blank() {
        let v = json!({"a": 111122223333u64, "b": "  ", "c": null});
        assert_eq!(str_field(&v, "a").as_deref(), Some("111122223333"));
        assert_eq!(str_field(&v, "b"), None);
        assert_eq!(str_field(&v, "c"), None);
    }
}
