//! The guardrail's one entry point, shared by the Lambda, the CLI and the sweep, in pipeline
//! order: parse the event (`core::event`) → re-read the current state (`read`: the event is a
//! trigger, not the truth) → `decide` → in enforce mode make the planned writes (`execute`:
//! fresh read, write, read-back, re-plan once if the state moved) → publish findings to the
//! sinks → `Outcome` (`outcome`), returned and logged as one JSON line.
//!
//! Safety rules kept here: report mode never writes; the first failed or unverified write stops
//! the plan (a CMK move never happens without the key grant planned before it); a repeated
//! event finds nothing to do and makes zero writes. The app owns the clock (`now_rfc3339`).

mod execute;
mod outcome;
mod read;

pub use outcome::{ErrorRecord, Outcome, RecordOutcome, SinkRecord, WriteRecord, WriteResult};
pub use read::{load_snapshot, load_snapshot_with, read_needed_grants, read_tags_if_needed, Reads};

use serde_json::Value;

use crate::config::Settings;
use crate::core::config::Mode;
use crate::core::decide::decide;
use crate::core::event::{parse_event_value, EventInput, Parsed, Trigger};
use crate::core::plan::Plan;
use crate::core::snapshot::Snapshot;
use crate::ports::{
    BucketReader, BucketWriter, Deps, FindingBatch, FindingSink, FindingStatus, IdentityReader,
    KeyReader, KeyWriter, PortError,
};
use execute::execute;
use outcome::published_findings;

/// Handles one EventBridge event (or bare CloudTrail record, or CloudTrail log file). Never
/// panics on bad input: what cannot be used becomes an `ignored` reason or a classified error.
pub async fn handle<B, K, W, S, I>(
    event: &Value,
    deps: &Deps<B, K, W, S, I>,
    settings: &Settings,
) -> Outcome
where
    B: BucketReader,
    K: KeyReader,
    W: BucketWriter + KeyWriter,
    S: FindingSink,
    I: IdentityReader,
{
    let now = now_rfc3339();
    let records = match parse_event_value(event) {
        EventInput::Single(p) => vec![p],
        EventInput::Records(ps) => ps,
    };
    let mut results = Vec::new();
    for parsed in records {
        let r = match parsed {
            Parsed::Ignored { reason } => {
                let mut r = RecordOutcome::new(settings.core.mode, None);
                r.ignored = Some(reason);
                r
            }
            Parsed::Trigger(t) => handle_trigger(t, deps, settings, &now).await,
        };
        results.push(r);
    }
    let outcome = Outcome { results };
    match serde_json::to_string(&outcome) {
        Ok(line) => tracing::info!(target: "cmkguard::outcome", outcome = %line),
        Err(e) => tracing::error!(error = %e, "outcome not serialisable"),
    }
    outcome
}

/// Handles one trigger (an event's record, or one the sweep synthesised for a listed bucket or
/// key): read, decide, execute what the mode allows, publish. `now` is the run's RFC 3339 time.
/// Why a beyond-S3 trigger is ignored by the live pipeline for now.
pub fn beyond_s3_not_built(trigger: &Trigger) -> String {
    format!(
        "{} on {}: the adapter that re-reads this kind ({:?}) is not built yet; nothing was decided (not compliant, not checked). Offline: cmkguard decide --state with a `beyond` section",
        trigger.event_name,
        trigger
            .resource_arn
            .as_deref()
            .or(trigger.key.as_deref())
            .unwrap_or("the account's EC2 settings"),
        trigger.kind
    )
}

