//! The sinks as real AWS would see them (issue 14): the real SDK clients talk to moto through
//! the HTTP proxy, which records every request body, so the rules moto does not enforce are
//! checked on the wire — the sweep's one SNS digest, Security Hub bodies (posting account,
//! FindingProviderFields, no Workflow, CreatedAt kept and UpdatedAt advanced, ARCHIVED for a
//! deleted bucket), a PutEvents partial failure re-sending only the failed entry, and the CMK
//! move keeping `BlockedEncryptionTypes` (which moto drops: injected by the proxy).

use std::time::Instant;

use cmkguard::app::{self, Outcome, WriteResult};
use cmkguard::aws::{self, AwsOptions, Clients};
use cmkguard::config::{Settings, SinkSettings};
use cmkguard::core::config::Mode;
use cmkguard::dev::emulator::Emulator;
use cmkguard::dev::scenario::{shared_policy, REGION};
use cmkguard::dev::seed::Seeder;
use cmkguard::ports::Deps;
use cmkguard::scan::aws::sweep_aws;
use cmkguard::scan::SweepOptions;
use serde_json::{json, Value};

use super::harness::*;
use super::proxy::{Fault, Proxy, Rule};

/// moto, clients straight to it (seeding, checking), clients through the proxy (the product).
struct Wire {
    direct: Clients,
    proxied: Clients,
    proxy: Proxy,
    _emulator: Emulator,
}

impl Wire {
    async fn start() -> Wire {
        let emulator = Emulator::start(None).expect("emulator");
        let direct = aws::load_clients(&cmkguard::dev::scenario::emulator_options(
            &emulator.endpoint_url,
        ))
        .await;
        let proxy = Proxy::start(&emulator.endpoint_url).await;
        let proxied = aws::load_clients(&AwsOptions {
            endpoint_url: Some(proxy.url.clone()),
            region: Some(REGION.to_string()),
            static_credentials: Some(("testing".into(), "testing".into())),
            max_attempts: None,
            operation_timeout: None,
            interceptor: None,
        })
        .await;
        Wire {
            direct,
            proxied,
            proxy,
            _emulator: emulator,
        }
    }

    fn seed(&self) -> Seeder<'_> {
        Seeder {
            clients: &self.direct,
        }
    }

    /// Settings with every sink on, posting as the emulator's account.
    async fn settings(&self, mode: Mode, cmk: Option<&str>) -> Settings {
        let topic = self.seed().create_topic("findings").await.unwrap();
        self.seed().enable_security_hub().await.unwrap();
        let mut s = settings(mode, cmk, true);
        s.sinks = SinkSettings {
            sns_topic_arn: Some(topic),
            security_hub: true,
            event_bus: Some("default".into()),
            ocsf_bucket: None,
        };
        s.account = Some(DATA_ACCOUNT.to_string());
        s
    }

    async fn handle(&self, event: &Value, settings: &Settings) -> Outcome {
        let d = aws::deps(&self.proxied, &settings.sinks);
        let deps = Deps {
            buckets: d.buckets,
            keys: MotoKeys(d.keys),
            writer: d.writer,
            sinks: d.sinks,
            identities: d.identities,
        };
        app::handle(event, &deps, settings).await
    }

    /// The JSON bodies of every request for `op`, in order.
    fn bodies(&self, op: &str) -> Vec<Value> {
        self.proxy
            .seen()
            .into_iter()
            .filter(|s| s.operation == op)
            .map(|s| serde_json::from_str(&s.body).unwrap_or(Value::String(s.body)))
            .collect()
    }

    /// The form parameter `name` of every request for `op` (query protocol), decoded.
    fn form(&self, op: &str, name: &str) -> Vec<String> {
        self.proxy
            .seen()
            .into_iter()
            .filter(|s| s.operation == op)
            .filter_map(|s| {
                s.body
                    .split('&')
                    .find_map(|p| p.strip_prefix(&format!("{name}=")).map(url_decode))
            })
            .collect()
    }
}

fn url_decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("20");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b' '));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

