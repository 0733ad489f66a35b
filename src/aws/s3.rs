//! S3 adapter: reads a bucket's policy, default encryption, ACL and tags (concurrently), and
//! writes the bucket policy and default encryption. Documents come back in AWS's own JSON
//! shapes so the core reads them exactly like `aws s3api` output. `ExpectedBucketOwner` on
//! every call: a bucket name that changed hands is never read or written.

use aws_sdk_s3::types::{
    BlockedEncryptionTypes, EncryptionType, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use aws_sdk_s3::Client;
use serde_json::{json, Map, Value};

use super::error::port_error;
use crate::core::snapshot::{BucketState, Tags};
use crate::ports::{BucketParts, BucketReader, BucketWriter, ErrorClass, PortError};

/// S3 reads. `GetBucketEncryption` is authorised by `s3:GetEncryptionConfiguration`.
#[derive(Debug, Clone)]
pub struct S3Reader {
    client: Client,
}

impl S3Reader {
    pub const IAM_ACTIONS: &'static [&'static str] = &[
        "s3:GetBucketPolicy",
        "s3:GetEncryptionConfiguration",
        "s3:GetBucketAcl",
        "s3:GetBucketTagging",
    ];

    pub fn new(client: Client) -> Self {
        S3Reader { client }
    }

    async fn policy(&self, bucket: &str, owner: &str) -> Result<Option<Value>, PortError> {
        let op = "s3:GetBucketPolicy";
        match self
            .client
            .get_bucket_policy()
            .bucket(bucket)
            .expected_bucket_owner(owner)
            .send()
            .await
        {
            // Kept as the string S3 returns; the core parses it.
            Ok(out) => Ok(out.policy().map(|p| Value::String(p.to_string()))),
            Err(e) => absent_if(port_error(op, &e), "NoSuchBucketPolicy"),
        }
    }

    async fn encryption(&self, bucket: &str, owner: &str) -> Result<Option<Value>, PortError> {
        let op = "s3:GetBucketEncryption";
        match self
            .client
            .get_bucket_encryption()
            .bucket(bucket)
            .expected_bucket_owner(owner)
            .send()
            .await
        {
            Ok(out) => Ok(out
                .server_side_encryption_configuration()
                .map(encryption_json)),
            Err(e) => absent_if(
                port_error(op, &e),
                "ServerSideEncryptionConfigurationNotFoundError",
            ),
        }
    }

    async fn acl(&self, bucket: &str, owner: &str) -> Result<Value, PortError> {
        let out = self
            .client
            .get_bucket_acl()
            .bucket(bucket)
            .expected_bucket_owner(owner)
            .send()
            .await
            .map_err(|e| port_error("s3:GetBucketAcl", &e))?;
        let mut doc = Map::new();
        if let Some(o) = out.owner() {
            doc.insert("Owner".into(), owner_json(o.id(), o.display_name()));
        }
        let grants: Vec<Value> = out
            .grants()
            .iter()
            .map(|g| {
                let mut grant = Map::new();
                if let Some(ge) = g.grantee() {
                    let mut m = Map::new();
                    m.insert("Type".into(), json!(ge.r#type().as_str()));
                    for (k, v) in [
                        ("ID", ge.id()),
                        ("URI", ge.uri()),
                        ("DisplayName", ge.display_name()),
                        ("EmailAddress", ge.email_address()),
                    ] {
                        if let Some(v) = v {
                            m.insert(k.into(), json!(v));
                        }
                    }
                    grant.insert("Grantee".into(), Value::Object(m));
                }
                if let Some(p) = g.permission() {
                    grant.insert("Permission".into(), json!(p.as_str()));
                }
                Value::Object(grant)
            })
            .collect();
        doc.insert("Grants".into(), Value::Array(grants));
        Ok(Value::Object(doc))
    }

    async fn tags(&self, bucket: &str, owner: &str) -> Result<Tags, PortError> {
        match self
            .client
            .get_bucket_tagging()
            .bucket(bucket)
            .expected_bucket_owner(owner)
            .send()
            .await
        {
            Ok(out) => {
                let set: Vec<Value> = out
                    .tag_set()
                    .iter()
                    .map(|t| json!({"Key": t.key(), "Value": t.value()}))
                    .collect();
                Ok(Tags::from_value(&json!({ "TagSet": set })))
            }
            Err(e) => Ok(
                absent_if(port_error("s3:GetBucketTagging", &e), "NoSuchTagSet")?
                    .unwrap_or_default(),
            ),
        }
    }
}

fn owner_json(id: Option<&str>, name: Option<&str>) -> Value {
    let mut m = Map::new();
    if let Some(id) = id {
        m.insert("ID".into(), json!(id));
    }
    if let Some(n) = name {
        m.insert("DisplayName".into(), json!(n));
    }
    Value::Object(m)
}

/// `{"ServerSideEncryptionConfiguration": {"Rules": [...]}}`, as `get-bucket-encryption` prints.
fn encryption_json(cfg: &ServerSideEncryptionConfiguration) -> Value {
    let rules: Vec<Value> = cfg
        .rules()
        .iter()
        .map(|r| {
            let mut rule = Map::new();
            if let Some(d) = r.apply_server_side_encryption_by_default() {
                let mut by_default = Map::new();
                by_default.insert("SSEAlgorithm".into(), json!(d.sse_algorithm().as_str()));
                if let Some(k) = d.kms_master_key_id() {
                    by_default.insert("KMSMasterKeyID".into(), json!(k));
                }
                rule.insert(
                    "ApplyServerSideEncryptionByDefault".into(),
                    Value::Object(by_default),
                );
            }
            if let Some(b) = r.bucket_key_enabled() {
                rule.insert("BucketKeyEnabled".into(), json!(b));
            }
            if let Some(blocked) = r.blocked_encryption_types() {
                let types: Vec<&str> = blocked
                    .encryption_type()
                    .iter()
                    .map(EncryptionType::as_str)
                    .collect();
                rule.insert(
                    "BlockedEncryptionTypes".into(),
                    json!({ "EncryptionType": types }),
                );
            }
            Value::Object(rule)
        })
        .collect();
    json!({"ServerSideEncryptionConfiguration": {"Rules": rules}})
}

/// The SDK configuration of one rule in `get-bucket-encryption` JSON: default encryption, bucket
/// key and `BlockedEncryptionTypes`. A field the SDK cannot express is refused, not dropped
/// (`PutBucketEncryption` replaces the whole rule: a dropped field would be lost).
fn sdk_encryption(rule: &Value) -> Result<ServerSideEncryptionConfiguration, String> {
    let Some(fields) = rule.as_object() else {
        return Err(format!("the encryption rule is not an object: {rule}"));
    };
    let mut b = ServerSideEncryptionRule::builder();
    for (k, v) in fields {
        match k.as_str() {
            "ApplyServerSideEncryptionByDefault" => {
                let algorithm = v["SSEAlgorithm"].as_str().unwrap_or_default();
                let mut d = ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::from(algorithm));
                if let Some(key) = v["KMSMasterKeyID"].as_str() {
                    d = d.kms_master_key_id(key);
                }
                b = b.apply_server_side_encryption_by_default(d.build().map_err(|e| e.to_string())?);
            }
            "BucketKeyEnabled" => b = b.set_bucket_key_enabled(v.as_bool()),
            "BlockedEncryptionTypes" => {
                let types = v["EncryptionType"]
                    .as_array()
                    .ok_or_else(|| format!("BlockedEncryptionTypes without an EncryptionType list: {v}"))?
                    .iter()
                    .map(|t| t.as_str().map(EncryptionType::from))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| format!("BlockedEncryptionTypes holds a non-string: {v}"))?;
                b = b.blocked_encryption_types(
                    BlockedEncryptionTypes::builder()
                        .set_encryption_type(Some(types))
                        .build(),
                );
            }
            other => {
                return Err(format!(
                    "the bucket's encryption rule has a field this writer cannot send ({other}): not written, so it is not lost"
                ))
            }
        }
    }
    ServerSideEncryptionConfiguration::builder()
        .rules(b.build())
        .build()
        .map_err(|e| e.to_string())
}

