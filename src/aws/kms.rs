//! KMS adapter: reads a key (DescribeKey, then key policy, rotation status, tags and aliases
//! concurrently) into the shapes `aws kms` prints, its grants when a decision asks for them
//! (ListGrants, every page), and makes the two key writes (PutKeyPolicy without the lockout
//! bypass, EnableKeyRotation). A key that does not exist is a state.

use aws_sdk_kms::types::KeyMetadata;
use aws_sdk_kms::Client;
use serde_json::{json, Map, Value};

use super::error::port_error;
use crate::core::arn::KmsRef;
use crate::core::snapshot::{KeyState, Tags};
use crate::ports::{ErrorClass, KeyRead, KeyReader, KeyWriter, PortError};

#[derive(Debug, Clone)]
pub struct KmsReader {
    client: Client,
}

impl KmsReader {
    pub const IAM_ACTIONS: &'static [&'static str] = &[
        "kms:DescribeKey",
        "kms:GetKeyPolicy",
        "kms:GetKeyRotationStatus",
        "kms:ListResourceTags",
        "kms:ListAliases",
        "kms:ListGrants",
    ];

    pub fn new(client: Client) -> Self {
        KmsReader { client }
    }

    async fn policy(&self, key_arn: &str) -> Result<Option<Value>, PortError> {
        match self
            .client
            .get_key_policy()
            .key_id(key_arn)
            .policy_name("default")
            .send()
            .await
        {
            Ok(out) => Ok(out.policy().map(|p| Value::String(p.to_string()))),
            Err(e) => not_found_as_none(port_error("kms:GetKeyPolicy", &e)),
        }
    }

    async fn rotation(&self, key_arn: &str) -> Result<bool, PortError> {
        self.client
            .get_key_rotation_status()
            .key_id(key_arn)
            .send()
            .await
            .map(|o| o.key_rotation_enabled())
            .map_err(|e| port_error("kms:GetKeyRotationStatus", &e))
    }

    async fn tags(&self, key_arn: &str) -> Result<Tags, PortError> {
        let out = self
            .client
            .list_resource_tags()
            .key_id(key_arn)
            .send()
            .await
            .map_err(|e| port_error("kms:ListResourceTags", &e))?;
        let tags: Vec<Value> = out
            .tags()
            .iter()
            .map(|t| json!({"TagKey": t.tag_key(), "TagValue": t.tag_value()}))
            .collect();
        Ok(Tags::from_value(&json!({ "Tags": tags })))
    }

    async fn aliases(&self, key_arn: &str) -> Result<Vec<String>, PortError> {
        let out = self
            .client
            .list_aliases()
            .key_id(key_arn)
            .send()
            .await
            .map_err(|e| port_error("kms:ListAliases", &e))?;
        Ok(out
            .aliases()
            .iter()
            .filter_map(|a| a.alias_name().map(str::to_string))
            .collect())
    }
}

fn not_found_as_none<T>(err: PortError) -> Result<Option<T>, PortError> {
    if err.class == ErrorClass::NotFound {
        Ok(None)
    } else {
        Err(err)
    }
}

/// A part of the key that could not be read for a permanent reason (denied on another
/// account's key, unsupported on an asymmetric key) becomes a note; transient failures fail
/// the read so the event is retried.
fn optional<T>(
    part: Result<T, PortError>,
    notes: &mut Vec<String>,
) -> Result<Option<T>, PortError> {
    match part {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.retryable() => Err(e),
        Err(e) => {
            notes.push(format!(
                "{} not read: {} ({})",
                e.operation, e.message, e.code
            ));
            Ok(None)
        }
    }
}

