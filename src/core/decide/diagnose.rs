//! Cross-account AccessDenied diagnosis (DOMAIN.md §6): in the owner's account, name the
//! missing half of the handshake from the current bucket policy, encryption and key policy;
//! in the caller's account, name the foreign resource and the owner-side checklist. Each
//! diagnosis carries the statements to paste on each side.

use serde_json::{json, Value};

use super::bucket::{grant_statement, view};
use super::builder::{Draft, PlanBuilder, Resource};
use crate::core::arn::{bucket_arn, partition_for_region, KmsRef};
use crate::core::encryption::{parse_encryption, BucketEncryption};
use crate::core::event::Trigger;
use crate::core::finding::{ResourceType, RuleId, Severity};
use crate::core::key::KeyClass;
use crate::core::policy::key_policy::analyse_key_policy;
use crate::core::policy::Policy;
use crate::core::snapshot::{KeyLookup, Snapshot};

pub fn evaluate(b: &mut PlanBuilder, trigger: &Trigger, snap: &Snapshot) {
    let Some(caller) = trigger.caller_account.clone() else {
        return b.ignore_in_place("AccessDenied record without a caller account".into());
    };
    let owner = trigger
        .owner_account
        .clone()
        .or_else(|| trigger.account.clone())
        .unwrap_or_default();
    let region = trigger.region.clone().unwrap_or_default();
    let partition = partition_for_region(&region);
    let action = action_of(trigger);
    let recorded_in_owner = trigger.account.as_deref().is_none_or(|a| a == owner);
    let is_s3 = trigger.event_source.starts_with("s3");
    let key_ref = trigger.key.as_deref().and_then(KmsRef::parse);
    let (res, mut reasons, mut fixes) = if !recorded_in_owner {
        caller_side(trigger, &caller, &owner, partition, &action)
    } else if is_s3 {
        match trigger.bucket.as_deref() {
            Some(bucket) => match owner_side_s3(b, snap, bucket, &caller, &action) {
                Ok(x) => x,
                Err(why) => return b.ignore_in_place(why),
            },
            None => return b.ignore_in_place("S3 AccessDenied record names no bucket".into()),
        }
    } else {
        match &key_ref {
            Some(r) => owner_side_kms(snap, r, &owner, &region, &caller, &action),
            None => return b.ignore_in_place("KMS AccessDenied record names no key".into()),
        }
    };
    reasons.insert(
        0,
        format!(
            "{} in account {caller} was denied {action} on {} of account {owner}",
            trigger.principal_arn.as_deref().unwrap_or("a principal"),
            res.arn
        ),
    );
    if fixes.is_empty() {
        fixes.push("no fix is known".into());
    }
    b.set_subject(&res.arn);
    b.add(
        &res,
        false,
        Draft {
            rule: RuleId::AccessDeniedDiagnosis,
            severity: Severity::Medium,
            reasons,
            fix: fixes.join(" "),
            remedy: Err("a diagnosis: the fix spans two accounts and is applied by hand".into()),
            discriminator: format!("{caller}|{action}"),
        },
    );
}

fn action_of(t: &Trigger) -> String {
    let service = if t.event_source.starts_with("kms") {
        "kms"
    } else {
        "s3"
    };
    let name = match t.event_name.as_str() {
        "ListObjects" | "ListObjectsV2" | "ListObjectVersions" => "ListBucket",
        "HeadObject" => "GetObject",
        "HeadBucket" => "ListBucket",
        other => other,
    };
    format!("{service}:{name}")
}

type Diagnosis = (Resource, Vec<String>, Vec<String>);

fn caller_iam_statement(action: &str, bucket_arn: Option<&str>, key_arn: Option<&str>) -> Value {
    let mut statements = Vec::new();
    if let Some(b) = bucket_arn {
        statements
            .push(json!({"Effect": "Allow", "Action": action, "Resource": [b, format!("{b}/*")]}));
    }
    statements.push(json!({"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"], "Resource": key_arn.unwrap_or("<full key ARN of the bucket's key>")}));
    Value::Array(statements)
}

