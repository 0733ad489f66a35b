//! Cross-account AccessDenied diagnosis (DOMAIN.md §6): each account names the half of the
//! handshake it can see. Which one it is follows from the record's side (`event::Side`):
//!
//! - **owner** (its own copy, or one relayed to it): re-read bucket policy, ACL, encryption
//!   and key (metadata, policy, grants) and name the missing owner half (`owner`);
//! - **caller** (where AWS always logs it; the owner is redacted from S3 records there):
//!   evaluate the denied principal's identity policies and boundary against the foreign ARN
//!   and name the missing caller half, or say the caller half is complete and give the owner
//!   (account or "unknown") its checklist (`caller`);
//! - **third party** (an organisation trail): only the checklist.
//!
//! Every diagnosis carries the statements to paste on each side (see `paste`), and a denial
//! whose message blames an SCP, RCP, permissions boundary, session policy or VPC endpoint
//! policy says so first instead of blaming the owner's policies (`denial`).
//!
//! The finding's reasons read: the denial, then `verdict: …`, then each missing piece. A
//! finding outside the owner's account belongs to the account that posts it (Security Hub
//! takes only the calling account's `AwsAccountId`, DOMAIN.md §9): its `account` is the
//! recording account, the foreign bucket or key is its `resource_arn`.

mod caller;
mod denial;
mod owner;
pub mod paste;

use serde_json::Value;

use super::bucket::grant_statement;
use super::builder::{Draft, PlanBuilder, Resource};
use crate::core::arn::{partition_for_region, KmsRef};
use crate::core::event::{Side, Trigger};
use crate::core::finding::{RuleId, Severity};
use crate::core::snapshot::Snapshot;
use denial::Denial;
use paste::{caller_policy, direct_key_statement, render_fix, Block, S3Access, CALLER_IAM};

/// Prefix of the verdict reason (the second reason of every diagnosis).
pub const VERDICT: &str = "verdict: ";

/// What the denied request touched and which account answers for what.
struct Ctx<'a> {
    caller: &'a str,
    /// The owner, when the record says (S3 redacts it in the caller's copy).
    owner_account: Option<&'a str>,
    /// The owner for sentences: its account id, or "unknown".
    owner: &'a str,
    region: &'a str,
    partition: &'static str,
    /// The S3 permission involved: the denied S3 call, or the S3 call behind a KMS call.
    s3: Option<S3Access>,
    /// The KMS actions the caller needs on the key (empty: no KMS involved as far as known).
    kms_actions: Vec<String>,
    /// The KMS action denied, for a KMS record.
    kms_action: Option<String>,
}

/// A diagnosis under construction.
struct Diagnosis {
    resource: Resource,
    verdict: Option<String>,
    missing: Vec<String>,
    blocks: Vec<Block>,
    /// Full key ARN of the customer managed key involved, when known.
    key_arn: Option<String>,
    /// Set when the key turned out to be AWS managed (its ARN).
    aws_managed_key: Option<String>,
    bucket: Option<String>,
    /// The caller's IAM policy statements are already in `blocks` (the caller side names
    /// only what is missing); `finish` adds the whole policy otherwise.
    caller_blocks_done: bool,
    /// A key whose grants were not read and could complete the caller's key half.
    wants_grants: Option<String>,
}

impl Diagnosis {
    fn new(resource: Resource, bucket: Option<String>) -> Self {
        Diagnosis {
            resource,
            verdict: None,
            missing: Vec::new(),
            blocks: Vec::new(),
            key_arn: None,
            aws_managed_key: None,
            bucket,
            caller_blocks_done: false,
            wants_grants: None,
        }
    }
}

/// The owner text of an unknown owner.
const UNKNOWN_OWNER: &str = "unknown";

