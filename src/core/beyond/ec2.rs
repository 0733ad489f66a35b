//! The EC2 side of the typed state (DOMAIN-BEYOND-S3.md §2): an EBS snapshot
//! (`DescribeSnapshots` + `DescribeSnapshotAttribute createVolumePermission`), an EBS-backed
//! AMI (`DescribeImages` + `DescribeImageAttribute launchPermission`) and the region's EBS
//! settings (encryption by default, default key, snapshot / image block public access). Field
//! names are the API's (`SnapshotId`, `CreateVolumePermissions[{UserId|Group}]`,
//! `LaunchPermissions[{UserId|Group|OrganizationArn|OrganizationalUnitArn}]`, …), read
//! case-insensitively so CloudTrail's camelCase items (`userId`, `group`, and the `groups`
//! some write-ups use) parse with the same code.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Value};

use super::lenient::{first, first_str, flag, objects};
use crate::core::arn::partition_for_region;
use crate::core::json::{get_ci_present, path, str_field};
use crate::core::snapshot::Tags;

/// One entry of a share attribute: who it admits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Sharee {
    /// `UserId`: an account id as written (a malformed one names no account: see `shared`).
    Account(String),
    /// `Group: "all"`: anyone, in any account.
    Public,
    /// `OrganizationArn` (AMIs): every account of the organisation.
    Organization(String),
    /// `OrganizationalUnitArn` (AMIs): every account under the OU.
    OrganizationalUnit(String),
    /// A `Group` other than `all`, or an item naming nothing cmkguard knows: kept, so the
    /// verdict fails closed instead of dropping it.
    Other(String),
}

impl Sharee {
    /// Reads one permission item: API response (`UserId`, `Group`, …) or CloudTrail request
    /// item (`userId`, `group`, `groups`). `None` for an item that names nothing at all.
    pub fn from_item(item: &Value) -> Option<Sharee> {
        if let Some(account) = str_field(item, "UserId") {
            return Some(Sharee::Account(account));
        }
        if let Some(group) = first_str(item, &["Group", "Groups"]) {
            return Some(if group.eq_ignore_ascii_case("all") {
                Sharee::Public
            } else {
                Sharee::Other(format!("group {group}"))
            });
        }
        if let Some(org) = str_field(item, "OrganizationArn") {
            return Some(Sharee::Organization(org));
        }
        if let Some(ou) = str_field(item, "OrganizationalUnitArn") {
            return Some(Sharee::OrganizationalUnit(ou));
        }
        // What `Serialize` writes for `Other`, read back as written.
        if let Some(what) = str_field(item, "Other") {
            return Some(Sharee::Other(what));
        }
        let obj = item.as_object()?;
        // Some other non-empty entry: keep it as written rather than lose a share.
        obj.iter()
            .find(|(_, v)| !v.is_null())
            // Trimmed, as every field is read: the text must read back the same.
            .map(|(k, v)| Sharee::Other(format!("{k} {v}").trim().to_string()))
    }

    /// A list of items (`null` and non-objects skipped).
    pub fn list(items: &[&Value]) -> Vec<Sharee> {
        items.iter().filter_map(|i| Sharee::from_item(i)).collect()
    }

    /// Plain words for reasons.
    pub fn describe(&self) -> String {
        match self {
            Sharee::Account(a) => format!("account {a}"),
            Sharee::Public => "everyone (group all)".to_string(),
            Sharee::Organization(o) => format!("organisation {o}"),
            Sharee::OrganizationalUnit(o) => format!("organisational unit {o}"),
            Sharee::Other(what) => format!("an entry cmkguard does not know ({what})"),
        }
    }
}

impl Serialize for Sharee {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = match self {
            Sharee::Account(a) => json!({"UserId": a}),
            Sharee::Public => json!({"Group": "all"}),
            Sharee::Organization(o) => json!({"OrganizationArn": o}),
            Sharee::OrganizationalUnit(o) => json!({"OrganizationalUnitArn": o}),
            Sharee::Other(what) => json!({"Other": what}),
        };
        v.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Sharee {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Sharee::from_item(&v).ok_or_else(|| serde::de::Error::custom("an empty permission item"))
    }
}

