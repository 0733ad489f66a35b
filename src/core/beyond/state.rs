//! The beyond-S3 section of a state file (`Snapshot.beyond`): the resources of
//! DOMAIN-BEYOND-S3.md §2 as the adapters will re-read them, and the region's EBS settings.
//! Keys (DescribeKey, key policy, ListGrants) stay in `Snapshot.keys`, shared with S3.

use serde::{Deserialize, Serialize};

use super::ec2::{EbsSnapshot, Ec2Settings, Image};
use super::rds::DbSnapshot;
use super::secret::Secret;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BeyondState {
    pub ebs_snapshots: Vec<EbsSnapshot>,
    pub images: Vec<Image>,
    /// DB snapshots and cluster snapshots (a cluster snapshot is told by its fields).
    pub db_snapshots: Vec<DbSnapshot>,
    pub secrets: Vec<Secret>,
    /// One entry per region read.
    pub ec2_settings: Vec<Ec2Settings>,
}

impl BeyondState {
    pub fn ec2_settings(&self, region: &str) -> Option<&Ec2Settings> {
        self.ec2_settings.iter().find(|s| s.region == region)
    }

    pub fn ebs_snapshot(&self, id: &str) -> Option<&EbsSnapshot> {
        self.ebs_snapshots.iter().find(|s| s.snapshot_id == id)
    }

    pub fn image(&self, id: &str) -> Option<&Image> {
        self.images.iter().find(|i| i.image_id == id)
    }

    /// The shared images whose block devices use snapshot `id` (sharees launch from them
    /// without a snapshot share, but still need its key: AMI-XACCT).
    pub fn images_using(&self, id: &str) -> impl Iterator<Item = &Image> {
        let id = id.to_string();
        self.images
            .iter()
            .filter(move |i| i.exists && i.snapshot_ids.contains(&id))
    }
}
