//! Pure renderers for the finding sinks: the ASFF documents Security Hub imports (and how a
//! batch is cut and reconciled with the stored findings), the SNS subject, body and sweep
//! digest, the EventBridge detail and batching, and (in `ocsf`) OCSF Compliance Finding
//! events. No I/O and no clock (the run's time comes in the batch), so every rule Security
//! Hub, SNS and EventBridge enforce (DOMAIN.md §9) is a unit test away; the adapters in
//! `src/aws/` only send. Everything that differs per resource kind goes through
//! `ResourceType` (`resource_kind`), so a new kind is one match arm.

pub mod ocsf;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};

use crate::core::arn::partition_for_region;
use crate::core::finding::{Finding, Passed, ResourceType, RuleId, Severity};
use crate::core::time::{parse_rfc3339_millis, rfc3339_millis};
use crate::ports::{FindingBatch, FindingStatus, Published};

pub const ASFF_SCHEMA_VERSION: &str = "2018-10-08";
pub const ASFF_TYPE: &str = "Software and Configuration Checks/AWS Security Best Practices";
pub const ASFF_DATA_EXPOSURE: &str = "Effects/Data Exposure";
pub const ASFF_MAX_DESCRIPTION: usize = 1024;
pub const ASFF_MAX_TITLE: usize = 256;
pub const ASFF_MAX_RECOMMENDATION: usize = 512;
/// Security Hub accepts at most 100 findings per `BatchImportFindings` call …
pub const ASFF_BATCH: usize = 100;
/// … and 6 MB per call (kept below it for the request's own framing) …
pub const ASFF_MAX_REQUEST_BYTES: usize = 6 * 1000 * 1000 - 64 * 1024;
/// … and 240 KB per finding.
pub const ASFF_MAX_FINDING_BYTES: usize = 240 * 1024;
/// `GetFindings` filter values per field.
pub const ASFF_LOOKUP_BATCH: usize = 20;
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

