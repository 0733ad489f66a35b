//! `cmkguard doctor` against the emulator: moto holds real trails (create / start logging /
//! basic and advanced event selectors) and EventBridge rules (state, disable), read through
//! the CLI-only adapters. One test per misconfiguration the doctor reports, plus an all-good
//! setup, a shadow trail homed in another region, explicit `--rule` names, and the binary's
//! JSON and exit code. Organization trails and unreadable selectors cannot be set up in moto:
//! they are core table rows (src/core/doctor/tests.rs).

use std::process::Command;

use aws_sdk_cloudtrail::types::{
    AdvancedEventSelector, AdvancedFieldSelector, DataResource, EventSelector, ReadWriteType,
};
use aws_sdk_eventbridge::types::RuleState;
use cmkguard::aws::trigger_path::{self, CliClients};
use cmkguard::commands::doctor::{self, RuleSource};
use cmkguard::core::doctor::{DoctorReport, Status};
use cmkguard::dev::emulator::Emulator;
use cmkguard::dev::scenario::{emulator_options, REGION};
use serde_json::{json, Value};

const SHARED: &str = "data-shared-analytics";
const LOGS: &str = "trail-logs";
const STACK: &str = "cmkguard";

const BUCKET_PATTERN: &str = r#"{"source":["aws.s3"],"detail-type":["AWS API Call via CloudTrail"],"detail":{"eventSource":["s3.amazonaws.com"],"eventName":["PutBucketPolicy","PutBucketEncryption"],"errorCode":[{"exists":false}]}}"#;
const KEY_PATTERN: &str = r#"{"source":["aws.kms"],"detail-type":["AWS API Call via CloudTrail"],"detail":{"eventSource":["kms.amazonaws.com"],"eventName":["PutKeyPolicy","DisableKey"],"errorCode":[{"exists":false}]}}"#;
const KEY_DELETED_PATTERN: &str = r#"{"source":["aws.kms"],"detail-type":["AWS Service Event via CloudTrail"],"detail":{"eventSource":["kms.amazonaws.com"],"eventName":["DeleteKey"]}}"#;
const S3_DENIED_PATTERN: &str = r#"{"source":["aws.s3"],"detail-type":["AWS API Call via CloudTrail"],"detail":{"eventSource":["s3.amazonaws.com"],"errorCode":["AccessDenied","AccessDeniedException"]}}"#;
const KMS_DENIED_PATTERN: &str = r#"{"source":["aws.kms"],"detail-type":["AWS API Call via CloudTrail"],"detail":{"eventSource":["kms.amazonaws.com"],"eventName":["Decrypt",{"prefix":"GenerateDataKey"}],"errorCode":["AccessDenied","AccessDeniedException"]}}"#;

struct DoctorWorld {
    ct: aws_sdk_cloudtrail::Client,
    events: aws_sdk_eventbridge::Client,
    s3: aws_sdk_s3::Client,
    cli: CliClients,
    url: String,
    _emulator: Emulator,
}

impl DoctorWorld {
    async fn start() -> DoctorWorld {
        let emulator = Emulator::start(None)
            .unwrap_or_else(|why| panic!("doctor tests need the AWS emulator: {why}"));
        let opts = emulator_options(&emulator.endpoint_url);
        let clients = cmkguard::aws::load_clients(&opts).await;
        let cli = trigger_path::load(&opts, None).await;
        let ct = sdk_cloudtrail(&emulator.endpoint_url, REGION).await;
        let w = DoctorWorld {
            ct,
            events: clients.eventbridge.clone(),
            s3: clients.s3.clone(),
            cli,
            url: emulator.endpoint_url.clone(),
            _emulator: emulator,
        };
        w.create_bucket(LOGS).await;
        w
    }

    async fn create_bucket(&self, name: &str) {
        self.s3
            .create_bucket()
            .bucket(name)
            .create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(REGION))
                    .build(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateBucket {name}: {e:?}"));
    }

    /// A trail, logging or not.
    async fn trail(&self, name: &str, multi_region: bool, logging: bool) {
        self.trail_in(&self.ct, name, multi_region, logging).await;
    }

