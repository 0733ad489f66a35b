//! The guardrail's one entry point, shared by the Lambda and the CLI: parse the event → re-read
//! the current state (the event is a trigger, not the truth) → `decide` → in enforce mode make
//! the planned writes, each with a fresh read before (re-plan once if the state moved) and a
//! read-back after → publish findings → `Outcome`, returned and logged as one JSON line.
//!
//! Safety rules kept here: report mode never writes; the first failed or unverified write stops
//! the plan (a CMK move never happens without the key grant planned before it); a repeated
//! event finds nothing to do and makes zero writes.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use crate::config::Settings;
use crate::core::arn::partition_for_region;
use crate::core::config::Mode;
use crate::core::decide::decide;
use crate::core::encryption::{encryption_key_ref, uses_key};
use crate::core::event::{parse_event_value, EventInput, Parsed, Trigger, TriggerKind};
use crate::core::finding::{Finding, Passed, Remediation};
use crate::core::plan::{Plan, Step};
use crate::core::policy::patch::{normalise, statements_kept};
use crate::core::policy::secure_transport::{evaluate_tls, TlsStatus};
use crate::core::policy::Policy;
use crate::core::snapshot::Snapshot;
use crate::ports::{
    BucketReader, FindingBatch, FindingSink, FindingStatus, KeyRead, KeyReader, PortError,
    Published, Writer,
};

/// What the app talks to. Generic so the Lambda, the CLI and the tests can plug in the AWS
/// adapters, wrapped adapters or fakes, without dynamic dispatch.
pub struct Deps<B, K, W, S> {
    pub buckets: B,
    pub keys: K,
    pub writer: W,
    pub sinks: Vec<S>,
}

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
    fn new(mode: Mode, trigger: Option<Trigger>) -> Self {
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
    fn done(&self) -> bool {
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
    fn from_port(stage: &str, e: &PortError) -> Self {
        ErrorRecord {
            stage: stage.to_string(),
            operation: e.operation.to_string(),
            code: e.code.clone(),
            message: e.message.clone(),
            retryable: e.retryable(),
        }
    }
}

/// Handles one EventBridge event (or bare CloudTrail record, or CloudTrail log file). Never
/// panics on bad input: what cannot be used becomes an `ignored` reason or a classified error.
pub async fn handle<B, K, W, S>(
    event: &Value,
    deps: &Deps<B, K, W, S>,
    settings: &Settings,
) -> Outcome
where
    B: BucketReader,
    K: KeyReader,
    W: Writer,
    S: FindingSink,
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
pub async fn handle_trigger<B, K, W, S>(
    trigger: Trigger,
    deps: &Deps<B, K, W, S>,
    settings: &Settings,
    now: &str,
) -> RecordOutcome
where
    B: BucketReader,
    K: KeyReader,
    W: Writer,
    S: FindingSink,
{
    let config = &settings.core;
    let mut out = RecordOutcome::new(config.mode, Some(trigger.clone()));
    let (mut snapshot, notes) = match load_snapshot(&trigger, deps, config).await {
        Ok(x) => x,
        Err(e) => {
            out.errors.push(ErrorRecord::from_port("read", &e));
            return out;
        }
    };
    out.notes.extend(notes);
    let mut plan = decide(&trigger, &snapshot, config);
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
        time: now.to_string(),
        account: trigger
            .account
            .clone()
            .or_else(|| plan.findings.first().map(|f| f.account.clone()))
            .unwrap_or_default(),
        region: trigger
            .region
            .clone()
            .or_else(|| plan.findings.first().map(|f| f.region.clone()))
            .unwrap_or_default(),
    };
    if !batch.findings.is_empty() || !batch.passed.is_empty() {
        for sink in &deps.sinks {
            match sink.publish(&batch).await {
                Ok(sent) => out.published.push(SinkRecord {
                    sink: sink.name().to_string(),
                    sent,
                }),
                Err(e) => out.errors.push(ErrorRecord::from_port("publish", &e)),
            }
        }
    }
    out
}

