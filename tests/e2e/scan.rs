//! The account sweep against moto: 210 buckets of seven kinds and two keys, seeded
//! concurrently. Checks the exact findings per bucket kind, that report mode writes nothing,
//! that enforce mode fixes what is safe and a second sweep has nothing left to write, and the
//! request count per bucket. Requests are counted at the HTTP level: an SDK interceptor on the
//! sweep's S3 and KMS clients records every request transmitted (method and URL), so the
//! count includes retries and anything an adapter might add.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use cmkguard::app::WriteResult;
use cmkguard::aws::kms::KmsReader;
use cmkguard::aws::listing::AwsInventory;
use cmkguard::aws::s3::{S3Reader, S3Writer};
use cmkguard::aws::Clients;
use cmkguard::core::config::Mode;
use cmkguard::dev::scenario::{owner_only_key_policy, shared_policy};
use cmkguard::dev::seed::Seeder;
use cmkguard::ports::{Deps, Writers};
use cmkguard::scan::report::ScanReport;
use cmkguard::scan::{sweep, RegionSweep, SweepOptions};
use serde_json::{json, Value};

use super::harness::*;
use cmkguard::aws::kms::KmsWriter;

/// Buckets per kind.
const EACH: usize = 30;

/// The kinds seeded, and the rules the sweep must report for each bucket of the kind in
/// report mode (sorted; `!` marks an exempt finding).
const KINDS: &[(&str, &[&str])] = &[
    // No policy, no default encryption configured: not shared, so only TLS.
    ("private", &["TLS_NOT_ENFORCED"]),
    // Not shared, TLS enforced: nothing.
    ("private-tls", &[]),
    // Shared with the compute account, TLS, the granted CMK by ARN: nothing.
    ("shared-ok", &[]),
    // Shared, TLS, but SSE-KMS with the AWS managed key.
    ("shared-awss3", &["SHARED_BUCKET_AWS_MANAGED_KEY"]),
    // Shared, the granted CMK, no TLS Deny.
    ("shared-notls", &["TLS_NOT_ENFORCED"]),
    // Shared, TLS, a CMK whose key policy misses the compute account.
    ("shared-nogrant", &["KEY_POLICY_MISSING_GRANT"]),
    // Shared, no TLS, AWS managed key, tagged exempt: reported as exempt.
    (
        "exempt",
        &["!SHARED_BUCKET_AWS_MANAGED_KEY", "!TLS_NOT_ENFORCED"],
    ),
];

