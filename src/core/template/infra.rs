//! The linked view both front ends (CloudFormation, Terraform plan) build — a bucket with the
//! policy that targets it, its default encryption and the key that encryption names, or a key
//! on its own — and the judge that runs the guardrail's own `decide` on it, through a snapshot
//! synthesised from the template, so the rules are the same as for a deployed bucket.

use serde_json::{json, Value};

use crate::core::arn::KmsRef;
use crate::core::config::Config;
use crate::core::decide::{bucket_sharing, decide};
use crate::core::event::{Trigger, TriggerKind};
use crate::core::finding::{Finding, RuleId};
use crate::core::policy::Policy;
use crate::core::snapshot::{BucketState, KeyState, Snapshot, Tags};

use super::symbols::{Symbols, OWNER_CANONICAL_ID};

/// A document (policy, encryption) as the template gives it.
#[derive(Debug, Clone, PartialEq)]
pub enum Doc {
    /// The template sets none.
    Absent,
    Known(Value),
    /// Set, but not knowable before deploy; the reason says why.
    Unknown(String),
}

/// What a bucket's `KMSMasterKeyID` designates.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyLink {
    /// No KMS key named (SSE-S3, or `aws:kms` without a key id = `aws/s3`).
    None,
    /// A key of the same template (the unit carries it).
    Template,
    /// An AWS managed key by alias (`alias/aws/s3`).
    AwsManaged,
    /// A key defined elsewhere, named by this text.
    External(String),
    /// A reference that cannot be resolved before deploy. `form_known`: the text is still
    /// recognisably a full key ARN (an ARN with an unknown key id), so the key-by-ARN rule holds.
    Unknown { reason: String, form_known: bool },
}

/// A template's KMS key, as the snapshot needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyDecl {
    pub id: String,
    pub arn: String,
    /// DescribeKey-shaped metadata synthesised from the key's properties.
    pub metadata: Value,
    pub policy: Doc,
    /// None: the template does not make it knowable.
    pub rotation: Option<bool>,
    pub tags: Value,
    /// `alias/…` names of the template's aliases for this key.
    pub aliases: Vec<String>,
    /// Resources that add to this key (aliases, grants), for the report's related locations.
    pub related: Vec<String>,
}

/// One bucket with everything that decides its rules.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketUnit {
    /// Logical id / address of the bucket; for an external bucket, of its policy.
    pub id: String,
    pub name: String,
    /// Named by a policy of the template, defined elsewhere: its encryption is unknown.
    pub external: bool,
    pub policy: Doc,
    /// Default encryption as GetBucketEncryption output, with the key reference resolved.
    pub encryption: Doc,
    /// GetBucketAcl-shaped grants (the canned ACL the template sets).
    pub acl: Value,
    pub tags: Value,
    pub key_link: KeyLink,
    pub key: Option<KeyDecl>,
    /// Other resources the verdict depends on (policies, encryption configuration, key).
    pub related: Vec<String>,
    /// Said in every finding of this bucket (e.g. two policies target it).
    pub notes: Vec<String>,
}

/// Who and where: the owner account, region and partition the template is judged for, and the
/// trust settings.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub account: String,
    pub region: String,
    pub config: Config,
}

/// What judging one unit gives: findings (core records, with the unit's related resources)
/// and the rules that could not be checked, with why.
#[derive(Debug, Default)]
pub struct Verdict {
    pub findings: Vec<Finding>,
    pub unchecked: Vec<(Vec<RuleId>, String)>,
}

const TLS_RULES: [RuleId; 2] = [RuleId::TlsNotEnforced, RuleId::TlsPartial];
const SHARED_RULES: [RuleId; 5] = [
    RuleId::SharedBucketAwsManagedKey,
    RuleId::SharedBucketSseS3,
    RuleId::SharedBucketKeyNotArn,
    RuleId::SharedBucketKeyUnusable,
    RuleId::KeyPolicyMissingGrant,
];
const KEY_RULES: [RuleId; 3] = [
    RuleId::KeyRotationDisabled,
    RuleId::KeyExternalAdmin,
    RuleId::KeyPublic,
];

