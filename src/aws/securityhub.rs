//! The Security Hub sink: what real AWS accepts (DOMAIN.md §9), not just what the emulator
//! stores. Every record is the posting account's own (refused otherwise); the stored
//! findings' times are read first (`GetFindings` by id, 20 ids a call) so `CreatedAt` keeps
//! the first detection and `UpdatedAt` always advances (an update that is not newer is
//! silently dropped); passed checks only resolve stored findings, deleted resources archive
//! them; calls stay within 100 findings and 6 MB; `FailedFindings` is read per finding, and
//! `InvalidAccess` (Security Hub not enabled here) is one log line and no retry. Rendering is
//! `crate::render`'s; here it is only mapped onto the SDK types and sent.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_securityhub::types::{
    AwsSecurityFinding, AwsSecurityFindingFilters, Compliance, ComplianceStatus,
    FindingProviderFields, FindingProviderSeverity, Partition, Recommendation, RecordState,
    Remediation, Resource, ResourceDetails, Severity, SeverityLabel, StringFilter,
    StringFilterComparison,
};

use super::error::port_error;
use crate::ports::{ErrorClass, FindingBatch, FindingSink, PortError};
use crate::render::{self, Asff, Poster, Stored};

/// Pages of one `GetFindings` lookup followed at most (20 ids fit one page on AWS; an emulator
/// that ignores the filter pages through everything).
const MAX_LOOKUP_PAGES: usize = 50;
/// Pages of a sweep's prefetch (100 findings a page).
const MAX_PREFETCH_PAGES: usize = 2_000;

/// The stored cmkguard findings, read once for a whole sweep (`prefetch`).
type Cache = Arc<Mutex<Option<BTreeMap<String, Stored>>>>;

#[derive(Debug, Clone)]
pub struct SecurityHubSink {
    client: aws_sdk_securityhub::Client,
    /// The region of the client (the `ProductArn` region must be the endpoint's).
    region: String,
    /// Shared by clones: a sweep reads the stored findings once instead of per batch.
    cache: Cache,
    /// Security Hub answered `InvalidAccess` (not enabled here): said once, not asked again.
    not_enabled: Arc<AtomicBool>,
}

