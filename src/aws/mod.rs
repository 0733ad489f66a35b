//! The AWS side of the ports: the only module that names `aws_sdk_*` types. Builds the SDK
//! clients once (standard credential / region chain, optional endpoint override for the
//! emulator) and wires the adapters into the app's dependencies.

pub mod error;
/// The CLI's caller account (STS) and the account's enabled regions (Account).
pub mod identity;
pub mod kms;
pub mod listing;
pub mod s3;
pub mod securityhub;
pub mod sinks;
/// The CLI-only reads of the trigger path (`doctor`, `backfill`): trails, event history and
/// EventBridge rules. Not in the Lambda role.
pub mod trigger_path;

// Request accounting, installed on every client `load_clients` builds.
pub mod metrics;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};

use crate::config::SinkSettings;
use crate::ports::{Deps, Writers};
use kms::{KmsReader, KmsWriter};
use s3::{S3Reader, S3Writer};
use sinks::{AwsSink, EventBridgeSink, OcsfSink, SecurityHubSink, SnsSink};

/// Default per-attempt timeout. S3 and KMS control-plane calls answer well within a second;
/// three attempts of 5 s plus back-off stay under `OPERATION_TIMEOUT`.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default bound on one call, all attempts and back-off included: below the Lambda's 30 s.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(25);
/// Default TCP + TLS connect timeout (the SDK's own default is 3.1 s).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// How to reach AWS (or an emulator).
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    /// Endpoint override (the emulator); also forces path-style S3 addressing.
    pub endpoint_url: Option<String>,
    /// Region override; else the standard chain (`AWS_REGION`, profile, IMDS).
    pub region: Option<String>,
    /// Static credentials (access key, secret) instead of the standard chain: emulator only.
    pub static_credentials: Option<(String, String)>,
    /// Total attempts per call, including the first (SDK default 3).
    pub max_attempts: Option<u32>,
    /// Per-operation timeout; None = the defaults above (attempt, operation, connect).
    pub operation_timeout: Option<Duration>,
}

/// The SDK clients, built once per process.
#[derive(Debug, Clone)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub kms: aws_sdk_kms::Client,
    pub sns: aws_sdk_sns::Client,
    pub securityhub: aws_sdk_securityhub::Client,
    pub eventbridge: aws_sdk_eventbridge::Client,
    /// The CLI's caller account and enabled regions (not used by the Lambda).
    pub identity: identity::Identity,
    /// The region the clients talk to ("" when none is configured).
    pub region: String,
}

pub async fn load_clients(opts: &AwsOptions) -> Clients {
    load_counted_clients(opts).await.0
}

/// `load_clients`, plus the counter of the requests every one of these clients makes
/// (`metrics.rs`). Kept out of `Clients` so code that builds a `Clients` itself is unaffected.
/// The shared SDK configuration of every client: endpoint, region, credentials, retry and
/// timeouts from `opts`.
pub async fn load_sdk_config(opts: &AwsOptions) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(url) = &opts.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(r) = &opts.region {
        loader = loader.region(Region::new(r.clone()));
    }
    if let Some((id, secret)) = &opts.static_credentials {
        loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
            id, secret, None, None, "static",
        ));
    }
    if let Some(n) = opts.max_attempts {
        loader = loader.retry_config(RetryConfig::standard().with_max_attempts(n.max(1)));
    }
    // The SDK sets no attempt or operation timeout by default: a stalled connection would hang
    // until the Lambda's own timeout, with no retry and no classified error. Defaults here;
    // an explicit operation timeout (the emulator: one attempt) bounds the call alone.
    let timeouts = match opts.operation_timeout {
        Some(t) => TimeoutConfig::builder().operation_timeout(t),
        None => TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .operation_timeout(OPERATION_TIMEOUT),
    };
    loader = loader.timeout_config(timeouts.build());
    loader.load().await
}

