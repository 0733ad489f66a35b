//! Lenient readers for the typed beyond-S3 state: booleans that arrive as `true` or `"true"`,
//! lists that arrive as a list, a single object, `null` or missing, ids as strings or numbers.
//! The adapters fill the state from SDK responses, but users hand-write state files and
//! `aws` CLI output differs in case between commands: a field that cannot be read is absent
//! (and the decision says it was not read), never a refused state file.

use serde_json::Value;

use crate::core::json::get_ci_present;

/// `true`, `"true"`, `"TRUE"` → `Some(true)`; likewise false; anything else → `None`.
pub fn flag(v: &Value, key: &str) -> Option<bool> {
    match get_ci_present(v, key)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// The objects of a list field; a single object counts as a list of one. `None` when the
/// field is missing or null: "not read" is not "empty".
pub fn objects<'a>(v: &'a Value, key: &str) -> Option<Vec<&'a Value>> {
    match get_ci_present(v, key)? {
        Value::Array(items) => Some(items.iter().filter(|i| i.is_object()).collect()),
        obj @ Value::Object(_) => Some(vec![obj]),
        _ => Some(Vec::new()),
    }
}

/// The first present field of `keys` (each looked up case-insensitively).
pub fn first<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|k| get_ci_present(v, k))
}

/// The first non-empty string (or number) field of `keys`.
pub fn first_str(v: &Value, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| crate::core::json::str_field(v, k))
}

/// Strings of a list (numbers as text: account ids sometimes arrive as numbers); a bare
/// string is a list of one.
pub fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        Value::String(s) if !s.trim().is_empty() => vec![s.trim().to_string()],
        Value::Number(n) => vec![n.to_string()],
        _ => Vec::new(),
    }
}