/// An attribute list as DescribeSnapshotAttribute / DescribeImageAttribute return it, either
/// at the top level of the resource or nested in the attribute call's own output.
fn permissions(v: &Value, key: &str) -> Option<Vec<Sharee>> {
    objects(v, key).map(|items| Sharee::list(&items))
}

/// An EBS snapshot and who may create volumes from it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EbsSnapshot {
    #[serde(rename = "SnapshotId")]
    pub snapshot_id: String,
    #[serde(rename = "OwnerId")]
    pub owner_id: Option<String>,
    /// Not in the API response: the region the adapter read it in.
    #[serde(rename = "Region")]
    pub region: Option<String>,
    #[serde(rename = "Encrypted")]
    pub encrypted: Option<bool>,
    /// A key ARN (DescribeSnapshots), or as written in a hand-made state file.
    #[serde(rename = "KmsKeyId")]
    pub kms_key_id: Option<String>,
    /// `None`: the attribute was not read (never taken as "not shared").
    #[serde(rename = "CreateVolumePermissions")]
    pub create_volume_permissions: Option<Vec<Sharee>>,
    #[serde(rename = "Tags")]
    pub tags: Tags,
    /// False when the snapshot no longer exists (`InvalidSnapshot.NotFound`).
    #[serde(rename = "Exists")]
    pub exists: bool,
}

impl EbsSnapshot {
    pub fn from_value(v: &Value) -> Result<EbsSnapshot, String> {
        let snapshot_id = str_field(v, "SnapshotId").ok_or("an EBS snapshot without SnapshotId")?;
        Ok(EbsSnapshot {
            snapshot_id,
            owner_id: str_field(v, "OwnerId"),
            region: str_field(v, "Region"),
            encrypted: flag(v, "Encrypted"),
            kms_key_id: str_field(v, "KmsKeyId"),
            create_volume_permissions: permissions(v, "CreateVolumePermissions"),
            tags: get_ci_present(v, "Tags")
                .map(Tags::from_value)
                .unwrap_or_default(),
            exists: flag(v, "Exists").unwrap_or(true),
        })
    }

    /// `arn:P:ec2:R::snapshot/snap-…`: the account field is empty in EC2 snapshot ARNs.
    pub fn arn(&self, default_region: &str) -> String {
        let region = self.region.as_deref().unwrap_or(default_region);
        ec2_arn(region, "snapshot", &self.snapshot_id)
    }
}

/// An EBS-backed AMI, the snapshots behind it and who may launch it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Image {
    #[serde(rename = "ImageId")]
    pub image_id: String,
    #[serde(rename = "OwnerId")]
    pub owner_id: Option<String>,
    #[serde(rename = "Region")]
    pub region: Option<String>,
    /// `DescribeImages.Public`.
    #[serde(rename = "Public")]
    pub public: Option<bool>,
    /// Every `BlockDeviceMappings[].Ebs.SnapshotId`.
    #[serde(rename = "SnapshotIds")]
    pub snapshot_ids: Vec<String>,
    /// `None`: the attribute was not read.
    #[serde(rename = "LaunchPermissions")]
    pub launch_permissions: Option<Vec<Sharee>>,
    #[serde(rename = "Tags")]
    pub tags: Tags,
    #[serde(rename = "Exists")]
    pub exists: bool,
}

