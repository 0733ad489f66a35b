//! HTTP-level fault injection (issue 7): the real adapters, built by `aws::load_clients` with
//! the product's own retry and timeout defaults, talk to moto through `proxy::Proxy`, which
//! fails chosen calls on the wire. Unlike `faults` (errors injected at the port), this tests
//! the SDK's retries and timeouts and the classification in `src/aws/error.rs` against real
//! wire failures, and counts the attempts the SDK really made.
//!
//! Scenario of every case: a bucket shared with the compute account under `aws/s3`, without
//! TLS enforcement, and a CMK whose policy misses the compute account; enforce mode with key
//! patching: three writes (TLS Deny, key grant, move to the CMK).

use std::time::Duration;

use cmkguard::app::{self, Outcome, WriteResult};
use cmkguard::aws::{self, AwsOptions, Clients};
use cmkguard::config::SinkSettings;
use cmkguard::core::config::Mode;
use cmkguard::dev::emulator::Emulator;
use cmkguard::dev::scenario::{owner_only_key_policy, shared_policy, REGION};
use cmkguard::dev::seed::Seeder;
use cmkguard::ports::BucketReader;
use cmkguard::ports::Deps;
use serde_json::{json, Value};

use super::harness::*;
use super::proxy::{self, Fault, Proxy, Rule};

const WRITES: [&str; 3] = [
    "s3:PutBucketPolicy",
    "kms:PutKeyPolicy",
    "s3:PutBucketEncryption",
];

/// moto, clients straight to it (seeding, checking), clients through the proxy (the app).
struct FaultWorld {
    direct: Clients,
    proxied: Clients,
    proxy: Proxy,
    capture: Capture,
    _emulator: Emulator,
}

impl FaultWorld {
    async fn start() -> FaultWorld {
        let emulator = match Emulator::start(None) {
            Ok(e) => e,
            Err(why) => panic!("end-to-end tests need the AWS emulator: {why}"),
        };
        let direct = aws::load_clients(&cmkguard::dev::scenario::emulator_options(
            &emulator.endpoint_url,
        ))
        .await;
        let proxy = Proxy::start(&emulator.endpoint_url).await;
        // The product's defaults: standard retries (3 attempts), its attempt and operation
        // timeouts. Only where to connect and the dummy credentials differ.
        let proxied = aws::load_clients(&AwsOptions {
            endpoint_url: Some(proxy.url.clone()),
            region: Some(REGION.to_string()),
            static_credentials: Some(("testing".into(), "testing".into())),
            max_attempts: None,
            operation_timeout: None,
        })
        .await;
        FaultWorld {
            direct,
            proxied,
            proxy,
            capture: Capture::default(),
            _emulator: emulator,
        }
    }

    fn seed(&self) -> Seeder<'_> {
        Seeder {
            clients: &self.direct,
        }
    }

    /// A fresh bucket and CMK for one case.
    async fn scenario(&self, bucket: &str) -> Case {
        let s = self.seed();
        let cmk = s
            .create_key(bucket, Some(&owner_only_key_policy(DATA_ACCOUNT)))
            .await
            .expect("CreateKey");
        s.create_bucket(bucket).await.expect("CreateBucket");
        s.put_bucket_policy(bucket, &shared_policy(bucket).to_string())
            .await
            .expect("PutBucketPolicy");
        s.put_encryption(bucket, "aws:kms", None)
            .await
            .expect("PutBucketEncryption");
        let case = Case {
            bucket: bucket.to_string(),
            cmk,
            policy: Value::Null,
            key_policy: Value::Null,
            encryption: Value::Null,
        };
        self.state(case).await
    }

    /// The case with its current state read straight from moto.
    async fn state(&self, mut case: Case) -> Case {
        let s = self.seed();
        case.policy = s
            .get_bucket_policy(&case.bucket)
            .await
            .expect("GetBucketPolicy")
            .map(|p| serde_json::from_str(&p).expect("policy JSON"))
            .unwrap_or(Value::Null);
        case.key_policy =
            serde_json::from_str(&s.get_key_policy(&case.cmk).await.expect("GetKeyPolicy"))
                .expect("key policy JSON");
        case.encryption = cmkguard::aws::s3::S3Reader::new(self.direct.s3.clone())
            .read_bucket_encryption(&case.bucket, DATA_ACCOUNT)
            .await
            .expect("GetBucketEncryption")
            .unwrap_or(Value::Null);
        case
    }

    async fn handle(&self, case: &Case) -> Outcome {
        let d = aws::deps(&self.proxied, &SinkSettings::default());
        let deps = Deps {
            buckets: d.buckets,
            keys: MotoKeys(d.keys),
            writer: d.writer,
            sinks: vec![TestSink::Capture(self.capture.clone())],
        };
        let event = s3_event("PutBucketPolicy", &case.bucket, ADMIN_ROLE);
        app::handle(
            &event,
            &deps,
            &settings(Mode::Enforce, Some(&case.cmk), true),
        )
        .await
    }
}

