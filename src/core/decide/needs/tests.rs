//! The reads-by-need rules as table rows, and the property they exist for: over every
//! combination of policy, ACL, encryption, tags, keys and mode below, reading by need (policy
//! and ACL; the encryption when `bucket_needs_encryption`; the tags when `plan_needs_tags`)
//! gives the same findings, passed checks and steps as reading all four documents.

use serde_json::{json, Value};

use super::{bucket_needs_encryption, plan_needs_tags};
use crate::core::config::{Config, Mode};
use crate::core::decide::decide;
use crate::core::plan::Plan;
use crate::core::policy::sharing::Trust;
use crate::core::schedule::bucket_trigger;
use crate::core::snapshot::{BucketState, Snapshot, Tags};

const STATE: &str = include_str!("../../../../tests/state/data-shared-analytics.json");
const OWNER: &str = "111122223333";
const REGION: &str = "eu-west-1";
const BUCKET: &str = "data-shared-analytics";
const CMK: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const OWNER_CANONICAL: &str = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be";

fn tls_deny() -> Value {
    json!({"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [format!("arn:aws:s3:::{BUCKET}"), format!("arn:aws:s3:::{BUCKET}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
}

fn share(principal: Value, condition: Option<Value>) -> Value {
    let mut s = json!({"Sid": "Share", "Effect": "Allow", "Principal": principal,
        "Action": ["s3:GetObject", "s3:PutObject"], "Resource": format!("arn:aws:s3:::{BUCKET}/*")});
    if let Some(c) = condition {
        s["Condition"] = c;
    }
    s
}

fn doc(statements: Vec<Value>) -> Option<Value> {
    Some(Value::String(
        json!({"Version": "2012-10-17", "Statement": statements}).to_string(),
    ))
}

/// Named policies: (name, document, shared by the policy).
fn policies() -> Vec<(&'static str, Option<Value>, bool)> {
    let reader = json!({"AWS": "arn:aws:iam::444455556666:role/reader"});
    let org = json!({"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}});
    vec![
        ("no policy", None, false),
        ("tls only", doc(vec![tls_deny()]), false),
        (
            "owner only",
            doc(vec![share(
                json!({"AWS": format!("arn:aws:iam::{OWNER}:root")}),
                None,
            )]),
            false,
        ),
        (
            "shared, no tls",
            doc(vec![share(reader.clone(), None)]),
            true,
        ),
        (
            "shared with tls",
            doc(vec![share(reader, None), tls_deny()]),
            true,
        ),
        ("org share", doc(vec![share(json!("*"), Some(org))]), true),
        ("public", doc(vec![share(json!("*"), None)]), true),
        ("unreadable", Some(Value::String("{not json".into())), false),
    ]
}

fn acls() -> Vec<(&'static str, Option<Value>, bool)> {
    let owner = json!({"Grantee": {"Type": "CanonicalUser", "ID": OWNER_CANONICAL}, "Permission": "FULL_CONTROL"});
    let other = json!({"Grantee": {"Type": "CanonicalUser", "ID": "be1ab2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d"}, "Permission": "READ"});
    vec![
        ("acl not read", None, false),
        (
            "owner acl",
            Some(json!({"Owner": {"ID": OWNER_CANONICAL}, "Grants": [owner.clone()]})),
            false,
        ),
        (
            "acl grant to another account",
            Some(json!({"Owner": {"ID": OWNER_CANONICAL}, "Grants": [owner, other]})),
            true,
        ),
    ]
}

fn encryptions() -> Vec<(&'static str, Option<Value>)> {
    let rule = |d: Value| {
        Some(
            json!({"ServerSideEncryptionConfiguration": {"Rules": [{"ApplyServerSideEncryptionByDefault": d, "BucketKeyEnabled": true}]}}),
        )
    };
    vec![
        ("no encryption", None),
        ("sse-s3", rule(json!({"SSEAlgorithm": "AES256"}))),
        ("aws/s3", rule(json!({"SSEAlgorithm": "aws:kms"}))),
        (
            "cmk by arn",
            rule(json!({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": CMK})),
        ),
        (
            "cmk by alias",
            rule(json!({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/shared-data"})),
        ),
        (
            "missing key",
            rule(
                json!({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "arn:aws:kms:eu-west-1:111122223333:key/0000aaaa-12ab-34cd-56ef-1234567890ab"}),
            ),
        ),
    ]
}

fn configs() -> Vec<(&'static str, Config)> {
    vec![
        ("report", Config::default()),
        (
            "enforce, key patching",
            Config {
                mode: Mode::Enforce,
                patch_key_policy: true,
                cmk_arn: Some(CMK.into()),
                ..Config::default()
            },
        ),
    ]
}

/// The key policy of the fixture's CMK, as is (owner only) or granting the reader's account.
fn key_policies() -> Vec<(&'static str, Value)> {
    let granted = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Owner", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{OWNER}:root")}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "Reader", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"], "Resource": "*"}]});
    vec![
        ("key policy: owner only", Value::Null),
        (
            "key policy: grants the reader",
            Value::String(granted.to_string()),
        ),
    ]
}

fn base() -> Snapshot {
    serde_json::from_str(STATE).expect("fixture state")
}

fn bucket(policy: Option<Value>, acl: Option<Value>) -> BucketState {
    BucketState {
        name: BUCKET.into(),
        account: OWNER.into(),
        region: REGION.into(),
        exists: true,
        owner_canonical_id: None,
        policy,
        encryption: None,
        acl,
        tags: Tags::default(),
    }
}

/// What matters of a plan: findings, passed checks, steps, grants asked for, ignored.
fn verdict(p: &Plan) -> Value {
    json!({
        "findings": serde_json::to_value(&p.findings).unwrap(),
        "passed": serde_json::to_value(&p.passed).unwrap(),
        "steps": serde_json::to_value(&p.steps).unwrap(),
        "needs_grants": p.needs_grants,
        "ignored": p.ignored,
    })
}

#[test]
fn encryption_is_needed_exactly_when_the_bucket_is_shared() {
    let trust = Trust::default();
    for (pname, policy, policy_shares) in policies() {
        for (aname, acl, acl_shares) in acls() {
            let state = bucket(policy.clone(), acl);
            let want = pname != "unreadable" && (policy_shares || acl_shares);
            assert_eq!(
                bucket_needs_encryption(&state, &trust),
                want,
                "{pname} / {aname}"
            );
        }
    }
}

#[test]
fn a_gone_bucket_needs_nothing_more() {
    let mut state = bucket(policies()[3].1.clone(), None);
    assert!(bucket_needs_encryption(&state, &Trust::default()));
    state.exists = false;
    assert!(!bucket_needs_encryption(&state, &Trust::default()));
}

#[test]
fn tags_are_needed_for_a_finding_or_a_step_only() {
    let trigger = bucket_trigger(OWNER, REGION, BUCKET);
    let config = configs().remove(1).1;
    let rows: [(&str, Option<Value>, bool); 3] = [
        ("compliant, unshared", doc(vec![tls_deny()]), false),
        ("tls missing", None, true),
        (
            "unreadable policy: not judged",
            Some(Value::String("{x".into())),
            false,
        ),
    ];
    for (name, policy, want) in rows {
        let snap = Snapshot {
            bucket: Some(bucket(policy, None)),
            ..base()
        };
        let plan = decide(&trigger, &snap, &config);
        assert_eq!(plan_needs_tags(&plan), want, "{name}: {plan:#?}");
    }
}

/// Reads by need, as the sweep does, on a full state.
fn decide_by_need(full: &Snapshot, config: &Config) -> (Plan, usize) {
    let trigger = bucket_trigger(OWNER, REGION, BUCKET);
    let full_bucket = full.bucket.clone().expect("bucket");
    let mut snap = full.clone();
    let mut reads = 2;
    let b = snap.bucket.as_mut().expect("bucket");
    b.encryption = None;
    b.tags = Tags::default();
    if bucket_needs_encryption(b, &config.trust) {
        b.encryption = full_bucket.encryption.clone();
        reads += 1;
    }
    let plan = decide(&trigger, &snap, config);
    if !plan_needs_tags(&plan) {
        return (plan, reads);
    }
    snap.bucket.as_mut().expect("bucket").tags = full_bucket.tags;
    (decide(&trigger, &snap, config), reads + 1)
}

#[test]
fn reading_by_need_decides_as_reading_everything() {
    let trigger = bucket_trigger(OWNER, REGION, BUCKET);
    let exempt =
        Tags::from_value(&json!({"TagSet": [{"Key": "cmkguard:exempt", "Value": "true"}]}));
    let mut combinations = 0;
    let mut saved = 0;
    let mut with_findings = 0;
    for (cname, config) in configs() {
        for (kname, key_policy) in key_policies() {
            for (pname, policy, _) in policies() {
                for (aname, acl, _) in acls() {
                    for (ename, encryption) in encryptions() {
                        for (tname, tags) in
                            [("untagged", Tags::default()), ("exempt", exempt.clone())]
                        {
                            let mut full = base();
                            if !key_policy.is_null() {
                                full.keys[0].policy = Some(key_policy.clone());
                            }
                            let mut b = bucket(policy.clone(), acl.clone());
                            b.encryption = encryption.clone();
                            b.tags = tags;
                            full.bucket = Some(b);
                            let want = decide(&trigger, &full, &config);
                            let (got, reads) = decide_by_need(&full, &config);
                            let row = format!(
                                "{cname} / {kname} / {pname} / {aname} / {ename} / {tname}"
                            );
                            assert_eq!(verdict(&got), verdict(&want), "{row}");
                            assert!(reads <= 4, "{row}");
                            if want.findings.is_empty() {
                                assert!(
                                    reads <= 3,
                                    "a compliant bucket costs at most 3 reads: {row}"
                                );
                            } else {
                                with_findings += 1;
                            }
                            saved += 4 - reads;
                            combinations += 1;
                        }
                    }
                }
            }
        }
    }
    // The matrix covers both verdicts and the saving is real, not vacuous.
    assert_eq!(combinations, 2 * 2 * 8 * 3 * 6 * 2);
    assert!(with_findings > 0 && with_findings < combinations);
    assert!(
        saved > combinations / 2,
        "saved {saved} reads over {combinations}"
    );
}
