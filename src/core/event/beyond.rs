//! The beyond-S3 events (DOMAIN-BEYOND-S3.md §7): EC2 snapshot and AMI shares and new copies,
//! RDS snapshot shares and new snapshots, Secrets Manager policy and key changes, KMS grants,
//! and the region's EBS settings, each a trigger for re-reading the resource. The record's
//! request is kept as `change` (entries added / removed, the grant) for the reasons only: the
//! decision is taken on the re-read state. Lenient as the rest of the parser: `items` may be
//! missing, `add` a list or a single item, `group` spelt `groups`, ids malformed.
//!
//! A share that EC2 refused because the snapshot is under the AWS managed key
//! (`OperationNotPermitted` "Encrypted snapshots with EBS default key cannot be shared",
//! `InvalidParameter` "Snapshots encrypted with the AWS Managed CMK can't be shared" for AMIs)
//! changed nothing, but it is how users meet the rule: it becomes a trigger carrying its
//! error, which the decider turns into `SHARED_SNAPSHOT_AWS_MANAGED_KEY` /
//! `SHARED_IMAGE_AWS_MANAGED_KEY` with the fix. Every other failure stays ignored.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ignored, Parsed, Record, Service, TriggerKind};
use crate::core::arn::partition_for_region;
use crate::core::beyond::ec2::{ec2_arn, Sharee};
use crate::core::beyond::rds::db_snapshot_arn;
use crate::core::json::{get_ci_present, str_field, string_list};

/// What a beyond-S3 call asked for, as the record says (never the truth: re-read).
/// Field names are a public interface (parse-event JSON); empty parts are not written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Share entries the call adds (`createVolumePermission.add`, `launchPermission.add`,
    /// `valuesToAdd`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<Sharee>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<Sharee>,
    /// `Reset…Attribute`: every share removed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reset: bool,
    /// The source of a copy (`sourceSnapshotId`, `sourceImageId`, `sourceDBSnapshotIdentifier`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The key the request names (`kmsKeyId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// KMS grants: `granteePrincipal`, `operations`, `grantId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grantee: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    /// Account settings: the state asked for (`block-all-sharing`, …), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setting: Option<String>,
}

/// What a watched beyond-S3 call changed, which says where its resource is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Beyond {
    SnapshotShare,
    NewSnapshot,
    ImageShare,
    NewImage,
    DbShare { cluster: bool },
    NewDb { cluster: bool },
    Secret,
    Grant,
    Ec2Settings,
}

/// The calls of §7. `CreateSnapshot` and the new-resource calls are evaluated once the
/// resource exists; reads and calls that can only narrow nothing are left out.
pub(super) const BEYOND: &[(&str, Service, Beyond)] = &[
    (
        "ModifySnapshotAttribute",
        Service::Ec2,
        Beyond::SnapshotShare,
    ),
    (
        "ResetSnapshotAttribute",
        Service::Ec2,
        Beyond::SnapshotShare,
    ),
    ("CreateSnapshot", Service::Ec2, Beyond::NewSnapshot),
    ("CopySnapshot", Service::Ec2, Beyond::NewSnapshot),
    ("ModifyImageAttribute", Service::Ec2, Beyond::ImageShare),
    ("ResetImageAttribute", Service::Ec2, Beyond::ImageShare),
    ("CopyImage", Service::Ec2, Beyond::NewImage),
    ("CreateImage", Service::Ec2, Beyond::NewImage),
    ("RegisterImage", Service::Ec2, Beyond::NewImage),
    (
        "ModifyEbsDefaultKmsKeyId",
        Service::Ec2,
        Beyond::Ec2Settings,
    ),
    ("ResetEbsDefaultKmsKeyId", Service::Ec2, Beyond::Ec2Settings),
    (
        "EnableEbsEncryptionByDefault",
        Service::Ec2,
        Beyond::Ec2Settings,
    ),
    (
        "DisableEbsEncryptionByDefault",
        Service::Ec2,
        Beyond::Ec2Settings,
    ),
    (
        "EnableSnapshotBlockPublicAccess",
        Service::Ec2,
        Beyond::Ec2Settings,
    ),
    (
        "DisableSnapshotBlockPublicAccess",
        Service::Ec2,
        Beyond::Ec2Settings,
    ),
    (
        "EnableImageBlockPublicAccess",
        Service::Ec2,
        Beyond::Ec2Settings,
    ),
    (
        "DisableImageBlockPublicAccess",
        Service::Ec2,
        Beyond::Ec2Settings,
    ),
    (
        "ModifyDBSnapshotAttribute",
        Service::Rds,
        Beyond::DbShare { cluster: false },
    ),
    (
        "ModifyDBClusterSnapshotAttribute",
        Service::Rds,
        Beyond::DbShare { cluster: true },
    ),
    (
        "CreateDBSnapshot",
        Service::Rds,
        Beyond::NewDb { cluster: false },
    ),
    (
        "CopyDBSnapshot",
        Service::Rds,
        Beyond::NewDb { cluster: false },
    ),
    (
        "CreateDBClusterSnapshot",
        Service::Rds,
        Beyond::NewDb { cluster: true },
    ),
    (
        "CopyDBClusterSnapshot",
        Service::Rds,
        Beyond::NewDb { cluster: true },
    ),
    ("PutResourcePolicy", Service::SecretsManager, Beyond::Secret),
    (
        "DeleteResourcePolicy",
        Service::SecretsManager,
        Beyond::Secret,
    ),
    ("UpdateSecret", Service::SecretsManager, Beyond::Secret),
    ("CreateSecret", Service::SecretsManager, Beyond::Secret),
    (
        "ReplicateSecretToRegions",
        Service::SecretsManager,
        Beyond::Secret,
    ),
    ("CreateGrant", Service::Kms, Beyond::Grant),
    ("RevokeGrant", Service::Kms, Beyond::Grant),
    ("RetireGrant", Service::Kms, Beyond::Grant),
];