pub async fn load_counted_clients(opts: &AwsOptions) -> (Clients, metrics::RequestMetrics) {
    let sdk = load_sdk_config(opts).await;
    let requests = metrics::RequestMetrics::default();
    let s3_config = aws_sdk_s3::config::Builder::from(&sdk)
        .force_path_style(opts.endpoint_url.is_some())
        .interceptor(requests.interceptor())
        .retry_classifier(error::TooManyRequests)
        .build();
    // Each client with the request-counting interceptor (see metrics.rs) and a bare 429 retried
    // as throttling (error.rs).
    macro_rules! counted {
        ($sdk_crate:ident) => {
            $sdk_crate::Client::from_conf(
                $sdk_crate::config::Builder::from(&sdk)
                    .interceptor(requests.interceptor())
                    .retry_classifier(error::TooManyRequests)
                    .build(),
            )
        };
    }
    let clients = Clients {
        s3: aws_sdk_s3::Client::from_conf(s3_config),
        kms: counted!(aws_sdk_kms),
        sns: counted!(aws_sdk_sns),
        securityhub: counted!(aws_sdk_securityhub),
        eventbridge: counted!(aws_sdk_eventbridge),
        // Not counted: identity calls are the CLI's, outside an event's request budget.
        identity: identity_clients(&sdk),
        region: sdk.region().map(|r| r.to_string()).unwrap_or_default(),
    };
    (clients, requests)
}

/// STS and Account clients; `AWS_ENDPOINT_URL_ACCOUNT` wins over a loader-wide endpoint (which
/// would otherwise hide the service-specific variable).
fn identity_clients(sdk: &aws_config::SdkConfig) -> identity::Identity {
    let mut account = aws_sdk_account::config::Builder::from(sdk);
    if let Some(url) = std::env::var(identity::ACCOUNT_ENDPOINT_ENV)
        .ok()
        .filter(|s| !s.is_empty())
    {
        account = account.endpoint_url(url);
    }
    identity::Identity::new(
        aws_sdk_sts::Client::new(sdk),
        aws_sdk_account::Client::from_conf(account.build()),
    )
}

/// The guardrail's writers over AWS.
pub type AwsWriters = Writers<S3Writer, KmsWriter>;

/// The app's dependencies over AWS.
pub type AwsDeps = Deps<S3Reader, KmsReader, AwsWriters, AwsSink>;

/// Wires the adapters and the configured sinks.
pub fn deps(clients: &Clients, sinks: &SinkSettings) -> AwsDeps {
    let mut out = Vec::new();
    if let Some(topic) = &sinks.sns_topic_arn {
        out.push(AwsSink::Sns(SnsSink::new(clients.sns.clone(), topic)));
    }
    if sinks.security_hub {
        out.push(AwsSink::SecurityHub(SecurityHubSink::new(
            clients.securityhub.clone(),
        )));
    }
    if let Some(bus) = &sinks.event_bus {
        out.push(AwsSink::EventBridge(EventBridgeSink::new(
            clients.eventbridge.clone(),
            bus,
        )));
    }
    if let Some(bucket) = &sinks.ocsf_bucket {
        out.push(AwsSink::Ocsf(OcsfSink::new(clients.s3.clone(), bucket)));
    }
    Deps {
        buckets: S3Reader::new(clients.s3.clone()),
        keys: KmsReader::new(clients.kms.clone()),
        writer: Writers {
            buckets: S3Writer::new(clients.s3.clone()),
            keys: KmsWriter::new(clients.kms.clone()),
        },
        sinks: out,
    }
}