/// One bucket + CMK and their state as last read.
#[derive(Clone, Debug)]
struct Case {
    bucket: String,
    cmk: String,
    policy: Value,
    key_policy: Value,
    encryption: Value,
}

impl Case {
    /// Every statement of `before` is still in place, unchanged (never remove a statement).
    fn assert_none_lost(&self, before: &Case) {
        for (what, old, new) in [
            ("bucket policy", &before.policy, &self.policy),
            ("key policy", &before.key_policy, &self.key_policy),
        ] {
            let now = statements(new);
            for s in statements(old) {
                assert!(
                    now.contains(&s),
                    "{}: {what} statement lost: {s}",
                    self.bucket
                );
            }
        }
    }

    /// The state the three writes produce.
    fn assert_fully_patched(&self) {
        assert!(
            statements(&self.policy)
                .iter()
                .any(|s| s["Sid"] == "DenyInsecureTransport"),
            "{}: no TLS Deny",
            self.bucket
        );
        assert!(
            self.key_policy.to_string().contains(COMPUTE_ACCOUNT),
            "{}: key not granted",
            self.bucket
        );
        assert_eq!(
            self.encryption
                .pointer("/ServerSideEncryptionConfiguration/Rules/0/ApplyServerSideEncryptionByDefault/KMSMasterKeyID")
                .and_then(Value::as_str),
            Some(self.cmk.as_str()),
            "{}: not moved to the CMK",
            self.bucket
        );
    }
}

fn apis(o: &Outcome) -> Vec<String> {
    o.writes().map(|w| w.api.clone()).collect()
}

/// Calls per operation the proxy saw, for the baseline comparison.
fn counts(p: &Proxy) -> Vec<(String, usize)> {
    let mut ops: Vec<String> = p.seen().iter().map(|s| s.operation.clone()).collect();
    ops.sort();
    ops.dedup();
    ops.into_iter()
        .map(|op| {
            let n = p.calls(&op);
            (op, n)
        })
        .collect()
}

