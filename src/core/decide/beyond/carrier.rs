//! The carriers (DOMAIN-BEYOND-S3.md §3, §6): an EBS snapshot (its own share and every shared
//! AMI built on it), an AMI (its launch permissions and the keys of every snapshot behind
//! it), an RDS DB or cluster snapshot (`restore`), a secret (its resource policy). Each is
//! found in the state, judged public / shared, and — when shared — its key judged per sharee.

use super::super::builder::{Draft, PlanBuilder, Resource};
use super::key::{missing_grant, resolve, unusable, KeyVerdict};
use super::{exempt, grants, id_of, settings, NOT_READ};
use crate::core::beyond::key_set::Carrier;
use crate::core::beyond::shared::{
    db_snapshot_sharing, image_sharing, secret_sharing, snapshot_sharing, ShareReport,
};
use crate::core::beyond::BeyondState;
use crate::core::event::Trigger;
use crate::core::finding::{ResourceType, RuleId, Severity};
use crate::core::snapshot::{ResolvedKey, Snapshot};

/// The rule ids one kind reports.
struct Rules {
    public: RuleId,
    aws_managed: RuleId,
    unencrypted: Option<RuleId>,
    unusable: RuleId,
}

const SNAPSHOT_RULES: Rules = Rules {
    public: RuleId::SnapshotPublic,
    aws_managed: RuleId::SharedSnapshotAwsManagedKey,
    unencrypted: Some(RuleId::SharedSnapshotUnencrypted),
    unusable: RuleId::SharedSnapshotKeyUnusable,
};
const IMAGE_RULES: Rules = Rules {
    public: RuleId::ImagePublic,
    aws_managed: RuleId::SharedImageAwsManagedKey,
    unencrypted: Some(RuleId::SharedSnapshotUnencrypted),
    unusable: RuleId::SharedSnapshotKeyUnusable,
};
const SECRET_RULES: Rules = Rules {
    public: RuleId::SecretPublic,
    aws_managed: RuleId::SharedSecretAwsManagedKey,
    unencrypted: None,
    unusable: RuleId::SharedSecretKeyUnusable,
};

impl Rules {
    fn all(&self) -> Vec<RuleId> {
        let mut out = vec![
            self.public,
            self.aws_managed,
            self.unusable,
            RuleId::KeyPolicyMissingGrant,
        ];
        out.extend(self.unencrypted);
        out
    }
}

/// The trigger's account and region (the resource's home).
fn home(trigger: &Trigger) -> (String, String) {
    (
        trigger
            .owner_account
            .clone()
            .or_else(|| trigger.account.clone())
            .unwrap_or_default(),
        trigger.region.clone().unwrap_or_default(),
    )
}

pub(super) fn ebs_snapshot(
    b: &mut PlanBuilder,
    trigger: &Trigger,
    snap: &Snapshot,
    state: &BeyondState,
) {
    let (account, region) = home(trigger);
    let arn = trigger.resource_arn.clone().unwrap_or_default();
    let id = id_of(&arn);
    let Some(s) = state.ebs_snapshot(id) else {
        return b.ignore_in_place(format!("snapshot {id}: {NOT_READ}"));
    };
    let owner = s.owner_id.clone().unwrap_or(account);
    let region = s.region.clone().unwrap_or(region);
    let res = Resource {
        kind: ResourceType::AwsEc2Snapshot,
        arn: s.arn(&region),
        account: owner.clone(),
        region: region.clone(),
    };
    let ex = exempt(b, &s.tags);
    if !s.exists {
        b.archive(&res, &SNAPSHOT_RULES.all());
        return b.ignore_in_place(format!(
            "snapshot {id} no longer exists: its findings are archived"
        ));
    }
    if s.create_volume_permissions.is_none() {
        b.note(format!("the createVolumePermission attribute of {id} was not read: only shares through AMIs are known"));
    }
    let share = snapshot_sharing(s, &owner, state, &region, &b.config.trust);
    let key = resolve(
        snap,
        s.encrypted,
        s.kms_key_id.as_deref(),
        None,
        &owner,
        &region,
    );
    let label = format!("snapshot {id}");
    judge(
        b,
        &res,
        ex,
        Carrier::EbsSnapshot,
        &SNAPSHOT_RULES,
        &share,
        vec![(label, key)],
    );
    settings::default_key_rule(b, snap, state, &owner, &region);
}

