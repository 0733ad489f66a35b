//! Enforce mode's writes, one plan step at a time: a fresh read right before each write
//! (the plan is made again once if the state moved since planning), the write, and a read-back
//! that proves the intended state and that no statement was lost. The first step that does not
//! complete stops the plan, so a CMK move never happens without the key grant planned before it.

use serde_json::Value;

use crate::config::Settings;
use crate::core::arn::partition_for_region;
use crate::core::decide::decide;
use crate::core::encryption::uses_key;
use crate::core::encryption_rule::{kept_fields_lost, moved_rule};
use crate::core::event::Trigger;
use crate::core::plan::{Plan, Step};
use crate::core::policy::patch::{normalise, statements_kept};
use crate::core::policy::secure_transport::{evaluate_tls, TlsStatus};
use crate::core::policy::Policy;
use crate::core::snapshot::Snapshot;
use crate::ports::{
    BucketReader, BucketWriter, Deps, FindingSink, KeyReader, KeyWriter, PortError,
};

use super::outcome::{ErrorRecord, RecordOutcome, WriteRecord, WriteResult};
use super::read::load_snapshot;

/// The result of the fresh read right before a write.
enum Fresh {
    /// The state is still what the plan was based on; for an encryption step, the fresh
    /// GetBucketEncryption output the written rule copies its other fields from.
    Unchanged(Option<Value>),
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
                Fresh::Unchanged(None)
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
                Fresh::Unchanged(now)
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
                Fresh::Unchanged(None)
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
                Fresh::Unchanged(None)
            }
        }
    })
}

/// Why a write is not verified. `retryable` when the read-back itself failed transiently
/// (throttling, 5xx): the write may well be in place, and a retry of the event settles it.
struct VerifyFailure {
    reason: String,
    retryable: bool,
}

impl From<String> for VerifyFailure {
    fn from(reason: String) -> Self {
        VerifyFailure {
            reason,
            retryable: false,
        }
    }
}

impl From<&str> for VerifyFailure {
    fn from(reason: &str) -> Self {
        reason.to_string().into()
    }
}

/// Reads the resource back and checks the write had the intended effect (and, for an
/// encryption rule, kept every field of `fresh` it did not mean to change).
async fn verify<B, K, W, S>(
    step: &Step,
    deps: &Deps<B, K, W, S>,
    partition: &str,
    fresh: Option<&Value>,
) -> Result<(), VerifyFailure>
where
    B: BucketReader,
    K: KeyReader,
{
    let read_err = |e: PortError| VerifyFailure {
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
            if !now.as_ref().is_some_and(|e| uses_key(e, kms_key_arn)) {
                return Err(format!(
                    "default encryption of {bucket} does not name {kms_key_arn} after the write"
                )
                .into());
            }
            let lost = kept_fields_lost(fresh, now.as_ref());
            if lost.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "the read-back of {bucket}'s encryption rule lost {} (held before the write): S3 may accept what they blocked; restore them",
                    lost.join(", ")
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

async fn write<W: BucketWriter + KeyWriter>(
    step: &Step,
    writer: &W,
    fresh: Option<&Value>,
) -> Result<(), PortError> {
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
            let rule = moved_rule(fresh, kms_key_arn, *bucket_key_enabled);
            writer
                .put_bucket_encryption(bucket, expected_bucket_owner, &rule)
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
pub(super) async fn execute<B, K, W, S>(
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
    W: BucketWriter + KeyWriter,
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
                Ok(Fresh::Unchanged(fresh)) => {
                    match write(step, &deps.writer, fresh.as_ref()).await {
                        Err(e) => {
                            out.errors.push(ErrorRecord::from_port("write", &e));
                            WriteResult::Failed {
                                error: e.to_string(),
                                retryable: e.retryable(),
                            }
                        }
                        Ok(()) => match verify(step, deps, partition, fresh.as_ref()).await {
                            Ok(()) => WriteResult::Verified,
                            Err(VerifyFailure { reason, retryable }) => {
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
                    }
                }
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
