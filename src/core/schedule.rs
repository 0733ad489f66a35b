//! The account sweep's pure half: recognising an EventBridge `Scheduled Event` as a sweep
//! request, and the triggers a sweep synthesises for each listed bucket and key, so a sweep
//! decides with exactly the rules and planning an event would (`decide` is not told it is a
//! sweep). No I/O: the listing and the concurrency live in `crate::scan`.

use serde::Serialize;
use serde_json::Value;

use super::event::{Trigger, TriggerKind};
use super::json::{get_ci, is_account_id};

/// The `event_name` of synthesised triggers (shown as the plan subject and in logs).
pub const SWEEP_EVENT_NAME: &str = "Sweep";

/// What a scheduled invocation asks for. Fields are what the envelope says (None = not said;
/// the Lambda then falls back to its own account and region).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SweepRequest {
    pub account: Option<String>,
    pub region: Option<String>,
    /// The schedule rule's ARN (`resources[0]`), for the log line.
    pub rule: Option<String>,
}

/// `Some` when the event is an EventBridge schedule firing (`source: aws.events`,
/// `detail-type: Scheduled Event`); everything else is for `core::event::parse_event_value`.
pub fn sweep_request(v: &Value) -> Option<SweepRequest> {
    let text = |field: &str| get_ci(v, field).and_then(Value::as_str).map(str::trim);
    if !text("detail-type")?.eq_ignore_ascii_case("Scheduled Event")
        || !text("source")?.eq_ignore_ascii_case("aws.events")
    {
        return None;
    }
    let account = text("account")
        .filter(|a| is_account_id(a))
        .map(str::to_string);
    let region = text("region")
        .filter(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map(str::to_string);
    let rule = get_ci(v, "resources")
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .and_then(Value::as_str)
        .map(str::to_string);
    Some(SweepRequest {
        account,
        region,
        rule,
    })
}

fn sweep_trigger(kind: TriggerKind, source: &str, account: &str, region: &str) -> Trigger {
    Trigger {
        kind,
        event_name: SWEEP_EVENT_NAME.to_string(),
        event_source: source.to_string(),
        event_id: None,
        event_time: None,
        account: Some(account.to_string()),
        region: Some(region.to_string()),
        bucket: None,
        key: None,
        caller_account: None,
        owner_account: Some(account.to_string()),
        error_code: None,
        error_message: None,
        principal_arn: None,
        session_issuer_arn: None,
        object_key: None,
    }
}

/// The trigger a `PutBucketPolicy` on this bucket would give, minus the actor: the sweep is
/// nobody's change, so the loop guard never drops it.
pub fn bucket_trigger(account: &str, region: &str, bucket: &str) -> Trigger {
    Trigger {
        bucket: Some(bucket.to_string()),
        ..sweep_trigger(
            TriggerKind::BucketChanged,
            "s3.amazonaws.com",
            account,
            region,
        )
    }
}

/// The trigger a `PutKeyPolicy` on this key (full ARN from ListKeys) would give.
pub fn key_trigger(account: &str, region: &str, key_arn: &str) -> Trigger {
    Trigger {
        key: Some(key_arn.to_string()),
        ..sweep_trigger(
            TriggerKind::KeyChanged,
            "kms.amazonaws.com",
            account,
            region,
        )
    }
}

/// The account of an ARN (`arn:aws:lambda:eu-west-1:111122223333:function:f` → the id), for
/// the Lambda's fallback when a scheduled event names no account.
pub fn account_of_arn(arn: &str) -> Option<String> {
    let account = arn.split(':').nth(4)?;
    is_account_id(account).then(|| account.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scheduled() -> Value {
        serde_json::from_str(include_str!("../../events/aws-Scheduled-Event.json")).unwrap()
    }

    fn with(mut v: Value, field: &str, value: Value) -> Value {
        v[field] = value;
        v
    }

    macro_rules! requests {
        ($($name:ident: $input:expr => $want:expr;)*) => {$(
            #[test]
            fn $name() {
                let want: Option<(Option<&str>, Option<&str>)> = $want;
                let got = sweep_request(&$input);
                assert_eq!(
                    got.as_ref().map(|r| (r.account.as_deref(), r.region.as_deref())),
                    want,
                    "{got:?}"
                );
            }
        )*};
    }

    requests! {
        fixture_is_a_sweep_of_its_account_and_region: scheduled()
            => Some((Some("111122223333"), Some("eu-west-1")));
        detail_type_case_is_ignored: with(scheduled(), "detail-type", json!("scheduled event"))
            => Some((Some("111122223333"), Some("eu-west-1")));
        malformed_account_is_dropped_not_trusted: with(scheduled(), "account", json!("1111-2222"))
            => Some((None, Some("eu-west-1")));
        numeric_account_is_dropped: with(scheduled(), "account", json!(111122223333u64))
            => Some((None, Some("eu-west-1")));
        missing_region_is_none: with(scheduled(), "region", Value::Null)
            => Some((Some("111122223333"), None));
        odd_region_is_dropped: with(scheduled(), "region", json!("eu west/1"))
            => Some((Some("111122223333"), None));
        other_source_is_not_a_sweep: with(scheduled(), "source", json!("aws.s3")) => None;
        cloudtrail_call_is_not_a_sweep:
            with(scheduled(), "detail-type", json!("AWS API Call via CloudTrail")) => None;
        no_detail_type_is_not_a_sweep: json!({"source": "aws.events"}) => None;
        not_an_object_is_not_a_sweep: json!([1, 2]) => None;
    }

    #[test]
    fn rule_arn_is_kept_for_the_log() {
        let r = sweep_request(&scheduled()).unwrap();
        assert_eq!(
            r.rule.as_deref(),
            Some("arn:aws:events:eu-west-1:111122223333:rule/cmkguard-daily-sweep")
        );
    }

    #[test]
    fn synthesised_triggers_name_the_resource_and_its_owner() {
        let b = bucket_trigger("111122223333", "eu-west-1", "data");
        assert_eq!(b.kind, TriggerKind::BucketChanged);
        assert_eq!(b.bucket.as_deref(), Some("data"));
        assert_eq!(b.owner_account.as_deref(), Some("111122223333"));
        assert_eq!(b.account, b.owner_account);
        assert_eq!(
            b.principal_arn, None,
            "no actor: the loop guard cannot drop it"
        );
        let k = key_trigger(
            "111122223333",
            "eu-west-1",
            "arn:aws:kms:eu-west-1:111122223333:key/k",
        );
        assert_eq!(k.kind, TriggerKind::KeyChanged);
        assert_eq!(
            k.key.as_deref(),
            Some("arn:aws:kms:eu-west-1:111122223333:key/k")
        );
        assert_eq!(k.bucket, None);
        assert_eq!(k.event_source, "kms.amazonaws.com");
    }

    #[test]
    fn account_of_arn_reads_the_fifth_field() {
        assert_eq!(
            account_of_arn("arn:aws:lambda:eu-west-1:111122223333:function:cmkguard").as_deref(),
            Some("111122223333")
        );
        assert_eq!(account_of_arn("arn:aws:lambda:eu-west-1::function:f"), None);
        assert_eq!(account_of_arn("not an arn"), None);
    }
}
