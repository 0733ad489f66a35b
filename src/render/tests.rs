//! The sink renderers against the rules real AWS applies and the emulator does not
//! (DOMAIN.md §9): one named row per ASFF rule, the reconciliation with stored findings, the
//! request limits, the SNS subject limit and the sweep digest, the EventBridge request cuts.

use super::ocsf::{ocsf_batch, CLASS_UID};
use super::*;
use crate::core::finding::{finding_id, Remediation, RuleId};

const POSTER: &str = "111122223333";
const FOREIGN: &str = "999988887777";

fn finding(rule: RuleId, arn: &str, account: &str) -> Finding {
    Finding {
        id: finding_id(rule, arn, ""),
        rule_id: rule,
        severity: Severity::High,
        title: rule.title().to_string(),
        resource_type: if arn.contains(":kms:") {
            ResourceType::AwsKmsKey
        } else {
            ResourceType::AwsS3Bucket
        },
        resource_arn: arn.to_string(),
        account: account.into(),
        region: "eu-west-1".into(),
        exempt: false,
        reasons: vec!["the bucket is shared (accounts 444455556666)".into(); 60],
        fix: "aws s3api put-bucket-policy …".into(),
        remediation: Remediation::Manual { reason: "x".into() },
    }
}

fn passed(rule: RuleId, arn: &str) -> Passed {
    Passed {
        id: finding_id(rule, arn, ""),
        rule_id: rule,
        resource_type: ResourceType::AwsS3Bucket,
        resource_arn: arn.into(),
        account: POSTER.into(),
        region: "eu-west-1".into(),
    }
}

fn batch() -> FindingBatch {
    let arn = "arn:aws:s3:::data-shared-analytics";
    FindingBatch {
        findings: vec![
            Published {
                finding: finding(RuleId::SharedBucketAwsManagedKey, arn, POSTER),
                status: FindingStatus::Open,
                done: vec![],
            },
            Published {
                finding: finding(RuleId::TlsNotEnforced, arn, POSTER),
                status: FindingStatus::Fixed,
                done: vec!["s3:PutBucketPolicy added DenyInsecureTransport".into()],
            },
            // A caller-side diagnosis about another account's key.
            Published {
                finding: finding(
                    RuleId::AccessDeniedDiagnosis,
                    &format!("arn:aws:kms:eu-west-1:{FOREIGN}:key/1234"),
                    FOREIGN,
                ),
                status: FindingStatus::Open,
                done: vec![],
            },
        ],
        passed: vec![passed(RuleId::SharedBucketSseS3, arn)],
        archived: vec![passed(RuleId::TlsPartial, "arn:aws:s3:::gone-bucket")],
        time: "2024-11-25T10:02:41.250Z".into(),
        account: POSTER.into(),
        region: "eu-west-1".into(),
    }
}

fn docs() -> Vec<Value> {
    asff_json(&batch()).as_array().unwrap().clone()
}

#[test]
fn asff_has_the_required_fields_and_limits() {
    let docs = docs();
    assert_eq!(docs.len(), 5);
    for d in &docs {
        for field in [
            "SchemaVersion",
            "Id",
            "ProductArn",
            "GeneratorId",
            "AwsAccountId",
            "Types",
            "CreatedAt",
            "UpdatedAt",
            "Severity",
            "FindingProviderFields",
            "Title",
            "Description",
            "Resources",
            "Compliance",
            "RecordState",
        ] {
            assert!(d.get(field).is_some(), "{field} missing in {d}");
        }
        assert_eq!(d["SchemaVersion"], "2018-10-08");
        assert!(d["Description"].as_str().unwrap().chars().count() <= 1024);
        assert_eq!(d["Resources"][0]["Partition"], "aws");
        assert_eq!(d["Resources"][0]["Region"], "eu-west-1");
    }
}

