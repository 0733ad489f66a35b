//! Every event name of DOMAIN.md §7 goes through `app::handle` and reaches its resource, and
//! the cross-account AccessDenied records of §6 are diagnosed in the owner's account. Events are
//! built like the fixtures in `events/`, with the emulator's real bucket names and key ARNs.

use aws_sdk_s3::types::BucketCannedAcl;
use cmkguard::app::Outcome;
use cmkguard::core::config::Mode;
use cmkguard::dev::scenario::{owner_only_key_policy, shared_policy};
use serde_json::{json, Value};

use super::harness::*;

/// A `CreateKey` record: the key is named only in `responseElements` (as in the fixture).
fn create_key_event(key_arn: &str) -> Value {
    let mut e = kms_event("CreateKey", key_arn, ADMIN_ROLE);
    let id = key_arn.rsplit('/').next().unwrap_or_default();
    e["detail"]["requestParameters"] = json!({"description": "new", "keyUsage": "ENCRYPT_DECRYPT",
        "keySpec": "SYMMETRIC_DEFAULT", "origin": "AWS_KMS", "bypassPolicyLockoutSafetyCheck": false});
    e["detail"]["responseElements"] = json!({"keyMetadata": {"aWSAccountId": DATA_ACCOUNT,
        "keyId": id, "arn": key_arn, "keyState": "Enabled", "origin": "AWS_KMS", "keyManager": "CUSTOMER"}});
    e["detail"]["resources"] = json!([]);
    e
}

fn with_tls(bucket: &str) -> Value {
    let mut p = shared_policy(bucket);
    p["Statement"]
        .as_array_mut()
        .unwrap()
        .push(tls_deny(bucket));
    p
}

fn tls_deny(bucket: &str) -> Value {
    json!({"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
}

fn owner_only_tls(bucket: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [tls_deny(bucket)]})
}

