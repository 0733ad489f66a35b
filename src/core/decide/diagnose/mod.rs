//! Cross-account AccessDenied diagnosis (DOMAIN.md §6): in the owner's account, name the
//! missing half of the handshake from the current bucket policy, ACL, encryption and key
//! (metadata + policy); in the caller's account (or a third account that recorded the call),
//! name the foreign resource and the owner-side checklist. Every diagnosis carries the
//! statements to paste on each side (see `paste`), and a denial whose message blames an SCP,
//! RCP, permissions boundary, session policy or VPC endpoint policy says so instead of
//! blaming the owner's policies.
//!
//! The finding's reasons read: the denial, then `verdict: …`, then each missing piece.
//! Its parts: `denial` (which policy type a denial message blames) and `paste` (the
//! ready-to-paste statements and their format in the finding's `fix`).

mod denial;
pub mod paste;

use serde_json::Value;

use super::bucket::{grant_statement, view};
use super::builder::{Draft, PlanBuilder, Resource};
use crate::core::arn::{bucket_arn, key_arn, partition_for_region, KmsRef};
use crate::core::encryption::{parse_encryption, BucketEncryption};
use crate::core::event::Trigger;
use crate::core::finding::{ResourceType, RuleId, Severity};
use crate::core::json::{path, str_field};
use crate::core::key_class::KeyClass;
use crate::core::policy::key_policy::analyse_key_policy;
use crate::core::policy::Policy;
use crate::core::snapshot::{KeyLookup, ResolvedKey, Snapshot};
use denial::Denial;
use paste::{
    bucket_statement, caller_policy, direct_key_statement, render_fix, Block, S3Access, CALLER_IAM,
    OWNER_BUCKET, OWNER_KEY,
};

/// Prefix of the verdict reason (the second reason of every diagnosis).
pub const VERDICT: &str = "verdict: ";

/// What the denied request touched and which account answers for what.
struct Ctx<'a> {
    caller: &'a str,
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
        }
    }
}

pub fn evaluate(b: &mut PlanBuilder, trigger: &Trigger, snap: &Snapshot) {
    let Some(caller) = trigger.caller_account.clone().filter(|c| !c.is_empty()) else {
        return b.ignore_in_place("AccessDenied record without a caller account".into());
    };
    let Some(owner) = trigger
        .owner_account
        .clone()
        .or_else(|| trigger.account.clone())
        .filter(|o| !o.is_empty())
    else {
        return b.ignore_in_place(
            "AccessDenied record names no resource owner or recipient account".into(),
        );
    };
    if caller == owner {
        return b.ignore_in_place(format!(
            "AccessDenied within account {owner}: not a cross-account handshake problem"
        ));
    }
    let region = trigger.region.clone().unwrap_or_default();
    let is_s3 = trigger.event_source.starts_with("s3");
    let recorded = trigger.account.clone().unwrap_or_else(|| owner.clone());
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
        owner: &owner,
        region: &region,
        partition: partition_for_region(&region),
        s3,
        kms_actions,
        kms_action,
    };

    let mut d = if recorded != owner {
        foreign_side(trigger, &ctx, &recorded, key_ref.as_ref())
    } else if is_s3 {
        let bucket = trigger.bucket.as_deref().unwrap_or_default();
        match owner_side_s3(b, snap, bucket, &ctx) {
            Ok(d) => d,
            Err(why) => return b.ignore_in_place(why),
        }
    } else {
        match owner_side_kms(b, snap, trigger, key_ref.as_ref(), &ctx) {
            Ok(d) => d,
            Err(why) => return b.ignore_in_place(why),
        }
    };
    if let Some(r) = &key_ref {
        named_key_warning(r, &ctx, &recorded, &mut d);
    }
    finish(b, trigger, &ctx, d);
}

