//! "The guardrail never calls a delete API" (issue 7), checked two ways: the IAM actions every
//! adapter declares (`IAM_ACTIONS`, which the SAM role is generated from and compared with) are
//! exactly the allowed reads and additive writes, and no adapter source under `src/aws/` calls
//! a destructive SDK operation (a grep over the source text, so a call added to any adapter
//! file, new files included, fails here naming the file, line and operation).
//!
//! The seeding helper (`src/dev/seed.rs`) is outside `src/aws/` on purpose: it seeds the
//! emulator for the demo and the tests (it disables a key to build the scenario), is compiled
//! only with the `dev` feature, and is never wired into `aws::deps`; a test below checks that
//! the Lambda, the app and the adapter wiring do not reach it.

use std::path::PathBuf;

use cmkguard::aws::iam_actions;
use cmkguard::config::SinkSettings;

/// SDK operations (snake_case, as the Rust SDK names them) that delete, disable, remove
/// access controls or change who can reach a resource. Matched as substrings of the code.
const FORBIDDEN_CALLS: &[&str] = &[
    ".delete_",
    ".remove_",
    "schedule_key_deletion",
    "disable_key",
    "revoke_grant",
    "retire_grant",
    "put_bucket_acl",
    "put_object_acl",
    "put_public_access_block",
    "put_bucket_ownership_controls",
    "put_bucket_lifecycle",
    "put_bucket_tagging",
    "tag_resource",
    "update_alias",
    "bypass_policy_lockout_safety_check",
];

/// Every IAM action the guardrail may be granted: reads, the four additive writes, the sinks.
const ALLOWED_ACTIONS: &[&str] = &[
    "s3:GetBucketPolicy",
    "s3:GetEncryptionConfiguration",
    "s3:GetBucketAcl",
    "s3:GetBucketTagging",
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListResourceTags",
    "kms:ListAliases",
    // The sweep's inventory (`aws::listing`).
    "s3:ListAllMyBuckets",
    "kms:ListKeys",
    "s3:PutBucketPolicy",
    "s3:PutEncryptionConfiguration",
    "kms:PutKeyPolicy",
    "kms:EnableKeyRotation",
    "sns:Publish",
    "securityhub:BatchImportFindings",
    // Reads the stored findings' times before an import (CreatedAt kept, UpdatedAt newer).
    "securityhub:GetFindings",
    "events:PutEvents",
    // The OCSF sink writes new objects under its own prefix; it never overwrites or deletes.
    "s3:PutObject",
];

/// IAM verbs that destroy, disable or take access away.
const FORBIDDEN_VERBS: &[&str] = &[
    "Delete", "Remove", "Schedule", "Disable", "Revoke", "Retire", "Untag",
];

/// `(line number, forbidden call)` for each forbidden call in code (line comments skipped: a
/// doc comment may say "never a delete").
fn offenders(source: &str) -> Vec<(usize, &'static str)> {
    let mut found = Vec::new();
    for (n, line) in source.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        for call in FORBIDDEN_CALLS {
            if code.contains(call) {
                found.push((n + 1, *call));
            }
        }
    }
    found
}

/// Every `.rs` file under `src/aws/`, subdirectories included.
fn aws_sources() -> Vec<PathBuf> {
    crate::rust_sources("src/aws")
}

#[test]
fn no_adapter_calls_a_destructive_sdk_operation() {
    let files = aws_sources();
    let names: Vec<String> = files
        .iter()
        .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
        .collect();
    // The scan really covers the adapters (a moved directory must not make it vacuous).
    for expected in [
        "s3.rs",
        "kms.rs",
        "sinks.rs",
        "mod.rs",
        "cloudtrail.rs",
        "event_rules.rs",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not scanned: {names:?}"
        );
    }
    let mut all = Vec::new();
    for path in &files {
        let source = std::fs::read_to_string(path).expect("read adapter source");
        for (line, call) in offenders(&source) {
            all.push(format!("{}:{line}: calls {call}", path.display()));
        }
    }
    assert!(
        all.is_empty(),
        "destructive SDK calls in the adapters:\n{}",
        all.join("\n")
    );
}

