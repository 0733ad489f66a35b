//! Bucket rules: TLS for every bucket, and for shared buckets the customer-managed-key rules
//! (AWS managed key, SSE-S3, key by alias / id, unusable key, key half missing per account and
//! direction: readers need `kms:Decrypt`, writers `kms:GenerateDataKey` and `kms:Decrypt`, by
//! key policy or KMS grant), with the TLS, key-reference, CMK and key-grant patches planned
//! under their safety limits.

use serde_json::{json, Value};

use super::builder::{Draft, PlanBuilder, Resource};
use crate::core::arn::{bucket_arn, partition_for_region, KmsRef};
use crate::core::encryption::{parse_encryption, BucketEncryption};
use crate::core::event::Trigger;
use crate::core::finding::{ResourceType, RuleId, Severity};
use crate::core::json::str_field;
use crate::core::plan::Step;
use crate::core::policy::key_policy::analyse_key_policy;
use crate::core::policy::patch::usage_grant::add_usage_grants;
use crate::core::policy::patch::{patch_tls_parsed, tls_statement, TlsPatch};
use crate::core::policy::secure_transport::{evaluate_tls, TlsStatus};
use crate::core::policy::sharing::{
    evaluate_acl_sharing, evaluate_policy_sharing, BucketContext, SharingReport, Trust,
};
use crate::core::policy::Policy;
use crate::core::snapshot::{BucketState, KeyLookup, ResolvedKey, Snapshot};

/// Every rule a bucket evaluation decides (failed or passed).
pub const BUCKET_RULES: [RuleId; 7] = [
    RuleId::TlsNotEnforced,
    RuleId::TlsPartial,
    RuleId::SharedBucketAwsManagedKey,
    RuleId::SharedBucketSseS3,
    RuleId::SharedBucketKeyNotArn,
    RuleId::SharedBucketKeyUnusable,
    RuleId::KeyPolicyMissingGrant,
];

const SHARED_RULES: [RuleId; 5] = [
    RuleId::SharedBucketAwsManagedKey,
    RuleId::SharedBucketSseS3,
    RuleId::SharedBucketKeyNotArn,
    RuleId::SharedBucketKeyUnusable,
    RuleId::KeyPolicyMissingGrant,
];

const OLD_OBJECTS: &str = "Objects written before the change keep their old key: re-encrypt them with a copy in place (aws s3 cp s3://BUCKET/ s3://BUCKET/ --recursive --sse aws:kms --sse-kms-key-id KEY_ARN) or S3 Batch Operations.";

/// What the bucket evaluation needs at hand.
pub struct BucketView<'s> {
    pub state: &'s BucketState,
    pub partition: &'static str,
    pub resource: Resource,
    pub policy: Option<Policy>,
    pub sharing: SharingReport,
    pub exempt: bool,
}

/// Loads and judges the bucket state: `Err(reason)` when there is nothing to decide on.
pub fn view<'s>(
    b: &mut PlanBuilder,
    snap: &'s Snapshot,
    bucket: &str,
) -> Result<BucketView<'s>, String> {
    let Some(state) = snap.bucket.as_ref() else {
        return Err(format!("no state for bucket {bucket} in the snapshot"));
    };
    if state.name != bucket {
        return Err(format!(
            "the snapshot describes bucket {}, not {bucket}",
            state.name
        ));
    }
    if !state.exists {
        return Err(format!("bucket {bucket} no longer exists"));
    }
    let partition = partition_for_region(&state.region);
    let policy = match state.policy.as_ref().filter(|v| !v.is_null()) {
        None => None,
        Some(v) => Some(Policy::parse_any(v).map_err(|e| {
            format!("bucket policy of {bucket} cannot be read ({e}): not judged, not patched")
        })?),
    };
    let sharing = bucket_sharing(state, policy.as_ref(), &b.config.trust);
    if state.acl.as_ref().is_none_or(Value::is_null) {
        b.note(format!(
            "ACL of {bucket} not read: sharing judged from the bucket policy only"
        ));
    }
    let exempt = state
        .tags
        .has(&b.config.exemption_tag_key, &b.config.exemption_tag_value);
    Ok(BucketView {
        state,
        partition,
        resource: Resource {
            kind: ResourceType::AwsS3Bucket,
            arn: bucket_arn(partition, bucket),
            account: state.account.clone(),
            region: state.region.clone(),
        },
        policy,
        sharing,
        exempt,
    })
}

