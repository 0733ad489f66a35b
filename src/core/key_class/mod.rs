//! KMS key classification (DOMAIN.md §2) from DescribeKey output (`{"KeyMetadata": {...}}`),
//! bare `KeyMetadata` (PascalCase) or a CloudTrail `keyMetadata` (camelCase): class, origin,
//! spec, state, whether S3 can use it (with reasons) and its rotation eligibility.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::arn::{key_arn, partition_for_region, Arn};
use super::json::{get_ci_present, str_field, string_list};

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
    /// `PRIMARY` / `REPLICA` for multi-Region keys (rotation is managed on the primary).
    pub multi_region_key_type: Option<String>,
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
///
/// Missing fields are read conservatively, so that nothing is claimed that the metadata does
/// not show:
/// - no `Arn`: built from the account id, the key id and the record's `awsRegion` when a whole
///   CloudTrail record was given; otherwise [`KeyError::Missing`]`("Arn")` (use
///   [`classify_key_in_region`] when the caller knows the region);
/// - no `KeySpec` / `CustomerMasterKeySpec`: `SYMMETRIC_DEFAULT` is assumed only when
///   `KeyUsage` is `ENCRYPT_DECRYPT` and no algorithm list names an asymmetric, signing or MAC
///   algorithm; otherwise the spec is `UNKNOWN` and S3 is not told it can use the key;
/// - no `KeyUsage`: `ENCRYPT_DECRYPT` for a `SYMMETRIC_DEFAULT` key (the only usage KMS allows
///   for that spec), else `UNKNOWN`;
/// - no `KeyState`: derived from `Enabled` when present, else `UNKNOWN` (not usable);
/// - no `Origin`: `AWS_KMS` for AWS managed keys (the only origin they have); `UNKNOWN` for
///   customer managed keys, whose rotation is then `ManualOnly` because automatic rotation
///   cannot be promised for material whose source is not known.
pub fn classify_key(v: &Value) -> Result<KeyInfo, KeyError> {
    classify_key_in_region(v, None)
}

/// Like [`classify_key`], with the region the metadata was read in, used only to build the ARN
/// when the metadata lacks `Arn`.
pub fn classify_key_in_region(v: &Value, region: Option<&str>) -> Result<KeyInfo, KeyError> {
    let (meta, record_region) = find_metadata(v)?;
    let region_hint = region
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .or(record_region);

    let class = match str_field(meta, "KeyManager") {
        None => return Err(KeyError::Missing("KeyManager")),
        Some(m) if m.eq_ignore_ascii_case("AWS") => KeyClass::AwsManaged,
        Some(m) if m.eq_ignore_ascii_case("CUSTOMER") => KeyClass::CustomerManaged,
        Some(m) => {
            return Err(KeyError::Invalid {
                field: "KeyManager",
                detail: format!("'{m}' is neither AWS nor CUSTOMER"),
            })
        }
    };

    let (key_arn, key_id, account, key_region, partition) = identity(meta, region_hint)?;

    let origin = match (str_field(meta, "Origin"), class) {
        (Some(o), _) => o,
        (None, KeyClass::AwsManaged) => ORIGIN_AWS_KMS.to_string(),
        (None, KeyClass::CustomerManaged) => UNKNOWN.to_string(),
    };

    let given_usage = str_field(meta, "KeyUsage");
    let key_spec = str_field(meta, "KeySpec")
        .or_else(|| str_field(meta, "CustomerMasterKeySpec"))
        .unwrap_or_else(|| assumed_spec(meta, given_usage.as_deref()));
    let key_usage = match given_usage {
        Some(u) => u,
        None if key_spec.eq_ignore_ascii_case(SYMMETRIC_DEFAULT) => ENCRYPT_DECRYPT.to_string(),
        None => UNKNOWN.to_string(),
    };

    let key_state = match (str_field(meta, "KeyState"), flag(meta, "Enabled")) {
        (Some(s), _) => s,
        (None, Some(true)) => "Enabled".to_string(),
        (None, Some(false)) => "Disabled".to_string(),
        (None, None) => UNKNOWN.to_string(),
    };
    let multi_region = flag(meta, "MultiRegion").unwrap_or(false);
    let multi_region_key_type =
        crate::core::json::path(meta, &["MultiRegionConfiguration", "MultiRegionKeyType"])
            .and_then(|t| t.as_str())
            .map(str::to_string);

    let mut unusable_reasons = Vec::new();
    if let Some(reason) = state_reason(&key_state, meta) {
        unusable_reasons.push(reason);
    }
    if !key_spec.eq_ignore_ascii_case(SYMMETRIC_DEFAULT) {
        unusable_reasons.push(if key_spec == UNKNOWN {
            "The key spec is not given, so the key cannot be shown to be SYMMETRIC_DEFAULT, the \
             only spec S3 accepts."
                .to_string()
        } else {
            format!("The key spec is {key_spec}; S3 accepts only SYMMETRIC_DEFAULT keys.")
        });
    }
    if !key_usage.eq_ignore_ascii_case(ENCRYPT_DECRYPT) {
        unusable_reasons.push(if key_usage == UNKNOWN {
            "The key usage is not given; S3 needs an ENCRYPT_DECRYPT key.".to_string()
        } else {
            format!("The key usage is {key_usage}; S3 needs an ENCRYPT_DECRYPT key.")
        });
    }

    let rotation = match class {
        KeyClass::AwsManaged => Rotation::AwsManaged,
        KeyClass::CustomerManaged
            if origin.eq_ignore_ascii_case(ORIGIN_AWS_KMS)
                && key_spec.eq_ignore_ascii_case(SYMMETRIC_DEFAULT) =>
        {
            Rotation::AutomaticEligible
        }
        KeyClass::CustomerManaged => Rotation::ManualOnly,
    };

    Ok(KeyInfo {
        key_arn,
        key_id,
        account,
        region: key_region,
        partition,
        class,
        origin,
        key_spec,
        key_usage,
        key_state,
        multi_region,
        multi_region_key_type,
        usable_for_s3: unusable_reasons.is_empty(),
        unusable_reasons,
        rotation,
    })
}