pub async fn handle_trigger<B, K, W, S, I>(
    trigger: Trigger,
    deps: &Deps<B, K, W, S, I>,
    settings: &Settings,
    now: &str,
) -> RecordOutcome
where
    B: BucketReader,
    K: KeyReader,
    W: BucketWriter + KeyWriter,
    S: FindingSink,
    I: IdentityReader,
{
    let config = &settings.core;
    let mut out = RecordOutcome::new(config.mode, Some(trigger.clone()));
    let reads = Reads::for_trigger(&trigger);
    let loaded = if trigger.kind.is_beyond_s3() {
        if trigger.error_code.is_none() {
            // The core decides these (`cmkguard decide --state` shows it), but nothing
            // re-reads snapshots, AMIs, RDS snapshots, secrets or grants yet: deciding on an
            // empty state would be a guess, and "no findings" would read as compliant.
            out.ignored = Some(beyond_s3_not_built(&trigger));
            return out;
        }
        // A share EC2 refused under aws/ebs is decided from the event alone (the parser
        // lets no other failure through): the finding needs no state.
        Ok((
            Snapshot::default(),
            vec![
                "decided from the refused share alone: the snapshot / AMI was not re-read (no EC2 adapter yet), so its exemption tag is not known"
                    .to_string(),
            ],
        ))
    } else {
        load_snapshot_with(&trigger, deps, config, reads).await
    };
    let (mut snapshot, notes) = match loaded {
        Ok(x) => x,
        Err(e) => {
            out.errors.push(ErrorRecord::from_port("read", &e));
            return out;
        }
    };
    out.notes.extend(notes);
    let mut plan =
        match decide_reading_grants(&trigger, &mut snapshot, deps, config, &mut out.notes).await {
            Ok(p) => p,
            Err(e) => {
                out.errors.push(ErrorRecord::from_port("read", &e));
                return out;
            }
        };
    if reads == Reads::ByNeed {
        // The tags only now, and only when the plan has something they could exempt.
        match read_tags_if_needed(&plan, &mut snapshot, deps).await {
            Ok(false) => {}
            Ok(true) => {
                plan = match decide_reading_grants(
                    &trigger,
                    &mut snapshot,
                    deps,
                    config,
                    &mut out.notes,
                )
                .await
                {
                    Ok(p) => p,
                    Err(e) => {
                        out.errors.push(ErrorRecord::from_port("read", &e));
                        return out;
                    }
                }
            }
            Err(e) => {
                out.errors.push(ErrorRecord::from_port("read", &e));
                return out;
            }
        }
    }
    let mut results: Vec<WriteResult> = Vec::new();
    if plan.ignored.is_none() && config.mode == Mode::Enforce && !plan.steps.is_empty() {
        let (p, s, r) = execute(plan, snapshot, &trigger, deps, settings, &mut out).await;
        plan = p;
        snapshot = s;
        results = r;
    }
    let _ = &snapshot;
    out.ignored = plan.ignored.clone();
    out.notes.extend(plan.notes.iter().cloned());
    if plan.ignored.is_some() {
        // A deleted resource has nothing left to decide, but its findings are archived.
        if !plan.archived.is_empty() {
            let batch = FindingBatch {
                findings: Vec::new(),
                passed: Vec::new(),
                archived: plan.archived.clone(),
                time: now.to_string(),
                account: posting_account(settings),
                region: trigger.region.clone().unwrap_or_default(),
            };
            publish(&batch, deps, &mut out).await;
        }
        return out;
    }
    let published = published_findings(&plan, &results, &out.writes);
    out.fixed = published
        .iter()
        .filter(|p| p.status == FindingStatus::Fixed)
        .map(|p| p.finding.id.clone())
        .collect();
    out.findings = plan.findings.clone();
    out.passed = plan.passed.clone();
    let batch = FindingBatch {
        findings: published,
        passed: plan.passed.clone(),
        archived: plan.archived.clone(),
        time: now.to_string(),
        account: posting_account(settings),
        region: trigger
            .region
            .clone()
            .or_else(|| plan.findings.first().map(|f| f.region.clone()))
            .unwrap_or_default(),
    };
    publish(&batch, deps, &mut out).await;
    out
}

/// The account that posts the batch: the guardrail's own (settings: the Lambda's context, the
/// CLI's STS identity). Never the event's or a finding's account — a relayed record or a
/// caller-side diagnosis names another one — so when it is unknown the batch says so (empty)
/// and Security Hub refuses it rather than posting under a guessed account.
fn posting_account(settings: &Settings) -> String {
    settings.account.clone().unwrap_or_default()
}

/// Posts the batch to every sink, recording what each sent or the error.
async fn publish<B, K, W, S: FindingSink, I>(
    batch: &FindingBatch,
    deps: &Deps<B, K, W, S, I>,
    out: &mut RecordOutcome,
) {
    if batch.is_empty() {
        return;
    }
    for sink in &deps.sinks {
        match sink.publish(batch).await {
            Ok(sent) => out.published.push(SinkRecord {
                sink: sink.name().to_string(),
                sent,
            }),
            Err(e) => out.errors.push(ErrorRecord::from_port("publish", &e)),
        }
    }
}

/// `decide`, and when the plan says a key's grants could change a verdict, the grants read
/// and `decide` again (once: the second plan cannot ask for grants already read).
pub async fn decide_reading_grants<B, K: KeyReader, W, S, I>(
    trigger: &Trigger,
    snapshot: &mut Snapshot,
    deps: &Deps<B, K, W, S, I>,
    config: &crate::core::config::Config,
    notes: &mut Vec<String>,
) -> Result<Plan, PortError> {
    let plan = decide(trigger, snapshot, config);
    if plan.needs_grants.is_empty() || !read_needed_grants(&plan, snapshot, deps, notes).await? {
        return Ok(plan);
    }
    Ok(decide(trigger, snapshot, config))
}

/// The current time as RFC 3339 (UTC, milliseconds: Security Hub keeps an update only when
/// its `UpdatedAt` is newer). The app owns the clock; renderers get the string.
pub fn now_rfc3339() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    crate::core::time::rfc3339_millis(ms)
}

#[cfg(test)]
mod tests;