pub fn evaluate(b: &mut PlanBuilder, trigger: &Trigger, snap: &Snapshot) {
    let Some(caller) = trigger.caller_account.clone().filter(|c| !c.is_empty()) else {
        return b.ignore_in_place("AccessDenied record without a caller account".into());
    };
    let owner_account = trigger.owner_account.clone().filter(|o| !o.is_empty());
    let (owner_account, side) = match trigger.side {
        Some(side) => (owner_account, side),
        // A trigger written by hand (a state file, an older caller): the owner falls back to
        // the recording account, and the side follows from who recorded it.
        None => {
            let Some(owner) = owner_account.or_else(|| trigger.account.clone()) else {
                return b.ignore_in_place(
                    "AccessDenied record names no resource owner or recipient account".into(),
                );
            };
            let recorded = trigger.account.clone().unwrap_or_else(|| owner.clone());
            let side = if recorded == owner {
                Side::Owner
            } else if recorded == caller {
                Side::Caller
            } else {
                Side::ThirdParty
            };
            (Some(owner), side)
        }
    };
    if owner_account.as_deref() == Some(caller.as_str()) {
        return b.ignore_in_place(format!(
            "AccessDenied within account {caller}: not a cross-account handshake problem"
        ));
    }
    if side == Side::Owner && owner_account.is_none() {
        return b.ignore_in_place(
            "AccessDenied on the owner's side without the owner's account".into(),
        );
    }
    let region = trigger.region.clone().unwrap_or_default();
    let is_s3 = trigger.event_source.starts_with("s3");
    let recorded = trigger
        .account
        .clone()
        .or_else(|| owner_account.clone())
        .unwrap_or_else(|| caller.clone());
    let key_ref = trigger.key.as_deref().and_then(KmsRef::parse);
    if is_s3 && trigger.bucket.is_none() {
        return b.ignore_in_place("S3 AccessDenied record names no bucket".into());
    }
    if !is_s3 && trigger.key.is_none() && trigger.bucket.is_none() {
        return b
            .ignore_in_place("KMS AccessDenied record names neither a key nor a bucket".into());
    }
    let (s3, kms_action) = if is_s3 {
        (Some(S3Access::of_event(&trigger.event_name)), None)
    } else {
        let via_s3 = trigger.bucket.is_some();
        (
            via_s3.then(|| S3Access::behind_kms(&trigger.event_name)),
            Some(format!("kms:{}", trigger.event_name)),
        )
    };
    let mut kms_actions: Vec<String> = kms_action.iter().cloned().collect();
    for a in s3.iter().flat_map(S3Access::kms_actions) {
        if !kms_actions.contains(&a) {
            kms_actions.push(a);
        }
    }
    let ctx = Ctx {
        caller: &caller,
        owner_account: owner_account.as_deref(),
        owner: owner_account.as_deref().unwrap_or(UNKNOWN_OWNER),
        region: &region,
        partition: partition_for_region(&region),
        s3,
        kms_actions,
        kms_action,
    };

    let mut d = match side {
        Side::Owner if is_s3 => {
            let bucket = trigger.bucket.as_deref().unwrap_or_default();
            match owner::owner_side_s3(b, snap, bucket, &ctx) {
                Ok(d) => d,
                Err(why) => return b.ignore_in_place(why),
            }
        }
        Side::Owner => match owner::owner_side_kms(b, snap, trigger, key_ref.as_ref(), &ctx) {
            Ok(d) => d,
            Err(why) => return b.ignore_in_place(why),
        },
        Side::Caller => caller::caller_side(b, trigger, snap, &ctx, &recorded, key_ref.as_ref()),
        Side::ThirdParty => caller::checklist(trigger, &ctx, &recorded, key_ref.as_ref()),
    };
    if let Some(r) = &key_ref {
        named_key_warning(r, &ctx, &recorded, &mut d);
    }
    finish(b, trigger, &ctx, d);
}

