//! Criterion benchmarks of the pure core: event parsing, decide() per event (small, near-20 KB
//! and 60 conditioned statements bucket policy), and the policy judges and TLS patch on the
//! same policies. Run: `cargo bench --bench core`.

use std::hint::black_box;

use cmkguard::core::config::{Config, Mode};
use cmkguard::core::decide::decide;
use cmkguard::core::event::{parse_event_bytes, EventInput, Parsed};
use cmkguard::core::policy::patch::{patch_tls, DEFAULT_TLS_SID, MAX_BUCKET_POLICY_BYTES};
use cmkguard::core::policy::secure_transport::evaluate_tls;
use cmkguard::core::policy::sharing::{evaluate_policy_sharing, BucketContext, Trust};
use cmkguard::core::policy::Policy;
use cmkguard::core::snapshot::Snapshot;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Value};

const EVENT: &[u8] = include_bytes!("../events/s3-PutBucketPolicy-shared-no-tls.json");
const STATE: &str = include_str!("../tests/state/data-shared-analytics.json");
const BUCKET: &str = "data-shared-analytics";
const OWNER: &str = "111122223333";

fn small_policy() -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Share", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:role/reader"},
         "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": [format!("arn:aws:s3:::{BUCKET}"), format!("arn:aws:s3:::{BUCKET}/*")]},
        {"Sid": "Org", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{BUCKET}/*"),
         "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}}
    ]})
}

/// Statements until the document is just under the 20 KB limit (minus room for our Deny).
fn big_policy() -> Value {
    let mut statements = Vec::new();
    let mut i = 0;
    loop {
        let st = json!({"Sid": format!("Grant{i:04}"), "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{:012}:role/reader-{i}", 444455556666u64 + i)},
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": [format!("arn:aws:s3:::{BUCKET}"), format!("arn:aws:s3:::{BUCKET}/team-{i}/*")],
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}});
        statements.push(st);
        let size = json!({"Version": "2012-10-17", "Statement": statements})
            .to_string()
            .len();
        if size > MAX_BUCKET_POLICY_BYTES - 400 {
            statements.pop();
            break;
        }
        i += 1;
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The shape real shared buckets have: 60 statements, each granting another account's role
/// and each narrowed by conditions (organisation id and source IP ranges), plus a
/// wide org-wide read with the same conditions every tenth statement.
fn conditioned_policy() -> Value {
    let statements: Vec<Value> = (0..60u64)
        .map(|i| {
            let principal = if i % 10 == 9 {
                json!("*")
            } else {
                json!({"AWS": format!("arn:aws:iam::{:012}:role/team-{i}", 444455556666u64 + i)})
            };
            json!({"Sid": format!("Team{i:02}"), "Effect": "Allow", "Principal": principal,
                "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
                "Resource": [format!("arn:aws:s3:::{BUCKET}"), format!("arn:aws:s3:::{BUCKET}/team-{i}/*")],
                "Condition": {
                    "StringEquals": {"aws:PrincipalOrgID": "o-abc123"},
                    "IpAddress": {"aws:SourceIp": [format!("10.{i}.0.0/16"), "192.0.2.0/24"]}
                }})
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn bench_events(c: &mut Criterion) {
    let snapshot: Snapshot = serde_json::from_str(STATE).expect("state");
    let config = Config {
        mode: Mode::Enforce,
        patch_key_policy: true,
        cmk_arn: Some(
            "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(),
        ),
        ..Config::default()
    };
    let trigger = match parse_event_bytes(EVENT) {
        Ok(EventInput::Single(Parsed::Trigger(t))) => t,
        other => panic!("fixture is not a trigger: {other:?}"),
    };
    let mut g = c.benchmark_group("event");
    g.bench_function("parse_envelope", |b| {
        b.iter(|| parse_event_bytes(black_box(EVENT)))
    });
    g.bench_function("decide_shared_bucket_enforce", |b| {
        b.iter(|| decide(black_box(&trigger), black_box(&snapshot), &config))
    });
    // The same bucket under a policy just under the 20 KB limit: decide() parses and judges
    // the whole document (sharing over every statement, the TLS search, the patch plan).
    let mut big = snapshot.clone();
    if let Some(bucket) = big.bucket.as_mut() {
        bucket.policy = Some(Value::String(big_policy().to_string()));
    }
    g.bench_function("decide_shared_bucket_enforce_20kb_policy", |b| {
        b.iter(|| decide(black_box(&trigger), black_box(&big), &config))
    });
    let mut conditioned = snapshot.clone();
    if let Some(bucket) = conditioned.bucket.as_mut() {
        bucket.policy = Some(Value::String(conditioned_policy().to_string()));
    }
    g.bench_function(
        "decide_shared_bucket_enforce_60_conditioned_statements",
        |b| b.iter(|| decide(black_box(&trigger), black_box(&conditioned), &config)),
    );
    g.bench_function("parse_and_decide", |b| {
        b.iter(|| match parse_event_bytes(black_box(EVENT)) {
            Ok(EventInput::Single(Parsed::Trigger(t))) => Some(decide(&t, &snapshot, &config)),
            _ => None,
        })
    });
    g.finish();
}

fn bench_policies(c: &mut Criterion) {
    let ctx = BucketContext {
        bucket: BUCKET,
        owner_account: OWNER,
        owner_canonical_id: None,
        partition: "aws",
    };
    let trust = Trust::default();
    for (name, doc) in [
        ("small", small_policy()),
        ("20kb", big_policy()),
        ("60_conditioned", conditioned_policy()),
    ] {
        let text = doc.to_string();
        let mut g = c.benchmark_group(format!("policy_{name}"));
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function("check_policy", |b| {
            b.iter(|| {
                let p = Policy::parse_text(black_box(&text)).expect("policy");
                (
                    evaluate_tls(Some(&p), BUCKET, "aws"),
                    evaluate_policy_sharing(&p, &ctx, &trust),
                )
            })
        });
        g.bench_function("patch_tls", |b| {
            b.iter(|| patch_tls(Some(black_box(&doc)), BUCKET, "aws", DEFAULT_TLS_SID))
        });
        g.finish();
    }
}

criterion_group!(benches, bench_events, bench_policies);
criterion_main!(benches);
