//! The beyond-S3 rules (DOMAIN-BEYOND-S3.md §6) for the new trigger kinds: one resource per
//! plan — the snapshot, AMI, DB / cluster snapshot or secret the trigger names, the key of a
//! grant event, or the EBS settings of a region — judged on the re-read state
//! (`Snapshot.beyond` and `Snapshot.keys`). A resource the state does not hold is never
//! "compliant": the plan is ignored with that reason. Every finding is report-only for now
//! (the copy, key-policy and key-move patches of §8 come with the adapters).
//!
//! `carrier` judges what carries data under a key (snapshots, AMIs, secrets), `key` resolves
//! and judges their keys (AWS managed, unusable, the key set per sharee), `grants` the
//! grants to outside principals, `settings` the EBS default key, `failed` the share EC2
//! refused.

mod carrier;
mod failed;
mod grants;
mod key;
mod settings;

use super::builder::PlanBuilder;
use crate::core::beyond::BeyondState;
use crate::core::event::{Trigger, TriggerKind};
use crate::core::snapshot::{Snapshot, Tags};

/// Why nothing is decided when the state lacks the resource. The app ignores these kinds
/// before deciding (no adapter yet); this is what an offline run without the section says.
pub const NOT_READ: &str =
    "its state was not read (the EC2 / RDS / Secrets Manager adapters are not built yet; give it in the state file's `beyond` section)";

pub fn evaluate(b: &mut PlanBuilder, trigger: &Trigger, snap: &Snapshot) {
    let empty = BeyondState::default();
    let state = snap.beyond.as_ref().unwrap_or(&empty);
    if let Some(arn) = &trigger.resource_arn {
        b.set_subject(arn);
    }
    if trigger.error_code.is_some() {
        return failed::evaluate(b, trigger, snap, state);
    }
    match trigger.kind {
        TriggerKind::SnapshotChanged => carrier::ebs_snapshot(b, trigger, snap, state),
        TriggerKind::ImageChanged => carrier::image(b, trigger, snap, state),
        TriggerKind::DbSnapshotChanged => carrier::db_snapshot(b, trigger, snap, state),
        TriggerKind::SecretChanged => carrier::secret(b, trigger, snap, state),
        TriggerKind::GrantChanged => grants::evaluate(b, trigger, snap),
        TriggerKind::Ec2SettingsChanged => settings::evaluate_event(b, trigger, snap, state),
        TriggerKind::BucketChanged | TriggerKind::KeyChanged | TriggerKind::AccessDenied => {
            b.ignore_in_place(format!("{:?} is not a beyond-S3 trigger", trigger.kind));
        }
    }
}

/// The exemption tag of the configuration on a resource's tags.
fn exempt(b: &PlanBuilder, tags: &Tags) -> bool {
    tags.has(&b.config.exemption_tag_key, &b.config.exemption_tag_value)
}

/// The last path or colon segment of an ARN (`snap-…`, `ami-…`, a DB snapshot name).
fn id_of(arn: &str) -> &str {
    let tail = arn.rsplit('/').next().unwrap_or(arn);
    if arn.contains(":rds:") {
        return arn.rsplit(':').next().unwrap_or(tail);
    }
    tail
}

#[cfg(test)]
mod tests;