/// `{"KeyMetadata": {...}}` in DescribeKey's PascalCase shape (dates as epoch seconds, as the
/// API sends them).
pub fn key_metadata_json(m: &KeyMetadata) -> Value {
    let mut o = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            o.insert(k.to_string(), v);
        }
    };
    put("AWSAccountId", m.aws_account_id().map(|s| json!(s)));
    put("KeyId", Some(json!(m.key_id())));
    put("Arn", m.arn().map(|s| json!(s)));
    put("CreationDate", m.creation_date().map(|d| json!(d.secs())));
    put("Enabled", Some(json!(m.enabled())));
    put("Description", m.description().map(|s| json!(s)));
    put("KeyUsage", m.key_usage().map(|s| json!(s.as_str())));
    put("KeyState", m.key_state().map(|s| json!(s.as_str())));
    put("DeletionDate", m.deletion_date().map(|d| json!(d.secs())));
    put("ValidTo", m.valid_to().map(|d| json!(d.secs())));
    put("Origin", m.origin().map(|s| json!(s.as_str())));
    put(
        "CustomKeyStoreId",
        m.custom_key_store_id().map(|s| json!(s)),
    );
    put(
        "CloudHsmClusterId",
        m.cloud_hsm_cluster_id().map(|s| json!(s)),
    );
    put(
        "ExpirationModel",
        m.expiration_model().map(|s| json!(s.as_str())),
    );
    put("KeyManager", m.key_manager().map(|s| json!(s.as_str())));
    // Older records and tools still read CustomerMasterKeySpec; the core accepts either.
    #[allow(deprecated)]
    let cmk_spec = m.customer_master_key_spec().map(|s| json!(s.as_str()));
    put("CustomerMasterKeySpec", cmk_spec);
    put("KeySpec", m.key_spec().map(|s| json!(s.as_str())));
    let algs: Vec<&str> = m
        .encryption_algorithms()
        .iter()
        .map(|a| a.as_str())
        .collect();
    if !algs.is_empty() {
        put("EncryptionAlgorithms", Some(json!(algs)));
    }
    put("MultiRegion", m.multi_region().map(|b| json!(b)));
    put(
        "PendingDeletionWindowInDays",
        m.pending_deletion_window_in_days().map(|d| json!(d)),
    );
    json!({ "KeyMetadata": o })
}

