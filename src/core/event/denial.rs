//! The AccessDenied family of records (DOMAIN.md §6): which account owns the denied resource
//! — as far as the record says, never a guess — and which side's trail the record is, and
//! the batch deduplication of copies of one denial. The rest of the record is read by
//! `event` (`Record`); this part only adds what a denial needs.

use super::{ignored, Parsed, Record, Resource, Service, Side, TriggerKind};
use crate::core::arn::KmsRef;
use crate::core::json::{get_ci_present, str_field};

/// Marks every denial after the first with the same `Trigger::dedup_key` as ignored, so a
/// batch holding the owner's own copy and a relayed copy of one denial diagnoses it once.
/// Across separate invocations there is no storage: there, the finding id (a hash of rule,
/// resource, caller and action) makes a second post an upsert of the same finding.
pub fn dedup(items: Vec<Parsed>) -> Vec<Parsed> {
    let mut seen = std::collections::BTreeSet::new();
    items
        .into_iter()
        .map(|p| match p {
            Parsed::Trigger(t) if t.kind == TriggerKind::AccessDenied => match t.dedup_key() {
                Some(key) if !seen.insert(key.clone()) => ignored(format!(
                    "duplicate of an earlier record of this batch ({key}): diagnosed once"
                )),
                _ => Parsed::Trigger(t),
            },
            other => other,
        })
        .collect()
}

impl Record<'_> {
    /// The owner of a denied call's resource (§6), or `None` when the record does not say.
    ///
    /// S3: the bucket entry's `accountId`, else any entry's; a bucket entry whose `accountId`
    /// is empty or absent is the requester's copy with the owner **redacted**: unknown. With no
    /// resource entry at all, `recipientAccountId` when it is not the caller (only the bucket
    /// owner and the requester receive S3 records).
    /// KMS: the account of the key ARN (request, `resources[]`, or the resource named in the
    /// error message), else a key entry's `accountId`, else `recipientAccountId` when it is not
    /// the caller; a bare key id or alias resolved in the caller's own account.
    fn denial_owner(&self, service: Service, caller: &str) -> Option<String> {
        let recipient_not_caller = || self.recipient.clone().filter(|r| r != caller);
        match service {
            Service::S3 => {
                let buckets: Vec<&Resource> = self
                    .resources
                    .iter()
                    .filter(|r| r.is_type("AWS::S3::Bucket"))
                    .collect();
                if let Some(a) = buckets.iter().find_map(|r| r.account.clone()) {
                    return Some(a);
                }
                if !buckets.is_empty() {
                    return None;
                }
                self.resources
                    .iter()
                    .find_map(|r| r.account.clone())
                    .or_else(recipient_not_caller)
            }
            Service::Kms => {
                let arn_account = |k: KmsRef| k.account().map(str::to_string);
                self.param_key_ref()
                    .filter(KmsRef::is_key_arn)
                    .and_then(arn_account)
                    .or_else(|| self.resource_key_arn().and_then(arn_account))
                    .or_else(|| self.message_key_arn().and_then(arn_account))
                    .or_else(|| {
                        self.resources
                            .iter()
                            .filter(|r| r.is_type("AWS::KMS::Key"))
                            .find_map(|r| r.account.clone())
                    })
                    .or_else(recipient_not_caller)
                    .or_else(|| {
                        // A bare key id or alias only ever resolves in the caller's account.
                        self.param_key_ref()
                            .filter(|k| !k.is_key_arn())
                            .map(|_| caller.to_string())
                    })
            }
            // Never reached: only S3 and KMS denials are diagnosed (`Service::diagnosed`).
            Service::Ec2 | Service::Rds | Service::SecretsManager => recipient_not_caller(),
        }
    }

    /// A key ARN named in `errorMessage` ("… on resource: arn:aws:kms:…:key/…").
    fn message_key_arn(&self) -> Option<KmsRef> {
        let message = self.error_message.as_deref()?;
        message
            .split(|c: char| c.is_whitespace() || c == '"' || c == ',')
            .filter(|w| w.starts_with("arn:"))
            .find_map(|w| KmsRef::parse(w.trim_end_matches(['.', ';'])).filter(KmsRef::is_key_arn))
    }

    /// S3 puts `aws:s3:arn` (bucket or object ARN) in the encryption context of the KMS calls
    /// it makes for a request, which names the bucket behind a denied `Decrypt`.
    fn encryption_context_s3(&self) -> Option<Resource> {
        let context = get_ci_present(&self.params, "encryptionContext")?;
        Some(Resource {
            arn: str_field(context, "aws:s3:arn"),
            account: None,
            kind: None,
        })
    }
}

/// §6: a denial is worth diagnosing only when it crossed accounts.
pub(super) fn access_denied(rec: &Record, service: Service, code: &str) -> Parsed {
    let caller = rec
        .caller_account
        .clone()
        .filter(|a| !a.eq_ignore_ascii_case("anonymous"));
    let Some(caller) = caller else {
        return ignored(format!(
            "{code} on {} for a caller without an account id (userIdentity.type {}): cannot tell whether it crossed accounts",
            rec.name,
            rec.identity_type.as_deref().unwrap_or("missing")
        ));
    };
    let mut trigger = rec.trigger(TriggerKind::AccessDenied, service);
    match service {
        Service::S3 => {
            trigger.bucket = rec.bucket();
            trigger.object_key = rec.object_key();
            if trigger.bucket.is_none() {
                return ignored(format!("{code} on {} names no bucket", rec.name));
            }
        }
        Service::Kms => {
            // Across accounts only a key ARN can work, so the ARN is what tells us the owner; a
            // bare id or alias was looked up in the caller's account and stays as given.
            trigger.key = rec
                .param_key_ref()
                .filter(KmsRef::is_key_arn)
                .or_else(|| rec.resource_key_arn())
                .map(|k| k.text().to_string())
                .or_else(|| str_field(&rec.params, "keyId"));
            let s3 = rec.encryption_context_s3();
            trigger.bucket = s3.as_ref().and_then(Resource::bucket);
            trigger.object_key = s3.as_ref().and_then(Resource::object_key);
            if trigger.key.is_none() && trigger.bucket.is_none() {
                return ignored(format!(
                    "{code} on {} names neither a key nor an S3 object",
                    rec.name
                ));
            }
        }
        Service::Ec2 | Service::Rds | Service::SecretsManager => {
            return ignored(format!(
                "{code} on {}: denials of this service are not diagnosed",
                rec.name
            ));
        }
    }
    let owner = rec.denial_owner(service, &caller);
    if owner.as_deref() == Some(caller.as_str()) {
        return ignored(format!(
            "{code} within account {caller}: not a cross-account handshake problem"
        ));
    }
    // The recording account: `rec.account` falls back to the caller, so it is always known.
    let recorder = rec.account.clone().unwrap_or_else(|| caller.clone());
    trigger.side = Some(match &owner {
        Some(o) if *o == recorder => Side::Owner,
        _ if recorder == caller => Side::Caller,
        _ => Side::ThirdParty,
    });
    trigger.owner_account = owner;
    Parsed::Trigger(trigger)
}