/// Who besides the owner can reach the bucket (DOMAIN.md §4), from its parsed policy and,
/// when it was read, its ACL.
pub fn bucket_sharing(
    state: &BucketState,
    policy: Option<&Policy>,
    trust: &Trust,
) -> SharingReport {
    let owner_canonical = state.owner_canonical_id.clone().or_else(|| {
        state
            .acl
            .as_ref()
            .and_then(|acl| crate::core::json::path(acl, &["Owner"]))
            .and_then(|o| str_field(o, "ID"))
    });
    let ctx = BucketContext {
        bucket: &state.name,
        owner_account: &state.account,
        owner_canonical_id: owner_canonical.as_deref(),
        partition: partition_for_region(&state.region),
    };
    let sharing = match policy {
        Some(p) => evaluate_policy_sharing(p, &ctx, trust),
        None => SharingReport::default(),
    };
    match state.acl.as_ref().filter(|v| !v.is_null()) {
        Some(acl) => sharing.merge(evaluate_acl_sharing(acl, &ctx, trust)),
        None => sharing,
    }
}

pub fn evaluate(b: &mut PlanBuilder, trigger: &Trigger, snap: &Snapshot) {
    let Some(bucket) = trigger.bucket.as_deref() else {
        b.ignore_in_place("bucket event names no bucket".to_string());
        return;
    };
    let v = match view(b, snap, bucket) {
        Ok(v) => v,
        Err(reason) => {
            if let Some(gone) = snap
                .bucket
                .as_ref()
                .filter(|s| !s.exists && s.name == bucket)
            {
                let partition = partition_for_region(&gone.region);
                let res = Resource {
                    kind: ResourceType::AwsS3Bucket,
                    arn: bucket_arn(partition, bucket),
                    account: gone.account.clone(),
                    region: gone.region.clone(),
                };
                b.archive(&res, &BUCKET_RULES);
            }
            b.ignore_in_place(reason);
            return;
        }
    };
    b.set_subject(&v.resource.arn);
    if v.exempt {
        b.note(format!(
            "{bucket} carries the exemption tag {}={}: findings are marked exempt, nothing is patched",
            b.config.exemption_tag_key, b.config.exemption_tag_value
        ));
    }
    tls_rule(b, &v);
    if v.sharing.shared {
        shared_rules(b, &v, snap);
    } else {
        b.note(format!("{bucket} is not shared with other accounts: the customer managed key rules do not apply"));
    }
    b.pass_others(&v.resource, &BUCKET_RULES);
}

fn sharing_summary(s: &SharingReport) -> String {
    let mut parts = Vec::new();
    if s.public {
        parts.push("public".to_string());
    }
    if !s.external_accounts.is_empty() {
        parts.push(format!("accounts {}", s.external_accounts.join(", ")));
    }
    if !s.organisations.is_empty() {
        parts.push(format!("organisations {}", s.organisations.join(", ")));
    }
    if !s.unknown_principals.is_empty() {
        parts.push(format!(
            "unresolved principals {}",
            s.unknown_principals.join(", ")
        ));
    }
    if !s.networks.is_empty() {
        parts.push(format!("networks {}", s.networks.join(", ")));
    }
    if parts.is_empty() {
        "other principals".to_string()
    } else {
        parts.join("; ")
    }
}

fn tls_rule(b: &mut PlanBuilder, v: &BucketView) {
    let bucket = &v.state.name;
    let tls = evaluate_tls(v.policy.as_ref(), bucket, v.partition);
    let rule = match tls.status {
        TlsStatus::Enforced => return,
        TlsStatus::Partial => RuleId::TlsPartial,
        TlsStatus::NotEnforced => RuleId::TlsNotEnforced,
    };
    let severity = if v.sharing.shared {
        Severity::High
    } else {
        Severity::Medium
    };
    let mut reasons = tls.gaps.clone();
    if let (TlsStatus::Partial, Some(stmt)) = (tls.status, &tls.statement) {
        reasons.insert(
            0,
            format!("statement {stmt} denies on aws:SecureTransport but not completely"),
        );
    }
    if v.sharing.shared {
        reasons.push(format!(
            "the bucket is shared ({})",
            sharing_summary(&v.sharing)
        ));
    }
    let sid = &b.config.tls_sid;
    let statement = tls_statement(bucket, v.partition, sid);
    let fix = format!("Add this statement to the bucket policy of {bucket} (keep every other statement): {statement}");
    let remedy = match patch_tls_parsed(v.policy.as_ref(), bucket, v.partition, sid) {
        Ok(TlsPatch::Patched { policy, .. }) => Ok(vec![Step::PutBucketPolicy {
            bucket: bucket.clone(),
            expected_bucket_owner: v.state.account.clone(),
            based_on: v.policy.as_ref().map(|p| p.raw.clone()),
            policy,
            sid: sid.clone(),
        }]),
        Ok(TlsPatch::AlreadyEnforced) => Err("the patch finds TLS already enforced".to_string()),
        Err(refusal) => Err(format!("TLS patch refused: {refusal}")),
    };
    b.add(
        &v.resource,
        v.exempt,
        Draft::new(rule, severity, reasons, fix, remedy),
    );
}