const SYMMETRIC_DEFAULT: &str = "SYMMETRIC_DEFAULT";
const ENCRYPT_DECRYPT: &str = "ENCRYPT_DECRYPT";
const ORIGIN_AWS_KMS: &str = "AWS_KMS";
const UNKNOWN: &str = "UNKNOWN";

/// Finds the metadata object and, when a whole CloudTrail record (or EventBridge envelope) was
/// given, the record's region.
fn find_metadata(v: &Value) -> Result<(&Value, Option<String>), KeyError> {
    let mut cur = v;
    let mut region = None;
    // Peel envelope → record → responseElements; each layer is optional.
    if let Some(detail) = get_ci_present(cur, "detail").filter(|d| d.is_object()) {
        cur = detail;
    }
    if let Some(r) = str_field(cur, "awsRegion") {
        region = Some(r);
    }
    if let Some(resp) = get_ci_present(cur, "responseElements").filter(|d| d.is_object()) {
        cur = resp;
    }
    match get_ci_present(cur, "KeyMetadata") {
        Some(meta @ Value::Object(_)) => Ok((meta, region)),
        Some(_) => Err(KeyError::Invalid {
            field: "KeyMetadata",
            detail: "not an object".to_string(),
        }),
        None if ["KeyManager", "KeyId", "Arn"]
            .iter()
            .any(|k| get_ci_present(cur, k).is_some()) =>
        {
            Ok((cur, region))
        }
        None => Err(KeyError::NoMetadata),
    }
}

/// ARN, key id, account, region and partition, from the ARN when there is one.
fn identity(
    meta: &Value,
    region_hint: Option<String>,
) -> Result<(String, String, String, String, String), KeyError> {
    let given_id = str_field(meta, "KeyId");
    let given_account = str_field(meta, "AWSAccountId");
    match str_field(meta, "Arn") {
        Some(text) => {
            let arn = Arn::parse(&text).map_err(|e| KeyError::Invalid {
                field: "Arn",
                detail: e.to_string(),
            })?;
            let arn_id = match (arn.service.as_str(), arn.resource.strip_prefix("key/")) {
                ("kms", Some(id)) if !id.is_empty() => id.to_string(),
                _ => {
                    return Err(KeyError::Invalid {
                        field: "Arn",
                        detail: format!("'{text}' is not a KMS key ARN"),
                    })
                }
            };
            let account = if arn.account.is_empty() {
                given_account.unwrap_or_default()
            } else {
                arn.account
            };
            Ok((
                text,
                given_id.unwrap_or(arn_id),
                account,
                arn.region,
                arn.partition,
            ))
        }
        None => {
            let key_id = given_id.ok_or(KeyError::Missing("KeyId"))?;
            let account = given_account.ok_or(KeyError::Missing("Arn"))?;
            let region = region_hint.ok_or(KeyError::Missing("Arn"))?;
            let partition = partition_for_region(&region).to_string();
            Ok((
                key_arn(&partition, &region, &account, &key_id),
                key_id,
                account,
                region,
                partition,
            ))
        }
    }
}