/// The findings with their status: fixed when every step of their remediation was done.
fn published_findings(
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

/// The owner account and region a trigger's resources live in.
fn home(trigger: &Trigger) -> (Option<String>, Option<String>) {
    (
        trigger
            .owner_account
            .clone()
            .or_else(|| trigger.account.clone()),
        trigger.region.clone(),
    )
}

/// Reads what `decide` needs: the bucket (when the event is about one in this account), the
/// key its encryption names, the configured CMK and the trigger's key.
pub async fn load_snapshot<B, K, W, S>(
    trigger: &Trigger,
    deps: &Deps<B, K, W, S>,
    config: &crate::core::config::Config,
) -> Result<(Snapshot, Vec<String>), PortError>
where
    B: BucketReader,
    K: KeyReader,
{
    let mut snap = Snapshot::default();
    let mut notes = Vec::new();
    let (owner, region) = home(trigger);
    // In the caller's account of a cross-account denial the bucket is foreign: not ours to read.
    let recorded_in_owner = match (&trigger.account, &owner) {
        (Some(a), Some(o)) => a == o,
        _ => true,
    };
    let wants_bucket = matches!(
        trigger.kind,
        TriggerKind::BucketChanged | TriggerKind::AccessDenied
    ) && recorded_in_owner;
    // Round trips: the bucket's four reads and the configured CMK go out together; the key
    // the bucket's encryption names is known only after them. Bucket and AccessDenied
    // decisions need a key's metadata and policy (`read_key_for_bucket`), and its tags only
    // when a key-policy patch may be planned (the exemption tag is checked first); a key
    // event reads its key in full (rotation, tags, aliases).
    let bucket_read = async {
        match (wants_bucket, &trigger.bucket, &owner, &region) {
            (true, Some(bucket), Some(owner), Some(region)) => deps
                .buckets
                .read_bucket(bucket, owner, region)
                .await
                .map(Some),
            _ => Ok(None),
        }
    };
    let key_event = trigger.kind == TriggerKind::KeyChanged;
    let tags = config.patch_key_policy;
    let cmk_read = async {
        match &config.cmk_arn {
            Some(cmk) if !key_event => Some(deps.keys.read_key_for_bucket(cmk, tags).await),
            _ => None,
        }
    };
    let (bucket_state, cmk_result) = tokio::join!(bucket_read, cmk_read);
    let mut key_refs: Vec<(String, bool)> = Vec::new();
    if let Some(state) = bucket_state? {
        if let Some(k) = state.encryption.as_ref().and_then(encryption_key_ref) {
            key_refs.push((k, false));
        }
        snap.bucket = Some(state);
    }
    // The trigger's key before the CMK: when they are the same key, the full read wins.
    if let Some(k) = &trigger.key {
        if recorded_in_owner {
            key_refs.push((k.clone(), key_event));
        }
    }
    if let Some(cmk) = &config.cmk_arn {
        if key_event {
            key_refs.push((cmk.clone(), false));
        }
    }
    let mut seen = BTreeSet::new();
    let mut read_arns = BTreeSet::new();
    let mut reads = Vec::new();
    if let (Some(cmk), Some(result)) = (&config.cmk_arn, cmk_result) {
        seen.insert(cmk.clone());
        reads.push((cmk.clone(), result));
    }
    for (r, full) in key_refs {
        if !seen.insert(r.clone()) {
            continue;
        }
        let result = if full {
            deps.keys.read_key(&r).await
        } else {
            deps.keys.read_key_for_bucket(&r, tags).await
        };
        reads.push((r, result));
    }
    for (r, result) in reads {
        match result {
            Ok(KeyRead::Found { state, notes: n }) => {
                notes.extend(n);
                let arn = state
                    .metadata
                    .pointer("/KeyMetadata/Arn")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                if read_arns.insert(arn.clone()) {
                    snap.keys.push(*state);
                } else if let Some(known) = snap.keys.iter_mut().find(|k| {
                    k.metadata
                        .pointer("/KeyMetadata/Arn")
                        .and_then(Value::as_str)
                        == Some(arn.as_str())
                }) {
                    // The same key asked by another reference (an alias): keep what that
                    // read learned, so a lookup by the alias finds the key.
                    for a in state.aliases {
                        if !known.aliases.contains(&a) {
                            known.aliases.push(a);
                        }
                    }
                }
            }
            Ok(KeyRead::NotFound) => snap.keys_not_found.push(r),
            Err(e) if e.retryable() => return Err(e),
            Err(e) => notes.push(format!("key {r} not read: {e}")),
        }
    }
    Ok((snap, notes))
}

/// The result of the fresh read right before a write.
enum Fresh {
    /// The state is still what the plan was based on.
    Unchanged,
    /// The intended change is already there.
    AlreadyApplied,
    Changed(String),
}

async fn fresh_check<B, K, W, S>(
    step: &Step,
    snapshot: &Snapshot,
    deps: &Deps<B, K, W, S>,
) -> Result<Fresh, PortError>
where
    B: BucketReader,
    K: KeyReader,
{
    Ok(match step {
        Step::PutBucketPolicy {
            bucket,
            expected_bucket_owner,
            based_on,
            ..
        } => {
            let now = deps
                .buckets
                .read_bucket_policy(bucket, expected_bucket_owner)
                .await?;
            if normalise(now.as_ref()) == normalise(based_on.as_ref()) {
                Fresh::Unchanged
            } else {
                Fresh::Changed(format!(
                    "the bucket policy of {bucket} changed since planning"
                ))
            }
        }
        Step::PutBucketEncryption {
            bucket,
            expected_bucket_owner,
            kms_key_arn,
            ..
        } => {
            let now = deps
                .buckets
                .read_bucket_encryption(bucket, expected_bucket_owner)
                .await?;
            let planned_on = snapshot.bucket.as_ref().and_then(|b| b.encryption.clone());
            if now.as_ref().is_some_and(|e| uses_key(e, kms_key_arn)) {
                Fresh::AlreadyApplied
            } else if now == planned_on {
                Fresh::Unchanged
            } else {
                Fresh::Changed(format!(
                    "the default encryption of {bucket} changed since planning"
                ))
            }
        }
        Step::PutKeyPolicy {
            key_arn, based_on, ..
        } => {
            let now = deps.keys.read_key_policy(key_arn).await?;
            if normalise(now.as_ref()) == normalise(Some(based_on)) {
                Fresh::Unchanged
            } else {
                Fresh::Changed(format!(
                    "the key policy of {key_arn} changed since planning"
                ))
            }
        }
        Step::EnableKeyRotation { key_arn } => {
            if deps.keys.read_rotation(key_arn).await? {
                Fresh::AlreadyApplied
            } else {
                Fresh::Unchanged
            }
        }
    })
}

/// Why a write is not verified. `retryable` when the read-back itself failed transiently
/// (throttling, 5xx): the write may well be in place, and a retry of the event settles it.
struct Unverified {
    reason: String,
    retryable: bool,
}

impl From<String> for Unverified {
    fn from(reason: String) -> Self {
        Unverified {
            reason,
            retryable: false,
        }
    }
}

impl From<&str> for Unverified {
    fn from(reason: &str) -> Self {
        reason.to_string().into()
    }
}

/// Reads the resource back and checks the write had the intended effect.
async fn verify<B, K, W, S>(
    step: &Step,
    deps: &Deps<B, K, W, S>,
    partition: &str,
) -> Result<(), Unverified>
where
    B: BucketReader,
    K: KeyReader,
{
    let read_err = |e: PortError| Unverified {
        reason: format!("read-back failed: {e}"),
        retryable: e.retryable(),
    };
    match step {
        Step::PutBucketPolicy {
            bucket,
            expected_bucket_owner,
            based_on,
            sid,
            ..
        } => {
            let now = deps
                .buckets
                .read_bucket_policy(bucket, expected_bucket_owner)
                .await
                .map_err(read_err)?;
            let doc = normalise(now.as_ref()).ok_or("the bucket has no policy after the write")?;
            let policy = Policy::parse_any(&doc).map_err(|e| format!("policy unreadable: {e}"))?;
            let tls = evaluate_tls(Some(&policy), bucket, partition);
            if tls.status != TlsStatus::Enforced {
                return Err(format!(
                    "TLS is {:?} after the write: {}",
                    tls.status,
                    tls.gaps.join("; ")
                )
                .into());
            }
            Ok(statements_kept(
                normalise(based_on.as_ref()).as_ref(),
                &doc,
                Some(sid),
            )?)
        }
        Step::PutBucketEncryption {
            bucket,
            expected_bucket_owner,
            kms_key_arn,
            ..
        } => {
            let now = deps
                .buckets
                .read_bucket_encryption(bucket, expected_bucket_owner)
                .await
                .map_err(read_err)?;
            if now.as_ref().is_some_and(|e| uses_key(e, kms_key_arn)) {
                Ok(())
            } else {
                Err(format!(
                    "default encryption of {bucket} does not name {kms_key_arn} after the write"
                )
                .into())
            }
        }
        Step::PutKeyPolicy {
            key_arn,
            based_on,
            policy,
            ..
        } => {
            let now = deps.keys.read_key_policy(key_arn).await.map_err(read_err)?;
            let doc = normalise(now.as_ref()).ok_or("the key has no policy after the write")?;
            statements_kept(Some(based_on), &doc, None)?;
            Ok(statements_kept(Some(policy), &doc, None)
                .map_err(|e| format!("the written grant is not in place: {e}"))?)
        }
        Step::EnableKeyRotation { key_arn } => match deps.keys.read_rotation(key_arn).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(format!("rotation of {key_arn} is still disabled").into()),
            Err(e) => Err(read_err(e)),
        },
    }
}