fn shared_rules(b: &mut PlanBuilder, v: &BucketView, snap: &Snapshot) {
    let encryption = match v.state.encryption.as_ref().filter(|e| !e.is_null()) {
        None => BucketEncryption::None,
        Some(raw) => match parse_encryption(raw) {
            Ok(e) => e,
            Err(e) => {
                for rule in SHARED_RULES {
                    b.undetermined(
                        rule,
                        format!("default encryption of {} cannot be read: {e}", v.state.name),
                    );
                }
                return;
            }
        },
    };
    let shared = format!("the bucket is shared ({})", sharing_summary(&v.sharing));
    match encryption {
        BucketEncryption::None => cmk_rule(
            b,
            v,
            snap,
            RuleId::SharedBucketSseS3,
            vec![shared, "no default encryption configuration: S3 encrypts new objects with SSE-S3 (AES256), so the owner has no key-level control, audit or revocation".into()],
        ),
        BucketEncryption::SseS3 { .. } => cmk_rule(
            b,
            v,
            snap,
            RuleId::SharedBucketSseS3,
            vec![shared, "default encryption is SSE-S3 (AES256): no customer control of the key".into()],
        ),
        BucketEncryption::SseKms { key: None, .. } => aws_managed(b, v, snap, shared, "SSE-KMS without KMSMasterKeyID uses the AWS managed key aws/s3".into()),
        BucketEncryption::SseKms { key: Some(r), bucket_key_enabled, .. } => {
            kms_rules(b, v, snap, &r, bucket_key_enabled, shared)
        }
    }
}

fn aws_managed(b: &mut PlanBuilder, v: &BucketView, snap: &Snapshot, shared: String, why: String) {
    cmk_rule(
        b,
        v,
        snap,
        RuleId::SharedBucketAwsManagedKey,
        vec![shared, why, "an AWS managed key's policy admits only its own account: the other accounts cannot decrypt".into()],
    );
}

/// The SSE-S3 / AWS managed key findings, fixed by moving to the configured CMK.
fn cmk_rule(
    b: &mut PlanBuilder,
    v: &BucketView,
    snap: &Snapshot,
    rule: RuleId,
    reasons: Vec<String>,
) {
    let severity = if rule == RuleId::SharedBucketSseS3 {
        Severity::Medium
    } else {
        Severity::High
    };
    let cmk = b
        .config
        .cmk_arn
        .clone()
        .unwrap_or_else(|| "<customer managed key ARN>".to_string());
    let fix = format!(
        "Grant the accounts the bucket shares with usage of a customer managed key in {region}, then: aws s3api put-bucket-encryption --bucket {bucket} --expected-bucket-owner {owner} --server-side-encryption-configuration '{{\"Rules\":[{{\"ApplyServerSideEncryptionByDefault\":{{\"SSEAlgorithm\":\"aws:kms\",\"KMSMasterKeyID\":\"{cmk}\"}},\"BucketKeyEnabled\":true}}]}}'. {old}",
        region = v.state.region,
        bucket = v.state.name,
        owner = v.state.account,
        old = OLD_OBJECTS.replace("BUCKET", &v.state.name).replace("KEY_ARN", &cmk),
    );
    let remedy = plan_cmk_move(b, v, snap);
    b.add(
        &v.resource,
        v.exempt,
        Draft::new(rule, severity, reasons, fix, remedy),
    );
}