pub(super) fn watched(name: &str) -> Option<(&'static str, Service, Beyond)> {
    BEYOND
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
        .copied()
}

/// The beyond-S3 calls as (`eventName`, `eventSource`).
pub fn watched_events() -> impl Iterator<Item = (&'static str, &'static str)> {
    BEYOND.iter().map(|(n, svc, _)| (*n, svc.event_source()))
}

/// A successful watched call → its trigger, or ignored when it names no resource.
pub(super) fn parse(rec: &Record, canonical: &'static str, service: Service, b: Beyond) -> Parsed {
    let p = &rec.params;
    let region = rec.region.clone();
    let account = rec.recipient.clone().or_else(|| rec.account.clone());
    let mut change = Change::default();
    let (kind, arn) = match b {
        Beyond::SnapshotShare => {
            let Some(id) = str_field(p, "snapshotId") else {
                return ignored(format!(
                    "{canonical} names no snapshot (no requestParameters.snapshotId)"
                ));
            };
            read_permission_change(p, "createVolumePermission", &mut change);
            change.reset = canonical.starts_with("Reset");
            (
                TriggerKind::SnapshotChanged,
                region
                    .as_deref()
                    .map(|r| ec2_arn(r, "snapshot", &id))
                    .unwrap_or(id),
            )
        }
        Beyond::NewSnapshot => {
            let Some(id) =
                str_field(&rec.response, "snapshotId").or_else(|| resource_id(rec, "snap-"))
            else {
                return ignored(format!(
                    "{canonical} names no new snapshot (no responseElements.snapshotId)"
                ));
            };
            change.source = str_field(p, "sourceSnapshotId").or_else(|| str_field(p, "volumeId"));
            change.kms_key_id = str_field(p, "kmsKeyId");
            (
                TriggerKind::SnapshotChanged,
                region
                    .as_deref()
                    .map(|r| ec2_arn(r, "snapshot", &id))
                    .unwrap_or(id),
            )
        }
        Beyond::ImageShare => {
            let Some(id) = str_field(p, "imageId") else {
                return ignored(format!(
                    "{canonical} names no AMI (no requestParameters.imageId)"
                ));
            };
            read_permission_change(p, "launchPermission", &mut change);
            change.reset = canonical.starts_with("Reset");
            (
                TriggerKind::ImageChanged,
                region
                    .as_deref()
                    .map(|r| ec2_arn(r, "image", &id))
                    .unwrap_or(id),
            )
        }
        Beyond::NewImage => {
            let Some(id) = str_field(&rec.response, "imageId").or_else(|| resource_id(rec, "ami-"))
            else {
                return ignored(format!(
                    "{canonical} names no new AMI (no responseElements.imageId)"
                ));
            };
            change.source = str_field(p, "sourceImageId").or_else(|| str_field(p, "instanceId"));
            change.kms_key_id = str_field(p, "kmsKeyId");
            (
                TriggerKind::ImageChanged,
                region
                    .as_deref()
                    .map(|r| ec2_arn(r, "image", &id))
                    .unwrap_or(id),
            )
        }
        Beyond::DbShare { cluster } => {
            let field = if cluster {
                "dBClusterSnapshotIdentifier"
            } else {
                "dBSnapshotIdentifier"
            };
            let Some(id) = str_field(p, field) else {
                return ignored(format!(
                    "{canonical} names no snapshot (no requestParameters.{field})"
                ));
            };
            let to_sharee = |v: String| {
                if v.eq_ignore_ascii_case("all") {
                    Sharee::Public
                } else {
                    Sharee::Account(v)
                }
            };
            let attribute = str_field(p, "attributeName");
            if attribute
                .as_deref()
                .is_none_or(|a| a.eq_ignore_ascii_case("restore"))
            {
                change.added = list(p, "valuesToAdd").into_iter().map(to_sharee).collect();
                change.removed = list(p, "valuesToRemove")
                    .into_iter()
                    .map(to_sharee)
                    .collect();
            }
            (
                TriggerKind::DbSnapshotChanged,
                rds_arn(&id, region.as_deref(), account.as_deref(), cluster),
            )
        }
        Beyond::NewDb { cluster } => {
            let (arn_field, target, plain, source) = if cluster {
                (
                    "dBClusterSnapshotArn",
                    "targetDBClusterSnapshotIdentifier",
                    "dBClusterSnapshotIdentifier",
                    "sourceDBClusterSnapshotIdentifier",
                )
            } else {
                (
                    "dBSnapshotArn",
                    "targetDBSnapshotIdentifier",
                    "dBSnapshotIdentifier",
                    "sourceDBSnapshotIdentifier",
                )
            };
            let from_response = str_field(&rec.response, arn_field).or_else(|| {
                get_ci_present(
                    &rec.response,
                    if cluster {
                        "dBClusterSnapshot"
                    } else {
                        "dBSnapshot"
                    },
                )
                .and_then(|s| str_field(s, arn_field))
            });
            let id = from_response
                .or_else(|| str_field(p, target))
                .or_else(|| str_field(p, plain));
            let Some(id) = id else {
                return ignored(format!(
                    "{canonical} names no new snapshot (no {target} or {plain})"
                ));
            };
            change.source = str_field(p, source);
            change.kms_key_id = str_field(p, "kmsKeyId");
            (
                TriggerKind::DbSnapshotChanged,
                rds_arn(&id, region.as_deref(), account.as_deref(), cluster),
            )
        }
        Beyond::Secret => {
            let from_response = str_field(&rec.response, "arn").filter(|a| a.starts_with("arn:"));
            let named = str_field(p, "secretId").or_else(|| str_field(p, "name"));
            let arn = from_response.or_else(|| {
                let id = named?;
                if id.starts_with("arn:") {
                    return Some(id);
                }
                // A name: the ARN without the random suffix Secrets Manager appends (the
                // decider matches the secret by name).
                match (region.as_deref(), account.as_deref()) {
                    (Some(r), Some(a)) => Some(format!(
                        "arn:{}:secretsmanager:{r}:{a}:secret:{id}",
                        partition_for_region(r)
                    )),
                    _ => Some(id),
                }
            });
            let Some(arn) = arn else {
                return ignored(format!(
                    "{canonical} names no secret (no requestParameters.secretId or name)"
                ));
            };
            change.kms_key_id = str_field(p, "kmsKeyId");
            (TriggerKind::SecretChanged, arn)
        }
        Beyond::Grant => {
            let Some(key) = rec.changed_key() else {
                return ignored(format!(
                    "{canonical} names no key (no keyId in the request, no key in resources)"
                ));
            };
            change.grantee = str_field(p, "granteePrincipal");
            change.operations = get_ci_present(p, "operations")
                .map(string_list)
                .unwrap_or_default();
            change.grant_id =
                str_field(p, "grantId").or_else(|| str_field(&rec.response, "grantId"));
            let mut t = rec.trigger(TriggerKind::GrantChanged, service);
            t.event_name = canonical.to_string();
            t.key = Some(key.clone());
            t.resource_arn = Some(key);
            t.change = Some(change);
            t.owner_account = rec.owner_account(service);
            return Parsed::Trigger(t);
        }
        Beyond::Ec2Settings => {
            change.kms_key_id = str_field(p, "kmsKeyId");
            change.setting = str_field(p, "state");
            let mut t = rec.trigger(TriggerKind::Ec2SettingsChanged, service);
            t.event_name = canonical.to_string();
            t.change = Some(change);
            t.owner_account = account;
            return Parsed::Trigger(t);
        }
    };
    let mut t = rec.trigger(kind, service);
    t.event_name = canonical.to_string();
    t.resource_arn = Some(arn);
    t.change = Some(change);
    t.owner_account = account;
    Parsed::Trigger(t)
}