pub(super) fn image(b: &mut PlanBuilder, trigger: &Trigger, snap: &Snapshot, state: &BeyondState) {
    let (account, region) = home(trigger);
    let arn = trigger.resource_arn.clone().unwrap_or_default();
    let id = id_of(&arn);
    let Some(i) = state.image(id) else {
        return b.ignore_in_place(format!("AMI {id}: {NOT_READ}"));
    };
    let owner = i.owner_id.clone().unwrap_or(account);
    let region = i.region.clone().unwrap_or(region);
    let res = Resource {
        kind: ResourceType::AwsEc2Image,
        arn: i.arn(&region),
        account: owner.clone(),
        region: region.clone(),
    };
    let ex = exempt(b, &i.tags);
    if !i.exists {
        b.archive(&res, &IMAGE_RULES.all());
        return b.ignore_in_place(format!(
            "AMI {id} no longer exists: its findings are archived"
        ));
    }
    if i.launch_permissions.is_none() {
        b.note(format!("the launchPermission attribute of {id} was not read: only DescribeImages.Public is known"));
    }
    let share = image_sharing(i, &owner, &b.config.trust);
    if i.snapshot_ids.is_empty() {
        b.note(format!("AMI {id} lists no EBS snapshot (instance-store backed, or BlockDeviceMappings not read)"));
    }
    let keys = i
        .snapshot_ids
        .iter()
        .map(|sid| {
            let label = format!("snapshot {sid} of AMI {id}");
            let verdict = match state.ebs_snapshot(sid) {
                Some(s) => resolve(
                    snap,
                    s.encrypted,
                    s.kms_key_id.as_deref(),
                    None,
                    &owner,
                    &region,
                ),
                None => KeyVerdict::Unknown(format!("snapshot {sid} was not read")),
            };
            (label, verdict)
        })
        .collect();
    judge(b, &res, ex, Carrier::Image, &IMAGE_RULES, &share, keys);
    settings::default_key_rule(b, snap, state, &owner, &region);
}

pub(super) fn db_snapshot(
    b: &mut PlanBuilder,
    trigger: &Trigger,
    snap: &Snapshot,
    state: &BeyondState,
) {
    let (account, region) = home(trigger);
    let arn = trigger.resource_arn.clone().unwrap_or_default();
    let id = id_of(&arn).to_string();
    let found = state.db_snapshots.iter().find(|d| {
        d.arn.as_deref() == Some(arn.as_str()) || d.identifier == id || d.identifier == arn
    });
    let Some(d) = found else {
        return b.ignore_in_place(format!("RDS snapshot {id}: {NOT_READ}"));
    };
    let owner = d.account.clone().unwrap_or(account);
    let region = d.region.clone().unwrap_or(region);
    let (kind, carrier) = if d.cluster {
        (
            ResourceType::AwsRdsDbClusterSnapshot,
            Carrier::ClusterSnapshot,
        )
    } else {
        (ResourceType::AwsRdsDbSnapshot, Carrier::DbSnapshot)
    };
    let res = Resource {
        kind,
        arn: d.arn_or(&owner, &region),
        account: owner.clone(),
        region: region.clone(),
    };
    let ex = exempt(b, &d.tags);
    if !d.exists {
        b.archive(&res, &SNAPSHOT_RULES.all());
        return b.ignore_in_place(format!(
            "RDS snapshot {id} no longer exists: its findings are archived"
        ));
    }
    if d.restore.is_none() {
        b.note(format!("the restore attribute of {id} was not read"));
    }
    if !d.is_manual() {
        b.note(format!(
            "{id} is a {} snapshot: only manual snapshots can be shared (copy it first)",
            d.snapshot_type.as_deref().unwrap_or("non-manual")
        ));
    }
    let share = db_snapshot_sharing(d, &owner, &b.config.trust);
    let key = resolve(
        snap,
        d.encrypted,
        d.kms_key_id.as_deref(),
        None,
        &owner,
        &region,
    );
    let label = format!("{} {id}", carrier.noun());
    judge(
        b,
        &res,
        ex,
        carrier,
        &SNAPSHOT_RULES,
        &share,
        vec![(label, key)],
    );
}

pub(super) fn secret(b: &mut PlanBuilder, trigger: &Trigger, snap: &Snapshot, state: &BeyondState) {
    let arn = trigger.resource_arn.clone().unwrap_or_default();
    let Some(s) = state.secrets.iter().find(|s| s.matches(&arn)) else {
        return b.ignore_in_place(format!("secret {arn}: {NOT_READ}"));
    };
    let (account, region) = s.home().unwrap_or_else(|| home(trigger));
    let res = Resource {
        kind: ResourceType::AwsSecretsManagerSecret,
        arn: s.arn.clone(),
        account: account.clone(),
        region: region.clone(),
    };
    let ex = exempt(b, &s.tags);
    if !s.exists {
        b.archive(&res, &SECRET_RULES.all());
        return b.ignore_in_place(format!(
            "secret {} no longer exists: its findings are archived",
            s.arn
        ));
    }
    let share = match secret_sharing(s, &account, &region, &b.config.trust) {
        Ok(share) => share,
        Err(why) => {
            for rule in SECRET_RULES.all() {
                b.undetermined(
                    rule,
                    format!("the resource policy of {} cannot be read: {why}", s.arn),
                );
            }
            return;
        }
    };
    let key = resolve(
        snap,
        Some(true),
        s.kms_key_id.as_deref(),
        Some("aws/secretsmanager"),
        &account,
        &region,
    );
    let label = format!("secret {}", s.name.as_deref().unwrap_or(&s.arn));
    judge(
        b,
        &res,
        ex,
        Carrier::Secret,
        &SECRET_RULES,
        &share,
        vec![(label, key)],
    );
}

