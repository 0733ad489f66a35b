//! `cmkguard backfill` end to end: moto lacks CloudTrail `LookupEvents`, so a tiny HTTP
//! fixture server (std `TcpListener`, one thread) answers it with recorded responses —
//! several pages joined by `NextToken`, a throttled first attempt, realistic `CloudTrailEvent`
//! strings built from the events/ fixtures — while S3 and KMS stay on the emulator, where the
//! handler re-reads the real state. Asserts the replay found the expected findings, followed
//! the pagination, retried the throttled page, paced its requests and made no write.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cmkguard::aws::trigger_path;
use cmkguard::commands::backfill;
use cmkguard::core::backfill::Window;
use cmkguard::core::config::Mode;
use cmkguard::dev::scenario::emulator_options;
use serde_json::{json, Value};

use super::harness::*;
use super::SHARED;

const NO_TLS: &str = "data-no-tls";

/// One recorded request: when it arrived and its JSON body.
type Seen = Arc<Mutex<Vec<(Instant, Value)>>>;

/// Recorded LookupEvents answers: event name → pages (each page a list of records).
struct Fixture {
    url: String,
    seen: Seen,
}

impl Fixture {
    /// Serves `pages`; each `(event name, error code)` in `faults` answers one request for
    /// that name with a 400 of that code (e.g. ThrottlingException) instead.
    fn serve(pages: BTreeMap<String, Vec<Vec<Value>>>, faults: &[(&str, &str)]) -> Fixture {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fixture server");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen: Seen = Arc::default();
        let throttled: Arc<Mutex<Vec<(String, String)>>> = Arc::new(Mutex::new(
            faults
                .iter()
                .map(|(n, c)| (n.to_string(), c.to_string()))
                .collect(),
        ));
        let pages = Arc::new(pages);
        let seen2 = seen.clone();
        // Detached: it blocks in accept() until the test process ends.
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (pages, seen, throttled) = (pages.clone(), seen2.clone(), throttled.clone());
                std::thread::spawn(move || serve_connection(stream, &pages, &seen, &throttled));
            }
        });
        Fixture { url, seen }
    }

    fn requests(&self) -> Vec<(Instant, Value)> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve_connection(
    stream: TcpStream,
    pages: &BTreeMap<String, Vec<Vec<Value>>>,
    seen: &Seen,
    throttled: &Mutex<Vec<(String, String)>>,
) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut out = stream;
    // Keep-alive: one request after another on the same connection.
    loop {
        let mut length = 0usize;
        let mut target = String::new();
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                match k.trim().to_ascii_lowercase().as_str() {
                    "content-length" => length = v.trim().parse().unwrap_or(0),
                    "x-amz-target" => target = v.trim().to_string(),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        seen.lock().unwrap().push((Instant::now(), req.clone()));
        let name = req["LookupAttributes"][0]["AttributeValue"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let (status, reply) = if !target.ends_with(".LookupEvents") {
            (
                400,
                json!({"__type": "UnknownOperationException", "message": target}),
            )
        } else if let Some(code) = take(throttled, &name) {
            (400, json!({"__type": code, "message": "recorded fault"}))
        } else {
            let n: usize = req["NextToken"]
                .as_str()
                .and_then(|t| t.strip_prefix("page-"))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let list = pages.get(&name).map(Vec::as_slice).unwrap_or(&[]);
            let records = list.get(n).cloned().unwrap_or_default();
            let events: Vec<Value> = records
                .iter()
                .map(|r| {
                    json!({
                        "EventId": r["eventID"],
                        "EventName": r["eventName"],
                        "ReadOnly": "false",
                        "EventTime": 1_700_000_000.0,
                        "EventSource": r["eventSource"],
                        "Username": "admin",
                        "Resources": [],
                        "CloudTrailEvent": r.to_string(),
                    })
                })
                .collect();
            let mut page = json!({"Events": events});
            if n + 1 < list.len() {
                page["NextToken"] = json!(format!("page-{}", n + 1));
            }
            (200, page)
        };
        let body = reply.to_string();
        let head = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-RequestId: fixture\r\nContent-Length: {}\r\n\r\n",
            if status == 200 { "OK" } else { "Bad Request" },
            body.len()
        );
        if out
            .write_all(head.as_bytes())
            .and_then(|_| out.write_all(body.as_bytes()))
            .is_err()
        {
            return;
        }
    }
}

fn take(list: &Mutex<Vec<(String, String)>>, name: &str) -> Option<String> {
    let mut l = list.lock().unwrap();
    let i = l.iter().position(|(n, _)| n == name)?;
    Some(l.remove(i).1)
}