/// One ASFF finding, with exactly the fields `BatchImportFindings` needs. Serialises to the
/// ASFF JSON shape (what `--output asff` prints); the Security Hub adapter maps it field by
/// field onto the SDK types. There is deliberately no `Workflow`: customers own it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Asff {
    pub schema_version: String,
    pub id: String,
    pub product_arn: String,
    pub generator_id: String,
    /// Always the posting account, never the resource owner (DOMAIN.md §9).
    pub aws_account_id: String,
    pub types: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    pub severity: AsffSeverity,
    /// Severity and types as the provider says them: top-level values stop being updated once
    /// a customer triages, these never do.
    pub finding_provider_fields: AsffProviderFields,
    pub title: String,
    pub description: String,
    pub remediation: AsffRemediation,
    pub product_fields: BTreeMap<String, String>,
    pub resources: Vec<AsffResource>,
    pub compliance: AsffCompliance,
    /// `ACTIVE`, or `ARCHIVED` when the resource is gone.
    pub record_state: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffSeverity {
    pub label: String,
    /// The provider's own severity word, kept as sent.
    pub original: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffProviderFields {
    pub severity: AsffSeverity,
    pub types: Vec<String>,
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
    /// `Details.Other`: the resource owner's account (a foreign bucket or key of a
    /// caller-side diagnosis lives here, not in `AwsAccountId`).
    pub details: AsffDetails,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffDetails {
    pub other: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffCompliance {
    /// `FAILED`, `PASSED`, or `NOT_AVAILABLE` for a deleted resource.
    pub status: String,
}

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
    }
}

/// The ASFF finding types of a rule.
pub fn asff_types(rule: RuleId) -> Vec<String> {
    let mut types = vec![ASFF_TYPE.to_string()];
    if rule == RuleId::KeyPublic {
        types.push(ASFF_DATA_EXPOSURE.to_string());
    }
    types
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

fn resource(t: ResourceType, arn: &str, region: &str, owner: &str) -> AsffResource {
    let mut other = BTreeMap::new();
    if !owner.is_empty() {
        other.insert("OwnerAccountId".to_string(), owner.to_string());
    }
    AsffResource {
        kind: resource_kind(t).asff_type.to_string(),
        id: arn.to_string(),
        partition: partition_for_region(region).to_string(),
        region: region.to_string(),
        details: AsffDetails { other },
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

/// Where the findings are posted from: the account that calls `BatchImportFindings` (the
/// Lambda's own, from its context; the CLI's, from STS) and the region of the Security Hub
/// endpoint. `ProductArn` and `AwsAccountId` come from here, never from a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Poster {
    pub account: String,
    pub region: String,
}

impl Poster {
    /// The batch's own account and region.
    pub fn of(batch: &FindingBatch) -> Poster {
        Poster {
            account: batch.account.clone(),
            region: batch.region.clone(),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn asff(
    poster: &Poster,
    time: &str,
    id: &str,
    rule: RuleId,
    severity: Severity,
    title: &str,
    description: String,
    recommendation: String,
    res: AsffResource,
    compliance: &str,
    record_state: &str,
    state: &str,
) -> Asff {
    let sev = AsffSeverity {
        label: severity.as_str().to_string(),
        original: severity.as_str().to_string(),
    };
    let types = asff_types(rule);
    let mut product_fields = BTreeMap::new();
    product_fields.insert("cmkguard/RuleId".to_string(), rule.as_str().to_string());
    product_fields.insert("cmkguard/State".to_string(), state.to_string());
    if let Some(owner) = res.details.other.get("OwnerAccountId") {
        product_fields.insert("cmkguard/ResourceAccount".to_string(), owner.clone());
    }
    Asff {
        schema_version: ASFF_SCHEMA_VERSION.into(),
        id: id.to_string(),
        product_arn: product_arn(&poster.account, &poster.region),
        generator_id: rule.as_str().into(),
        aws_account_id: poster.account.clone(),
        types: types.clone(),
        created_at: time.to_string(),
        updated_at: time.to_string(),
        severity: sev.clone(),
        finding_provider_fields: AsffProviderFields {
            severity: sev,
            types,
        },
        title: truncate(title, ASFF_MAX_TITLE),
        description: truncate(&description, ASFF_MAX_DESCRIPTION),
        remediation: AsffRemediation {
            recommendation: AsffRecommendation {
                text: truncate(&recommendation, ASFF_MAX_RECOMMENDATION),
            },
        },
        product_fields,
        resources: vec![res],
        compliance: AsffCompliance {
            status: compliance.to_string(),
        },
        record_state: record_state.to_string(),
    }
}

/// The ASFF finding for a published finding: FAILED while open, PASSED once fixed.
pub fn asff_finding(p: &Published, batch: &FindingBatch, poster: &Poster) -> Asff {
    let f = &p.finding;
    let (status, recommendation, state) = match p.status {
        FindingStatus::Open => ("FAILED", f.fix.clone(), status_word(p)),
        FindingStatus::Fixed => (
            "PASSED",
            format!("Fixed by cmkguard. {}", p.done.join(" ")),
            "fixed",
        ),
    };
    asff(
        poster,
        &batch.time,
        &f.id,
        f.rule_id,
        f.severity,
        &f.title,
        describe(p),
        recommendation,
        resource(f.resource_type, &f.resource_arn, &f.region, &f.account),
        status,
        "ACTIVE",
        state,
    )
}

/// The ASFF record that resolves an earlier finding of a check that now passes, or (when
/// `archived`) retires the finding of a resource that no longer exists.
pub fn asff_passed(p: &Passed, batch: &FindingBatch, poster: &Poster, archived: bool) -> Asff {
    let kind = resource_kind(p.resource_type);
    let (description, compliance, record_state, state) = if archived {
        (
            format!(
                "The {} {} no longer exists: finding archived.",
                kind.noun, p.resource_arn
            ),
            "NOT_AVAILABLE",
            "ARCHIVED",
            "deleted",
        )
    } else {
        (
            format!(
                "Check {} passed on {}: nothing to fix.",
                p.rule_id, p.resource_arn
            ),
            "PASSED",
            "ACTIVE",
            "passed",
        )
    };
    asff(
        poster,
        &batch.time,
        &p.id,
        p.rule_id,
        Severity::Informational,
        p.rule_id.title(),
        description,
        "No action needed.".into(),
        resource(p.resource_type, &p.resource_arn, &p.region, &p.account),
        compliance,
        record_state,
        state,
    )
}

/// Every ASFF record of the batch (findings, passed checks, then archived checks), as they
/// would be posted for the first time (`CreatedAt` = `UpdatedAt` = the batch's time).
pub fn asff_batch(batch: &FindingBatch, poster: &Poster) -> Vec<Asff> {
    batch
        .findings
        .iter()
        .map(|p| asff_finding(p, batch, poster))
        .chain(
            batch
                .passed
                .iter()
                .map(|p| asff_passed(p, batch, poster, false)),
        )
        .chain(
            batch
                .archived
                .iter()
                .map(|p| asff_passed(p, batch, poster, true)),
        )
        .collect()
}

/// Refuses records whose `AwsAccountId` or `ProductArn` is not the posting account's:
/// `BatchImportFindings` with the default product ARN accepts only the caller's own account.
pub fn check_posting_account(records: &[Asff], account: &str) -> Result<(), String> {
    if !crate::core::json::is_account_id(account) {
        return Err(format!(
            "the posting account is unknown ('{account}'): Security Hub accepts only findings of the account that imports them"
        ));
    }
    let owned = format!(":{account}:product/{account}/default");
    match records
        .iter()
        .find(|r| r.aws_account_id != account || !r.product_arn.ends_with(&owned))
    {
        Some(r) => Err(format!(
            "finding {} has AwsAccountId {} / ProductArn {}, not the posting account {account}: refused",
            r.id, r.aws_account_id, r.product_arn
        )),
        None => Ok(()),
    }
}

/// A finding as Security Hub stores it (from `GetFindings`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub created_at: String,
    pub updated_at: String,
    pub compliance: Option<String>,
    pub record_state: Option<String>,
}

/// Reconciles first-post records with what Security Hub stores, so the import is kept and
/// says only what changed. With `stored` known: `CreatedAt` keeps the first detection time,
/// `UpdatedAt` is the batch's time or 1 ms past the stored one, whichever is later (an update
/// that is not newer is silently dropped); a passed check is sent only to resolve a stored
/// finding not yet resolved, an archive only for a stored finding not yet archived. With
/// `stored` unknown (the lookup failed) everything is sent as a first post.
pub fn reconcile(records: Vec<Asff>, stored: Option<&BTreeMap<String, Stored>>) -> Vec<Asff> {
    let Some(stored) = stored else {
        return records;
    };
    records
        .into_iter()
        .filter_map(|mut r| {
            let archive = r.record_state == "ARCHIVED";
            let resolve = !archive && r.compliance.status == "PASSED";
            let Some(s) = stored.get(&r.id) else {
                // Nothing stored: a new failure is posted; nothing to resolve or archive.
                return (!archive && !resolve).then_some(r);
            };
            let archived = s.record_state.as_deref() == Some("ARCHIVED");
            if archive && archived {
                return None;
            }
            if resolve && !archived && s.compliance.as_deref() == Some("PASSED") {
                return None;
            }
            r.created_at = s.created_at.clone();
            let now = parse_rfc3339_millis(&r.updated_at).unwrap_or(0);
            let after = parse_rfc3339_millis(&s.updated_at).map_or(0, |t| t + 1);
            r.updated_at = rfc3339_millis(now.max(after));
            Some(r)
        })
        .collect()
}

/// The serialised size of a record (what counts against the per-finding and per-call limits).
pub fn asff_bytes(r: &Asff) -> usize {
    serde_json::to_vec(r).map_or(usize::MAX, |v| v.len())
}

/// Cuts records into `BatchImportFindings` calls: at most 100 findings and 6 MB each. A record
/// over 240 KB cannot be imported and comes back in the second list.
pub fn asff_chunks(records: Vec<Asff>) -> (Vec<Vec<Asff>>, Vec<Asff>) {
    let mut chunks: Vec<Vec<Asff>> = Vec::new();
    let mut too_big = Vec::new();
    let mut bytes = 0;
    for r in records {
        let size = asff_bytes(&r);
        if size > ASFF_MAX_FINDING_BYTES {
            too_big.push(r);
            continue;
        }
        let fits = chunks
            .last()
            .is_some_and(|c| c.len() < ASFF_BATCH && bytes + size <= ASFF_MAX_REQUEST_BYTES);
        if !fits {
            chunks.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        if let Some(c) = chunks.last_mut() {
            c.push(r);
        }
    }
    (chunks, too_big)
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
