//! `check-template --output sarif`: SARIF 2.1.0 (the `serde-sarif` object model) as GitHub
//! code scanning reads it — one rule per rule id with help text, `security-severity` and
//! `problem.severity`; one result per finding located at the resource's logical id (file and
//! line) with the related resources (policy, key) as related locations; exempt findings as
//! suppressed results; rules that could not be checked as tool notifications.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use serde_sarif::sarif::{
    ArtifactLocation, Invocation, Location, LogicalLocation, Message, MultiformatMessageString,
    Notification, PhysicalLocation, PropertyBag, Region, ReportingConfiguration,
    ReportingDescriptor, Result as SarifResult, ResultLevel, Run, Sarif, Suppression, Tool,
    ToolComponent,
};

use crate::core::finding::{RuleId, Severity};
use crate::core::template::{FileReport, TemplateFinding};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Every rule `check-template` can report, in the order the rules table lists them.
const RULES: [RuleId; 10] = [
    RuleId::SharedBucketAwsManagedKey,
    RuleId::SharedBucketSseS3,
    RuleId::SharedBucketKeyNotArn,
    RuleId::SharedBucketKeyUnusable,
    RuleId::KeyPolicyMissingGrant,
    RuleId::TlsNotEnforced,
    RuleId::TlsPartial,
    RuleId::KeyRotationDisabled,
    RuleId::KeyExternalAdmin,
    RuleId::KeyPublic,
];

/// What the rule checks and how to fix it in a template (the rule's `help`).
fn help(rule: RuleId) -> &'static str {
    match rule {
        RuleId::SharedBucketAwsManagedKey => "A bucket the template shares with another account (bucket policy or ACL) is encrypted with an AWS managed key (aws/s3, or aws:kms without KMSMasterKeyID). Its key policy admits only the owning account, so the other accounts get AccessDenied on every read. Use a customer managed key by full ARN whose key policy grants those accounts kms:Decrypt / kms:GenerateDataKey*.",
        RuleId::SharedBucketSseS3 => "A shared bucket uses SSE-S3 (AES256) or no default encryption: cross-account access works, but the owner has no key-level control, audit or revocation. Use SSE-KMS with a customer managed key by full ARN.",
        RuleId::SharedBucketKeyNotArn => "KMSMasterKeyID of a shared bucket is an alias or a key id (Ref of an AWS::KMS::Key gives its id). For a writer in another account S3 resolves it in the writer's account, so objects end up under a key the bucket owner does not control. Use the full key ARN (Fn::GetAtt Key.Arn).",
        RuleId::SharedBucketKeyUnusable => "The shared bucket's KMS key cannot be used by S3: disabled, pending import, not symmetric, or not an ENCRYPT_DECRYPT key. Every SSE-KMS read and write fails.",
        RuleId::KeyPolicyMissingGrant => "The customer managed key of a shared bucket does not grant an account the bucket policy grants: the handshake needs both the bucket policy and the key policy to opt in. Add a usage grant (kms:Decrypt, kms:GenerateDataKey*, kms:DescribeKey) for that account to the key policy.",
        RuleId::TlsNotEnforced => "The bucket policy has no Deny on aws:SecureTransport = false, so plain-HTTP requests are not refused. Add a Deny statement for Principal *, Action s3:*, Resource the bucket ARN and its objects (CDK: enforceSSL: true).",
        RuleId::TlsPartial => "The bucket policy denies plain HTTP only partially (some principals, actions or resources not covered, or extra conditions). Add a complete Deny on aws:SecureTransport = false.",
        RuleId::KeyRotationDisabled => "A customer managed key eligible for automatic rotation (symmetric, AWS_KMS origin) has rotation off. Set EnableKeyRotation: true (Terraform: enable_key_rotation = true).",
        RuleId::KeyExternalAdmin => "The key policy gives another account more than usage actions (Encrypt, Decrypt, ReEncrypt*, GenerateDataKey*, DescribeKey). Limit other accounts to usage.",
        RuleId::KeyPublic => "The key policy allows Principal * without a condition narrowing it to named accounts or an organisation.",
        RuleId::AccessDeniedDiagnosis => "Cross-account AccessDenied diagnosis.",
        // Judged on live state (DOMAIN-BEYOND-S3.md), not on templates: never in RULES.
        RuleId::SharedSnapshotAwsManagedKey
        | RuleId::SharedImageAwsManagedKey
        | RuleId::SharedSnapshotUnencrypted
        | RuleId::SnapshotPublic
        | RuleId::ImagePublic
        | RuleId::SharedSnapshotKeyUnusable
        | RuleId::SharedSecretAwsManagedKey
        | RuleId::SecretPublic
        | RuleId::SharedSecretKeyUnusable
        | RuleId::EbsDefaultKeyAwsManaged
        | RuleId::KeyGrantExternal => "Beyond-S3 rule, judged on live state; not checked in templates.",
    }
}