/// A share EC2 refused because of the AWS managed key: a trigger carrying the error.
/// `None` for every other failure (it changed nothing and says nothing).
pub(super) fn failed_share(
    rec: &Record,
    canonical: &'static str,
    service: Service,
    b: Beyond,
    code: &str,
) -> Option<Parsed> {
    let code = code.trim();
    let bare = code.strip_prefix("Client.").unwrap_or(code);
    let message = rec
        .error_message
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let refused = match b {
        // "Encrypted snapshots with EBS default key cannot be shared" (ERR-EBS); the CLI docs
        // say "default KMS key".
        Beyond::SnapshotShare => {
            bare.eq_ignore_ascii_case("OperationNotPermitted")
                && message.contains("default")
                && message.contains("cannot be shared")
        }
        // "Snapshots encrypted with the AWS Managed CMK can't be shared." (ERR-AMI)
        Beyond::ImageShare => {
            bare.eq_ignore_ascii_case("InvalidParameter")
                && (message.contains("aws managed") || message.contains("default"))
                && (message.contains("can't be shared") || message.contains("cannot be shared"))
        }
        _ => false,
    };
    if !refused || canonical.starts_with("Reset") {
        return None;
    }
    match parse(rec, canonical, service, b) {
        Parsed::Trigger(t) => Some(Parsed::Trigger(t)),
        Parsed::Ignored { .. } => None,
    }
}

