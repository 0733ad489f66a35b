//! The §6 AccessDenied diagnosis end to end: one moto world seeded with a bucket (and key) per
//! branch the emulator can represent, each denial record run through `app::handle` in enforce
//! mode with every patch allowed. Each row checks the finding's missing half, parses the
//! pasted statements (actions, resources, principals), that the finding reached the sink and
//! that nothing was written; the last test runs `cmkguard diagnose --endpoint-url` on it.

use cmkguard::core::config::Mode;
use cmkguard::core::decide::diagnose::paste::{parse_fix, CALLER_IAM, OWNER_BUCKET, OWNER_KEY};
use cmkguard::dev::scenario::owner_only_key_policy;
use serde_json::{json, Value};

use super::harness::*;

fn compute_root() -> Value {
    json!({"AWS": format!("arn:aws:iam::{COMPUTE_ACCOUNT}:root")})
}

/// The parsed statement blocks of a fix: heading → document.
type Blocks = [(String, Value)];
type BlockCheck = Box<dyn Fn(&Blocks)>;

/// What a row expects of its diagnosis.
struct Row {
    name: &'static str,
    event: Value,
    resource: String,
    /// Text one of the reasons contains (the missing half in plain words).
    missing: String,
    /// Checks on the parsed blocks (heading → document).
    check: BlockCheck,
}