/// GitHub's `security-severity` score for a severity label.
fn score(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Informational => "0.0",
    }
}

/// The highest severity a rule reports (its default configuration).
fn worst(rule: RuleId) -> Severity {
    match rule {
        RuleId::KeyPublic => Severity::Critical,
        RuleId::SharedBucketSseS3 | RuleId::KeyRotationDisabled => Severity::Medium,
        _ => Severity::High,
    }
}

fn level(s: Severity) -> ResultLevel {
    match s {
        Severity::Critical | Severity::High => ResultLevel::Error,
        Severity::Medium => ResultLevel::Warning,
        Severity::Low | Severity::Informational => ResultLevel::Note,
    }
}

fn level_text(s: Severity) -> &'static str {
    match level(s) {
        ResultLevel::Error => "error",
        ResultLevel::Warning => "warning",
        _ => "note",
    }
}

fn bag(props: Value) -> PropertyBag {
    PropertyBag {
        tags: None,
        additional_properties: props
            .as_object()
            .map(|m| m.clone().into_iter().collect::<BTreeMap<_, _>>())
            .unwrap_or_default(),
    }
}

fn text(t: impl Into<String>) -> Message {
    Message {
        text: Some(t.into()),
        ..Default::default()
    }
}

fn rule_descriptor(rule: RuleId) -> ReportingDescriptor {
    let sev = worst(rule);
    let plain = |t: &str| MultiformatMessageString::builder().text(t).build();
    ReportingDescriptor::builder()
        .id(rule.as_str())
        .name(rule.as_str())
        .short_description(plain(rule.title()))
        .full_description(plain(help(rule)))
        .help(
            MultiformatMessageString::builder()
                .text(help(rule))
                .markdown(format!("**{}**\n\n{}", rule.title(), help(rule)))
                .build(),
        )
        .default_configuration(ReportingConfiguration {
            level: Some(json!(level_text(sev))),
            ..Default::default()
        })
        .properties(PropertyBag {
            tags: Some(vec![
                "security".into(),
                "aws".into(),
                "s3".into(),
                "kms".into(),
            ]),
            additional_properties: bag(json!({
                "security-severity": score(sev),
                "problem.severity": if sev >= Severity::High { "error" } else { "warning" },
                "precision": "high"
            }))
            .additional_properties,
        })
        .build()
}

/// A file and line as SARIF locates them (the file as given, `/`-separated, no `./`).
fn location(
    file: &str,
    line: Option<usize>,
    logical_id: &str,
    message: Option<String>,
) -> Location {
    let uri = file.replace('\\', "/");
    let uri = uri.strip_prefix("./").unwrap_or(&uri).to_string();
    Location {
        physical_location: Some(PhysicalLocation {
            artifact_location: Some(ArtifactLocation {
                uri: Some(uri),
                ..Default::default()
            }),
            region: Some(Region {
                start_line: Some(line.unwrap_or(1).max(1) as i64),
                ..Default::default()
            }),
            ..Default::default()
        }),
        logical_locations: Some(vec![LogicalLocation {
            name: Some(logical_id.to_string()),
            kind: Some("resource".to_string()),
            ..Default::default()
        }]),
        message: message.map(text),
        ..Default::default()
    }
}