fn trigger(kind: TriggerKind, ctx: &Ctx, bucket: Option<&str>, key: Option<&str>) -> Trigger {
    Trigger {
        kind,
        event_name: "check-template".into(),
        event_source: match kind {
            TriggerKind::KeyChanged => "kms.amazonaws.com",
            _ => "s3.amazonaws.com",
        }
        .into(),
        event_id: None,
        event_time: None,
        account: Some(ctx.account.clone()),
        region: Some(ctx.region.clone()),
        bucket: bucket.map(str::to_string),
        key: key.map(str::to_string),
        caller_account: None,
        owner_account: Some(ctx.account.clone()),
        error_code: None,
        error_message: None,
        principal_arn: None,
        session_issuer_arn: None,
        object_key: None,
        side: None,
        shared_event_id: None,
        request_id: None,
        resource_arn: None,
        change: None,
    }
}

fn key_state(k: &KeyDecl) -> KeyState {
    KeyState {
        metadata: k.metadata.clone(),
        policy: match &k.policy {
            Doc::Known(v) => Some(v.clone()),
            _ => None,
        },
        rotation_enabled: k.rotation,
        tags: Tags::from_value(&k.tags),
        aliases: k.aliases.clone(),
        // A template's key has exactly the grants the template declares: Terraform's
        // `aws_kms_grant` is read into the key policy as the statement it amounts to, and a
        // grant made outside the template does not exist before deploy.
        grants: Some(serde_json::json!({"Grants": []})),
    }
}

/// The rules `decide` noted as not checked (`RULE not checked: why`), with why.
fn undetermined(notes: &[String]) -> Vec<(RuleId, String)> {
    notes
        .iter()
        .filter_map(|n| {
            let (rule, why) = n.split_once(" not checked: ")?;
            let rule = serde_json::from_value::<RuleId>(Value::String(rule.to_string())).ok()?;
            Some((rule, why.to_string()))
        })
        .collect()
}

/// Judges a bucket: TLS for every bucket, the customer-managed-key rules when it is shared.
pub fn judge_bucket(u: &BucketUnit, ctx: &Ctx, sym: &Symbols) -> Verdict {
    let mut out = Verdict::default();
    let policy = match &u.policy {
        Doc::Unknown(why) => {
            let rules = TLS_RULES.iter().chain(&SHARED_RULES).copied().collect();
            out.unchecked.push((
                rules,
                format!("the bucket policy is not known before deploy: {why}"),
            ));
            return out;
        }
        Doc::Known(v) => Some(v.clone()),
        Doc::Absent => None,
    };
    let encryption_unknown = match (&u.encryption, u.external) {
        (_, true) => Some(format!(
            "bucket {} is not defined in this file, so its default encryption is not known",
            sym.display(&u.name)
        )),
        (Doc::Unknown(why), _) => Some(format!("its default encryption is not known: {why}")),
        _ => None,
    };
    let state = BucketState {
        name: u.name.clone(),
        account: ctx.account.clone(),
        region: ctx.region.clone(),
        exists: true,
        owner_canonical_id: Some(OWNER_CANONICAL_ID.to_string()),
        policy,
        encryption: match &u.encryption {
            Doc::Known(v) if encryption_unknown.is_none() => Some(v.clone()),
            _ => None,
        },
        acl: Some(u.acl.clone()),
        tags: Tags::from_value(&u.tags),
    };
    let snapshot = Snapshot {
        bucket: Some(state),
        keys: u.key.iter().map(key_state).collect(),
        keys_not_found: Vec::new(),
        identity: None,
        beyond: None,
    };
    let t = trigger(TriggerKind::BucketChanged, ctx, Some(&u.name), None);
    let plan = decide(&t, &snapshot, &ctx.config);
    if let Some(why) = plan.ignored {
        out.unchecked.push((
            TLS_RULES.iter().chain(&SHARED_RULES).copied().collect(),
            why,
        ));
        return out;
    }
    let shared = snapshot.bucket.as_ref().is_some_and(|state| {
        let parsed = state
            .policy
            .as_ref()
            .and_then(|p| Policy::parse_any(p).ok());
        bucket_sharing(state, parsed.as_ref(), &ctx.config.trust).shared
    });
    let mut explained: Vec<RuleId> = Vec::new();
    if let Some(why) = &encryption_unknown {
        if shared {
            out.unchecked.push((SHARED_RULES.to_vec(), why.clone()));
        }
        explained.extend(SHARED_RULES);
    }
    match &u.key_link {
        KeyLink::External(text) if shared && encryption_unknown.is_none() => {
            let rules = vec![
                RuleId::SharedBucketKeyUnusable,
                RuleId::KeyPolicyMissingGrant,
            ];
            out.unchecked.push((
                rules.clone(),
                format!("key {} is not defined in this file (external): its state and key policy are not known", sym.display(text)),
            ));
            explained.extend(rules);
        }
        KeyLink::Unknown { reason, form_known } if shared && encryption_unknown.is_none() => {
            let mut rules = vec![
                RuleId::SharedBucketKeyUnusable,
                RuleId::KeyPolicyMissingGrant,
            ];
            if !form_known {
                rules.insert(0, RuleId::SharedBucketKeyNotArn);
            }
            out.unchecked.push((
                rules.clone(),
                format!("the bucket's KMS key is not known before deploy: {reason}"),
            ));
            explained.extend(rules);
        }
        _ => {}
    }
    for (rule, why) in undetermined(&plan.notes) {
        if !explained.contains(&rule) {
            out.unchecked.push((vec![rule], why));
        }
    }
    out.findings = plan
        .findings
        .into_iter()
        .filter(|f| !(encryption_unknown.is_some() && SHARED_RULES.contains(&f.rule_id)))
        .filter(|f| !(explained.contains(&f.rule_id) && f.rule_id == RuleId::SharedBucketKeyNotArn))
        .map(|mut f| {
            f.reasons.extend(u.notes.iter().cloned());
            f
        })
        .collect();
    out
}

