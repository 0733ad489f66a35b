//! Pure renderers for the finding sinks: (in `asff`) the ASFF documents Security Hub imports,
//! how a batch is cut and reconciled with the stored findings; here the SNS subject, body and
//! sweep digest, the EventBridge detail and batching; (in `ocsf`) OCSF Compliance Finding
//! events. No I/O and no clock (the run's time comes in the batch), so every rule Security
//! Hub, SNS and EventBridge enforce (DOMAIN.md §9) is a unit test away; the adapters in
//! `src/aws/` only send. Everything that differs per resource kind goes through
//! `ResourceType` (`resource_kind`), so a new kind is one match arm.

mod asff;
pub mod ocsf;

use asff::status_word;
pub use asff::*;

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::core::finding::{Finding, Passed, ResourceType, Severity};
use crate::ports::{FindingBatch, FindingStatus, Published};

/// SNS: a subject is under 100 printable ASCII characters.
pub const SNS_MAX_SUBJECT: usize = 99;
/// SNS allows 256 KiB; stay clearly below it with the attributes.
pub const SNS_MAX_MESSAGE: usize = 250 * 1024;
/// The worst findings a sweep digest lists.
pub const DIGEST_WORST: usize = 20;
pub const EVENT_SOURCE: &str = "cmkguard";
pub const EVENT_DETAIL_TYPE: &str = "cmkguard finding";
pub const EVENT_MAX_DETAIL: usize = 250 * 1024;
/// PutEvents: at most 10 entries and 256 KB per request.
pub const EVENT_MAX_ENTRIES: usize = 10;
pub const EVENT_MAX_REQUEST_BYTES: usize = 256 * 1024;

/// What differs per resource kind in every renderer.
pub struct ResourceKind {
    /// ASFF `Resources[].Type` (also OCSF `resource.type`).
    pub asff_type: &'static str,
    /// Plain words for text.
    pub noun: &'static str,
}

pub fn resource_kind(t: ResourceType) -> ResourceKind {
    match t {
        ResourceType::AwsS3Bucket => ResourceKind {
            asff_type: "AwsS3Bucket",
            noun: "bucket",
        },
        ResourceType::AwsKmsKey => ResourceKind {
            asff_type: "AwsKmsKey",
            noun: "key",
        },
        // ASFF has no EBS snapshot or AMI resource type: `Other` with the ARN as `Id`.
        ResourceType::AwsEc2Snapshot => ResourceKind {
            asff_type: "Other",
            noun: "snapshot",
        },
        ResourceType::AwsEc2Image => ResourceKind {
            asff_type: "Other",
            noun: "image",
        },
        ResourceType::AwsRdsDbSnapshot => ResourceKind {
            asff_type: "AwsRdsDbSnapshot",
            noun: "DB snapshot",
        },
        ResourceType::AwsRdsDbClusterSnapshot => ResourceKind {
            asff_type: "AwsRdsDbClusterSnapshot",
            noun: "cluster snapshot",
        },
        ResourceType::AwsSecretsManagerSecret => ResourceKind {
            asff_type: "AwsSecretsManagerSecret",
            noun: "secret",
        },
        ResourceType::AwsAccount => ResourceKind {
            asff_type: "AwsAccount",
            noun: "account",
        },
    }
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

/// Printable ASCII only, on one line (SNS rejects control characters, line breaks and
/// non-ASCII in subjects).
fn printable_ascii(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ' '..='~' => c,
            c if c.is_whitespace() => ' ',
            _ => '?',
        })
        .collect()
}

/// A subject SNS accepts: printable ASCII, no line break, at most 99 characters, not empty.
pub fn sns_safe_subject(text: &str) -> String {
    let ascii = printable_ascii(text);
    let s: String = ascii.trim().chars().take(SNS_MAX_SUBJECT).collect();
    if s.trim().is_empty() {
        "cmkguard".to_string()
    } else {
        s.trim_end().to_string()
    }
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
    sns_safe_subject(&format!(
        "cmkguard {severity}: {open} open, {fixed} fixed - {}",
        resources.join(", ")
    ))
}

fn short_resource(arn: &str) -> &str {
    arn.rsplit([':', '/']).next().unwrap_or(arn)
}

/// Cuts a message body below the SNS limit, marking the cut.
fn bounded(mut out: String) -> String {
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
    bounded(out)
}

/// What a sweep's one SNS message summarises.
pub struct Digest<'a> {
    pub account: &'a str,
    pub regions: &'a [String],
    pub mode: &'a str,
    pub buckets: usize,
    pub keys: usize,
    pub findings: &'a [Finding],
    pub by_rule: &'a BTreeMap<String, usize>,
    pub by_severity: &'a BTreeMap<String, usize>,
    pub fixed: usize,
    pub errors: usize,
    pub incomplete: bool,
    /// Where the full list is (the log stream, the OCSF objects, the CLI's output).
    pub full_report: &'a str,
}