/// Transient faults the SDK's retries absorb: the same outcome as without a fault, and the
/// proxy sees exactly `n` extra attempts of the faulted operation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_faults_are_absorbed_by_retries() {
    let w = FaultWorld::start().await;
    // The baseline: no fault.
    let base = w.scenario("base").await;
    w.proxy.set(vec![]);
    let o = w.handle(&base).await;
    assert!(!o.has_errors(), "{:?}", o.results[0].errors);
    assert_eq!(verified_writes(&o), WRITES);
    let baseline = counts(&w.proxy);
    let baseline_rules = rules(&o);
    w.state(base.clone()).await.assert_fully_patched();
    let calls_of = |op: &str| {
        baseline
            .iter()
            .find(|(o, _)| o == op)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };

    let cases: Vec<(&str, Rule, usize)> = vec![
        (
            "get-policy-503",
            Rule::times(
                "s3:GetBucketPolicy",
                2,
                Fault::S3Error {
                    status: 503,
                    code: "SlowDown",
                },
            ),
            2,
        ),
        (
            "get-enc-500",
            Rule::times(
                "s3:GetBucketEncryption",
                2,
                Fault::S3Error {
                    status: 500,
                    code: "InternalError",
                },
            ),
            2,
        ),
        (
            "describe-throttled",
            Rule::times(
                "kms:DescribeKey",
                2,
                Fault::KmsError {
                    status: 400,
                    code: "ThrottlingException",
                },
            ),
            2,
        ),
        (
            "get-acl-reset",
            Rule::times("s3:GetBucketAcl", 1, Fault::Reset),
            1,
        ),
        // A load balancer's bare 429 (no AWS error code) is retried like throttling.
        (
            "get-key-policy-bare-429",
            Rule::times("kms:GetKeyPolicy", 2, Fault::Status(429)),
            2,
        ),
        (
            "get-policy-cut",
            Rule::times("s3:GetBucketPolicy", 1, Fault::CutResponse),
            1,
        ),
        (
            "get-key-policy-timeout",
            Rule::times(
                "kms:GetKeyPolicy",
                1,
                Fault::Delay(aws::ATTEMPT_TIMEOUT + Duration::from_secs(2)),
            ),
            1,
        ),
        (
            "put-policy-503",
            Rule::times(
                "s3:PutBucketPolicy",
                2,
                Fault::S3Error {
                    status: 503,
                    code: "SlowDown",
                },
            ),
            2,
        ),
        (
            "put-key-policy-500",
            Rule::times(
                "kms:PutKeyPolicy",
                1,
                Fault::KmsError {
                    status: 500,
                    code: "KMSInternalException",
                },
            ),
            1,
        ),
        (
            "put-enc-reset",
            Rule::times("s3:PutBucketEncryption", 1, Fault::Reset),
            1,
        ),
        (
            "put-policy-cut",
            Rule::times("s3:PutBucketPolicy", 1, Fault::CutResponse),
            1,
        ),
    ];
    for (name, rule, extra) in cases {
        let op = rule.operation;
        let before = w.scenario(name).await;
        w.proxy.set(vec![rule]);
        let started = std::time::Instant::now();
        let o = w.handle(&before).await;
        let took = started.elapsed();
        let r = &o.results[0];
        assert!(r.errors.is_empty(), "{name}: {:?}", r.errors);
        assert_eq!(verified_writes(&o), WRITES, "{name}: {:?}", r.writes);
        assert_eq!(rules(&o), baseline_rules, "{name}");
        assert_eq!(
            w.proxy.calls(op),
            calls_of(op) + extra,
            "{name}: {op} attempts: {:?}",
            w.proxy.seen()
        );
        // Every other operation was called as often as without the fault.
        for (other, n) in &baseline {
            if other != op {
                assert_eq!(w.proxy.calls(other), *n, "{name}: {other}");
            }
        }
        let after = w.state(before.clone()).await;
        after.assert_fully_patched();
        after.assert_none_lost(&before);
        let faulted: Vec<String> = w
            .proxy
            .seen()
            .iter()
            .filter_map(|s| s.fault.clone())
            .collect();
        assert_eq!(faulted.len(), extra, "{name}: {faulted:?}");
        eprintln!(
            "http_faults: {name}: {extra} retried attempt(s) of {op} ({}), handled in {took:?}",
            faulted.join(", ")
        );
    }
}