impl KmsReader {
    /// KMS answers a full ARN of another region with "not found"; that would wrongly make
    /// the key look deleted, so say what it is instead.
    fn other_region(&self, key: &str) -> Result<(), PortError> {
        if let Some(KmsRef::KeyArn { region, .. } | KmsRef::AliasArn { region, .. }) =
            KmsRef::parse(key)
        {
            let ours = self
                .client
                .config()
                .region()
                .map(|r| r.as_ref().to_string());
            if ours.as_deref().is_some_and(|r| r != region) {
                return Err(PortError::new(
                    ErrorClass::Permanent,
                    "kms:DescribeKey",
                    "OtherRegion",
                    format!(
                        "{key} is in {region}, this guardrail reads keys in {}",
                        ours.unwrap_or_default()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// DescribeKey: `Ok(None)` when the key does not exist.
    async fn describe(&self, key: &str) -> Result<Option<KeyMetadata>, PortError> {
        let described = match self.client.describe_key().key_id(key).send().await {
            Ok(out) => out,
            Err(e) => {
                let err = port_error("kms:DescribeKey", &e);
                return match err.class {
                    ErrorClass::NotFound => Ok(None),
                    _ => Err(err),
                };
            }
        };
        match described.key_metadata {
            Some(meta) => Ok(Some(meta)),
            None => Err(PortError::new(
                ErrorClass::Permanent,
                "kms:DescribeKey",
                "response",
                "DescribeKey returned no KeyMetadata",
            )),
        }
    }
}

impl KeyReader for KmsReader {
    async fn read_key(&self, key: &str) -> Result<KeyRead, PortError> {
        self.other_region(key)?;
        let Some(meta) = self.describe(key).await? else {
            return Ok(KeyRead::NotFound);
        };
        let meta = &meta;
        let arn = meta.arn().unwrap_or(meta.key_id()).to_string();
        let (policy, rotation, tags, aliases) = tokio::join!(
            self.policy(&arn),
            self.rotation(&arn),
            self.tags(&arn),
            self.aliases(&arn),
        );
        let mut notes = Vec::new();
        let state = KeyState {
            metadata: key_metadata_json(meta),
            policy: optional(policy, &mut notes)?.flatten(),
            rotation_enabled: optional(rotation, &mut notes)?,
            tags: optional(tags, &mut notes)?.unwrap_or_default(),
            aliases: optional(aliases, &mut notes)?.unwrap_or_default(),
            grants: None,
        };
        Ok(KeyRead::Found {
            state: Box::new(state),
            notes,
        })
    }

    async fn read_key_for_bucket(&self, key: &str, with_tags: bool) -> Result<KeyRead, PortError> {
        self.other_region(key)?;
        let alias = KmsRef::parse(key).and_then(|r| r.alias().map(str::to_string));
        let tags = |id: String| async move {
            if with_tags {
                self.tags(&id).await.map(Some)
            } else {
                Ok(None)
            }
        };
        // GetKeyPolicy and ListResourceTags take a key id or ARN, not an alias: only an alias
        // costs a second round trip.
        let (meta, policy, tags) = match &alias {
            None => {
                let (meta, policy, tags) =
                    tokio::join!(self.describe(key), self.policy(key), tags(key.to_string()));
                (meta?, policy, tags)
            }
            Some(_) => match self.describe(key).await? {
                Some(m) => {
                    let arn = m.arn().unwrap_or(m.key_id()).to_string();
                    let (policy, tags) = tokio::join!(self.policy(&arn), tags(arn.clone()));
                    (Some(m), policy, tags)
                }
                None => (None, Ok(None), Ok(None)),
            },
        };
        let Some(meta) = meta else {
            return Ok(KeyRead::NotFound);
        };
        let mut notes = Vec::new();
        let state = KeyState {
            metadata: key_metadata_json(&meta),
            policy: optional(policy, &mut notes)?.flatten(),
            rotation_enabled: None,
            tags: optional(tags, &mut notes)?.flatten().unwrap_or_default(),
            aliases: alias.into_iter().collect(),
            grants: None,
        };
        Ok(KeyRead::Found {
            state: Box::new(state),
            notes,
        })
    }

    async fn read_key_policy(&self, key_arn: &str) -> Result<Option<Value>, PortError> {
        self.policy(key_arn).await
    }

    async fn read_rotation(&self, key_arn: &str) -> Result<bool, PortError> {
        self.rotation(key_arn).await
    }

    async fn read_grants(&self, key_arn: &str) -> Result<Value, PortError> {
        let mut grants = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .client
                .list_grants()
                .key_id(key_arn)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| port_error("kms:ListGrants", &e))?;
            grants.extend(out.grants().iter().map(grant_json));
            match out.next_marker() {
                Some(m) if out.truncated() && !m.is_empty() => marker = Some(m.to_string()),
                _ => break,
            }
        }
        Ok(json!({ "Grants": grants }))
    }
}

/// One grant in ListGrants' PascalCase shape.
fn grant_json(g: &aws_sdk_kms::types::GrantListEntry) -> Value {
    let constraints = g.constraints().map(|c| {
        json!({
            "EncryptionContextSubset": c.encryption_context_subset(),
            "EncryptionContextEquals": c.encryption_context_equals(),
        })
    });
    json!({
        "KeyId": g.key_id(),
        "GrantId": g.grant_id(),
        "Name": g.name(),
        "GranteePrincipal": g.grantee_principal(),
        "RetiringPrincipal": g.retiring_principal(),
        "IssuingAccount": g.issuing_account(),
        "Operations": g.operations().iter().map(|o| o.as_str()).collect::<Vec<_>>(),
        "Constraints": constraints,
    })
}

/// KMS writes: the key policy (usage grants added) and automatic rotation.
#[derive(Debug, Clone)]
pub struct KmsWriter {
    client: Client,
}

impl KmsWriter {
    pub const IAM_ACTIONS: &'static [&'static str] = &["kms:PutKeyPolicy", "kms:EnableKeyRotation"];

    pub fn new(client: Client) -> Self {
        KmsWriter { client }
    }
}

impl KeyWriter for KmsWriter {
    async fn put_key_policy(
        &self,
        key_arn: &str,
        policy_name: &str,
        policy: &str,
    ) -> Result<(), PortError> {
        // BypassPolicyLockoutSafetyCheck is deliberately never set: KMS then refuses a
        // policy that would lock the caller out.
        self.client
            .put_key_policy()
            .key_id(key_arn)
            .policy_name(policy_name)
            .policy(policy)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| port_error("kms:PutKeyPolicy", &e))
    }

    async fn enable_key_rotation(&self, key_arn: &str) -> Result<(), PortError> {
        self.client
            .enable_key_rotation()
            .key_id(key_arn)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| port_error("kms:EnableKeyRotation", &e))
    }
}
