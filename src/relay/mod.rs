//! The organisation relay (ORG.md §2), run by its own Lambda (`cmkguard-relay`, fed by the
//! central denial bus's SQS queue) and by `cmkguard relay` offline: turn the batch into
//! denial records, ask the inventory for the owners of the buckets whose record does not name
//! one (only when some does not), plan (`core::relay`), and put the entries on the owners'
//! `cmkguard` buses, ≤ 10 per request. Entries that fail are reported by input so the SQS
//! messages behind them are retried; the rest are deleted. A retried message may reach its
//! owner twice: the owner's diagnosis has a deterministic finding id, so the second post is an
//! upsert.
//!
//! The relay writes nothing but events, and only to buses named `cmkguard`. It cannot loop:
//! the members forward `aws.s3` / `aws.kms` denial records, and the relay calls neither
//! service. Its rate is capped by the queue's batch size and the function's reserved
//! concurrency (central.yaml).

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use serde::Serialize;
use serde_json::Value;

use crate::core::relay::{batches, buckets_to_resolve, plan_relay, OwnerMap, RelayPlan};
use crate::ports::{DenialForwarder, OwnerResolver, PortError};

/// An entry the owner's bus did not take.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failed {
    /// The input (position in the batch) behind the entry.
    pub input: usize,
    pub bus_arn: String,
    pub code: String,
    pub message: String,
    /// Worth retrying (throttling, an outage), as opposed to a refusal.
    pub retryable: bool,
}

/// What one batch came to. Field names are public (the relay's log line, `cmkguard relay`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RelayOutcome {
    #[serde(flatten)]
    pub plan: RelayPlan,
    /// Entries accepted by the owners' buses.
    pub sent: usize,
    pub failed: Vec<Failed>,
    /// The inventory could not be asked: the records that needed it are `owner_unknown`.
    pub inventory_error: Option<String>,
}

impl RelayOutcome {
    /// The inputs to retry: their entries failed for a reason worth retrying.
    pub fn retry_inputs(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .failed
            .iter()
            .filter(|f| f.retryable)
            .map(|f| f.input)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// The denial records in a file or payload: an SQS event's message bodies (the relay's
/// Lambda input), a CloudTrail log file's records, or the value itself (an envelope or a bare
/// record). A message body that is not JSON stays as text, and is dropped with its reason.
pub fn inputs_of(v: &Value) -> Vec<Value> {
    let Some(Value::Array(records)) = v.get("Records") else {
        return vec![v.clone()];
    };
    let sqs = |r: &Value| {
        r.get("eventSource").and_then(Value::as_str) == Some("aws:sqs")
            || (r.get("body").is_some() && r.get("messageId").is_some())
    };
    if !records.is_empty() && records.iter().all(sqs) {
        return records
            .iter()
            .map(|r| match r.get("body") {
                Some(Value::String(text)) => {
                    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone()))
                }
                Some(other) => other.clone(),
                None => Value::Null,
            })
            .collect();
    }
    records.clone()
}

/// Plans the batch and, with a forwarder, puts its entries. `now` is the run's RFC 3339 time.
pub async fn relay<R: OwnerResolver, F: DenialForwarder>(
    inputs: &[Value],
    resolver: &R,
    forwarder: Option<&F>,
    now: &str,
) -> RelayOutcome {
    let mut out = RelayOutcome::default();
    let wanted = buckets_to_resolve(inputs);
    let owners = if wanted.is_empty() {
        OwnerMap::default()
    } else {
        match resolver.owners(&wanted).await {
            Ok(map) => map,
            Err(e) => {
                out.inventory_error = Some(e.to_string());
                OwnerMap::default()
            }
        }
    };
    out.plan = plan_relay(inputs, &owners, now);
    let Some(forwarder) = forwarder else {
        return out;
    };
    for batch in batches(&out.plan.entries) {
        let entries: Vec<_> = batch.iter().map(|i| out.plan.entries[*i].clone()).collect();
        match forwarder.put(&entries).await {
            Ok(results) => {
                for (e, r) in entries.iter().zip(results) {
                    match r {
                        None => out.sent += 1,
                        Some((code, message)) => out.failed.push(Failed {
                            input: e.input,
                            bus_arn: e.bus_arn.clone(),
                            retryable: retryable_entry_code(&code),
                            code,
                            message,
                        }),
                    }
                }
            }
            Err(e) => out.failed.extend(entries.iter().map(|x| failed(x, &e))),
        }
    }
    out
}

/// The relay Lambda's batch: each SQS message body is one envelope from the denial bus. The
/// response names the messages to redeliver (`ReportBatchItemFailures`): those whose entry
/// failed for a reason worth retrying. Everything else is done with — relayed, reported as
/// `owner_unknown`, or dropped with its reason in the outcome.
pub async fn relay_sqs<R: OwnerResolver, F: DenialForwarder>(
    event: &SqsEvent,
    resolver: &R,
    forwarder: &F,
    now: &str,
) -> (RelayOutcome, SqsBatchResponse) {
    let inputs: Vec<Value> = event
        .records
        .iter()
        .map(|m| match &m.body {
            Some(text) => {
                serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone()))
            }
            None => Value::Null,
        })
        .collect();
    let outcome = relay(&inputs, resolver, Some(forwarder), now).await;
    let mut response = SqsBatchResponse::default();
    for i in outcome.retry_inputs() {
        if let Some(id) = event.records.get(i).and_then(|m| m.message_id.clone()) {
            response.add_failure(id);
        }
    }
    (outcome, response)
}

fn failed(e: &crate::core::relay::RelayEntry, err: &PortError) -> Failed {
    Failed {
        input: e.input,
        bus_arn: e.bus_arn.clone(),
        code: err.code.clone(),
        message: err.message.clone(),
        retryable: err.retryable(),
    }
}

/// PutEvents per-entry error codes worth another try; everything else (`AccessDeniedException`:
/// the owner has no relay bus or its policy refuses us, `ValidationException`, …) is a refusal
/// that retrying cannot fix.
fn retryable_entry_code(code: &str) -> bool {
    matches!(
        code,
        "ThrottlingException" | "InternalFailure" | "InternalException" | "ServiceUnavailable"
    )
}

#[cfg(test)]
mod tests;