    async fn trail_in(
        &self,
        ct: &aws_sdk_cloudtrail::Client,
        name: &str,
        multi: bool,
        logging: bool,
    ) {
        ct.create_trail()
            .name(name)
            .s3_bucket_name(LOGS)
            .is_multi_region_trail(multi)
            .send()
            .await
            .expect("CreateTrail");
        if logging {
            ct.start_logging()
                .name(name)
                .send()
                .await
                .expect("StartLogging");
        }
    }

    async fn basic(
        &self,
        trail: &str,
        rw: ReadWriteType,
        mgmt: bool,
        exclude_kms: bool,
        data: Option<&str>,
    ) {
        let mut s = EventSelector::builder()
            .read_write_type(rw)
            .include_management_events(mgmt);
        if exclude_kms {
            s = s.exclude_management_event_sources("kms.amazonaws.com");
        }
        if let Some(v) = data {
            s = s.data_resources(
                DataResource::builder()
                    .r#type("AWS::S3::Object")
                    .values(v)
                    .build(),
            );
        }
        self.ct
            .put_event_selectors()
            .trail_name(trail)
            .event_selectors(s.build())
            .send()
            .await
            .expect("PutEventSelectors");
    }

    /// Management events (all) and S3 object events of `buckets`, as advanced selectors.
    async fn advanced(&self, trail: &str, buckets: &[&str]) {
        let field = |f: &str, eq: &[&str]| {
            let mut b = AdvancedFieldSelector::builder().field(f);
            for v in eq {
                b = b.equals(*v);
            }
            b
        };
        let mgmt = AdvancedEventSelector::builder()
            .name("management")
            .field_selectors(field("eventCategory", &["Management"]).build().unwrap())
            .build()
            .unwrap();
        let mut arn = AdvancedFieldSelector::builder().field("resources.ARN");
        for b in buckets {
            arn = arn.starts_with(format!("arn:aws:s3:::{b}/"));
        }
        let data = AdvancedEventSelector::builder()
            .name("shared buckets")
            .field_selectors(field("eventCategory", &["Data"]).build().unwrap())
            .field_selectors(
                field("resources.type", &["AWS::S3::Object"])
                    .build()
                    .unwrap(),
            )
            .field_selectors(arn.build().unwrap())
            .build()
            .unwrap();
        self.ct
            .put_event_selectors()
            .trail_name(trail)
            .advanced_event_selectors(mgmt)
            .advanced_event_selectors(data)
            .send()
            .await
            .expect("PutEventSelectors (advanced)");
    }

    async fn rule(&self, logical: &str, pattern: &str, state: RuleState) -> String {
        let name = format!("{STACK}-{logical}-1AB2CD3EF4");
        self.events
            .put_rule()
            .name(&name)
            .event_pattern(pattern)
            .state(state)
            .send()
            .await
            .expect("PutRule");
        name
    }

    /// The stack's rules as template.yaml creates them with KmsReadOnlyDenials=true.
    async fn stack_rules(&self) {
        self.rule("BucketChangeRule", BUCKET_PATTERN, RuleState::Enabled)
            .await;
        self.rule("KeyChangeRule", KEY_PATTERN, RuleState::Enabled)
            .await;
        self.rule("KeyDeletedRule", KEY_DELETED_PATTERN, RuleState::Enabled)
            .await;
        self.rule("S3AccessDeniedRule", S3_DENIED_PATTERN, RuleState::Enabled)
            .await;
        self.rule(
            "KmsAccessDeniedRule",
            KMS_DENIED_PATTERN,
            RuleState::EnabledWithAllCloudtrailManagementEvents,
        )
        .await;
    }

    /// Everything right: a multi-region logging trail with management and data events.
    async fn all_good(&self) {
        self.trail("org-audit", true, true).await;
        self.advanced("org-audit", &[SHARED]).await;
        self.stack_rules().await;
    }

    async fn doctor(&self) -> DoctorReport {
        doctor::run(
            &self.cli,
            &RuleSource::Stack(STACK.into()),
            &[SHARED.to_string()],
        )
        .await
    }
}

