//! `decide(&Trigger, &Snapshot, &Config) → Plan`: every rule of DOMAIN.md §3 and the patch
//! planning of §8. Dispatches on the trigger kind; the rule families live in `bucket`, `key`
//! and `diagnose`, the plan bookkeeping in `builder`.

pub mod beyond;
mod bucket;
pub use bucket::bucket_sharing;
mod builder;
pub mod diagnose;
mod key;
mod key_grant;
mod needs;
pub use needs::{bucket_needs_encryption, plan_needs_tags};

use super::arn::Arn;
use super::config::Config;
use super::event::{Trigger, TriggerKind};
use super::plan::Plan;
use super::snapshot::Snapshot;

use builder::PlanBuilder;

/// Decides what to report and what to patch. Pure and total: bad or missing state becomes a
/// note or an ignored plan, never a panic.
pub fn decide(trigger: &Trigger, snapshot: &Snapshot, config: &Config) -> Plan {
    let mut b = PlanBuilder::new(trigger, config);
    if let Some(reason) = loop_guard(trigger, config) {
        return b.ignore(reason);
    }
    match trigger.kind {
        TriggerKind::BucketChanged => bucket::evaluate(&mut b, trigger, snapshot),
        TriggerKind::KeyChanged => key::evaluate(&mut b, trigger, snapshot),
        TriggerKind::AccessDenied => diagnose::evaluate(&mut b, trigger, snapshot),
        TriggerKind::SnapshotChanged
        | TriggerKind::ImageChanged
        | TriggerKind::DbSnapshotChanged
        | TriggerKind::SecretChanged
        | TriggerKind::GrantChanged
        | TriggerKind::Ec2SettingsChanged => beyond::evaluate(&mut b, trigger, snapshot),
    }
    b.finish()
}

/// The guardrail's own writes come back as events; acting on them again would loop.
fn loop_guard(trigger: &Trigger, config: &Config) -> Option<String> {
    let role = config.guardrail_role_arn.as_deref()?;
    let caused = [
        trigger.session_issuer_arn.as_deref(),
        trigger.principal_arn.as_deref(),
    ]
    .into_iter()
    .flatten()
    .any(|arn| same_role(arn, role));
    caused.then(|| format!("event caused by the guardrail's own role {role} (loop guard)"))
}

/// `arn:P:iam::A:role/path/NAME` equals itself and any `arn:P:sts::A:assumed-role/NAME/session`.
fn same_role(actor: &str, role: &str) -> bool {
    if actor == role {
        return true;
    }
    let (Ok(actor), Ok(role)) = (Arn::parse(actor), Arn::parse(role)) else {
        return false;
    };
    let role_name = role
        .resource
        .strip_prefix("role/")
        .and_then(|r| r.rsplit('/').next());
    let actor_name = actor
        .resource
        .strip_prefix("assumed-role/")
        .and_then(|r| r.split('/').next());
    actor.account == role.account
        && actor.partition == role.partition
        && role_name.is_some()
        && role_name == actor_name
}

#[cfg(test)]
mod tests;
