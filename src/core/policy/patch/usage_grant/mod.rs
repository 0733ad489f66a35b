//! The key-policy patch of DOMAIN.md §8 as a pure function: add, per account a bucket already
//! shares with, a usage-only grant for S3 (`kms:ViaService`), keeping every statement, by Sid,
//! idempotent, within KMS's 32 KB limit.

use serde_json::{json, Value};

use super::PatchRefusal;
use crate::core::arn::partition_for_region;
use crate::core::json::{get_ci_present, is_account_id};
use crate::core::policy::key_policy::analyse_key_policy;
use crate::core::policy::model::Policy;

/// KMS's key policy size limit.
pub const MAX_KEY_POLICY_BYTES: usize = 32 * 1024;
/// Sid prefix of the grants the guardrail adds (one statement per account).
pub const GRANT_SID_PREFIX: &str = "CmkguardS3Usage";

/// Adds, per account, a usage-only Allow for S3 (`kms:Decrypt`, `kms:GenerateDataKey*`,
/// `kms:DescribeKey`, `kms:Encrypt`, `kms:ReEncrypt*`) on `Resource: "*"` limited by
/// `kms:ViaService = s3.<region>.amazonaws.com`, Sid `GRANT_SID_PREFIX<account>`. Keeps every
/// statement; idempotent; refuses non-account principals and results over 32 KB.
///
/// An account that already has usage (per [`analyse_key_policy`], the owner not being known
/// here, so the owner's own `root` grant counts too) gets nothing new, unless a statement with
/// our Sid for it exists: that one is rewritten in place to the exact grant when it is an
/// Allow, and refused when it is not (lifting a Deny could widen access beyond usage).
pub fn add_usage_grants(
    policy: &Value,
    accounts: &[String],
    region: &str,
    partition: &str,
) -> Result<Value, PatchRefusal> {
    let mut wanted: Vec<&str> = Vec::new();
    for account in accounts {
        let account = account.trim();
        if !is_account_id(account) {
            return Err(PatchRefusal::Unsafe(format!(
                "refusing to grant key usage to '{account}': not a 12-digit account id"
            )));
        }
        if !wanted.contains(&account) {
            wanted.push(account);
        }
    }
    if !is_simple_name(region) || !is_simple_name(partition) {
        return Err(PatchRefusal::Unsafe(format!(
            "refusing to write a key grant for region '{region}' / partition '{partition}'"
        )));
    }
    let parsed = Policy::parse_any(policy).map_err(|e| PatchRefusal::Unreadable(e.to_string()))?;
    let report = analyse_key_policy(&parsed, "");
    let mut doc = parsed.raw;
    let Value::Object(map) = &mut doc else {
        return Err(PatchRefusal::Unreadable("policy is not an object".into()));
    };
    let key = statement_key(map);
    let mut statements = match map.get(&key) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(obj @ Value::Object(_)) => vec![obj.clone()],
        Some(_) => {
            return Err(PatchRefusal::Unreadable(
                "policy 'Statement' is neither an object nor a list".into(),
            ))
        }
    };
    let mut changed = false;
    for account in wanted {
        let grant = usage_grant(account, region, partition);
        let sid = format!("{GRANT_SID_PREFIX}{account}");
        match statements.iter().position(|s| has_sid(s, &sid)) {
            Some(i) => {
                if let Some(slot) = statements.get_mut(i) {
                    // Rewriting a Deny (or anything but an Allow) under our Sid would lift a
                    // denial, which can widen access well beyond usage: refuse, as the TLS
                    // patch does for a foreign statement under its Sid. Replacing an Allow
                    // only ever narrows it to the usage grant.
                    if get_ci_present(slot, "Effect").and_then(Value::as_str) != Some("Allow") {
                        return Err(PatchRefusal::Unsafe(format!(
                            "statement '{sid}' is not an Allow: rewriting it into the usage grant could lift a denial; rename it"
                        )));
                    }
                    if *slot != grant {
                        *slot = grant;
                        changed = true;
                    }
                }
            }
            None if report.grants_usage_to("", account) => {}
            None => {
                statements.push(grant);
                changed = true;
            }
        }
    }
    if changed {
        // Inserting an existing key keeps its position (preserve_order); a single-object
        // Statement becomes a list only when something is written.
        map.insert(key, Value::Array(statements));
    }
    let size = serde_json::to_string(&doc)
        .map(|s| s.len())
        .unwrap_or(usize::MAX);
    if size > MAX_KEY_POLICY_BYTES {
        return Err(PatchRefusal::TooLarge {
            size,
            limit: MAX_KEY_POLICY_BYTES,
        });
    }
    Ok(doc)
}

/// The grant statement for one account.
pub fn usage_grant(account: &str, region: &str, partition: &str) -> Value {
    json!({
        "Sid": format!("{GRANT_SID_PREFIX}{account}"),
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:{partition}:iam::{account}:root")},
        "Action": GRANT_ACTIONS,
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": s3_service_endpoint(region)}},
    })
}

/// `s3.<region>.amazonaws.com`, or `.amazonaws.com.cn` in the China regions.
pub fn s3_service_endpoint(region: &str) -> String {
    let suffix = match partition_for_region(region) {
        "aws-cn" => "amazonaws.com.cn",
        _ => "amazonaws.com",
    };
    format!("s3.{region}.{suffix}")
}

/// What the guardrail grants: usage for S3 and nothing more.
const GRANT_ACTIONS: [&str; 5] = [
    "kms:Decrypt",
    "kms:GenerateDataKey*",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:ReEncrypt*",
];

fn is_simple_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The key the document uses for its statements (`Statement`, or another case of it), so a
/// patch writes back where the statements were.
fn statement_key(map: &serde_json::Map<String, Value>) -> String {
    if map.contains_key("Statement") {
        return "Statement".to_string();
    }
    map.keys()
        .find(|k| k.eq_ignore_ascii_case("Statement"))
        .cloned()
        .unwrap_or_else(|| "Statement".to_string())
}

fn has_sid(statement: &Value, sid: &str) -> bool {
    get_ci_present(statement, "Sid").and_then(Value::as_str) == Some(sid)
}

#[cfg(test)]
mod tests;