/// Judges a customer managed key: rotation, external admin rights, public key policy.
pub fn judge_key(k: &KeyDecl, ctx: &Ctx) -> Verdict {
    let mut out = Verdict::default();
    let snapshot = Snapshot {
        bucket: None,
        keys: vec![key_state(k)],
        keys_not_found: Vec::new(),
        identity: None,
        beyond: None,
    };
    let t = trigger(TriggerKind::KeyChanged, ctx, None, Some(&k.arn));
    let plan = decide(&t, &snapshot, &ctx.config);
    if let Some(why) = plan.ignored {
        out.unchecked.push((KEY_RULES.to_vec(), why));
        return out;
    }
    let mut policy_explained = false;
    for (rule, why) in undetermined(&plan.notes) {
        match (&k.policy, rule) {
            (Doc::Unknown(reason), RuleId::KeyExternalAdmin | RuleId::KeyPublic) => {
                if !policy_explained {
                    out.unchecked.push((
                        vec![RuleId::KeyExternalAdmin, RuleId::KeyPublic],
                        format!("the key policy is not known before deploy: {reason}"),
                    ));
                    policy_explained = true;
                }
            }
            _ => out.unchecked.push((vec![rule], why)),
        }
    }
    out.findings = plan.findings;
    out
}

/// The default key policy KMS (and CloudFormation, when `KeyPolicy` is omitted) gives a key:
/// the owning account's root, which delegates to the account's IAM policies.
pub fn default_key_policy(partition: &str, account: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:{partition}:iam::{account}:root")},
            "Action": "kms:*",
            "Resource": "*"
        }]
    })
}

/// DescribeKey-shaped metadata for a key the template creates.
pub struct KeyProps<'a> {
    pub arn: &'a str,
    pub key_id: &'a str,
    pub account: &'a str,
    pub enabled: bool,
    pub key_spec: &'a str,
    pub key_usage: &'a str,
    pub origin: &'a str,
    pub multi_region: bool,
}

pub fn key_metadata(p: &KeyProps) -> Value {
    // A key with imported material is created without it: it waits in PendingImport.
    let state = if p.origin.eq_ignore_ascii_case("EXTERNAL") {
        "PendingImport"
    } else if p.enabled {
        "Enabled"
    } else {
        "Disabled"
    };
    let mut meta = json!({
        "AWSAccountId": p.account,
        "KeyId": p.key_id,
        "Arn": p.arn,
        "Enabled": p.enabled && state == "Enabled",
        "KeyManager": "CUSTOMER",
        "KeyState": state,
        "KeySpec": p.key_spec,
        "KeyUsage": p.key_usage,
        "Origin": p.origin,
        "MultiRegion": p.multi_region,
    });
    if p.multi_region {
        meta["MultiRegionConfiguration"] = json!({"MultiRegionKeyType": "PRIMARY"});
    }
    json!({ "KeyMetadata": meta })
}