/// The rules of one carrier: public, then — when shared — each key it is under.
fn judge(
    b: &mut PlanBuilder,
    res: &Resource,
    ex: bool,
    c: Carrier,
    rules: &Rules,
    share: &ShareReport,
    keys: Vec<(String, KeyVerdict)>,
) {
    let noun = c.noun();
    if share.public {
        let severity = if share.public_neutralised {
            Severity::Low
        } else {
            Severity::Critical
        };
        let mut reasons: Vec<String> = share.reasons.clone();
        if share.public_neutralised {
            reasons.push("snapshot block public access is block-all-sharing in this region: the share is blocked, but the attribute still says all and takes effect again if the setting is lifted".into());
        }
        let fix = match c {
            Carrier::EbsSnapshot => format!("aws ec2 modify-snapshot-attribute --snapshot-id {} --attribute createVolumePermission --operation-type remove --group-names all (and consider block-all-sharing)", super::id_of(&res.arn)),
            Carrier::Image => format!("aws ec2 modify-image-attribute --image-id {} --launch-permission \"Remove=[{{Group=all}}]\" (and enable image block public access)", super::id_of(&res.arn)),
            Carrier::DbSnapshot => format!("aws rds modify-db-snapshot-attribute --db-snapshot-identifier {} --attribute-name restore --values-to-remove all", super::id_of(&res.arn)),
            Carrier::ClusterSnapshot => format!("aws rds modify-db-cluster-snapshot-attribute --db-cluster-snapshot-identifier {} --attribute-name restore --values-to-remove all", super::id_of(&res.arn)),
            Carrier::Secret => format!("Remove or narrow the statements of the resource policy of {} that allow any principal (put-resource-policy --block-public-policy refuses such policies)", res.arn),
        };
        b.add(
            res,
            ex,
            Draft::new(
                rules.public,
                severity,
                reasons,
                fix,
                Err("report only: cmkguard never removes a share".into()),
            ),
        );
    }
    let effectively_shared = share.shared;
    if effectively_shared {
        let mut unencrypted = Vec::new();
        let mut aws_managed = Vec::new();
        let mut unusable_reasons = Vec::new();
        // One pass per customer managed key, however many snapshots of an AMI it encrypts.
        let mut cmks: Vec<(String, &ResolvedKey)> = Vec::new();
        for (label, verdict) in &keys {
            match verdict {
                KeyVerdict::Unencrypted => unencrypted.push(label.clone()),
                KeyVerdict::AwsManaged(why) => aws_managed.push(format!("{label}: {why}")),
                KeyVerdict::NotFound(why) => unusable_reasons.push(format!("{label}: {why}")),
                KeyVerdict::Unknown(why) => {
                    for rule in [
                        rules.aws_managed,
                        rules.unusable,
                        RuleId::KeyPolicyMissingGrant,
                    ] {
                        b.undetermined(rule, format!("{label}: {why}"));
                    }
                }
                KeyVerdict::Cmk(k) => {
                    let why = unusable(k, &res.region);
                    if !why.is_empty() {
                        unusable_reasons.extend(why.into_iter().map(|w| format!("{label}: {w}")));
                    } else if let Some(entry) = cmks
                        .iter_mut()
                        .find(|(_, seen)| seen.info.key_arn == k.info.key_arn)
                    {
                        entry.0 = format!("{}, {label}", entry.0);
                    } else {
                        cmks.push((label.clone(), k));
                    }
                }
            }
        }
        let mut missing: Option<Draft> = None;
        for (label, k) in &cmks {
            if let Some(d) = missing_grant(b, c, share, k, label) {
                missing = Some(match missing {
                    None => d,
                    Some(mut m) => {
                        m.reasons.extend(d.reasons);
                        m.fix = format!("{} {}", m.fix, d.fix);
                        m
                    }
                });
            }
            grants::external_grant_rule(b, k);
        }
        if let Some(d) = missing {
            b.add(res, ex, d);
        }
        let shared_with = share.reasons.join("; ");
        let cmk = b
            .config
            .cmk_arn
            .clone()
            .unwrap_or_else(|| "<customer managed key ARN>".into());
        if let (Some(rule), false) = (rules.unencrypted, unencrypted.is_empty()) {
            let reasons = vec![
                format!("{noun} is shared ({shared_with})"),
                format!("unencrypted: {} — the sharees can use the data, but there is no key to control, audit or revoke their access", unencrypted.join(", ")),
            ];
            b.add(
                res,
                ex,
                Draft::new(
                    rule,
                    Severity::Medium,
                    reasons,
                    copy_fix(c, res, &cmk),
                    Err("report only: the re-encrypted copy patch is not built yet".into()),
                ),
            );
        }
        if !aws_managed.is_empty() {
            let mut reasons = vec![format!("{noun} is shared ({shared_with})")];
            reasons.extend(aws_managed);
            reasons.push(format!(
                "an AWS managed key's policy admits only its own account: the sharees cannot {}",
                c.use_verb()
            ));
            let fix = match c {
                Carrier::Secret => format!("Move the secret to a customer managed key whose policy grants the sharees kms:Decrypt and kms:DescribeKey: aws secretsmanager update-secret --secret-id {} --kms-key-id {cmk}", res.arn),
                _ => copy_fix(c, res, &cmk),
            };
            b.add(
                res,
                ex,
                Draft::new(
                    rules.aws_managed,
                    Severity::High,
                    reasons,
                    fix,
                    Err("report only: the re-encrypted copy / key move is not built yet".into()),
                ),
            );
        }
        if !unusable_reasons.is_empty() {
            let mut reasons = vec![format!("{noun} is shared ({shared_with})")];
            reasons.extend(unusable_reasons);
            b.add(res, ex, Draft::new(rules.unusable, Severity::High, reasons,
                "Enable the key (or cancel its deletion); a key in another region cannot serve the resource: copy it under a key of its region.".into(),
                Err("cmkguard never moves away from a key you chose".into())));
        }
    } else {
        // Not shared: the key rules hold whatever the key is. Grants to outside principals
        // are still worth a look on its CMKs (once per key).
        let mut seen: Vec<&str> = Vec::new();
        for (_, verdict) in &keys {
            if let KeyVerdict::Cmk(k) = verdict {
                if !seen.contains(&k.info.key_arn.as_str()) {
                    seen.push(&k.info.key_arn);
                    grants::external_grant_rule(b, k);
                }
            }
        }
    }
    b.pass_others(res, &rules.all());
}

