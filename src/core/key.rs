//! KMS key classification (DOMAIN.md §2) from DescribeKey output (`{"KeyMetadata": {...}}`),
//! bare `KeyMetadata` (PascalCase) or a CloudTrail `keyMetadata` (camelCase): class, origin,
//! spec, state, whether S3 can use it (with reasons) and its rotation eligibility.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyClass {
    AwsManaged,
    CustomerManaged,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rotation {
    /// Customer managed, symmetric, `AWS_KMS` origin: `EnableKeyRotation` works.
    AutomaticEligible,
    /// Customer managed but imported / CloudHSM / external key store / asymmetric / HMAC.
    ManualOnly,
    /// AWS rotates AWS managed keys yearly.
    AwsManaged,
}

/// Field names are a public interface (classify-key JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    pub key_arn: String,
    pub key_id: String,
    pub account: String,
    pub region: String,
    pub partition: String,
    pub class: KeyClass,
    /// `AWS_KMS`, `EXTERNAL`, `AWS_CLOUDHSM`, `EXTERNAL_KEY_STORE` (as given).
    pub origin: String,
    /// `SYMMETRIC_DEFAULT`, `RSA_2048`, … (`KeySpec`, or the older `CustomerMasterKeySpec`).
    pub key_spec: String,
    /// `ENCRYPT_DECRYPT`, `SIGN_VERIFY`, …
    pub key_usage: String,
    /// `Enabled`, `Disabled`, `PendingDeletion`, `PendingImport`, `Unavailable`, …
    pub key_state: String,
    pub multi_region: bool,
    pub usable_for_s3: bool,
    /// Why S3 cannot use it, one plain sentence each (empty when usable).
    pub unusable_reasons: Vec<String>,
    pub rotation: Rotation,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("no key metadata found (expected DescribeKey output, KeyMetadata or keyMetadata)")]
    NoMetadata,
    #[error("key metadata lacks {0}")]
    Missing(&'static str),
    #[error("key metadata field {field} is invalid: {detail}")]
    Invalid { field: &'static str, detail: String },
}

/// Classifies a key from any of the accepted metadata shapes.
pub fn classify_key(v: &Value) -> Result<KeyInfo, KeyError> {
    todo!()
}
