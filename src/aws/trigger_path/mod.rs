//! The trigger path's adapters (how CloudTrail records reach the guardrail's rules), for the
//! CLI-only commands `doctor` and `backfill`: trails and event history (`cloudtrail`), the
//! EventBridge rules (`event_rules`), and their SDK clients, built from the same `AwsOptions` as the guardrail's clients. CloudTrail can be
//! pointed elsewhere than the other services (`AWS_ENDPOINT_URL_CLOUDTRAIL`, or the
//! `cloudtrail_endpoint_url` option): the emulator lacks `LookupEvents`, so tests serve it
//! from recorded responses while S3 and KMS stay on the emulator.

pub mod cloudtrail;
pub mod event_rules;

use super::AwsOptions;
use cloudtrail::{EventHistory, TrailReader};
use event_rules::RuleReader;

/// The environment variable the SDK itself uses for a CloudTrail-only endpoint.
pub const CLOUDTRAIL_ENDPOINT_ENV: &str = "AWS_ENDPOINT_URL_CLOUDTRAIL";

#[derive(Debug, Clone)]
pub struct CliClients {
    pub trails: TrailReader,
    pub history: EventHistory,
    pub rules: RuleReader,
    /// The region the clients talk to ("" when none is configured).
    pub region: String,
}

/// Builds the clients. `cloudtrail_endpoint_url` wins over `AWS_ENDPOINT_URL_CLOUDTRAIL`,
/// which wins over `opts.endpoint_url` (an explicit endpoint on the loader would otherwise
/// hide the service-specific variable).
pub async fn load(opts: &AwsOptions, cloudtrail_endpoint_url: Option<&str>) -> CliClients {
    let sdk = crate::aws::load_sdk_config(opts).await;
    let ct_url = cloudtrail_endpoint_url.map(String::from).or_else(|| {
        std::env::var(CLOUDTRAIL_ENDPOINT_ENV)
            .ok()
            .filter(|s| !s.is_empty())
    });
    let mut ct = aws_sdk_cloudtrail::config::Builder::from(&sdk);
    if let Some(url) = ct_url {
        ct = ct.endpoint_url(url);
    }
    let cloudtrail = aws_sdk_cloudtrail::Client::from_conf(ct.build());
    CliClients {
        trails: TrailReader::new(cloudtrail.clone()),
        history: EventHistory::new(cloudtrail),
        rules: RuleReader::new(aws_sdk_eventbridge::Client::new(&sdk)),
        region: sdk.region().map(|r| r.to_string()).unwrap_or_default(),
    }
}

/// Every IAM action `doctor` and `backfill` need beyond the guardrail's read actions (which
/// `backfill` also uses, through the handler). Not granted to the Lambda role.
pub fn iam_actions() -> Vec<&'static str> {
    [
        TrailReader::IAM_ACTIONS,
        EventHistory::IAM_ACTIONS,
        RuleReader::IAM_ACTIONS,
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The calls in the CLI-only adapters match their declared actions, and none writes.
    #[test]
    fn declared_iam_actions_match_the_calls_in_the_source() {
        let pairs: &[(&str, &str, &str)] = &[
            (
                include_str!("cloudtrail.rs"),
                ".describe_trails()",
                "cloudtrail:DescribeTrails",
            ),
            (
                include_str!("cloudtrail.rs"),
                ".get_trail_status()",
                "cloudtrail:GetTrailStatus",
            ),
            (
                include_str!("cloudtrail.rs"),
                ".get_event_selectors()",
                "cloudtrail:GetEventSelectors",
            ),
            (
                include_str!("cloudtrail.rs"),
                ".lookup_events()",
                "cloudtrail:LookupEvents",
            ),
            (
                include_str!("event_rules.rs"),
                ".describe_rule()",
                "events:DescribeRule",
            ),
            (
                include_str!("event_rules.rs"),
                ".list_rules()",
                "events:ListRules",
            ),
        ];
        let declared = iam_actions();
        for (src, call, action) in pairs {
            assert!(src.contains(call), "{call} not called any more");
            assert!(declared.contains(action), "{action} not declared");
        }
        assert_eq!(declared.len(), pairs.len(), "{declared:?}");
        for src in [
            include_str!("cloudtrail.rs"),
            include_str!("event_rules.rs"),
        ] {
            let calls = src
                .split(".client")
                .skip(1)
                .filter_map(|rest| {
                    let op = rest.trim_start().strip_prefix('.')?;
                    Some(&op[..op.find("()")?])
                })
                .filter(|op| *op != "config");
            for op in calls {
                assert!(
                    pairs.iter().any(|(_, c, _)| c
                        .trim_matches(|ch| ch == '.' || ch == '(' || ch == ')')
                        == op),
                    "call .{op}() has no declared IAM action"
                );
            }
        }
        for a in &declared {
            let verb = a.split(':').nth(1).unwrap_or_default();
            assert!(
                ["Describe", "Get", "List", "Lookup"]
                    .iter()
                    .any(|p| verb.starts_with(p)),
                "{a} is not a read"
            );
        }
    }
}
