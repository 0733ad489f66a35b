//! The organisation relay's decisions (ORG.md §2), pure: for a batch of denial records that
//! member accounts forwarded to the central denial bus, which owner's `cmkguard` bus each goes
//! to, with what detail — or why it goes nowhere. The relay holds no policy logic: it parses
//! each record as the guardrail does (`event`), finds the owner — the account of the key ARN
//! the record names, else the bucket's account from the organisation's inventory (an AWS
//! Config aggregator, `OwnerMap`), else `owner_unknown`, reported centrally with the caller's
//! facts — drops same-account records, the owner's own copies (diagnosed where they were
//! recorded) and duplicates within the batch, and builds one `PutEvents` entry per record.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::arn::partition_for_region;
use super::event::{parse_event_value, relayed, EventInput, Parsed, Side, Trigger, TriggerKind};
use super::json::{get_ci, get_ci_present, is_account_id, str_field};

/// The name of the custom bus each member stack creates for relayed denials.
pub const OWNER_BUS: &str = "cmkguard";

/// PutEvents limits: entries per request, and bytes per request (EventBridge counts the
/// entry's Source, DetailType, Detail, Resources and bus name; kept under with room to spare).
pub const MAX_ENTRIES: usize = 10;
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;

/// Bucket name → owning account, from the organisation's inventory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OwnerMap(pub BTreeMap<String, String>);

impl OwnerMap {
    /// Reads `{"bucket": "account", …}`, a list of `{"accountId", "resourceName"}` rows, or
    /// AWS Config `select-aggregate-resource-config` output (`{"Results": ["<row as JSON
    /// text>", …]}`). Rows without a 12-digit account or a name are skipped; anything else is
    /// an error naming what it is.
    pub fn parse(v: &Value) -> Result<OwnerMap, String> {
        let mut map = BTreeMap::new();
        if let Some(results) = get_ci(v, "Results") {
            let Value::Array(rows) = results else {
                return Err("Results is not a list".into());
            };
            for row in rows {
                let row = match row {
                    Value::String(text) => serde_json::from_str(text).unwrap_or(Value::Null),
                    other => other.clone(),
                };
                insert_row(&mut map, &row);
            }
            return Ok(OwnerMap(map));
        }
        match v {
            Value::Array(rows) => rows.iter().for_each(|r| insert_row(&mut map, r)),
            Value::Object(o) => {
                for (bucket, account) in o {
                    let account = account.as_str().map(str::trim).unwrap_or_default();
                    if is_account_id(account) && !bucket.trim().is_empty() {
                        map.insert(bucket.trim().to_string(), account.to_string());
                    }
                }
            }
            _ => {
                return Err(
                    "an owner map is an object, a list of rows, or Config query output".into(),
                )
            }
        }
        Ok(OwnerMap(map))
    }

    pub fn owner_of(&self, bucket: &str) -> Option<&str> {
        self.0.get(bucket).map(String::as_str)
    }
}

fn insert_row(map: &mut BTreeMap<String, String>, row: &Value) {
    if let (Some(account), Some(name)) =
        (str_field(row, "accountId"), str_field(row, "resourceName"))
    {
        if is_account_id(&account) {
            map.insert(name, account);
        }
    }
}

/// The AWS Config advanced query that lists every bucket of the organisation with its owner.
pub const OWNER_QUERY: &str =
    "SELECT accountId, resourceName WHERE resourceType = 'AWS::S3::Bucket'";

/// One `PutEvents` entry. Field names are a public interface (`cmkguard relay` JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RelayEntry {
    pub owner_account: String,
    /// `arn:<partition>:events:<region>:<owner>:event-bus/cmkguard`.
    pub bus_arn: String,
    /// `{record, owner_account, relayed_at}` (`event::relayed`).
    pub detail: Value,
    /// The input the entry came from (its position in the batch).
    #[serde(skip)]
    pub input: usize,
}

impl RelayEntry {
    /// The bytes EventBridge counts for the entry (source, detail type, detail, bus name).
    pub fn size(&self) -> usize {
        relayed::SOURCE.len()
            + relayed::DETAIL_TYPE.len()
            + self.detail.to_string().len()
            + self.bus_arn.len()
    }
}

/// A denial whose owner could not be found: reported centrally with what the caller saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OwnerUnknown {
    pub input: usize,
    pub caller_account: Option<String>,
    pub principal_arn: Option<String>,
    pub event_name: String,
    pub bucket: Option<String>,
    pub key: Option<String>,
    pub region: Option<String>,
    pub reason: String,
}

/// An input that is not relayed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dropped {
    pub input: usize,
    pub reason: String,
}

/// What the relay does with a batch. Field names are a public interface.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RelayPlan {
    pub entries: Vec<RelayEntry>,
    pub owner_unknown: Vec<OwnerUnknown>,
    pub dropped: Vec<Dropped>,
}

