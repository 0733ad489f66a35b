//! What a sweep reports: counts, the findings (the same `Finding` objects `cmkguard handle`
//! prints), the writes, the errors, and a summary by rule and severity. Built incrementally
//! from each resource's outcome, which is dropped right after (memory stays proportional to
//! the findings, not to the account). Field names are a public interface (`--output json`).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};

use crate::app::{RecordOutcome, SinkRecord, WriteRecord, WriteResult};
use crate::core::config::Mode;
use crate::core::finding::{Finding, Severity};
use crate::render::{sns_digest, Digest};

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// One failed call (or listing, or deadline) during the sweep, with the resource it concerns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanError {
    /// Bucket / key ARN, or `listing:<region>` for a failed listing.
    pub resource: String,
    /// `list`, `read`, `write`, `verify`, `publish`, `deadline`, `task`.
    pub stage: String,
    pub operation: String,
    pub code: String,
    pub message: String,
    pub retryable: bool,
}

/// A region that was not fully swept, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionFailure {
    pub region: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Rule id → findings (exempt ones included).
    pub by_rule: BTreeMap<String, usize>,
    /// Severity → findings.
    pub by_severity: BTreeMap<String, usize>,
    /// Findings carrying the exemption tag.
    pub exempt: usize,
    /// Findings whose every patch was written and verified in this sweep.
    pub fixed: usize,
    /// Resources listed but not decided (deleted meanwhile, AWS managed keys).
    pub ignored: usize,
    /// `read_key` calls that reached KMS (distinct keys read; the rest came from the cache).
    pub key_reads: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanReport {
    pub account: String,
    /// The regions asked for.
    pub regions: Vec<String>,
    /// The regions whose keys and buckets were all listed and evaluated.
    pub regions_swept: Vec<String>,
    /// The regions not fully swept (a listing failed, the deadline), with the reason.
    pub regions_failed: Vec<RegionFailure>,
    pub mode: Mode,
    /// Buckets evaluated.
    pub buckets: usize,
    /// Keys evaluated (ListKeys; AWS managed keys included, and counted as ignored).
    pub keys: usize,
    pub findings: Vec<Finding>,
    /// Ids of findings fixed by this sweep's verified writes.
    pub fixed: Vec<String>,
    pub writes: Vec<WriteRecord>,
    pub errors: Vec<ScanError>,
    /// What each sink was sent: per-finding sinks in batches, SNS one digest.
    pub published: Vec<SinkRecord>,
    pub summary: Summary,
    /// True when the sweep stopped early (deadline): some resources were not evaluated.
    pub incomplete: bool,
    pub elapsed_ms: u128,
}

/// What a task evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bucket,
    Key,
}

impl ScanReport {
    pub fn new(account: &str, regions: &[String], mode: Mode) -> Self {
        ScanReport {
            account: account.to_string(),
            regions: regions.to_vec(),
            regions_swept: Vec::new(),
            regions_failed: Vec::new(),
            mode,
            buckets: 0,
            keys: 0,
            findings: Vec::new(),
            fixed: Vec::new(),
            writes: Vec::new(),
            errors: Vec::new(),
            published: Vec::new(),
            summary: Summary::default(),
            incomplete: false,
            elapsed_ms: 0,
        }
    }

    /// Folds one resource's outcome in; the outcome's passed checks and notes are dropped.
    pub fn absorb(&mut self, kind: Kind, resource: &str, out: RecordOutcome) {
        match kind {
            Kind::Bucket => self.buckets += 1,
            Kind::Key => self.keys += 1,
        }
        if out.ignored.is_some() {
            self.summary.ignored += 1;
        }
        for f in &out.findings {
            *self
                .summary
                .by_rule
                .entry(f.rule_id.as_str().to_string())
                .or_default() += 1;
            *self
                .summary
                .by_severity
                .entry(f.severity.as_str().to_string())
                .or_default() += 1;
            if f.exempt {
                self.summary.exempt += 1;
            }
        }
        self.summary.fixed += out.fixed.len();
        self.fixed.extend(out.fixed);
        self.findings.extend(out.findings);
        self.writes.extend(out.writes);
        for e in out.errors {
            self.errors.push(ScanError {
                resource: resource.to_string(),
                stage: e.stage,
                operation: e.operation,
                code: e.code,
                message: e.message,
                retryable: e.retryable,
            });
        }
    }

    pub fn error(&mut self, resource: &str, stage: &str, e: &crate::ports::PortError) {
        self.errors.push(ScanError {
            resource: resource.to_string(),
            stage: stage.to_string(),
            operation: e.operation.to_string(),
            code: e.code.clone(),
            message: e.message.clone(),
            retryable: e.retryable(),
        });
    }

    /// Sorts findings, writes and errors so two sweeps of the same state print the same.
    pub fn sort(&mut self) {
        self.findings.sort_by(|a, b| {
            (&a.resource_arn, a.rule_id, &a.id).cmp(&(&b.resource_arn, b.rule_id, &b.id))
        });
        self.fixed.sort();
        self.writes
            .sort_by(|a, b| (&a.target, &a.api).cmp(&(&b.target, &b.api)));
        self.errors
            .sort_by(|a, b| (&a.resource, &a.operation).cmp(&(&b.resource, &b.operation)));
    }

