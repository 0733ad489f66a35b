//! Pure renderers for the finding sinks: the ASFF documents Security Hub imports, the SNS
//! subject and body, the EventBridge detail. No I/O and no clock (the run's time comes in the
//! batch), so every sink's output is a unit test away; the adapters in `src/aws/` only send.

use serde::Serialize;
use serde_json::{json, Value};

use crate::core::arn::partition_for_region;
use crate::core::finding::{Finding, Passed, ResourceType, Severity};
use crate::ports::{FindingBatch, FindingStatus, Published};

pub const ASFF_SCHEMA_VERSION: &str = "2018-10-08";
pub const ASFF_TYPE: &str = "Software and Configuration Checks/AWS Security Best Practices";
pub const ASFF_MAX_DESCRIPTION: usize = 1024;
pub const ASFF_MAX_TITLE: usize = 256;
pub const ASFF_MAX_RECOMMENDATION: usize = 512;
/// Security Hub accepts at most 100 findings per `BatchImportFindings` call.
pub const ASFF_BATCH: usize = 100;
pub const SNS_MAX_SUBJECT: usize = 100;
/// SNS allows 256 KiB; stay clearly below it with the attributes.
pub const SNS_MAX_MESSAGE: usize = 250 * 1024;
pub const EVENT_SOURCE: &str = "cmkguard";
pub const EVENT_DETAIL_TYPE: &str = "cmkguard finding";
pub const EVENT_MAX_DETAIL: usize = 250 * 1024;

