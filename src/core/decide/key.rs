//! Key rules for customer managed keys: rotation (patched only on eligible keys), external
//! admin rights and public key policies (reported, never patched: removing access is not ours
//! to do).

use super::builder::{Draft, PlanBuilder, Resource};
use crate::core::arn::KmsRef;
use crate::core::event::Trigger;
use crate::core::finding::{ResourceType, RuleId, Severity};
use crate::core::key_class::{KeyClass, Rotation};
use crate::core::plan::Step;
use crate::core::policy::key_policy::analyse_key_policy;
use crate::core::policy::Policy;
use crate::core::snapshot::{KeyLookup, Snapshot};

pub const KEY_RULES: [RuleId; 3] = [
    RuleId::KeyRotationDisabled,
    RuleId::KeyExternalAdmin,
    RuleId::KeyPublic,
];

pub fn evaluate(b: &mut PlanBuilder, trigger: &Trigger, snap: &Snapshot) {
    let Some(text) = trigger.key.as_deref() else {
        return b.ignore_in_place("key event names no key".to_string());
    };
    let Some(r) = KmsRef::parse(text) else {
        return b.ignore_in_place(format!("'{text}' is not a KMS key reference"));
    };
    let account = trigger
        .owner_account
        .as_deref()
        .or(trigger.account.as_deref())
        .unwrap_or_default();
    let region = trigger.region.as_deref().unwrap_or_default();
    let key = match snap.lookup_key(&r, account, region) {
        KeyLookup::Found(k) => k,
        KeyLookup::NotFound => {
            // Only a key ARN names the findings' resource; an alias or id of a deleted key
            // cannot be resolved any more.
            if let KmsRef::KeyArn {
                arn,
                region,
                account,
                ..
            } = &r
            {
                let res = Resource {
                    kind: ResourceType::AwsKmsKey,
                    arn: arn.clone(),
                    account: account.clone(),
                    region: region.clone(),
                };
                b.archive(&res, &KEY_RULES);
            }
            return b.ignore_in_place(format!("key {text} no longer exists"));
        }
        KeyLookup::Unknown(why) => {
            return b.ignore_in_place(
                why.unwrap_or_else(|| format!("no state for key {text} in the snapshot")),
            )
        }
    };
    let info = &key.info;
    b.set_subject(&info.key_arn);
    if info.class == KeyClass::AwsManaged {
        return b.ignore_in_place(format!(
            "{} is an AWS managed key: AWS owns its policy and rotation",
            info.key_arn
        ));
    }
    let res = Resource {
        kind: ResourceType::AwsKmsKey,
        arn: info.key_arn.clone(),
        account: info.account.clone(),
        region: info.region.clone(),
    };
    let exempt = key
        .state
        .tags
        .has(&b.config.exemption_tag_key, &b.config.exemption_tag_value);
    if !info.usable_for_s3 {
        b.note(format!(
            "{} cannot be used by S3 ({}): buckets encrypted with it fail reads and writes",
            info.key_arn,
            info.unusable_reasons.join("; ")
        ));
    }
    rotation_rule(b, &res, exempt, &key.info, key.state.rotation_enabled);
    match key.state.policy.as_ref().filter(|p| !p.is_null()) {
        None => {
            b.undetermined(RuleId::KeyExternalAdmin, "key policy not read");
            b.undetermined(RuleId::KeyPublic, "key policy not read");
        }
        Some(raw) => match Policy::parse_any(raw) {
            Ok(policy) => policy_rules(b, &res, exempt, &policy, &info.account),
            Err(e) => {
                b.undetermined(
                    RuleId::KeyExternalAdmin,
                    format!("key policy cannot be read: {e}"),
                );
                b.undetermined(RuleId::KeyPublic, format!("key policy cannot be read: {e}"));
            }
        },
    }
    b.pass_others(&res, &KEY_RULES);
}

fn rotation_rule(
    b: &mut PlanBuilder,
    res: &Resource,
    exempt: bool,
    info: &crate::core::key_class::KeyInfo,
    enabled: Option<bool>,
) {
    match info.rotation {
        Rotation::AwsManaged => {}
        Rotation::ManualOnly => b.add(
            res,
            exempt,
            Draft::new(RuleId::KeyRotationDisabled, Severity::Low, vec![format!(
                    "manual rotation required: automatic rotation is not available for origin {} / key spec {}",
                    info.origin, info.key_spec
                )], "Rotate by hand: create a new key, point aliases and bucket default encryption at it, and keep the old key enabled until its objects are re-encrypted.".into(), Err("automatic rotation is impossible for this key".into())),
        ),
        Rotation::AutomaticEligible => match enabled {
            Some(true) => {}
            None => b.undetermined(RuleId::KeyRotationDisabled, "rotation status not read"),
            Some(false) => {
                let replica = info.multi_region_key_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("REPLICA"));
                let remedy = if replica {
                    Err("a multi-Region replica: rotation is enabled on its primary key".to_string())
                } else if info.key_state == "Enabled" {
                    Ok(vec![Step::EnableKeyRotation { key_arn: info.key_arn.clone() }])
                } else {
                    Err(format!("the key is {}: EnableKeyRotation needs an enabled key", info.key_state))
                };
                b.add(
                    res,
                    exempt,
                    Draft::new(RuleId::KeyRotationDisabled, Severity::Medium, vec![format!("automatic rotation is off for {}, which is eligible (symmetric, AWS_KMS origin)", info.key_arn)], format!("aws kms enable-key-rotation --key-id {}", info.key_arn), remedy),
                );
            }
        },
    }
}

fn policy_rules(b: &mut PlanBuilder, res: &Resource, exempt: bool, policy: &Policy, owner: &str) {
    let report = analyse_key_policy(policy, owner);
    for (rule, severity, fix) in [
        (
            RuleId::KeyPublic,
            Severity::Critical,
            "Narrow each statement with Principal \"*\" by kms:CallerAccount, aws:PrincipalAccount or aws:PrincipalOrgID, or name the principals.",
        ),
        (
            RuleId::KeyExternalAdmin,
            Severity::High,
            "Limit other accounts to kms:Encrypt, kms:Decrypt, kms:ReEncrypt*, kms:GenerateDataKey*, kms:DescribeKey (and CreateGrant only with kms:GrantIsForAWSResource).",
        ),
    ] {
        let reasons: Vec<String> = report
            .issues
            .iter()
            .filter(|i| i.rule == rule.as_str())
            .map(|i| format!("statement {}: {}", i.statement, i.detail))
            .collect();
        if reasons.is_empty() {
            continue;
        }
        b.add(
            res,
            exempt,
            Draft::new(rule, severity, reasons, fix.to_string(), Err("cmkguard never removes access from a key policy".into())),
        );
    }
}
