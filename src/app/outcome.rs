//! What one invocation did, as data: per CloudTrail record the trigger, the findings, the
//! writes with their results, what was published and the classified errors. Returned to the
//! Lambda runtime and the CLI, and logged as one JSON line; its field names are a public
//! interface (`handle --output json`, the Lambda's response).

use serde::Serialize;

use crate::core::config::Mode;
use crate::core::event::Trigger;
use crate::core::finding::{Finding, Passed, Remediation};
use crate::core::plan::Plan;
use crate::ports::{FindingStatus, PortError, Published};

/// The result of one invocation: one entry per CloudTrail record in the event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub results: Vec<RecordOutcome>,
}

impl Outcome {
    /// True when some error may go away on retry (throttling, 5xx, timeouts).
    pub fn retryable(&self) -> bool {
        self.results
            .iter()
            .flat_map(|r| &r.errors)
            .any(|e| e.retryable)
    }

    pub fn has_errors(&self) -> bool {
        self.results.iter().any(|r| !r.errors.is_empty())
    }

    pub fn writes(&self) -> impl Iterator<Item = &WriteRecord> {
        self.results.iter().flat_map(|r| &r.writes)
    }

    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.results.iter().flat_map(|r| &r.findings)
    }
}

/// What happened for one record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordOutcome {
    pub trigger: Option<Trigger>,
    /// Why nothing was decided (not a trigger, loop guard, resource gone, …).
    pub ignored: Option<String>,
    pub mode: Mode,
    pub findings: Vec<Finding>,
    pub passed: Vec<Passed>,
    /// Ids of findings whose every planned write was made and verified.
    pub fixed: Vec<String>,
    pub notes: Vec<String>,
    pub writes: Vec<WriteRecord>,
    /// The state changed between planning and a write, so the plan was made again.
    pub replanned: bool,
    pub published: Vec<SinkRecord>,
    pub errors: Vec<ErrorRecord>,
}

impl RecordOutcome {
    pub(super) fn new(mode: Mode, trigger: Option<Trigger>) -> Self {
        RecordOutcome {
            trigger,
            ignored: None,
            mode,
            findings: Vec::new(),
            passed: Vec::new(),
            fixed: Vec::new(),
            notes: Vec::new(),
            writes: Vec::new(),
            replanned: false,
            published: Vec::new(),
            errors: Vec::new(),
        }
    }
}

/// One write the app made or meant to make.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WriteRecord {
    /// `s3:PutBucketPolicy`, …
    pub api: String,
    pub target: String,
    pub result: WriteResult,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum WriteResult {
    /// Written, read back and found as intended.
    Verified,
    /// The fresh read showed the change already in place: nothing written.
    AlreadyApplied,
    /// Written, but the read-back does not show the intended state.
    Unverified {
        reason: String,
    },
    Failed {
        error: String,
        retryable: bool,
    },
    /// Not attempted.
    Skipped {
        reason: String,
    },
}

impl WriteResult {
    pub(super) fn done(&self) -> bool {
        matches!(self, WriteResult::Verified | WriteResult::AlreadyApplied)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SinkRecord {
    pub sink: String,
    pub sent: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorRecord {
    /// `read`, `write`, `publish`.
    pub stage: String,
    pub operation: String,
    pub code: String,
    pub message: String,
    pub retryable: bool,
}

impl ErrorRecord {
    pub(super) fn from_port(stage: &str, e: &PortError) -> Self {
        ErrorRecord {
            stage: stage.to_string(),
            operation: e.operation.to_string(),
            code: e.code.clone(),
            message: e.message.clone(),
            retryable: e.retryable(),
        }
    }
}

/// The findings with their status: fixed when every step of their remediation was done.
pub(super) fn published_findings(
    plan: &Plan,
    results: &[WriteResult],
    writes: &[WriteRecord],
) -> Vec<Published> {
    plan.findings
        .iter()
        .map(|f| {
            let steps = match &f.remediation {
                Remediation::Planned { steps } if !steps.is_empty() => steps.clone(),
                _ => Vec::new(),
            };
            let fixed = !steps.is_empty()
                && steps
                    .iter()
                    .all(|&i| results.get(i).is_some_and(WriteResult::done));
            let done = if fixed {
                steps
                    .iter()
                    .filter_map(|&i| plan.steps.get(i))
                    .map(|s| {
                        let how = writes
                            .iter()
                            .rev()
                            .find(|w| w.api == s.api() && w.target == s.target())
                            .map(|w| match w.result {
                                WriteResult::AlreadyApplied => "already in place",
                                _ => "written and verified",
                            })
                            .unwrap_or("done");
                        format!("{} on {}: {how}.", s.api(), s.target())
                    })
                    .collect()
            } else {
                Vec::new()
            };
            Published {
                finding: f.clone(),
                status: if fixed {
                    FindingStatus::Fixed
                } else {
                    FindingStatus::Open
                },
                done,
            }
        })
        .collect()
}