fn tls_deny(bucket: &str) -> Value {
    json!({"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
}

fn shared_with_tls(bucket: &str) -> Value {
    let mut p = shared_policy(bucket);
    p["Statement"]
        .as_array_mut()
        .unwrap()
        .push(tls_deny(bucket));
    p
}

fn granted_key_policy() -> String {
    let mut p: Value = serde_json::from_str(&owner_only_key_policy(DATA_ACCOUNT)).unwrap();
    p["Statement"].as_array_mut().unwrap().push(json!({
        "Sid": "AllowComputeUsage", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{COMPUTE_ACCOUNT}:root")},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
        "Resource": "*"}));
    p.to_string()
}

async fn seed_bucket(
    clients: Clients,
    kind: &'static str,
    name: String,
    cmk: String,
    other: String,
) {
    let s = Seeder { clients: &clients };
    let b = name.as_str();
    s.create_bucket(b).await.expect("CreateBucket");
    /// (policy, (algorithm, key), exempt tag).
    type Seed<'a> = (Option<Value>, Option<(&'a str, Option<&'a str>)>, bool);
    let (policy, enc, exempt): Seed = match kind {
        "private" => (None, None, false),
        "private-tls" => (
            Some(json!({"Version": "2012-10-17", "Statement": [tls_deny(b)]})),
            None,
            false,
        ),
        "shared-ok" => (
            Some(shared_with_tls(b)),
            Some(("aws:kms", Some(&cmk))),
            false,
        ),
        "shared-awss3" => (Some(shared_with_tls(b)), Some(("aws:kms", None)), false),
        "shared-notls" => (Some(shared_policy(b)), Some(("aws:kms", Some(&cmk))), false),
        "shared-nogrant" => (
            Some(shared_with_tls(b)),
            Some(("aws:kms", Some(&other))),
            false,
        ),
        "exempt" => (Some(shared_policy(b)), Some(("aws:kms", None)), true),
        _ => unreachable!("unknown kind {kind}"),
    };
    if let Some(p) = policy {
        s.put_bucket_policy(b, &p.to_string())
            .await
            .expect("PutBucketPolicy");
    }
    if let Some((alg, key)) = enc {
        s.put_encryption(b, alg, key)
            .await
            .expect("PutBucketEncryption");
    }
    if exempt {
        s.put_bucket_tags(b, &[("cmkguard:exempt", "true")])
            .await
            .expect("PutBucketTagging");
    }
}

/// The seeded account: (cmk granted to the compute account, rotation on; other key, owner
/// only, rotation off).
async fn seeded(w: &World) -> (String, String) {
    let s = w.seed();
    let cmk = s
        .create_key("scan-cmk", Some(&granted_key_policy()))
        .await
        .expect("CreateKey");
    s.enable_rotation(&cmk).await.expect("EnableKeyRotation");
    let other = s
        .create_key("scan-other", Some(&owner_only_key_policy(DATA_ACCOUNT)))
        .await
        .expect("CreateKey");
    let mut tasks = tokio::task::JoinSet::new();
    for (kind, _) in KINDS {
        for i in 0..EACH {
            tasks.spawn(seed_bucket(
                w.clients.clone(),
                kind,
                format!("scan-{kind}-{i:03}"),
                cmk.clone(),
                other.clone(),
            ));
            // Bounded: moto serves one request at a time anyway.
            if tasks.len() >= 16 {
                tasks.join_next().await.unwrap().expect("seeding task");
            }
        }
    }
    while let Some(t) = tasks.join_next().await {
        t.expect("seeding task");
    }
    (cmk, other)
}

/// Every HTTP request the sweep's clients transmit: (method, URL).
#[derive(Debug, Clone, Default)]
struct Requests(Arc<Mutex<Vec<(String, String)>>>);

impl Intercept for Requests {
    fn name(&self) -> &'static str {
        "scan-test-request-counter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let r = context.request();
        // KMS names its operation in a header; S3 in the method and query.
        let what = match r.headers().get("x-amz-target") {
            Some(target) => target.to_string(),
            None => r.uri().to_string(),
        };
        self.0.lock().unwrap().push((r.method().to_string(), what));
        Ok(())
    }
}

impl Requests {
    fn take(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// Runs the sweep with counted S3 and KMS clients (the emulator's options: no retries).
async fn run(w: &World, mode: Mode, cmk: &str, s3n: &Requests, kmsn: &Requests) -> ScanReport {
    let s3 = aws_sdk_s3::Client::from_conf(
        w.clients
            .s3
            .config()
            .to_builder()
            .interceptor(s3n.clone())
            .build(),
    );
    let kms = aws_sdk_kms::Client::from_conf(
        w.clients
            .kms
            .config()
            .to_builder()
            .interceptor(kmsn.clone())
            .build(),
    );
    let region = RegionSweep {
        region: w.clients.region.clone(),
        inventory: AwsInventory::new(s3.clone(), kms.clone()),
        deps: Deps {
            buckets: S3Reader::new(s3.clone()),
            keys: MotoKeys(KmsReader::new(kms.clone())),
            writer: Writers {
                buckets: S3Writer::new(s3),
                keys: KmsWriter::new(kms),
            },
            sinks: Vec::<TestSink>::new(),
            identities: cmkguard::ports::NoIdentities,
        },
    };
    let opts = SweepOptions {
        account: DATA_ACCOUNT.to_string(),
        max_concurrency: 16,
        deadline: None,
        full_report: "the test report".to_string(),
    };
    sweep(vec![region], &settings(mode, Some(cmk), true), &opts, &()).await
}

/// Bucket name → its findings' rule ids (sorted, `!` = exempt).
fn rules_by_bucket(r: &ScanReport) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in &r.findings {
        if let Some(b) = f.resource_arn.strip_prefix("arn:aws:s3:::") {
            let mark = if f.exempt { "!" } else { "" };
            out.entry(b.to_string())
                .or_default()
                .push(format!("{mark}{}", f.rule_id));
        }
    }
    for v in out.values_mut() {
        v.sort();
    }
    out
}

fn kind_of(bucket: &str) -> &'static str {
    KINDS
        .iter()
        .map(|(k, _)| *k)
        .find(|k| {
            bucket
                .strip_prefix("scan-")
                .and_then(|rest| rest.strip_prefix(k))
                .is_some_and(|rest| rest.len() == 4 && rest.starts_with('-'))
        })
        .unwrap_or_else(|| panic!("{bucket} is no seeded kind"))
}

/// S3 requests by kind of call: `list`, `policy`, `encryption`, `acl`, `tagging`, or the
/// method and query for anything else.
fn s3_calls(requests: &[(String, String)]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for (method, url) in requests {
        let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
        let path = url
            .split("://")
            .nth(1)
            .and_then(|r| r.split_once('/'))
            .map(|(_, p)| p)
            .unwrap_or("");
        let path = path.split('?').next().unwrap_or("");
        let what = if method == "GET" && path.is_empty() {
            "list".to_string()
        } else if method == "GET" {
            ["policy", "encryption", "acl", "tagging"]
                .into_iter()
                .find(|q| {
                    query
                        .split('&')
                        .any(|p| p == *q || p.starts_with(&format!("{q}=")))
                })
                .map(str::to_string)
                .unwrap_or_else(|| format!("GET ?{query}"))
        } else {
            format!("{method} ?{query}")
        };
        *out.entry(what).or_default() += 1;
    }
    out
}

/// S3 requests per bucket (path-style URLs: the first path segment), the listing left out.
fn s3_calls_by_bucket(requests: &[(String, String)]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for (_, url) in requests {
        let bucket = url
            .split("://")
            .nth(1)
            .and_then(|r| r.split_once('/'))
            .map(|(_, p)| p.split(['?', '/']).next().unwrap_or(""))
            .unwrap_or("");
        if !bucket.is_empty() {
            *out.entry(bucket.to_string()).or_default() += 1;
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_of_210_buckets_finds_fixes_and_counts_requests() {
    let w = World::start().await;
    let seeding = std::time::Instant::now();
    let (cmk, other) = seeded(&w).await;
    eprintln!(
        "seeded {} buckets in {:?}",
        KINDS.len() * EACH,
        seeding.elapsed()
    );
    let total = KINDS.len() * EACH;
    let (s3n, kmsn) = (Requests::default(), Requests::default());

    // ---- report mode: exact findings per kind, nothing written ----
    let report = run(&w, Mode::Report, &cmk, &s3n, &kmsn).await;
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    assert_eq!(report.buckets, total);
    assert!(!report.incomplete);
    let by_bucket = rules_by_bucket(&report);
    let mut checked = BTreeMap::<&str, usize>::new();
    for (kind, want) in KINDS {
        for i in 0..EACH {
            let b = format!("scan-{kind}-{i:03}");
            let got = by_bucket.get(&b).cloned().unwrap_or_default();
            assert_eq!(got, want.to_vec(), "{b}");
            *checked.entry(kind).or_default() += 1;
        }
    }
    assert_eq!(checked.values().sum::<usize>(), total);
    // No finding names a bucket outside the seeded ones.
    for b in by_bucket.keys() {
        kind_of(b);
    }
    // Keys: the other key has rotation off; the CMK is clean.
    let key_rules: BTreeSet<(String, String)> = report
        .findings
        .iter()
        .filter(|f| f.resource_arn.contains(":key/"))
        .map(|f| (f.resource_arn.clone(), f.rule_id.to_string()))
        .collect();
    assert_eq!(
        key_rules,
        BTreeSet::from([(other.clone(), "KEY_ROTATION_DISABLED".to_string())])
    );
    assert!(
        report.writes.is_empty(),
        "report mode wrote {:?}",
        report.writes
    );
    // The summary counts what the findings say.
    assert_eq!(report.summary.by_rule["TLS_NOT_ENFORCED"], 3 * EACH);
    assert_eq!(report.summary.exempt, 2 * EACH);
    assert_eq!(
        report.summary.by_severity.values().sum::<usize>(),
        report.findings.len()
    );

    // ---- request count (HTTP level) ----
    let s3_requests = s3n.take();
    let kms_requests = kmsn.take();
    let calls = s3_calls(&s3_requests);
    assert!(
        s3_requests.iter().all(|(m, _)| m == "GET"),
        "report mode only reads: {calls:?}"
    );
    assert_eq!(calls.get("list"), Some(&1), "{calls:?}");
    // Reads by need: policy and ACL for every bucket; the encryption only for a shared one;
    // the tags only where there is a finding (the exemption tag marks it).
    for what in ["policy", "acl"] {
        assert_eq!(calls.get(what), Some(&total), "{what}: {calls:?}");
    }
    let shared_kinds = KINDS
        .iter()
        .filter(|(k, _)| !k.starts_with("private"))
        .count();
    let kinds_with_findings = KINDS.iter().filter(|(_, rules)| !rules.is_empty()).count();
    assert_eq!(
        calls.get("encryption"),
        Some(&(shared_kinds * EACH)),
        "{calls:?}"
    );
    assert_eq!(
        calls.get("tagging"),
        Some(&(kinds_with_findings * EACH)),
        "{calls:?}"
    );
    let per_bucket = s3_calls_by_bucket(&s3_requests);
    for (kind, rules) in KINDS {
        let want = match (kind.starts_with("private"), rules.is_empty()) {
            (true, true) => 2,
            (true, false) | (false, true) => 3,
            (false, false) => 4,
        };
        for i in 0..EACH {
            let b = format!("scan-{kind}-{i:03}");
            assert_eq!(per_bucket.get(&b), Some(&want), "{b}: {per_bucket:?}");
        }
    }
    // The targets of issue 17, on what was counted: at most 3 requests for a compliant
    // bucket, 4 for a non-compliant one (the listing adds 1 / 210 to each).
    for (b, n) in &per_bucket {
        let compliant = by_bucket.get(b).is_none_or(|rules| rules.is_empty());
        assert!(*n <= if compliant { 3 } else { 4 }, "{b}: {n}");
    }
    assert_eq!(
        s3_requests.len(),
        per_bucket.values().sum::<usize>() + 1,
        "{calls:?}"
    );
    eprintln!(
        "report sweep S3 requests: {} for {total} buckets ({:.2} per bucket, listing included; 4 documents each would be {})",
        s3_requests.len(),
        s3_requests.len() as f64 / total as f64,
        4 * total + 1
    );
    // KMS: ListKeys once, then each listed key read once (DescribeKey + policy, rotation,
    // tags, aliases), whatever number of buckets use it; and ListGrants once for a key whose
    // policy misses an account its buckets share with (a grant could opt it in), cached like
    // the key.
    assert_eq!(
        report.summary.key_reads, report.keys,
        "one read per distinct key"
    );
    assert!(report.keys >= 2, "{}", report.keys);
    let list_grants = kms_requests
        .iter()
        .filter(|(_, op)| op.ends_with("ListGrants"))
        .count();
    assert!(
        (1..=report.keys).contains(&list_grants),
        "at most once per key: {kms_requests:#?}"
    );
    assert_eq!(
        kms_requests.len(),
        1 + 5 * report.keys + list_grants,
        "{kms_requests:#?}"
    );
    eprintln!(
        "report sweep: {} buckets, {} keys, {} S3 + {} KMS requests, {} ms",
        report.buckets,
        report.keys,
        s3_requests.len(),
        kms_requests.len(),
        report.elapsed_ms
    );

    // ---- enforce mode: fixes what is safe ----
    let kept = w
        .keep(
            &["scan-shared-notls-000", "scan-shared-nogrant-007"],
            &[&other],
        )
        .await;
    let enforced = run(&w, Mode::Enforce, &cmk, &s3n, &kmsn).await;
    assert!(enforced.errors.is_empty(), "{:#?}", enforced.errors);
    let failed: Vec<_> = enforced
        .writes
        .iter()
        .filter(|w| {
            !matches!(
                w.result,
                WriteResult::Verified | WriteResult::AlreadyApplied
            )
        })
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    let written = |api: &str| -> BTreeSet<String> {
        enforced
            .writes
            .iter()
            .filter(|w| w.api == api && matches!(w.result, WriteResult::Verified))
            .map(|w| w.target.clone())
            .collect()
    };
    let bucket_set = |kinds: &[&str]| -> BTreeSet<String> {
        kinds
            .iter()
            .flat_map(|k| (0..EACH).map(move |i| format!("scan-{k}-{i:03}")))
            .collect()
    };
    assert_eq!(
        written("s3:PutBucketPolicy"),
        bucket_set(&["private", "shared-notls"])
    );
    assert_eq!(
        written("s3:PutBucketEncryption"),
        bucket_set(&["shared-awss3"])
    );
    // The grant for the 30 buckets sharing the key, and the key's rotation.
    assert_eq!(written("kms:PutKeyPolicy"), BTreeSet::from([other.clone()]));
    assert_eq!(
        written("kms:EnableKeyRotation"),
        BTreeSet::from([other.clone()])
    );
    // At the HTTP level the grant went out once: the other buckets' writes found it in place
    // under the key's lock (`SerialKeyWrites`).
    let kms_sent = kmsn.take();
    let sent = |op: &str| kms_sent.iter().filter(|(_, t)| t.ends_with(op)).count();
    assert_eq!(sent("PutKeyPolicy"), 1, "{kms_sent:#?}");
    assert_eq!(sent("EnableKeyRotation"), 1);
    kept.assert_none_lost(&w).await;
    // Exempt buckets are never touched.
    assert!(enforced
        .writes
        .iter()
        .all(|w| !w.target.starts_with("scan-exempt-")));
    s3n.take();

    // ---- a second enforce sweep finds nothing to write ----
    let again = run(&w, Mode::Enforce, &cmk, &s3n, &kmsn).await;
    assert!(again.errors.is_empty(), "{:#?}", again.errors);
    assert!(again.writes.is_empty(), "{:#?}", again.writes);
    assert!(s3n.take().iter().all(|(m, _)| m == "GET"));
    let left: BTreeSet<String> = rules_by_bucket(&again)
        .into_iter()
        .map(|(b, rules)| format!("{}: {}", kind_of(&b), rules.join(",")))
        .collect();
    assert_eq!(
        left,
        BTreeSet::from(["exempt: !SHARED_BUCKET_AWS_MANAGED_KEY,!TLS_NOT_ENFORCED".to_string()])
    );
    assert!(
        again.findings.iter().all(|f| f.exempt),
        "only exempt findings remain: {:#?}",
        again
            .findings
            .iter()
            .filter(|f| !f.exempt)
            .collect::<Vec<_>>()
    );
}

/// `cmkguard scan` as a user (and the benchmarks) run it: the binary against the emulator.
fn scan_cli(endpoint: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "scan",
        "--endpoint-url",
        endpoint,
        "--region",
        cmkguard::dev::scenario::REGION,
    ];
    args.extend_from_slice(extra);
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cmkguard"));
    for (k, _) in std::env::vars() {
        if k.starts_with("CMKGUARD_") {
            cmd.env_remove(k);
        }
    }
    cmd.args(&args)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run cmkguard scan")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_cli_prints_the_json_fields_and_exit_codes() {
    let emulator = cmkguard::dev::emulator::Emulator::start(None).expect("emulator");
    let endpoint = emulator.endpoint_url.clone();
    let clients =
        cmkguard::aws::load_clients(&cmkguard::dev::scenario::emulator_options(&endpoint)).await;
    let cmk = {
        let s = Seeder { clients: &clients };
        let cmk = s
            .create_key("cli-cmk", Some(&granted_key_policy()))
            .await
            .unwrap();
        s.enable_rotation(&cmk).await.unwrap();
        cmk
    };
    seed_bucket(
        clients.clone(),
        "private",
        "cli-private".into(),
        cmk.clone(),
        cmk.clone(),
    )
    .await;
    seed_bucket(
        clients.clone(),
        "shared-awss3",
        "cli-shared".into(),
        cmk.clone(),
        cmk.clone(),
    )
    .await;
    seed_bucket(
        clients.clone(),
        "shared-ok",
        "cli-ok".into(),
        cmk.clone(),
        cmk.clone(),
    )
    .await;

    let out = tokio::task::spawn_blocking({
        let e = endpoint.clone();
        move || {
            scan_cli(
                &e,
                &[
                    "--account",
                    DATA_ACCOUNT,
                    "--max-concurrency",
                    "4",
                    "--output",
                    "json",
                ],
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(v["account"], json!(DATA_ACCOUNT));
    assert_eq!(v["regions"], json!([cmkguard::dev::scenario::REGION]));
    assert_eq!(v["mode"], json!("report"));
    assert_eq!(v["buckets"], json!(3));
    assert_eq!(v["keys"], json!(1));
    assert_eq!(v["writes"], json!([]));
    assert_eq!(v["errors"], json!([]));
    assert!(v["elapsed_ms"].is_u64(), "{}", v["elapsed_ms"]);
    let findings = v["findings"].as_array().expect("findings array");
    let mut got: Vec<(String, String)> = findings
        .iter()
        .map(|f| {
            for field in [
                "id",
                "rule_id",
                "severity",
                "title",
                "resource_type",
                "resource_arn",
                "account",
                "region",
                "exempt",
                "reasons",
                "fix",
                "remediation",
            ] {
                assert!(f.get(field).is_some(), "finding lacks {field}: {f}");
            }
            (
                f["resource_arn"].as_str().unwrap().to_string(),
                f["rule_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (
                "arn:aws:s3:::cli-private".to_string(),
                "TLS_NOT_ENFORCED".to_string()
            ),
            (
                "arn:aws:s3:::cli-shared".to_string(),
                "SHARED_BUCKET_AWS_MANAGED_KEY".to_string()
            ),
        ]
    );
    assert_eq!(
        v["summary"]["by_rule"],
        json!({"SHARED_BUCKET_AWS_MANAGED_KEY": 1, "TLS_NOT_ENFORCED": 1})
    );
    assert_eq!(v["summary"]["by_severity"], json!({"HIGH": 1, "MEDIUM": 1}));

    let e = endpoint.clone();
    let cmk2 = cmk.clone();
    let (fail, no_account, bad_concurrency, enforce, text) =
        tokio::task::spawn_blocking(move || {
            (
                scan_cli(&e, &["--account", DATA_ACCOUNT, "--fail-on-findings"]),
                scan_cli(&e, &["--output", "json"]),
                scan_cli(&e, &["--account", DATA_ACCOUNT, "--max-concurrency", "0"]),
                scan_cli(
                    &e,
                    &[
                        "--account",
                        DATA_ACCOUNT,
                        "--enforce",
                        "--cmk-arn",
                        &cmk2,
                        "--output",
                        "json",
                    ],
                ),
                scan_cli(&e, &["--account", DATA_ACCOUNT]),
            )
        })
        .await
        .unwrap();
    assert_eq!(fail.status.code(), Some(1));
    // Without --account: the caller's account (STS GetCallerIdentity, the emulator's default
    // account), the same findings as with it.
    assert_eq!(
        no_account.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&no_account.stderr)
    );
    let without: Value = serde_json::from_slice(&no_account.stdout).expect("JSON on stdout");
    assert_eq!(without["account"], json!(DATA_ACCOUNT));
    assert_eq!(without["findings"], v["findings"]);
    assert_eq!(
        without["regions_swept"],
        json!([cmkguard::dev::scenario::REGION])
    );
    assert_eq!(without["regions_failed"], json!([]));
    assert_eq!(bad_concurrency.status.code(), Some(2));
    assert_eq!(
        enforce.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&enforce.stderr)
    );
    let v: Value = serde_json::from_slice(&enforce.stdout).unwrap();
    assert_eq!(v["mode"], json!("enforce"));
    let mut writes: Vec<(String, String, String)> = v["writes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["api"].as_str().unwrap().into(),
                w["target"].as_str().unwrap().into(),
                w["result"]["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    writes.sort();
    assert_eq!(
        writes,
        vec![
            (
                "s3:PutBucketEncryption".into(),
                "cli-shared".into(),
                "verified".into()
            ),
            (
                "s3:PutBucketPolicy".into(),
                "cli-private".into(),
                "verified".into()
            ),
        ]
    );
    // Text output: the summary table, no progress bar (stderr is not a terminal).
    assert_eq!(text.status.code(), Some(0));
    let t = String::from_utf8_lossy(&text.stdout);
    assert!(
        t.contains("buckets scanned") && t.contains("keys scanned") && t.contains("elapsed"),
        "{t}"
    );
    assert!(
        text.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&text.stderr)
    );
    drop(emulator);
}

/// Answers every request with Account `ListRegions` output (moto lacks the Account API): two
/// enabled regions and a disabled one. Returns the URL and a count of the requests.
fn list_regions_fixture() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind fixture");
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(20) {
            let Ok(mut conn) = conn else { continue };
            let mut buf = [0u8; 65536];
            let _ = conn.read(&mut buf);
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let body = json!({"Regions": [
                {"RegionName": "eu-west-1", "RegionOptStatus": "ENABLED_BY_DEFAULT"},
                {"RegionName": "us-east-1", "RegionOptStatus": "ENABLED_BY_DEFAULT"},
                {"RegionName": "af-south-1", "RegionOptStatus": "DISABLED"},
            ]})
            .to_string();
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_region_all_sweeps_every_enabled_region_without_an_account() {
    let emulator = cmkguard::dev::emulator::Emulator::start(None).expect("emulator");
    let endpoint = emulator.endpoint_url.clone();
    let eu =
        cmkguard::aws::load_clients(&cmkguard::dev::scenario::emulator_options(&endpoint)).await;
    let mut us_opts = cmkguard::dev::scenario::emulator_options(&endpoint);
    us_opts.region = Some("us-east-1".into());
    let us = cmkguard::aws::load_clients(&us_opts).await;
    Seeder { clients: &eu }
        .create_bucket("all-eu")
        .await
        .unwrap();
    Seeder { clients: &us }
        .create_bucket("all-us")
        .await
        .unwrap();
    let us_key = Seeder { clients: &us }
        .create_key("us-key", Some(&owner_only_key_policy(DATA_ACCOUNT)))
        .await
        .unwrap();
    let (fixture, lists) = list_regions_fixture();
    let run = move |args: Vec<String>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cmkguard"));
        for (k, _) in std::env::vars() {
            if k.starts_with("CMKGUARD_") || k.starts_with("AWS_") {
                cmd.env_remove(k);
            }
        }
        cmd.args(&args)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", cmkguard::dev::scenario::REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env(cmkguard::aws::identity::ACCOUNT_ENDPOINT_ENV, &fixture)
            .output()
            .expect("run cmkguard scan")
    };
    let base = vec![
        "scan".to_string(),
        "--endpoint-url".into(),
        endpoint.clone(),
        "--region".into(),
        "all".into(),
    ];
    let (out, mixed) = tokio::task::spawn_blocking(move || {
        let mut json = base.clone();
        json.extend(["--output".into(), "json".into()]);
        let mut mixed = base.clone();
        mixed.extend(["--region".into(), "eu-west-1".into()]);
        (run(json), run(mixed))
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["account"], json!(DATA_ACCOUNT));
    assert_eq!(
        v["regions"],
        json!(["eu-west-1", "us-east-1"]),
        "the disabled region is left out"
    );
    assert_eq!(v["regions_swept"], json!(["eu-west-1", "us-east-1"]));
    assert_eq!(v["regions_failed"], json!([]));
    assert_eq!(
        v["buckets"],
        json!(2),
        "each bucket once, in its own region"
    );
    let region_of = |arn: &str| -> Vec<String> {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["resource_arn"] == arn)
            .map(|f| f["region"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(region_of("arn:aws:s3:::all-us"), vec!["us-east-1"]);
    assert_eq!(region_of("arn:aws:s3:::all-eu"), vec!["eu-west-1"]);
    assert_eq!(
        region_of(&us_key),
        vec!["us-east-1"],
        "the us-east-1 key, swept there"
    );
    assert!(lists.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    // `all` with another region is a usage error.
    assert_eq!(mixed.status.code(), Some(2));
    drop(emulator);
}
