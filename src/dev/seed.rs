//! Scenario seeding for the emulator (the demo and the end-to-end tests): create buckets,
//! keys, aliases, policies, tags, a topic, and read Security Hub findings back. Not used by the
//! guardrail itself, which never creates or deletes anything.

use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag as S3Tag, Tagging,
};

use crate::aws::Clients;

/// Errors are plain strings here: seeding is test and demo setup.
pub type SeedResult<T> = Result<T, String>;

fn e(op: &str, err: impl std::fmt::Debug) -> String {
    format!("{op}: {err:?}")
}

pub struct Seeder<'a> {
    pub clients: &'a Clients,
}

impl Seeder<'_> {
    pub async fn create_bucket(&self, name: &str) -> SeedResult<()> {
        let mut req = self.clients.s3.create_bucket().bucket(name);
        if self.clients.region != "us-east-1" && !self.clients.region.is_empty() {
            req = req.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(
                        self.clients.region.as_str(),
                    ))
                    .build(),
            );
        }
        req.send()
            .await
            .map(|_| ())
            .map_err(|x| e("CreateBucket", x))
    }

    pub async fn put_bucket_policy(&self, bucket: &str, policy: &str) -> SeedResult<()> {
        self.clients
            .s3
            .put_bucket_policy()
            .bucket(bucket)
            .policy(policy)
            .send()
            .await
            .map(|_| ())
            .map_err(|x| e("PutBucketPolicy", x))
    }

    pub async fn get_bucket_policy(&self, bucket: &str) -> SeedResult<Option<String>> {
        match self
            .clients
            .s3
            .get_bucket_policy()
            .bucket(bucket)
            .send()
            .await
        {
            Ok(o) => Ok(o.policy().map(str::to_string)),
            Err(x)
                if aws_sdk_s3::error::ProvideErrorMetadata::code(&x)
                    == Some("NoSuchBucketPolicy") =>
            {
                Ok(None)
            }
            Err(x) => Err(e("GetBucketPolicy", x)),
        }
    }

    /// `algorithm` is `AES256`, `aws:kms` (with or without a key) or `aws:kms:dsse`.
    pub async fn put_encryption(
        &self,
        bucket: &str,
        algorithm: &str,
        key: Option<&str>,
    ) -> SeedResult<()> {
        let mut d = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::from(algorithm));
        if let Some(k) = key {
            d = d.kms_master_key_id(k);
        }
        let cfg = ServerSideEncryptionConfiguration::builder()
            .rules(
                ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(d.build().map_err(|x| e("build", x))?)
                    .build(),
            )
            .build()
            .map_err(|x| e("build", x))?;
        self.clients
            .s3
            .put_bucket_encryption()
            .bucket(bucket)
            .server_side_encryption_configuration(cfg)
            .send()
            .await
            .map(|_| ())
            .map_err(|x| e("PutBucketEncryption", x))
    }

    pub async fn put_bucket_tags(&self, bucket: &str, tags: &[(&str, &str)]) -> SeedResult<()> {
        let mut t = Tagging::builder();
        for (k, v) in tags {
            t = t.tag_set(
                S3Tag::builder()
                    .key(*k)
                    .value(*v)
                    .build()
                    .map_err(|x| e("build", x))?,
            );
        }
        self.clients
            .s3
            .put_bucket_tagging()
            .bucket(bucket)
            .tagging(t.build().map_err(|x| e("build", x))?)
            .send()
            .await
            .map(|_| ())
            .map_err(|x| e("PutBucketTagging", x))
    }

    /// Creates a symmetric customer managed key; returns its ARN.
    pub async fn create_key(&self, description: &str, policy: Option<&str>) -> SeedResult<String> {
        let mut req = self.clients.kms.create_key().description(description);
        if let Some(p) = policy {
            req = req.policy(p);
        }
        let out = req.send().await.map_err(|x| e("CreateKey", x))?;
        out.key_metadata()
            .and_then(|m| m.arn())
            .map(str::to_string)
            .ok_or_else(|| "CreateKey returned no ARN".to_string())
    }

    pub async fn create_alias(&self, alias: &str, key_arn: &str) -> SeedResult<()> {
        self.clients
            .kms
            .create_alias()
            .alias_name(alias)
            .target_key_id(key_arn)
            .send()
            .await
            .map(|_| ())
            .map_err(|x| e("CreateAlias", x))
    }

    pub async fn tag_key(&self, key_arn: &str, k: &str, v: &str) -> SeedResult<()> {
        self.clients
            .kms
            .tag_resource()
            .key_id(key_arn)
            .tags(
                aws_sdk_kms::types::Tag::builder()
                    .tag_key(k)
                    .tag_value(v)
                    .build()
                    .map_err(|x| e("build", x))?,
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|x| e("TagResource", x))
    }

    pub async fn disable_key(&self, key_arn: &str) -> SeedResult<()> {
        // moto 5.2 answers DisableKey by ARN with a 500; the bare key id works.
        let key_id = key_arn.rsplit('/').next().unwrap_or(key_arn);
        self.clients
            .kms
            .disable_key()
            .key_id(key_id)
            .send()
            .await
            .map(|_| ())
            .map_err(|x| e("DisableKey", x))
    }

    pub async fn put_key_policy(&self, key_arn: &str, policy: &str) -> SeedResult<()> {
        self.clients
            .kms
            .put_key_policy()
            .key_id(key_arn)
            .policy_name("default")
            .policy(policy)
            .send()
            .await
            .map(|_| ())
            .map_err(|x| e("PutKeyPolicy", x))
    }

    pub async fn enable_rotation(&self, key_arn: &str) -> SeedResult<()> {
        self.clients
            .kms
            .enable_key_rotation()
            .key_id(key_arn)
            .send()
            .await
            .map(|_| ())
            .map_err(|x| e("EnableKeyRotation", x))
    }

    pub async fn get_key_policy(&self, key_arn: &str) -> SeedResult<String> {
        self.clients
            .kms
            .get_key_policy()
            .key_id(key_arn)
            .policy_name("default")
            .send()
            .await
            .map_err(|x| e("GetKeyPolicy", x))
            .map(|o| o.policy().unwrap_or_default().to_string())
    }

    pub async fn rotation_enabled(&self, key_arn: &str) -> SeedResult<bool> {
        self.clients
            .kms
            .get_key_rotation_status()
            .key_id(key_arn)
            .send()
            .await
            .map_err(|x| e("GetKeyRotationStatus", x))
            .map(|o| o.key_rotation_enabled())
    }

    pub async fn create_topic(&self, name: &str) -> SeedResult<String> {
        let out = self
            .clients
            .sns
            .create_topic()
            .name(name)
            .send()
            .await
            .map_err(|x| e("CreateTopic", x))?;
        out.topic_arn()
            .map(str::to_string)
            .ok_or_else(|| "CreateTopic returned no ARN".to_string())
    }

    pub async fn enable_security_hub(&self) -> SeedResult<()> {
        self.clients
            .securityhub
            .enable_security_hub()
            .send()
            .await
            .map(|_| ())
            .map_err(|x| e("EnableSecurityHub", x))
    }

    /// (Id, GeneratorId, Compliance.Status) of every finding Security Hub holds.
    pub async fn security_hub_findings(&self) -> SeedResult<Vec<(String, String, String)>> {
        let out = self
            .clients
            .securityhub
            .get_findings()
            .max_results(100)
            .send()
            .await
            .map_err(|x| e("GetFindings", x))?;
        Ok(out
            .findings()
            .iter()
            .map(|f| {
                (
                    f.id().unwrap_or_default().to_string(),
                    f.generator_id().unwrap_or_default().to_string(),
                    f.compliance()
                        .and_then(|c| c.status())
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                )
            })
            .collect())
    }

    // ---- IAM and EventBridge (the organisation's accounts on one emulator) -------------

    /// A role (trusting Lambda) with one inline policy; its ARN.
    pub async fn create_role_with_policy(
        &self,
        name: &str,
        policy_name: &str,
        policy: &str,
    ) -> SeedResult<String> {
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        let role = self
            .clients
            .iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust)
            .send()
            .await
            .map_err(|x| e("CreateRole", x))?;
        self.clients
            .iam
            .put_role_policy()
            .role_name(name)
            .policy_name(policy_name)
            .policy_document(policy)
            .send()
            .await
            .map_err(|x| e("PutRolePolicy", x))?;
        Ok(role.role().map(|r| r.arn().to_string()).unwrap_or_default())
    }

    /// A custom event bus; its ARN.
    pub async fn create_event_bus(&self, name: &str) -> SeedResult<String> {
        self.clients
            .eventbridge
            .create_event_bus()
            .name(name)
            .send()
            .await
            .map(|o| o.event_bus_arn().unwrap_or_default().to_string())
            .map_err(|x| e("CreateEventBus", x))
    }

    /// A bus policy statement (moto stores it; it does not enforce it).
    pub async fn put_bus_policy(&self, bus: &str, policy: &str) -> SeedResult<()> {
        self.clients
            .eventbridge
            .put_permission()
            .event_bus_name(bus)
            .policy(policy)
            .send()
            .await
            .map(|_| ())
            .map_err(|x| e("PutPermission", x))
    }

    /// A rule on `bus` with one target (and the target's role, when given); the rule's ARN.
    pub async fn put_rule_to(
        &self,
        bus: &str,
        name: &str,
        pattern: &str,
        target_arn: &str,
        role_arn: Option<&str>,
    ) -> SeedResult<String> {
        let rule = self
            .clients
            .eventbridge
            .put_rule()
            .event_bus_name(bus)
            .name(name)
            .event_pattern(pattern)
            .send()
            .await
            .map_err(|x| e("PutRule", x))?;
        let target = aws_sdk_eventbridge::types::Target::builder()
            .id("target")
            .arn(target_arn)
            .set_role_arn(role_arn.map(str::to_string))
            .build()
            .map_err(|x| e("Target", x))?;
        self.clients
            .eventbridge
            .put_targets()
            .event_bus_name(bus)
            .rule(name)
            .targets(target)
            .send()
            .await
            .map_err(|x| e("PutTargets", x))?;
        Ok(rule.rule_arn().unwrap_or_default().to_string())
    }

    /// Puts one event on `bus`, as a service's CloudTrail delivery would put it there.
    pub async fn put_event(
        &self,
        bus: &str,
        source: &str,
        detail_type: &str,
        detail: &str,
    ) -> SeedResult<()> {
        let out = self
            .clients
            .eventbridge
            .put_events()
            .entries(
                aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                    .event_bus_name(bus)
                    .source(source)
                    .detail_type(detail_type)
                    .detail(detail)
                    .build(),
            )
            .send()
            .await
            .map_err(|x| e("PutEvents", x))?;
        if out.failed_entry_count() > 0 {
            return Err(format!("PutEvents: {:?}", out.entries()));
        }
        Ok(())
    }
}