/// Persistent faults: a classified error (`retryable` as the fault deserves), the SDK's
/// attempts counted, and not one write after a failed read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_read_faults_are_classified_and_nothing_is_written() {
    let w = FaultWorld::start().await;
    // (case, rule, expected error code, retryable, attempts the SDK makes)
    let cases: Vec<(&str, Rule, &str, bool, usize)> = vec![
        (
            "policy-slowdown",
            Rule::always(
                "s3:GetBucketPolicy",
                Fault::S3Error {
                    status: 503,
                    code: "SlowDown",
                },
            ),
            "SlowDown",
            true,
            3,
        ),
        (
            "enc-internal",
            Rule::always(
                "s3:GetBucketEncryption",
                Fault::S3Error {
                    status: 500,
                    code: "InternalError",
                },
            ),
            "InternalError",
            true,
            3,
        ),
        (
            "acl-reset",
            Rule::always("s3:GetBucketAcl", Fault::Reset),
            "dispatch",
            true,
            3,
        ),
        (
            "describe-throttled",
            Rule::always(
                "kms:DescribeKey",
                Fault::KmsError {
                    status: 400,
                    code: "ThrottlingException",
                },
            ),
            "ThrottlingException",
            true,
            3,
        ),
        // A bare 429 without an AWS error code: the SDK's standard classifiers do not retry it
        // (they retry 500/502/503/504 and known throttling codes); the product's retry
        // classifier (`aws::error::TooManyRequests`) makes it throttling, so all 3 attempts
        // are made, and the persistent failure is still classified retryable.
        (
            "policy-bare-429",
            Rule::always("kms:GetKeyPolicy", Fault::Status(429)),
            "Unknown",
            true,
            3,
        ),
        (
            "policy-denied",
            Rule::always(
                "s3:GetBucketPolicy",
                Fault::S3Error {
                    status: 403,
                    code: "AccessDenied",
                },
            ),
            "AccessDenied",
            false,
            1,
        ),
        (
            "policy-timeout",
            Rule::always(
                "s3:GetBucketPolicy",
                Fault::Delay(aws::ATTEMPT_TIMEOUT + Duration::from_secs(2)),
            ),
            "timeout",
            true,
            3,
        ),
    ];
    for (name, rule, code, retryable, attempts) in cases {
        let op = rule.operation;
        let before = w.scenario(name).await;
        w.proxy.set(vec![rule]);
        let o = w.handle(&before).await;
        let r = &o.results[0];
        let err = r
            .errors
            .iter()
            .find(|e| e.stage == "read")
            .unwrap_or_else(|| panic!("{name}: no read error: {r:?}"));
        assert_eq!(err.code, code, "{name}: {err:?}");
        assert_eq!(err.retryable, retryable, "{name}: {err:?}");
        assert_eq!(o.retryable(), retryable, "{name}");
        assert_eq!(w.proxy.calls(op), attempts, "{name}: {:?}", w.proxy.seen());
        assert!(
            w.proxy.writes_forwarded().is_empty(),
            "{name}: wrote {:?}",
            w.proxy.writes_forwarded()
        );
        assert_eq!(o.writes().count(), 0, "{name}");
        let after = w.state(before.clone()).await;
        assert_eq!(after.policy, before.policy, "{name}");
        assert_eq!(after.key_policy, before.key_policy, "{name}");
        assert_eq!(after.encryption, before.encryption, "{name}");
        eprintln!("http_faults: {name}: {attempts} attempt(s) of {op}, error {code} retryable={retryable}");
    }
}

/// (case, rule, error code, retryable, SDK attempts, writes that reached moto).
type WriteCase = (
    &'static str,
    Rule,
    &'static str,
    bool,
    usize,
    Vec<&'static str>,
);