/// The buckets whose owner a batch needs from the inventory: denials whose record names no
/// owner (S3 redacts it in the caller's copy). Lets the relay skip the inventory when no
/// record needs it.
pub fn buckets_to_resolve(inputs: &[Value]) -> BTreeSet<String> {
    inputs
        .iter()
        .filter_map(|v| match parse_one(v) {
            Ok((t, _)) if t.owner_account.is_none() => t.bucket,
            _ => None,
        })
        .collect()
}

/// Plans the batch. `relayed_at` is the run's RFC 3339 time (the core has no clock).
pub fn plan_relay(inputs: &[Value], owners: &OwnerMap, relayed_at: &str) -> RelayPlan {
    let mut plan = RelayPlan::default();
    let mut seen = BTreeSet::new();
    for (input, v) in inputs.iter().enumerate() {
        let drop = |reason: String| Dropped { input, reason };
        let (t, record) = match parse_one(v) {
            Ok(x) => x,
            Err(reason) => {
                plan.dropped.push(drop(reason));
                continue;
            }
        };
        if t.side == Some(Side::Owner) {
            plan.dropped.push(drop(format!(
                "recorded in the owner's own account {}: its guardrail diagnoses it there",
                t.owner_account.as_deref().unwrap_or("-")
            )));
            continue;
        }
        if let Some(key) = t.dedup_key() {
            if !seen.insert(key.clone()) {
                plan.dropped.push(drop(format!(
                    "duplicate of an earlier record of this batch ({key})"
                )));
                continue;
            }
        }
        let owner = t.owner_account.clone().or_else(|| {
            t.bucket
                .as_deref()
                .and_then(|b| owners.owner_of(b))
                .map(str::to_string)
        });
        let Some(owner) = owner else {
            plan.owner_unknown.push(OwnerUnknown {
                input,
                caller_account: t.caller_account.clone(),
                principal_arn: t.principal_arn.clone(),
                event_name: t.event_name.clone(),
                bucket: t.bucket.clone(),
                key: t.key.clone(),
                region: t.region.clone(),
                reason: match &t.bucket {
                    Some(b) => format!(
                        "the record does not name the owner and bucket {b} is not in the organisation's inventory"
                    ),
                    None => "the record names neither the owner nor a bucket".to_string(),
                },
            });
            continue;
        };
        if Some(owner.as_str()) == t.caller_account.as_deref() {
            plan.dropped.push(drop(format!(
                "bucket owner {owner} is the caller's own account: not a cross-account denial"
            )));
            continue;
        }
        let Some(region) = t.region.clone().filter(|r| !r.is_empty()) else {
            plan.dropped.push(drop(
                "the record names no region: the owner's bus cannot be chosen".into(),
            ));
            continue;
        };
        plan.entries.push(RelayEntry {
            bus_arn: format!(
                "arn:{}:events:{region}:{owner}:event-bus/{OWNER_BUS}",
                partition_for_region(&region)
            ),
            detail: relayed::detail(&record, &owner, relayed_at),
            owner_account: owner,
            input,
        });
    }
    plan
}

/// One input as a denial trigger and the CloudTrail record it came from.
fn parse_one(v: &Value) -> Result<(Trigger, Value), String> {
    // The record is what the owner's guardrail parses again: the envelope's detail, or the
    // bare record itself.
    let record = match get_ci_present(v, "detail") {
        Some(d) if get_ci(v, "detail-type").is_some() => {
            crate::core::json::embedded_document(d).unwrap_or(Value::Null)
        }
        _ => v.clone(),
    };
    match parse_event_value(v) {
        EventInput::Single(Parsed::Trigger(t)) if t.kind == TriggerKind::AccessDenied => {
            Ok((t, record))
        }
        EventInput::Single(Parsed::Trigger(t)) => Err(format!(
            "{} is not an AccessDenied: the relay forwards denials only",
            t.event_name
        )),
        EventInput::Single(Parsed::Ignored { reason }) => Err(reason),
        EventInput::Records(_) => Err("a CloudTrail log file is not one denial".into()),
    }
}

/// The entries grouped into `PutEvents` requests: at most `MAX_ENTRIES` each and under
/// `MAX_REQUEST_BYTES` together. An entry too large on its own gets a request of its own
/// (EventBridge refuses it, and that entry alone fails).
pub fn batches(entries: &[RelayEntry]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut bytes = 0;
    for (i, e) in entries.iter().enumerate() {
        let size = e.size();
        match out.last_mut() {
            Some(batch) if batch.len() < MAX_ENTRIES && bytes + size <= MAX_REQUEST_BYTES => {
                batch.push(i);
                bytes += size;
            }
            _ => {
                out.push(vec![i]);
                bytes = size;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