async fn write<W: Writer>(step: &Step, writer: &W) -> Result<(), PortError> {
    match step {
        Step::PutBucketPolicy {
            bucket,
            expected_bucket_owner,
            policy,
            ..
        } => {
            writer
                .put_bucket_policy(bucket, expected_bucket_owner, &policy.to_string())
                .await
        }
        Step::PutBucketEncryption {
            bucket,
            expected_bucket_owner,
            kms_key_arn,
            bucket_key_enabled,
        } => {
            writer
                .put_bucket_encryption(
                    bucket,
                    expected_bucket_owner,
                    kms_key_arn,
                    *bucket_key_enabled,
                )
                .await
        }
        Step::PutKeyPolicy {
            key_arn,
            policy_name,
            policy,
            ..
        } => {
            writer
                .put_key_policy(key_arn, policy_name, &policy.to_string())
                .await
        }
        Step::EnableKeyRotation { key_arn } => writer.enable_key_rotation(key_arn).await,
    }
}

/// Executes the plan's steps in order. Returns the final plan (re-made at most once), the
/// snapshot it was made from, and one result per step of that plan.
async fn execute<B, K, W, S>(
    mut plan: Plan,
    mut snapshot: Snapshot,
    trigger: &Trigger,
    deps: &Deps<B, K, W, S>,
    settings: &Settings,
    out: &mut RecordOutcome,
) -> (Plan, Snapshot, Vec<WriteResult>)
where
    B: BucketReader,
    K: KeyReader,
    W: Writer,
    S: FindingSink,
{
    let partition = partition_for_region(trigger.region.as_deref().unwrap_or_default());
    'plan: loop {
        let steps = plan.steps.clone();
        let mut results: Vec<WriteResult> = Vec::with_capacity(steps.len());
        let mut stop: Option<String> = None;
        for step in &steps {
            let record = |result: WriteResult| WriteRecord {
                api: step.api().to_string(),
                target: step.target().to_string(),
                result,
            };
            if let Some(why) = &stop {
                let r = WriteResult::Skipped {
                    reason: why.clone(),
                };
                out.writes.push(record(r.clone()));
                results.push(r);
                continue;
            }
            let result = match fresh_check(step, &snapshot, deps).await {
                Err(e) => {
                    out.errors.push(ErrorRecord::from_port("read", &e));
                    WriteResult::Failed {
                        error: format!("fresh read before the write failed: {e}"),
                        retryable: e.retryable(),
                    }
                }
                Ok(Fresh::AlreadyApplied) => WriteResult::AlreadyApplied,
                Ok(Fresh::Changed(why)) if !out.replanned => {
                    out.replanned = true;
                    out.notes.push(format!("{why}: re-read and planned again"));
                    match load_snapshot(trigger, deps, &settings.core).await {
                        Ok((s, n)) => {
                            out.notes.extend(n);
                            plan = decide(trigger, &s, &settings.core);
                            snapshot = s;
                            if plan.ignored.is_some() || plan.steps.is_empty() {
                                return (plan, snapshot, Vec::new());
                            }
                            continue 'plan;
                        }
                        Err(e) => {
                            out.errors.push(ErrorRecord::from_port("read", &e));
                            WriteResult::Failed {
                                error: format!("re-read for re-planning failed: {e}"),
                                retryable: e.retryable(),
                            }
                        }
                    }
                }
                Ok(Fresh::Changed(why)) => WriteResult::Skipped {
                    reason: format!("{why} again after re-planning: not written"),
                },
                Ok(Fresh::Unchanged) => match write(step, &deps.writer).await {
                    Err(e) => {
                        out.errors.push(ErrorRecord::from_port("write", &e));
                        WriteResult::Failed {
                            error: e.to_string(),
                            retryable: e.retryable(),
                        }
                    }
                    Ok(()) => match verify(step, deps, partition).await {
                        Ok(()) => WriteResult::Verified,
                        Err(Unverified { reason, retryable }) => {
                            out.errors.push(ErrorRecord {
                                stage: "verify".into(),
                                operation: step.api().into(),
                                code: "Unverified".into(),
                                message: reason.clone(),
                                retryable,
                            });
                            WriteResult::Unverified { reason }
                        }
                    },
                },
            };
            if !result.done() {
                stop = Some(format!(
                    "an earlier write ({} on {}) did not complete",
                    step.api(),
                    step.target()
                ));
            }
            out.writes.push(record(result.clone()));
            results.push(result);
        }
        return (plan, snapshot, results);
    }
}

/// The current time as RFC 3339 (UTC, seconds). The app owns the clock; renderers get the
/// string.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    crate::core::time::rfc3339(secs)
}