/// Persistent faults on the writes: the first failed write stops the plan, so the bucket
/// never moves to a key that was not granted; a failed move leaves the encryption as it was
/// (no half-written configuration); no statement is lost; the error is classified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_write_faults_never_leave_a_partial_move() {
    let w = FaultWorld::start().await;
    // (case, rule, code, retryable, SDK attempts, writes that reached moto)
    let cases: Vec<WriteCase> = vec![
        (
            "grant-throttled",
            Rule::always(
                "kms:PutKeyPolicy",
                Fault::KmsError {
                    status: 400,
                    code: "ThrottlingException",
                },
            ),
            "ThrottlingException",
            true,
            3,
            vec!["s3:PutBucketPolicy"],
        ),
        (
            "grant-denied",
            Rule::always(
                "kms:PutKeyPolicy",
                Fault::KmsError {
                    status: 400,
                    code: "AccessDeniedException",
                },
            ),
            "AccessDeniedException",
            false,
            1,
            vec!["s3:PutBucketPolicy"],
        ),
        (
            "move-unavailable",
            Rule::always(
                "s3:PutBucketEncryption",
                Fault::S3Error {
                    status: 503,
                    code: "ServiceUnavailable",
                },
            ),
            "ServiceUnavailable",
            true,
            3,
            vec!["s3:PutBucketPolicy", "kms:PutKeyPolicy"],
        ),
        (
            "move-reset",
            Rule::always("s3:PutBucketEncryption", Fault::Reset),
            "dispatch",
            true,
            3,
            vec!["s3:PutBucketPolicy", "kms:PutKeyPolicy"],
        ),
        (
            "tls-denied",
            Rule::always(
                "s3:PutBucketPolicy",
                Fault::S3Error {
                    status: 403,
                    code: "AccessDenied",
                },
            ),
            "AccessDenied",
            false,
            1,
            vec![],
        ),
    ];
    for (name, rule, code, retryable, attempts, reached) in cases {
        let op = rule.operation;
        let before = w.scenario(name).await;
        w.proxy.set(vec![rule]);
        let o = w.handle(&before).await;
        let r = &o.results[0];
        let err = r
            .errors
            .iter()
            .find(|e| e.stage == "write")
            .unwrap_or_else(|| panic!("{name}: no write error: {r:?}"));
        assert_eq!(err.code, code, "{name}: {err:?}");
        assert_eq!(err.retryable, retryable, "{name}");
        assert_eq!(o.retryable(), retryable, "{name}");
        assert_eq!(w.proxy.calls(op), attempts, "{name}: {:?}", w.proxy.seen());
        assert_eq!(w.proxy.writes_forwarded(), reached, "{name}");
        assert_eq!(
            w.proxy.forwarded(op),
            0,
            "{name}: the failed write never reached moto"
        );
        // The failed write is reported as failed, the ones after it as skipped.
        let at = apis(&o)
            .iter()
            .position(|a| a == op)
            .expect("the faulted write");
        assert!(
            matches!(r.writes[at].result, WriteResult::Failed { retryable: rt, .. } if rt == retryable),
            "{name}: {:?}",
            r.writes
        );
        assert!(
            r.writes[at + 1..]
                .iter()
                .all(|w| matches!(w.result, WriteResult::Skipped { .. })),
            "{name}: {:?}",
            r.writes
        );
        let after = w.state(before.clone()).await;
        after.assert_none_lost(&before);
        // No partial move: the encryption is either untouched or, never here, the CMK.
        assert_eq!(
            after.encryption, before.encryption,
            "{name}: encryption changed"
        );
        if op == "kms:PutKeyPolicy" {
            assert_eq!(after.key_policy, before.key_policy, "{name}");
        }
        // The retry the classification asks for (or the next event) completes the job.
        w.proxy.set(vec![]);
        let again = w.handle(&before).await;
        assert!(!again.has_errors(), "{name}: {:?}", again.results[0].errors);
        w.state(before.clone()).await.assert_fully_patched();
        eprintln!("http_faults: {name}: {attempts} attempt(s) of {op}, error {code} retryable={retryable}, writes before it kept");
    }
}

