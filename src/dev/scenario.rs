//! The demo's world, shared by `cmkguard demo`, the end-to-end tests and the benches: a data
//! account (a bucket shared with a compute account under `aws/s3`, a bucket without TLS
//! enforcement, a CMK whose key policy misses the compute account, an exempt bucket, a
//! compliant one), the CloudTrail events that announce them, the SDK options for the emulator,
//! and the guardrail settings the demo runs with. Also home of the EventBridge event builders
//! the end-to-end tests share.

use std::time::Duration;

use serde_json::{json, Value};

use super::emulator::DEFAULT_ACCOUNT;
use super::seed::Seeder;
use crate::aws::{AwsOptions, Clients};
use crate::config::{Settings, SinkSettings};
use crate::core::config::{Config, Mode};

pub const DATA_ACCOUNT: &str = DEFAULT_ACCOUNT;
pub const COMPUTE_ACCOUNT: &str = "444455556666";
pub const REGION: &str = "eu-west-1";
/// The role people change things with in the scenario (not the guardrail's).
pub const ADMIN_ROLE: &str = "arn:aws:iam::111122223333:role/platform-admin";
pub const GUARDRAIL_ROLE: &str = "arn:aws:iam::111122223333:role/cmkguard";

/// An EventBridge "AWS API Call via CloudTrail" envelope, shaped like the fixtures in
/// `events/`. `actor_role` is the role whose session made the call.
pub fn cloudtrail_event(
    service: &str,
    event_name: &str,
    account: &str,
    region: &str,
    actor_role: &str,
    request_parameters: Value,
    resources: Value,
) -> Value {
    let role_name = actor_role.rsplit('/').next().unwrap_or("role");
    json!({
        "version": "0",
        "id": format!("demo-{service}-{event_name}"),
        "detail-type": "AWS API Call via CloudTrail",
        "source": format!("aws.{service}"),
        "account": account,
        "time": "2024-11-25T10:02:41Z",
        "region": region,
        "resources": [],
        "detail": {
            "eventVersion": "1.10",
            "userIdentity": {
                "type": "AssumedRole",
                "principalId": "AROAEXAMPLEROLE:session",
                "arn": format!("arn:aws:sts::{account}:assumed-role/{role_name}/session"),
                "accountId": account,
                "sessionContext": {"sessionIssuer": {
                    "type": "Role", "principalId": "AROAEXAMPLEROLE", "arn": actor_role,
                    "accountId": account, "userName": role_name
                }}
            },
            "eventTime": "2024-11-25T10:02:41Z",
            "eventSource": format!("{service}.amazonaws.com"),
            "eventName": event_name,
            "awsRegion": region,
            "sourceIPAddress": "203.0.113.24",
            "userAgent": "cmkguard-demo",
            "requestParameters": request_parameters,
            "responseElements": null,
            "requestID": "DEMO",
            "eventID": format!("demo-{event_name}"),
            "readOnly": false,
            "resources": resources,
            "eventType": "AwsApiCall",
            "managementEvent": true,
            "recipientAccountId": account,
            "eventCategory": "Management"
        }
    })
}

/// An S3 bucket configuration event (`PutBucketPolicy`, `CreateBucket`, …).
pub fn s3_event(event_name: &str, bucket: &str, actor_role: &str) -> Value {
    cloudtrail_event(
        "s3",
        event_name,
        DATA_ACCOUNT,
        REGION,
        actor_role,
        json!({"bucketName": bucket, "Host": format!("{bucket}.s3.{REGION}.amazonaws.com")}),
        json!([{"accountId": DATA_ACCOUNT, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")}]),
    )
}

/// A KMS key event (`PutKeyPolicy`, `DisableKeyRotation`, …) on a key ARN.
pub fn kms_event(event_name: &str, key_arn: &str, actor_role: &str) -> Value {
    cloudtrail_event(
        "kms",
        event_name,
        DATA_ACCOUNT,
        REGION,
        actor_role,
        json!({"keyId": key_arn}),
        json!([{"accountId": DATA_ACCOUNT, "type": "AWS::KMS::Key", "ARN": key_arn}]),
    )
}

/// The SDK options for the emulator: dummy credentials, fixed region, no retries, short
/// timeouts (a failing call should fail fast, not hang).
pub fn emulator_options(endpoint_url: &str) -> AwsOptions {
    AwsOptions {
        endpoint_url: Some(endpoint_url.to_string()),
        region: Some(REGION.to_string()),
        static_credentials: Some(("testing".into(), "testing".into())),
        max_attempts: Some(1),
        operation_timeout: Some(Duration::from_secs(20)),
    }
}

/// A key policy that admits only the owner account (what `CreateKey` gives by default).
pub fn owner_only_key_policy(account: &str) -> String {
    json!({"Version": "2012-10-17", "Id": "key-default-1", "Statement": [{
        "Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
        "Action": "kms:*", "Resource": "*"}]})
    .to_string()
}

/// A bucket policy granting the compute account read access.
pub fn shared_policy(bucket: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "AllowComputeRead", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{COMPUTE_ACCOUNT}:root")},
        "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")]}]})
}

