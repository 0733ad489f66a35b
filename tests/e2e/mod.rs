//! End-to-end: the real SDK clients against a moto server, through `app::handle`, in report
//! and enforce mode. Each test seeds its own emulator and reads the result back from it; every
//! test that patches checks that no original bucket / key policy statement was lost.
//! `events` covers each event name of DOMAIN.md §7 and the §6 diagnosis, `rules` each rule of
//! §3 in both modes, `faults` concurrent edits and injected AWS errors, `scan` the account sweep.

mod backfill;
mod diagnose;
mod doctor;
mod events;
mod faults;
mod harness;
mod http_faults;
mod ocsf;
mod proxy;
mod rules;
mod scan;
mod sinks;

use cmkguard::app::WriteResult;
use cmkguard::config::SinkSettings;
use cmkguard::core::config::Mode;
use cmkguard::dev::scenario::{owner_only_key_policy, shared_policy};
use harness::*;
use serde_json::{json, Value};

// The request budgets of issue 7, counted by `aws::metrics`.
mod requests;

const SHARED: &str = "data-shared-analytics";

/// A shared bucket under aws/s3 without TLS, and a CMK whose policy misses the compute account.
async fn shared_world() -> (World, String) {
    let w = World::start().await;
    let cmk = seed_shared(&w.seed()).await;
    (w, cmk)
}