/// The binary against the emulator, JSON output.
fn run_doctor(url: &str, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cmkguard"))
        .args([
            "doctor",
            "--endpoint-url",
            url,
            "--region",
            REGION,
            "--output",
            "json",
        ])
        .args(extra)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run cmkguard")
}

/// The JSON of a run that must have exited 0.
fn json_output(out: &std::process::Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

async fn sdk_cloudtrail(url: &str, region: &str) -> aws_sdk_cloudtrail::Client {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(url)
        .region(aws_config::Region::new(region.to_string()))
        .credentials_provider(aws_sdk_cloudtrail::config::Credentials::new(
            "testing", "testing", None, None, "static",
        ))
        .load()
        .await;
    aws_sdk_cloudtrail::Client::new(&sdk)
}

fn status(r: &DoctorReport, id: &str) -> (Status, String) {
    let c = r
        .checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check {id}: {:#?}", r.checks));
    (c.status, c.message.clone())
}

/// `id` is a problem, with a fix, and every other check listed in `ok_ids` is still ok.
fn assert_problem(r: &DoctorReport, id: &str, words: &str, ok_ids: &[&str]) {
    let c = r
        .checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no {id}: {:#?}", r.checks));
    assert_eq!(c.status, Status::Problem, "{id}: {}", c.message);
    assert!(
        c.message.contains(words),
        "{id}: {:?} lacks {words:?}",
        c.message
    );
    assert!(
        c.fix.as_deref().is_some_and(|f| !f.is_empty()),
        "{id} has no fix"
    );
    assert!(!r.ok);
    for other in ok_ids {
        assert_eq!(
            status(r, other).0,
            Status::Ok,
            "{other}: {}",
            status(r, other).1
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_all_good() {
    let w = DoctorWorld::start().await;
    w.all_good().await;
    let r = w.doctor().await;
    assert!(r.ok, "{:#?}", r.checks);
    let ids: Vec<&str> = r.checks.iter().map(|c| c.id.as_str()).collect();
    for id in [
        "trail.present",
        "trail.multi_region",
        "trail.logging",
        "trail.management_events",
        "trail.kms_read_events",
        "trail.s3_data_events:data-shared-analytics",
        "rule.BucketChangeRule",
        "rule.KeyChangeRule",
        "rule.KeyDeletedRule",
        "rule.S3AccessDeniedRule",
        "rule.KmsAccessDeniedRule",
        "rule.SweepRule",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    assert!(status(&r, "trail.s3_data_events:data-shared-analytics")
        .1
        .contains("org-audit"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_no_trail() {
    let w = DoctorWorld::start().await;
    w.stack_rules().await;
    let r = w.doctor().await;
    assert_problem(
        &r,
        "trail.present",
        "no CloudTrail trail",
        &["rule.BucketChangeRule"],
    );
    assert_eq!(status(&r, "trail.management_events").0, Status::Problem);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_single_region_trail() {
    let w = DoctorWorld::start().await;
    w.trail("local-only", false, true).await;
    w.advanced("local-only", &[SHARED]).await;
    w.stack_rules().await;
    let r = w.doctor().await;
    // It still delivers this region's events; the other regions are blind.
    assert_problem(
        &r,
        "trail.multi_region",
        "local-only",
        &["trail.logging", "trail.management_events"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_trail_not_logging() {
    let w = DoctorWorld::start().await;
    w.trail("org-audit", true, false).await;
    w.advanced("org-audit", &[SHARED]).await;
    w.stack_rules().await;
    let r = w.doctor().await;
    assert_problem(
        &r,
        "trail.logging",
        "not logging",
        &["trail.present", "trail.multi_region"],
    );
    let fix = r
        .checks
        .iter()
        .find(|c| c.id == "trail.logging")
        .and_then(|c| c.fix.clone())
        .unwrap();
    assert!(
        fix.contains("start-logging") && fix.contains("trail/org-audit"),
        "{fix}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_management_events_excluded() {
    let w = DoctorWorld::start().await;
    w.trail("org-audit", true, true).await;
    w.basic(
        "org-audit",
        ReadWriteType::All,
        false,
        false,
        Some("arn:aws:s3:::"),
    )
    .await;
    w.stack_rules().await;
    let r = w.doctor().await;
    assert_problem(
        &r,
        "trail.management_events",
        "S3 write management events",
        &[
            "trail.logging",
            "trail.s3_data_events:data-shared-analytics",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_kms_events_excluded() {
    let w = DoctorWorld::start().await;
    w.trail("org-audit", true, true).await;
    w.basic(
        "org-audit",
        ReadWriteType::All,
        true,
        true,
        Some("arn:aws:s3"),
    )
    .await;
    w.stack_rules().await;
    let r = w.doctor().await;
    assert_problem(
        &r,
        "trail.management_events",
        "KMS write management events",
        &["trail.logging"],
    );
    assert_eq!(status(&r, "trail.kms_read_events").0, Status::Problem);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_write_only_when_read_only_kms_events_are_needed() {
    let w = DoctorWorld::start().await;
    w.trail("org-audit", true, true).await;
    w.basic("org-audit", ReadWriteType::WriteOnly, true, false, None)
        .await;
    w.stack_rules().await;
    let r = w.doctor().await;
    assert_problem(
        &r,
        "trail.kms_read_events",
        "Decrypt",
        &["trail.management_events", "rule.KmsAccessDeniedRule"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_no_s3_data_events_for_a_shared_bucket() {
    let w = DoctorWorld::start().await;
    w.trail("org-audit", true, true).await;
    w.advanced("org-audit", &["some-other-bucket"]).await;
    w.stack_rules().await;
    let r = w.doctor().await;
    assert_problem(
        &r,
        "trail.s3_data_events:data-shared-analytics",
        "invisible",
        &["trail.management_events", "trail.kms_read_events"],
    );
    let fix = r
        .checks
        .iter()
        .find(|c| c.id.starts_with("trail.s3_data_events"))
        .and_then(|c| c.fix.clone())
        .unwrap();
    assert!(fix.contains("arn:aws:s3:::data-shared-analytics/"), "{fix}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_kms_rule_not_delivering_read_only_events() {
    let w = DoctorWorld::start().await;
    w.trail("org-audit", true, true).await;
    w.advanced("org-audit", &[SHARED]).await;
    w.rule("BucketChangeRule", BUCKET_PATTERN, RuleState::Enabled)
        .await;
    w.rule("KeyChangeRule", KEY_PATTERN, RuleState::Enabled)
        .await;
    w.rule("S3AccessDeniedRule", S3_DENIED_PATTERN, RuleState::Enabled)
        .await;
    w.rule(
        "KmsAccessDeniedRule",
        KMS_DENIED_PATTERN,
        RuleState::Enabled,
    )
    .await;
    let r = w.doctor().await;
    assert_problem(
        &r,
        "rule.KmsAccessDeniedRule",
        "ENABLED drops read-only",
        &["rule.BucketChangeRule", "trail.kms_read_events"],
    );
    let fix = r
        .checks
        .iter()
        .find(|c| c.id == "rule.KmsAccessDeniedRule")
        .and_then(|c| c.fix.clone())
        .unwrap();
    assert!(
        fix.contains("--state ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"),
        "{fix}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_function_rule_disabled_or_missing() {
    let w = DoctorWorld::start().await;
    w.trail("org-audit", true, true).await;
    w.advanced("org-audit", &[SHARED]).await;
    let bucket_rule = w
        .rule("BucketChangeRule", BUCKET_PATTERN, RuleState::Enabled)
        .await;
    w.rule("KeyChangeRule", KEY_PATTERN, RuleState::Enabled)
        .await;
    w.events
        .disable_rule()
        .name(&bucket_rule)
        .send()
        .await
        .expect("DisableRule");
    let r = w.doctor().await;
    assert_problem(
        &r,
        "rule.BucketChangeRule",
        "disabled",
        &["rule.KeyChangeRule", "rule.KmsAccessDeniedRule"],
    );
    let fix = r
        .checks
        .iter()
        .find(|c| c.id == "rule.BucketChangeRule")
        .and_then(|c| c.fix.clone())
        .unwrap();
    assert!(
        fix.contains(&format!(
            "aws events enable-rule --region {REGION} --name {bucket_rule}"
        )),
        "{fix}"
    );
    assert_problem(&r, "rule.S3AccessDeniedRule", "not found", &[]);
    // Without the KMS rule, read-only KMS events are not needed.
    assert!(status(&r, "trail.kms_read_events").1.contains("not needed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reads_a_shadow_trail_in_its_home_region() {
    let w = DoctorWorld::start().await;
    let home = "us-east-1";
    let ct_home = sdk_cloudtrail(&w.url, home).await;
    w.trail_in(&ct_home, "org-audit", true, true).await;
    ct_home
        .put_event_selectors()
        .trail_name("org-audit")
        .event_selectors(
            EventSelector::builder()
                .read_write_type(ReadWriteType::All)
                .include_management_events(true)
                .data_resources(
                    DataResource::builder()
                        .r#type("AWS::S3::Object")
                        .values("arn:aws:s3")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("PutEventSelectors");
    w.stack_rules().await;
    let r = w.doctor().await;
    assert!(r.ok, "{:#?}", r.checks);
    assert!(status(&r, "trail.present").1.contains("home us-east-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_rules_named_explicitly() {
    let w = DoctorWorld::start().await;
    w.all_good().await;
    let name = w
        .rule(
            "KmsAccessDeniedRule",
            KMS_DENIED_PATTERN,
            RuleState::Disabled,
        )
        .await;
    let r = doctor::run(
        &w.cli,
        &RuleSource::Names(vec![name.clone(), "no-such-rule".into()]),
        &[SHARED.to_string()],
    )
    .await;
    assert_problem(
        &r,
        &format!("rule.{name}"),
        "disabled",
        &["trail.kms_read_events"],
    );
    assert_problem(&r, "rule.no-such-rule", "not found", &[]);
    assert_eq!(
        r.checks
            .iter()
            .filter(|c| c.id.starts_with("rule."))
            .count(),
        2
    );
}

/// The binary: JSON shape and exit codes (0 without, 1 with --fail-on-findings).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_cli_json_and_exit_codes() {
    let w = DoctorWorld::start().await;
    w.trail("org-audit", true, false).await;
    w.stack_rules().await;
    let run = |extra: &[&str]| {
        let mut args = vec!["--bucket", SHARED];
        args.extend_from_slice(extra);
        run_doctor(&w.url, &args)
    };
    let v = json_output(&run(&[]));
    assert_eq!(v["ok"], json!(false));
    let checks = v["checks"].as_array().expect("checks");
    for c in checks {
        let keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["id", "status", "message", "fix"]);
        assert!(["ok", "problem", "unknown"].contains(&c["status"].as_str().unwrap()));
    }
    let logging = checks.iter().find(|c| c["id"] == "trail.logging").unwrap();
    assert_eq!(logging["status"], "problem");
    let out = run(&["--fail-on-findings"]);
    assert_eq!(out.status.code(), Some(1));
}

/// Without `--bucket`, `--account` lists the region's buckets and checks data events for the
/// shared ones only: the shared bucket is a problem (the trail logs another bucket), the
/// private ones are not checked at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_finds_the_shared_buckets_itself() {
    let w = DoctorWorld::start().await;
    w.trail("org-audit", true, true).await;
    w.advanced("org-audit", &["some-other-bucket"]).await;
    w.stack_rules().await;
    for b in [SHARED, "private-bucket"] {
        w.create_bucket(b).await;
    }
    w.s3.put_bucket_policy()
        .bucket(SHARED)
        .policy(cmkguard::dev::scenario::shared_policy(SHARED).to_string())
        .send()
        .await
        .expect("PutBucketPolicy");
    let v = json_output(&run_doctor(
        &w.url,
        &["--account", cmkguard::dev::scenario::DATA_ACCOUNT],
    ));
    let ids: Vec<&str> = v["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .filter(|id| id.starts_with("trail.s3_data_events"))
        .collect();
    assert_eq!(ids, ["trail.s3_data_events:data-shared-analytics"], "{v}");
    let shared = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "trail.s3_data_events:data-shared-analytics")
        .unwrap();
    assert_eq!(shared["status"], "problem", "{shared}");
}
