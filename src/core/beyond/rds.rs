//! The RDS side of the typed state (DOMAIN-BEYOND-S3.md §2): a manual DB snapshot
//! (`DescribeDBSnapshots`: `Encrypted`, `KmsKeyId`) or cluster snapshot
//! (`DescribeDBClusterSnapshots`: `StorageEncrypted`, `KmsKeyId`) and its `restore` attribute
//! (`DescribeDB[Cluster]SnapshotAttributes` → `DB[Cluster]SnapshotAttributes[{AttributeName:
//! "restore", AttributeValues}]`, account ids or `all`). The attribute list is accepted at the
//! top level of the snapshot or inside the attribute call's own `…AttributesResult`.

use serde::Serialize;
use serde_json::Value;

use super::ec2::lenient_deserialize;
use super::lenient::{first, first_str, flag, objects, strings};
use crate::core::arn::{partition_for_region, Arn};
use crate::core::json::{get_ci_present, str_field};
use crate::core::snapshot::Tags;

/// A DB snapshot or an Aurora / Multi-AZ cluster snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DbSnapshot {
    /// `DBSnapshotIdentifier` / `DBClusterSnapshotIdentifier`.
    #[serde(rename = "Identifier")]
    pub identifier: String,
    /// `DBSnapshotArn` / `DBClusterSnapshotArn`.
    #[serde(rename = "Arn")]
    pub arn: Option<String>,
    /// A cluster snapshot (read from the `DBCluster…` fields).
    #[serde(rename = "Cluster")]
    pub cluster: bool,
    #[serde(rename = "Region")]
    pub region: Option<String>,
    #[serde(rename = "Account")]
    pub account: Option<String>,
    /// `Encrypted` (DB) / `StorageEncrypted` (cluster).
    #[serde(rename = "Encrypted")]
    pub encrypted: Option<bool>,
    #[serde(rename = "KmsKeyId")]
    pub kms_key_id: Option<String>,
    /// `manual`, `automated`, `shared`, `public`, `awsbackup`.
    #[serde(rename = "SnapshotType")]
    pub snapshot_type: Option<String>,
    /// The `restore` attribute's values; `None` = not read.
    #[serde(rename = "Restore")]
    pub restore: Option<Vec<String>>,
    #[serde(rename = "Tags")]
    pub tags: Tags,
    #[serde(rename = "Exists")]
    pub exists: bool,
}

impl DbSnapshot {
    pub fn from_value(v: &Value) -> Result<DbSnapshot, String> {
        let cluster_id = str_field(v, "DBClusterSnapshotIdentifier");
        let cluster = cluster_id.is_some()
            || flag(v, "Cluster").unwrap_or(false)
            || get_ci_present(v, "DBClusterSnapshotArn").is_some();
        let identifier = cluster_id
            .or_else(|| first_str(v, &["DBSnapshotIdentifier", "Identifier"]))
            .ok_or("an RDS snapshot without DBSnapshotIdentifier / DBClusterSnapshotIdentifier")?;
        let arn = first_str(v, &["DBClusterSnapshotArn", "DBSnapshotArn", "Arn"]);
        let parsed = arn.as_deref().and_then(|a| Arn::parse(a).ok());
        Ok(DbSnapshot {
            identifier,
            cluster,
            region: str_field(v, "Region").or_else(|| parsed.as_ref().map(|a| a.region.clone())),
            account: str_field(v, "Account")
                .or_else(|| parsed.as_ref().map(|a| a.account.clone()))
                .filter(|a| !a.is_empty()),
            arn,
            encrypted: flag(v, "StorageEncrypted").or_else(|| flag(v, "Encrypted")),
            kms_key_id: str_field(v, "KmsKeyId"),
            snapshot_type: str_field(v, "SnapshotType"),
            restore: restore_values(v),
            tags: first(v, &["TagList", "Tags"])
                .map(Tags::from_value)
                .unwrap_or_default(),
            exists: flag(v, "Exists").unwrap_or(true),
        })
    }

    /// The snapshot's ARN: as read, else `arn:P:rds:R:A:snapshot:NAME` /
    /// `…:cluster-snapshot:NAME` from the region and account given.
    pub fn arn_or(&self, default_account: &str, default_region: &str) -> String {
        if let Some(a) = &self.arn {
            return a.clone();
        }
        if self.identifier.starts_with("arn:") {
            return self.identifier.clone();
        }
        let region = self.region.as_deref().unwrap_or(default_region);
        let account = self.account.as_deref().unwrap_or(default_account);
        db_snapshot_arn(region, account, &self.identifier, self.cluster)
    }

    /// Only manual snapshots can be shared; automated ones must be copied first.
    pub fn is_manual(&self) -> bool {
        self.snapshot_type
            .as_deref()
            .is_none_or(|t| t.eq_ignore_ascii_case("manual"))
    }
}

/// `arn:P:rds:R:A:snapshot:NAME` or `arn:P:rds:R:A:cluster-snapshot:NAME`.
pub fn db_snapshot_arn(region: &str, account: &str, name: &str, cluster: bool) -> String {
    let kind = if cluster {
        "cluster-snapshot"
    } else {
        "snapshot"
    };
    format!(
        "arn:{}:rds:{region}:{account}:{kind}:{name}",
        partition_for_region(region)
    )
}

/// The `restore` values from `DB[Cluster]SnapshotAttributes` (at the top level or in the
/// `…AttributesResult` wrapper), or a flat `Restore` list.
fn restore_values(v: &Value) -> Option<Vec<String>> {
    if let Some(flat) = get_ci_present(v, "Restore") {
        return Some(strings(flat));
    }
    let holder = first(
        v,
        &[
            "DBSnapshotAttributesResult",
            "DBClusterSnapshotAttributesResult",
        ],
    )
    .unwrap_or(v);
    let attributes = ["DBSnapshotAttributes", "DBClusterSnapshotAttributes"]
        .iter()
        .find_map(|k| objects(holder, k))?;
    Some(
        attributes
            .into_iter()
            .filter(|a| {
                str_field(a, "AttributeName").is_some_and(|n| n.eq_ignore_ascii_case("restore"))
            })
            .flat_map(|a| {
                get_ci_present(a, "AttributeValues")
                    .map(strings)
                    .unwrap_or_default()
            })
            .collect(),
    )
}

lenient_deserialize!(DbSnapshot);