/// A record from events/ (the envelope's `detail`), re-dated and re-numbered.
fn record(fixture: &str, id: &str, secs_ago: u64, now: u64) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(fixture);
    let v: Value = serde_json::from_slice(&std::fs::read(&path).expect("fixture")).expect("JSON");
    let mut r = v.get("detail").cloned().unwrap_or(v);
    r["eventID"] = json!(id);
    r["eventTime"] = json!(cmkguard::core::time::rfc3339(now - secs_ago));
    r
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_replays_recorded_history_and_follows_pagination() {
    let (w, cmk) = super::shared_world().await;
    w.seed().create_bucket(NO_TLS).await.expect("CreateBucket");
    let now = now();

    let mut key = record("kms-PutKeyPolicy-basic.json", "k1", 600, now);
    key["requestParameters"]["keyId"] = json!(cmk);
    key["resources"][0]["ARN"] = json!(cmk);
    // Another service's TagResource answers the same event-name lookup: not a trigger.
    let mut lambda_tag = record("kms-PutKeyPolicy-basic.json", "t1", 500, now);
    lambda_tag["eventSource"] = json!("lambda.amazonaws.com");
    lambda_tag["eventName"] = json!("TagResource");
    let mut create_shared = record("s3-CreateBucket-basic.json", "c0", 7_200, now);
    create_shared["requestParameters"]["bucketName"] = json!(SHARED);
    let mut pages: BTreeMap<String, Vec<Vec<Value>>> = BTreeMap::new();
    pages.insert(
        "PutBucketPolicy".into(),
        vec![
            vec![
                record("s3-PutBucketPolicy-shared-no-tls.json", "p1", 3_600, now),
                record("s3-PutBucketPolicy-shared-no-tls.json", "p2", 1_800, now),
            ],
            vec![record(
                "s3-PutBucketPolicy-shared-no-tls.json",
                "p3",
                900,
                now,
            )],
        ],
    );
    pages.insert(
        "CreateBucket".into(),
        vec![vec![
            record("s3-CreateBucket-basic.json", "c1", 300, now),
            create_shared,
        ]],
    );
    pages.insert("PutKeyPolicy".into(), vec![vec![key]]);
    pages.insert("TagResource".into(), vec![vec![lambda_tag]]);
    let fixture = Fixture::serve(pages, &[("CreateBucket", "ThrottlingException")]);

    let opts = emulator_options("http://127.0.0.1:9"); // unused: CloudTrail goes to the fixture
    let mut history = trigger_path::load(&opts, Some(&fixture.url)).await.history;
    history.min_interval = Duration::from_millis(100);
    let settings = settings(Mode::Report, Some(&cmk), false);
    let before = w.bucket_policy(SHARED).await;
    let window = Window {
        start: now - 86_400,
        end: now,
    };
    let mut lines = Vec::new();
    let started = Instant::now();
    let s = backfill::run(
        &history,
        &w.deps(&settings.sinks),
        &settings,
        window,
        &mut |l| lines.push(l),
    )
    .await;

    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(s.events_seen, 7);
    // Latest per resource: SHARED (p3 supersedes p1, p2 and its CreateBucket), data-no-tls, the key.
    assert_eq!(s.events_replayed, 3);
    assert_eq!(s.superseded, 3);
    assert_eq!(s.ignored, 1, "the Lambda TagResource");
    let found: Vec<(String, String)> = s
        .findings
        .iter()
        .map(|f| (f.rule_id.to_string(), f.resource_arn.clone()))
        .collect();
    for (rule, arn) in [
        (
            "SHARED_BUCKET_AWS_MANAGED_KEY",
            format!("arn:aws:s3:::{SHARED}"),
        ),
        ("TLS_NOT_ENFORCED", format!("arn:aws:s3:::{SHARED}")),
        ("TLS_NOT_ENFORCED", format!("arn:aws:s3:::{NO_TLS}")),
        ("KEY_ROTATION_DISABLED", cmk.clone()),
    ] {
        assert!(
            found.contains(&(rule.to_string(), arn.clone())),
            "{rule} {arn} not in {found:?}"
        );
    }
    // Report mode: nothing written.
    assert_eq!(w.bucket_policy(SHARED).await, before);

    let reqs = fixture.requests();
    let names: Vec<&str> = reqs
        .iter()
        .map(|(_, r)| {
            r["LookupAttributes"][0]["AttributeValue"]
                .as_str()
                .unwrap_or("")
        })
        .collect();
    let watched = cmkguard::core::event::watched_events().count();
    // One lookup per watched name, + the second PutBucketPolicy page, + the throttled retry.
    assert_eq!(reqs.len(), watched + 2, "{names:?}");
    assert_eq!(names.iter().filter(|n| **n == "CreateBucket").count(), 2);
    let pbp: Vec<&Value> = reqs
        .iter()
        .filter(|(_, r)| r["LookupAttributes"][0]["AttributeValue"] == "PutBucketPolicy")
        .map(|(_, r)| r)
        .collect();
    assert_eq!(pbp.len(), 2);
    assert_eq!(pbp[0].get("NextToken"), None);
    assert_eq!(pbp[1]["NextToken"], "page-1");
    assert_eq!(
        pbp[0]["StartTime"].as_f64().map(|t| t as u64),
        Some(window.start)
    );
    assert_eq!(
        pbp[0]["EndTime"].as_f64().map(|t| t as u64),
        Some(window.end)
    );
    // Paced: the client sends at most one request per interval, so the last request cannot
    // arrive earlier than (requests - 1) gaps after the start (arrival jitter only delays).
    // One gap, before the throttled page's retry, is the 1 s back-off instead.
    let last = reqs.last().unwrap().0.duration_since(started);
    let floor = Duration::from_millis(100) * (reqs.len() as u32 - 2) + Duration::from_secs(1);
    assert!(
        last >= floor,
        "{} requests in {last:?}, floor {floor:?}",
        reqs.len()
    );
    assert!(
        lines.iter().any(|l| l.starts_with("replay 3/3")),
        "{lines:?}"
    );
    assert_eq!(s.pages, watched + 1);

    let v = serde_json::to_value(&s).unwrap();
    for field in [
        "events_seen",
        "events_replayed",
        "ignored",
        "findings",
        "errors",
    ] {
        assert!(v.get(field).is_some(), "{field} missing");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_reports_a_failed_lookup_and_goes_on() {
    let (w, cmk) = super::shared_world().await;
    let now = now();
    let mut pages: BTreeMap<String, Vec<Vec<Value>>> = BTreeMap::new();
    pages.insert(
        "PutBucketPolicy".into(),
        vec![vec![record(
            "s3-PutBucketPolicy-shared-no-tls.json",
            "p1",
            60,
            now,
        )]],
    );
    // PutKeyPolicy is throttled more often than the adapter retries.
    let fixture = Fixture::serve(pages, &[("PutKeyPolicy", "ThrottlingException"); 3]);
    let mut history =
        trigger_path::load(&emulator_options("http://127.0.0.1:9"), Some(&fixture.url))
            .await
            .history;
    history.min_interval = Duration::from_millis(10);
    history.max_attempts = 2;
    let settings = settings(Mode::Report, Some(&cmk), false);
    let s = backfill::run(
        &history,
        &w.deps(&settings.sinks),
        &settings,
        Window {
            start: now - 3_600,
            end: now,
        },
        &mut |_| {},
    )
    .await;
    assert_eq!(s.errors.len(), 1, "{:?}", s.errors);
    assert_eq!(s.errors[0].stage, "lookup");
    assert_eq!(s.errors[0].subject, "PutKeyPolicy");
    assert!(
        s.errors[0].message.contains("ThrottlingException"),
        "{}",
        s.errors[0].message
    );
    assert_eq!(s.events_replayed, 1);
    assert!(s
        .findings
        .iter()
        .any(|f| f.rule_id.as_str() == "TLS_NOT_ENFORCED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_stops_looking_up_after_a_denied_lookup() {
    let (w, cmk) = super::shared_world().await;
    let fixture = Fixture::serve(
        BTreeMap::new(),
        &[("CreateBucket", "AccessDeniedException")],
    );
    let mut history =
        trigger_path::load(&emulator_options("http://127.0.0.1:9"), Some(&fixture.url))
            .await
            .history;
    history.min_interval = Duration::from_millis(10);
    let settings = settings(Mode::Report, Some(&cmk), false);
    let now = now();
    let s = backfill::run(
        &history,
        &w.deps(&settings.sinks),
        &settings,
        Window {
            start: now - 3_600,
            end: now,
        },
        &mut |_| {},
    )
    .await;
    // The first name is denied; the other names would be too, so none is tried.
    assert_eq!(fixture.requests().len(), 1);
    assert_eq!(s.errors.len(), 1, "{:?}", s.errors);
    assert!(
        s.errors[0].message.contains("AccessDeniedException"),
        "{}",
        s.errors[0].message
    );
    assert_eq!((s.events_seen, s.events_replayed), (0, 0));
}

/// The binary refuses a window CloudTrail does not keep, before any request.
#[test]
fn backfill_cli_refuses_more_than_90_days() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cmkguard"))
        .args(["backfill", "--since", "91d", "--region", "eu-west-1"])
        .output()
        .expect("run cmkguard");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("90 days"), "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cmkguard"))
        .args(["backfill", "--since", "yesterday"])
        .output()
        .expect("run cmkguard");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad duration"));
}
