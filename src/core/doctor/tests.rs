//! Named table rows: one per check and per misconfiguration the doctor reports, including the
//! cases the emulator cannot represent (organization trails, unreadable selectors, advanced
//! selector exclusions, key-prefix data selectors).

use super::selectors::*;
use super::*;

const REGION: &str = "eu-west-1";

fn adv(fields: &[(&str, &str, &[&str])]) -> AdvancedSelector {
    let mut s = AdvancedSelector::default();
    for (field, op, values) in fields {
        let mut f = FieldCondition {
            field: field.to_string(),
            ..Default::default()
        };
        let v: Vec<String> = values.iter().map(|s| s.to_string()).collect();
        match *op {
            "Equals" => f.equals = v,
            "StartsWith" => f.starts_with = v,
            "EndsWith" => f.ends_with = v,
            "NotEquals" => f.not_equals = v,
            "NotStartsWith" => f.not_starts_with = v,
            "NotEndsWith" => f.not_ends_with = v,
            other => panic!("bad op {other}"),
        }
        s.fields.push(f);
    }
    s
}

fn basic(rw: &str, mgmt: bool, exclude: &[&str], data: &[&str]) -> BasicSelector {
    BasicSelector {
        read_write_type: Some(rw.into()),
        include_management_events: Some(mgmt),
        exclude_management_event_sources: exclude.iter().map(|s| s.to_string()).collect(),
        data_resources: if data.is_empty() {
            vec![]
        } else {
            vec![DataResource {
                resource_type: "AWS::S3::Object".into(),
                values: data.iter().map(|s| s.to_string()).collect(),
            }]
        },
    }
}

fn trail(name: &str, home: &str, multi: bool, logging: bool, sel: Selectors) -> Trail {
    Trail {
        name: name.into(),
        arn: format!("arn:aws:cloudtrail:{home}:111122223333:trail/{name}"),
        home_region: home.into(),
        multi_region: multi,
        organization: false,
        logging: Ok(logging),
        selectors: Ok(sel),
    }
}

/// Everything the guardrail needs: all management events, data events for `shared`.
fn good_trail() -> Trail {
    trail(
        "main",
        "us-east-1",
        true,
        true,
        Selectors::Basic(vec![basic("All", true, &[], &["arn:aws:s3:::shared/"])]),
    )
}

const BUCKET_PATTERN: &str = r#"{"source":["aws.s3"],"detail":{"eventName":["PutBucketPolicy"]}}"#;
const KMS_PATTERN: &str = r#"{"source":["aws.kms"],"detail":{"eventName":["Decrypt",{"prefix":"GenerateDataKey"}],"errorCode":["AccessDeniedException"]}}"#;

fn rule(id: &str, state: &str, pattern: &str) -> Rule {
    Rule {
        id: id.into(),
        need: Need::Required,
        read: RuleRead::Found {
            name: format!("cmkguard-{id}-ABC"),
            state: state.into(),
            event_pattern: Some(pattern.into()),
        },
    }
}

fn input(trails: Vec<Trail>, rules: Vec<Rule>) -> DoctorInput {
    DoctorInput {
        region: REGION.into(),
        partition: "aws".into(),
        trails: Ok(trails),
        rules,
        buckets: vec!["shared".into()],
        discovery: None,
    }
}

fn good_rules() -> Vec<Rule> {
    vec![
        rule("BucketChangeRule", "ENABLED", BUCKET_PATTERN),
        rule("KmsAccessDeniedRule", KMS_READ_ONLY_STATE, KMS_PATTERN),
    ]
}

