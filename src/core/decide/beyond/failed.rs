//! The share EC2 refused (DOMAIN-BEYOND-S3.md §6, §7): `ModifySnapshotAttribute` failing with
//! `OperationNotPermitted` "Encrypted snapshots with EBS default key cannot be shared", or
//! `ModifyImageAttribute` with `InvalidParameter` "Snapshots encrypted with the AWS Managed CMK
//! can't be shared". Nothing changed, but someone tried to share data under `aws/ebs`: that
//! is `SHARED_SNAPSHOT_AWS_MANAGED_KEY` / `SHARED_IMAGE_AWS_MANAGED_KEY` as "share attempted",
//! decided from the event alone (the state, when read, adds the exemption tag), with the fix:
//! copy under a CMK and share the copy.

use super::super::builder::{Draft, PlanBuilder, Resource};
use super::carrier::copy_fix;
use super::{exempt, id_of};
use crate::core::beyond::key_set::Carrier;
use crate::core::beyond::BeyondState;
use crate::core::event::{Trigger, TriggerKind};
use crate::core::finding::{ResourceType, RuleId, Severity};
use crate::core::snapshot::Snapshot;

pub(super) fn evaluate(
    b: &mut PlanBuilder,
    trigger: &Trigger,
    _snap: &Snapshot,
    state: &BeyondState,
) {
    let (rule, kind, carrier) = match trigger.kind {
        TriggerKind::SnapshotChanged => (
            RuleId::SharedSnapshotAwsManagedKey,
            ResourceType::AwsEc2Snapshot,
            Carrier::EbsSnapshot,
        ),
        TriggerKind::ImageChanged => (
            RuleId::SharedImageAwsManagedKey,
            ResourceType::AwsEc2Image,
            Carrier::Image,
        ),
        _ => {
            return b.ignore_in_place(format!(
                "{} failed with {}: nothing was applied",
                trigger.event_name,
                trigger.error_code.as_deref().unwrap_or_default()
            ))
        }
    };
    let arn = trigger.resource_arn.clone().unwrap_or_default();
    let id = id_of(&arn);
    let account = trigger
        .owner_account
        .clone()
        .or_else(|| trigger.account.clone())
        .unwrap_or_default();
    let region = trigger.region.clone().unwrap_or_default();
    let tags = match carrier {
        Carrier::EbsSnapshot => state.ebs_snapshot(id).map(|s| s.tags.clone()),
        _ => state.image(id).map(|i| i.tags.clone()),
    };
    let ex = tags.is_some_and(|t| exempt(b, &t));
    let res = Resource {
        kind,
        arn: arn.clone(),
        account,
        region,
    };
    let attempted: Vec<String> = trigger
        .change
        .iter()
        .flat_map(|c| c.added.iter())
        .map(|s| s.describe())
        .collect();
    let mut reasons = vec![format!(
        "{} on {id} by {} failed with {}: \"{}\" — the share was attempted and refused",
        trigger.event_name,
        trigger
            .principal_arn
            .as_deref()
            .unwrap_or("an unknown principal"),
        trigger.error_code.as_deref().unwrap_or_default(),
        trigger.error_message.as_deref().unwrap_or_default(),
    )];
    if !attempted.is_empty() {
        reasons.push(format!("it tried to share with {}", attempted.join(", ")));
    }
    reasons.push(format!(
        "the {} is encrypted with the AWS managed key aws/ebs, whose policy admits only its own account: EC2 refuses to share it, and a sharee could not {} anyway",
        carrier.noun(),
        carrier.use_verb()
    ));
    let cmk = b
        .config
        .cmk_arn
        .clone()
        .unwrap_or_else(|| "<customer managed key ARN>".into());
    let fix = copy_fix(carrier, &res, &cmk);
    b.add(
        &res,
        ex,
        Draft::new(
            rule,
            Severity::High,
            reasons,
            fix,
            Err("report only: the re-encrypted copy patch is not built yet".into()),
        ),
    );
}
