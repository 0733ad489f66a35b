//! The state a decision is made on: the event is a trigger, not the truth, so the bucket, the
//! key its encryption names, the configured CMK and the trigger's key are re-read here — in as
//! few round trips as the dependencies allow — into the `Snapshot` that `decide` takes. A
//! denial recorded on the caller's side reads the denied principal's identity policies
//! instead (the owner's bucket and key are not ours to read); a key's grants are read only
//! when a first decision says they could change its verdict (`read_needed_grants`).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::core::decide::{bucket_needs_encryption, plan_needs_tags};
use crate::core::encryption::encryption_key_ref;
use crate::core::event::{Side, Trigger, TriggerKind};
use crate::core::iam::{principal_of, IamPrincipal};
use crate::core::plan::Plan;
use crate::core::schedule::is_swept_bucket;
use crate::core::snapshot::Snapshot;
use crate::ports::{
    BucketParts, BucketReader, Deps, IdentityReader, KeyRead, KeyReader, PortError,
};

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

/// How much of a bucket to read up front.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// All four documents in one round trip: an event's single round trip (depth 1).
    Everything,
    /// The sweep's reads by need: policy and ACL, then the encryption only when the bucket is
    /// shared; the tags are left for `read_tags_if_needed` once the plan is known.
    ByNeed,
}

impl Reads {
    /// By need for a bucket the sweep synthesised, everything for an event.
    pub fn for_trigger(trigger: &Trigger) -> Reads {
        if is_swept_bucket(trigger) {
            Reads::ByNeed
        } else {
            Reads::Everything
        }
    }
}

/// Reads what `decide` needs: the bucket (when the event is about one in this account), the
/// key its encryption names, the configured CMK and the trigger's key.
pub async fn load_snapshot<B, K, W, S, I>(
    trigger: &Trigger,
    deps: &Deps<B, K, W, S, I>,
    config: &crate::core::config::Config,
) -> Result<(Snapshot, Vec<String>), PortError>
where
    B: BucketReader,
    K: KeyReader,
    I: IdentityReader,
{
    load_snapshot_with(trigger, deps, config, Reads::Everything).await
}

/// [`load_snapshot`], reading the bucket as `reads` says.
pub async fn load_snapshot_with<B, K, W, S, I>(
    trigger: &Trigger,
    deps: &Deps<B, K, W, S, I>,
    config: &crate::core::config::Config,
    reads: Reads,
) -> Result<(Snapshot, Vec<String>), PortError>
where
    B: BucketReader,
    K: KeyReader,
    I: IdentityReader,
{
    let mut snap = Snapshot::default();
    let mut notes = Vec::new();
    let (owner, region) = home(trigger);
    // In the caller's account of a cross-account denial the bucket is foreign: not ours to read.
    let recorded_in_owner = match (trigger.side, &trigger.account, &owner) {
        (Some(side), _, _) => side == Side::Owner,
        (None, Some(a), Some(o)) => a == o,
        _ => true,
    };
    if trigger.kind == TriggerKind::AccessDenied && trigger.side == Some(Side::Caller) {
        read_identity(trigger, deps, &mut snap, &mut notes).await?;
    }
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
            (true, Some(bucket), Some(owner), Some(region)) => match reads {
                Reads::Everything => deps
                    .buckets
                    .read_bucket(bucket, owner, region)
                    .await
                    .map(Some),
                Reads::ByNeed => {
                    let mut state = deps
                        .buckets
                        .read_bucket_parts(bucket, owner, region, BucketParts::ACCESS)
                        .await?;
                    if bucket_needs_encryption(&state, &config.trust) {
                        state.encryption =
                            deps.buckets.read_bucket_encryption(bucket, owner).await?;
                    }
                    Ok(Some(state))
                }
            },
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

/// The sweep's last read by need: a bucket's tags, when the plan has a finding to mark
/// exempt or a step to hold back (`plan_needs_tags`). Returns whether the snapshot changed,
/// so the caller decides again; a bucket gone since the first read becomes `exists: false`.
pub async fn read_tags_if_needed<B: BucketReader, K, W, S, I>(
    plan: &Plan,
    snap: &mut Snapshot,
    deps: &Deps<B, K, W, S, I>,
) -> Result<bool, PortError> {
    if !plan_needs_tags(plan) {
        return Ok(false);
    }
    let Some(state) = snap.bucket.as_mut().filter(|b| b.exists) else {
        return Ok(false);
    };
    match deps
        .buckets
        .read_bucket_tags(&state.name, &state.account, &state.region)
        .await
    {
        Ok(tags) => state.tags = tags,
        Err(e) if e.code == "NoSuchBucket" => state.exists = false,
        Err(e) => return Err(e),
    }
    Ok(true)
}

/// The caller's half: the denied principal's identity policies (its role, for a session).
async fn read_identity<B, K, W, S, I: IdentityReader>(
    trigger: &Trigger,
    deps: &Deps<B, K, W, S, I>,
    snap: &mut Snapshot,
    notes: &mut Vec<String>,
) -> Result<(), PortError> {
    let principal = principal_of(
        trigger.principal_arn.as_deref(),
        trigger.session_issuer_arn.as_deref(),
    );
    let arn = match principal {
        IamPrincipal::Role { arn, .. } | IamPrincipal::User { arn, .. } => arn,
        IamPrincipal::Root { .. } | IamPrincipal::Other(_) => return Ok(()),
    };
    match deps.identities.read_identity(&arn).await {
        Ok(identity) => snap.identity = Some(identity),
        Err(e) if e.retryable() => return Err(e),
        Err(e) => notes.push(format!("identity of {arn} not read: {e}")),
    }
    Ok(())
}

/// Reads the grants of the keys a plan asks for (`Plan::needs_grants`) into the snapshot.
/// Returns whether any was read, so the caller decides again; a key whose grants cannot be
/// read for a permanent reason is noted and keeps its verdict on the key policy alone.
pub async fn read_needed_grants<B, K: KeyReader, W, S, I>(
    plan: &Plan,
    snap: &mut Snapshot,
    deps: &Deps<B, K, W, S, I>,
    notes: &mut Vec<String>,
) -> Result<bool, PortError> {
    let mut read_any = false;
    for arn in &plan.needs_grants {
        let Some(state) = snap.keys.iter_mut().find(|k| {
            k.metadata
                .pointer("/KeyMetadata/Arn")
                .and_then(Value::as_str)
                == Some(arn.as_str())
        }) else {
            continue;
        };
        if state.grants.is_some() {
            continue;
        }
        match deps.keys.read_grants(arn).await {
            Ok(grants) => {
                state.grants = Some(grants);
                read_any = true;
            }
            Err(e) if e.retryable() => return Err(e),
            Err(e) => notes.push(format!("grants of {arn} not read: {e}")),
        }
    }
    Ok(read_any)
}