/// One row per Security Hub rule of DOMAIN.md §9: (name, record index, JSON pointer, value).
#[test]
fn asff_rules_table() {
    let docs = docs();
    let product = "arn:aws:securityhub:eu-west-1:111122223333:product/111122223333/default";
    let rows: &[(&str, usize, &str, Value)] = &[
        (
            "own finding: AwsAccountId is the poster",
            0,
            "/AwsAccountId",
            json!(POSTER),
        ),
        (
            "foreign key diagnosis: AwsAccountId is still the poster",
            2,
            "/AwsAccountId",
            json!(POSTER),
        ),
        (
            "foreign key diagnosis: the ProductArn is the poster's",
            2,
            "/ProductArn",
            json!(product),
        ),
        (
            "foreign key goes under Resources",
            2,
            "/Resources/0/Id",
            json!(format!("arn:aws:kms:eu-west-1:{FOREIGN}:key/1234")),
        ),
        (
            "foreign owner named in the resource details",
            2,
            "/Resources/0/Details/Other/OwnerAccountId",
            json!(FOREIGN),
        ),
        (
            "foreign owner in the product fields",
            2,
            "/ProductFields/cmkguard~1ResourceAccount",
            json!(FOREIGN),
        ),
        (
            "key resource type",
            2,
            "/Resources/0/Type",
            json!("AwsKmsKey"),
        ),
        (
            "bucket resource type",
            0,
            "/Resources/0/Type",
            json!("AwsS3Bucket"),
        ),
        (
            "severity in FindingProviderFields",
            0,
            "/FindingProviderFields/Severity/Label",
            json!("HIGH"),
        ),
        (
            "types in FindingProviderFields",
            0,
            "/FindingProviderFields/Types",
            json!([ASFF_TYPE]),
        ),
        (
            "top-level severity for a new finding",
            0,
            "/Severity/Label",
            json!("HIGH"),
        ),
        (
            "GeneratorId is the rule id",
            0,
            "/GeneratorId",
            json!("SHARED_BUCKET_AWS_MANAGED_KEY"),
        ),
        ("open: FAILED", 0, "/Compliance/Status", json!("FAILED")),
        ("open: ACTIVE", 0, "/RecordState", json!("ACTIVE")),
        (
            "fixed: PASSED, same id",
            1,
            "/Compliance/Status",
            json!("PASSED"),
        ),
        ("fixed: ACTIVE", 1, "/RecordState", json!("ACTIVE")),
        (
            "passed check resolves: PASSED",
            3,
            "/Compliance/Status",
            json!("PASSED"),
        ),
        (
            "passed check: informational",
            3,
            "/FindingProviderFields/Severity/Label",
            json!("INFORMATIONAL"),
        ),
        (
            "deleted resource: ARCHIVED",
            4,
            "/RecordState",
            json!("ARCHIVED"),
        ),
        (
            "deleted resource: compliance not available",
            4,
            "/Compliance/Status",
            json!("NOT_AVAILABLE"),
        ),
        (
            "first post: CreatedAt is the run's time",
            0,
            "/CreatedAt",
            json!("2024-11-25T10:02:41.250Z"),
        ),
        (
            "first post: UpdatedAt is the run's time",
            0,
            "/UpdatedAt",
            json!("2024-11-25T10:02:41.250Z"),
        ),
    ];
    for (name, i, pointer, want) in rows {
        assert_eq!(
            docs[*i].pointer(pointer),
            Some(want),
            "{name}: {}",
            docs[*i]
        );
    }
    for d in &docs {
        assert!(d.get("Workflow").is_none(), "never Workflow: {d}");
        assert!(!d.to_string().contains("\"Workflow"), "{d}");
    }
}

#[test]
fn a_public_key_is_also_data_exposure() {
    assert_eq!(
        asff_types(RuleId::KeyPublic),
        vec![ASFF_TYPE, ASFF_DATA_EXPOSURE]
    );
    assert_eq!(asff_types(RuleId::TlsPartial), vec![ASFF_TYPE]);
}

#[test]
fn the_posting_account_check_refuses_any_other_account() {
    let b = batch();
    let poster = Poster::of(&b);
    let records = asff_batch(&b, &poster);
    assert_eq!(check_posting_account(&records, POSTER), Ok(()));
    /// (name, posting account, (field changed on one record, its value))
    type Row<'a> = (&'a str, &'a str, Option<(&'a str, &'a str)>);
    let rows: &[Row] = &[
        ("unknown poster", "", None),
        ("not an account id", "1111", None),
        ("another poster", FOREIGN, None),
        (
            "one record with the owner's account",
            POSTER,
            Some(("AwsAccountId", FOREIGN)),
        ),
        (
            "one record with another product",
            POSTER,
            Some((
                "ProductArn",
                "arn:aws:securityhub:eu-west-1:999988887777:product/999988887777/default",
            )),
        ),
    ];
    for (name, account, change) in rows {
        let mut rs = records.clone();
        match change {
            Some(("AwsAccountId", v)) => rs[2].aws_account_id = v.to_string(),
            Some((_, v)) => rs[1].product_arn = v.to_string(),
            None => {}
        }
        assert!(check_posting_account(&rs, account).is_err(), "{name}");
    }
}

