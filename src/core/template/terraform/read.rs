//! Reading a plan's JSON: the managed resources (`resource_changes`, else `planned_values`
//! with its child modules), the configuration expressions by address (modules prefixed), the
//! account of `data.aws_caller_identity`, and the paths into `after_unknown`.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{Attr, Res};
use crate::core::template::symbols::Symbols;

pub fn split_address(address: &str) -> (String, String, String) {
    let (base, index) = match address.rfind('[') {
        Some(i) if address.ends_with(']') => (&address[..i], &address[i..]),
        _ => (address, ""),
    };
    let module = match base.rfind("module.") {
        Some(_) => {
            // module.a.module.b.type.name → "module.a.module.b."
            let parts: Vec<&str> = base.split('.').collect();
            let n = parts.len().saturating_sub(2);
            parts[..n].iter().map(|p| format!("{p}.")).collect()
        }
        None => String::new(),
    };
    (base.to_string(), index.to_string(), module)
}

/// A KMS grant as the key-policy statement it amounts to: the grantee may call the granted
/// operations on the key (grant constraints only narrow, as `kms:ViaService` does).
pub fn add_grant_statement(
    doc: &mut Value,
    address: &str,
    grantee: Attr,
    operations: Attr,
    sym: &mut Symbols,
) {
    let principal = match grantee {
        Attr::Known(Value::String(p)) => p,
        _ => sym.marker(
            format!("{address}.grantee_principal (known after apply)"),
            true,
        ),
    };
    let actions: Vec<Value> = match operations {
        Attr::Known(Value::Array(ops)) => ops
            .iter()
            .filter_map(Value::as_str)
            .map(|o| json!(format!("kms:{o}")))
            .collect(),
        _ => vec![json!("kms:*")],
    };
    let statement = json!({
        "Sid": format!("grant {address}"),
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": actions,
        "Resource": "*"
    });
    if let Some(list) = doc.get_mut("Statement").and_then(Value::as_array_mut) {
        list.push(statement);
    } else if let Some(obj) = doc.as_object_mut() {
        let one = obj.remove("Statement");
        let mut list: Vec<Value> = one.into_iter().collect();
        list.push(statement);
        obj.insert("Statement".into(), Value::Array(list));
    }
}

pub fn strip_index(attr: &str) -> String {
    attr.split('[').next().unwrap_or_default().to_string()
}

pub fn pointer_unknown(unknown: Option<&Value>, path: &[String]) -> bool {
    let mut cur = match unknown {
        Some(u) => u,
        None => return false,
    };
    for p in path {
        if cur == &Value::Bool(true) {
            return true;
        }
        cur = match (cur, p.parse::<usize>()) {
            (Value::Array(items), Ok(i)) => match items.get(i) {
                Some(v) => v,
                None => return false,
            },
            (v, _) => match v.get(p) {
                Some(v) => v,
                None => return false,
            },
        };
    }
    cur == &Value::Bool(true)
}

pub fn resource<'d>(rc: &'d Value, values: &'d Value, unknown: Option<&'d Value>) -> Res<'d> {
    let address = rc
        .get("address")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let (base, index, module) = split_address(&address);
    Res {
        ty: rc
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        address,
        base,
        index,
        module,
        values,
        unknown,
    }
}

pub fn planned<'d>(module: &'d Value, out: &mut Vec<Res<'d>>) {
    for r in module
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let managed = r.get("mode").and_then(Value::as_str) != Some("data");
        if let (true, Some(values)) = (managed, r.get("values").filter(|v| v.is_object())) {
            out.push(resource(r, values, None));
        }
    }
    for child in module
        .get("child_modules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        planned(child, out);
    }
}

pub fn configuration<'d>(module: &'d Value, prefix: &str, out: &mut BTreeMap<String, &'d Value>) {
    for r in module
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(address), Some(expr)) = (
            r.get("address").and_then(Value::as_str),
            r.get("expressions"),
        ) {
            out.insert(format!("{prefix}{address}"), expr);
        }
    }
    if let Some(calls) = module.get("module_calls").and_then(Value::as_object) {
        for (name, call) in calls {
            if let Some(inner) = call.get("module") {
                configuration(inner, &format!("{prefix}module.{name}."), out);
            }
        }
    }
}

/// The account of `data.aws_caller_identity` (read during plan), if the plan has one.
pub fn caller_account(doc: &Value) -> Option<String> {
    fn find(module: &Value) -> Option<String> {
        for r in module.get("resources")?.as_array()? {
            if r.get("type").and_then(Value::as_str) == Some("aws_caller_identity") {
                if let Some(a) = r.pointer("/values/account_id").and_then(Value::as_str) {
                    return Some(a.to_string());
                }
            }
        }
        module
            .get("child_modules")?
            .as_array()?
            .iter()
            .find_map(find)
    }
    doc.pointer("/prior_state/values/root_module")
        .and_then(find)
        .filter(|a| crate::core::json::is_account_id(a))
}