/// The sweep's one SNS message: (subject, body, top severity). Counts per rule and severity,
/// the worst open findings, where the full report is.
pub fn sns_digest(d: &Digest) -> (String, String, Severity) {
    let open: Vec<&Finding> = d.findings.iter().filter(|f| !f.exempt).collect();
    let top = open
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Informational);
    let subject = sns_safe_subject(&format!(
        "cmkguard sweep {}: {} findings ({} {top}){}",
        d.account,
        d.findings.len(),
        open.iter().filter(|f| f.severity == top).count(),
        if d.incomplete { ", incomplete" } else { "" },
        top = top.as_str()
    ));
    let mut out = format!(
        "cmkguard sweep of account {} ({} mode), region{} {}\n{} buckets, {} keys evaluated; {} findings ({} exempt, {} fixed); {} errors{}\n",
        d.account,
        d.mode,
        if d.regions.len() == 1 { "" } else { "s" },
        d.regions.join(", "),
        d.buckets,
        d.keys,
        d.findings.len(),
        d.findings.len() - open.len(),
        d.fixed,
        d.errors,
        if d.incomplete {
            " (INCOMPLETE: stopped at the deadline)"
        } else {
            ""
        }
    );
    out.push_str("\nBy severity:\n");
    for (sev, n) in d.by_severity.iter().rev() {
        out.push_str(&format!("  {sev:<14} {n}\n"));
    }
    out.push_str("\nBy rule:\n");
    for (rule, n) in d.by_rule {
        out.push_str(&format!("  {rule:<32} {n}\n"));
    }
    let mut worst = open;
    worst.sort_by(|a, b| {
        (b.severity, &a.resource_arn, a.rule_id).cmp(&(a.severity, &b.resource_arn, b.rule_id))
    });
    if !worst.is_empty() {
        out.push_str(&format!(
            "\nWorst findings ({} of {}):\n",
            worst.len().min(DIGEST_WORST),
            worst.len()
        ));
        for f in worst.iter().take(DIGEST_WORST) {
            out.push_str(&format!("  {}\n", f.line()));
        }
    }
    out.push_str(&format!("\nFull report: {}\n", d.full_report));
    (subject, bounded(out), top)
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

/// The EventBridge detail of a passed check (`archived`: of a deleted resource).
pub fn event_detail_passed(p: &Passed, archived: bool) -> String {
    let status = if archived { "archived" } else { "passed" };
    json!({"status": status, "passed": p}).to_string()
}

/// One PutEvents entry as the sink sends it: the resource ARN and the detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventEntry {
    pub resource: String,
    pub detail: String,
}

/// Every PutEvents entry of the batch.
pub fn event_entries(batch: &FindingBatch) -> Vec<EventEntry> {
    let entry = |resource: &str, detail: String| EventEntry {
        resource: resource.to_string(),
        detail,
    };
    batch
        .findings
        .iter()
        .map(|p| entry(&p.finding.resource_arn, event_detail(p)))
        .chain(
            batch
                .passed
                .iter()
                .map(|p| entry(&p.resource_arn, event_detail_passed(p, false))),
        )
        .chain(
            batch
                .archived
                .iter()
                .map(|p| entry(&p.resource_arn, event_detail_passed(p, true))),
        )
        .collect()
}

/// An entry's size as EventBridge counts it (PutEvents "calculating the entry size"): source,
/// detail-type, detail and each resource in UTF-8 bytes (no `Time` is sent).
pub fn event_entry_bytes(e: &EventEntry) -> usize {
    EVENT_SOURCE.len() + EVENT_DETAIL_TYPE.len() + e.detail.len() + e.resource.len()
}

/// Cuts entries into PutEvents requests of at most 10 entries and 256 KB (as index ranges).
pub fn event_chunks(entries: &[EventEntry]) -> Vec<std::ops::Range<usize>> {
    let mut out: Vec<std::ops::Range<usize>> = Vec::new();
    let mut bytes = 0;
    for (i, e) in entries.iter().enumerate() {
        let size = event_entry_bytes(e);
        match out.last_mut() {
            Some(r) if r.len() < EVENT_MAX_ENTRIES && bytes + size <= EVENT_MAX_REQUEST_BYTES => {
                r.end = i + 1;
                bytes += size;
            }
            _ => {
                out.push(i..i + 1);
                bytes = size;
            }
        }
    }
    out
}

/// Convenience for tests and the CLI: the ASFF records as JSON.
pub fn asff_json(batch: &FindingBatch) -> Value {
    serde_json::to_value(asff_batch(batch, &Poster::of(batch))).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests;