/// The scanner is not vacuous: adding a delete (or an ACL change) to an adapter fails the
/// test above, naming the operation and the line.
#[test]
fn the_scan_names_an_added_destructive_call() {
    let patched = format!(
        "{}\nfn oops(c: &Client) {{\n    let _ = c\n        .delete_bucket_policy()\n        .bucket(\"b\");\n    let _ = c.put_bucket_acl();\n}}\n",
        include_str!("../../src/aws/s3.rs")
    );
    let lines = patched.lines().count();
    assert_eq!(
        offenders(&patched),
        vec![(lines - 3, ".delete_"), (lines - 1, "put_bucket_acl")]
    );
    let kms = format!(
        "{}\n// a comment may say schedule_key_deletion\nasync fn bad(c: &Client) {{ c.schedule_key_deletion().send().await; }}\n",
        include_str!("../../src/aws/kms.rs")
    );
    assert_eq!(
        offenders(&kms),
        vec![(kms.lines().count(), "schedule_key_deletion")]
    );
    // And the seeding helper, outside src/aws/, is exactly what it would catch.
    assert!(offenders(include_str!("../../src/dev/seed.rs"))
        .iter()
        .any(|(_, c)| *c == "disable_key"));
}

#[test]
fn declared_iam_actions_are_reads_and_additive_writes_only() {
    let every_sink = SinkSettings {
        sns_topic_arn: Some("arn:aws:sns:eu-west-1:111122223333:findings".into()),
        security_hub: true,
        event_bus: Some("findings".into()),
        ocsf_bucket: Some("findings-lake".into()),
    };
    let declared = iam_actions(&every_sink, true);
    assert!(declared.len() >= 13, "{declared:?}");
    for action in &declared {
        let verb = action.split(':').nth(1).unwrap_or_default();
        let bad: Vec<&&str> = FORBIDDEN_VERBS
            .iter()
            .filter(|v| verb.starts_with(**v))
            .collect();
        assert!(bad.is_empty(), "{action} is destructive");
        assert!(
            !verb.contains("Acl") || verb.starts_with("Get"),
            "{action} changes an ACL"
        );
        assert!(
            ALLOWED_ACTIONS.contains(action),
            "{action} is not on the reviewed list of allowed actions"
        );
    }
    // Report mode declares no write at all.
    let report = iam_actions(&every_sink, false);
    for write in [
        "s3:PutBucketPolicy",
        "s3:PutEncryptionConfiguration",
        "kms:PutKeyPolicy",
        "kms:EnableKeyRotation",
    ] {
        assert!(
            declared.contains(&write),
            "{write} not declared in enforce mode"
        );
        assert!(!report.contains(&write), "{write} declared in report mode");
    }
}

/// The seeding helper (which may disable a key) is unreachable from the guardrail's runtime:
/// no code (comments aside) of the Lambda, the app or the adapters names it.
#[test]
fn the_runtime_never_reaches_the_seeding_helper() {
    let uses = |source: &str| -> Vec<String> {
        source
            .lines()
            .map(|l| l.split("//").next().unwrap_or_default())
            .filter(|code| code.contains("seed::") || code.contains("Seeder"))
            .map(str::to_string)
            .collect()
    };
    for (file, source) in [
        (
            "src/bin/cmkguard-lambda.rs",
            include_str!("../../src/bin/cmkguard-lambda.rs"),
        ),
        ("src/app/mod.rs", include_str!("../../src/app/mod.rs")),
        ("src/app/read.rs", include_str!("../../src/app/read.rs")),
        (
            "src/app/execute.rs",
            include_str!("../../src/app/execute.rs"),
        ),
        (
            "src/app/outcome.rs",
            include_str!("../../src/app/outcome.rs"),
        ),
        ("src/aws/mod.rs", include_str!("../../src/aws/mod.rs")),
        ("src/aws/s3.rs", include_str!("../../src/aws/s3.rs")),
        ("src/aws/kms.rs", include_str!("../../src/aws/kms.rs")),
        ("src/aws/sinks.rs", include_str!("../../src/aws/sinks.rs")),
    ] {
        assert!(
            uses(source).is_empty(),
            "{file} uses the seeding helper: {:?}",
            uses(source)
        );
    }
    // The check itself bites: the demo does use it.
    assert!(!uses(include_str!("../../src/commands/demo.rs")).is_empty());
}