/// The copy command that re-encrypts a carrier under the CMK (§8), and the owner's next steps.
pub(super) fn copy_fix(c: Carrier, res: &Resource, cmk: &str) -> String {
    let id = super::id_of(&res.arn);
    let region = &res.region;
    match c {
        Carrier::EbsSnapshot => format!(
            "Copy the snapshot under the CMK and share the copy: aws ec2 copy-snapshot --source-region {region} --source-snapshot-id {id} --encrypted --kms-key-id {cmk} --tag-specifications 'ResourceType=snapshot,Tags=[{{Key=cmkguard:source,Value={id}}}]'; then share the copy (modify-snapshot-attribute --create-volume-permission Add=[{{UserId=<account>}}]), grant each sharee the key set on the CMK, and stop sharing {id}."
        ),
        Carrier::Image => format!(
            "Copy the AMI under the CMK (every snapshot is re-encrypted) and share the copy: aws ec2 copy-image --source-region {region} --source-image-id {id} --name {id}-cmk --encrypted --kms-key-id {cmk}; then share the copy, grant each sharee the key set on the CMK, and stop sharing {id}."
        ),
        Carrier::DbSnapshot => format!(
            "Copy the snapshot under the CMK and share the copy: aws rds copy-db-snapshot --source-db-snapshot-identifier {id} --target-db-snapshot-identifier {id}-cmk --kms-key-id {cmk} --copy-tags; then share the copy (modify-db-snapshot-attribute --attribute-name restore --values-to-add <account>), grant each sharee the key set, and stop sharing {id}."
        ),
        Carrier::ClusterSnapshot => format!(
            "Copy the snapshot under the CMK and share the copy: aws rds copy-db-cluster-snapshot --source-db-cluster-snapshot-identifier {id} --target-db-cluster-snapshot-identifier {id}-cmk --kms-key-id {cmk} --copy-tags; then share the copy, grant each sharee the key set, and stop sharing {id}."
        ),
        Carrier::Secret => format!("aws secretsmanager update-secret --secret-id {} --kms-key-id {cmk}", res.arn),
    }
}