fn caller_side(t: &Trigger, caller: &str, owner: &str, partition: &str, action: &str) -> Diagnosis {
    let (kind, arn) = match (&t.bucket, &t.key) {
        (Some(bucket), _) if t.event_source.starts_with("s3") => {
            (ResourceType::AwsS3Bucket, bucket_arn(partition, bucket))
        }
        (_, Some(key)) => (ResourceType::AwsKmsKey, key.clone()),
        (Some(bucket), None) => (ResourceType::AwsS3Bucket, bucket_arn(partition, bucket)),
        (None, None) => (ResourceType::AwsS3Bucket, "unknown resource".to_string()),
    };
    let reasons = vec![
        format!("recorded in the caller's account {caller}: the denied resource belongs to account {owner}"),
        format!("owner-side checklist for {owner}: (1) the bucket policy grants account {caller} {action}; (2) the bucket's default encryption uses a customer managed key by full ARN, not aws/s3; (3) that key's policy grants {caller} kms:Decrypt / kms:GenerateDataKey*; (4) the key is enabled and in the bucket's region"),
    ];
    let bucket = (kind == ResourceType::AwsS3Bucket).then_some(arn.as_str());
    let key = (kind == ResourceType::AwsKmsKey).then_some(arn.as_str());
    let fixes = vec![format!(
        "Caller side ({caller}) IAM policy statements: {}",
        caller_iam_statement(action, bucket, key)
    )];
    (
        Resource {
            kind,
            arn: arn.clone(),
            account: owner.to_string(),
            region: t.region.clone().unwrap_or_default(),
        },
        reasons,
        fixes,
    )
}

fn owner_side_s3(
    b: &mut PlanBuilder,
    snap: &Snapshot,
    bucket: &str,
    caller: &str,
    action: &str,
) -> Result<Diagnosis, String> {
    let v = view(b, snap, bucket)?;
    let mut reasons = Vec::new();
    let mut fixes = Vec::new();
    let s = &v.sharing;
    let granted = s.public || s.external_accounts.iter().any(|a| a == caller);
    let arn = v.resource.arn.clone();
    if !granted {
        let via_org = if s.organisations.is_empty() {
            String::new()
        } else {
            format!(
                " (it grants organisation(s) {}: check that {caller} belongs to one)",
                s.organisations.join(", ")
            )
        };
        reasons.push(format!(
            "the bucket policy of {bucket} grants nothing to account {caller}{via_org}"
        ));
        fixes.push(format!(
            "Owner side: add to the bucket policy of {bucket}: {}.",
            json!({"Sid": format!("Allow{caller}"), "Effect": "Allow", "Principal": {"AWS": format!("arn:{}:iam::{caller}:root", v.partition)}, "Action": action, "Resource": [arn.clone(), format!("{arn}/*")]})
        ));
    }
    let mut key_arn = None;
    let encryption = match v.state.encryption.as_ref().filter(|e| !e.is_null()) {
        None => Ok(BucketEncryption::None),
        Some(raw) => parse_encryption(raw),
    };
    match encryption {
        Err(e) => reasons.push(format!(
            "the default encryption of {bucket} cannot be read ({e}): the key side is not checked"
        )),
        Ok(BucketEncryption::None | BucketEncryption::SseS3 { .. }) => {}
        Ok(BucketEncryption::SseKms { key: None, .. }) => {
            aws_managed(&mut reasons, &mut fixes, bucket)
        }
        Ok(BucketEncryption::SseKms { key: Some(r), .. }) if r.is_aws_managed_alias() => {
            aws_managed(&mut reasons, &mut fixes, bucket)
        }
        Ok(BucketEncryption::SseKms { key: Some(r), .. }) => {
            if !r.is_key_arn() {
                reasons.push(format!("the bucket references its key as '{}': for a writer in {caller} S3 resolves it in {caller}'s account; use the full key ARN", r.text()));
            }
            match snap.lookup_key(&r, &v.state.account, &v.state.region) {
                KeyLookup::Found(k) if k.info.class == KeyClass::AwsManaged => {
                    aws_managed(&mut reasons, &mut fixes, bucket)
                }
                KeyLookup::Found(k) => {
                    key_arn = Some(k.info.key_arn.clone());
                    key_checks(&k, caller, &v.state.region, &mut reasons, &mut fixes);
                }
                KeyLookup::NotFound => {
                    reasons.push(format!("the bucket's key '{}' does not exist", r.text()))
                }
                KeyLookup::Unknown(_) => reasons.push(format!(
                    "the bucket's key '{}' was not read: the key side is not checked",
                    r.text()
                )),
            }
        }
    }
    if reasons.is_empty() {
        reasons.push(format!(
            "owner side complete: the caller's IAM policy in {caller} must allow {action} on {arn}/* and kms:Decrypt / kms:GenerateDataKey on {}",
            key_arn.as_deref().unwrap_or("the bucket's key (none: SSE-S3)")
        ));
    }
    fixes.push(format!(
        "Caller side ({caller}) IAM policy statements: {}",
        caller_iam_statement(action, Some(&arn), key_arn.as_deref())
    ));
    Ok((v.resource.clone(), reasons, fixes))
}