    /// Non-exempt findings or errors: what `--fail-on-findings` looks at.
    pub fn violations(&self) -> bool {
        self.findings.iter().any(|f| !f.exempt) || !self.errors.is_empty()
    }

    pub fn verified_writes(&self) -> usize {
        self.writes
            .iter()
            .filter(|w| matches!(w.result, WriteResult::Verified))
            .count()
    }

    /// The sweep's one notification: (subject, body, top severity).
    pub fn digest(&self, full_report: &str) -> (String, String, Severity) {
        let mode = match self.mode {
            Mode::Report => "report",
            Mode::Enforce => "enforce",
        };
        sns_digest(&Digest {
            account: &self.account,
            regions: &self.regions,
            mode,
            buckets: self.buckets,
            keys: self.keys,
            findings: &self.findings,
            by_rule: &self.summary.by_rule,
            by_severity: &self.summary.by_severity,
            fixed: self.summary.fixed,
            errors: self.errors.len(),
            incomplete: self.incomplete,
            full_report,
        })
    }

    /// The report without the per-finding detail: the Lambda's log line and return value
    /// (a full report of a large account would exceed a log event's 256 KB).
    pub fn summary_json(&self) -> Value {
        json!({
            "account": self.account,
            "regions": self.regions,
            "regions_swept": self.regions_swept,
            "regions_failed": self.regions_failed,
            "mode": self.mode,
            "buckets": self.buckets,
            "keys": self.keys,
            "findings": self.findings.len(),
            "writes": self.writes.len(),
            "verified_writes": self.verified_writes(),
            "errors": self.errors.len(),
            "first_errors": self.errors.iter().take(20).collect::<Vec<_>>(),
            "summary": self.summary,
            "published": self.published,
            "incomplete": self.incomplete,
            "elapsed_ms": self.elapsed_ms,
        })
    }

    /// The readable report: a summary table, then one line per finding, write and error.
    pub fn text(&self) -> String {
        let mode = match self.mode {
            Mode::Report => "report",
            Mode::Enforce => "enforce",
        };
        let mut out = format!(
            "cmkguard scan: account {}, region{} {}, {mode} mode{}\n\n",
            self.account,
            if self.regions.len() == 1 { "" } else { "s" },
            self.regions.join(", "),
            if self.incomplete {
                " (INCOMPLETE: stopped at the deadline)"
            } else {
                ""
            }
        );
        let rows = [
            ("buckets scanned", self.buckets.to_string()),
            ("keys scanned", self.keys.to_string()),
            (
                "findings",
                format!(
                    "{} ({} exempt, {} fixed)",
                    self.findings.len(),
                    self.summary.exempt,
                    self.summary.fixed
                ),
            ),
            (
                "writes",
                format!(
                    "{} ({} verified)",
                    self.writes.len(),
                    self.verified_writes()
                ),
            ),
            ("regions swept", list_or_none(&self.regions_swept)),
            (
                "regions failed",
                if self.regions_failed.is_empty() {
                    "none".to_string()
                } else {
                    self.regions_failed
                        .iter()
                        .map(|f| format!("{} ({})", f.region, f.reason))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            ),
            ("errors", self.errors.len().to_string()),
            (
                "published",
                if self.published.is_empty() {
                    "no sink".to_string()
                } else {
                    self.published
                        .iter()
                        .map(|p| format!("{} {}", p.sink, p.sent))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            ),
            ("distinct key reads", self.summary.key_reads.to_string()),
            ("elapsed", format!("{} ms", self.elapsed_ms)),
        ];
        for (k, v) in rows {
            out.push_str(&format!("  {k:<20} {v}\n"));
        }
        if !self.summary.by_rule.is_empty() {
            out.push_str("\n  by rule\n");
            for (rule, n) in &self.summary.by_rule {
                out.push_str(&format!("    {rule:<32} {n:>6}\n"));
            }
            out.push_str("  by severity\n");
            for (sev, n) in self.summary.by_severity.iter().rev() {
                out.push_str(&format!("    {sev:<32} {n:>6}\n"));
            }
        }
        if !self.findings.is_empty() {
            out.push_str("\nfindings\n");
        }
        for f in &self.findings {
            out.push_str(&format!("  {}\n", f.line()));
        }
        if !self.writes.is_empty() {
            out.push_str("\nwrites\n");
        }
        for w in &self.writes {
            let result = serde_json::to_value(&w.result)
                .ok()
                .and_then(|v| v["status"].as_str().map(str::to_string))
                .unwrap_or_default();
            out.push_str(&format!("  {} {}: {result}\n", w.api, w.target));
        }
        if !self.errors.is_empty() {
            out.push_str("\nerrors\n");
        }
        for e in &self.errors {
            out.push_str(&format!(
                "  {} [{}] {} {}: {}\n",
                e.resource, e.stage, e.operation, e.code, e.message
            ));
        }
        out
    }
}
