//! Bucket default encryption from GetBucketEncryption output: SSE-S3, SSE-KMS (alias, key id,
//! ARN, or none = `aws/s3`), DSSE-KMS, and whether S3 Bucket Keys are on.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::arn::KmsRef;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BucketEncryption {
    /// No default encryption configuration (S3 then applies SSE-S3 to new objects).
    None,
    /// `AES256`.
    SseS3 { bucket_key_enabled: bool },
    /// `aws:kms` or `aws:kms:dsse`. `key` is None when `KMSMasterKeyID` is absent or empty,
    /// which means the AWS managed key `aws/s3`.
    SseKms {
        dsse: bool,
        key: Option<KmsRef>,
        bucket_key_enabled: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncryptionError {
    #[error("no encryption rules found (expected ServerSideEncryptionConfiguration.Rules)")]
    NoRules,
    #[error("unknown SSEAlgorithm '{0}'")]
    UnknownAlgorithm(String),
    #[error("malformed encryption configuration: {0}")]
    Malformed(String),
}

/// Parses GetBucketEncryption output (`{"ServerSideEncryptionConfiguration": {"Rules": [..]}}`),
/// the bare configuration (`{"Rules": [..]}`), or a CloudTrail PutBucketEncryption
/// `requestParameters` (where the configuration may hold `Rule` as a single object).
pub fn parse_encryption(v: &Value) -> Result<BucketEncryption, EncryptionError> {
    todo!()
}