impl Image {
    pub fn from_value(v: &Value) -> Result<Image, String> {
        let image_id = str_field(v, "ImageId").ok_or("an AMI without ImageId")?;
        let mut snapshot_ids: Vec<String> = objects(v, "BlockDeviceMappings")
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| path(m, &["Ebs", "SnapshotId"]).and_then(Value::as_str))
            .map(str::to_string)
            .collect();
        // A state file written by this type lists them flat.
        if let Some(Value::Array(ids)) = get_ci_present(v, "SnapshotIds") {
            snapshot_ids.extend(ids.iter().filter_map(Value::as_str).map(str::to_string));
        }
        snapshot_ids.sort();
        snapshot_ids.dedup();
        Ok(Image {
            image_id,
            owner_id: str_field(v, "OwnerId"),
            region: str_field(v, "Region"),
            public: flag(v, "Public"),
            snapshot_ids,
            launch_permissions: permissions(v, "LaunchPermissions"),
            tags: get_ci_present(v, "Tags")
                .map(Tags::from_value)
                .unwrap_or_default(),
            exists: flag(v, "Exists").unwrap_or(true),
        })
    }

    /// `arn:P:ec2:R::image/ami-…` (the account field is empty, as for snapshots [U]).
    pub fn arn(&self, default_region: &str) -> String {
        let region = self.region.as_deref().unwrap_or(default_region);
        ec2_arn(region, "image", &self.image_id)
    }
}

/// `arn:<partition>:ec2:<region>::<kind>/<id>`.
pub fn ec2_arn(region: &str, kind: &str, id: &str) -> String {
    format!(
        "arn:{}:ec2:{region}::{kind}/{id}",
        partition_for_region(region)
    )
}

/// The EBS settings of one account and region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ec2Settings {
    #[serde(rename = "Region")]
    pub region: String,
    #[serde(rename = "Account")]
    pub account: Option<String>,
    /// `GetEbsEncryptionByDefault.EbsEncryptionByDefault`.
    #[serde(rename = "EbsEncryptionByDefault")]
    pub ebs_encryption_by_default: Option<bool>,
    /// `GetEbsDefaultKmsKeyId.KmsKeyId` (`alias/aws/ebs` unless set to a CMK).
    #[serde(rename = "EbsDefaultKmsKeyId")]
    pub ebs_default_kms_key_id: Option<String>,
    /// `GetSnapshotBlockPublicAccessState.State`: `block-all-sharing` | `block-new-sharing` |
    /// `unblocked`.
    #[serde(rename = "SnapshotBlockPublicAccessState")]
    pub snapshot_block_public_access: Option<String>,
    /// `GetImageBlockPublicAccessState.ImageBlockPublicAccessState`.
    #[serde(rename = "ImageBlockPublicAccessState")]
    pub image_block_public_access: Option<String>,
}

impl Ec2Settings {
    pub fn from_value(v: &Value) -> Result<Ec2Settings, String> {
        let region = str_field(v, "Region").ok_or("EC2 settings without Region")?;
        // The Get* calls' own outputs may be pasted whole, or their fields flattened.
        let state_of = |call: &str, field: &str| {
            first(v, &[call]).and_then(|o| {
                if o.is_object() {
                    str_field(o, field)
                } else {
                    o.as_str().map(str::to_string)
                }
            })
        };
        Ok(Ec2Settings {
            region,
            account: str_field(v, "Account"),
            ebs_encryption_by_default: flag(v, "EbsEncryptionByDefault"),
            ebs_default_kms_key_id: first_str(v, &["EbsDefaultKmsKeyId", "KmsKeyId"]),
            snapshot_block_public_access: state_of("SnapshotBlockPublicAccessState", "State")
                .or_else(|| str_field(v, "State")),
            image_block_public_access: state_of(
                "ImageBlockPublicAccessState",
                "ImageBlockPublicAccessState",
            ),
        })
    }

    /// Snapshot block public access in `block-all-sharing`: public snapshots are private in
    /// effect, though their attribute still says `all` (EBS-BPA).
    pub fn blocks_all_snapshot_sharing(&self) -> bool {
        self.snapshot_block_public_access
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("block-all-sharing"))
    }
}

macro_rules! lenient_deserialize {
    ($($t:ty),*) => {$(
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = <serde_json::Value as serde::Deserialize>::deserialize(d)?;
                <$t>::from_value(&v).map_err(serde::de::Error::custom)
            }
        }
    )*};
}
pub(super) use lenient_deserialize;

lenient_deserialize!(EbsSnapshot, Image, Ec2Settings);