fn status_of(r: &DoctorReport, id: &str) -> (Status, String, Option<String>) {
    let c = r
        .checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check {id} in {:#?}", r.checks));
    (c.status, c.message.clone(), c.fix.clone())
}

/// (name, input, check id, expected status, a word the message must contain, a word the fix
/// must contain).
macro_rules! doctor_cases {
    ($($name:ident: $input:expr, $id:expr => $status:ident, $msg:expr, $fix:expr;)*) => {$(
        #[test]
        fn $name() {
            let report = evaluate(&$input);
            let (status, message, fix) = status_of(&report, $id);
            assert_eq!(status, Status::$status, "{message}");
            assert!(message.contains($msg), "message {message:?} lacks {:?}", $msg);
            let want_fix: Option<&str> = $fix;
            match want_fix {
                Some(w) => assert!(
                    fix.as_deref().is_some_and(|f| f.contains(w)),
                    "fix {fix:?} lacks {w:?}"
                ),
                None => assert_eq!(fix, None),
            }
            if Status::$status != Status::Ok {
                assert!(!report.ok);
            }
        }
    )*};
}

doctor_cases! {
    all_good_trail_present: input(vec![good_trail()], good_rules()), "trail.present" => Ok, "main", None;
    all_good_multi_region: input(vec![good_trail()], good_rules()), "trail.multi_region" => Ok, "main", None;
    all_good_logging: input(vec![good_trail()], good_rules()), "trail.logging" => Ok, "logging", None;
    all_good_management: input(vec![good_trail()], good_rules()), "trail.management_events" => Ok, "write", None;
    all_good_kms_read: input(vec![good_trail()], good_rules()), "trail.kms_read_events" => Ok, "read-only", None;
    all_good_data: input(vec![good_trail()], good_rules()), "trail.s3_data_events:shared" => Ok, "shared", None;
    all_good_kms_rule: input(vec![good_trail()], good_rules()), "rule.KmsAccessDeniedRule" => Ok, KMS_READ_ONLY_STATE, None;

    no_trail: input(vec![], good_rules()), "trail.present" => Problem, "no CloudTrail trail", Some("create-trail");
    no_trail_no_multi_region: input(vec![], good_rules()), "trail.multi_region" => Problem, "no trail", Some("--is-multi-region-trail");
    no_trail_blocks_data_events: input(vec![], good_rules()), "trail.s3_data_events:shared" => Problem, "no logging trail", Some("trail.logging");
    single_region_trail_here: input(vec![trail("local", REGION, false, true, Selectors::Basic(vec![]))], good_rules()),
        "trail.multi_region" => Problem, "home region", Some("update-trail --region eu-west-1 --name local --is-multi-region-trail");
    single_region_trail_elsewhere_covers_nothing: input(vec![trail("far", "us-east-1", false, true, Selectors::Basic(vec![]))], good_rules()),
        "trail.logging" => Problem, "no trail covers eu-west-1", Some("--is-multi-region-trail");
    single_region_trail_here_still_delivers: input(vec![trail("local", REGION, false, true, Selectors::Basic(vec![]))], good_rules()),
        "trail.management_events" => Ok, "local", None;
    trail_not_logging: input(vec![trail("main", "us-east-1", true, false, Selectors::Basic(vec![]))], good_rules()),
        "trail.logging" => Problem, "not logging", Some("start-logging --region us-east-1 --name arn:aws:cloudtrail:us-east-1:111122223333:trail/main");
    trail_status_unreadable: input(vec![Trail { logging: Err("AccessDenied".into()), ..good_trail() }], good_rules()),
        "trail.logging" => Unknown, "AccessDenied", Some("GetTrailStatus");
    trails_unreadable: DoctorInput { trails: Err("AccessDeniedException".into()), ..input(vec![], good_rules()) },
        "trail.management_events" => Unknown, "cannot list the trails", Some("DescribeTrails");
    default_selectors_log_management: input(vec![trail("main", "us-east-1", true, true, Selectors::Basic(vec![]))], good_rules()),
        "trail.kms_read_events" => Ok, "main", None;
    management_events_excluded: input(vec![trail("main", "us-east-1", true, true, Selectors::Basic(vec![basic("All", false, &[], &["arn:aws:s3"])]))], good_rules()),
        "trail.management_events" => Problem, "S3 write management events", Some("put-event-selectors");
    management_read_only: input(vec![trail("main", "us-east-1", true, true, Selectors::Basic(vec![basic("ReadOnly", true, &[], &[])]))], good_rules()),
        "trail.management_events" => Problem, "KMS write management events", Some("eventCategory");
    kms_source_excluded_loses_kms_writes: input(vec![trail("main", "us-east-1", true, true, Selectors::Basic(vec![basic("All", true, &["kms.amazonaws.com"], &[])]))], good_rules()),
        "trail.management_events" => Problem, "KMS write management events", Some("put-event-selectors");
    kms_source_excluded_loses_kms_reads: input(vec![trail("main", "us-east-1", true, true, Selectors::Basic(vec![basic("All", true, &["kms.amazonaws.com"], &[])]))], good_rules()),
        "trail.kms_read_events" => Problem, "KMS read-only", Some("put-event-selectors");
    write_only_when_kms_reads_needed: input(vec![trail("main", "us-east-1", true, true, Selectors::Basic(vec![basic("WriteOnly", true, &[], &[])]))], good_rules()),
        "trail.kms_read_events" => Problem, "Decrypt", Some("Management");
    write_only_fine_without_kms_rule: input(vec![trail("main", "us-east-1", true, true, Selectors::Basic(vec![basic("WriteOnly", true, &[], &[])]))], vec![rule("BucketChangeRule", "ENABLED", BUCKET_PATTERN)]),
        "trail.kms_read_events" => Ok, "not needed", None;
    advanced_kms_excluded: input(vec![trail("main", "us-east-1", true, true, Selectors::Advanced(vec![adv(&[("eventCategory", "Equals", &["Management"]), ("eventSource", "NotEquals", &["kms.amazonaws.com"])])]))], good_rules()),
        "trail.management_events" => Problem, "KMS write", Some("advanced-event-selectors");
    advanced_write_only: input(vec![trail("main", "us-east-1", true, true, Selectors::Advanced(vec![adv(&[("eventCategory", "Equals", &["Management"]), ("readOnly", "Equals", &["false"])])]))], good_rules()),
        "trail.kms_read_events" => Problem, "KMS read-only", Some("put-event-selectors");
    advanced_management_all: input(vec![trail("main", "us-east-1", true, true, Selectors::Advanced(vec![adv(&[("eventCategory", "Equals", &["Management"])])]))], good_rules()),
        "trail.kms_read_events" => Ok, "main", None;
    no_data_events: input(vec![trail("main", "us-east-1", true, true, Selectors::Basic(vec![]))], good_rules()),
        "trail.s3_data_events:shared" => Problem, "object-level AccessDenied on shared is invisible", Some("arn:aws:s3:::shared/");
    data_events_other_bucket: input(vec![trail("main", "us-east-1", true, true, Selectors::Basic(vec![basic("All", true, &[], &["arn:aws:s3:::other/"])]))], good_rules()),
        "trail.s3_data_events:shared" => Problem, "object reads (GetObject), object writes (PutObject)", Some("put-event-selectors");
    data_events_key_prefix_only: input(vec![trail("main", "us-east-1", true, true, Selectors::Basic(vec![basic("All", true, &[], &["arn:aws:s3:::shared/logs/"])]))], good_rules()),
        "trail.s3_data_events:shared" => Problem, "invisible", Some("put-event-selectors");
    data_events_write_only: input(vec![trail("main", "us-east-1", true, true, Selectors::Basic(vec![basic("WriteOnly", true, &[], &["arn:aws:s3:::shared/"])]))], vec![]),
        "trail.s3_data_events:shared" => Problem, "object reads (GetObject)", Some("put-event-selectors");
    data_events_all_buckets_basic: input(vec![trail("main", "us-east-1", true, true, Selectors::Basic(vec![basic("All", true, &[], &["arn:aws:s3"])]))], good_rules()),
        "trail.s3_data_events:shared" => Ok, "shared", None;
    data_events_advanced_bucket_prefix: input(vec![trail("main", "us-east-1", true, true, Selectors::Advanced(vec![
            adv(&[("eventCategory", "Equals", &["Management"])]),
            adv(&[("eventCategory", "Equals", &["Data"]), ("resources.type", "Equals", &["AWS::S3::Object"]), ("resources.ARN", "StartsWith", &["arn:aws:s3:::shared/"])]),
        ]))], good_rules()),
        "trail.s3_data_events:shared" => Ok, "shared", None;
    data_events_advanced_all_buckets: input(vec![trail("main", "us-east-1", true, true, Selectors::Advanced(vec![
            adv(&[("eventCategory", "Equals", &["Data"]), ("resources.type", "Equals", &["AWS::S3::Object"])]),
        ]))], vec![]),
        "trail.s3_data_events:shared" => Ok, "shared", None;
    data_events_advanced_excludes_bucket: input(vec![trail("main", "us-east-1", true, true, Selectors::Advanced(vec![
            adv(&[("eventCategory", "Equals", &["Data"]), ("resources.type", "Equals", &["AWS::S3::Object"]), ("resources.ARN", "NotStartsWith", &["arn:aws:s3:::shared/"])]),
        ]))], vec![]),
        "trail.s3_data_events:shared" => Problem, "invisible", Some("put-event-selectors");
    data_events_advanced_read_only: input(vec![trail("main", "us-east-1", true, true, Selectors::Advanced(vec![
            adv(&[("eventCategory", "Equals", &["Data"]), ("resources.type", "Equals", &["AWS::S3::Object"]), ("readOnly", "Equals", &["true"])]),
        ]))], vec![]),
        "trail.s3_data_events:shared" => Problem, "object writes (PutObject)", Some("put-event-selectors");
    data_events_advanced_unknown_positive_field: input(vec![trail("main", "us-east-1", true, true, Selectors::Advanced(vec![
            adv(&[("eventCategory", "Equals", &["Data"]), ("resources.type", "Equals", &["AWS::S3::Object"]), ("userIdentity.arn", "Equals", &["arn:aws:iam::1:role/x"])]),
        ]))], vec![]),
        "trail.s3_data_events:shared" => Problem, "invisible", Some("put-event-selectors");
    data_events_advanced_unknown_negative_field: input(vec![trail("main", "us-east-1", true, true, Selectors::Advanced(vec![
            adv(&[("eventCategory", "Equals", &["Data"]), ("resources.type", "Equals", &["AWS::S3::Object"]), ("userIdentity.arn", "NotStartsWith", &["arn:aws:iam::1:role/noisy"])]),
        ]))], vec![]),
        "trail.s3_data_events:shared" => Ok, "shared", None;
    data_events_on_a_stopped_trail_do_not_count: input(vec![
            trail("stopped", "us-east-1", true, false, Selectors::Basic(vec![basic("All", true, &[], &["arn:aws:s3"])])),
            trail("running", "us-east-1", true, true, Selectors::Basic(vec![])),
        ], good_rules()),
        "trail.s3_data_events:shared" => Problem, "running does not log", Some("put-event-selectors");
    no_bucket_given: DoctorInput { buckets: vec![], ..input(vec![good_trail()], good_rules()) },
        "trail.s3_data_events" => Unknown, "--bucket", None;
    discovery_found_no_shared_bucket: DoctorInput { buckets: vec![], discovery: Some(Discovery { listed: 12, unread: vec![] }), ..input(vec![good_trail()], good_rules()) },
        "trail.s3_data_events" => Ok, "none of the 12 bucket(s)", None;
    discovery_found_bucket_is_checked_like_a_given_one: DoctorInput { discovery: Some(Discovery { listed: 3, unread: vec![] }), ..input(vec![good_trail()], good_rules()) },
        "trail.s3_data_events:shared" => Ok, "shared", None;
    discovery_with_unreadable_buckets_is_unknown: DoctorInput { buckets: vec![], discovery: Some(Discovery { listed: 3, unread: vec!["locked: AccessDenied".into()] }), ..input(vec![good_trail()], good_rules()) },
        "trail.s3_data_events.discovery" => Unknown, "locked: AccessDenied", None;
    organization_trail_selectors_unreadable: input(vec![Trail { organization: true, selectors: Err("AccessDenied".into()), ..good_trail() }], good_rules()),
        "trail.s3_data_events:shared" => Unknown, "management account", Some("GetEventSelectors");
    organization_trail_readable_counts: input(vec![Trail { organization: true, ..good_trail() }], good_rules()),
        "trail.present" => Ok, "organization trail", None;

    rule_disabled: input(vec![good_trail()], vec![rule("BucketChangeRule", "DISABLED", BUCKET_PATTERN)]),
        "rule.BucketChangeRule" => Problem, "disabled", Some("aws events enable-rule --region eu-west-1 --name cmkguard-BucketChangeRule-ABC");
    kms_rule_disabled_needs_put_rule: input(vec![good_trail()], vec![rule("KmsAccessDeniedRule", "DISABLED", KMS_PATTERN)]),
        "rule.KmsAccessDeniedRule" => Problem, "disabled", Some("--state ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS");
    kms_rule_plain_enabled: input(vec![good_trail()], vec![rule("KmsAccessDeniedRule", "ENABLED", KMS_PATTERN)]),
        "rule.KmsAccessDeniedRule" => Problem, "drops read-only", Some("put-rule");
    rule_missing: input(vec![good_trail()], vec![Rule { id: "S3AccessDeniedRule".into(), need: Need::Required, read: RuleRead::Missing }]),
        "rule.S3AccessDeniedRule" => Problem, "not found", Some("--rule NAME");
    optional_rule_missing: input(vec![good_trail()], vec![Rule { id: "SweepRule".into(), need: Need::Optional("SweepSchedule"), read: RuleRead::Missing }]),
        "rule.SweepRule" => Ok, "SweepSchedule", None;
    rule_unreadable: input(vec![good_trail()], vec![Rule { id: "KeyChangeRule".into(), need: Need::Required, read: RuleRead::Unknown("AccessDeniedException".into()) }]),
        "rule.KeyChangeRule" => Unknown, "AccessDeniedException", Some("events:DescribeRule");
}

#[test]
fn all_good_is_ok_and_has_every_check() {
    let r = evaluate(&input(vec![good_trail()], good_rules()));
    assert!(r.ok, "{:#?}", r.checks);
    assert_eq!(r.problems(), 0);
    let ids: Vec<&str> = r.checks.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "trail.present",
            "trail.multi_region",
            "trail.logging",
            "trail.management_events",
            "trail.kms_read_events",
            "trail.s3_data_events:shared",
            "rule.BucketChangeRule",
            "rule.KmsAccessDeniedRule"
        ]
    );
}

