//! The request budget of the targets, measured by the product's own request counter
//! (`aws::metrics`) on the real SDK clients against moto: a bucket event in report mode makes
//! at most 3 sequential round trips, at most 6 reads and no write, and a repeated event in
//! enforce mode makes zero writes.

use super::harness::*;
use super::SHARED;
use cmkguard::app::{self, Outcome};
use cmkguard::aws::metrics::{RequestCounts, RequestMetrics};
use cmkguard::aws::{self, Clients};
use cmkguard::config::Settings;
use cmkguard::core::config::Mode;
use cmkguard::dev::emulator::Emulator;
use cmkguard::dev::scenario::{emulator_options, shared_policy};
use cmkguard::dev::seed::Seeder;
use cmkguard::ports::Deps;
use serde_json::Value;

/// The harness's shared-bucket world, on clients that count their requests.
struct Counted {
    clients: Clients,
    requests: RequestMetrics,
    cmk: String,
    // Last: dropped after the clients, and always (the guard kills moto).
    _emulator: Emulator,
}

impl Counted {
    /// A shared bucket under aws/s3 without TLS, and a CMK whose policy misses the compute
    /// account (the same state as `super::shared_world`).
    async fn start() -> Counted {
        let emulator = Emulator::start(None).expect("the AWS emulator");
        let (clients, requests) =
            aws::load_counted_clients(&emulator_options(&emulator.endpoint_url)).await;
        let cmk = super::seed_shared(&Seeder { clients: &clients }).await;
        Counted {
            clients,
            requests,
            cmk,
            _emulator: emulator,
        }
    }

    async fn handle(&self, event: &Value, settings: &Settings) -> Outcome {
        let d = aws::deps(&self.clients, &settings.sinks);
        let deps = Deps {
            buckets: d.buckets,
            keys: MotoKeys(d.keys),
            writer: d.writer,
            sinks: d.sinks,
            identities: d.identities,
        };
        app::handle(event, &deps, settings).await
    }
}