/// `<attr>.add` / `<attr>.remove`: `{"items": [...]}`, a list, or a single item.
fn read_permission_change(p: &Value, attr: &str, change: &mut Change) {
    let Some(perm) = get_ci_present(p, attr) else {
        return;
    };
    change.added = entries(get_ci_present(perm, "add"));
    change.removed = entries(get_ci_present(perm, "remove"));
}

fn entries(v: Option<&Value>) -> Vec<Sharee> {
    let Some(v) = v else { return Vec::new() };
    let items = match get_ci_present(v, "items").or_else(|| get_ci_present(v, "item")) {
        Some(inner) => inner,
        None => v,
    };
    match items {
        Value::Array(list) => list.iter().filter_map(Sharee::from_item).collect(),
        obj @ Value::Object(_) => Sharee::from_item(obj).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// A list of strings (`valuesToAdd`); a bare string is a list of one.
fn list(p: &Value, key: &str) -> Vec<String> {
    get_ci_present(p, key)
        .map(string_list)
        .unwrap_or_default()
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// An id of the given prefix in `resources[]` (`ARN` ending `/snap-…`).
fn resource_id(rec: &Record, prefix: &str) -> Option<String> {
    rec.resources.iter().find_map(|r| {
        let arn = r.arn.as_deref()?;
        let id = arn.rsplit('/').next()?;
        id.starts_with(prefix).then(|| id.to_string())
    })
}

/// An RDS identifier as an ARN: an ARN stays as given (RDS accepts both), a name is completed
/// with the recording region and account.
fn rds_arn(id: &str, region: Option<&str>, account: Option<&str>, cluster: bool) -> String {
    if id.starts_with("arn:") {
        return id.to_string();
    }
    match (region, account) {
        (Some(r), Some(a)) => db_snapshot_arn(r, a, id, cluster),
        _ => id.to_string(),
    }
}