/// Every finding and passed check of the outcome is about `arn`.
fn only_about(o: &Outcome, arn: &str) -> Result<(), String> {
    let r = &o.results[0];
    let mut seen: Vec<&str> = r.findings.iter().map(|f| f.resource_arn.as_str()).collect();
    seen.extend(r.passed.iter().map(|p| p.resource_arn.as_str()));
    if seen.is_empty() {
        return Err("no finding and no passed check".into());
    }
    match seen.iter().find(|a| **a != arn) {
        Some(other) => Err(format!("about {other}, not {arn}")),
        None => Ok(()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_watched_event_reaches_its_resource() {
    let w = World::start().await;
    let s = w.seed();
    let s3 = &w.clients.s3;

    // S3: each bucket is left in the state its event's call produces.
    s.create_bucket("ev-create").await.unwrap();
    for b in ["ev-put-enc", "ev-put-policy"] {
        s.create_bucket(b).await.unwrap();
        s.put_bucket_policy(b, &shared_policy(b).to_string())
            .await
            .unwrap();
        s.put_encryption(b, "aws:kms", None).await.unwrap();
    }
    s.create_bucket("ev-del-enc").await.unwrap();
    s.put_bucket_policy("ev-del-enc", &shared_policy("ev-del-enc").to_string())
        .await
        .unwrap();
    s.put_encryption("ev-del-enc", "AES256", None)
        .await
        .unwrap();
    s3.delete_bucket_encryption()
        .bucket("ev-del-enc")
        .send()
        .await
        .unwrap();
    s.create_bucket("ev-del-policy").await.unwrap();
    s.put_bucket_policy("ev-del-policy", &with_tls("ev-del-policy").to_string())
        .await
        .unwrap();
    s.put_encryption("ev-del-policy", "AES256", None)
        .await
        .unwrap();
    s3.delete_bucket_policy()
        .bucket("ev-del-policy")
        .send()
        .await
        .unwrap();
    s.create_bucket("ev-acl").await.unwrap();
    s.put_bucket_policy("ev-acl", &owner_only_tls("ev-acl").to_string())
        .await
        .unwrap();
    s.put_encryption("ev-acl", "AES256", None).await.unwrap();
    s3.put_bucket_acl()
        .bucket("ev-acl")
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    for b in ["ev-tagged", "ev-untagged"] {
        s.create_bucket(b).await.unwrap();
        s.put_bucket_policy(b, &shared_policy(b).to_string())
            .await
            .unwrap();
        s.put_encryption(b, "AES256", None).await.unwrap();
        s.put_bucket_tags(b, &[("cmkguard:exempt", "true")])
            .await
            .unwrap();
    }
    s3.delete_bucket_tagging()
        .bucket("ev-untagged")
        .send()
        .await
        .unwrap();

    // KMS: likewise for keys.
    let created = s.create_key("created", None).await.unwrap();
    let rotated = s.create_key("rotation-off", None).await.unwrap();
    let mut admin: Value = serde_json::from_str(&owner_only_key_policy(DATA_ACCOUNT)).unwrap();
    admin["Statement"].as_array_mut().unwrap().push(json!({"Sid": "ThirdAdmin", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::777788889999:root"}, "Action": "kms:*", "Resource": "*"}));
    let policied = s
        .create_key("policy", Some(&admin.to_string()))
        .await
        .unwrap();
    s.enable_rotation(&policied).await.unwrap();
    let scheduled = s.create_key("scheduled", None).await.unwrap();
    // moto 5.2 answers ScheduleKeyDeletion / DisableKey by ARN with a 500: bare key id.
    w.clients
        .kms
        .schedule_key_deletion()
        .key_id(scheduled.rsplit('/').next().unwrap())
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    let disabled = s.create_key("disabled", None).await.unwrap();
    s.disable_key(&disabled).await.unwrap();

    struct Row {
        event: Value,
        resource: String,
        rules: &'static [&'static str],
        exempt: bool,
    }
    let bucket = |name: &str, b: &str, rules: &'static [&'static str], exempt: bool| Row {
        event: s3_event(name, b, ADMIN_ROLE),
        resource: format!("arn:aws:s3:::{b}"),
        rules,
        exempt,
    };
    let key = |event: Value, k: &str, rules: &'static [&'static str]| Row {
        event,
        resource: k.to_string(),
        rules,
        exempt: false,
    };
    let rows = vec![
        bucket("CreateBucket", "ev-create", &["TLS_NOT_ENFORCED"], false),
        bucket(
            "PutBucketEncryption",
            "ev-put-enc",
            &["SHARED_BUCKET_AWS_MANAGED_KEY", "TLS_NOT_ENFORCED"],
            false,
        ),
        bucket(
            "PutBucketPolicy",
            "ev-put-policy",
            &["SHARED_BUCKET_AWS_MANAGED_KEY", "TLS_NOT_ENFORCED"],
            false,
        ),
        bucket(
            "DeleteBucketEncryption",
            "ev-del-enc",
            &["SHARED_BUCKET_SSE_S3", "TLS_NOT_ENFORCED"],
            false,
        ),
        // No policy left: not shared any more, only TLS.
        bucket(
            "DeleteBucketPolicy",
            "ev-del-policy",
            &["TLS_NOT_ENFORCED"],
            false,
        ),
        // Shared through the ACL alone (AllUsers READ); the policy enforces TLS.
        bucket("PutBucketAcl", "ev-acl", &["SHARED_BUCKET_SSE_S3"], false),
        bucket(
            "PutBucketTagging",
            "ev-tagged",
            &["SHARED_BUCKET_SSE_S3", "TLS_NOT_ENFORCED"],
            true,
        ),
        bucket(
            "DeleteBucketTagging",
            "ev-untagged",
            &["SHARED_BUCKET_SSE_S3", "TLS_NOT_ENFORCED"],
            false,
        ),
        key(
            create_key_event(&created),
            &created,
            &["KEY_ROTATION_DISABLED"],
        ),
        key(
            kms_event("DisableKeyRotation", &rotated, ADMIN_ROLE),
            &rotated,
            &["KEY_ROTATION_DISABLED"],
        ),
        key(
            kms_event("PutKeyPolicy", &policied, ADMIN_ROLE),
            &policied,
            &["KEY_EXTERNAL_ADMIN"],
        ),
        key(
            kms_event("ScheduleKeyDeletion", &scheduled, ADMIN_ROLE),
            &scheduled,
            &["KEY_ROTATION_DISABLED"],
        ),
        key(
            kms_event("DisableKey", &disabled, ADMIN_ROLE),
            &disabled,
            &["KEY_ROTATION_DISABLED"],
        ),
    ];
    let report = settings(Mode::Report, None, false);
    for row in &rows {
        let name = row.event["detail"]["eventName"]
            .as_str()
            .unwrap()
            .to_string();
        let o = w.handle(&row.event, &report).await;
        let r = &o.results[0];
        assert!(r.errors.is_empty(), "{name}: {:?}", r.errors);
        assert_eq!(r.ignored, None, "{name}");
        let t = r.trigger.as_ref().expect("a trigger");
        assert_eq!(t.event_name, name);
        let named = t.bucket.as_deref().map(|b| format!("arn:aws:s3:::{b}"));
        assert!(
            named.as_deref() == Some(row.resource.as_str())
                || t.key.as_deref() == Some(row.resource.as_str()),
            "{name}: trigger names {:?} / {:?}",
            t.bucket,
            t.key
        );
        if let Err(e) = only_about(&o, &row.resource) {
            panic!("{name}: {e}");
        }
        assert_eq!(rules(&o), row.rules, "{name}");
        assert!(o.findings().all(|f| f.exempt == row.exempt), "{name}");
        assert_eq!(o.writes().count(), 0, "{name}: report mode");
        let posted = w.capture.batches();
        let last = posted.last().expect("published");
        assert_eq!(last.findings.len(), r.findings.len(), "{name}");
    }
    assert_eq!(w.capture.batches().len(), rows.len());

    // The unusable keys say so, and enforce mode never enables rotation on them.
    let enforce = settings(Mode::Enforce, None, false);
    for (name, k) in [
        ("ScheduleKeyDeletion", &scheduled),
        ("DisableKey", &disabled),
    ] {
        let o = w.handle(&kms_event(name, k, ADMIN_ROLE), &enforce).await;
        let r = &o.results[0];
        assert!(
            r.notes.iter().any(|n| n.contains("cannot be used by S3")),
            "{name}: {:?}",
            r.notes
        );
        assert_eq!(o.writes().count(), 0, "{name}: {:?}", r.writes);
        assert!(!s.rotation_enabled(k).await.unwrap(), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_account_access_denied_names_the_missing_half_and_writes_nothing() {
    let w = World::start().await;
    let s = w.seed();
    let cmk = s
        .create_key("data-cmk", Some(&owner_only_key_policy(DATA_ACCOUNT)))
        .await
        .unwrap();
    // aws/s3 on a shared bucket; a bucket whose policy grants nothing; a bucket under a CMK
    // whose key policy misses the caller.
    s.create_bucket("den-aws-s3").await.unwrap();
    s.put_bucket_policy("den-aws-s3", &with_tls("den-aws-s3").to_string())
        .await
        .unwrap();
    s.put_encryption("den-aws-s3", "aws:kms", None)
        .await
        .unwrap();
    s.create_bucket("den-no-grant").await.unwrap();
    s.put_bucket_policy("den-no-grant", &owner_only_tls("den-no-grant").to_string())
        .await
        .unwrap();
    s.put_encryption("den-no-grant", "AES256", None)
        .await
        .unwrap();
    s.create_bucket("den-key").await.unwrap();
    s.put_bucket_policy("den-key", &with_tls("den-key").to_string())
        .await
        .unwrap();
    s.put_encryption("den-key", "aws:kms", Some(&cmk))
        .await
        .unwrap();

    let buckets = ["den-aws-s3", "den-no-grant", "den-key"];
    let mut before = Vec::new();
    for b in buckets {
        before.push((w.bucket_policy(b).await, w.encryption(b).await));
    }
    let key_before = w.seed().get_key_policy(&cmk).await.unwrap();

    // Enforce mode with every patch allowed: a diagnosis still writes nothing.
    let enforce = settings(Mode::Enforce, Some(&cmk), true);
    let cases = [
        (
            s3_denied("den-aws-s3"),
            "arn:aws:s3:::den-aws-s3".to_string(),
            "can never be shared".to_string(),
        ),
        (
            s3_denied("den-no-grant"),
            "arn:aws:s3:::den-no-grant".to_string(),
            format!("grants nothing to account {COMPUTE_ACCOUNT}"),
        ),
        (
            s3_denied("den-key"),
            "arn:aws:s3:::den-key".to_string(),
            format!("does not grant account {COMPUTE_ACCOUNT}"),
        ),
        (
            kms_denied(&cmk, "den-key"),
            cmk.clone(),
            format!("does not grant account {COMPUTE_ACCOUNT}"),
        ),
    ];
    for (event, resource, missing) in &cases {
        let name = record_of(event)["eventName"].as_str().unwrap();
        let o = w.handle(event, &enforce).await;
        let r = &o.results[0];
        assert!(r.errors.is_empty(), "{resource}: {:?}", r.errors);
        let t = r.trigger.as_ref().expect("trigger");
        assert_eq!(t.caller_account.as_deref(), Some(COMPUTE_ACCOUNT));
        assert_eq!(t.owner_account.as_deref(), Some(DATA_ACCOUNT));
        assert_eq!(
            rules(&o),
            vec!["ACCESS_DENIED_DIAGNOSIS"],
            "{name} {resource}"
        );
        let f = o.findings().next().unwrap();
        assert_eq!(&f.resource_arn, resource);
        assert!(
            f.reasons.iter().any(|x| x.contains(missing.as_str())),
            "{name} {resource}: want '{missing}' in {:?}",
            f.reasons
        );
        assert!(
            f.reasons[0].contains(COMPUTE_ACCOUNT) && f.reasons[0].contains("was denied"),
            "{:?}",
            f.reasons
        );
        assert_eq!(o.writes().count(), 0, "{name} {resource}: {:?}", r.writes);
        let posted = w.capture.batches();
        let last = posted.last().expect("posted");
        assert_eq!(last.findings[0].finding.id, f.id);
    }
    for (b, (policy, enc)) in buckets.iter().zip(before) {
        assert_eq!(w.bucket_policy(b).await, policy, "{b}");
        assert_eq!(w.encryption(b).await, enc, "{b}");
    }
    assert_eq!(w.seed().get_key_policy(&cmk).await.unwrap(), key_before);
}