fn stored(created: &str, updated: &str, compliance: &str, state: &str) -> Stored {
    Stored {
        created_at: created.into(),
        updated_at: updated.into(),
        compliance: Some(compliance.into()),
        record_state: Some(state.into()),
    }
}

#[test]
fn reconcile_keeps_created_at_and_advances_updated_at() {
    let b = batch();
    let records = asff_batch(&b, &Poster::of(&b));
    let id = |i: usize| records[i].id.clone();
    let first = "2024-10-01T08:00:00Z";
    // (name, stored by record index, records sent by index, (index, CreatedAt, UpdatedAt))
    type Row<'a> = (
        &'a str,
        Vec<(usize, Stored)>,
        Vec<usize>,
        Vec<(usize, &'a str, &'a str)>,
    );
    let rows: Vec<Row> = vec![
        (
            "nothing stored: failures posted as new, nothing to resolve or archive",
            vec![],
            vec![0, 2],
            vec![(0, "2024-11-25T10:02:41.250Z", "2024-11-25T10:02:41.250Z")],
        ),
        (
            "stored failure: CreatedAt kept, UpdatedAt is now",
            vec![(0, stored(first, "2024-11-24T00:00:00Z", "FAILED", "ACTIVE"))],
            vec![0, 2],
            vec![(0, first, "2024-11-25T10:02:41.250Z")],
        ),
        (
            "stored UpdatedAt in the future (clock skew): 1 ms past it",
            vec![(
                0,
                stored(first, "2024-11-25T10:02:41.250Z", "FAILED", "ACTIVE"),
            )],
            vec![0, 2],
            vec![(0, first, "2024-11-25T10:02:41.251Z")],
        ),
        (
            "same second, second precision stored: still newer",
            vec![(
                0,
                stored(first, "2024-11-25T10:02:41.900Z", "FAILED", "ACTIVE"),
            )],
            vec![0, 2],
            vec![(0, first, "2024-11-25T10:02:41.901Z")],
        ),
        (
            "fixed finding resolves its stored failure",
            vec![(1, stored(first, first, "FAILED", "ACTIVE"))],
            vec![0, 1, 2],
            vec![(1, first, "2024-11-25T10:02:41.250Z")],
        ),
        (
            "passed check resolves a stored failure",
            vec![(3, stored(first, first, "FAILED", "ACTIVE"))],
            vec![0, 2, 3],
            vec![(3, first, "2024-11-25T10:02:41.250Z")],
        ),
        (
            "passed check already resolved: not re-sent",
            vec![(3, stored(first, first, "PASSED", "ACTIVE"))],
            vec![0, 2],
            vec![],
        ),
        (
            "deleted resource with a stored finding: archived",
            vec![(4, stored(first, first, "FAILED", "ACTIVE"))],
            vec![0, 2, 4],
            vec![(4, first, "2024-11-25T10:02:41.250Z")],
        ),
        (
            "already archived: not re-sent",
            vec![(4, stored(first, first, "FAILED", "ARCHIVED"))],
            vec![0, 2],
            vec![],
        ),
        (
            "a failure on a recreated resource re-activates the archived finding",
            vec![(0, stored(first, first, "FAILED", "ARCHIVED"))],
            vec![0, 2],
            vec![(0, first, "2024-11-25T10:02:41.250Z")],
        ),
    ];
    for (name, st, sent, times) in rows {
        let map: BTreeMap<String, Stored> = st.into_iter().map(|(i, s)| (id(i), s)).collect();
        let out = reconcile(records.clone(), Some(&map));
        let got: Vec<String> = out.iter().map(|r| r.id.clone()).collect();
        let want: Vec<String> = sent.iter().map(|i| id(*i)).collect();
        assert_eq!(got, want, "{name}");
        for (i, created, updated) in times {
            let r = out.iter().find(|r| r.id == id(i)).unwrap();
            assert_eq!(
                (r.created_at.as_str(), r.updated_at.as_str()),
                (created, updated),
                "{name}"
            );
            assert!(
                r.updated_at.as_str() > r.created_at.as_str() || created == updated,
                "{name}"
            );
        }
        for r in &out {
            let expected_state = if r.compliance.status == "NOT_AVAILABLE" {
                "ARCHIVED"
            } else {
                "ACTIVE"
            };
            assert_eq!(
                r.record_state, expected_state,
                "{name}: RecordState always sent"
            );
        }
    }
    // The lookup failed: everything goes, as first posts.
    assert_eq!(reconcile(records.clone(), None), records);
}

