//! The EventBridge rule checks of the doctor: a rule the function depends on exists, is not
//! disabled, and — when its pattern matches read-only events (KMS `Decrypt`,
//! `GenerateDataKey*`) — is in the one state that delivers them,
//! `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`.

use serde_json::Value;

use super::{check, Check, Need, Rule, RuleRead, Status, KMS_READ_ONLY_STATE};

pub(super) fn rule_check(r: &Rule, region: &str) -> Check {
    let id = format!("rule.{}", r.id);
    match &r.read {
        RuleRead::Unknown(e) => check(
            id,
            Status::Unknown,
            format!("cannot read rule {}: {e}", r.id),
            Some("allow events:DescribeRule and events:ListRules to the caller".into()),
        ),
        RuleRead::Missing => match r.need {
            Need::Optional(param) => check(
                id,
                Status::Ok,
                format!("{} not deployed (created only with {param})", r.id),
                None,
            ),
            Need::Required => check(
                id,
                Status::Problem,
                format!("rule {} not found on the default bus in {region}: nothing invokes the function for its events", r.id),
                Some(format!(
                    "deploy the stack in {region} (sam deploy --region {region}), or pass the rule's real name with --rule NAME"
                )),
            ),
        },
        RuleRead::Found {
            name,
            state,
            event_pattern,
        } => {
            let wants_read = event_pattern.as_deref().is_some_and(wants_read_only_events);
            let put_rule = || {
                format!(
                    "aws events put-rule --region {region} --name {name} --event-pattern '{}' --state {KMS_READ_ONLY_STATE}  (or redeploy the stack, which restores it)",
                    event_pattern.as_deref().unwrap_or("{}")
                )
            };
            match state.as_str() {
                "DISABLED" => check(
                    id,
                    Status::Problem,
                    format!("rule {name} is disabled: its events never invoke the function"),
                    Some(if wants_read {
                        put_rule()
                    } else {
                        format!("aws events enable-rule --region {region} --name {name}")
                    }),
                ),
                "ENABLED" if wants_read => check(
                    id,
                    Status::Problem,
                    format!("rule {name} matches read-only KMS events (Decrypt / GenerateDataKey*) but its state ENABLED drops read-only management events: it never fires"),
                    Some(put_rule()),
                ),
                "ENABLED" | KMS_READ_ONLY_STATE => check(
                    id,
                    Status::Ok,
                    format!("rule {name} is {state}"),
                    None,
                ),
                other => check(
                    id,
                    Status::Unknown,
                    format!("rule {name} has unknown state {other:?}"),
                    None,
                ),
            }
        }
    }
}

/// KMS calls that CloudTrail records as read-only management events.
const KMS_READ_ONLY_NAMES: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "ReEncrypt",
    "Sign",
    "Verify",
    "GenerateMac",
    "VerifyMac",
    "GenerateRandom",
];

/// True when an event pattern matches read-only management events: an `eventName` that is a
/// read-only KMS call or starts with Get / Describe / List (exact or `prefix`).
pub fn wants_read_only_events(pattern: &str) -> bool {
    let Ok(v) = serde_json::from_str::<Value>(pattern) else {
        return false;
    };
    let Some(names) = v.pointer("/detail/eventName").and_then(Value::as_array) else {
        // No event-name filter: every KMS event of the source matches, the read-only ones too.
        return v
            .get("source")
            .and_then(Value::as_array)
            .is_some_and(|s| s.iter().any(|x| x.as_str() == Some("aws.kms")));
    };
    let read_name = |n: &str| {
        KMS_READ_ONLY_NAMES.contains(&n)
            || ["Get", "Describe", "List"].iter().any(|p| n.starts_with(p))
    };
    names.iter().any(|n| match n {
        Value::String(s) => read_name(s),
        Value::Object(o) => o.get("prefix").and_then(Value::as_str).is_some_and(|p| {
            !p.is_empty()
                && (KMS_READ_ONLY_NAMES
                    .iter()
                    .any(|k| k.starts_with(p) || p.starts_with(k))
                    || read_name(p))
        }),
        _ => false,
    })
}
