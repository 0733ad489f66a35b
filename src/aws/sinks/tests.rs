//! PutEvents delivery over a fake endpoint: a partial failure re-sends only the failed entries,
//! what succeeded is never sent twice, what still fails is reported, and an error once
//! something was delivered does not ask for a retry of the whole invocation.

use std::sync::{Arc, Mutex};

use super::*;

fn entries(n: usize) -> Vec<EventEntry> {
    (0..n)
        .map(|i| EventEntry {
            resource: format!("arn:aws:s3:::b{i:02}"),
            detail: format!("{{\"n\":{i}}}"),
        })
        .collect()
}

/// What a fake PutEvents endpoint does with one request: the per-entry answer, by the
/// entry's resource and the number of times that entry was sent so far.
type Answer = dyn Fn(&str, usize) -> Option<(String, String)> + Send + Sync;

/// Runs `deliver_events` against the fake; returns the result and every request's resources.
async fn run(
    n: usize,
    answer: Box<Answer>,
    fail_request: Option<usize>,
) -> (Result<usize, PortError>, Vec<Vec<String>>) {
    let log: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let all = entries(n);
    let out = deliver_events(&all, |chunk: Vec<EventEntry>| {
        let log = log.clone();
        let answer = &answer;
        async move {
            let mut l = log.lock().unwrap();
            l.push(chunk.iter().map(|e| e.resource.clone()).collect());
            if Some(l.len()) == fail_request {
                return Err(PortError::new(
                    ErrorClass::Transient,
                    "events:PutEvents",
                    "ServiceUnavailable",
                    "down",
                ));
            }
            let sent_before = |r: &str| l.iter().flatten().filter(|x| x.as_str() == r).count();
            Ok(chunk
                .iter()
                .map(|e| answer(&e.resource, sent_before(&e.resource)))
                .collect())
        }
    })
    .await;
    let requests = log.lock().unwrap().clone();
    (out, requests)
}

fn code(c: &str) -> Option<(String, String)> {
    Some((c.to_string(), format!("{c} from the fake")))
}

#[tokio::test]
async fn a_partial_failure_resends_only_the_failed_entries() {
    // b03 and b07 are throttled on their first attempt only.
    let (out, requests) = run(
        12,
        Box::new(|r, sent| {
            ((r == "arn:aws:s3:::b03" || r == "arn:aws:s3:::b07") && sent == 1)
                .then(|| code("ThrottlingException"))
                .flatten()
        }),
        None,
    )
    .await;
    assert_eq!(out, Ok(12));
    let sizes: Vec<usize> = requests.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![10, 2, 2], "{requests:?}");
    assert_eq!(requests[1], vec!["arn:aws:s3:::b03", "arn:aws:s3:::b07"]);
    // Every entry was delivered exactly once.
    for e in entries(12) {
        let times = requests
            .iter()
            .flatten()
            .filter(|r| **r == e.resource)
            .count();
        let expected = if e.resource.ends_with("b03") || e.resource.ends_with("b07") {
            2
        } else {
            1
        };
        assert_eq!(times, expected, "{}", e.resource);
    }
}

#[tokio::test]
async fn a_permanent_entry_error_is_reported_without_retry() {
    let (out, requests) = run(
        4,
        Box::new(|r, _| {
            (r == "arn:aws:s3:::b01")
                .then(|| code("MalformedDetail"))
                .flatten()
        }),
        None,
    )
    .await;
    assert_eq!(requests.len(), 1, "{requests:?}");
    let e = out.unwrap_err();
    assert_eq!(e.class, ErrorClass::Permanent);
    assert_eq!(e.code, "FailedEntryCount");
    assert!(
        e.message.contains("1 of 4 entries not delivered"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("3 delivered, not re-sent"),
        "{}",
        e.message
    );
    assert!(e.message.contains("b01 MalformedDetail"), "{}", e.message);
}

#[tokio::test]
async fn a_persistently_throttled_entry_gets_three_attempts_then_is_reported() {
    let (out, requests) = run(
        3,
        Box::new(|r, _| {
            (r == "arn:aws:s3:::b02")
                .then(|| code("ThrottlingException"))
                .flatten()
        }),
        None,
    )
    .await;
    assert_eq!(
        requests.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![3, 1, 1]
    );
    let e = out.unwrap_err();
    assert!(
        !e.retryable(),
        "the delivered entries must not be posted again"
    );
    assert!(e.message.contains("2 delivered"), "{}", e.message);
}

#[tokio::test]
async fn a_failed_request_is_retryable_only_while_nothing_was_delivered() {
    // The first request fails as a whole: nothing delivered, the invocation may retry.
    let (out, requests) = run(15, Box::new(|_, _| None), Some(1)).await;
    assert_eq!(requests.len(), 1);
    assert!(out.unwrap_err().retryable());
    // The second request fails: the first 10 are out, a retry would post them twice.
    let (out, requests) = run(15, Box::new(|_, _| None), Some(2)).await;
    assert_eq!(requests.len(), 2);
    let e = out.unwrap_err();
    assert!(!e.retryable());
    assert!(
        e.message.contains("5 of 15 entries not delivered"),
        "{}",
        e.message
    );
    assert!(e.message.contains("10 delivered"), "{}", e.message);
}

#[tokio::test]
async fn nothing_to_send_sends_nothing() {
    let (out, requests) = run(0, Box::new(|_, _| None), None).await;
    assert_eq!(out, Ok(0));
    assert!(requests.is_empty());
}