/// Adds the verdict, the caller's IAM policy and the summary, and records the finding.
fn finish(b: &mut PlanBuilder, trigger: &Trigger, ctx: &Ctx, mut d: Diagnosis) {
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

/// Recorded in the caller's account or in a third account: the owner's resources are not
/// ours to read, so the diagnosis names the foreign resource and the owner-side checklist,
/// with the statements each side needs.
fn foreign_side(t: &Trigger, ctx: &Ctx, recorded: &str, key: Option<&KmsRef>) -> Diagnosis {
    let key_arn = key.filter(|k| k.is_key_arn()).map(|k| k.text().to_string());
    let (kind, arn) = match (&t.bucket, &t.key) {
        (Some(bucket), _) if t.event_source.starts_with("s3") => {
            (ResourceType::AwsS3Bucket, bucket_arn(ctx.partition, bucket))
        }
        (_, Some(key)) => (ResourceType::AwsKmsKey, key.clone()),
        (Some(bucket), None) => (ResourceType::AwsS3Bucket, bucket_arn(ctx.partition, bucket)),
        (None, None) => (ResourceType::AwsS3Bucket, "unknown resource".to_string()),
    };
    let resource = Resource {
        kind,
        arn: arn.clone(),
        account: ctx.owner.to_string(),
        region: ctx.region.to_string(),
    };
    let mut d = Diagnosis::new(resource, t.bucket.clone());
    d.key_arn = key_arn.clone();
    let who = if recorded == ctx.caller {
        format!("recorded in the caller's account {}", ctx.caller)
    } else {
        format!(
            "recorded in account {recorded}, which is neither the caller {} nor the owner {} (an organisation trail or delegated administrator)",
            ctx.caller, ctx.owner
        )
    };
    d.verdict = Some(format!(
        "{who}: the denied {} {arn} belongs to account {}; its owner-side policies cannot be read from here",
        if kind == ResourceType::AwsKmsKey { "key" } else { "bucket" },
        ctx.owner
    ));
    let s3_action = ctx
        .s3
        .as_ref()
        .map(|a| a.action.clone())
        .unwrap_or_else(|| "the S3 actions".into());
    d.missing.push(format!(
        "owner-side checklist for account {}: (1) the bucket policy grants account {} {s3_action}; (2) the bucket's default encryption is SSE-KMS with a customer managed key by full key ARN, not aws/s3; (3) that key's policy grants {} {}; (4) the key is enabled, not pending deletion, and in the bucket's region",
        ctx.owner,
        ctx.caller,
        ctx.caller,
        if ctx.kms_actions.is_empty() { "kms:Decrypt / kms:GenerateDataKey".to_string() } else { ctx.kms_actions.join(" / ") }
    ));
    if key_arn.is_none() && !ctx.kms_actions.is_empty() {
        d.missing.push(format!(
            "the key's full ARN is not in the record: ask account {} for it, the caller's IAM policy must name it",
            ctx.owner
        ));
    }
    if let (Some(a), Some(bucket)) = (&ctx.s3, &t.bucket) {
        if t.event_source.starts_with("s3") {
            d.blocks.push(Block::new(
                OWNER_BUCKET,
                format!(
                    "account {} adds this statement to the policy of bucket {bucket} (if missing)",
                    ctx.owner
                ),
                bucket_statement(a, ctx.partition, bucket, ctx.caller),
            ));
        }
    }
    d.blocks.push(Block::new(
        OWNER_KEY,
        format!(
            "account {} adds this statement to the key policy of {} (if missing)",
            ctx.owner,
            key_arn
                .as_deref()
                .unwrap_or("the bucket's customer managed key")
        ),
        owner_key_statement(ctx, ctx.partition, ctx.region),
    ));
    d
}

/// The key policy statement for the caller: usage through S3 only when S3 is in between,
/// else the denied KMS action itself.
fn owner_key_statement(ctx: &Ctx, partition: &str, key_region: &str) -> Value {
    match (&ctx.s3, &ctx.kms_action) {
        (None, Some(action)) => direct_key_statement(action, partition, ctx.caller),
        _ => grant_statement(ctx.caller, partition, key_region),
    }
}

/// Canonical-user ACL grants to someone other than the owner, with their permission.
fn acl_grants(acl: Option<&Value>, owner_canonical: Option<&str>) -> Vec<(String, String)> {
    let Some(acl) = acl.and_then(crate::core::json::embedded_document) else {
        return Vec::new();
    };
    let acl_owner = path(&acl, &["Owner"]).and_then(|o| str_field(o, "ID"));
    let Some(Value::Array(grants)) = crate::core::json::get_ci_present(&acl, "Grants") else {
        return Vec::new();
    };
    grants
        .iter()
        .filter_map(|g| {
            let grantee = crate::core::json::get_ci_present(g, "Grantee")?;
            let id = str_field(grantee, "ID")?;
            let permission = str_field(g, "Permission").unwrap_or_default();
            let own = Some(id.as_str()) == owner_canonical || Some(&id) == acl_owner.as_ref();
            (!own).then_some((id, permission))
        })
        .collect()
}

/// Whether a bucket ACL permission covers an S3 action: READ lists the bucket, WRITE writes
/// objects; object reads are governed by object ACLs, never by the bucket's.
fn acl_covers(permission: &str, action: &str) -> bool {
    let p = permission.to_ascii_uppercase();
    let read = p == "READ" || p == "FULL_CONTROL";
    let write = p == "WRITE" || p == "FULL_CONTROL";
    match action {
        "s3:ListBucket" | "s3:ListBucketVersions" | "s3:ListBucketMultipartUploads" => read,
        "s3:PutObject" | "s3:DeleteObject" => write,
        _ => false,
    }
}

fn owner_side_s3(
    b: &mut PlanBuilder,
    snap: &Snapshot,
    bucket: &str,
    ctx: &Ctx,
) -> Result<Diagnosis, String> {
    let v = view(b, snap, bucket)?;
    let mut d = Diagnosis::new(v.resource.clone(), Some(bucket.to_string()));
    let s3 = ctx
        .s3
        .clone()
        .unwrap_or_else(|| S3Access::of_event("GetObject"));
    let s = &v.sharing;
    let granted = s.public || s.external_accounts.iter().any(|a| a == ctx.caller);
    if !granted {
        let owner_canonical = v.state.owner_canonical_id.as_deref();
        let acl = acl_grants(v.state.acl.as_ref(), owner_canonical);
        let covering: Vec<String> = acl
            .iter()
            .filter(|(_, p)| acl_covers(p, &s3.action))
            .map(|(id, p)| format!("canonical user {id} ({p})"))
            .collect();
        let mut line = format!(
            "the bucket policy of {bucket} grants nothing to account {}",
            ctx.caller
        );
        if !s.organisations.is_empty() {
            line.push_str(&format!(
                " (it grants organisation(s) {}: check that {} belongs to one)",
                s.organisations.join(", "),
                ctx.caller
            ));
        }
        if !covering.is_empty() {
            line.push_str(&format!(
                "; the bucket ACL grants {} — an ACL grant counts: if that is account {}'s canonical id, {} is granted by the ACL (unless Object Ownership is BucketOwnerEnforced, which disables ACLs); a bucket policy grant is the durable fix",
                covering.join(", "),
                ctx.caller,
                s3.action
            ));
        } else if !acl.is_empty() {
            line.push_str(&format!(
                "; the bucket ACL grants {} but a bucket ACL never covers {} (object reads need object ACLs)",
                acl.iter()
                    .map(|(id, p)| format!("canonical user {id} ({p})"))
                    .collect::<Vec<_>>()
                    .join(", "),
                s3.action
            ));
        }
        d.missing.push(line);
        d.blocks.push(Block::new(
            OWNER_BUCKET,
            format!(
                "account {} adds this statement to the Statement array of the policy of bucket {bucket}",
                ctx.owner
            ),
            bucket_statement(&s3, v.partition, bucket, ctx.caller),
        ));
    }
    if s3.kms_actions().is_empty() {
        // Listing and bucket-level calls never touch the key.
        return Ok(d);
    }
    let encryption = match v.state.encryption.as_ref().filter(|e| !e.is_null()) {
        None => Ok(BucketEncryption::None),
        Some(raw) => parse_encryption(raw),
    };
    match encryption {
        Err(e) => d.missing.push(format!(
            "the default encryption of {bucket} cannot be read ({e}): the key side is not checked"
        )),
        Ok(BucketEncryption::None | BucketEncryption::SseS3 { .. }) => {}
        Ok(BucketEncryption::SseKms { key: None, .. }) => {
            aws_managed(&mut d, ctx, bucket, v.partition, &v.state.region)
        }
        Ok(BucketEncryption::SseKms { key: Some(r), .. }) if r.is_aws_managed_alias() => {
            aws_managed(&mut d, ctx, bucket, v.partition, &v.state.region)
        }
        Ok(BucketEncryption::SseKms { key: Some(r), .. }) => {
            if !r.is_key_arn() {
                d.missing.push(format!(
                    "the bucket references its key as '{}': for a writer in account {} S3 resolves it in the writer's account, so objects land under a key account {} does not control; use the full key ARN",
                    r.text(), ctx.caller, ctx.owner
                ));
            }
            let lookup = snap.lookup_key(&r, &v.state.account, &v.state.region);
            check_key(&mut d, ctx, lookup, &r, Some(&v.state.region));
            if d.aws_managed_key.is_some() {
                aws_managed(&mut d, ctx, bucket, v.partition, &v.state.region);
            }
        }
    }
    Ok(d)
}

fn aws_managed(d: &mut Diagnosis, ctx: &Ctx, bucket: &str, partition: &str, region: &str) {
    d.missing.push(format!(
        "{bucket} is encrypted with the AWS managed key aws/s3, which can never be shared with another account (its key policy admits only account {}): move the bucket to a customer managed key",
        ctx.owner
    ));
    d.blocks.push(Block::new(
        OWNER_KEY,
        format!(
            "account {} creates (or picks) a customer managed key in {region}, adds this statement to its key policy, then runs put-bucket-encryption on {bucket} with SSEAlgorithm aws:kms and that key's full ARN",
            ctx.owner
        ),
        grant_statement(ctx.caller, partition, region),
    ));
}

/// Judges a looked-up key: class, usability, region, key policy. Sets `d.key_arn`.
fn check_key(
    d: &mut Diagnosis,
    ctx: &Ctx,
    lookup: KeyLookup,
    r: &KmsRef,
    bucket_region: Option<&str>,
) {
    match lookup {
        KeyLookup::Found(k) if k.info.class == KeyClass::AwsManaged => {
            // The caller words it: aws/s3 on a bucket, an AWS managed key on a KMS call.
            d.aws_managed_key = Some(k.info.key_arn.clone());
            return;
        }
        KeyLookup::Found(k) => {
            d.key_arn = Some(k.info.key_arn.clone());
            key_checks(d, ctx, &k, bucket_region);
        }
        KeyLookup::NotFound => {
            d.missing.push(format!(
                "the key '{}' does not exist in account {}{}",
                r.text(),
                r.account().unwrap_or(ctx.owner),
                r.region()
                    .map(|reg| format!(", region {reg}"))
                    .unwrap_or_default()
            ));
            other_region(d, r, bucket_region);
        }
        KeyLookup::Unknown(why) => {
            d.missing.push(format!(
                "the key '{}' was not read{}: the key side is not checked",
                r.text(),
                why.map(|w| format!(" ({w})")).unwrap_or_default()
            ));
            other_region(d, r, bucket_region);
        }
    }
    if r.is_key_arn() && d.key_arn.is_none() {
        d.key_arn = Some(r.text().to_string());
    }
}

/// A key ARN in another region than the bucket: S3 uses only keys of the bucket's region.
fn other_region(d: &mut Diagnosis, r: &KmsRef, bucket_region: Option<&str>) {
    if let (Some(key_region), Some(bucket_region)) = (r.region(), bucket_region) {
        if !bucket_region.is_empty() && key_region != bucket_region {
            d.missing.push(format!(
                "the key {} is in region {key_region}, not the bucket's region {bucket_region}: S3 only uses a key of the bucket's region",
                r.text()
            ));
        }
    }
}

fn key_checks(d: &mut Diagnosis, ctx: &Ctx, k: &ResolvedKey, bucket_region: Option<&str>) {
    let arn = &k.info.key_arn;
    for why in &k.info.unusable_reasons {
        d.missing
            .push(format!("key {arn} ({}): {why}", k.info.key_state));
    }
    let mrk = k.info.multi_region;
    let mrk_type = k
        .info
        .multi_region_key_type
        .clone()
        .unwrap_or_else(|| "multi-Region key".into())
        .to_ascii_lowercase();
    if let Some(bucket_region) = bucket_region.filter(|r| !r.is_empty()) {
        if k.info.region != bucket_region {
            let hint = if mrk {
                format!(
                    "; it is a multi-Region key: replicate it to {bucket_region} and reference the replica {}",
                    key_arn(&k.info.partition, bucket_region, &k.info.account, &k.info.key_id)
                )
            } else {
                String::new()
            };
            d.missing.push(format!(
                "key {arn} is in region {}, not the bucket's region {bucket_region}: S3 only uses a key of the bucket's region{hint}",
                k.info.region
            ));
        }
    }
    let policy = k
        .state
        .policy
        .as_ref()
        .filter(|p| !p.is_null())
        .map(Policy::parse_any);
    match policy {
        None => d.missing.push(format!(
            "the key policy of {arn} was not read: the key grant is not checked"
        )),
        Some(Err(e)) => d
            .missing
            .push(format!("the key policy of {arn} cannot be read: {e}")),
        Some(Ok(policy)) => {
            let report = analyse_key_policy(&policy, &k.info.account);
            if !report.grants_usage_to(&k.info.account, ctx.caller) {
                let mrk_note = if mrk {
                    format!(
                        " (it is a {mrk_type} multi-Region key: related multi-Region keys never share key policies, so this key's own policy in {} needs the grant)",
                        k.info.region
                    )
                } else {
                    String::new()
                };
                d.missing.push(format!(
                    "the key policy of {arn} does not grant account {}{mrk_note}",
                    ctx.caller
                ));
                d.blocks.push(Block::new(
                    OWNER_KEY,
                    format!(
                        "account {} adds this statement to the Statement array of the key policy of {arn}",
                        k.info.account
                    ),
                    owner_key_statement(ctx, &k.info.partition, &k.info.region),
                ));
            }
        }
    }
}

/// A KMS denial recorded in the owner's account. When S3 made the call for the caller (the
/// encryption context names a bucket), S3 had already authorised the S3 action — so the
/// bucket side is in place and only the key side can be missing.
fn owner_side_kms(
    b: &mut PlanBuilder,
    snap: &Snapshot,
    t: &Trigger,
    key_ref: Option<&KmsRef>,
    ctx: &Ctx,
) -> Result<Diagnosis, String> {
    let bucket_state = snap
        .bucket
        .as_ref()
        .filter(|s| Some(&s.name) == t.bucket.as_ref());
    // The key the record names; else the bucket's default key (the object may predate it).
    let from_bucket = || -> Option<KmsRef> {
        let enc = bucket_state?.encryption.as_ref()?;
        match parse_encryption(enc).ok()? {
            BucketEncryption::SseKms { key, .. } => {
                Some(key.unwrap_or_else(|| KmsRef::AliasName {
                    alias: "alias/aws/s3".into(),
                }))
            }
            _ => None,
        }
    };
    let Some(r) = key_ref.cloned().or_else(from_bucket) else {
        return Err(format!(
            "KMS AccessDenied on {}: the record names no key and bucket {} is not SSE-KMS or was not read",
            t.event_name,
            t.bucket.as_deref().unwrap_or("-")
        ));
    };
    let region = r.region().unwrap_or(ctx.region).to_string();
    let arn = match &r {
        KmsRef::KeyArn { arn, .. } => arn.clone(),
        other => other.text().to_string(),
    };
    let resource = Resource {
        kind: ResourceType::AwsKmsKey,
        arn,
        account: ctx.owner.to_string(),
        region: region.clone(),
    };
    let mut d = Diagnosis::new(resource, t.bucket.clone());
    if let Some(bucket) = &t.bucket {
        let action = ctx.s3.as_ref().map(|a| a.action.as_str()).unwrap_or("s3:*");
        b.note(format!(
            "S3 called KMS for the caller, so S3 had already authorised {action} on bucket {bucket}: the bucket side is in place"
        ));
    }
    let bucket_region = bucket_state.map(|s| s.region.as_str());
    let lookup = snap.lookup_key(&r, ctx.owner, &region);
    check_key(&mut d, ctx, lookup, &r, bucket_region);
    if let Some(aws) = d.aws_managed_key.clone() {
        d.resource.arn = aws.clone();
        {
            d.missing.push(format!(
                "{aws} is an AWS managed key: its policy admits only account {} and can never be shared; encrypt the shared data with a customer managed key granted to account {}",
                ctx.owner, ctx.caller
            ));
            d.blocks.push(Block::new(
                OWNER_KEY,
                format!(
                    "account {} adds this statement to the key policy of the customer managed key that replaces {aws}",
                    ctx.owner
                ),
                owner_key_statement(ctx, ctx.partition, &region),
            ));
        }
    } else if let Some(k) = d.key_arn.clone() {
        d.resource.arn = k;
    }
    if let Some(acct) = KmsRef::parse(&d.resource.arn).and_then(|r| r.account().map(str::to_string))
    {
        d.resource.account = acct;
    }
    Ok(d)
}