fn block<'a>(blocks: &'a Blocks, heading: &str) -> Option<&'a Value> {
    blocks.iter().find(|(h, _)| h == heading).map(|(_, v)| v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_diagnosis_branch_names_the_missing_half_posts_and_writes_nothing() {
    let w = World::start().await;
    let s = w.seed();
    let denying_key = s
        .create_key("dg-denying", Some(&owner_only_key_policy(DATA_ACCOUNT)))
        .await
        .unwrap();
    let granting = s
        .create_key("dg-granting", Some(&granted_key_policy()))
        .await
        .unwrap();
    s.create_alias("alias/dg-data", &granting).await.unwrap();
    let disabled = s
        .create_key("dg-disabled", Some(&granted_key_policy()))
        .await
        .unwrap();
    s.disable_key(&disabled).await.unwrap();
    let pending = s
        .create_key("dg-pending", Some(&granted_key_policy()))
        .await
        .unwrap();
    // moto 5.2 answers ScheduleKeyDeletion by ARN with a 500: bare key id.
    w.clients
        .kms
        .schedule_key_deletion()
        .key_id(pending.rsplit('/').next().unwrap())
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    let other_region_key = granting.replace(":eu-west-1:", ":us-east-1:");

    // (bucket, policy, SSE algorithm, key)
    let buckets: Vec<(&str, String, &str, Option<String>)> = vec![
        (
            "dg-no-grant",
            json!({"Version": "2012-10-17", "Statement": [tls_deny("dg-no-grant")]}).to_string(),
            "AES256",
            None,
        ),
        ("dg-aws-s3", shared_with_tls("dg-aws-s3"), "aws:kms", None),
        (
            "dg-key",
            shared_with_tls("dg-key"),
            "aws:kms",
            Some(denying_key.clone()),
        ),
        (
            "dg-alias",
            shared_with_tls("dg-alias"),
            "aws:kms",
            Some("alias/dg-data".into()),
        ),
        (
            "dg-disabled",
            shared_with_tls("dg-disabled"),
            "aws:kms",
            Some(disabled.clone()),
        ),
        (
            "dg-pending",
            shared_with_tls("dg-pending"),
            "aws:kms",
            Some(pending.clone()),
        ),
        (
            "dg-region",
            shared_with_tls("dg-region"),
            "aws:kms",
            Some(other_region_key.clone()),
        ),
        (
            "dg-complete",
            shared_with_tls("dg-complete"),
            "aws:kms",
            Some(granting.clone()),
        ),
    ];
    for (b, policy, alg, key) in &buckets {
        s.create_bucket(b).await.unwrap();
        s.put_bucket_policy(b, policy).await.unwrap();
        s.put_encryption(b, alg, key.as_deref()).await.unwrap();
    }
    let mut before = Vec::new();
    for (b, ..) in &buckets {
        before.push((w.bucket_policy(b).await, w.encryption(b).await));
    }
    let keys = [&denying_key, &granting];
    let mut keys_before = Vec::new();
    for k in keys {
        keys_before.push(w.key_policy(k).await);
    }

    let bucket_arn = |b: &str| format!("arn:aws:s3:::{b}");
    // A KMS record whose caller named the key by alias ARN; no resources[] (failed calls
    // often carry none), so the alias is all the record says about the key.
    let mut alias_record = kms_denied(&granting, "dg-alias");
    alias_record["detail"]["record"]["requestParameters"]["keyId"] = json!(format!(
        "arn:aws:kms:eu-west-1:{DATA_ACCOUNT}:alias/dg-data"
    ));
    alias_record["detail"]["record"]["resources"] = json!([]);
    // The same S3 denial as recorded in the caller's account (the bucket is foreign there).
    let mut callers_copy = s3_denied("dg-no-grant");
    callers_copy["account"] = json!(COMPUTE_ACCOUNT);
    callers_copy["detail"]["recipientAccountId"] = json!(COMPUTE_ACCOUNT);

    let granting_for_check = granting.clone();
    let rows = vec![
        Row {
            name: "bucket policy grants nothing",
            event: s3_denied("dg-no-grant"),
            resource: bucket_arn("dg-no-grant"),
            missing: format!("grants nothing to account {COMPUTE_ACCOUNT}"),
            check: Box::new(|b| {
                let st = block(b, OWNER_BUCKET).expect("bucket statement");
                assert_eq!(st["Principal"], compute_root());
                assert_eq!(st["Action"], "s3:GetObject");
                assert_eq!(st["Resource"], "arn:aws:s3:::dg-no-grant/*");
                assert!(block(b, OWNER_KEY).is_none(), "SSE-S3: no key involved");
            }),
        },
        Row {
            name: "bucket under aws/s3",
            event: s3_denied("dg-aws-s3"),
            resource: bucket_arn("dg-aws-s3"),
            missing: "can never be shared".into(),
            check: Box::new(|b| {
                let k = block(b, OWNER_KEY).expect("key statement for the CMK to move to");
                assert_eq!(k["Principal"], compute_root());
                assert_eq!(
                    k["Condition"]["StringEquals"]["kms:ViaService"],
                    "s3.eu-west-1.amazonaws.com"
                );
                assert!(
                    block(b, OWNER_BUCKET).is_none(),
                    "the bucket policy grants the caller"
                );
            }),
        },
        Row {
            name: "key policy misses the caller",
            event: s3_denied("dg-key"),
            resource: bucket_arn("dg-key"),
            missing: format!("does not grant account {COMPUTE_ACCOUNT}"),
            check: Box::new({
                let key = denying_key.clone();
                move |b| {
                    let k = block(b, OWNER_KEY).expect("key statement");
                    assert_eq!(k["Principal"], compute_root());
                    assert!(k["Action"]
                        .as_array()
                        .unwrap()
                        .contains(&json!("kms:Decrypt")));
                    let iam = block(b, CALLER_IAM).unwrap();
                    assert_eq!(iam["Statement"][1]["Resource"], json!(key));
                }
            }),
        },
        Row {
            name: "bucket names its key by alias",
            event: s3_denied("dg-alias"),
            resource: bucket_arn("dg-alias"),
            missing: "references its key as 'alias/dg-data'".into(),
            check: Box::new({
                let key = granting.clone();
                move |b| {
                    let iam = block(b, CALLER_IAM).unwrap();
                    assert_eq!(
                        iam["Statement"][1]["Resource"],
                        json!(key),
                        "alias resolved to the key ARN"
                    );
                }
            }),
        },
        Row {
            name: "caller named the key by alias ARN",
            event: alias_record,
            resource: granting.clone(),
            missing: "by alias ARN".into(),
            check: Box::new(move |b| {
                let iam = block(b, CALLER_IAM).unwrap();
                let kms = iam["Statement"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|s| s["Resource"] == json!(granting_for_check))
                    .cloned();
                assert!(
                    kms.is_some(),
                    "the IAM statement names the key ARN, not the alias: {iam}"
                );
            }),
        },
        Row {
            name: "key disabled",
            event: s3_denied("dg-disabled"),
            resource: bucket_arn("dg-disabled"),
            missing: "(Disabled)".into(),
            check: Box::new(|b| {
                assert!(
                    block(b, OWNER_KEY).is_none(),
                    "granted; the state is the problem"
                )
            }),
        },
        Row {
            name: "key pending deletion",
            event: s3_denied("dg-pending"),
            resource: bucket_arn("dg-pending"),
            missing: "(PendingDeletion)".into(),
            check: Box::new(|_| {}),
        },
        Row {
            name: "key in another region",
            event: s3_denied("dg-region"),
            resource: bucket_arn("dg-region"),
            missing: "in region us-east-1, not the bucket's region eu-west-1".into(),
            check: Box::new(|_| {}),
        },
        Row {
            name: "owner side complete",
            event: s3_denied("dg-complete"),
            resource: bucket_arn("dg-complete"),
            missing: "owner side complete".into(),
            check: Box::new({
                let key = granting.clone();
                move |b| {
                    assert!(block(b, OWNER_BUCKET).is_none() && block(b, OWNER_KEY).is_none());
                    let iam = block(b, CALLER_IAM).unwrap();
                    assert_eq!(iam["Version"], "2012-10-17");
                    assert_eq!(iam["Statement"][0]["Action"], "s3:GetObject");
                    assert_eq!(
                        iam["Statement"][0]["Resource"],
                        "arn:aws:s3:::dg-complete/*"
                    );
                    assert_eq!(iam["Statement"][1]["Action"], json!(["kms:Decrypt"]));
                    assert_eq!(iam["Statement"][1]["Resource"], json!(key));
                }
            }),
        },
        Row {
            name: "caller-side record",
            event: callers_copy,
            resource: bucket_arn("dg-no-grant"),
            missing: format!("owner-side checklist for account {DATA_ACCOUNT}"),
            check: Box::new(|b| {
                assert_eq!(block(b, OWNER_BUCKET).unwrap()["Principal"], compute_root());
                assert!(block(b, OWNER_KEY).is_some() && block(b, CALLER_IAM).is_some());
            }),
        },
    ];

    let enforce = settings(Mode::Enforce, Some(&granting), true);
    for row in &rows {
        let o = w.handle(&row.event, &enforce).await;
        let r = &o.results[0];
        assert!(r.errors.is_empty(), "{}: {:?}", row.name, r.errors);
        assert_eq!(
            rules(&o),
            vec!["ACCESS_DENIED_DIAGNOSIS"],
            "{}: {r:?}",
            row.name
        );
        let f = o.findings().next().unwrap();
        assert_eq!(f.resource_arn, row.resource, "{}", row.name);
        assert!(
            f.reasons.iter().any(|x| x.contains(&row.missing)),
            "{}: want '{}' in {:#?}",
            row.name,
            row.missing,
            f.reasons
        );
        assert!(
            f.reasons.iter().any(|x| x.starts_with("verdict: ")),
            "{}",
            row.name
        );
        let (_, blocks) = parse_fix(&f.fix);
        let blocks: Vec<(String, Value)> = blocks
            .into_iter()
            .map(|b| (b.heading.to_string(), b.document))
            .collect();
        for (heading, doc) in &blocks {
            let statements = if heading == CALLER_IAM {
                doc["Statement"].as_array().cloned().unwrap()
            } else {
                vec![doc.clone()]
            };
            for st in statements {
                assert!(
                    st["Sid"].is_string() && st["Effect"] == "Allow",
                    "{}: {st}",
                    row.name
                );
            }
        }
        assert!(
            block(&blocks, CALLER_IAM).is_some(),
            "{}: {}",
            row.name,
            f.fix
        );
        (row.check)(&blocks);
        assert_eq!(o.writes().count(), 0, "{}: {:?}", row.name, r.writes);
        let posted = w.capture.batches();
        assert_eq!(
            posted.last().expect("posted").findings[0].finding.id,
            f.id,
            "{}: the finding reached the sink",
            row.name
        );
    }
    for ((b, ..), (policy, enc)) in buckets.iter().zip(before) {
        assert_eq!(w.bucket_policy(b).await, policy, "{b}");
        assert_eq!(w.encryption(b).await, enc, "{b}");
    }
    for (k, p) in keys.iter().zip(keys_before) {
        assert_eq!(w.key_policy(k).await, p, "{k}");
    }
}

/// `cmkguard diagnose --endpoint-url`: the live, read-only path of the CLI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_diagnose_reads_the_emulator_and_prints_the_three_sides() {
    let w = World::start().await;
    let s = w.seed();
    let key = s
        .create_key("dg-cli", Some(&owner_only_key_policy(DATA_ACCOUNT)))
        .await
        .unwrap();
    s.create_bucket("dg-cli").await.unwrap();
    s.put_bucket_policy("dg-cli", &shared_with_tls("dg-cli"))
        .await
        .unwrap();
    s.put_encryption("dg-cli", "aws:kms", Some(&key))
        .await
        .unwrap();
    let before = (w.bucket_policy("dg-cli").await, w.key_policy(&key).await);
    let dir = std::env::temp_dir().join(format!("cmkguard-diag-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let event = dir.join("event.json");
    std::fs::write(&event, s3_denied("dg-cli").to_string()).unwrap();
    let run = |output: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_cmkguard"))
            .args(["--output", output, "diagnose", "--event"])
            .arg(&event)
            .args(["--endpoint-url", w.endpoint_url(), "--region", "eu-west-1"])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("CMKGUARD_MODE", "enforce")
            .output()
            .expect("run cmkguard")
    };
    let json_out = run("json");
    assert_eq!(
        json_out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&json_out.stderr)
    );
    let v: Value = serde_json::from_slice(&json_out.stdout).expect("JSON");
    assert_eq!(
        v["findings"][0]["rule_id"], "ACCESS_DENIED_DIAGNOSIS",
        "{v}"
    );
    assert_eq!(v["findings"][0]["resource_arn"], "arn:aws:s3:::dg-cli");
    let reasons = v["findings"][0]["reasons"].to_string();
    assert!(
        reasons.contains(&format!("does not grant account {COMPUTE_ACCOUNT}")),
        "{reasons}"
    );
    let text_out = run("text");
    let text = String::from_utf8_lossy(&text_out.stdout);
    for heading in [
        "verdict: ",
        "missing half:",
        OWNER_BUCKET,
        OWNER_KEY,
        CALLER_IAM,
        &key,
    ] {
        assert!(text.contains(heading), "want '{heading}' in:\n{text}");
    }
    // CMKGUARD_MODE=enforce is overridden: a diagnosis never writes.
    assert_eq!(
        (w.bucket_policy("dg-cli").await, w.key_policy(&key).await),
        before
    );
    let _ = std::fs::remove_dir_all(&dir);
}
