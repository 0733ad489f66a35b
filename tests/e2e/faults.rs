//! The safety of the writes against the real adapters with faults injected around them
//! (`harness::Faulty`): a concurrent edit between plan and write is re-planned and kept;
//! throttling is retryable and writes nothing; a permanent failure in the middle of a CMK move
//! leaves no partial move and loses no statement.

use std::sync::{Arc, Mutex};

use cmkguard::app::WriteResult;
use cmkguard::core::config::Mode;
use cmkguard::dev::scenario::{owner_only_key_policy, shared_policy};
use serde_json::json;

use super::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_policy_edit_is_replanned_and_kept() {
    let w = World::start().await;
    let s = w.seed();
    s.create_bucket("conc").await.unwrap();
    s.put_bucket_policy("conc", &shared_policy("conc").to_string())
        .await
        .unwrap();
    s.put_encryption("conc", "AES256", None).await.unwrap();
    let kept = w.keep(&["conc"], &[]).await;
    let theirs = json!({"Sid": "AddedConcurrently", "Effect": "Deny",
        "Principal": {"AWS": format!("arn:aws:iam::{COMPUTE_ACCOUNT}:root")},
        "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::conc/*"});
    let faults = Arc::new(Faults {
        concurrent: Mutex::new(Some((w.clients.clone(), "conc".into(), theirs.clone()))),
        ..Faults::default()
    });
    // No CMK configured: the only planned write is the TLS statement.
    let o = w
        .handle_faulty(
            &s3_event("PutBucketPolicy", "conc", ADMIN_ROLE),
            &settings(Mode::Enforce, None, false),
            faults.clone(),
        )
        .await;
    let r = &o.results[0];
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert!(r.replanned, "{r:?}");
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("changed since planning") && n.contains("planned again")),
        "{:?}",
        r.notes
    );
    assert_eq!(verified_writes(&o), vec!["s3:PutBucketPolicy"]);
    assert_eq!(faults.writes_made(), 1, "one write, from the new plan");
    kept.assert_none_lost(&w).await;
    let now = statements(&w.bucket_policy("conc").await.unwrap());
    assert!(
        now.contains(&theirs),
        "the concurrent statement survives: {now:?}"
    );
    let deny = now
        .iter()
        .find(|s| s["Sid"] == "DenyInsecureTransport")
        .expect("TLS Deny added");
    assert_eq!(deny["Condition"]["Bool"]["aws:SecureTransport"], "false");
    assert_eq!(now.len(), 3, "{now:?}");
    let tls = o
        .findings()
        .find(|f| f.rule_id.as_str() == "TLS_NOT_ENFORCED")
        .unwrap();
    assert!(r.fixed.contains(&tls.id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_reads_are_retryable_and_write_nothing() {
    let w = World::start().await;
    let s = w.seed();
    s.create_bucket("throttled").await.unwrap();
    s.put_bucket_policy("throttled", &shared_policy("throttled").to_string())
        .await
        .unwrap();
    let before = w.bucket_policy("throttled").await;
    let event = s3_event("PutBucketPolicy", "throttled", ADMIN_ROLE);
    let enforce = settings(Mode::Enforce, None, false);
    // On the snapshot read, then on the fresh read right before the write.
    for faults in [
        Faults {
            read_bucket: Some("SlowDown"),
            ..Faults::default()
        },
        Faults {
            read_bucket_policy: Some("ThrottlingException"),
            ..Faults::default()
        },
    ] {
        let faults = Arc::new(faults);
        let o = w.handle_faulty(&event, &enforce, faults.clone()).await;
        let r = &o.results[0];
        assert!(o.retryable(), "{r:?}");
        assert!(
            r.errors.iter().any(|e| e.stage == "read" && e.retryable),
            "{:?}",
            r.errors
        );
        assert_eq!(faults.writes_made(), 0);
        assert!(
            o.writes().all(|w| matches!(
                w.result,
                WriteResult::Failed {
                    retryable: true,
                    ..
                }
            )),
            "{:?}",
            r.writes
        );
        assert!(r.fixed.is_empty());
        assert_eq!(w.bucket_policy("throttled").await, before);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_cmk_move_is_never_partial() {
    let w = World::start().await;
    let s = w.seed();
    let cmk = s
        .create_key("cmk", Some(&owner_only_key_policy(DATA_ACCOUNT)))
        .await
        .unwrap();
    s.create_bucket("move").await.unwrap();
    s.put_bucket_policy("move", &shared_policy("move").to_string())
        .await
        .unwrap();
    s.put_encryption("move", "aws:kms", None).await.unwrap();
    let kept = w.keep(&["move"], &[&cmk]).await;
    let enc_before = w.encryption("move").await;
    let event = s3_event("PutBucketPolicy", "move", ADMIN_ROLE);
    let enforce = settings(Mode::Enforce, Some(&cmk), true);
    let apis =
        |o: &cmkguard::app::Outcome| -> Vec<String> { o.writes().map(|w| w.api.clone()).collect() };

    // Step 1 of the move (the key grant) denied: the bucket never moves to a key that
    // does not grant its accounts.
    let faults = Arc::new(Faults {
        put_key_policy: Some("AccessDeniedException"),
        ..Faults::default()
    });
    let o = w.handle_faulty(&event, &enforce, faults.clone()).await;
    let r = &o.results[0];
    assert_eq!(
        apis(&o),
        vec![
            "s3:PutBucketPolicy",
            "kms:PutKeyPolicy",
            "s3:PutBucketEncryption"
        ]
    );
    assert!(
        matches!(r.writes[0].result, WriteResult::Verified),
        "{:?}",
        r.writes
    );
    assert!(
        matches!(
            r.writes[1].result,
            WriteResult::Failed {
                retryable: false,
                ..
            }
        ),
        "{:?}",
        r.writes
    );
    assert!(
        matches!(r.writes[2].result, WriteResult::Skipped { .. }),
        "{:?}",
        r.writes
    );
    assert!(!o.retryable());
    assert_eq!(w.encryption("move").await, enc_before);
    assert!(!w
        .key_policy(&cmk)
        .await
        .to_string()
        .contains(COMPUTE_ACCOUNT));
    kept.assert_none_lost(&w).await;

    // Step 2 (the encryption write, after the key grant) denied: classified, no retry, the
    // bucket keeps its encryption, the grant and the TLS statement stay.
    let faults = Arc::new(Faults {
        put_bucket_encryption: Some("AccessDenied"),
        ..Faults::default()
    });
    let o = w.handle_faulty(&event, &enforce, faults.clone()).await;
    let r = &o.results[0];
    assert_eq!(apis(&o), vec!["kms:PutKeyPolicy", "s3:PutBucketEncryption"]);
    assert!(
        matches!(r.writes[0].result, WriteResult::Verified),
        "{:?}",
        r.writes
    );
    assert!(
        matches!(
            r.writes[1].result,
            WriteResult::Failed {
                retryable: false,
                ..
            }
        ),
        "{:?}",
        r.writes
    );
    let err = r
        .errors
        .iter()
        .find(|e| e.stage == "write")
        .expect("write error");
    assert_eq!(err.code, "AccessDenied");
    assert!(!err.retryable);
    assert!(!o.retryable());
    assert_eq!(w.encryption("move").await, enc_before, "no partial move");
    let moved = o
        .findings()
        .find(|f| f.rule_id.as_str() == "SHARED_BUCKET_AWS_MANAGED_KEY")
        .unwrap();
    assert!(!r.fixed.contains(&moved.id));
    let posted = w.capture.batches().pop().unwrap();
    assert!(posted
        .findings
        .iter()
        .any(|p| p.finding.id == moved.id && p.status == cmkguard::ports::FindingStatus::Open));
    kept.assert_none_lost(&w).await;
    assert!(w
        .key_policy(&cmk)
        .await
        .to_string()
        .contains(COMPUTE_ACCOUNT));
    assert!(statements(&w.bucket_policy("move").await.unwrap())
        .iter()
        .any(|s| s["Sid"] == "DenyInsecureTransport"));

    // Without the fault the move completes.
    let o = w.handle(&event, &enforce).await;
    assert_eq!(verified_writes(&o), vec!["s3:PutBucketEncryption"]);
    kept.assert_none_lost(&w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_read_back_after_a_write_is_retryable_and_the_retry_is_a_no_op() {
    let w = World::start().await;
    let s = w.seed();
    s.create_bucket("read-back").await.unwrap();
    s.put_bucket_policy("read-back", &shared_policy("read-back").to_string())
        .await
        .unwrap();
    s.put_encryption("read-back", "AES256", None).await.unwrap();
    let kept = w.keep(&["read-back"], &[]).await;
    let event = s3_event("PutBucketPolicy", "read-back", ADMIN_ROLE);
    let enforce = settings(Mode::Enforce, None, false);
    // The fresh read before the write succeeds; the read-back after it is throttled.
    let faults = Arc::new(Faults {
        read_bucket_policy: Some("SlowDown"),
        policy_reads_ok: 1,
        ..Faults::default()
    });
    let o = w.handle_faulty(&event, &enforce, faults.clone()).await;
    let r = &o.results[0];
    assert_eq!(faults.writes_made(), 1);
    assert!(
        matches!(r.writes[0].result, WriteResult::Unverified { .. }),
        "{:?}",
        r.writes
    );
    assert!(
        o.retryable(),
        "a throttled read-back is transient: the event must be retried ({:?})",
        r.errors
    );
    kept.assert_none_lost(&w).await;
    // The retry finds the Deny in place: nothing to write, the finding passes.
    let retry = w.handle(&event, &enforce).await;
    assert_eq!(retry.writes().count(), 0, "{:?}", retry.results[0].writes);
    assert!(retry.results[0]
        .passed
        .iter()
        .any(|p| p.rule_id.as_str() == "TLS_NOT_ENFORCED"));
    kept.assert_none_lost(&w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_key_policy_edit_is_replanned_and_kept() {
    let w = World::start().await;
    let s = w.seed();
    let cmk = s
        .create_key("cmk", Some(&owner_only_key_policy(DATA_ACCOUNT)))
        .await
        .unwrap();
    s.create_bucket("conc-key").await.unwrap();
    let mut policy = shared_policy("conc-key");
    policy["Statement"].as_array_mut().unwrap().push(json!({
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": ["arn:aws:s3:::conc-key", "arn:aws:s3:::conc-key/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}));
    s.put_bucket_policy("conc-key", &policy.to_string())
        .await
        .unwrap();
    s.put_encryption("conc-key", "aws:kms", Some(&cmk))
        .await
        .unwrap();
    let kept = w.keep(&["conc-key"], &[&cmk]).await;
    let theirs = json!({"Sid": "AuditorDescribe", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{DATA_ACCOUNT}:role/auditor")},
        "Action": "kms:DescribeKey", "Resource": "*"});
    let faults = Arc::new(Faults {
        concurrent_key: Mutex::new(Some((w.clients.clone(), cmk.clone(), theirs.clone()))),
        ..Faults::default()
    });
    // The only planned write is the key grant for the compute account.
    let o = w
        .handle_faulty(
            &s3_event("PutBucketPolicy", "conc-key", ADMIN_ROLE),
            &settings(Mode::Enforce, Some(&cmk), true),
            faults.clone(),
        )
        .await;
    let r = &o.results[0];
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert!(r.replanned, "{r:?}");
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("key policy") && n.contains("planned again")),
        "{:?}",
        r.notes
    );
    assert_eq!(verified_writes(&o), vec!["kms:PutKeyPolicy"]);
    assert_eq!(faults.writes_made(), 1);
    kept.assert_none_lost(&w).await;
    let now = statements(&w.key_policy(&cmk).await);
    assert!(
        now.contains(&theirs),
        "the concurrent statement survives: {now:?}"
    );
    assert!(
        now.iter().any(|s| s.to_string().contains(COMPUTE_ACCOUNT)),
        "{now:?}"
    );
    assert_eq!(now.len(), 3, "{now:?}");
}