/// Every IAM action the adapters may call with these sink settings (for the role policy).
pub fn iam_actions(sinks: &SinkSettings, enforce: bool) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = S3Reader::IAM_ACTIONS
        .iter()
        .chain(KmsReader::IAM_ACTIONS)
        .chain(listing::S3Inventory::IAM_ACTIONS)
        .chain(listing::KmsInventory::IAM_ACTIONS)
        .copied()
        .collect();
    if enforce {
        v.extend(S3Writer::IAM_ACTIONS);
        v.extend(KmsWriter::IAM_ACTIONS);
    }
    if sinks.sns_topic_arn.is_some() {
        v.extend(SnsSink::IAM_ACTIONS);
    }
    if sinks.security_hub {
        v.extend(SecurityHubSink::IAM_ACTIONS);
    }
    if sinks.event_bus.is_some() {
        v.extend(EventBridgeSink::IAM_ACTIONS);
    }
    if sinks.ocsf_bucket.is_some() {
        v.extend(OcsfSink::IAM_ACTIONS);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SDK operations each adapter's source calls, mapped to their IAM actions. Reading
    /// the source keeps the declared lists honest: a new call without a declared action fails.
    #[test]
    fn declared_iam_actions_match_the_calls_in_the_source() {
        /// (source, declared actions, (call, action) pairs).
        type Case<'a> = (&'a str, &'a [&'a str], &'a [(&'a str, &'a str)]);
        let cases: &[Case] = &[
            (
                include_str!("s3.rs"),
                &[S3Reader::IAM_ACTIONS, S3Writer::IAM_ACTIONS].concat(),
                &[
                    (".get_bucket_policy()", "s3:GetBucketPolicy"),
                    (".get_bucket_encryption()", "s3:GetEncryptionConfiguration"),
                    (".get_bucket_acl()", "s3:GetBucketAcl"),
                    (".get_bucket_tagging()", "s3:GetBucketTagging"),
                    (".put_bucket_policy()", "s3:PutBucketPolicy"),
                    (".put_bucket_encryption()", "s3:PutEncryptionConfiguration"),
                ],
            ),
            (
                include_str!("kms.rs"),
                &[KmsReader::IAM_ACTIONS, KmsWriter::IAM_ACTIONS].concat(),
                &[
                    (".describe_key()", "kms:DescribeKey"),
                    (".get_key_policy()", "kms:GetKeyPolicy"),
                    (".get_key_rotation_status()", "kms:GetKeyRotationStatus"),
                    (".list_resource_tags()", "kms:ListResourceTags"),
                    (".list_aliases()", "kms:ListAliases"),
                    (".put_key_policy()", "kms:PutKeyPolicy"),
                    (".enable_key_rotation()", "kms:EnableKeyRotation"),
                ],
            ),
            (
                include_str!("listing.rs"),
                &[
                    listing::S3Inventory::IAM_ACTIONS,
                    listing::KmsInventory::IAM_ACTIONS,
                ]
                .concat(),
                &[
                    (".list_buckets()", "s3:ListAllMyBuckets"),
                    (".list_keys()", "kms:ListKeys"),
                ],
            ),
            (
                include_str!("sinks.rs"),
                &[
                    SnsSink::IAM_ACTIONS,
                    EventBridgeSink::IAM_ACTIONS,
                    OcsfSink::IAM_ACTIONS,
                ]
                .concat(),
                &[
                    (".publish()", "sns:Publish"),
                    (".put_events()", "events:PutEvents"),
                    (".put_object()", "s3:PutObject"),
                ],
            ),
            (
                include_str!("securityhub.rs"),
                SecurityHubSink::IAM_ACTIONS,
                &[
                    (
                        ".batch_import_findings()",
                        "securityhub:BatchImportFindings",
                    ),
                    (".get_findings()", "securityhub:GetFindings"),
                ],
            ),
            (
                include_str!("identity.rs"),
                identity::Identity::IAM_ACTIONS,
                &[
                    (".get_caller_identity()", "sts:GetCallerIdentity"),
                    (".list_regions()", "account:ListRegions"),
                ],
            ),
        ];
        for (source, declared, calls) in cases {
            assert!(!declared.is_empty());
            // Every client call in the source (`.client\n .op()`) is one of the known calls.
            let called: Vec<&str> = source
                .split(".client")
                .skip(1)
                .filter_map(|rest| {
                    let rest = rest.trim_start();
                    let op = rest.strip_prefix('.')?;
                    let end = op.find("()")?;
                    Some(&op[..end])
                })
                // Local, no request: the client's own configuration.
                .filter(|op| *op != "config")
                .collect();
            for op in &called {
                assert!(
                    calls
                        .iter()
                        .any(|(c, _)| c.trim_start_matches('.').trim_end_matches("()") == *op),
                    "call .{op}() has no declared IAM action"
                );
            }
            for (call, action) in *calls {
                assert!(source.contains(call), "{call} not called any more");
                assert!(declared.contains(action), "{action} not declared");
            }
            assert_eq!(declared.len(), calls.len(), "declared {declared:?}");
            for a in *declared {
                let verb = a.split(':').nth(1).unwrap_or_default();
                assert!(
                    !verb.starts_with("Delete")
                        && !verb.starts_with("Schedule")
                        && !verb.starts_with("Disable"),
                    "{a} is destructive"
                );
            }
        }
    }

    #[test]
    fn report_mode_needs_no_write_actions() {
        let none = SinkSettings::default();
        let report = iam_actions(&none, false);
        assert!(report
            .iter()
            .all(|a| !a.contains(":Put") && !a.contains(":Enable")));
        let enforce = iam_actions(&none, true);
        assert!(enforce.contains(&"s3:PutBucketPolicy"));
    }
}