#[test]
fn recommended_selectors_fix_what_they_are_recommended_for() {
    let buckets = vec!["shared".to_string(), "other".to_string()];
    let v = recommended_selectors("aws", &buckets);
    let sel: Vec<AdvancedSelector> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|s| AdvancedSelector {
            name: None,
            fields: s["FieldSelectors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| FieldCondition {
                    field: f["Field"].as_str().unwrap().into(),
                    equals: strings(&f["Equals"]),
                    starts_with: strings(&f["StartsWith"]),
                    ..Default::default()
                })
                .collect(),
        })
        .collect();
    let t = trail("main", "us-east-1", true, true, Selectors::Advanced(sel));
    let mut i = input(vec![t], good_rules());
    i.buckets = buckets;
    let r = evaluate(&i);
    assert!(r.ok, "{:#?}", r.checks);
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn read_only_patterns() {
    assert!(wants_read_only_events(KMS_PATTERN));
    assert!(wants_read_only_events(
        r#"{"detail":{"eventName":[{"prefix":"Get"}]}}"#
    ));
    assert!(!wants_read_only_events(BUCKET_PATTERN));
    assert!(!wants_read_only_events("not json"));
    assert!(!wants_read_only_events(
        r#"{"detail":{"eventName":"Decrypt"}}"#
    ));
    // The organisation's forwarding rule: every KMS denial, read-only ones included.
    assert!(wants_read_only_events(
        r#"{"source":["aws.s3","aws.kms"],"detail":{"errorCode":["AccessDenied","AccessDeniedException"]}}"#
    ));
    assert!(!wants_read_only_events(
        r#"{"source":["aws.s3"],"detail":{"errorCode":["AccessDenied"]}}"#
    ));
}