/// Adds the verdict, the caller's IAM policy and the summary, and records the finding.
fn finish(b: &mut PlanBuilder, trigger: &Trigger, ctx: &Ctx, mut d: Diagnosis) {
    if let Some(key) = d.wants_grants.take() {
        b.need_grants(&key);
    }
    let denial = trigger
        .error_message
        .as_deref()
        .and_then(Denial::from_message);
    let complete = d.missing.is_empty();
    let verdict = match (denial, d.verdict.take()) {
        (Some(den), _) if !den.blames_owner_policies() => den.describe(ctx.caller, ctx.owner),
        (_, Some(v)) => v,
        (Some(den), None) if !complete => den.describe(ctx.caller, ctx.owner),
        (_, None) if complete => "owner side complete: the caller's side is missing".to_string(),
        (_, None) => "owner side incomplete: the owner's half of the handshake is missing".into(),
    };
    if complete && d.verdict.is_none() {
        let s3 = match (&ctx.s3, &d.bucket) {
            (Some(a), Some(bucket)) => {
                format!("{} on {} and ", a.action, a.resource(ctx.partition, bucket))
            }
            _ => String::new(),
        };
        let kms = match (&d.key_arn, ctx.kms_actions.is_empty()) {
            (Some(k), false) => format!("{} on {k}", ctx.kms_actions.join(" / ")),
            _ => "no KMS action (no customer managed key involved)".to_string(),
        };
        d.missing.push(format!(
            "owner side complete: the caller's IAM policy in {} must allow {s3}{kms}",
            ctx.caller
        ));
    }
    if !d.caller_blocks_done {
        let s3_part = match (&ctx.s3, &d.bucket) {
            (Some(a), Some(bucket)) => Some((a, ctx.partition, bucket.as_str())),
            _ => None,
        };
        let kms_part = d
            .key_arn
            .as_deref()
            .map(|k| (ctx.kms_actions.as_slice(), k));
        d.blocks.push(Block::new(
            CALLER_IAM,
            format!(
                "attach this policy to the denied principal {} in account {}",
                trigger.principal_arn.as_deref().unwrap_or("(the caller)"),
                ctx.caller
            ),
            caller_policy(s3_part, kms_part),
        ));
    }
    let action = match (&ctx.kms_action, &ctx.s3) {
        (Some(k), _) => k.clone(),
        (None, Some(a)) => a.action.clone(),
        (None, None) => trigger.event_name.clone(),
    };
    let mut reasons = vec![
        format!(
            "{} in account {} was denied {action} ({}) on {} of account {}",
            trigger.principal_arn.as_deref().unwrap_or("a principal"),
            ctx.caller,
            trigger.event_name,
            d.resource.arn,
            ctx.owner
        ),
        format!("{VERDICT}{verdict}"),
    ];
    reasons.append(&mut d.missing);
    let summary = "Paste each statement into the policy its heading names (the owner's \
                   bucket policy / key policy: add to the Statement array; the caller: attach \
                   as an IAM policy). Statements already in place change nothing.";
    b.set_subject(&d.resource.arn);
    b.add(
        &d.resource,
        false,
        Draft {
            rule: RuleId::AccessDeniedDiagnosis,
            severity: Severity::Medium,
            reasons,
            fix: render_fix(summary, &d.blocks),
            remedy: Err("a diagnosis: the fix spans two accounts and is applied by hand".into()),
            discriminator: format!("{}|{action}", ctx.caller),
        },
    );
}

/// The key as the record names it: an alias or bare id only ever resolves in the caller's own
/// account, and IAM policies / key grants match the key ARN, never an alias.
fn named_key_warning(r: &KmsRef, ctx: &Ctx, recorded: &str, d: &mut Diagnosis) {
    let resolved = d
        .key_arn
        .as_deref()
        .map(|k| format!(" ({k})"))
        .unwrap_or_default();
    match r {
        KmsRef::KeyArn { .. } => {}
        KmsRef::AliasArn { .. } => d.missing.push(format!(
            "the caller named the key by alias ARN '{}'{resolved}: the call may use it, but IAM policies and key policies match the key ARN only, so the caller's IAM policy must name the full key ARN",
            r.text()
        )),
        KmsRef::AliasName { .. } | KmsRef::KeyId { .. } if recorded != ctx.caller => d.missing.push(format!(
            "the key is named '{}'{resolved}: an alias or bare key id resolves in the caller's own account {}, so it never reaches account {}'s key; the caller must use the full key ARN",
            r.text(),
            ctx.caller,
            ctx.owner
        )),
        KmsRef::AliasName { .. } | KmsRef::KeyId { .. } => d.missing.push(format!(
            "the caller named the key '{}': KMS resolved it in the caller's own account {}, not in account {}; use the owner's full key ARN",
            r.text(),
            ctx.caller,
            ctx.owner
        )),
    }
}

/// The key policy statement for the caller: usage through S3 only when S3 is in between,
/// else the denied KMS action itself.
fn owner_key_statement(ctx: &Ctx, partition: &str, key_region: &str) -> Value {
    match (&ctx.s3, &ctx.kms_action) {
        (None, Some(action)) => direct_key_statement(action, partition, ctx.caller),
        _ => grant_statement(ctx.caller, partition, key_region),
    }
}

#[cfg(test)]
mod tests;