/// One ASFF finding, with exactly the fields `BatchImportFindings` needs. Serialises to the
/// ASFF JSON shape; the Security Hub adapter maps it field by field onto the SDK types.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Asff {
    pub schema_version: String,
    pub id: String,
    pub product_arn: String,
    pub generator_id: String,
    pub aws_account_id: String,
    pub types: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    pub severity: AsffSeverity,
    pub title: String,
    pub description: String,
    pub remediation: AsffRemediation,
    pub resources: Vec<AsffResource>,
    pub compliance: AsffCompliance,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffSeverity {
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffRemediation {
    pub recommendation: AsffRecommendation,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffRecommendation {
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffResource {
    #[serde(rename = "Type")]
    pub kind: String,
    pub id: String,
    pub partition: String,
    pub region: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffCompliance {
    /// `FAILED` or `PASSED`.
    pub status: String,
}

/// `arn:<partition>:securityhub:<region>:<account>:product/<account>/default`
pub fn product_arn(account: &str, region: &str) -> String {
    let p = partition_for_region(region);
    format!("arn:{p}:securityhub:{region}:{account}:product/{account}/default")
}

/// Cuts `text` to at most `max` characters, marking the cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn resource_type(t: ResourceType) -> &'static str {
    match t {
        ResourceType::AwsS3Bucket => "AwsS3Bucket",
        ResourceType::AwsKmsKey => "AwsKmsKey",
    }
}

fn resource(t: ResourceType, arn: &str, region: &str) -> AsffResource {
    AsffResource {
        kind: resource_type(t).to_string(),
        id: arn.to_string(),
        partition: partition_for_region(region).to_string(),
        region: region.to_string(),
    }
}

fn status_word(p: &Published) -> &'static str {
    match (p.status, p.finding.exempt) {
        (FindingStatus::Fixed, _) => "fixed",
        (FindingStatus::Open, true) => "open (exempt)",
        (FindingStatus::Open, false) => "open",
    }
}

fn describe(p: &Published) -> String {
    let f = &p.finding;
    let mut parts = vec![f.reasons.join(" ")];
    if !p.done.is_empty() {
        parts.push(format!("Done: {}", p.done.join(" ")));
    }
    if f.exempt {
        parts.push("The resource carries the exemption tag: not patched.".into());
    }
    parts.join(" ")
}

/// The ASFF finding for a published finding: FAILED while open, PASSED once fixed.
pub fn asff_finding(p: &Published, batch: &FindingBatch) -> Asff {
    let f = &p.finding;
    let (status, recommendation) = match p.status {
        FindingStatus::Open => ("FAILED", f.fix.clone()),
        FindingStatus::Fixed => ("PASSED", format!("Fixed by cmkguard. {}", p.done.join(" "))),
    };
    Asff {
        schema_version: ASFF_SCHEMA_VERSION.into(),
        id: f.id.clone(),
        product_arn: product_arn(&batch.account, &batch.region),
        generator_id: f.rule_id.as_str().into(),
        aws_account_id: f.account.clone(),
        types: vec![ASFF_TYPE.into()],
        created_at: batch.time.clone(),
        updated_at: batch.time.clone(),
        severity: AsffSeverity {
            label: f.severity.as_str().into(),
        },
        title: truncate(&f.title, ASFF_MAX_TITLE),
        description: truncate(&describe(p), ASFF_MAX_DESCRIPTION),
        remediation: AsffRemediation {
            recommendation: AsffRecommendation {
                text: truncate(&recommendation, ASFF_MAX_RECOMMENDATION),
            },
        },
        resources: vec![resource(f.resource_type, &f.resource_arn, &f.region)],
        compliance: AsffCompliance {
            status: status.into(),
        },
    }
}

/// The ASFF record that resolves an earlier finding of a check that now passes.
pub fn asff_passed(p: &Passed, batch: &FindingBatch) -> Asff {
    let title = p.rule_id.title();
    Asff {
        schema_version: ASFF_SCHEMA_VERSION.into(),
        id: p.id.clone(),
        product_arn: product_arn(&batch.account, &batch.region),
        generator_id: p.rule_id.as_str().into(),
        aws_account_id: p.account.clone(),
        types: vec![ASFF_TYPE.into()],
        created_at: batch.time.clone(),
        updated_at: batch.time.clone(),
        severity: AsffSeverity {
            label: Severity::Informational.as_str().into(),
        },
        title: truncate(title, ASFF_MAX_TITLE),
        description: truncate(
            &format!(
                "Check {} passed on {}: nothing to fix.",
                p.rule_id, p.resource_arn
            ),
            ASFF_MAX_DESCRIPTION,
        ),
        remediation: AsffRemediation {
            recommendation: AsffRecommendation {
                text: "No action needed.".into(),
            },
        },
        resources: vec![resource(p.resource_type, &p.resource_arn, &p.region)],
        compliance: AsffCompliance {
            status: "PASSED".into(),
        },
    }
}

/// Every ASFF record of the batch (findings, then passed checks).
pub fn asff_batch(batch: &FindingBatch) -> Vec<Asff> {
    batch
        .findings
        .iter()
        .map(|p| asff_finding(p, batch))
        .chain(batch.passed.iter().map(|p| asff_passed(p, batch)))
        .collect()
}

/// Printable ASCII only (SNS rejects control characters and non-ASCII in subjects).
fn printable_ascii(text: &str) -> String {
    text.chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .collect()
}

/// The highest severity in the batch (None when there are no findings).
pub fn top_severity(batch: &FindingBatch) -> Option<Severity> {
    batch.findings.iter().map(|p| p.finding.severity).max()
}

/// Short subject: `cmkguard HIGH: 2 open, 1 fixed - data-shared-analytics`.
pub fn sns_subject(batch: &FindingBatch) -> String {
    let open = batch
        .findings
        .iter()
        .filter(|p| p.status == FindingStatus::Open)
        .count();
    let fixed = batch.findings.len() - open;
    let severity = top_severity(batch).map_or("INFO", Severity::as_str);
    let mut resources: Vec<&str> = batch
        .findings
        .iter()
        .map(|p| short_resource(&p.finding.resource_arn))
        .collect();
    resources.dedup();
    let text = format!(
        "cmkguard {severity}: {open} open, {fixed} fixed - {}",
        resources.join(", ")
    );
    let ascii = printable_ascii(&text);
    ascii.chars().take(SNS_MAX_SUBJECT).collect()
}

fn short_resource(arn: &str) -> &str {
    arn.rsplit([':', '/']).next().unwrap_or(arn)
}

/// Readable plain-text body: one block per finding, then the passed checks.
pub fn sns_body(batch: &FindingBatch) -> String {
    let mut out = format!(
        "cmkguard findings at {} (account {}, region {})\n",
        batch.time, batch.account, batch.region
    );
    for p in &batch.findings {
        let f = &p.finding;
        out.push_str(&format!(
            "\n[{}] {} - {} ({})\n  {}\n",
            f.severity.as_str(),
            f.rule_id,
            f.resource_arn,
            status_word(p),
            f.title
        ));
        for r in &f.reasons {
            out.push_str(&format!("  - {r}\n"));
        }
        for d in &p.done {
            out.push_str(&format!("  Done: {d}\n"));
        }
        if p.status == FindingStatus::Open {
            out.push_str(&format!("  Fix: {}\n", f.fix));
        }
        out.push_str(&format!("  Finding id: {}\n", f.id));
    }
    if !batch.passed.is_empty() {
        out.push_str(&format!("\nPassed checks: {}\n", batch.passed.len()));
        for p in &batch.passed {
            out.push_str(&format!("  {} on {}\n", p.rule_id, p.resource_arn));
        }
    }
    if out.len() > SNS_MAX_MESSAGE {
        let mut cut = SNS_MAX_MESSAGE - 32;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("\n… (truncated)\n");
    }
    out
}

/// The EventBridge detail of one finding: `{"status": ..., "finding": {...}, "done": [...]}`,
/// shortened (reasons and fix dropped) if it would exceed the PutEvents size limit.
pub fn event_detail(p: &Published) -> String {
    let status = match p.status {
        FindingStatus::Open => "open",
        FindingStatus::Fixed => "fixed",
    };
    let full = json!({"status": status, "finding": p.finding, "done": p.done}).to_string();
    if full.len() <= EVENT_MAX_DETAIL {
        return full;
    }
    let f: &Finding = &p.finding;
    json!({
        "status": status,
        "truncated": true,
        "finding": {"id": f.id, "rule_id": f.rule_id, "severity": f.severity,
                    "resource_arn": f.resource_arn, "account": f.account, "region": f.region,
                    "exempt": f.exempt},
    })
    .to_string()
}

/// The EventBridge detail of a passed check.
pub fn event_detail_passed(p: &Passed) -> String {
    json!({"status": "passed", "passed": p}).to_string()
}

/// Convenience for tests and the CLI: the ASFF records as JSON.
pub fn asff_json(batch: &FindingBatch) -> Value {
    serde_json::to_value(asff_batch(batch)).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::finding::{finding_id, Remediation, RuleId};

    fn finding(rule: RuleId, arn: &str) -> Finding {
        Finding {
            id: finding_id(rule, arn, ""),
            rule_id: rule,
            severity: Severity::High,
            title: rule.title().to_string(),
            resource_type: ResourceType::AwsS3Bucket,
            resource_arn: arn.to_string(),
            account: "111122223333".into(),
            region: "eu-west-1".into(),
            exempt: false,
            reasons: vec!["the bucket is shared (accounts 444455556666)".into(); 60],
            fix: "aws s3api put-bucket-policy …".into(),
            remediation: Remediation::Manual { reason: "x".into() },
        }
    }

    fn batch() -> FindingBatch {
        let arn = "arn:aws:s3:::data-shared-analytics";
        FindingBatch {
            findings: vec![
                Published {
                    finding: finding(RuleId::SharedBucketAwsManagedKey, arn),
                    status: FindingStatus::Open,
                    done: vec![],
                },
                Published {
                    finding: finding(RuleId::TlsNotEnforced, arn),
                    status: FindingStatus::Fixed,
                    done: vec!["s3:PutBucketPolicy added DenyInsecureTransport".into()],
                },
            ],
            passed: vec![Passed {
                id: finding_id(RuleId::SharedBucketSseS3, arn, ""),
                rule_id: RuleId::SharedBucketSseS3,
                resource_type: ResourceType::AwsS3Bucket,
                resource_arn: arn.into(),
                account: "111122223333".into(),
                region: "eu-west-1".into(),
            }],
            time: "2024-11-25T10:02:41Z".into(),
            account: "111122223333".into(),
            region: "eu-west-1".into(),
        }
    }

    #[test]
    fn asff_has_the_required_fields_and_limits() {
        let b = batch();
        let docs = asff_json(&b);
        let docs = docs.as_array().unwrap();
        assert_eq!(docs.len(), 3);
        for d in docs {
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
                "Title",
                "Description",
                "Resources",
                "Compliance",
            ] {
                assert!(d.get(field).is_some(), "{field} missing in {d}");
            }
            assert_eq!(d["SchemaVersion"], "2018-10-08");
            assert_eq!(
                d["ProductArn"],
                "arn:aws:securityhub:eu-west-1:111122223333:product/111122223333/default"
            );
            assert!(d["Description"].as_str().unwrap().chars().count() <= 1024);
            assert_eq!(d["Resources"][0]["Partition"], "aws");
            assert_eq!(d["Resources"][0]["Region"], "eu-west-1");
        }
        assert_eq!(docs[0]["Compliance"]["Status"], "FAILED");
        assert_eq!(docs[0]["Id"], b.findings[0].finding.id.as_str());
        assert_eq!(docs[0]["GeneratorId"], "SHARED_BUCKET_AWS_MANAGED_KEY");
        assert_eq!(docs[0]["Severity"]["Label"], "HIGH");
        assert_eq!(docs[0]["Resources"][0]["Type"], "AwsS3Bucket");
        assert_eq!(docs[1]["Compliance"]["Status"], "PASSED");
        assert_eq!(docs[2]["Compliance"]["Status"], "PASSED");
        assert_eq!(docs[2]["Severity"]["Label"], "INFORMATIONAL");
    }

    #[test]
    fn partitions_follow_the_region() {
        assert_eq!(
            product_arn("1", "cn-north-1"),
            "arn:aws-cn:securityhub:cn-north-1:1:product/1/default"
        );
    }

    #[test]
    fn sns_subject_is_short_printable_ascii() {
        let mut b = batch();
        b.findings[0].finding.resource_arn = format!("arn:aws:s3:::{}é\n", "x".repeat(200));
        let s = sns_subject(&b);
        assert!(s.len() <= 100, "{s}");
        assert!(s.chars().all(|c| (' '..='~').contains(&c)), "{s}");
        assert!(s.starts_with("cmkguard HIGH: 1 open, 1 fixed"), "{s}");
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
    }
}
