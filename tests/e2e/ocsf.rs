//! OCSF output against the published OCSF schema: the events `--output ocsf` prints (decide,
//! diagnose) and the ones the S3 sink writes (every state: open, exempt, fixed, passed,
//! deleted) are validated by `scripts/validate-ocsf` — the schema export of schema.ocsf.io as
//! the `ocsf-json-schema` package ships it, checked with `jsonschema` (both installed by
//! `scripts/test`). The check is shown to bite: an event missing any required attribute of the
//! Compliance Finding class fails. Also `--output asff`: the documents Security Hub would get.

use std::path::{Path, PathBuf};
use std::process::Command;

use cmkguard::core::config::{Config, Mode};
use cmkguard::core::decide::decide;
use cmkguard::core::event::{parse_event_bytes, EventInput, Parsed};
use cmkguard::core::snapshot::Snapshot;
use cmkguard::ports::{FindingBatch, FindingStatus, Published};
use cmkguard::render::ocsf::{json_lines, ocsf_batch};
use cmkguard::render::Poster;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cli(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_cmkguard"))
        .current_dir(root())
        .args(args)
        .output()
        .expect("run cmkguard");
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Runs the validator on `events` (written as `lines` or a JSON array); (exit code, output).
fn validate(events: &[Value], lines: bool, version: Option<&str>) -> (i32, String) {
    let dir = std::env::temp_dir().join(format!("cmkguard-ocsf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("events-{}.json", rand_suffix()));
    let text = if lines {
        json_lines(events)
    } else {
        serde_json::to_string(events).unwrap()
    };
    std::fs::write(&file, text).unwrap();
    let mut cmd = Command::new("python3");
    cmd.arg(root().join("scripts/validate-ocsf")).arg(&file);
    if let Some(v) = version {
        cmd.arg(v);
    }
    let out = cmd.output().expect("python3");
    let _ = std::fs::remove_file(&file);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let code = out.status.code().unwrap_or(-1);
    assert_ne!(
        code, 2,
        "the OCSF schema packages are missing: {text} (scripts/test installs them)"
    );
    (code, text)
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Every state an event can say: open, exempt, fixed, passed, deleted (from a real plan).
fn every_state() -> Vec<Value> {
    let event = std::fs::read(root().join("events/s3-PutBucketPolicy-shared-no-tls.json")).unwrap();
    let EventInput::Single(Parsed::Trigger(t)) = parse_event_bytes(&event).unwrap() else {
        panic!("fixture is a trigger");
    };
    let state: Snapshot = serde_json::from_slice(
        &std::fs::read(root().join("tests/state/data-shared-analytics.json")).unwrap(),
    )
    .unwrap();
    let plan = decide(
        &t,
        &state,
        &Config {
            mode: Mode::Report,
            ..Config::default()
        },
    );
    assert!(
        plan.findings.len() >= 2 && !plan.passed.is_empty(),
        "{plan:?}"
    );
    let findings = plan
        .findings
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut f = f.clone();
            f.exempt = i == 1;
            Published {
                finding: f,
                status: if i == 0 {
                    FindingStatus::Fixed
                } else {
                    FindingStatus::Open
                },
                done: if i == 0 {
                    vec![
                        "s3:PutBucketPolicy on data-shared-analytics: written and verified.".into(),
                    ]
                } else {
                    Vec::new()
                },
            }
        })
        .collect();
    let batch = FindingBatch {
        findings,
        passed: plan.passed.clone(),
        archived: plan.passed.clone(),
        time: "2024-11-25T10:02:41.250Z".into(),
        account: "111122223333".into(),
        region: "eu-west-1".into(),
    };
    ocsf_batch(&batch, &Poster::of(&batch))
}

fn events_of(v: Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

#[test]
fn ocsf_output_validates_against_the_published_schema() {
    let mut all = Vec::new();
    for (event, state) in [
        (
            "events/s3-PutBucketPolicy-shared-no-tls.json",
            "tests/state/data-shared-analytics.json",
        ),
        (
            "events/s3-CreateBucket-basic.json",
            "tests/state/data-no-tls.json",
        ),
        (
            "events/s3-PutBucketTagging-exemption-added.json",
            "tests/state/data-exempt.json",
        ),
        (
            "cloudtrail-Records-mixed.json",
            "tests/state/data-no-tls.json",
        ),
    ] {
        let event = if event.starts_with("events/") {
            event.to_string()
        } else {
            format!("events/{event}")
        };
        all.extend(events_of(cli(&[
            "decide", "--event", &event, "--state", state, "--output", "ocsf",
        ])));
    }
    // Enforce mode with a CMK: planned patches in `unmapped`.
    all.extend(events_of(cli(&[
        "decide",
        "--event",
        "events/s3-PutBucketEncryption-aws-s3-key.json",
        "--state",
        "tests/state/data-shared-analytics.json",
        "--config",
        "tests/state/config-enforce.json",
        "--output",
        "ocsf",
    ])));
    // A cross-account diagnosis: the foreign owner under resource.owner.
    let diagnosis = events_of(cli(&[
        "diagnose",
        "--event",
        "events/kms-Decrypt-AccessDeniedException-cross-account.json",
        "--state",
        "tests/state/data-shared-analytics.json",
        "--output",
        "ocsf",
    ]));
    assert!(!diagnosis.is_empty());
    assert!(diagnosis
        .iter()
        .all(|e| e["unmapped"]["rule_id"] == "ACCESS_DENIED_DIAGNOSIS"));
    all.extend(diagnosis);
    let states = every_state();
    let words: Vec<&str> = states
        .iter()
        .filter_map(|e| e["unmapped"]["state"].as_str())
        .collect();
    for w in ["fixed", "exempt", "passed", "deleted"] {
        assert!(words.contains(&w), "{w} missing: {words:?}");
    }
    all.extend(states.clone());
    assert!(all.len() >= 20, "{}", all.len());
    assert!(all.iter().all(|e| e["class_uid"] == 2003));
    let (code, out) = validate(&all, false, None);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 violations"), "{out}");
    // The S3 sink's JSON lines, and a later schema version, validate too.
    let (code, out) = validate(&states, true, Some("1.5.0"));
    assert_eq!(code, 0, "{out}");
}

#[test]
fn an_event_missing_a_required_attribute_fails_validation() {
    let event = every_state().remove(0);
    for field in [
        "activity_id",
        "category_uid",
        "cloud",
        "compliance",
        "finding_info",
        "metadata",
        "severity_id",
        "time",
        "type_uid",
    ] {
        let mut bad = event.clone();
        bad.as_object_mut().unwrap().remove(field);
        let (code, out) = validate(&[event.clone(), bad], false, None);
        assert_eq!(code, 1, "{field}: {out}");
        assert!(out.contains(field), "{field}: {out}");
        assert!(
            !out.contains("event 0 "),
            "{field}: the intact event passes: {out}"
        );
    }
    // A nested required attribute, and a value outside its enum.
    let mut bad = event.clone();
    bad["finding_info"].as_object_mut().unwrap().remove("uid");
    assert_eq!(validate(&[bad], false, None).0, 1);
    let mut bad = event;
    bad["severity_id"] = Value::from(42);
    assert_eq!(validate(&[bad], false, None).0, 1);
}

#[test]
fn asff_output_is_what_security_hub_would_receive() {
    let docs = events_of(cli(&[
        "decide",
        "--event",
        "events/s3-PutBucketPolicy-shared-no-tls.json",
        "--state",
        "tests/state/data-shared-analytics.json",
        "--output",
        "asff",
    ]));
    assert!(!docs.is_empty());
    for d in &docs {
        // The Lambda of the account that recorded the event posts it.
        assert_eq!(d["AwsAccountId"], "111122223333");
        assert!(d["FindingProviderFields"]["Severity"]["Label"].is_string());
        assert!(d.get("Workflow").is_none());
        assert_eq!(d["CreatedAt"], "2024-11-25T10:02:41Z", "dated by the event");
    }
    // Not a command that makes findings: a usage error, nothing run.
    let out = Command::new(env!("CARGO_BIN_EXE_cmkguard"))
        .current_dir(root())
        .args([
            "check-policy",
            "x.json",
            "--bucket",
            "b",
            "--account",
            "1",
            "--output",
            "ocsf",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(Path::new(&root().join("scripts/validate-ocsf")).exists());
}