/// `Ok(None)` when the error is the expected "not found" answer `code`.
fn absent_if<T>(err: PortError, code: &str) -> Result<Option<T>, PortError> {
    if err.code == code {
        Ok(None)
    } else {
        Err(err)
    }
}

fn is_no_such_bucket(r: &Result<impl Sized, PortError>) -> bool {
    matches!(r, Err(e) if e.code == "NoSuchBucket")
}

impl BucketReader for S3Reader {
    async fn read_bucket(
        &self,
        bucket: &str,
        owner_account: &str,
        region: &str,
    ) -> Result<BucketState, PortError> {
        self.read_bucket_parts(bucket, owner_account, region, BucketParts::ALL)
            .await
    }

    async fn read_bucket_parts(
        &self,
        bucket: &str,
        owner_account: &str,
        region: &str,
        parts: BucketParts,
    ) -> Result<BucketState, PortError> {
        // A part not asked for costs no request and reads as "not read".
        let (policy, encryption, acl, tags) = tokio::join!(
            async {
                match parts.policy {
                    true => self.policy(bucket, owner_account).await,
                    false => Ok(None),
                }
            },
            async {
                match parts.encryption {
                    true => self.encryption(bucket, owner_account).await,
                    false => Ok(None),
                }
            },
            async {
                match parts.acl {
                    true => self.acl(bucket, owner_account).await.map(Some),
                    false => Ok(None),
                }
            },
            async {
                match parts.tags {
                    true => self.tags(bucket, owner_account).await,
                    false => Ok(Tags::default()),
                }
            },
        );
        let mut state = BucketState {
            name: bucket.to_string(),
            account: owner_account.to_string(),
            region: region.to_string(),
            exists: true,
            owner_canonical_id: None,
            policy: None,
            encryption: None,
            acl: None,
            tags: Tags::default(),
        };
        if is_no_such_bucket(&policy)
            || is_no_such_bucket(&encryption)
            || is_no_such_bucket(&acl)
            || is_no_such_bucket(&tags)
        {
            state.exists = false;
            return Ok(state);
        }
        state.policy = policy?;
        state.encryption = encryption?;
        state.tags = tags?;
        // A denied ACL read leaves sharing judged from the policy alone (the core notes it);
        // every other failure is an error.
        state.acl = match acl {
            Ok(acl) => acl,
            Err(e) if e.class == ErrorClass::Permanent && e.code.starts_with("AccessDenied") => {
                None
            }
            Err(e) => return Err(e),
        };
        state.owner_canonical_id = state
            .acl
            .as_ref()
            .and_then(|a| a.pointer("/Owner/ID"))
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(state)
    }