#[test]
fn asff_requests_stay_within_100_findings_and_6_mb() {
    let b = batch();
    let one = asff_finding(&b.findings[0], &b, &Poster::of(&b));
    let small: Vec<Asff> = (0..250).map(|_| one.clone()).collect();
    let (chunks, too_big) = asff_chunks(small);
    assert!(too_big.is_empty());
    assert_eq!(
        chunks.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![100, 100, 50]
    );
    // Records near the 240 KB limit: the 6 MB bound cuts first.
    let mut big = one.clone();
    big.description = "x".repeat(230 * 1024);
    let (chunks, too_big) = asff_chunks(vec![big.clone(); 60]);
    assert!(too_big.is_empty());
    for c in &chunks {
        let bytes: usize = c.iter().map(asff_bytes).sum();
        assert!(
            bytes <= ASFF_MAX_REQUEST_BYTES && c.len() <= ASFF_BATCH,
            "{bytes}"
        );
    }
    assert_eq!(chunks.iter().map(Vec::len).sum::<usize>(), 60);
    assert!(chunks.len() >= 3, "{}", chunks.len());
    // Over 240 KB: refused, not sent.
    let mut huge = one;
    huge.description = "x".repeat(250 * 1024);
    let (chunks, too_big) = asff_chunks(vec![huge, big]);
    assert_eq!((chunks.len(), too_big.len()), (1, 1));
}

#[test]
fn partitions_follow_the_region() {
    assert_eq!(
        product_arn("1", "cn-north-1"),
        "arn:aws-cn:securityhub:cn-north-1:1:product/1/default"
    );
}

/// SNS subjects: printable ASCII, one line, under 100 characters, whatever the input.
#[test]
fn sns_subject_table() {
    let long = "x".repeat(63);
    let rows: Vec<(&str, String)> = vec![
        ("a 63-character bucket name", format!("arn:aws:s3:::{long}")),
        ("three long buckets", format!("arn:aws:s3:::{long}a")),
        (
            "non-ASCII and a line break",
            format!("arn:aws:s3:::bücket-é\n{}", "y".repeat(40)),
        ),
        (
            "control characters",
            "arn:aws:s3:::a\u{7}\t\r\nb".to_string(),
        ),
        ("emoji", "arn:aws:s3:::🔥🔥🔥".to_string()),
    ];
    for (name, arn) in rows {
        let mut b = batch();
        b.findings[0].finding.resource_arn = arn.clone();
        b.findings[1].finding.resource_arn = format!("{arn}2");
        let s = sns_subject(&b);
        assert!(s.chars().count() <= 99, "{name}: {} {s}", s.len());
        assert!(s.chars().all(|c| (' '..='~').contains(&c)), "{name}: {s:?}");
        assert!(!s.contains('\n') && !s.contains('\r'), "{name}");
        assert!(
            s.starts_with("cmkguard HIGH: 2 open, 1 fixed"),
            "{name}: {s}"
        );
    }
    assert_eq!(sns_safe_subject("\n\n"), "cmkguard");
    assert_eq!(sns_safe_subject(&"é".repeat(300)).len(), 99);
}

#[test]
fn sns_body_is_readable() {
    let body = sns_body(&batch());
    assert!(body.contains(
        "[HIGH] SHARED_BUCKET_AWS_MANAGED_KEY - arn:aws:s3:::data-shared-analytics (open)"
    ));
    assert!(body.contains("Fix: aws s3api"));
    assert!(body.contains("Done: s3:PutBucketPolicy"));
    assert!(body.contains("Passed checks: 1"));
}

