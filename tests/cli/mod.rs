//! The offline CLI as a user runs it: exit codes, JSON field names, one-line errors naming the
//! file, and no panic on any input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cmkguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cmkguard"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run cmkguard")
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}, stderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// A file in a per-test temporary directory.
fn temp_file(test: &str, name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cmkguard-cli-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const SHARED_NO_TLS: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Share","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;

fn bucket_event(bucket: &str) -> String {
    json!({
        "version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3",
        "account": "111122223333", "time": "2026-11-20T10:00:00Z", "region": "eu-west-1", "resources": [],
        "detail": {
            "eventVersion": "1.09", "eventSource": "s3.amazonaws.com", "eventName": "PutBucketPolicy",
            "awsRegion": "eu-west-1", "eventTime": "2026-11-20T10:00:00Z", "recipientAccountId": "111122223333",
            "userIdentity": {"type": "AssumedRole", "accountId": "111122223333",
                "arn": "arn:aws:sts::111122223333:assumed-role/admin/alice",
                "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/admin", "accountId": "111122223333"}}},
            "requestParameters": {"bucketName": bucket, "bucketPolicy": {"Version": "2012-10-17", "Statement": []}, "policy": ""},
            "responseElements": null, "eventID": "a5b1f7de-0000-4000-8000-000000000001", "readOnly": false
        }
    })
    .to_string()
}

#[test]
fn check_policy_reports_tls_and_sharing_fields() {
    let f = temp_file("check_policy", "policy.json", SHARED_NO_TLS);
    let v = json_of(&cmkguard(&[
        "check-policy",
        s(&f),
        "--bucket",
        "b",
        "--account",
        "111122223333",
        "--output",
        "json",
    ]));
    assert_eq!(v["secure_transport"]["status"], "not_enforced");
    assert!(v["secure_transport"]["gaps"]
        .as_array()
        .is_some_and(|g| !g.is_empty()));
    assert_eq!(v["sharing"]["shared"], true);
    assert_eq!(v["sharing"]["public"], false);
    assert_eq!(v["sharing"]["untrusted"], true);
    assert_eq!(v["sharing"]["external_accounts"], json!(["444455556666"]));
    for field in ["organisations", "unknown_principals", "reasons"] {
        assert!(v["sharing"][field].is_array(), "{field}");
    }
}

#[test]
fn check_policy_accepts_get_bucket_policy_output_and_trust() {
    let wrapped = json!({"Policy": SHARED_NO_TLS}).to_string();
    let f = temp_file("check_policy_wrapped", "policy.json", &wrapped);
    let v = json_of(&cmkguard(&[
        "check-policy",
        s(&f),
        "--bucket",
        "b",
        "--account",
        "111122223333",
        "--trusted-account",
        "444455556666",
        "--output",
        "json",
    ]));
    assert_eq!(v["sharing"]["shared"], true);
    assert_eq!(v["sharing"]["untrusted"], false);
}