    async fn read_bucket_tags(
        &self,
        bucket: &str,
        owner_account: &str,
        _region: &str,
    ) -> Result<Tags, PortError> {
        self.tags(bucket, owner_account).await
    }

    async fn read_bucket_policy(
        &self,
        bucket: &str,
        owner_account: &str,
    ) -> Result<Option<Value>, PortError> {
        self.policy(bucket, owner_account).await
    }

    async fn read_bucket_encryption(
        &self,
        bucket: &str,
        owner_account: &str,
    ) -> Result<Option<Value>, PortError> {
        self.encryption(bucket, owner_account).await
    }
}

/// S3 writes: the TLS Deny (whole policy) and default encryption. Never a delete.
#[derive(Debug, Clone)]
pub struct S3Writer {
    client: Client,
}

impl S3Writer {
    /// `PutBucketEncryption` is authorised by `s3:PutEncryptionConfiguration`.
    pub const IAM_ACTIONS: &'static [&'static str] =
        &["s3:PutBucketPolicy", "s3:PutEncryptionConfiguration"];

    pub fn new(client: Client) -> Self {
        S3Writer { client }
    }
}

impl BucketWriter for S3Writer {
    async fn put_bucket_policy(
        &self,
        bucket: &str,
        owner: &str,
        policy: &str,
    ) -> Result<(), PortError> {
        self.client
            .put_bucket_policy()
            .bucket(bucket)
            .expected_bucket_owner(owner)
            .policy(policy)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| port_error("s3:PutBucketPolicy", &e))
    }

    async fn put_bucket_encryption(
        &self,
        bucket: &str,
        owner: &str,
        rule: &Value,
    ) -> Result<(), PortError> {
        let op = "s3:PutBucketEncryption";
        let cfg = sdk_encryption(rule)
            .map_err(|why| PortError::new(ErrorClass::Permanent, op, "build", why))?;
        self.client
            .put_bucket_encryption()
            .bucket(bucket)
            .expected_bucket_owner(owner)
            .server_side_encryption_configuration(cfg)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| port_error(op, &e))
    }
}