impl SecurityHubSink {
    pub const IAM_ACTIONS: &'static [&'static str] =
        &["securityhub:BatchImportFindings", "securityhub:GetFindings"];

    pub fn new(client: aws_sdk_securityhub::Client) -> Self {
        let region = client
            .config()
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default();
        SecurityHubSink {
            client,
            region,
            cache: Cache::default(),
            not_enabled: Arc::default(),
        }
    }

    /// `InvalidAccess`: one log line the first time, then the same error without a call.
    fn not_enabled(&self, account: &str, region: &str, why: &str) -> PortError {
        let first = !self.not_enabled.swap(true, Ordering::SeqCst);
        not_enabled(account, region, why, first)
    }

    /// Reads every stored cmkguard finding of `account`'s default product here (ids
    /// `cmkguard/…`), 100 a page, so a sweep's batches are reconciled without a lookup each
    /// (GetFindings allows 3 calls a second). Returns how many are stored.
    pub async fn prefetch(&self, account: &str) -> Result<usize, PortError> {
        let op = "securityhub:GetFindings";
        let product = render::product_arn(account, &self.region);
        let filters = AwsSecurityFindingFilters::builder()
            .id(StringFilter::builder()
                .value("cmkguard/")
                .comparison(StringFilterComparison::Prefix)
                .build())
            .product_arn(
                StringFilter::builder()
                    .value(&product)
                    .comparison(StringFilterComparison::Equals)
                    .build(),
            )
            .build();
        let mut all = BTreeMap::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PREFETCH_PAGES {
            let request = self
                .client
                .get_findings()
                .filters(filters.clone())
                .max_results(100)
                .set_next_token(token.clone())
                .send();
            let page = Box::pin(request).await.map_err(|e| port_error(op, &e))?;
            for f in page.findings() {
                if let Some(id) = f.id().filter(|id| id.starts_with("cmkguard/")) {
                    all.insert(id.to_string(), stored_of(f));
                }
            }
            token = page
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let n = all.len();
        if let Ok(mut c) = self.cache.lock() {
            *c = Some(all);
        }
        Ok(n)
    }

    /// What the prefetch says about `ids` (None: no prefetch).
    fn cached(&self, ids: &[String]) -> Option<BTreeMap<String, Stored>> {
        let c = self.cache.lock().ok()?;
        let all = c.as_ref()?;
        Some(
            ids.iter()
                .filter_map(|id| all.get(id).map(|s| (id.clone(), s.clone())))
                .collect(),
        )
    }

    /// After an import: the prefetched state follows what was sent.
    fn remember(&self, sent: &[Asff]) {
        if let Ok(mut c) = self.cache.lock() {
            if let Some(all) = c.as_mut() {
                for r in sent {
                    let created = all
                        .get(&r.id)
                        .map_or_else(|| r.created_at.clone(), |s| s.created_at.clone());
                    all.insert(
                        r.id.clone(),
                        Stored {
                            created_at: created,
                            updated_at: r.updated_at.clone(),
                            compliance: Some(r.compliance.status.clone()),
                            record_state: Some(r.record_state.clone()),
                        },
                    );
                }
            }
        }
    }

    fn poster(&self, batch: &FindingBatch) -> Poster {
        Poster {
            account: batch.account.clone(),
            region: if self.region.is_empty() {
                batch.region.clone()
            } else {
                self.region.clone()
            },
        }
    }

    /// The stored findings among `ids` (GetFindings filtered by id).
    async fn stored(&self, ids: &[String]) -> Result<BTreeMap<String, Stored>, PortError> {
        let op = "securityhub:GetFindings";
        let mut out = BTreeMap::new();
        for chunk in ids.chunks(render::ASFF_LOOKUP_BATCH) {
            let wanted: BTreeSet<&str> = chunk.iter().map(String::as_str).collect();
            let filters = AwsSecurityFindingFilters::builder()
                .set_id(Some(
                    chunk
                        .iter()
                        .map(|id| {
                            StringFilter::builder()
                                .value(id)
                                .comparison(StringFilterComparison::Equals)
                                .build()
                        })
                        .collect(),
                ))
                .build();
            let mut token: Option<String> = None;
            for _ in 0..MAX_LOOKUP_PAGES {
                let request = self
                    .client
                    .get_findings()
                    .filters(filters.clone())
                    .max_results(100)
                    .set_next_token(token.clone())
                    .send();
                // Boxed: the findings in the answer make a large future.
                let page = Box::pin(request).await.map_err(|e| port_error(op, &e))?;
                for f in page.findings() {
                    let Some(id) = f.id().filter(|id| wanted.contains(id)) else {
                        continue;
                    };
                    out.insert(id.to_string(), stored_of(f));
                }
                token = page
                    .next_token()
                    .filter(|t| !t.is_empty())
                    .map(str::to_string);
                if token.is_none() {
                    break;
                }
            }
        }
        Ok(out)
    }
}

fn stored_of(f: &AwsSecurityFinding) -> Stored {
    Stored {
        created_at: f.created_at().unwrap_or_default().to_string(),
        updated_at: f.updated_at().unwrap_or_default().to_string(),
        compliance: f
            .compliance()
            .and_then(|c| c.status())
            .map(|s| s.as_str().to_string()),
        record_state: f.record_state().map(|s| s.as_str().to_string()),
    }
}

/// Maps the rendered ASFF record onto the SDK's finding type (no `Workflow`, ever).
pub fn to_sdk_finding(a: &Asff) -> AwsSecurityFinding {
    let resources = a.resources.iter().map(|r| {
        let mut details = ResourceDetails::builder();
        for (k, v) in &r.details.other {
            details = details.other(k, v);
        }
        Resource::builder()
            .r#type(&r.kind)
            .id(&r.id)
            .partition(Partition::from(r.partition.as_str()))
            .region(&r.region)
            .details(details.build())
            .build()
    });
    let mut provider = FindingProviderFields::builder().severity(
        FindingProviderSeverity::builder()
            .label(SeverityLabel::from(
                a.finding_provider_fields.severity.label.as_str(),
            ))
            .original(&a.finding_provider_fields.severity.original)
            .build(),
    );
    for t in &a.finding_provider_fields.types {
        provider = provider.types(t);
    }
    let mut b = AwsSecurityFinding::builder()
        .schema_version(&a.schema_version)
        .id(&a.id)
        .product_arn(&a.product_arn)
        .generator_id(&a.generator_id)
        .aws_account_id(&a.aws_account_id)
        .created_at(&a.created_at)
        .updated_at(&a.updated_at)
        .severity(
            Severity::builder()
                .label(SeverityLabel::from(a.severity.label.as_str()))
                .original(&a.severity.original)
                .build(),
        )
        .finding_provider_fields(provider.build())
        .title(&a.title)
        .description(&a.description)
        .remediation(
            Remediation::builder()
                .recommendation(
                    Recommendation::builder()
                        .text(&a.remediation.recommendation.text)
                        .build(),
                )
                .build(),
        )
        .compliance(
            Compliance::builder()
                .status(ComplianceStatus::from(a.compliance.status.as_str()))
                .build(),
        )
        .record_state(RecordState::from(a.record_state.as_str()));
    for t in &a.types {
        b = b.types(t);
    }
    for (k, v) in &a.product_fields {
        b = b.product_fields(k, v);
    }
    for r in resources {
        b = b.resources(r);
    }
    b.build()
}