fn aws_managed(reasons: &mut Vec<String>, fixes: &mut Vec<String>, bucket: &str) {
    reasons.push(format!("{bucket} is encrypted with the AWS managed key aws/s3, which can never be shared with another account: move the bucket to a customer managed key"));
    fixes.push(format!("Owner side: put-bucket-encryption on {bucket} with SSEAlgorithm aws:kms and a customer managed key's full ARN granted to the caller account."));
}

fn key_checks(
    k: &crate::core::snapshot::ResolvedKey,
    caller: &str,
    bucket_region: &str,
    reasons: &mut Vec<String>,
    fixes: &mut Vec<String>,
) {
    for why in &k.info.unusable_reasons {
        reasons.push(format!("key {}: {why}", k.info.key_arn));
    }
    if !bucket_region.is_empty() && k.info.region != bucket_region {
        reasons.push(format!(
            "key {} is in {}, not the bucket's region {bucket_region}",
            k.info.key_arn, k.info.region
        ));
    }
    match k
        .state
        .policy
        .as_ref()
        .filter(|p| !p.is_null())
        .map(Policy::parse_any)
    {
        None => reasons.push(format!(
            "the key policy of {} was not read: the key grant is not checked",
            k.info.key_arn
        )),
        Some(Err(e)) => reasons.push(format!(
            "the key policy of {} cannot be read: {e}",
            k.info.key_arn
        )),
        Some(Ok(policy)) => {
            let report = analyse_key_policy(&policy, &k.info.account);
            if !report.grants_usage_to(&k.info.account, caller) {
                reasons.push(format!(
                    "the key policy of {} does not grant {caller}",
                    k.info.key_arn
                ));
                fixes.push(format!(
                    "Owner side: add to the key policy of {}: {}.",
                    k.info.key_arn,
                    grant_statement(caller, &k.info.partition, &k.info.region)
                ));
            }
        }
    }
}

fn owner_side_kms(
    snap: &Snapshot,
    r: &KmsRef,
    owner: &str,
    region: &str,
    caller: &str,
    action: &str,
) -> Diagnosis {
    let mut reasons = Vec::new();
    let mut fixes = Vec::new();
    let mut arn = r.text().to_string();
    match snap.lookup_key(r, owner, region) {
        KeyLookup::Found(k) => {
            arn = k.info.key_arn.clone();
            if k.info.class == KeyClass::AwsManaged {
                reasons.push(format!("{arn} is an AWS managed key: its policy admits only its own account and can never be shared"));
                fixes.push("Owner side: encrypt the shared data with a customer managed key granted to the caller account.".into());
            } else {
                key_checks(&k, caller, "", &mut reasons, &mut fixes);
            }
        }
        KeyLookup::NotFound => reasons.push(format!("the key '{}' does not exist", r.text())),
        KeyLookup::Unknown(_) => reasons.push(format!(
            "the key '{}' was not read: nothing can be checked",
            r.text()
        )),
    }
    if reasons.is_empty() {
        reasons.push(format!(
            "owner side complete: the caller's IAM policy in {caller} must allow {action} on {arn}"
        ));
    }
    fixes.push(format!(
        "Caller side ({caller}) IAM policy statement: {}",
        json!({"Effect": "Allow", "Action": [action, "kms:DescribeKey"], "Resource": arn})
    ));
    let account = KmsRef::parse(&arn)
        .and_then(|r| r.account().map(str::to_string))
        .unwrap_or_else(|| owner.to_string());
    (
        Resource {
            kind: ResourceType::AwsKmsKey,
            arn,
            account,
            region: region.to_string(),
        },
        reasons,
        fixes,
    )
}
