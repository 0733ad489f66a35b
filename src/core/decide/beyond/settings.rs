//! `EBS_DEFAULT_KEY_AWS_MANAGED` (DOMAIN-BEYOND-S3.md §6, low): the region's EBS default key is
//! `aws/ebs` (GetEbsDefaultKmsKeyId says `alias/aws/ebs`, or names a key DescribeKey calls AWS
//! managed) while the account shares snapshots or AMIs there — every new encrypted snapshot
//! will be unshareable. Judged with a snapshot or AMI and on the region's settings events.
//! Whether a CMK set as the default is refused too is [U]; AWS docs imply not, so a CMK passes.

use super::super::builder::{Draft, PlanBuilder, Resource};
use crate::core::arn::{partition_for_region, KmsRef};
use crate::core::beyond::shared::{image_sharing, snapshot_sharing};
use crate::core::beyond::BeyondState;
use crate::core::event::Trigger;
use crate::core::finding::{ResourceType, RuleId, Severity};
use crate::core::key_class::KeyClass;
use crate::core::snapshot::{KeyLookup, Snapshot};

/// The pseudo-ARN findings about a region's EBS settings carry: there is no resource ARN for
/// an account setting, and a stable one keeps the finding id stable.
pub fn ebs_settings_arn(account: &str, region: &str) -> String {
    format!(
        "arn:{}:ec2:{region}:{account}:ebs-default-kms-key",
        partition_for_region(region)
    )
}

pub(super) fn default_key_rule(
    b: &mut PlanBuilder,
    snap: &Snapshot,
    state: &BeyondState,
    account: &str,
    region: &str,
) {
    let rule = RuleId::EbsDefaultKeyAwsManaged;
    let Some(settings) = state.ec2_settings(region) else {
        return; // Not read: nothing said (the settings are optional in a state file).
    };
    let res = Resource {
        kind: ResourceType::AwsAccount,
        arn: ebs_settings_arn(account, region),
        account: account.to_string(),
        region: region.to_string(),
    };
    let Some(id) = settings.ebs_default_kms_key_id.as_deref() else {
        return b.undetermined(
            rule,
            format!("the EBS default key of {region} was not read (GetEbsDefaultKmsKeyId)"),
        );
    };
    let aws_managed = match KmsRef::parse(id) {
        Some(KmsRef::AliasName { alias }) | Some(KmsRef::AliasArn { alias, .. }) => {
            Some(alias.eq_ignore_ascii_case("alias/aws/ebs"))
        }
        Some(r) => match snap.lookup_key(&r, account, region) {
            KeyLookup::Found(k) => Some(k.info.class == KeyClass::AwsManaged),
            _ => None,
        },
        None => None,
    };
    let Some(aws_managed) = aws_managed else {
        return b.undetermined(rule, format!("the EBS default key {id} of {region} could not be classified (DescribeKey not read)"));
    };
    let shared: Vec<String> = state
        .ebs_snapshots
        .iter()
        .filter(|s| s.exists && s.region.as_deref().unwrap_or(region) == region)
        .filter(|s| snapshot_sharing(s, account, state, region, &b.config.trust).shared)
        .map(|s| format!("snapshot {}", s.snapshot_id))
        .chain(
            state
                .images
                .iter()
                .filter(|i| i.exists && i.region.as_deref().unwrap_or(region) == region)
                .filter(|i| image_sharing(i, account, &b.config.trust).shared)
                .map(|i| format!("AMI {}", i.image_id)),
        )
        .collect();
    if aws_managed && !shared.is_empty() {
        let reasons = vec![
            format!("the EBS default key of {region} is {id}, the AWS managed key aws/ebs{}",
                match settings.ebs_encryption_by_default {
                    Some(true) => " (encryption by default is on: every new volume and snapshot uses it)",
                    Some(false) => " (encryption by default is off: volumes encrypted without a key choice use it)",
                    None => "",
                }),
            format!("the account shares in this region: {}", shared.join(", ")),
            "snapshots and AMIs under aws/ebs cannot be shared: EC2 refuses the share".into(),
        ];
        let cmk = b
            .config
            .cmk_arn
            .clone()
            .unwrap_or_else(|| "<customer managed key ARN>".into());
        let fix =
            format!("aws ec2 modify-ebs-default-kms-key-id --region {region} --kms-key-id {cmk}");
        b.add(
            &res,
            false,
            Draft::new(
                rule,
                Severity::Low,
                reasons,
                fix,
                Err("report only: cmkguard never changes EBS default settings".into()),
            ),
        );
    }
    b.pass_others(&res, &[rule]);
}

/// A settings event: the region's settings against what the account shares there.
pub(super) fn evaluate_event(
    b: &mut PlanBuilder,
    trigger: &Trigger,
    snap: &Snapshot,
    state: &BeyondState,
) {
    let account = trigger
        .owner_account
        .clone()
        .or_else(|| trigger.account.clone())
        .unwrap_or_default();
    let region = trigger.region.clone().unwrap_or_default();
    b.set_subject(&ebs_settings_arn(&account, &region));
    if state.ec2_settings(&region).is_none() {
        return b.ignore_in_place(format!("the EBS settings of {region}: {}", super::NOT_READ));
    }
    default_key_rule(b, snap, state, &account, &region);
}