/// Report mode, the shared bucket under aws/s3 with a CMK configured: the counts of one event.
async fn report_counts(patch_key_policy: bool) -> RequestCounts {
    let w = Counted::start().await;
    let event = s3_event("PutBucketPolicy", SHARED, ADMIN_ROLE);
    w.requests.reset();
    let o = w
        .handle(
            &event,
            &settings(Mode::Report, Some(&w.cmk), patch_key_policy),
        )
        .await;
    assert!(o.results[0].errors.is_empty(), "{:?}", o.results[0].errors);
    assert!(o.findings().count() > 0, "the shared bucket has findings");
    w.requests.snapshot()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_mode_bucket_event_stays_within_three_rounds_and_never_writes() {
    let c = report_counts(true).await;
    assert!(c.reads >= 4, "at least the four bucket reads: {c:?}");
    assert_eq!(c.writes, 0, "report mode never writes: {c:?}");
    assert_eq!(c.total, c.reads + c.writes);
    assert!(c.depth >= 1 && c.depth <= 3, "depth {c:?}");
    assert_eq!(c.by_operation.values().sum::<u64>(), c.total);
    for op in [
        "s3:GetBucketPolicy",
        "s3:GetBucketEncryption",
        "s3:GetBucketAcl",
        "s3:GetBucketTagging",
    ] {
        assert_eq!(c.by_operation.get(op), Some(&1), "{op} once: {c:?}");
    }
}

// The 4 bucket reads plus the configured CMK's DescribeKey and GetKeyPolicy (a bucket
// decision needs no rotation or aliases of a key), all in the first round trip. With
// key-policy patching on, the CMK's tags are read too: a key carrying the exemption tag is
// never patched, so that one read is the price of the check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_mode_bucket_event_makes_at_most_six_reads() {
    let c = report_counts(false).await;
    assert!(c.reads <= 6, "reads {c:?}");
    // All six go out together; the measured depth is an upper bound (a request that answers
    // before the scheduler sends the next one counts as a round), so the target is asserted.
    assert!(c.depth <= 3, "depth {c:?}");
    assert_eq!(c.by_operation.get("kms:DescribeKey"), Some(&1), "{c:?}");
    assert_eq!(c.by_operation.get("kms:GetKeyPolicy"), Some(&1), "{c:?}");
    for op in [
        "kms:ListAliases",
        "kms:ListResourceTags",
        "kms:GetKeyRotationStatus",
    ] {
        assert!(!c.by_operation.contains_key(op), "{op}: {c:?}");
    }
    let with_patching = report_counts(true).await;
    assert_eq!(with_patching.reads, c.reads + 1, "{with_patching:?}");
    assert_eq!(
        with_patching.by_operation.get("kms:ListResourceTags"),
        Some(&1),
        "{with_patching:?}"
    );
    assert!(with_patching.depth <= 3, "{with_patching:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_enforce_event_makes_zero_writes() {
    let w = Counted::start().await;
    let event = s3_event("PutBucketPolicy", SHARED, ADMIN_ROLE);
    let enforce = settings(Mode::Enforce, Some(&w.cmk), true);
    w.requests.reset();
    let first = w.handle(&event, &enforce).await;
    let c1 = w.requests.snapshot();
    assert!(
        first.results[0].errors.is_empty(),
        "{:?}",
        first.results[0].errors
    );
    // The first run patches: the counter sees the writes the outcome reports.
    assert!(!verified_writes(&first).is_empty());
    assert!(c1.writes >= verified_writes(&first).len() as u64, "{c1:?}");
    assert!(c1.by_operation.contains_key("s3:PutBucketPolicy"), "{c1:?}");

    w.requests.reset();
    let again = w.handle(&event, &enforce).await;
    let c2 = w.requests.snapshot();
    assert!(
        again.results[0].errors.is_empty(),
        "{:?}",
        again.results[0].errors
    );
    assert_eq!(again.writes().count(), 0);
    assert_eq!(c2.writes, 0, "a repeated event writes nothing: {c2:?}");
    assert!(c2.reads >= 1 && c2.depth >= 1, "{c2:?}");
}

/// `cmkguard handle --output json` as a user runs it against the emulator: the Outcome plus
/// the `requests` field (`total`, `reads`, `writes`, `depth`, `by_operation`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handle_cli_reports_requests_in_json() {
    let emulator = Emulator::start(None).expect("the AWS emulator");
    let clients = aws::load_clients(&emulator_options(&emulator.endpoint_url)).await;
    let s = Seeder { clients: &clients };
    s.create_bucket(SHARED).await.expect("CreateBucket");
    s.put_bucket_policy(SHARED, &shared_policy(SHARED).to_string())
        .await
        .expect("PutBucketPolicy");
    let dir = std::env::temp_dir().join(format!("cmkguard-requests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let event_path = dir.join("event.json");
    std::fs::write(
        &event_path,
        s3_event("PutBucketPolicy", SHARED, ADMIN_ROLE).to_string(),
    )
    .expect("event file");
    let run = |output: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_cmkguard"))
            .args(["handle", "--event"])
            .arg(&event_path)
            .args([
                "--endpoint-url",
                &emulator.endpoint_url,
                "--region",
                "eu-west-1",
            ])
            .args(["--mode", "report", "--output", output])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("AWS_PROFILE")
            .env_remove("CMKGUARD_CMK_ARN")
            .output()
            .expect("run cmkguard handle")
    };
    let out = run("json");
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let r = &v["requests"];
    let n = |k: &str| {
        r[k].as_u64()
            .unwrap_or_else(|| panic!("requests.{k} in {v}"))
    };
    assert_eq!(n("writes"), 0, "{r}");
    assert!(n("reads") >= 4, "the four bucket reads: {r}");
    assert_eq!(n("total"), n("reads") + n("writes"));
    assert!((1..=3).contains(&n("depth")), "{r}");
    assert_eq!(r["by_operation"]["s3:GetBucketPolicy"], 1, "{r}");
    // The Outcome is still there, unchanged in shape.
    assert!(v["results"][0]["findings"].as_array().is_some(), "{v}");
    let text = String::from_utf8_lossy(&run("text").stdout).to_string();
    assert!(text.contains("requests: "), "{text}");
}