/// Seeds the shared-world state; returns the CMK's ARN.
async fn seed_shared(s: &cmkguard::dev::seed::Seeder<'_>) -> String {
    let cmk = s
        .create_key("data-cmk", Some(&owner_only_key_policy(DATA_ACCOUNT)))
        .await
        .expect("CreateKey");
    s.create_bucket(SHARED).await.expect("CreateBucket");
    s.put_bucket_policy(SHARED, &shared_policy(SHARED).to_string())
        .await
        .expect("PutBucketPolicy");
    s.put_encryption(SHARED, "aws:kms", None)
        .await
        .expect("PutBucketEncryption");
    cmk
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_mode_finds_and_never_writes() {
    let (w, cmk) = shared_world().await;
    let before_policy = w.bucket_policy(SHARED).await;
    let before_enc = w.encryption(SHARED).await;
    let event = s3_event("PutBucketPolicy", SHARED, ADMIN_ROLE);
    let o = w
        .handle(&event, &settings(Mode::Report, Some(&cmk), true))
        .await;
    assert!(o.results[0].errors.is_empty(), "{:?}", o.results[0].errors);
    let r = rules(&o);
    assert!(
        r.contains(&"SHARED_BUCKET_AWS_MANAGED_KEY".to_string()),
        "{r:?}"
    );
    assert!(r.contains(&"TLS_NOT_ENFORCED".to_string()), "{r:?}");
    assert_eq!(o.writes().count(), 0);
    assert_eq!(w.bucket_policy(SHARED).await, before_policy);
    assert_eq!(w.encryption(SHARED).await, before_enc);
    let tls = o
        .findings()
        .find(|f| f.rule_id.as_str() == "TLS_NOT_ENFORCED")
        .unwrap();
    assert_eq!(
        tls.severity.as_str(),
        "HIGH",
        "shared bucket: TLS finding is high"
    );
    // The capturing sink got the same findings.
    let batches = w.capture.batches();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].findings.len(), o.findings().count());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enforce_mode_patches_tls_grants_the_key_and_moves_to_the_cmk() {
    let (w, cmk) = shared_world().await;
    let original = statements(&w.bucket_policy(SHARED).await.unwrap());
    let original_key = statements(&w.key_policy(&cmk).await);
    let event = s3_event("PutBucketPolicy", SHARED, ADMIN_ROLE);
    let o = w
        .handle(&event, &settings(Mode::Enforce, Some(&cmk), true))
        .await;
    let r = &o.results[0];
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let writes = verified_writes(&o);
    assert!(
        writes.contains(&"s3:PutBucketPolicy".to_string()),
        "{writes:?}"
    );
    assert!(
        writes.contains(&"kms:PutKeyPolicy".to_string()),
        "{writes:?}"
    );
    assert!(
        writes.contains(&"s3:PutBucketEncryption".to_string()),
        "{writes:?}"
    );
    // The key grant is written before the bucket moves to the key.
    let order: Vec<&str> = o.writes().map(|w| w.api.as_str()).collect();
    let grant = order.iter().position(|a| *a == "kms:PutKeyPolicy").unwrap();
    let moved = order
        .iter()
        .position(|a| *a == "s3:PutBucketEncryption")
        .unwrap();
    assert!(grant < moved, "{order:?}");

    let policy = w.bucket_policy(SHARED).await.unwrap();
    let now = statements(&policy);
    for s in &original {
        assert!(now.contains(s), "statement lost: {s}");
    }
    let deny = now
        .iter()
        .find(|s| s["Sid"] == "DenyInsecureTransport")
        .expect("TLS statement");
    assert_eq!(deny["Effect"], "Deny");
    assert_eq!(deny["Condition"]["Bool"]["aws:SecureTransport"], "false");

    let enc = w.encryption(SHARED).await.unwrap();
    let rule = &enc["ServerSideEncryptionConfiguration"]["Rules"][0];
    assert_eq!(
        rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"],
        "aws:kms"
    );
    assert_eq!(
        rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"],
        cmk.as_str()
    );
    assert_eq!(rule["BucketKeyEnabled"], true);

    let key_policy = w.key_policy(&cmk).await;
    let key_now = statements(&key_policy);
    for s in &original_key {
        assert!(key_now.contains(s), "key statement lost: {s}");
    }
    let text = key_policy.to_string();
    assert!(text.contains(COMPUTE_ACCOUNT), "{text}");
    assert!(text.contains("kms:ViaService"), "{text}");
    assert!(
        !text.contains("\"Principal\":\"*\""),
        "never public: {text}"
    );
    assert!(!r.fixed.is_empty(), "fixed findings are reported");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_event_makes_zero_writes() {
    let (w, cmk) = shared_world().await;
    let event = s3_event("PutBucketPolicy", SHARED, ADMIN_ROLE);
    let s = settings(Mode::Enforce, Some(&cmk), true);
    let kept = w.keep(&[SHARED], &[&cmk]).await;
    let first = w.handle(&event, &s).await;
    assert!(!verified_writes(&first).is_empty());
    kept.assert_none_lost(&w).await;
    let policy = w.bucket_policy(SHARED).await;
    let second = w.handle(&event, &s).await;
    assert_eq!(second.writes().count(), 0, "{:?}", second.results[0].writes);
    assert!(second.results[0].errors.is_empty());
    assert!(
        second.findings().all(|f| f.exempt),
        "nothing open after the fix: {:?}",
        rules(&second)
    );
    assert_eq!(w.bucket_policy(SHARED).await, policy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loop_guard_ignores_the_guardrails_own_writes() {
    let (w, cmk) = shared_world().await;
    let event = s3_event("PutBucketPolicy", SHARED, GUARDRAIL_ROLE);
    let o = w
        .handle(&event, &settings(Mode::Enforce, Some(&cmk), true))
        .await;
    let r = &o.results[0];
    assert!(
        r.ignored
            .as_deref()
            .unwrap_or_default()
            .contains("loop guard"),
        "{:?}",
        r.ignored
    );
    assert_eq!(o.writes().count(), 0);
    assert!(w.capture.batches().is_empty(), "nothing published");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exempt_bucket_is_reported_never_patched() {
    let w = World::start().await;
    let s = w.seed();
    s.create_bucket("data-exempt").await.unwrap();
    s.put_bucket_policy("data-exempt", &shared_policy("data-exempt").to_string())
        .await
        .unwrap();
    s.put_encryption("data-exempt", "AES256", None)
        .await
        .unwrap();
    s.put_bucket_tags("data-exempt", &[("cmkguard:exempt", "true")])
        .await
        .unwrap();
    let before = w.bucket_policy("data-exempt").await;
    let o = w
        .handle(
            &s3_event("PutBucketTagging", "data-exempt", ADMIN_ROLE),
            &settings(Mode::Enforce, None, true),
        )
        .await;
    assert!(o.findings().count() >= 2, "{:?}", rules(&o));
    assert!(o.findings().all(|f| f.exempt));
    assert!(rules(&o).contains(&"SHARED_BUCKET_SSE_S3".to_string()));
    assert_eq!(o.writes().count(), 0);
    assert_eq!(w.bucket_policy("data-exempt").await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_key_policy_patching_the_bucket_keeps_its_key() {
    let (w, cmk) = shared_world().await;
    let before_enc = w.encryption(SHARED).await;
    let kept = w.keep(&[SHARED], &[&cmk]).await;
    let o = w
        .handle(
            &s3_event("PutBucketEncryption", SHARED, ADMIN_ROLE),
            &settings(Mode::Enforce, Some(&cmk), false),
        )
        .await;
    // TLS is still patched; the CMK move would break the compute account, so it is not made.
    assert_eq!(verified_writes(&o), vec!["s3:PutBucketPolicy".to_string()]);
    assert_eq!(w.encryption(SHARED).await, before_enc);
    kept.assert_none_lost(&w).await;
    let f = o
        .findings()
        .find(|f| f.rule_id.as_str() == "SHARED_BUCKET_AWS_MANAGED_KEY")
        .unwrap();
    assert!(!o.results[0].fixed.contains(&f.id));
}

// The bucket event reads a key without its tags unless key-policy patching is on: this is
// the case those tags are read for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exempt_cmk_is_never_granted_so_the_bucket_keeps_its_key() {
    let (w, cmk) = shared_world().await;
    let config = settings(Mode::Enforce, Some(&cmk), true);
    w.seed()
        .tag_key(
            &cmk,
            &config.core.exemption_tag_key,
            &config.core.exemption_tag_value,
        )
        .await
        .expect("TagResource");
    let before_enc = w.encryption(SHARED).await;
    let before_key = w.key_policy(&cmk).await;
    let kept = w.keep(&[SHARED], &[&cmk]).await;
    let o = w
        .handle(
            &s3_event("PutBucketEncryption", SHARED, ADMIN_ROLE),
            &config,
        )
        .await;
    assert!(o.results[0].errors.is_empty(), "{:?}", o.results[0].errors);
    assert_eq!(verified_writes(&o), vec!["s3:PutBucketPolicy".to_string()]);
    assert_eq!(w.encryption(SHARED).await, before_enc);
    assert_eq!(w.key_policy(&cmk).await, before_key);
    kept.assert_none_lost(&w).await;
    assert!(o
        .findings()
        .any(|f| f.rule_id.as_str() == "SHARED_BUCKET_AWS_MANAGED_KEY"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_is_enabled_only_in_enforce_mode() {
    let w = World::start().await;
    let key = w.seed().create_key("k", None).await.unwrap();
    let kept = w.keep(&[], &[&key]).await;
    let event = kms_event("DisableKeyRotation", &key, ADMIN_ROLE);
    let report = w.handle(&event, &settings(Mode::Report, None, false)).await;
    assert_eq!(rules(&report), vec!["KEY_ROTATION_DISABLED".to_string()]);
    assert!(!w.seed().rotation_enabled(&key).await.unwrap());
    let enforce = w
        .handle(&event, &settings(Mode::Enforce, None, false))
        .await;
    assert_eq!(
        verified_writes(&enforce),
        vec!["kms:EnableKeyRotation".to_string()]
    );
    assert!(w.seed().rotation_enabled(&key).await.unwrap());
    kept.assert_none_lost(&w).await;
    let again = w
        .handle(&event, &settings(Mode::Enforce, None, false))
        .await;
    assert_eq!(again.writes().count(), 0);
    assert!(rules(&again).is_empty(), "{:?}", rules(&again));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_bucket_is_ignored_with_a_reason() {
    let w = World::start().await;
    let o = w
        .handle(
            &s3_event("PutBucketPolicy", "no-such-bucket", ADMIN_ROLE),
            &settings(Mode::Enforce, None, false),
        )
        .await;
    let r = &o.results[0];
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert!(
        r.ignored
            .as_deref()
            .unwrap_or_default()
            .contains("no longer exists"),
        "{:?}",
        r.ignored
    );
    assert_eq!(o.writes().count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_or_disabled_key_makes_the_bucket_key_unusable() {
    let w = World::start().await;
    let s = w.seed();
    let key = s.create_key("k", None).await.unwrap();
    s.disable_key(&key).await.unwrap();
    s.create_bucket("b-disabled").await.unwrap();
    s.put_bucket_policy("b-disabled", &shared_policy("b-disabled").to_string())
        .await
        .unwrap();
    s.put_encryption("b-disabled", "aws:kms", Some(&key))
        .await
        .unwrap();
    let missing = key.replace(
        key.rsplit('/').next().unwrap(),
        "00000000-0000-0000-0000-000000000000",
    );
    s.create_bucket("b-missing").await.unwrap();
    s.put_bucket_policy("b-missing", &shared_policy("b-missing").to_string())
        .await
        .unwrap();
    s.put_encryption("b-missing", "aws:kms", Some(&missing))
        .await
        .unwrap();
    for b in ["b-disabled", "b-missing"] {
        let o = w
            .handle(
                &s3_event("PutBucketEncryption", b, ADMIN_ROLE),
                &settings(Mode::Report, None, false),
            )
            .await;
        assert!(
            o.results[0].errors.is_empty(),
            "{b}: {:?}",
            o.results[0].errors
        );
        assert!(
            rules(&o).contains(&"SHARED_BUCKET_KEY_UNUSABLE".to_string()),
            "{b}: {:?}",
            rules(&o)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_by_alias_is_rewritten_to_its_arn() {
    let w = World::start().await;
    let s = w.seed();
    let mut policy: Value = serde_json::from_str(&owner_only_key_policy(DATA_ACCOUNT)).unwrap();
    policy["Statement"].as_array_mut().unwrap().push(json!({
        "Sid": "Compute", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{COMPUTE_ACCOUNT}:root")},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"], "Resource": "*"}));
    let key = s.create_key("k", Some(&policy.to_string())).await.unwrap();
    s.create_alias("alias/data", &key).await.unwrap();
    s.create_bucket("data-alias").await.unwrap();
    s.put_bucket_policy("data-alias", &shared_policy("data-alias").to_string())
        .await
        .unwrap();
    s.put_encryption("data-alias", "aws:kms", Some("alias/data"))
        .await
        .unwrap();
    let kept = w.keep(&["data-alias"], &[&key]).await;
    let o = w
        .handle(
            &s3_event("PutBucketEncryption", "data-alias", ADMIN_ROLE),
            &settings(Mode::Enforce, None, false),
        )
        .await;
    assert!(
        rules(&o).contains(&"SHARED_BUCKET_KEY_NOT_ARN".to_string()),
        "{:?}",
        rules(&o)
    );
    assert!(
        verified_writes(&o).contains(&"s3:PutBucketEncryption".to_string()),
        "{:?}",
        o.results[0]
    );
    let enc = w.encryption("data-alias").await.unwrap();
    assert_eq!(
        enc["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]
            ["KMSMasterKeyID"],
        key.as_str()
    );
    kept.assert_none_lost(&w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_policy_is_refused_and_left_intact() {
    let w = World::start().await;
    let s = w.seed();
    s.create_bucket("big").await.unwrap();
    // Just under S3's 20 KB: the TLS statement would push it over.
    let mut policy = shared_policy("big");
    let filler: Vec<String> = (0..1)
        .map(|i| format!("arn:aws:s3:::big/{i}-{}", "x".repeat(20_000)))
        .collect();
    policy["Statement"].as_array_mut().unwrap().push(json!({
        "Sid": "Filler", "Effect": "Deny", "Principal": {"AWS": format!("arn:aws:iam::{COMPUTE_ACCOUNT}:root")},
        "Action": "s3:DeleteObject", "Resource": filler}));
    s.put_bucket_policy("big", &policy.to_string())
        .await
        .unwrap();
    let before = w.bucket_policy("big").await;
    let o = w
        .handle(
            &s3_event("PutBucketPolicy", "big", ADMIN_ROLE),
            &settings(Mode::Enforce, None, false),
        )
        .await;
    let tls = o
        .findings()
        .find(|f| f.rule_id.as_str() == "TLS_NOT_ENFORCED")
        .expect("TLS finding");
    assert!(
        format!("{:?}", tls.remediation).contains("20"),
        "{:?}",
        tls.remediation
    );
    assert!(!o.writes().any(|w| w.api == "s3:PutBucketPolicy"));
    assert_eq!(w.bucket_policy("big").await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_managed_key_event_is_ignored_with_the_moto_correction() {
    let w = World::start().await;
    // moto creates the AWS managed key behind alias/aws/s3 on first use.
    let o = w
        .handle(
            &kms_event("DisableKey", "alias/aws/s3", ADMIN_ROLE),
            &settings(Mode::Enforce, None, false),
        )
        .await;
    let r = &o.results[0];
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(o.writes().count(), 0);
    assert!(rules(&o).is_empty(), "{:?} / {:?}", rules(&o), r.ignored);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sinks_publish_to_sns_security_hub_and_eventbridge() {
    let (w, cmk) = shared_world().await;
    let topic = w.seed().create_topic("findings").await.unwrap();
    w.seed().enable_security_hub().await.unwrap();
    let mut s = settings(Mode::Report, Some(&cmk), true);
    s.sinks = SinkSettings {
        sns_topic_arn: Some(topic),
        security_hub: true,
        event_bus: Some("default".into()),
        ocsf_bucket: None,
    };
    s.account = Some(DATA_ACCOUNT.to_string());
    let event = s3_event("PutBucketPolicy", SHARED, ADMIN_ROLE);
    let o = w.handle(&event, &s).await;
    let r = &o.results[0];
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let sinks: Vec<&str> = r.published.iter().map(|p| p.sink.as_str()).collect();
    assert_eq!(sinks, vec!["sns", "securityhub", "eventbridge", "capture"]);
    let hub = w.seed().security_hub_findings().await.unwrap();
    let tls = o
        .findings()
        .find(|f| f.rule_id.as_str() == "TLS_NOT_ENFORCED")
        .unwrap();
    assert!(
        hub.iter()
            .any(|(id, gen, st)| id == &tls.id && gen == "TLS_NOT_ENFORCED" && st == "FAILED"),
        "{hub:?}"
    );
    // Enforce fixes it: the same id is re-posted as PASSED (upsert, no duplicate).
    s.core.mode = Mode::Enforce;
    let kept = w.keep(&[SHARED], &[&cmk]).await;
    let fixed = w.handle(&event, &s).await;
    kept.assert_none_lost(&w).await;
    assert!(
        fixed.results[0].errors.is_empty(),
        "{:?}",
        fixed.results[0].errors
    );
    let hub = w.seed().security_hub_findings().await.unwrap();
    let same: Vec<_> = hub.iter().filter(|(id, _, _)| id == &tls.id).collect();
    assert_eq!(same.len(), 1, "{hub:?}");
    assert_eq!(same[0].2, "PASSED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_irrelevant_events_are_ignored() {
    let w = World::start().await;
    for event in [
        json!(null),
        json!({"detail": "x"}),
        json!({"source": "aws.s3", "detail-type": "AWS API Call via CloudTrail", "detail": {"eventName": "PutBucketPolicy", "requestParameters": null}}),
    ] {
        let o = w
            .handle(&event, &settings(Mode::Enforce, None, false))
            .await;
        assert!(
            o.results.iter().all(|r| r.ignored.is_some()),
            "{event}: {o:?}"
        );
        assert_eq!(o.writes().count(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_endpoint_is_a_retryable_error() {
    // A port nothing listens on: the SDK's dispatch failure must come out as transient.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let clients = cmkguard::aws::load_clients(&cmkguard::dev::scenario::emulator_options(
        &format!("http://127.0.0.1:{port}"),
    ))
    .await;
    let d = cmkguard::aws::deps(&clients, &SinkSettings::default());
    let o = cmkguard::app::handle(
        &s3_event("PutBucketPolicy", SHARED, ADMIN_ROLE),
        &d,
        &settings(Mode::Enforce, None, false),
    )
    .await;
    assert!(o.retryable(), "{o:?}");
    assert_eq!(o.writes().count(), 0);
    let _ = WriteResult::Verified;
}
