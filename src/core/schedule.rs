//! The account sweep's pure half: recognising an EventBridge `Scheduled Event` (read as
//! `aws_lambda_events`' typed envelope, leniently when that rejects it) as a sweep request,
//! and the triggers a sweep synthesises for each listed bucket and key, so a sweep decides
//! with exactly the rules and planning an event would (`decide` is not told it is a sweep).
//! No I/O: the listing and the concurrency live in `crate::scan`.

use serde::Serialize;
use serde_json::Value;

use super::event::envelope::{typed, Reading, Unread};
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
    read_sweep(v).map(|(request, _)| request)
}

/// [`sweep_request`], and how the envelope was read: as `aws_lambda_events`'
/// `EventBridgeEvent` (its `detail`, always `{}`, left unread), or field by field when the
/// strict type rejects it (a key in another case, an odd `time`, a number for the account).
pub fn read_sweep(v: &Value) -> Option<(SweepRequest, Reading)> {
    if let Some(env) = typed::<Unread>(v) {
        let rule = env.resources.as_ref().and_then(|r| r.first());
        let request = sweep_fields(
            Some(&env.detail_type),
            Some(&env.source),
            env.account.as_deref(),
            env.region.as_deref(),
            rule.map(String::as_str),
        )?;
        return Some((request, Reading::Typed));
    }
    sweep_leniently(v).map(|request| (request, Reading::Lenient))
}

/// The lenient reading alone: each field looked up by key in any case.
fn sweep_leniently(v: &Value) -> Option<SweepRequest> {
    let text = |field: &str| get_ci(v, field).and_then(Value::as_str);
    let rule = get_ci(v, "resources")
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .and_then(Value::as_str);
    sweep_fields(
        text("detail-type"),
        text("source"),
        text("account"),
        text("region"),
        rule,
    )
}

/// The sweep a schedule's envelope fields ask for, whichever way they were read.
fn sweep_fields(
    detail_type: Option<&str>,
    source: Option<&str>,
    account: Option<&str>,
    region: Option<&str>,
    rule: Option<&str>,
) -> Option<SweepRequest> {
    if !detail_type?.trim().eq_ignore_ascii_case("Scheduled Event")
        || !source?.trim().eq_ignore_ascii_case("aws.events")
    {
        return None;
    }
    let account = account
        .map(str::trim)
        .filter(|a| is_account_id(a))
        .map(str::to_string);
    let region = region
        .map(str::trim)
        .filter(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map(str::to_string);
    Some(SweepRequest {
        account,
        region,
        rule: rule.map(str::to_string),
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
        side: None,
        shared_event_id: None,
        request_id: None,
        resource_arn: None,
        change: None,
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

/// True for a bucket trigger the sweep synthesised: its state is read by need
/// (`core::decide::bucket_needs_encryption`, `plan_needs_tags`). No CloudTrail record parses
/// to this event name, so an event is always read in full.
pub fn is_swept_bucket(trigger: &Trigger) -> bool {
    trigger.kind == TriggerKind::BucketChanged && trigger.event_name == SWEEP_EVENT_NAME
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

    /// Which reading takes a schedule (`aws_lambda_events`' typed envelope, or the lenient
    /// fallback), and the request, which is the lenient reading's either way.
    macro_rules! readings {
        ($($name:ident: $input:expr => $reading:expr, $want:expr;)*) => {$(
            #[test]
            fn $name() {
                let input: Value = $input;
                let want: (Option<&str>, Option<&str>) = $want;
                let (got, reading) = read_sweep(&input).expect("a sweep request");
                assert_eq!(reading, $reading, "{got:?}");
                assert_eq!((got.account.as_deref(), got.region.as_deref()), want);
                assert_eq!(Some(got), sweep_leniently(&input));
            }
        )*};
    }

    readings! {
        fixture_is_read_typed: scheduled() => Reading::Typed, (Some("111122223333"), Some("eu-west-1"));
        typed_detail_type_case_is_ignored: with(scheduled(), "detail-type", json!("scheduled event"))
            => Reading::Typed, (Some("111122223333"), Some("eu-west-1"));
        typed_odd_region_is_dropped: with(scheduled(), "region", json!("eu west/1"))
            => Reading::Typed, (Some("111122223333"), None);
        malformed_time_falls_back_to_lenient: with(scheduled(), "time", json!("yesterday"))
            => Reading::Lenient, (Some("111122223333"), Some("eu-west-1"));
        numeric_account_falls_back_to_lenient: with(scheduled(), "account", json!(111122223333u64))
            => Reading::Lenient, (None, Some("eu-west-1"));
        account_in_other_case_falls_back_to_lenient: {
            let mut v = scheduled();
            let account = v.as_object_mut().unwrap().remove("account").unwrap();
            with(v, "ACCOUNT", account)
        } => Reading::Lenient, (Some("111122223333"), Some("eu-west-1"));
        missing_detail_falls_back_to_lenient: {
            let mut v = scheduled();
            v.as_object_mut().unwrap().remove("detail");
            v
        } => Reading::Lenient, (Some("111122223333"), Some("eu-west-1"));
    }

    #[test]
    fn a_cloudtrail_envelope_is_read_typed_and_is_no_sweep() {
        let v = with(
            scheduled(),
            "detail-type",
            json!("AWS API Call via CloudTrail"),
        );
        assert!(crate::core::event::envelope::typed::<Unread>(&v).is_some());
        assert_eq!(read_sweep(&v), None);
    }

    const ARB_VALUES: &[&str] = &[
        "Scheduled Event",
        "scheduled event",
        "aws.events",
        "111122223333",
        "eu-west-1",
        "2024-11-25T10:00:00Z",
        "yesterday",
        "arn:aws:events:eu-west-1:111122223333:rule/r",
    ];
    const ARB_KEYS: &[&str] = &[
        "detail-type",
        "Detail-Type",
        "source",
        "account",
        "Account",
        "region",
        "time",
        "resources",
        "detail",
        "id",
        "version",
    ];

    proptest::proptest! {
        /// The typed reading never changes the request: it is always the lenient reading's.
        #[test]
        fn typed_reading_agrees_with_the_lenient_one(
            v in crate::core::testing::arb_json(ARB_VALUES, ARB_KEYS),
            fields in proptest::collection::vec(
                (proptest::sample::select(ARB_KEYS), proptest::sample::select(ARB_VALUES)),
                0..4,
            ),
        ) {
            for v in [v, fields.iter().fold(scheduled(), |v, (k, x)| with(v, k, json!(x)))] {
                proptest::prop_assert_eq!(sweep_request(&v), sweep_leniently(&v));
            }
        }
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