/// GetBucketAcl output for a canned ACL (`AccessControl` / `acl`). An ACL the template does not
/// fix (a parameter without default) is a grant to a group nobody knows, which the sharing
/// judge treats as shared (fail closed).
pub fn canned_acl(canned: Option<&str>, sym: &Symbols) -> Value {
    const ALL: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
    const AUTH: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
    const LOGS: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";
    let group = |uri: &str, permission: &str| json!({"Grantee": {"Type": "Group", "URI": uri}, "Permission": permission});
    let mut grants = vec![json!({
        "Grantee": {"Type": "CanonicalUser", "ID": OWNER_CANONICAL_ID},
        "Permission": "FULL_CONTROL"
    })];
    let norm = canned.map(|c| c.replace(['-', '_'], "").to_ascii_lowercase());
    match norm.as_deref() {
        None | Some("private" | "bucketownerread" | "bucketownerfullcontrol") => {}
        Some("publicread") => grants.push(group(ALL, "READ")),
        Some("publicreadwrite") => {
            grants.push(group(ALL, "READ"));
            grants.push(group(ALL, "WRITE"));
        }
        Some("authenticatedread") => grants.push(group(AUTH, "READ")),
        Some("logdeliverywrite") => {
            grants.push(group(LOGS, "WRITE"));
            grants.push(group(LOGS, "READ_ACP"));
        }
        // aws-exec-read: READ for the EC2 service's canonical user, an account not named.
        Some("awsexecread") => grants.push(json!({
            "Grantee": {"Type": "CanonicalUser", "ID": "aws-exec-read (Amazon EC2)"},
            "Permission": "READ"
        })),
        Some(_) => grants.push(group(
            &format!("canned ACL {}", sym.display(canned.unwrap_or_default())),
            "READ",
        )),
    }
    json!({"Owner": {"ID": OWNER_CANONICAL_ID}, "Grants": grants})
}

/// GetBucketEncryption output for one default-encryption rule.
pub fn encryption_doc(algorithm: &str, key: Option<&str>, bucket_key: Option<bool>) -> Value {
    let mut default = json!({ "SSEAlgorithm": algorithm });
    if let Some(k) = key {
        default["KMSMasterKeyID"] = json!(k);
    }
    let mut rule = json!({ "ApplyServerSideEncryptionByDefault": default });
    if let Some(b) = bucket_key {
        rule["BucketKeyEnabled"] = json!(b);
    }
    json!({"ServerSideEncryptionConfiguration": {"Rules": [rule]}})
}

/// Classifies a resolved `KMSMasterKeyID` against the keys and aliases the front end found for
/// it: `(link, text for the snapshot)`. A wholly unknown reference is replaced by a full key ARN
/// holding the marker, so `decide` neither reads it as a key id nor finds a key for it.
pub fn link_key(
    text: &str,
    template_key: Option<&KeyDecl>,
    sym: &Symbols,
    partition: &str,
    ctx: &Ctx,
) -> (KeyLink, String) {
    if template_key.is_some() {
        return (KeyLink::Template, text.to_string());
    }
    if KmsRef::parse(text).is_some_and(|r| r.is_aws_managed_alias()) {
        return (KeyLink::AwsManaged, text.to_string());
    }
    if sym.has_unknown(text) {
        let reason = format!("KMSMasterKeyID is {}", sym.unknowns_in(text).join(", "));
        if sym.is_wholly_unknown(text) {
            let arn = format!(
                "arn:{partition}:kms:{}:{}:key/{text}",
                ctx.region, ctx.account
            );
            return (
                KeyLink::Unknown {
                    reason,
                    form_known: false,
                },
                arn,
            );
        }
        let form_known = KmsRef::parse(text).is_some_and(|r| r.is_key_arn());
        return (KeyLink::Unknown { reason, form_known }, text.to_string());
    }
    (KeyLink::External(text.to_string()), text.to_string())
}

#[cfg(test)]
#[path = "infra_tests.rs"]
mod tests;