/// The TLS Deny the guardrail would add, written by hand for the compliant bucket.
fn tls_deny(bucket: &str) -> Value {
    json!({"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
}

/// What the scenario created.
pub struct Scenario {
    pub cmk_arn: String,
    pub compliant_key_arn: String,
    pub topic_arn: String,
    pub events: Vec<(String, Value)>,
}

/// Seeds the scenario into the emulator.
pub async fn seed(clients: &Clients) -> Result<Scenario, String> {
    let s = Seeder { clients };
    let cmk_arn = s
        .create_key(
            "data-cmk: shared data",
            Some(&owner_only_key_policy(DATA_ACCOUNT)),
        )
        .await?;
    s.create_alias("alias/data-cmk", &cmk_arn).await?;
    let compliant_key_arn = s
        .create_key("compliant-cmk", Some(&owner_only_key_policy(DATA_ACCOUNT)))
        .await?;
    let mut granted: Value =
        serde_json::from_str(&owner_only_key_policy(DATA_ACCOUNT)).map_err(|e| e.to_string())?;
    if let Some(stmts) = granted["Statement"].as_array_mut() {
        stmts.push(json!({
            "Sid": "AllowComputeUsage", "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{COMPUTE_ACCOUNT}:root")},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
            "Resource": "*"}));
    }
    s.put_key_policy(&compliant_key_arn, &granted.to_string())
        .await?;
    s.enable_rotation(&compliant_key_arn).await?;

    s.create_bucket("data-shared-analytics").await?;
    s.put_bucket_policy(
        "data-shared-analytics",
        &shared_policy("data-shared-analytics").to_string(),
    )
    .await?;
    s.put_encryption("data-shared-analytics", "aws:kms", None)
        .await?;

    s.create_bucket("data-no-tls").await?;
    s.put_encryption("data-no-tls", "AES256", None).await?;

    s.create_bucket("data-exempt").await?;
    s.put_bucket_policy("data-exempt", &shared_policy("data-exempt").to_string())
        .await?;
    s.put_encryption("data-exempt", "AES256", None).await?;
    s.put_bucket_tags("data-exempt", &[("cmkguard:exempt", "true")])
        .await?;

    s.create_bucket("data-compliant").await?;
    let mut compliant = shared_policy("data-compliant");
    if let Some(stmts) = compliant["Statement"].as_array_mut() {
        stmts.push(tls_deny("data-compliant"));
    }
    s.put_bucket_policy("data-compliant", &compliant.to_string())
        .await?;
    s.put_encryption("data-compliant", "aws:kms", Some(&compliant_key_arn))
        .await?;

    let topic_arn = s.create_topic("cmkguard-findings").await?;
    s.enable_security_hub().await?;

    let events = vec![
        (
            "PutBucketPolicy data-shared-analytics".to_string(),
            s3_event("PutBucketPolicy", "data-shared-analytics", ADMIN_ROLE),
        ),
        (
            "CreateBucket data-no-tls".to_string(),
            s3_event("CreateBucket", "data-no-tls", ADMIN_ROLE),
        ),
        (
            "PutBucketPolicy data-exempt".to_string(),
            s3_event("PutBucketPolicy", "data-exempt", ADMIN_ROLE),
        ),
        (
            "PutBucketEncryption data-compliant".to_string(),
            s3_event("PutBucketEncryption", "data-compliant", ADMIN_ROLE),
        ),
        (
            "PutKeyPolicy data-cmk".to_string(),
            kms_event("PutKeyPolicy", &cmk_arn, ADMIN_ROLE),
        ),
    ];
    Ok(Scenario {
        cmk_arn,
        compliant_key_arn,
        topic_arn,
        events,
    })
}

/// The guardrail settings the demo runs with.
pub fn demo_settings(mode: Mode, cmk_arn: &str, topic_arn: &str) -> Settings {
    let mut core = Config {
        mode,
        cmk_arn: Some(cmk_arn.to_string()),
        patch_key_policy: true,
        guardrail_role_arn: Some(GUARDRAIL_ROLE.to_string()),
        ..Config::default()
    };
    core.trust.accounts.insert(COMPUTE_ACCOUNT.to_string());
    Settings {
        core,
        sinks: SinkSettings {
            sns_topic_arn: Some(topic_arn.to_string()),
            security_hub: true,
            event_bus: Some("default".to_string()),
            ocsf_bucket: None,
        },
        // moto answers as the data account: the account that posts.
        account: Some(DATA_ACCOUNT.to_string()),
    }
}