/// Security Hub is not enabled in this account and region: no retry can help.
fn not_enabled(account: &str, region: &str, why: &str, log: bool) -> PortError {
    if log {
        tracing::warn!(
            target: "cmkguard::securityhub",
            account, region,
            "Security Hub is not enabled in account {account} region {region} ({why}): findings not imported; enable it or unset CMKGUARD_SECURITY_HUB"
        );
    }
    PortError::new(
        ErrorClass::Permanent,
        "securityhub:BatchImportFindings",
        "InvalidAccess",
        format!("Security Hub is not enabled in account {account} region {region}: {why}"),
    )
}

impl FindingSink for SecurityHubSink {
    fn name(&self) -> &str {
        "securityhub"
    }

    async fn publish(&self, batch: &FindingBatch) -> Result<usize, PortError> {
        let op = "securityhub:BatchImportFindings";
        let poster = self.poster(batch);
        let records = render::asff_batch(batch, &poster);
        render::check_posting_account(&records, &poster.account)
            .map_err(|why| PortError::new(ErrorClass::Permanent, op, "PostingAccount", why))?;
        if self.not_enabled.load(Ordering::SeqCst) {
            return Err(self.not_enabled(&poster.account, &poster.region, "answered earlier"));
        }
        let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
        let lookup = match self.cached(&ids) {
            Some(known) => Ok(known),
            None => self.stored(&ids).await,
        };
        let stored = match lookup {
            Ok(s) => Some(s),
            Err(e) if e.code.starts_with("InvalidAccess") => {
                return Err(self.not_enabled(&poster.account, &poster.region, &e.message))
            }
            Err(e) => {
                // Without the stored times the records go as first posts: an UpdatedAt in
                // milliseconds is still newer than any earlier post.
                tracing::warn!(target: "cmkguard::securityhub", error = %e, "stored findings not read; posting as new");
                None
            }
        };
        let (chunks, too_big) = render::asff_chunks(render::reconcile(records, stored.as_ref()));
        let mut rejected: Vec<String> = too_big
            .iter()
            .map(|r| format!("{}: over 240 KB", r.id))
            .collect();
        let mut sent = 0;
        for chunk in chunks {
            // Boxed: an ASFF finding is a very large type and the request future would
            // otherwise sit on the caller's stack (overflowing it in debug builds).
            let request = self
                .client
                .batch_import_findings()
                .set_findings(Some(chunk.iter().map(to_sdk_finding).collect()))
                .send();
            let out = match Box::pin(request).await {
                Ok(out) => out,
                Err(e) => {
                    let e = port_error(op, &e);
                    if e.code.starts_with("InvalidAccess") {
                        return Err(self.not_enabled(&poster.account, &poster.region, &e.message));
                    }
                    return Err(e);
                }
            };
            let failed = out.failed_findings();
            if failed.iter().any(|f| {
                f.error_code()
                    .is_some_and(|c| c.starts_with("InvalidAccess"))
            }) {
                return Err(self.not_enabled(
                    &poster.account,
                    &poster.region,
                    "FailedFindings ErrorCode InvalidAccess",
                ));
            }
            self.remember(&chunk);
            rejected.extend(failed.iter().map(|f| {
                format!(
                    "{}: {} {}",
                    f.id().unwrap_or("?"),
                    f.error_code().unwrap_or("?"),
                    f.error_message().unwrap_or("")
                )
            }));
            sent += chunk.len() - failed.len().min(chunk.len());
        }
        if !rejected.is_empty() {
            return Err(PortError::new(
                ErrorClass::Permanent,
                op,
                "FailedCount",
                format!(
                    "{} finding(s) rejected ({sent} imported): {}",
                    rejected.len(),
                    rejected.join("; ")
                ),
            ));
        }
        Ok(sent)
    }
}
