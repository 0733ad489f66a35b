//! Each rule of DOMAIN.md §3 in report mode (finding posted, nothing written) and enforce mode
//! (the patch read back from the emulator, or the proof that it is never patched), with every
//! original policy statement kept.

use cmkguard::app::Outcome;
use cmkguard::core::config::Mode;
use cmkguard::core::finding::Remediation;
use cmkguard::dev::scenario::owner_only_key_policy;
use serde_json::{json, Value};

use super::harness::*;

const THIRD_ACCOUNT: &str = "777788889999";

fn kms_master_key(enc: &Option<Value>) -> Value {
    enc.as_ref().expect("encryption")["ServerSideEncryptionConfiguration"]["Rules"][0]
        ["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"]
        .clone()
}

fn finding<'a>(o: &'a Outcome, rule: &str) -> &'a cmkguard::core::finding::Finding {
    o.findings()
        .find(|f| f.rule_id.as_str() == rule)
        .unwrap_or_else(|| panic!("no {rule} in {:?}", rules(o)))
}

fn no_errors(o: &Outcome) {
    assert!(o.results[0].errors.is_empty(), "{:?}", o.results[0].errors);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_bucket_sse_s3_is_reported_then_moved_to_the_cmk() {
    let w = World::start().await;
    let s = w.seed();
    let cmk = s
        .create_key("cmk", Some(&granted_key_policy()))
        .await
        .unwrap();
    s.create_bucket("sse-s3").await.unwrap();
    s.put_bucket_policy("sse-s3", &shared_with_tls("sse-s3"))
        .await
        .unwrap();
    s.put_encryption("sse-s3", "AES256", None).await.unwrap();
    let kept = w.keep(&["sse-s3"], &[&cmk]).await;
    let event = s3_event("PutBucketEncryption", "sse-s3", ADMIN_ROLE);

    let before = w.encryption("sse-s3").await;
    let report = w
        .handle(&event, &settings(Mode::Report, Some(&cmk), false))
        .await;
    no_errors(&report);
    assert_eq!(rules(&report), vec!["SHARED_BUCKET_SSE_S3"]);
    assert_eq!(
        finding(&report, "SHARED_BUCKET_SSE_S3").severity.as_str(),
        "MEDIUM"
    );
    assert_eq!(report.writes().count(), 0);
    assert_eq!(w.encryption("sse-s3").await, before);

    let enforce = w
        .handle(&event, &settings(Mode::Enforce, Some(&cmk), false))
        .await;
    no_errors(&enforce);
    assert_eq!(verified_writes(&enforce), vec!["s3:PutBucketEncryption"]);
    let f = finding(&enforce, "SHARED_BUCKET_SSE_S3");
    assert!(enforce.results[0].fixed.contains(&f.id));
    assert!(
        f.fix.contains("Batch Operations")
            || f.reasons.iter().any(|r| r.contains("Batch Operations")),
        "old objects keep their key: {f:?}"
    );
    let enc = w.encryption("sse-s3").await;
    let rule = &enc.as_ref().unwrap()["ServerSideEncryptionConfiguration"]["Rules"][0];
    assert_eq!(
        rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"],
        "aws:kms"
    );
    assert_eq!(kms_master_key(&enc), cmk.as_str());
    assert_eq!(rule["BucketKeyEnabled"], true);
    kept.assert_none_lost(&w).await;
    // The published finding is the fixed one.
    let last = w.capture.batches().pop().unwrap();
    assert!(last
        .findings
        .iter()
        .any(|p| p.finding.id == f.id && p.status == cmkguard::ports::FindingStatus::Fixed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_by_bare_id_is_reported_then_rewritten_to_the_arn() {
    let w = World::start().await;
    let s = w.seed();
    let key = s
        .create_key("data", Some(&granted_key_policy()))
        .await
        .unwrap();
    let key_id = key.rsplit('/').next().unwrap().to_string();
    s.create_bucket("bare-id").await.unwrap();
    s.put_bucket_policy("bare-id", &shared_with_tls("bare-id"))
        .await
        .unwrap();
    s.put_encryption("bare-id", "aws:kms", Some(&key_id))
        .await
        .unwrap();
    let kept = w.keep(&["bare-id"], &[&key]).await;
    let event = s3_event("PutBucketEncryption", "bare-id", ADMIN_ROLE);

    let report = w.handle(&event, &settings(Mode::Report, None, false)).await;
    no_errors(&report);
    assert_eq!(rules(&report), vec!["SHARED_BUCKET_KEY_NOT_ARN"]);
    assert_eq!(
        finding(&report, "SHARED_BUCKET_KEY_NOT_ARN")
            .severity
            .as_str(),
        "HIGH"
    );
    assert_eq!(report.writes().count(), 0);
    assert_eq!(
        kms_master_key(&w.encryption("bare-id").await),
        key_id.as_str()
    );

    let enforce = w
        .handle(&event, &settings(Mode::Enforce, None, false))
        .await;
    no_errors(&enforce);
    assert_eq!(verified_writes(&enforce), vec!["s3:PutBucketEncryption"]);
    assert_eq!(kms_master_key(&w.encryption("bare-id").await), key.as_str());
    kept.assert_none_lost(&w).await;
    let again = w
        .handle(&event, &settings(Mode::Enforce, None, false))
        .await;
    assert!(rules(&again).is_empty(), "{:?}", rules(&again));
    assert_eq!(again.writes().count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_key_grant_is_reported_then_granted_usage_only() {
    let w = World::start().await;
    let s = w.seed();
    let cmk = s
        .create_key("cmk", Some(&owner_only_key_policy(DATA_ACCOUNT)))
        .await
        .unwrap();
    s.create_bucket("no-grant").await.unwrap();
    s.put_bucket_policy("no-grant", &shared_with_tls("no-grant"))
        .await
        .unwrap();
    s.put_encryption("no-grant", "aws:kms", Some(&cmk))
        .await
        .unwrap();
    let kept = w.keep(&["no-grant"], &[&cmk]).await;
    let key_before = w.key_policy(&cmk).await;
    let event = s3_event("PutBucketPolicy", "no-grant", ADMIN_ROLE);

    // Report mode, and enforce mode without key-policy patching: reported, key untouched.
    for s in [
        settings(Mode::Report, Some(&cmk), true),
        settings(Mode::Enforce, Some(&cmk), false),
    ] {
        let o = w.handle(&event, &s).await;
        no_errors(&o);
        assert_eq!(
            rules(&o),
            vec!["KEY_POLICY_MISSING_GRANT"],
            "{:?}",
            s.core.mode
        );
        let f = finding(&o, "KEY_POLICY_MISSING_GRANT");
        assert!(
            f.reasons.iter().any(|r| r.contains(COMPUTE_ACCOUNT)),
            "{:?}",
            f.reasons
        );
        assert_eq!(o.writes().count(), 0);
        assert_eq!(w.key_policy(&cmk).await, key_before);
    }

    let o = w
        .handle(&event, &settings(Mode::Enforce, Some(&cmk), true))
        .await;
    no_errors(&o);
    assert_eq!(verified_writes(&o), vec!["kms:PutKeyPolicy"]);
    kept.assert_none_lost(&w).await;
    let after = statements(&w.key_policy(&cmk).await);
    assert_eq!(after.len(), statements(&key_before).len() + 1);
    let grant = after.last().unwrap();
    assert_eq!(grant["Effect"], "Allow");
    assert!(
        grant["Principal"].to_string().contains(COMPUTE_ACCOUNT),
        "{grant}"
    );
    assert!(grant.to_string().contains("kms:ViaService"), "{grant}");
    for a in grant["Action"].as_array().expect("actions") {
        let a = a.as_str().unwrap();
        assert!(
            [
                "kms:Decrypt",
                "kms:GenerateDataKey*",
                "kms:DescribeKey",
                "kms:Encrypt",
                "kms:ReEncrypt*"
            ]
            .contains(&a),
            "usage only: {a}"
        );
    }
    let again = w
        .handle(&event, &settings(Mode::Enforce, Some(&cmk), true))
        .await;
    assert!(rules(&again).is_empty(), "{:?}", rules(&again));
    assert_eq!(again.writes().count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_tls_deny_is_kept_and_ours_added() {
    let w = World::start().await;
    let s = w.seed();
    let partial = json!({"Sid": "OnlyObjects", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": "arn:aws:s3:::tls-partial/*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}});
    let owner = json!({"Sid": "OwnerRead", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{DATA_ACCOUNT}:role/reader")},
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::tls-partial/*"});
    s.create_bucket("tls-partial").await.unwrap();
    s.put_bucket_policy(
        "tls-partial",
        &json!({"Version": "2012-10-17", "Statement": [owner, partial]}).to_string(),
    )
    .await
    .unwrap();
    s.put_encryption("tls-partial", "AES256", None)
        .await
        .unwrap();
    let kept = w.keep(&["tls-partial"], &[]).await;
    let before = w.bucket_policy("tls-partial").await;
    let event = s3_event("PutBucketPolicy", "tls-partial", ADMIN_ROLE);

    let report = w.handle(&event, &settings(Mode::Report, None, false)).await;
    no_errors(&report);
    assert_eq!(rules(&report), vec!["TLS_PARTIAL"]);
    let f = finding(&report, "TLS_PARTIAL");
    assert_eq!(f.severity.as_str(), "MEDIUM", "not shared");
    assert!(
        f.reasons.iter().any(|r| r.contains("OnlyObjects")),
        "{:?}",
        f.reasons
    );
    assert_eq!(report.writes().count(), 0);
    assert_eq!(w.bucket_policy("tls-partial").await, before);

    let enforce = w
        .handle(&event, &settings(Mode::Enforce, None, false))
        .await;
    no_errors(&enforce);
    assert_eq!(verified_writes(&enforce), vec!["s3:PutBucketPolicy"]);
    kept.assert_none_lost(&w).await;
    let now = statements(&w.bucket_policy("tls-partial").await.unwrap());
    assert_eq!(now.len(), 3, "{now:?}");
    assert_eq!(now[1]["Sid"], "OnlyObjects", "kept in place");
    assert_eq!(now[2], tls_deny("tls-partial"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_admin_and_public_key_are_reported_never_patched() {
    let w = World::start().await;
    let s = w.seed();
    let mut policy: Value = serde_json::from_str(&owner_only_key_policy(DATA_ACCOUNT)).unwrap();
    policy["Statement"].as_array_mut().unwrap().extend([
        json!({"Sid": "ThirdAdmin", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{THIRD_ACCOUNT}:root")},
            "Action": "kms:*", "Resource": "*"}),
        json!({"Sid": "Everyone", "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}),
    ]);
    let key = s
        .create_key("open", Some(&policy.to_string()))
        .await
        .unwrap();
    s.enable_rotation(&key).await.unwrap();
    let before = s.get_key_policy(&key).await.unwrap();
    let event = kms_event("PutKeyPolicy", &key, ADMIN_ROLE);
    for mode in [Mode::Report, Mode::Enforce] {
        let o = w.handle(&event, &settings(mode, None, true)).await;
        no_errors(&o);
        assert_eq!(
            rules(&o),
            vec!["KEY_EXTERNAL_ADMIN", "KEY_PUBLIC"],
            "{mode:?}"
        );
        let admin = finding(&o, "KEY_EXTERNAL_ADMIN");
        assert_eq!(admin.severity.as_str(), "HIGH");
        assert!(
            admin.reasons.iter().any(|r| r.contains("ThirdAdmin")),
            "{:?}",
            admin.reasons
        );
        assert_eq!(finding(&o, "KEY_PUBLIC").severity.as_str(), "CRITICAL");
        for f in o.findings() {
            assert_eq!(f.resource_arn, key);
            assert!(
                matches!(f.remediation, Remediation::Manual { .. }),
                "{mode:?}: {:?}",
                f.remediation
            );
        }
        assert_eq!(o.writes().count(), 0, "{mode:?}");
        assert_eq!(
            s.get_key_policy(&key).await.unwrap(),
            before,
            "{mode:?}: key policy unchanged"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_material_key_needs_manual_rotation_and_is_never_patched() {
    let w = World::start().await;
    // moto 5.2 accepts Origin EXTERNAL (and reports the key Enabled, where AWS says
    // PendingImport until material is imported); its rotation status reads false.
    let key = w
        .clients
        .kms
        .create_key()
        .origin(aws_sdk_kms::types::OriginType::External)
        .description("imported")
        .send()
        .await
        .unwrap()
        .key_metadata()
        .and_then(|m| m.arn())
        .unwrap()
        .to_string();
    let kept = w.keep(&[], &[&key]).await;
    let event = kms_event("DisableKeyRotation", &key, ADMIN_ROLE);
    for mode in [Mode::Report, Mode::Enforce] {
        let o = w.handle(&event, &settings(mode, None, false)).await;
        no_errors(&o);
        assert_eq!(rules(&o), vec!["KEY_ROTATION_DISABLED"], "{mode:?}");
        let f = finding(&o, "KEY_ROTATION_DISABLED");
        assert_eq!(f.severity.as_str(), "LOW");
        assert!(
            f.reasons
                .iter()
                .any(|r| r.contains("manual rotation required") && r.contains("EXTERNAL")),
            "{:?}",
            f.reasons
        );
        assert_eq!(o.writes().count(), 0, "{mode:?}");
        assert!(!w.seed().rotation_enabled(&key).await.unwrap());
    }
    kept.assert_none_lost(&w).await;
}
