//! ASFF, the format Security Hub imports (DOMAIN.md §9): the documents for a batch, always
//! the posting account's; their reconciliation with the findings Security Hub already stores
//! (`CreatedAt` kept, `UpdatedAt` newer, resolve and archive only what is stored); and the cut
//! into calls of at most 100 findings and 6 MB (240 KB per finding).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{resource_kind, truncate};
use crate::core::arn::partition_for_region;
use crate::core::finding::{Passed, ResourceType, RuleId, Severity};
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

pub(super) fn status_word(p: &Published) -> &'static str {
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
