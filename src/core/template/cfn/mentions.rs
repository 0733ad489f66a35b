//! What a piece of a template mentions: the logical ids it names (`Ref`, `Fn::GetAtt`,
//! `${Id}` / `${Id.Attr}` in `Fn::Sub`) and the conditions it uses (`Fn::If`, `Condition`),
//! found without resolving anything — the static links a unit's closure follows.

use std::collections::BTreeSet;

use serde_json::Value;

use super::intrinsics::single;

/// Logical ids `v` names (`Ref`, `Fn::GetAtt`, `${Id}` / `${Id.Attr}` in `Fn::Sub`) and the
/// condition names it uses (`Fn::If`, `Condition`).
#[derive(Default)]
pub struct Mentions {
    pub ids: BTreeSet<String>,
    pub conditions: BTreeSet<String>,
}

pub fn mentions(v: &Value, out: &mut Mentions) {
    match v {
        Value::Object(m) => {
            if let Some((k, arg)) = single(v) {
                match (k, arg) {
                    ("Ref", Value::String(id)) => {
                        out.ids.insert(id.clone());
                    }
                    ("Fn::GetAtt", Value::Array(p)) => {
                        if let Some(id) = p.first().and_then(Value::as_str) {
                            out.ids.insert(id.to_string());
                        }
                    }
                    ("Fn::GetAtt", Value::String(s)) => {
                        out.ids
                            .insert(s.split('.').next().unwrap_or_default().to_string());
                    }
                    ("Fn::Sub", _) => {
                        let text = match arg {
                            Value::String(s) => Some(s.as_str()),
                            Value::Array(p) => p.first().and_then(Value::as_str),
                            _ => None,
                        };
                        for name in text.into_iter().flat_map(sub_names) {
                            out.ids
                                .insert(name.split('.').next().unwrap_or_default().to_string());
                        }
                    }
                    ("Fn::If", Value::Array(p)) => {
                        if let Some(c) = p.first().and_then(Value::as_str) {
                            out.conditions.insert(c.to_string());
                        }
                    }
                    ("Condition", Value::String(c)) => {
                        out.conditions.insert(c.clone());
                    }
                    _ => {}
                }
            }
            for v in m.values() {
                mentions(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| mentions(i, out)),
        _ => {}
    }
}

fn sub_names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        let after = &rest[at + 2..];
        let Some(close) = after.find('}') else { break };
        if !after.starts_with('!') {
            out.push(after[..close].to_string());
        }
        rest = &after[close + 1..];
    }
    out
}