#[test]
fn the_sweep_digest_counts_and_lists_the_worst() {
    let mut findings: Vec<Finding> = (0..300)
        .map(|i| {
            let mut f = finding(
                RuleId::TlsNotEnforced,
                &format!("arn:aws:s3:::b{i:03}"),
                POSTER,
            );
            f.severity = Severity::Medium;
            f
        })
        .collect();
    let mut public = finding(
        RuleId::KeyPublic,
        "arn:aws:kms:eu-west-1:111122223333:key/k",
        POSTER,
    );
    public.severity = Severity::Critical;
    findings.push(public);
    let mut exempt = finding(
        RuleId::KeyPublic,
        "arn:aws:kms:eu-west-1:111122223333:key/x",
        POSTER,
    );
    exempt.severity = Severity::Critical;
    exempt.exempt = true;
    findings.push(exempt);
    let by_rule = BTreeMap::from([
        ("KEY_PUBLIC".to_string(), 2),
        ("TLS_NOT_ENFORCED".to_string(), 300),
    ]);
    let by_severity = BTreeMap::from([("CRITICAL".to_string(), 2), ("MEDIUM".to_string(), 300)]);
    let regions = vec!["eu-west-1".to_string(), "us-east-1".to_string()];
    let d = Digest {
        account: POSTER,
        regions: &regions,
        mode: "report",
        buckets: 300,
        keys: 2,
        findings: &findings,
        by_rule: &by_rule,
        by_severity: &by_severity,
        fixed: 0,
        errors: 1,
        incomplete: true,
        full_report: "CloudWatch Logs /aws/lambda/cmkguard, stream 2024/11/25/[$LATEST]abc",
    };
    let (subject, body, top) = sns_digest(&d);
    assert_eq!(top, Severity::Critical);
    assert_eq!(
        subject,
        "cmkguard sweep 111122223333: 302 findings (1 CRITICAL), incomplete"
    );
    assert!(subject.len() <= 99);
    for want in [
        "302 findings (1 exempt, 0 fixed)",
        "TLS_NOT_ENFORCED                 300",
        "CRITICAL       2",
        "Worst findings (20 of 301)",
        "Full report: CloudWatch Logs /aws/lambda/cmkguard",
        "regions eu-west-1, us-east-1",
        "INCOMPLETE",
    ] {
        assert!(body.contains(want), "{want}: {body}");
    }
    // The worst first: the critical key, then the medium buckets in ARN order.
    let listed: Vec<&str> = body.lines().filter(|l| l.starts_with("  [")).collect();
    assert_eq!(listed.len(), 20);
    assert!(
        listed[0].contains("KEY_PUBLIC") && listed[0].contains("key/k"),
        "{listed:?}"
    );
    assert!(listed[1].ends_with("arn:aws:s3:::b000"), "{listed:?}");
    assert!(
        !body.contains("key/x"),
        "exempt findings are not among the worst"
    );
}

#[test]
fn truncate_counts_characters() {
    assert_eq!(truncate("abc", 3), "abc");
    assert_eq!(truncate("abcd", 3), "ab…");
    assert_eq!(truncate("ééé", 2).chars().count(), 2);
}

#[test]
fn event_detail_is_json_with_status() {
    let b = batch();
    let d: Value = serde_json::from_str(&event_detail(&b.findings[1])).unwrap();
    assert_eq!(d["status"], "fixed");
    assert_eq!(d["finding"]["rule_id"], "TLS_NOT_ENFORCED");
    let entries = event_entries(&b);
    assert_eq!(entries.len(), 5);
    let last: Value = serde_json::from_str(&entries[4].detail).unwrap();
    assert_eq!(last["status"], "archived");
}

#[test]
fn put_events_requests_stay_within_10_entries_and_256_kb() {
    let small = EventEntry {
        resource: "arn:aws:s3:::b".into(),
        detail: "{}".into(),
    };
    let ranges = event_chunks(&vec![small; 25]);
    assert_eq!(ranges, vec![0..10, 10..20, 20..25]);
    let big = EventEntry {
        resource: "arn:aws:s3:::b".into(),
        detail: "x".repeat(100 * 1024),
    };
    let entries = vec![big; 5];
    let ranges = event_chunks(&entries);
    assert_eq!(ranges, vec![0..2, 2..4, 4..5]);
    for r in ranges {
        let bytes: usize = entries[r].iter().map(event_entry_bytes).sum();
        assert!(bytes <= EVENT_MAX_REQUEST_BYTES);
    }
    assert!(event_chunks(&[]).is_empty());
}