/// A concurrent bucket-policy edit on the wire, in each of the three places it can land.
///
/// S3 has no conditional PutBucketPolicy, so one window cannot be closed: between the fresh
/// read right before our write and the write itself. An edit landing there is overwritten by
/// our write and lost, and nothing can tell (the read-back shows exactly what we wrote). The
/// test shows that loss honestly and measures the window as the proxy sees it (end of the
/// fresh GetBucketPolicy answer → our PutBucketPolicy arriving). Before that window the edit
/// is seen by the fresh read and kept (re-plan); after it, the read-back catches the edit that
/// removed our Deny and reports the write unverified, retryable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_policy_edit_on_the_wire() {
    let w = FaultWorld::start().await;
    let theirs = |bucket: &str| {
        json!({"Sid": "AddedConcurrently", "Effect": "Deny",
            "Principal": {"AWS": format!("arn:aws:iam::{COMPUTE_ACCOUNT}:root")},
            "Action": "s3:DeleteObject", "Resource": format!("arn:aws:s3:::{bucket}/*")})
    };
    // Their writer: read the policy as it is now, add their statement, write it back.
    let edit = |clients: Clients,
                bucket: String,
                statement: Value,
                base: Option<Value>|
     -> proxy::Action {
        Box::new(move || {
            Box::pin(async move {
                let s = Seeder { clients: &clients };
                let mut policy = match base {
                    Some(b) => b,
                    None => s
                        .get_bucket_policy(&bucket)
                        .await
                        .expect("their GetBucketPolicy")
                        .map(|p| serde_json::from_str(&p).expect("policy JSON"))
                        .expect("a policy"),
                };
                policy["Statement"]
                    .as_array_mut()
                    .expect("statements")
                    .push(statement);
                s.put_bucket_policy(&bucket, &policy.to_string())
                    .await
                    .expect("their PutBucketPolicy");
            })
        })
    };

    // 1. Before our fresh read (after the snapshot read): seen, re-planned, kept.
    let before = w.scenario("edit-before-fresh-read").await;
    let st = theirs(&before.bucket);
    w.proxy.set(vec![Rule::nth(
        "s3:GetBucketPolicy",
        2,
        Fault::before(edit(
            w.direct.clone(),
            before.bucket.clone(),
            st.clone(),
            None,
        )),
    )]);
    let o = w.handle(&before).await;
    let r = &o.results[0];
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert!(r.replanned, "{r:?}");
    let after = w.state(before.clone()).await;
    after.assert_none_lost(&before);
    after.assert_fully_patched();
    assert!(
        statements(&after.policy).contains(&st),
        "kept: {}",
        after.policy
    );

    // 2. Between our fresh read and our write: the window. Their edit lands in moto right
    // before our PutBucketPolicy is forwarded; our write (planned on the fresh read) replaces
    // it. The loss is silent: every write verifies.
    let before = w.scenario("edit-in-the-window").await;
    let st = theirs(&before.bucket);
    w.proxy.set(vec![Rule::nth(
        "s3:PutBucketPolicy",
        1,
        Fault::before(edit(
            w.direct.clone(),
            before.bucket.clone(),
            st.clone(),
            None,
        )),
    )]);
    let o = w.handle(&before).await;
    let r = &o.results[0];
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert!(!r.replanned);
    assert_eq!(verified_writes(&o), WRITES);
    let after = w.state(before.clone()).await;
    after.assert_none_lost(&before);
    assert!(
        !statements(&after.policy).contains(&st),
        "S3 has no conditional write: an edit inside the window is overwritten ({})",
        after.policy
    );
    // The window: from the end of our fresh read's answer to our write reaching the proxy.
    let seen = w.proxy.seen();
    let fresh = seen
        .iter()
        .find(|s| s.operation == "s3:GetBucketPolicy" && s.call == 2)
        .expect("fresh read");
    let put = seen
        .iter()
        .find(|s| s.operation == "s3:PutBucketPolicy")
        .expect("our write");
    let window = put.received.duration_since(fresh.done);
    eprintln!("http_faults: read-to-write window for the bucket policy: {window:?}");
    assert!(
        window < Duration::from_millis(500),
        "the window grew: {window:?} between the fresh read and the write"
    );

    // 3. After our write, before our read-back: a writer working from the policy it read
    // before our write puts it back without our Deny. The read-back sees it: unverified,
    // retryable, and the retry adds the Deny again while keeping their statement.
    let before = w.scenario("edit-after-write").await;
    let st = theirs(&before.bucket);
    w.proxy.set(vec![Rule::nth(
        "s3:PutBucketPolicy",
        1,
        Fault::after(edit(
            w.direct.clone(),
            before.bucket.clone(),
            st.clone(),
            Some(before.policy.clone()),
        )),
    )]);
    let o = w.handle(&before).await;
    let r = &o.results[0];
    assert!(
        matches!(r.writes[0].result, WriteResult::Unverified { .. }),
        "{:?}",
        r.writes
    );
    assert!(
        r.writes[1..]
            .iter()
            .all(|w| matches!(w.result, WriteResult::Skipped { .. })),
        "{:?}",
        r.writes
    );
    let after = w.state(before.clone()).await;
    after.assert_none_lost(&before);
    assert_eq!(
        after.encryption, before.encryption,
        "no move after an unverified write"
    );
    w.proxy.set(vec![]);
    let again = w.handle(&before).await;
    assert!(!again.has_errors(), "{:?}", again.results[0].errors);
    let after = w.state(before.clone()).await;
    after.assert_fully_patched();
    assert!(
        statements(&after.policy).contains(&st),
        "their statement kept on retry"
    );
    eprintln!(
        "http_faults: edit after our write: unverified, retryable={}",
        o.retryable()
    );
}
