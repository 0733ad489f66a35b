//! The relay run over fakes: inventory asked only when a record needs it, PutEvents requests
//! of at most ten entries, failed entries mapped back to their inputs (only retryable ones
//! are retried), and the SQS event shape the relay's Lambda receives.

use super::*;
use crate::core::relay::RelayEntry;
use crate::ports::ErrorClass;
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Mutex;

const NOW: &str = "2024-11-25T10:02:46Z";

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// A KMS denial with its own request id, so a batch of them holds no duplicates.
fn kms_denial(n: usize) -> Value {
    let mut v = fixture("kms-Decrypt-AccessDeniedException-cross-account.json");
    v["detail"]["requestID"] = json!(format!("req-{n}"));
    v
}

/// Records every request; answers with `fail` for the entries whose input is listed.
#[derive(Default)]
struct Bus {
    requests: Mutex<Vec<usize>>,
    fail: Vec<(usize, &'static str)>,
    down: bool,
}

impl DenialForwarder for Bus {
    async fn put(
        &self,
        entries: &[RelayEntry],
    ) -> Result<Vec<Option<(String, String)>>, PortError> {
        self.requests.lock().unwrap().push(entries.len());
        if self.down {
            return Err(PortError::new(
                ErrorClass::Transient,
                "events:PutEvents",
                "ServiceUnavailable",
                "down",
            ));
        }
        Ok(entries
            .iter()
            .map(|e| {
                self.fail
                    .iter()
                    .find(|(i, _)| *i == e.input)
                    .map(|(_, code)| (code.to_string(), "refused".to_string()))
            })
            .collect())
    }
}

/// Counts inventory questions; answers with a map or an error.
struct Inventory {
    asked: Mutex<Vec<BTreeSet<String>>>,
    answer: Result<OwnerMap, PortError>,
}

impl OwnerResolver for Inventory {
    async fn owners(&self, buckets: &BTreeSet<String>) -> Result<OwnerMap, PortError> {
        self.asked.lock().unwrap().push(buckets.clone());
        self.answer.clone()
    }
}

fn inventory(answer: Result<OwnerMap, PortError>) -> Inventory {
    Inventory {
        asked: Mutex::new(Vec::new()),
        answer,
    }
}

#[tokio::test]
async fn twelve_denials_make_two_requests_and_the_inventory_is_not_asked() {
    let inputs: Vec<Value> = (0..12).map(kms_denial).collect();
    let bus = Bus::default();
    let inv = inventory(Ok(OwnerMap::default()));
    let out = relay(&inputs, &inv, Some(&bus), NOW).await;
    assert_eq!(out.sent, 12);
    assert_eq!(*bus.requests.lock().unwrap(), vec![10, 2]);
    assert!(
        inv.asked.lock().unwrap().is_empty(),
        "every record names its owner"
    );
    assert!(out.retry_inputs().is_empty());
}

#[tokio::test]
async fn failed_entries_map_back_to_their_inputs_and_only_retryable_ones_are_retried() {
    let inputs: Vec<Value> = (0..4).map(kms_denial).collect();
    let bus = Bus {
        fail: vec![(1, "ThrottlingException"), (3, "AccessDeniedException")],
        ..Bus::default()
    };
    let out = relay(&inputs, &OwnerMap::default(), Some(&bus), NOW).await;
    assert_eq!(out.sent, 2);
    assert_eq!(out.failed.len(), 2);
    assert_eq!(
        out.retry_inputs(),
        vec![1],
        "a refusal is not retried: {out:#?}"
    );
}

#[tokio::test]
async fn a_bus_outage_fails_every_entry_of_the_request_as_retryable() {
    let inputs: Vec<Value> = (0..3).map(kms_denial).collect();
    let bus = Bus {
        down: true,
        ..Bus::default()
    };
    let out = relay(&inputs, &OwnerMap::default(), Some(&bus), NOW).await;
    assert_eq!(out.sent, 0);
    assert_eq!(out.retry_inputs(), vec![0, 1, 2]);
}

#[tokio::test]
async fn redacted_records_ask_the_inventory_for_their_buckets_only() {
    let inputs = vec![
        fixture("s3-GetObject-AccessDenied-caller-redacted.json"),
        kms_denial(0),
    ];
    let map = OwnerMap(
        [(
            "data-shared-analytics".to_string(),
            "111122223333".to_string(),
        )]
        .into(),
    );
    let inv = inventory(Ok(map));
    let out = relay(&inputs, &inv, None::<&Bus>, NOW).await;
    assert_eq!(
        *inv.asked.lock().unwrap(),
        vec![BTreeSet::from(["data-shared-analytics".to_string()])]
    );
    assert_eq!(out.plan.entries.len(), 2);
    assert_eq!(out.sent, 0, "no forwarder: planned only");
}

#[tokio::test]
async fn an_inventory_failure_leaves_the_record_owner_unknown() {
    let inputs = vec![fixture("s3-GetObject-AccessDenied-caller-redacted.json")];
    let inv = inventory(Err(PortError::new(
        ErrorClass::Permanent,
        "config:SelectAggregateResourceConfig",
        "NoSuchConfigurationAggregatorException",
        "no aggregator",
    )));
    let out = relay(&inputs, &inv, Some(&Bus::default()), NOW).await;
    assert!(out.plan.entries.is_empty());
    assert_eq!(out.plan.owner_unknown.len(), 1);
    assert!(out.inventory_error.unwrap().contains("no aggregator"));
}

#[test]
fn inputs_of_reads_sqs_events_log_files_and_single_events() {
    let body = kms_denial(0);
    let sqs = json!({"Records": [
        {"messageId": "m1", "eventSource": "aws:sqs", "body": body.to_string()},
        {"messageId": "m2", "eventSource": "aws:sqs", "body": "not json"}
    ]});
    let got = inputs_of(&sqs);
    assert_eq!(got[0], body);
    assert_eq!(got[1], json!("not json"));
    let log = json!({"Records": [body["detail"].clone()]});
    assert_eq!(inputs_of(&log), vec![body["detail"].clone()]);
    assert_eq!(inputs_of(&body), vec![body.clone()]);
    assert_eq!(inputs_of(&json!({"Records": []})), Vec::<Value>::new());
}