const SWEPT: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_of_200_buckets_posts_one_sns_message() {
    let w = Wire::start().await;
    // 200 buckets without a policy: one TLS finding each (plus six passed checks), seeded 16
    // at a time (more at once overruns moto's accept queue on a loaded machine).
    for chunk in (0..SWEPT).collect::<Vec<_>>().chunks(16) {
        let mut tasks = tokio::task::JoinSet::new();
        for &i in chunk {
            let c = w.direct.clone();
            tasks.spawn(async move {
                Seeder { clients: &c }
                    .create_bucket(&format!("digest-{i:03}"))
                    .await
                    .expect("CreateBucket")
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.expect("seeding task");
        }
    }
    let settings = w.settings(Mode::Report, None).await;
    w.proxy.set(vec![]);
    let started = Instant::now();
    let report = sweep_aws(
        &w.proxied,
        &settings,
        &[REGION.to_string()],
        &SweepOptions {
            account: DATA_ACCOUNT.to_string(),
            max_concurrency: 16,
            deadline: None,
            full_report: "the test's report".into(),
        },
        &(),
    )
    .await;
    let elapsed = started.elapsed();
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    assert_eq!(report.buckets, SWEPT);
    assert_eq!(report.summary.by_rule["TLS_NOT_ENFORCED"], SWEPT);
    assert_eq!(report.regions_swept, vec![REGION.to_string()]);
    // Exactly one SNS message: the digest.
    assert_eq!(
        w.proxy.calls("sns:Publish"),
        1,
        "{:?}",
        w.proxy.seen().len()
    );
    let subject = &w.form("sns:Publish", "Subject")[0];
    assert!(subject.len() <= 99 && subject.is_ascii(), "{subject}");
    assert!(
        subject.starts_with("cmkguard sweep 111122223333: 200 findings"),
        "{subject}"
    );
    let body = &w.form("sns:Publish", "Message")[0];
    assert!(
        body.contains("TLS_NOT_ENFORCED") && body.contains("200"),
        "{body}"
    );
    assert!(body.contains("Full report: the test's report"), "{body}");
    assert!(body.contains("Worst findings (20 of 200)"), "{body}");
    // Security Hub: one read of the stored findings, the 200 failures in two imports.
    assert_eq!(w.proxy.calls("securityhub:GetFindings"), 1);
    let imports = w.bodies("securityhub:BatchImportFindings");
    let sizes: Vec<usize> = imports
        .iter()
        .map(|b| b["Findings"].as_array().unwrap().len())
        .collect();
    assert_eq!(
        sizes,
        vec![100, 100],
        "passed checks resolve nothing stored"
    );
    // EventBridge: every record, at most 10 a request.
    let puts = w.bodies("events:PutEvents");
    let entries: usize = puts
        .iter()
        .map(|b| b["Entries"].as_array().unwrap().len())
        .sum();
    assert_eq!(entries, SWEPT * 7);
    assert!(puts
        .iter()
        .all(|b| b["Entries"].as_array().unwrap().len() <= 10));
    let published: Vec<(String, usize)> = report
        .published
        .iter()
        .map(|p| (p.sink.clone(), p.sent))
        .collect();
    assert!(published.contains(&("sns".to_string(), 1)), "{published:?}");
    assert!(
        published.contains(&("securityhub".to_string(), SWEPT)),
        "{published:?}"
    );
    let total = w.proxy.seen().len();
    let reads = [
        "s3:GetBucketPolicy",
        "s3:GetBucketEncryption",
        "s3:GetBucketAcl",
        "s3:GetBucketTagging",
    ]
    .iter()
    .map(|op| w.proxy.calls(op))
    .sum::<usize>();
    // Reads by need: private buckets with a finding read policy, ACL and tags, never the
    // encryption.
    assert_eq!(w.proxy.calls("s3:GetBucketEncryption"), 0);
    assert_eq!(reads, 3 * SWEPT);
    eprintln!(
        "sweep of {SWEPT} buckets with SNS, Security Hub and EventBridge on: {total} requests ({:.2} per bucket; {reads} bucket reads, {} PutEvents, {} BatchImportFindings, {} GetFindings, {} SNS), {elapsed:?}",
        total as f64 / SWEPT as f64,
        puts.len(),
        imports.len(),
        w.proxy.calls("securityhub:GetFindings"),
        w.proxy.calls("sns:Publish"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_hub_gets_the_posting_account_and_times_that_advance() {
    let w = Wire::start().await;
    let cmk = w
        .seed()
        .create_key("hub-cmk", Some(&granted_key_policy()))
        .await
        .unwrap();
    w.seed().create_bucket("hub-bucket").await.unwrap();
    w.seed()
        .put_bucket_policy("hub-bucket", &shared_policy("hub-bucket").to_string())
        .await
        .unwrap();
    let mut s = w.settings(Mode::Report, Some(&cmk)).await;
    let event = s3_event("PutBucketPolicy", "hub-bucket", ADMIN_ROLE);
    w.proxy.set(vec![]);
    let first = w.handle(&event, &s).await;
    assert!(
        first.results[0].errors.is_empty(),
        "{:?}",
        first.results[0].errors
    );
    // The lookup comes before the import.
    let ops: Vec<String> = w
        .proxy
        .seen()
        .into_iter()
        .map(|s| s.operation)
        .filter(|o| o.starts_with("securityhub:"))
        .collect();
    assert_eq!(
        ops,
        vec!["securityhub:GetFindings", "securityhub:BatchImportFindings"]
    );
    let sent = &w.bodies("securityhub:BatchImportFindings")[0]["Findings"];
    let findings = sent.as_array().unwrap();
    // Only the failures: the passed checks resolve nothing stored.
    assert_eq!(findings.len(), first.findings().count(), "{sent}");
    for f in findings {
        assert_eq!(f["AwsAccountId"], DATA_ACCOUNT);
        assert_eq!(
            f["ProductArn"],
            format!("arn:aws:securityhub:{REGION}:{DATA_ACCOUNT}:product/{DATA_ACCOUNT}/default")
        );
        assert_eq!(
            f["FindingProviderFields"]["Severity"]["Label"],
            f["Severity"]["Label"]
        );
        assert_eq!(f["FindingProviderFields"]["Types"], f["Types"]);
        assert_eq!(f["RecordState"], "ACTIVE");
        assert!(f.get("Workflow").is_none(), "{f}");
        assert_eq!(f["CreatedAt"], f["UpdatedAt"]);
    }
    let tls = findings
        .iter()
        .find(|f| f["GeneratorId"] == "TLS_NOT_ENFORCED")
        .expect("TLS finding sent")
        .clone();

    // Enforce fixes the TLS finding: the same id goes PASSED, CreatedAt kept, UpdatedAt newer.
    s.core.mode = Mode::Enforce;
    w.proxy.set(vec![]);
    let fixed = w.handle(&event, &s).await;
    assert!(
        fixed.results[0].errors.is_empty(),
        "{:?}",
        fixed.results[0].errors
    );
    let again = &w.bodies("securityhub:BatchImportFindings")[0]["Findings"];
    let resolved = again
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["Id"] == tls["Id"])
        .unwrap_or_else(|| panic!("TLS finding not re-posted: {again}"));
    assert_eq!(resolved["Compliance"]["Status"], "PASSED");
    assert_eq!(
        resolved["CreatedAt"], tls["CreatedAt"],
        "first detection kept"
    );
    assert!(
        resolved["UpdatedAt"].as_str().unwrap() > tls["UpdatedAt"].as_str().unwrap(),
        "{} then {}",
        tls["UpdatedAt"],
        resolved["UpdatedAt"]
    );

    // The bucket is deleted: its stored findings are archived.
    w.direct
        .s3
        .delete_bucket_policy()
        .bucket("hub-bucket")
        .send()
        .await
        .unwrap();
    w.direct
        .s3
        .delete_bucket()
        .bucket("hub-bucket")
        .send()
        .await
        .unwrap();
    w.proxy.set(vec![]);
    let gone = w
        .handle(&s3_event("DeleteBucket", "hub-bucket", ADMIN_ROLE), &s)
        .await;
    let r = &gone.results[0];
    assert!(
        r.ignored
            .as_deref()
            .unwrap_or_default()
            .contains("no longer exists"),
        "{r:?}"
    );
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let archived = &w.bodies("securityhub:BatchImportFindings")[0]["Findings"];
    let archived = archived.as_array().unwrap();
    assert!(!archived.is_empty());
    assert!(archived
        .iter()
        .all(|f| f["RecordState"] == "ARCHIVED" && f["AwsAccountId"] == DATA_ACCOUNT));
    assert!(archived.iter().any(|f| f["Id"] == tls["Id"]));
    // Only ids Security Hub holds are archived (no new findings for never-failed checks).
    let stored: Vec<String> = w
        .seed()
        .security_hub_findings()
        .await
        .unwrap()
        .into_iter()
        .map(|(id, _, _)| id)
        .collect();
    assert!(archived
        .iter()
        .all(|f| stored.contains(&f["Id"].as_str().unwrap().to_string())));

    // Without a posting account, Security Hub refuses the batch instead of guessing one.
    s.account = None;
    s.core.mode = Mode::Report;
    w.seed().create_bucket("hub-other").await.unwrap();
    w.proxy.set(vec![]);
    let refused = w
        .handle(&s3_event("PutBucketPolicy", "hub-other", ADMIN_ROLE), &s)
        .await;
    let e = refused.results[0]
        .errors
        .iter()
        .find(|e| e.operation == "securityhub:BatchImportFindings")
        .expect("refused");
    assert_eq!(e.code, "PostingAccount");
    assert!(!e.retryable);
    assert_eq!(w.proxy.calls("securityhub:BatchImportFindings"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_events_partial_failure_resends_only_the_failed_entry() {
    let w = Wire::start().await;
    w.seed().create_bucket("events-bucket").await.unwrap();
    let mut s = settings(Mode::Report, None, false);
    s.sinks.event_bus = Some("default".into());
    // moto never fails an entry: the proxy turns entry 2 of the first answer into a throttle.
    let rewrite: super::proxy::Rewriter = Box::new(|_req, resp| {
        let mut v: Value = serde_json::from_str(resp).expect("PutEvents JSON");
        v["FailedEntryCount"] = json!(1);
        v["Entries"][1] = json!({"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"});
        v.to_string()
    });
    w.proxy.set(vec![Rule::nth(
        "events:PutEvents",
        1,
        Fault::Rewrite(rewrite),
    )]);
    let o = w
        .handle(
            &s3_event("PutBucketPolicy", "events-bucket", ADMIN_ROLE),
            &s,
        )
        .await;
    assert!(o.results[0].errors.is_empty(), "{:?}", o.results[0].errors);
    let puts = w.bodies("events:PutEvents");
    assert_eq!(puts.len(), 2, "{puts:?}");
    let first = puts[0]["Entries"].as_array().unwrap();
    let second = puts[1]["Entries"].as_array().unwrap();
    assert_eq!(first.len(), 7, "one finding and six passed checks");
    assert_eq!(second.len(), 1, "only the failed entry is sent again");
    assert_eq!(second[0], first[1]);
    let sent = o.results[0]
        .published
        .iter()
        .find(|p| p.sink == "eventbridge")
        .unwrap()
        .sent;
    assert_eq!(sent, 7);
}

/// GetBucketEncryption answers with SSE-C blocked (moto does not keep the field).
fn with_sse_c_blocked() -> super::proxy::Rewriter {
    Box::new(|_req, resp| {
        resp.replace(
            "</Rule>",
            "<BlockedEncryptionTypes><EncryptionType>SSE-C</EncryptionType></BlockedEncryptionTypes></Rule>",
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cmk_move_keeps_blocked_encryption_types_and_verifies_it() {
    let w = Wire::start().await;
    let cmk = w
        .seed()
        .create_key("sse-c-cmk", Some(&granted_key_policy()))
        .await
        .unwrap();
    // (bucket, GetBucketEncryption answers carrying the block: snapshot, fresh read, read-back)
    let cases = [("sse-c-kept", usize::MAX), ("sse-c-lost", 2)];
    for (bucket, rewritten) in cases {
        let s = w.seed();
        s.create_bucket(bucket).await.unwrap();
        s.put_bucket_policy(bucket, &shared_with_tls(bucket))
            .await
            .unwrap();
        s.put_encryption(bucket, "aws:kms", None).await.unwrap();
        w.proxy.set(vec![Rule {
            operation: "s3:GetBucketEncryption",
            first: 1,
            last: rewritten,
            fault: Fault::Rewrite(with_sse_c_blocked()),
        }]);
        let o = w
            .handle(
                &s3_event("PutBucketEncryption", bucket, ADMIN_ROLE),
                &settings(Mode::Enforce, Some(&cmk), false),
            )
            .await;
        let put = w
            .proxy
            .seen()
            .into_iter()
            .find(|x| x.operation == "s3:PutBucketEncryption")
            .unwrap_or_else(|| panic!("{bucket}: no PutBucketEncryption: {o:?}"));
        assert!(
            put.body.contains(
                "<BlockedEncryptionTypes><EncryptionType>SSE-C</EncryptionType></BlockedEncryptionTypes>"
            ),
            "{bucket}: the written rule drops the block: {}",
            put.body
        );
        assert!(put.body.contains(&cmk), "{}", put.body);
        let write = o
            .writes()
            .find(|x| x.api == "s3:PutBucketEncryption")
            .unwrap();
        match (bucket, &write.result) {
            ("sse-c-kept", WriteResult::Verified) => {}
            ("sse-c-lost", WriteResult::Unverified { reason }) => {
                assert!(reason.contains("lost BlockedEncryptionTypes"), "{reason}");
                let e = o.results[0]
                    .errors
                    .iter()
                    .find(|e| e.stage == "verify")
                    .expect("reported");
                assert_eq!(e.code, "Unverified");
            }
            (b, r) => panic!("{b}: {r:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_hub_not_enabled_is_said_once_and_not_retried() {
    let w = Wire::start().await;
    w.seed().create_bucket("hub-off").await.unwrap();
    let mut s = settings(Mode::Report, None, false);
    s.sinks.security_hub = true;
    s.account = Some(DATA_ACCOUNT.to_string());
    // moto imports anyway: the proxy answers as Security Hub does where it is not enabled.
    let rewrite: super::proxy::Rewriter = Box::new(|req, _resp| {
        let sent: Value = serde_json::from_str(req).unwrap();
        let failed: Vec<Value> = sent["Findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| json!({"Id": f["Id"], "ErrorCode": "InvalidAccess", "ErrorMessage": "Account is not subscribed to AWS Security Hub"}))
            .collect();
        json!({"FailedCount": failed.len(), "SuccessCount": 0, "FailedFindings": failed})
            .to_string()
    });
    w.proxy.set(vec![Rule::always(
        "securityhub:BatchImportFindings",
        Fault::Rewrite(rewrite),
    )]);
    // The Lambda's dependencies are built once: the second event must not ask again.
    let d = aws::deps(&w.proxied, &s.sinks);
    let deps = Deps {
        buckets: d.buckets,
        keys: MotoKeys(d.keys),
        writer: d.writer,
        sinks: d.sinks,
        identities: d.identities,
    };
    let event = s3_event("PutBucketPolicy", "hub-off", ADMIN_ROLE);
    for round in 0..2 {
        let o = app::handle(&event, &deps, &s).await;
        let e = o.results[0]
            .errors
            .iter()
            .find(|e| e.stage == "publish")
            .unwrap_or_else(|| panic!("round {round}: {:?}", o.results[0]));
        assert_eq!(e.code, "InvalidAccess", "round {round}");
        assert!(!e.retryable && !o.retryable(), "round {round}: no retry");
        assert!(e.message.contains("not enabled"), "{}", e.message);
    }
    assert_eq!(w.proxy.calls("securityhub:BatchImportFindings"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ocsf_sink_writes_json_lines_that_validate() {
    let w = Wire::start().await;
    w.seed().create_bucket("ocsf-lake").await.unwrap();
    w.seed().create_bucket("ocsf-source").await.unwrap();
    let mut s = settings(Mode::Report, None, false);
    s.sinks.ocsf_bucket = Some("ocsf-lake".into());
    s.account = Some(DATA_ACCOUNT.to_string());
    let o = w
        .handle(&s3_event("PutBucketPolicy", "ocsf-source", ADMIN_ROLE), &s)
        .await;
    let r = &o.results[0];
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let sent = r.published.iter().find(|p| p.sink == "ocsf").unwrap().sent;
    assert_eq!(sent, r.findings.len() + r.passed.len());
    let listed = w
        .direct
        .s3
        .list_objects_v2()
        .bucket("ocsf-lake")
        .prefix("cmkguard/ocsf/")
        .send()
        .await
        .unwrap();
    let keys: Vec<String> = listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(
        keys[0].starts_with(&format!(
            "cmkguard/ocsf/region={REGION}/account={DATA_ACCOUNT}/dt="
        )),
        "{}",
        keys[0]
    );
    let body = w
        .direct
        .s3
        .get_object()
        .bucket("ocsf-lake")
        .key(&keys[0])
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    let text = String::from_utf8(body.to_vec()).unwrap();
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one event per line"))
        .collect();
    assert_eq!(events.len(), sent);
    let file = std::env::temp_dir().join(format!("ocsf-sink-{}.jsonl", std::process::id()));
    std::fs::write(&file, &text).unwrap();
    let out = std::process::Command::new("python3")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/validate-ocsf"))
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