#[test]
fn ocsf_events_are_compliance_findings_of_the_posting_account() {
    let b = batch();
    let events = ocsf_batch(&b, &Poster::of(&b));
    assert_eq!(events.len(), 5);
    for e in &events {
        assert_eq!(e["class_uid"], CLASS_UID);
        assert_eq!(e["category_uid"], 2);
        assert_eq!(
            e["type_uid"],
            CLASS_UID * 100 + e["activity_id"].as_u64().unwrap()
        );
        assert_eq!(e["cloud"]["account"]["uid"], POSTER);
        assert_eq!(e["time"], 1_732_528_961_250u64);
        assert_eq!(e["metadata"]["version"], "1.1.0");
    }
    let rows: &[(usize, &str, Value)] = &[
        (0, "/status", json!("New")),
        (0, "/compliance/status_id", json!(3)),
        (0, "/severity_id", json!(4)),
        (1, "/status", json!("Resolved")),
        (1, "/activity_name", json!("Close")),
        (2, "/resource/owner/account/uid", json!(FOREIGN)),
        (2, "/unmapped/resource_account", json!(FOREIGN)),
        (2, "/unmapped/rule_id", json!("ACCESS_DENIED_DIAGNOSIS")),
        (3, "/compliance/status", json!("Pass")),
        (4, "/unmapped/state", json!("deleted")),
        (4, "/compliance/status_id", json!(99)),
    ];
    for (i, pointer, want) in rows {
        assert_eq!(
            events[*i].pointer(pointer),
            Some(want),
            "{pointer}: {}",
            events[*i]
        );
    }
}

proptest::proptest! {
    /// Any text makes a subject SNS accepts.
    #[test]
    fn any_text_makes_an_sns_subject(text in "\\PC{0,300}") {
        let s = sns_safe_subject(&text);
        proptest::prop_assert!(!s.is_empty() && s.len() <= 99);
        proptest::prop_assert!(s.chars().all(|c| (' '..='~').contains(&c)));
    }
}

#[test]
fn beyond_s3_findings_render_with_their_resource_types() {
    // Issue 15: the renderers take the new kinds unchanged; ASFF has no EBS snapshot or AMI
    // type, so those go as `Other` with the ARN as `Id`.
    let cases = [
        (
            ResourceType::AwsEc2Snapshot,
            "arn:aws:ec2:eu-west-1::snapshot/snap-1",
            RuleId::SharedSnapshotAwsManagedKey,
            "Other",
        ),
        (
            ResourceType::AwsEc2Image,
            "arn:aws:ec2:eu-west-1::image/ami-1",
            RuleId::ImagePublic,
            "Other",
        ),
        (
            ResourceType::AwsRdsDbSnapshot,
            "arn:aws:rds:eu-west-1:111122223333:snapshot:s",
            RuleId::SnapshotPublic,
            "AwsRdsDbSnapshot",
        ),
        (
            ResourceType::AwsRdsDbClusterSnapshot,
            "arn:aws:rds:eu-west-1:111122223333:cluster-snapshot:s",
            RuleId::SharedSnapshotUnencrypted,
            "AwsRdsDbClusterSnapshot",
        ),
        (
            ResourceType::AwsSecretsManagerSecret,
            "arn:aws:secretsmanager:eu-west-1:111122223333:secret:s-AbCdEf",
            RuleId::SecretPublic,
            "AwsSecretsManagerSecret",
        ),
        (
            ResourceType::AwsAccount,
            "arn:aws:ec2:eu-west-1:111122223333:ebs-default-kms-key",
            RuleId::EbsDefaultKeyAwsManaged,
            "AwsAccount",
        ),
        (
            ResourceType::AwsKmsKey,
            "arn:aws:kms:eu-west-1:111122223333:key/k",
            RuleId::KeyGrantExternal,
            "AwsKmsKey",
        ),
    ];
    for (kind, arn, rule, asff_type) in cases {
        let mut f = finding(rule, arn, POSTER);
        f.resource_type = kind;
        let b = FindingBatch {
            findings: vec![Published {
                finding: f,
                status: FindingStatus::Open,
                done: vec![],
            }],
            passed: vec![],
            archived: vec![],
            time: "2024-11-25T10:02:41.250Z".into(),
            account: POSTER.into(),
            region: "eu-west-1".into(),
        };
        let asff = serde_json::to_value(asff_batch(&b, &Poster::of(&b))).unwrap();
        assert_eq!(asff[0]["Resources"][0]["Type"], json!(asff_type), "{asff}");
        assert_eq!(asff[0]["Resources"][0]["Id"], json!(arn));
        assert_eq!(asff[0]["GeneratorId"], json!(rule.as_str()));
        let ocsf = ocsf_batch(&b, &Poster::of(&b));
        assert_eq!(ocsf[0]["unmapped"]["rule_id"], json!(rule.as_str()));
        assert!(!sns_subject(&b).is_empty());
    }
}
