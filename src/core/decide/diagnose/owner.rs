//! The owner's side of a diagnosis (DOMAIN.md §6, place 2): the owner re-reads its bucket
//! policy, ACL, default encryption and key — metadata, key policy and grants — and names the
//! missing half: no bucket policy grant, an AWS managed key (never shareable), a key policy
//! or grant that does not give the caller the KMS actions its request needs, a key named by
//! alias or id, a key unusable or in another region — or "owner side complete".

use serde_json::Value;

use super::paste::{bucket_statement, Block, S3Access, OWNER_BUCKET, OWNER_KEY};
use super::{owner_key_statement, Ctx, Diagnosis};
use crate::core::arn::{key_arn, KmsRef};
use crate::core::decide::bucket::{grant_statement, view};
use crate::core::decide::builder::{PlanBuilder, Resource};
use crate::core::encryption::{parse_encryption, BucketEncryption};
use crate::core::event::Trigger;
use crate::core::finding::ResourceType;
use crate::core::json::{path, str_field};
use crate::core::key_class::KeyClass;
use crate::core::policy::key_half::key_half;
use crate::core::policy::Policy;
use crate::core::snapshot::{KeyLookup, ResolvedKey, Snapshot};

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

pub(super) fn owner_side_s3(
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
            let grants = match k.state.read_grants() {
                Ok(g) => g,
                Err(why) => {
                    d.missing.push(format!(
                        "the grants of {arn} cannot be read ({why}): judged on the key policy alone"
                    ));
                    None
                }
            };
            let needed: Vec<&str> = ctx.kms_actions.iter().map(String::as_str).collect();
            let needed = if needed.is_empty() {
                vec!["kms:Decrypt"]
            } else {
                needed
            };
            let half = key_half(
                &policy,
                grants.as_deref().unwrap_or_default(),
                &k.info.account,
                ctx.caller,
                &needed,
            );
            if !half.complete() && grants.is_none() {
                d.wants_grants = Some(arn.clone());
            }
            if !half.complete() {
                let mrk_note = if mrk {
                    format!(
                        " (it is a {mrk_type} multi-Region key: related multi-Region keys never share key policies, so this key's own policy in {} needs the grant)",
                        k.info.region
                    )
                } else {
                    String::new()
                };
                d.missing.push(format!(
                    "the key policy of {arn} does not grant account {} {}{mrk_note}{}",
                    ctx.caller,
                    half.missing.join(", "),
                    if grants.is_none() {
                        " (its KMS grants were not read)".to_string()
                    } else if half.grants.is_empty() {
                        ", nor does any KMS grant".to_string()
                    } else {
                        format!(" (grants {} do not cover it)", half.grants.join(", "))
                    }
                ));
                d.missing.extend(half.notes.iter().cloned());
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
pub(super) fn owner_side_kms(
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