fn result(f: &TemplateFinding) -> SarifResult {
    let mut r = built(f);
    // Absent, not empty: an empty `suppressions` says "suppressions were evaluated".
    if r.suppressions.as_ref().is_some_and(Vec::is_empty) {
        r.suppressions = None;
    }
    if r.related_locations.as_ref().is_some_and(Vec::is_empty) {
        r.related_locations = None;
    }
    r
}

fn built(f: &TemplateFinding) -> SarifResult {
    let mut message = format!("{}: {}.", f.logical_id, f.title);
    if f.when != "always" {
        message.push_str(&format!(" When {}.", f.when));
    }
    for r in &f.reasons {
        message.push_str(&format!(" {r}."));
    }
    message.push_str(&format!(" Fix: {}", f.fix));
    let related: Vec<Location> = f
        .related
        .iter()
        .enumerate()
        .map(|(i, r)| Location {
            id: Some(i as i64),
            ..location(&f.file, r.line, &r.logical_id, Some(r.logical_id.clone()))
        })
        .collect();
    SarifResult::builder()
        .rule_id(f.rule_id.as_str())
        .rule_index(RULES.iter().position(|r| *r == f.rule_id).unwrap_or(0) as i64)
        .level(level(f.severity))
        .message(text(message))
        .locations(vec![location(&f.file, f.line, &f.logical_id, None)])
        .related_locations(related)
        .partial_fingerprints(BTreeMap::from([(
            "cmkguardFindingId/v1".to_string(),
            f.id.clone(),
        )]))
        .suppressions(if f.exempt {
            vec![Suppression::builder()
                .kind(json!("inSource"))
                .justification("the resource carries the cmkguard exemption tag")
                .build()]
        } else {
            Vec::new()
        })
        .properties(bag(json!({
            "severity": f.severity.as_str(),
            "resourceArn": f.resource_arn,
            "conditions": f.conditions,
        })))
        .build()
}

/// The SARIF log for every file checked.
pub fn render(reports: &[FileReport]) -> Value {
    let results: Vec<SarifResult> = reports
        .iter()
        .flat_map(|r| r.findings.iter().map(result))
        .collect();
    let notes: Vec<Notification> = reports
        .iter()
        .flat_map(|r| &r.unchecked)
        .map(|u| {
            Notification::builder()
                .level(json!("note"))
                .message(text(format!(
                    "{} not checked for {} ({}): {}",
                    u.rules
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    u.logical_id,
                    u.when,
                    u.reason
                )))
                .locations(vec![location(&u.file, u.line, &u.logical_id, None)])
                .build()
        })
        .collect();
    let driver = ToolComponent::builder()
        .name("cmkguard")
        .version(env!("CARGO_PKG_VERSION"))
        .semantic_version(env!("CARGO_PKG_VERSION"))
        .rules(
            RULES
                .iter()
                .map(|r| rule_descriptor(*r))
                .collect::<Vec<_>>(),
        )
        .build();
    let mut invocation = Invocation::builder()
        .execution_successful(true)
        .tool_execution_notifications(notes)
        .build();
    if invocation
        .tool_execution_notifications
        .as_ref()
        .is_some_and(Vec::is_empty)
    {
        invocation.tool_execution_notifications = None;
    }
    let run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .invocations(vec![invocation])
        .results(results)
        .build();
    let log = Sarif::builder()
        .schema(SCHEMA)
        .version(json!("2.1.0"))
        .runs(vec![run])
        .build();
    serde_json::to_value(&log).unwrap_or(Value::Null)
}