#[test]
fn fail_on_findings_sets_exit_code_one() {
    let f = temp_file("fail_on_findings", "policy.json", SHARED_NO_TLS);
    let out = cmkguard(&[
        "check-policy",
        s(&f),
        "--bucket",
        "b",
        "--account",
        "111122223333",
        "--fail-on-findings",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let patched = cmkguard(&["patch-tls", s(&f), "--bucket", "b", "--output", "json"]);
    let g = temp_file(
        "fail_on_findings",
        "patched.json",
        &String::from_utf8_lossy(&patched.stdout),
    );
    let out = cmkguard(&[
        "check-policy",
        s(&g),
        "--bucket",
        "b",
        "--account",
        "111122223333",
        "--trusted-account",
        "444455556666",
        "--fail-on-findings",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn unreadable_input_exits_two_with_one_line_naming_the_file() {
    let missing = root().join("no-such-file.json");
    let out = cmkguard(&[
        "check-policy",
        s(&missing),
        "--bucket",
        "b",
        "--account",
        "111122223333",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-file.json"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let bad = temp_file("unreadable", "bad.json", "{\"Statement\": [");
    for args in [
        vec!["check-policy", s(&bad), "--bucket", "b", "--account", "1"],
        vec!["check-key-policy", s(&bad), "--account", "1"],
        vec!["classify-key", s(&bad)],
        vec!["parse-event", s(&bad)],
        vec!["patch-tls", s(&bad), "--bucket", "b"],
    ] {
        let out = cmkguard(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("bad.json") && err.contains("JSON"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn bad_usage_exits_two() {
    assert_eq!(cmkguard(&["check-policy"]).status.code(), Some(2));
    assert_eq!(cmkguard(&["no-such-command"]).status.code(), Some(2));
    assert_eq!(cmkguard(&["decide", "--event", "x"]).status.code(), Some(2));
}

#[test]
fn garbage_never_panics() {
    let inputs = [
        "",
        "null",
        "[]",
        "42",
        "\"str\"",
        "{}",
        "{\"Statement\": {}}",
        "{\"Records\": 5}",
        "{\"Policy\": 7}",
        "\u{0}\u{1}",
    ];
    for (i, content) in inputs.iter().enumerate() {
        let f = temp_file("garbage", &format!("g{i}.json"), content);
        for args in [
            vec![
                "check-policy",
                s(&f),
                "--bucket",
                "b",
                "--account",
                "111122223333",
            ],
            vec!["check-key-policy", s(&f), "--account", "111122223333"],
            vec!["classify-key", s(&f)],
            vec!["parse-event", s(&f)],
            vec!["patch-tls", s(&f), "--bucket", "b"],
            vec![
                "decide",
                "--event",
                s(&f),
                "--state",
                "tests/state/data-no-tls.json",
            ],
            vec![
                "decide",
                "--event",
                "tests/state/data-no-tls.json",
                "--state",
                s(&f),
            ],
        ] {
            let code = cmkguard(&args).status.code();
            assert!(
                matches!(code, Some(0) | Some(2)),
                "{args:?} on {content:?} gave {code:?}"
            );
        }
    }
}

#[test]
fn classify_key_output_fields() {
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/state/data-shared-analytics.json")).unwrap(),
    )
    .unwrap();
    let f = temp_file(
        "classify",
        "key.json",
        &state["keys"][0]["metadata"].to_string(),
    );
    let v = json_of(&cmkguard(&["classify-key", s(&f), "--output", "json"]));
    assert_eq!(v["class"], "customer_managed");
    assert_eq!(v["rotation"], "automatic_eligible");
    assert_eq!(v["usable_for_s3"], true);
    assert_eq!(v["account"], "111122223333");
    assert_eq!(v["region"], "eu-west-1");
    for field in [
        "key_arn",
        "origin",
        "key_spec",
        "key_state",
        "unusable_reasons",
    ] {
        assert!(!v[field].is_null(), "{field}");
    }
}

#[test]
fn check_key_policy_finds_external_admin() {
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": "777788889999"}, "Action": "kms:*", "Resource": "*"}]});
    let f = temp_file("key_policy", "kp.json", &policy.to_string());
    let out = cmkguard(&[
        "check-key-policy",
        s(&f),
        "--account",
        "111122223333",
        "--output",
        "json",
        "--fail-on-findings",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["admin_accounts"], json!(["777788889999"]));
    assert_eq!(v["public"], false);
}

#[test]
fn decide_plans_the_scenario_in_enforce_mode() {
    let ev = temp_file(
        "decide",
        "event.json",
        &bucket_event("data-shared-analytics"),
    );
    let out = cmkguard(&[
        "decide",
        "--event",
        s(&ev),
        "--state",
        "tests/state/data-shared-analytics.json",
        "--config",
        "tests/state/config-enforce.json",
        "--output",
        "json",
        "--fail-on-findings",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut rules: Vec<&str> = plan["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap())
        .collect();
    rules.sort();
    assert_eq!(rules, ["SHARED_BUCKET_AWS_MANAGED_KEY", "TLS_NOT_ENFORCED"]);
    let actions: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["PutBucketPolicy", "PutKeyPolicy", "PutBucketEncryption"]
    );
    assert_eq!(plan["mode"], "enforce");
}

#[test]
fn decide_on_compliant_and_exempt_buckets_finds_no_violation() {
    let ev = temp_file(
        "decide_ok",
        "compliant.json",
        &bucket_event("data-compliant"),
    );
    let out = cmkguard(&[
        "decide",
        "--event",
        s(&ev),
        "--state",
        "tests/state/data-compliant.json",
        "--output",
        "json",
        "--fail-on-findings",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["findings"], json!([]));
    assert_eq!(plan["passed"].as_array().unwrap().len(), 7);

    let ev = temp_file("decide_ok", "exempt.json", &bucket_event("data-exempt"));
    let out = cmkguard(&[
        "decide",
        "--event",
        s(&ev),
        "--state",
        "tests/state/data-exempt.json",
        "--config",
        "tests/state/config-enforce.json",
        "--output",
        "json",
        "--fail-on-findings",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(plan["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["exempt"] == true));
    assert!(!plan["findings"].as_array().unwrap().is_empty());
    assert_eq!(plan["steps"], json!([]));
}

#[test]
fn decide_rejects_a_config_typo() {
    let ev = temp_file("decide_typo", "event.json", &bucket_event("data-no-tls"));
    let cfg = temp_file("decide_typo", "config.json", r#"{"mdoe": "enforce"}"#);
    let out = cmkguard(&[
        "decide",
        "--event",
        s(&ev),
        "--state",
        "tests/state/data-no-tls.json",
        "--config",
        s(&cfg),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("config.json") && err.contains("mdoe"), "{err}");
}

#[test]
fn patch_tls_upserts_once_and_refuses_over_limit() {
    let f = temp_file("patch", "policy.json", SHARED_NO_TLS);
    let once = json_of(&cmkguard(&[
        "patch-tls",
        s(&f),
        "--bucket",
        "b",
        "--output",
        "json",
    ]));
    let statements = once["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 2);
    assert_eq!(
        statements[0],
        serde_json::from_str::<Value>(SHARED_NO_TLS).unwrap()["Statement"][0]
    );
    assert_eq!(statements[1]["Sid"], "DenyInsecureTransport");
    let g = temp_file("patch", "patched.json", &once.to_string());
    let twice = json_of(&cmkguard(&[
        "patch-tls",
        s(&g),
        "--bucket",
        "b",
        "--output",
        "json",
    ]));
    assert_eq!(once, twice);

    let none = temp_file("patch", "empty.json", "");
    let created = json_of(&cmkguard(&[
        "patch-tls",
        s(&none),
        "--bucket",
        "b",
        "--partition",
        "aws-cn",
        "--output",
        "json",
    ]));
    assert_eq!(created["Version"], "2012-10-17");
    assert_eq!(
        created["Statement"][0]["Resource"],
        json!(["arn:aws-cn:s3:::b", "arn:aws-cn:s3:::b/*"])
    );

    let big: Vec<Value> = (0..200)
        .map(|i| json!({"Sid": format!("S{i}"), "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::b/some/long/prefix/number/{i}/*")}))
        .collect();
    let h = temp_file(
        "patch",
        "big.json",
        &json!({"Version": "2012-10-17", "Statement": big}).to_string(),
    );
    let out = cmkguard(&["patch-tls", s(&h), "--bucket", "b"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("big.json") && err.contains("limit"), "{err}");
}

#[test]
fn parse_event_handles_every_fixture() {
    let dir = root().join("events");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        seen += 1;
        let v = json_of(&cmkguard(&["parse-event", s(&path), "--output", "json"]));
        let items = match &v {
            Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        };
        assert!(!items.is_empty(), "{}", path.display());
        for item in items {
            let ok = item["trigger"]["kind"].is_string() || item["ignored"]["reason"].is_string();
            assert!(ok, "{}: {item}", path.display());
        }
    }
    assert!(seen >= 15, "only {seen} fixtures in events/");
}

// ---- diagnose (DOMAIN.md §6) ----

fn diagnose(event: &str, state: &str, extra: &[&str]) -> Output {
    let mut args = extra.to_vec();
    args.extend(["diagnose", "--event", event, "--state", state]);
    cmkguard(&args)
}

#[test]
fn diagnose_state_names_the_missing_half_and_the_three_sides() {
    let out = diagnose(
        "events/s3-GetObject-AccessDenied-cross-account.json",
        "tests/state/data-shared-analytics.json",
        &[],
    );
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "ACCESS_DENIED_DIAGNOSIS",
        "verdict: owner side incomplete",
        "missing half:",
        "can never be shared",
        "Owner: bucket policy\n  nothing to add",
        "Owner: key policy\n",
        "Caller: IAM policy\n",
        "\"arn:aws:s3:::data-shared-analytics/*\"",
    ] {
        assert!(text.contains(want), "want {want:?} in:\n{text}");
    }
    let failing = diagnose(
        "events/s3-GetObject-AccessDenied-cross-account.json",
        "tests/state/data-shared-analytics.json",
        &["--fail-on-findings"],
    );
    assert_eq!(failing.status.code(), Some(1));
}

#[test]
fn diagnose_json_carries_the_finding_objects() {
    let v = json_of(&diagnose(
        "events/s3-GetObject-AccessDenied-cross-account.json",
        "tests/state/data-shared-analytics-handshake-complete.json",
        &["--output", "json"],
    ));
    assert_eq!(v["ignored"], Value::Null);
    assert_eq!(v["trigger"]["kind"], "access_denied");
    let f = &v["findings"][0];
    assert_eq!(f["rule_id"], "ACCESS_DENIED_DIAGNOSIS");
    assert_eq!(f["resource_arn"], "arn:aws:s3:::data-shared-analytics");
    for field in [
        "id",
        "severity",
        "title",
        "account",
        "region",
        "exempt",
        "reasons",
        "fix",
        "remediation",
    ] {
        assert!(f.get(field).is_some(), "{field} missing in {f}");
    }
    let reasons = f["reasons"].to_string();
    assert!(reasons.contains("owner side complete"), "{reasons}");
    // The caller's IAM policy is in the fix, one line of JSON after its heading.
    let fix = f["fix"].as_str().unwrap();
    let lines: Vec<&str> = fix.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("Caller: IAM policy"))
        .expect("caller heading");
    let policy: Value = serde_json::from_str(lines[at + 1]).expect("IAM policy JSON");
    assert_eq!(policy["Version"], "2012-10-17");
    assert_eq!(policy["Statement"][0]["Action"], "s3:GetObject");
    assert!(policy["Statement"][1]["Resource"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:kms:eu-west-1:111122223333:key/"));
}

#[test]
fn diagnose_scp_denial_does_not_blame_the_owner() {
    let out = diagnose(
        "events/s3-PutObject-AccessDenied-scp-explicit-deny.json",
        "tests/state/data-shared-analytics-handshake-complete.json",
        &[],
    );
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("verdict: denied by an explicit deny in a service control policy")
            && text.contains("not the cause"),
        "{text}"
    );
}

#[test]
fn diagnose_ignores_what_is_not_a_cross_account_denial() {
    for (event, reason) in [
        (
            "events/s3-PutObject-AccessDenied-same-account.json",
            "ignored: AccessDenied within account 111122223333",
        ),
        (
            "events/s3-PutBucketPolicy-shared-no-tls.json",
            "ignored: PutBucketPolicy is not a cross-account AccessDenied",
        ),
        (
            "events/s3-GetObject-AccessDenied-anonymous.json",
            "ignored: ",
        ),
    ] {
        let out = diagnose(
            event,
            "tests/state/data-shared-analytics.json",
            &["--fail-on-findings"],
        );
        assert_eq!(out.status.code(), Some(0), "{event}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with(reason), "{event}: {text}");
    }
}

#[test]
fn diagnose_usage_errors_exit_2() {
    let both = cmkguard(&[
        "diagnose",
        "--event",
        "events/s3-GetObject-AccessDenied-cross-account.json",
        "--state",
        "tests/state/data-compliant.json",
        "--endpoint-url",
        "http://127.0.0.1:9",
    ]);
    assert_eq!(both.status.code(), Some(2));
    let missing = diagnose("events/none.json", "tests/state/data-compliant.json", &[]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("events/none.json"));
    let bad_state = temp_file("diag", "state.json", "{\"bucket\": 7}");
    let out = diagnose(
        "events/s3-GetObject-AccessDenied-cross-account.json",
        s(&bad_state),
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid state"));
}

// ---- issue 13: where AWS logs a denial, the caller's half, the relay, the key half ------

#[test]
fn parse_event_says_which_side_recorded_a_denial_and_never_guesses_the_owner() {
    let t = |file: &str| {
        json_of(&cmkguard(&["parse-event", file, "--output", "json"]))["trigger"].clone()
    };
    let redacted = t("events/s3-GetObject-AccessDenied-caller-redacted.json");
    assert_eq!(redacted["kind"], "access_denied");
    assert_eq!(redacted["side"], "caller");
    assert_eq!(
        redacted["owner_account"],
        Value::Null,
        "redacted: unknown, not guessed"
    );
    assert_eq!(redacted["caller_account"], "444455556666");
    assert_eq!(
        redacted["shared_event_id"],
        "cdcb9ad7-15ca-d068-dbb1-b8483b719054"
    );
    let kms = t("events/kms-Decrypt-AccessDeniedException-cross-account.json");
    assert_eq!(
        (kms["side"].clone(), kms["owner_account"].clone()),
        (json!("caller"), json!("111122223333"))
    );
    let owner = t("events/s3-GetObject-AccessDenied-cross-account.json");
    assert_eq!(owner["side"], "owner");
    let relayed = t("events/cmkguard-denial-Decrypt-relayed-to-owner.json");
    assert_eq!(relayed["side"], "owner");
    assert_eq!(relayed["owner_account"], "111122223333");
    assert_eq!(
        relayed["account"], "111122223333",
        "not the envelope's 999988887777"
    );
    // Every field of before is still there.
    for field in [
        "kind",
        "event_name",
        "event_source",
        "event_id",
        "event_time",
        "account",
        "region",
        "bucket",
        "key",
        "caller_account",
        "owner_account",
        "error_code",
        "error_message",
        "principal_arn",
        "session_issuer_arn",
        "object_key",
        "side",
    ] {
        assert!(kms.get(field).is_some(), "{field}");
    }
    let text = String::from_utf8_lossy(
        &cmkguard(&[
            "parse-event",
            "events/s3-GetObject-AccessDenied-caller-redacted.json",
        ])
        .stdout,
    )
    .to_string();
    assert!(text.contains("owner=unknown side=caller"), "{text}");
}

#[test]
fn diagnose_state_with_the_callers_identity_names_the_missing_caller_statement() {
    let v = json_of(&diagnose(
        "events/kms-Decrypt-AccessDeniedException-cross-account.json",
        "tests/state/caller-analytics-etl.json",
        &["--output", "json"],
    ));
    let f = &v["findings"][0];
    assert_eq!(f["account"], "444455556666", "the caller's own finding");
    let reasons = f["reasons"].to_string();
    assert!(
        reasons.contains("verdict: caller half missing: arn:aws:iam::444455556666:role/analytics-etl lacks kms:Decrypt on arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
        "{reasons}"
    );
    let complete = String::from_utf8_lossy(
        &diagnose(
            "events/s3-GetObject-AccessDenied-caller-redacted.json",
            "tests/state/caller-analytics-etl.json",
            &[],
        )
        .stdout,
    )
    .to_string();
    assert!(
        complete.contains("verdict: caller half complete: the owner (unknown) must fix its side"),
        "{complete}"
    );
}

#[test]
fn relay_prints_the_entries_it_would_put() {
    let v = json_of(&cmkguard(&[
        "relay",
        "--event",
        "events/kms-Decrypt-AccessDeniedException-cross-account.json",
        "--output",
        "json",
    ]));
    let e = &v["entries"][0];
    assert_eq!(e["owner_account"], "111122223333");
    assert_eq!(
        e["bus_arn"],
        "arn:aws:events:eu-west-1:111122223333:event-bus/cmkguard"
    );
    assert_eq!(e["detail"]["owner_account"], "111122223333");
    assert_eq!(e["detail"]["record"]["eventName"], "Decrypt");
    assert!(e["detail"]["relayed_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    // A redacted record needs the owner map; without it, the owner is unknown.
    let unknown = json_of(&cmkguard(&[
        "relay",
        "--event",
        "events/s3-GetObject-AccessDenied-caller-redacted.json",
        "--output",
        "json",
    ]));
    assert_eq!(unknown["entries"], json!([]));
    assert_eq!(
        unknown["owner_unknown"][0]["bucket"],
        "data-shared-analytics"
    );
    let map = temp_file(
        "relay",
        "owners.json",
        r#"{"data-shared-analytics": "111122223333"}"#,
    );
    let known = json_of(&cmkguard(&[
        "relay",
        "--event",
        "events/s3-GetObject-AccessDenied-caller-redacted.json",
        "--owner-map",
        s(&map),
        "--output",
        "json",
    ]));
    assert_eq!(known["entries"][0]["owner_account"], "111122223333");
    // The relay Lambda's input: an SQS event of envelopes; the owner's own copy is dropped.
    let envelope = std::fs::read_to_string(
        root().join("events/kms-Decrypt-AccessDeniedException-cross-account.json"),
    )
    .unwrap();
    let owners_copy =
        std::fs::read_to_string(root().join("events/s3-GetObject-AccessDenied-cross-account.json"))
            .unwrap();
    let sqs = json!({"Records": [
        {"messageId": "m1", "eventSource": "aws:sqs", "body": envelope},
        {"messageId": "m2", "eventSource": "aws:sqs", "body": owners_copy}
    ]});
    let f = temp_file("relay", "sqs.json", &sqs.to_string());
    let v = json_of(&cmkguard(&["relay", "--event", s(&f), "--output", "json"]));
    assert_eq!(v["entries"].as_array().unwrap().len(), 1);
    assert!(
        v["dropped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("owner's own account"),
        "{v}"
    );
    let bad = cmkguard(&[
        "relay",
        "--event",
        "events/kms-Decrypt-AccessDeniedException-cross-account.json",
        "--owner-map",
        "events/none.json",
    ]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn check_key_policy_lists_each_accounts_usage_writers_included() {
    let policy = temp_file(
        "kp_usage",
        "policy.json",
        r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
        {"Sid":"Writer","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::777788889999:root"},"Action":"kms:GenerateDataKey*","Resource":"*"}]}"#,
    );
    let v = json_of(&cmkguard(&[
        "check-key-policy",
        s(&policy),
        "--account",
        "111122223333",
        "--output",
        "json",
    ]));
    assert_eq!(
        v["usage_accounts"],
        json!([]),
        "usage_accounts keeps its meaning: kms:Decrypt"
    );
    assert!(v["account_usage"]["777788889999"]
        .as_array()
        .unwrap()
        .contains(&json!("kms:GenerateDataKey")));
    let grants = temp_file(
        "kp_usage",
        "grants.json",
        r#"{"Grants":[{"GrantId":"g1","GranteePrincipal":"arn:aws:iam::444455556666:role/etl","Operations":["Decrypt"]}]}"#,
    );
    let v = json_of(&cmkguard(&[
        "check-key-policy",
        s(&policy),
        "--account",
        "111122223333",
        "--grants",
        s(&grants),
        "--output",
        "json",
    ]));
    assert_eq!(v["account_usage"]["444455556666"], json!(["kms:Decrypt"]));
}

#[test]
fn check_policy_says_which_way_each_account_reaches_the_objects() {
    let f = temp_file(
        "object_access",
        "policy.json",
        r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*"},
        {"Effect":"Allow","Principal":{"AWS":"777788889999"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::b"}]}"#,
    );
    let v = json_of(&cmkguard(&[
        "check-policy",
        s(&f),
        "--bucket",
        "b",
        "--account",
        "111122223333",
        "--output",
        "json",
    ]));
    assert_eq!(
        v["sharing"]["object_access"],
        json!({"444455556666": ["write"], "777788889999": []})
    );
}

// ---- beyond S3 (issue 15: the core only) ----

#[test]
fn decide_judges_a_beyond_s3_state_file() {
    let run = |event: &str| {
        let out = cmkguard(&[
            "decide",
            "--event",
            event,
            "--state",
            "tests/state/beyond-s3.json",
            "--output",
            "json",
            "--fail-on-findings",
        ]);
        let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut rules: Vec<String> = plan["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rule_id"].as_str().unwrap().to_string())
            .collect();
        rules.sort();
        (out.status.code(), rules, plan)
    };
    let (code, rules, plan) = run("events/ec2-ModifySnapshotAttribute-share-account.json");
    assert_eq!(code, Some(1));
    assert_eq!(
        rules,
        [
            "EBS_DEFAULT_KEY_AWS_MANAGED",
            "KEY_GRANT_EXTERNAL",
            "KEY_POLICY_MISSING_GRANT"
        ]
    );
    let text = plan.to_string();
    assert!(
        text.contains("does not let it use kms:ReEncryptFrom, kms:ReEncryptTo"),
        "{text}"
    );
    // A grant completes the RDS sharee's key half: only the grant itself is reported.
    let (_, rules, _) = run("events/rds-ModifyDBSnapshotAttribute-share-account.json");
    assert_eq!(rules, ["KEY_GRANT_EXTERNAL"]);
    let (_, rules, _) = run("events/secretsmanager-PutResourcePolicy-cross-account.json");
    assert_eq!(rules, ["SHARED_SECRET_AWS_MANAGED_KEY"]);
    let (_, rules, plan) =
        run("events/ec2-ModifySnapshotAttribute-OperationNotPermitted-aws-ebs.json");
    assert_eq!(rules, ["SHARED_SNAPSHOT_AWS_MANAGED_KEY"]);
    assert!(plan.to_string().contains("aws ec2 copy-snapshot"));
}

#[test]
fn parse_event_gives_the_beyond_s3_kinds_and_resource_arns() {
    for (file, kind, arn) in [
        (
            "ec2-ModifySnapshotAttribute-share-account.json",
            "snapshot_changed",
            "arn:aws:ec2:eu-west-1::snapshot/snap-0a1b2c3d4e5f60718",
        ),
        (
            "ec2-ModifyImageAttribute-share-account.json",
            "image_changed",
            "arn:aws:ec2:eu-west-1::image/ami-0f1e2d3c4b5a69788",
        ),
        (
            "rds-ModifyDBSnapshotAttribute-share-account.json",
            "db_snapshot_changed",
            "arn:aws:rds:eu-west-1:111122223333:snapshot:orders-2024-11-25",
        ),
        (
            "secretsmanager-PutResourcePolicy-cross-account.json",
            "secret_changed",
            "arn:aws:secretsmanager:eu-west-1:111122223333:secret:analytics/db-AbCdEf",
        ),
        (
            "kms-CreateGrant-cross-account.json",
            "grant_changed",
            "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ),
    ] {
        let path = format!("events/{file}");
        let v = json_of(&cmkguard(&["parse-event", &path, "--output", "json"]));
        assert_eq!(v["trigger"]["kind"], json!(kind), "{file}: {v}");
        assert_eq!(v["trigger"]["resource_arn"], json!(arn), "{file}: {v}");
    }
    // S3 triggers read as before: no beyond-S3 fields.
    let v = json_of(&cmkguard(&[
        "parse-event",
        "events/s3-PutBucketPolicy-shared-no-tls.json",
        "--output",
        "json",
    ]));
    assert!(
        v["trigger"].get("resource_arn").is_none() && v["trigger"].get("change").is_none(),
        "{v}"
    );
}