/// The spec to report when neither `KeySpec` nor `CustomerMasterKeySpec` is given.
fn assumed_spec(meta: &Value, usage: Option<&str>) -> String {
    let encrypt_decrypt = usage.is_some_and(|u| u.eq_ignore_ascii_case(ENCRYPT_DECRYPT));
    let algorithms_disagree = get_ci_present(meta, "EncryptionAlgorithms")
        .map(string_list)
        .is_some_and(|algs| {
            !algs
                .iter()
                .any(|a| a.eq_ignore_ascii_case(SYMMETRIC_DEFAULT))
        });
    let other_algorithms = [
        "SigningAlgorithms",
        "MacAlgorithms",
        "KeyAgreementAlgorithms",
    ]
    .iter()
    .any(|k| get_ci_present(meta, k).is_some_and(|v| !string_list(v).is_empty()));
    if encrypt_decrypt && !algorithms_disagree && !other_algorithms {
        SYMMETRIC_DEFAULT.to_string()
    } else {
        UNKNOWN.to_string()
    }
}

/// A boolean that may arrive as JSON `true` or as the text `"true"`.
fn flag(meta: &Value, key: &str) -> Option<bool> {
    match get_ci_present(meta, key)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// KMS key states, as far as S3's use of the key goes.
enum State<'a> {
    Enabled,
    Disabled,
    PendingDeletion,
    PendingImport,
    Unavailable,
    PendingReplicaDeletion,
    Creating,
    Updating,
    Unknown,
    Other(&'a str),
}

impl<'a> State<'a> {
    fn parse(s: &'a str) -> State<'a> {
        match s.to_ascii_lowercase().as_str() {
            "enabled" => State::Enabled,
            "disabled" => State::Disabled,
            "pendingdeletion" => State::PendingDeletion,
            "pendingimport" => State::PendingImport,
            "unavailable" => State::Unavailable,
            "pendingreplicadeletion" => State::PendingReplicaDeletion,
            "creating" => State::Creating,
            "updating" => State::Updating,
            "unknown" => State::Unknown,
            _ => State::Other(s),
        }
    }
}

fn state_reason(state: &str, meta: &Value) -> Option<String> {
    let text = match State::parse(state) {
        State::Enabled => return None,
        State::Disabled => "The key is disabled, so S3 can neither encrypt nor decrypt with it.".to_string(),
        State::PendingDeletion => match deletion_date(meta) {
            Some(date) => format!(
                "The key is pending deletion (scheduled for {date}), so S3 cannot use it; cancel the deletion to keep its data readable."
            ),
            None => "The key is pending deletion, so S3 cannot use it; cancel the deletion to keep its data readable.".to_string(),
        },
        State::PendingImport => "The key is waiting for its imported key material, so S3 cannot use it.".to_string(),
        State::Unavailable => "The key is unavailable (its custom key store is disconnected), so S3 cannot use it.".to_string(),
        State::PendingReplicaDeletion => "The multi-Region replica key is pending deletion, so S3 cannot use it.".to_string(),
        State::Creating => "The key is still being created, so S3 cannot use it yet.".to_string(),
        State::Updating => "The key is being updated, so S3 cannot rely on it until the update finishes.".to_string(),
        State::Unknown => "The key state is not given (no KeyState and no Enabled), so the key cannot be shown to be usable.".to_string(),
        State::Other(s) => format!("The key state is '{s}', not Enabled, so S3 cannot use it."),
    };
    Some(text)
}

/// `DeletionDate` as text: ISO string, or epoch seconds as the CLI prints them.
fn deletion_date(meta: &Value) -> Option<String> {
    str_field(meta, "DeletionDate")
}

#[cfg(test)]
mod tests;