/// The §8 CMK patch: only when the CMK is usable in the bucket's region and its key policy
/// grants every account the bucket shares with (or may be patched to).
fn plan_cmk_move(b: &PlanBuilder, v: &BucketView, snap: &Snapshot) -> Result<Vec<Step>, String> {
    let Some(cmk_arn) = b.config.cmk_arn.as_deref() else {
        return Err("no CMK configured (cmk_arn): this rule only reports".into());
    };
    let cmk_ref = match KmsRef::parse(cmk_arn) {
        Some(r @ KmsRef::KeyArn { .. }) => r,
        _ => {
            return Err(format!(
                "configured cmk_arn '{cmk_arn}' is not a full key ARN"
            ))
        }
    };
    let key = match snap.lookup_key(&cmk_ref, &v.state.account, &v.state.region) {
        KeyLookup::Found(k) => k,
        KeyLookup::NotFound => return Err(format!("configured CMK {cmk_arn} does not exist")),
        KeyLookup::Unknown(why) => {
            return Err(format!(
                "configured CMK {cmk_arn} was not read{}",
                why.map(|w| format!(" ({w})")).unwrap_or_default()
            ))
        }
    };
    if key.info.class != crate::core::key_class::KeyClass::CustomerManaged {
        return Err(format!("configured CMK {cmk_arn} is an AWS managed key"));
    }
    if !key.info.usable_for_s3 {
        return Err(format!(
            "configured CMK cannot be used by S3: {}",
            key.info.unusable_reasons.join("; ")
        ));
    }
    if key.info.region != v.state.region {
        return Err(format!(
            "configured CMK is in {} but the bucket is in {}: S3 needs a key in the bucket's region",
            key.info.region, v.state.region
        ));
    }
    let s = &v.sharing;
    if s.public {
        return Err("the bucket is public: anonymous principals cannot use a KMS key, so moving to a CMK would break their access".into());
    }
    if !s.unknown_principals.is_empty() || !s.networks.is_empty() {
        return Err(format!(
            "the bucket is shared with principals that name no account ({}): the key policy cannot be checked for them",
            s.unknown_principals.iter().chain(&s.networks).cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    let (doc, report) = key_policy_of(&key)?;
    let missing_orgs: Vec<&String> = s
        .organisations
        .iter()
        .filter(|o| !report.organisations.contains(o))
        .collect();
    if !missing_orgs.is_empty() {
        return Err(format!(
            "the bucket is shared with organisation(s) {} that the CMK's key policy does not grant: grant them on the key first",
            missing_orgs.iter().map(|o| o.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    let missing: Vec<String> = s
        .external_accounts
        .iter()
        .filter(|a| !report.grants_usage_to(&key.info.account, a))
        .cloned()
        .collect();
    let mut steps = Vec::new();
    if !missing.is_empty() {
        steps.push(grant_step(b, v, &key, doc, &missing).map_err(|why| {
            format!(
                "the CMK's key policy does not grant {}: moving would break their access ({why})",
                missing.join(", ")
            )
        })?);
    }
    steps.push(Step::PutBucketEncryption {
        bucket: v.state.name.clone(),
        expected_bucket_owner: v.state.account.clone(),
        kms_key_arn: key.info.key_arn.clone(),
        bucket_key_enabled: true,
    });
    Ok(steps)
}

/// The key policy document and its analysis, or why it is not available.
pub(super) fn key_policy_of(
    key: &ResolvedKey,
) -> Result<(Value, crate::core::policy::key_policy::KeyPolicyReport), String> {
    let raw = key
        .state
        .policy
        .as_ref()
        .filter(|p| !p.is_null())
        .ok_or_else(|| format!("key policy of {} was not read", key.info.key_arn))?;
    let policy = Policy::parse_any(raw)
        .map_err(|e| format!("key policy of {} cannot be read: {e}", key.info.key_arn))?;
    let report = analyse_key_policy(&policy, &key.info.account);
    Ok((policy.raw, report))
}

/// A PutKeyPolicy adding usage grants, when configuration and ownership allow it.
pub(super) fn grant_step(
    b: &PlanBuilder,
    v: &BucketView,
    key: &ResolvedKey,
    doc: Value,
    accounts: &[String],
) -> Result<Step, String> {
    if !b.config.patch_key_policy {
        return Err("key-policy patching is disabled (patch_key_policy)".into());
    }
    if key.info.account != v.state.account {
        return Err(format!(
            "the key belongs to account {}, not the bucket owner",
            key.info.account
        ));
    }
    if key
        .state
        .tags
        .has(&b.config.exemption_tag_key, &b.config.exemption_tag_value)
    {
        return Err("the key carries the exemption tag".into());
    }
    let policy = add_usage_grants(&doc, accounts, &key.info.region, &key.info.partition)
        .map_err(|e| format!("key policy patch refused: {e}"))?;
    Ok(Step::PutKeyPolicy {
        key_arn: key.info.key_arn.clone(),
        policy_name: "default".into(),
        based_on: doc,
        policy,
        added_accounts: accounts.to_vec(),
    })
}

/// A usage grant to paste into a key policy, for fixes written by hand.
pub fn grant_statement(account: &str, partition: &str, region: &str) -> Value {
    let suffix = if partition == "aws-cn" { ".cn" } else { "" };
    json!({
        "Sid": format!("AllowS3UsageFor{account}"),
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:{partition}:iam::{account}:root")},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:Encrypt", "kms:ReEncrypt*"],
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": format!("s3.{region}.amazonaws.com{suffix}")}}
    })
}

fn kms_rules(
    b: &mut PlanBuilder,
    v: &BucketView,
    snap: &Snapshot,
    r: &KmsRef,
    bucket_key_enabled: bool,
    shared: String,
) {
    let bucket = &v.state.name;
    if r.is_aws_managed_alias() {
        return aws_managed(
            b,
            v,
            snap,
            shared,
            format!("KMSMasterKeyID '{}' is an AWS managed key", r.text()),
        );
    }
    let lookup = snap.lookup_key(r, &v.state.account, &v.state.region);
    if let KeyLookup::Found(k) = &lookup {
        if k.info.class == crate::core::key_class::KeyClass::AwsManaged {
            return aws_managed(
                b,
                v,
                snap,
                shared,
                format!(
                    "KMSMasterKeyID '{}' resolves to the AWS managed key {}",
                    r.text(),
                    k.info.key_arn
                ),
            );
        }
    }
    if !r.is_key_arn() {
        let target = match &lookup {
            KeyLookup::Found(k) => k.info.key_arn.clone(),
            _ => "<full key ARN>".to_string(),
        };
        let remedy = match &lookup {
            KeyLookup::Found(k) if k.info.usable_for_s3 && k.info.region == v.state.region => {
                Ok(vec![Step::PutBucketEncryption {
                    bucket: bucket.clone(),
                    expected_bucket_owner: v.state.account.clone(),
                    kms_key_arn: k.info.key_arn.clone(),
                    bucket_key_enabled,
                }])
            }
            KeyLookup::Found(_) => {
                Err("the key it names is not usable by S3: fix that first".to_string())
            }
            _ => Err(format!(
                "'{}' could not be resolved to a key of {}",
                r.text(),
                v.state.account
            )),
        };
        b.add(
            &v.resource,
            v.exempt,
            Draft::new(RuleId::SharedBucketKeyNotArn, Severity::High, vec![
                    shared.clone(),
                    format!("KMSMasterKeyID is '{}', not a full key ARN: for a writer in another account S3 resolves it in the writer's account, so objects end up under a key the bucket owner does not control", r.text()),
                ], format!(
                    "aws s3api put-bucket-encryption --bucket {bucket} --expected-bucket-owner {owner} --server-side-encryption-configuration '{{\"Rules\":[{{\"ApplyServerSideEncryptionByDefault\":{{\"SSEAlgorithm\":\"aws:kms\",\"KMSMasterKeyID\":\"{target}\"}},\"BucketKeyEnabled\":{bucket_key_enabled}}}]}}'",
                    owner = v.state.account
                ), remedy),
        );
    }
    let key = match lookup {
        KeyLookup::Found(k) => k,
        KeyLookup::NotFound => {
            b.add(
                &v.resource,
                v.exempt,
                Draft::new(RuleId::SharedBucketKeyUnusable, Severity::High, vec![shared, format!("the key '{}' does not exist: every read and write of SSE-KMS objects fails", r.text())], format!("Point the default encryption of {bucket} at an existing customer managed key by full ARN (objects under the missing key cannot be decrypted)."), Err("cmkguard never moves encryption away from a key you chose".into())),
            );
            b.undetermined(RuleId::KeyPolicyMissingGrant, "the key does not exist");
            return;
        }
        KeyLookup::Unknown(why) => {
            let why = why.unwrap_or_else(|| format!("key '{}' is not in the snapshot", r.text()));
            b.undetermined(RuleId::SharedBucketKeyUnusable, why.clone());
            b.undetermined(RuleId::KeyPolicyMissingGrant, why);
            return;
        }
    };
    let mut unusable = key.info.unusable_reasons.clone();
    if key.info.region != v.state.region {
        unusable.push(format!(
            "the key is in {} but the bucket is in {}: S3 needs a key in the bucket's region",
            key.info.region, v.state.region
        ));
    }
    if !unusable.is_empty() {
        let mut reasons = vec![
            shared.clone(),
            format!("key {} cannot be used by S3", key.info.key_arn),
        ];
        reasons.extend(unusable);
        b.add(
            &v.resource,
            v.exempt,
            Draft::new(RuleId::SharedBucketKeyUnusable, Severity::High, reasons, format!("Enable the key {} (or cancel its deletion) or point {bucket} at a usable symmetric customer managed key in {} by full ARN.", key.info.key_arn, v.state.region), Err("cmkguard never re-enables keys or moves encryption away from a key you chose".into())),
        );
    }
    super::key_grant::missing_grant_rule(b, v, &key, shared);
}
