//! `cmkguard check-template` as a user runs it: the acceptance verdicts on the real-shaped
//! inputs in tests/templates/ (CDK synth output, SAM, a CMK missing an account, a Terraform plan
//! of the same), golden text / JSON / SARIF outputs compared byte for byte, the SARIF log
//! validated against the SARIF 2.1.0 JSON schema shipped in the serde-sarif crate, exit codes
//! and usage errors.
//!
//! Regenerate the golden files after an intended change:
//! `CMKGUARD_BLESS=1 cargo test --test tests check_template` (then review the diff).

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

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

const INPUTS: [&str; 4] = [
    "tests/templates/cdk.out",
    "tests/templates/sam-app.yaml",
    "tests/templates/cmk-missing-grant.yaml",
    "tests/templates/terraform-plan.json",
];

fn json_of(args: &[&str]) -> Value {
    let out = cmkguard(args);
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// `(file, logical id, rule, when)` of every finding.
fn verdicts(v: &Value) -> Vec<(String, String, String, String)> {
    let mut out: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_string(),
                f["logical_id"].as_str().unwrap().to_string(),
                f["rule_id"].as_str().unwrap().to_string(),
                f["when"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn row(file: &str, id: &str, rule: &str, when: &str) -> (String, String, String, String) {
    (file.into(), id.into(), rule.into(), when.into())
}

#[test]
fn cdk_enforce_ssl_is_tls_enforced_and_the_legacy_stack_is_not() {
    let v = json_of(&[
        "check-template",
        "tests/templates/cdk.out",
        "--output",
        "json",
    ]);
    assert_eq!(v["summary"]["files"], 2);
    let data = "tests/templates/cdk.out/DataStack.template.json";
    let legacy = "tests/templates/cdk.out/LegacyStack.template.json";
    assert_eq!(
        verdicts(&v),
        vec![
            row(
                legacy,
                "ExportsBucketC5B1A9F0",
                "SHARED_BUCKET_AWS_MANAGED_KEY",
                "always"
            ),
            row(
                legacy,
                "ExportsBucketC5B1A9F0",
                "TLS_NOT_ENFORCED",
                "always"
            ),
        ],
        "DataStack (enforceSSL, CMK by Fn::GetAtt, key grants the account) has no finding"
    );
    assert!(v["files"][0]["file"] == data);
    let f = &v["findings"][0];
    assert_eq!(f["cdk_path"], "LegacyStack/Exports/Resource");
    assert_eq!(f["related"][0]["logical_id"], "ExportsPolicy2B6A4D11");
}

#[test]
fn sam_template_sharing_under_aws_s3() {
    let v = json_of(&[
        "check-template",
        "tests/templates/sam-app.yaml",
        "--output",
        "json",
    ]);
    assert_eq!(
        verdicts(&v),
        vec![row(
            "tests/templates/sam-app.yaml",
            "ExportBucket",
            "SHARED_BUCKET_AWS_MANAGED_KEY",
            "always"
        )]
    );
    assert_eq!(v["findings"][0]["line"], 40);
}

#[test]
fn template_cmk_missing_the_account() {
    let f = "tests/templates/cmk-missing-grant.yaml";
    let v = json_of(&["check-template", f, "--output", "json"]);
    assert_eq!(
        verdicts(&v),
        vec![
            row(
                f,
                "DataBucket",
                "KEY_POLICY_MISSING_GRANT",
                "ShareWithAudit is true"
            ),
            row(f, "LegacyBucketPolicy", "TLS_NOT_ENFORCED", "always"),
            row(f, "StagingBucket", "SHARED_BUCKET_KEY_NOT_ARN", "always"),
            row(f, "StagingBucket", "TLS_PARTIAL", "always"),
        ]
    );
    assert_eq!(
        v["findings"][0]["conditions"],
        serde_json::json!([{"name": "ShareWithAudit", "value": true}])
    );
    assert_eq!(v["unchecked"][0]["logical_id"], "LegacyBucketPolicy");
}

#[test]
fn terraform_plan_gives_the_same_verdicts() {
    let f = "tests/templates/terraform-plan.json";
    let v = json_of(&["check-template", f, "--output", "json"]);
    assert_eq!(v["files"][0]["format"], "terraform_plan");
    assert_eq!(
        verdicts(&v),
        vec![
            row(
                f,
                "aws_s3_bucket.data",
                "KEY_POLICY_MISSING_GRANT",
                "always"
            ),
            row(
                f,
                "aws_s3_bucket.exports",
                "SHARED_BUCKET_AWS_MANAGED_KEY",
                "always"
            ),
        ]
    );
}

#[test]
fn this_repositorys_own_templates_report_nothing() {
    let v = json_of(&[
        "check-template",
        "template.yaml",
        "org/central.yaml",
        "--output",
        "json",
    ]);
    assert_eq!(v["summary"]["findings"], 0, "{v:#}");
    assert_eq!(v["summary"]["unchecked"], 0, "{v:#}");
    assert!(v["files"][0]["counts"]["resources"].as_u64().unwrap() > 10);
    assert!(v["files"][1]["counts"]["resources"].as_u64().unwrap() > 5);
}

#[test]
fn fail_on_findings_and_usage_errors() {
    let out = cmkguard(&[
        "check-template",
        "tests/templates/sam-app.yaml",
        "--fail-on-findings",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let out = cmkguard(&[
        "check-template",
        "tests/templates/cdk.out/DataStack.template.json",
        "--fail-on-findings",
    ]);
    assert_eq!(out.status.code(), Some(0));
    for (args, needle) in [
        (
            vec!["check-template", "tests/templates/missing.yaml"],
            "tests/templates/missing.yaml",
        ),
        (
            vec!["check-template", "Cargo.toml"],
            "Cargo.toml: not valid YAML",
        ),
        (
            vec!["check-template", "tests/state/config-report.json"],
            "neither a CloudFormation template",
        ),
        (
            vec!["check-template", "template.yaml", "--account", "12"],
            "12-digit",
        ),
        (
            vec![
                "check-template",
                "template.yaml",
                "--partition",
                "aws-cn",
                "--region",
                "eu-west-1",
            ],
            "partition",
        ),
        (
            vec!["parse-event", "events/README.md", "--output", "sarif"],
            "only by check-template",
        ),
    ] {
        let out = cmkguard(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
}

/// Compares `actual` with the golden file, or rewrites it under CMKGUARD_BLESS=1.
fn golden(name: &str, actual: &[u8]) {
    let path = root().join("tests/templates/golden").join(name);
    if std::env::var_os("CMKGUARD_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let want = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        want == actual,
        "{name} differs from the golden file; if intended, regenerate with CMKGUARD_BLESS=1.\n--- got ---\n{}",
        String::from_utf8_lossy(actual)
    );
}

fn output(format: &str) -> Vec<u8> {
    let mut args = vec!["check-template"];
    args.extend(INPUTS);
    args.extend(["--output", format]);
    let out = cmkguard(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn golden_text() {
    golden("all.txt", &output("text"));
}

#[test]
fn golden_json() {
    golden("all.json", &output("json"));
}

#[test]
fn golden_sarif() {
    golden("all.sarif", &output("sarif"));
}

/// The SARIF 2.1.0 schema as the serde-sarif package ships it (its types are generated from
/// it), found through `cargo metadata`. Filtered to the host: on a fresh machine the sources of
/// other platforms' dependencies (android, windows) were never downloaded, and `--offline`
/// metadata over every platform fails on them.
fn sarif_schema() -> PathBuf {
    let host = Command::new("rustc")
        .arg("-vV")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        })
        .expect("rustc -vV names the host");
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline"])
        .args(["--filter-platform", &host])
        .current_dir(root())
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata JSON");
    let manifest = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "serde-sarif")
        .and_then(|p| p["manifest_path"].as_str())
        .expect("serde-sarif in the dependency graph");
    PathBuf::from(manifest)
        .with_file_name("src")
        .join("schema.json")
}

#[test]
fn sarif_validates_against_the_sarif_2_1_0_schema() {
    let schema = sarif_schema();
    let sarif: Value = serde_json::from_slice(&output("sarif")).unwrap();
    let dir = std::env::temp_dir().join(format!("cmkguard-sarif-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let doc = dir.join("out.sarif");
    std::fs::write(&doc, serde_json::to_vec(&sarif).unwrap()).unwrap();
    let check = |file: &PathBuf| {
        Command::new("python3")
            .args([
                "-c",
                "import json,sys,jsonschema\nschema=json.load(open(sys.argv[1]))\njsonschema.Draft7Validator.check_schema(schema)\nerrs=sorted(jsonschema.Draft7Validator(schema).iter_errors(json.load(open(sys.argv[2]))),key=str)\nprint('\\n'.join(e.message for e in errs[:5]))\nsys.exit(1 if errs else 0)",
            ])
            .arg(&schema)
            .arg(file)
            .output()
            .expect("python3 with jsonschema (scripts/test installs it)")
    };
    let out = check(&doc);
    assert!(
        out.status.success(),
        "SARIF invalid: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The validator bites: a result without its required message is refused.
    let mut broken = sarif.clone();
    broken["runs"][0]["results"][0]
        .as_object_mut()
        .unwrap()
        .remove("message");
    let bad = dir.join("broken.sarif");
    std::fs::write(&bad, serde_json::to_vec(&broken).unwrap()).unwrap();
    assert!(
        !check(&bad).status.success(),
        "the schema check cannot fail"
    );
    // What GitHub code scanning reads: rule metadata with help and security-severity, and a
    // file + start line per result.
    let run = &sarif["runs"][0];
    for rule in run["tool"]["driver"]["rules"].as_array().unwrap() {
        assert!(
            rule["help"]["text"].as_str().is_some_and(|t| t.len() > 40),
            "{rule}"
        );
        let score: f64 = rule["properties"]["security-severity"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((0.1..=10.0).contains(&score), "{rule}");
    }
    for r in run["results"].as_array().unwrap() {
        let loc = &r["locations"][0]["physicalLocation"];
        assert!(loc["artifactLocation"]["uri"]
            .as_str()
            .is_some_and(|u| u.starts_with("tests/templates/")));
        assert!(loc["region"]["startLine"].as_i64().is_some_and(|l| l >= 1));
        assert!(r["ruleId"].is_string() && r["partialFingerprints"].is_object());
    }
}
