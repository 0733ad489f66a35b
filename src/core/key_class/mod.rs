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
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const ARN: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    /// DescribeKey output of a customer managed symmetric key, with `changes` applied
    /// (`null` removes a field).
    fn describe(changes: Value) -> Value {
        let mut meta = json!({
            "AWSAccountId": "111122223333",
            "KeyId": ID,
            "Arn": ARN,
            "CreationDate": "2024-03-01T10:00:00+00:00",
            "Enabled": true,
            "Description": "data lake",
            "KeyUsage": "ENCRYPT_DECRYPT",
            "KeyState": "Enabled",
            "Origin": "AWS_KMS",
            "KeyManager": "CUSTOMER",
            "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
            "KeySpec": "SYMMETRIC_DEFAULT",
            "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
            "MultiRegion": false
        });
        if let (Some(m), Some(c)) = (meta.as_object_mut(), changes.as_object()) {
            for (k, v) in c {
                if v.is_null() {
                    m.remove(k);
                } else {
                    m.insert(k.clone(), v.clone());
                }
            }
        }
        json!({ "KeyMetadata": meta })
    }

    macro_rules! key_cases {
        ($($name:ident: $input:expr => |$k:ident| $body:block)*) => {$(
            #[test]
            fn $name() {
                let $k = classify_key(&$input);
                $body
            }
        )*};
    }

    key_cases! {
        aws_managed_s3_key: json!({"KeyMetadata": {
            "AWSAccountId": "111122223333",
            "KeyId": "0a1b2c3d-1111-2222-3333-444455556666",
            "Arn": "arn:aws:kms:eu-west-1:111122223333:key/0a1b2c3d-1111-2222-3333-444455556666",
            "CreationDate": 1700000000.0,
            "Enabled": true,
            "Description": "Default key that protects my S3 objects when no other key is defined",
            "KeyUsage": "ENCRYPT_DECRYPT",
            "KeyState": "Enabled",
            "Origin": "AWS_KMS",
            "KeyManager": "AWS",
            "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
            "KeySpec": "SYMMETRIC_DEFAULT",
            "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
            "MultiRegion": false}}) => |k| {
            let k = k.unwrap();
            assert_eq!(k.class, KeyClass::AwsManaged);
            assert_eq!(k.rotation, Rotation::AwsManaged);
            assert!(k.usable_for_s3);
            assert_eq!(k.key_id, "0a1b2c3d-1111-2222-3333-444455556666");
        }
        cmk_aws_kms_symmetric: describe(json!({})) => |k| {
            let k = k.unwrap();
            assert_eq!(k.class, KeyClass::CustomerManaged);
            assert_eq!(k.rotation, Rotation::AutomaticEligible);
            assert!(k.usable_for_s3, "{:?}", k.unusable_reasons);
            assert!(k.unusable_reasons.is_empty());
            assert_eq!((k.account.as_str(), k.region.as_str(), k.partition.as_str()), ("111122223333", "eu-west-1", "aws"));
            assert_eq!(k.key_arn, ARN);
            assert_eq!(k.key_id, ID);
            assert_eq!(k.origin, "AWS_KMS");
            assert!(!k.multi_region);
        }
        cmk_imported_material: describe(json!({"Origin": "EXTERNAL", "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"})) => |k| {
            let k = k.unwrap();
            assert_eq!(k.origin, "EXTERNAL");
            assert_eq!(k.rotation, Rotation::ManualOnly);
            assert!(k.usable_for_s3);
        }
        cmk_cloudhsm: describe(json!({"Origin": "AWS_CLOUDHSM", "CustomKeyStoreId": "cks-1234567890abcdef0", "CloudHsmClusterId": "cluster-1a23b4cdefg"})) => |k| {
            let k = k.unwrap();
            assert_eq!(k.origin, "AWS_CLOUDHSM");
            assert_eq!(k.rotation, Rotation::ManualOnly);
            assert!(k.usable_for_s3);
        }
        cmk_external_key_store: describe(json!({"Origin": "EXTERNAL_KEY_STORE", "CustomKeyStoreId": "cks-9876543210fedcba0", "XksKeyConfiguration": {"Id": "bb8562717f809024"}})) => |k| {
            let k = k.unwrap();
            assert_eq!(k.origin, "EXTERNAL_KEY_STORE");
            assert_eq!(k.rotation, Rotation::ManualOnly);
        }
        asymmetric_rsa: describe(json!({"KeySpec": "RSA_2048", "CustomerMasterKeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY", "EncryptionAlgorithms": null, "SigningAlgorithms": ["RSASSA_PSS_SHA_256"]})) => |k| {
            let k = k.unwrap();
            assert_eq!(k.key_spec, "RSA_2048");
            assert_eq!(k.rotation, Rotation::ManualOnly);
            assert!(!k.usable_for_s3);
            assert_eq!(k.unusable_reasons, vec![
                "The key spec is RSA_2048; S3 accepts only SYMMETRIC_DEFAULT keys.".to_string(),
                "The key usage is SIGN_VERIFY; S3 needs an ENCRYPT_DECRYPT key.".to_string(),
            ]);
        }
        asymmetric_rsa_encrypt_decrypt: describe(json!({"KeySpec": "RSA_4096", "CustomerMasterKeySpec": "RSA_4096", "EncryptionAlgorithms": ["RSAES_OAEP_SHA_256"]})) => |k| {
            let k = k.unwrap();
            assert!(!k.usable_for_s3);
            assert_eq!(k.unusable_reasons.len(), 1);
        }
        hmac_key: describe(json!({"KeySpec": "HMAC_256", "CustomerMasterKeySpec": null, "KeyUsage": "GENERATE_VERIFY_MAC", "EncryptionAlgorithms": null, "MacAlgorithms": ["HMAC_SHA_256"]})) => |k| {
            let k = k.unwrap();
            assert_eq!(k.key_spec, "HMAC_256");
            assert_eq!(k.key_usage, "GENERATE_VERIFY_MAC");
            assert_eq!(k.rotation, Rotation::ManualOnly);
            assert_eq!(k.unusable_reasons.len(), 2);
        }
        multi_region_primary: describe(json!({"KeyId": "mrk-1234abcd12ab34cd56ef1234567890ab", "Arn": "arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab", "MultiRegion": true, "MultiRegionConfiguration": {"MultiRegionKeyType": "PRIMARY"}})) => |k| {
            let k = k.unwrap();
            assert!(k.multi_region);
            assert_eq!(k.region, "us-east-1");
            assert_eq!(k.key_id, "mrk-1234abcd12ab34cd56ef1234567890ab");
            assert_eq!(k.rotation, Rotation::AutomaticEligible);
        }
        state_disabled: describe(json!({"KeyState": "Disabled", "Enabled": false})) => |k| {
            let k = k.unwrap();
            assert!(!k.usable_for_s3);
            assert_eq!(k.unusable_reasons, vec!["The key is disabled, so S3 can neither encrypt nor decrypt with it.".to_string()]);
            assert_eq!(k.rotation, Rotation::AutomaticEligible);
        }
        state_pending_deletion_with_date: describe(json!({"KeyState": "PendingDeletion", "Enabled": false, "DeletionDate": "2024-04-01T00:00:00+00:00", "PendingDeletionWindowInDays": 30})) => |k| {
            let k = k.unwrap();
            assert!(!k.usable_for_s3);
            assert_eq!(k.unusable_reasons.len(), 1);
            assert!(k.unusable_reasons[0].contains("pending deletion (scheduled for 2024-04-01T00:00:00+00:00)"), "{:?}", k.unusable_reasons);
        }
        state_pending_deletion_without_date: describe(json!({"KeyState": "PendingDeletion"})) => |k| {
            let k = k.unwrap();
            assert!(k.unusable_reasons[0].starts_with("The key is pending deletion, so S3"));
        }
        state_pending_import: describe(json!({"KeyState": "PendingImport", "Origin": "EXTERNAL", "Enabled": false})) => |k| {
            let k = k.unwrap();
            assert!(!k.usable_for_s3);
            assert!(k.unusable_reasons[0].contains("imported key material"));
        }
        state_unavailable: describe(json!({"KeyState": "Unavailable", "Origin": "AWS_CLOUDHSM"})) => |k| {
            let k = k.unwrap();
            assert!(k.unusable_reasons[0].contains("unavailable"));
        }
        state_pending_replica_deletion: describe(json!({"KeyState": "PendingReplicaDeletion", "MultiRegion": true})) => |k| {
            assert!(k.unwrap().unusable_reasons[0].contains("replica key is pending deletion"));
        }
        state_creating: describe(json!({"KeyState": "Creating"})) => |k| {
            assert!(k.unwrap().unusable_reasons[0].contains("still being created"));
        }
        state_updating: describe(json!({"KeyState": "Updating"})) => |k| {
            assert!(k.unwrap().unusable_reasons[0].contains("being updated"));
        }
        state_unheard_of: describe(json!({"KeyState": "Frozen"})) => |k| {
            assert_eq!(k.unwrap().unusable_reasons, vec!["The key state is 'Frozen', not Enabled, so S3 cannot use it.".to_string()]);
        }
        state_from_enabled_flag: describe(json!({"KeyState": null, "Enabled": false})) => |k| {
            let k = k.unwrap();
            assert_eq!(k.key_state, "Disabled");
            assert!(!k.usable_for_s3);
        }
        state_missing_entirely: describe(json!({"KeyState": null, "Enabled": null})) => |k| {
            let k = k.unwrap();
            assert_eq!(k.key_state, "UNKNOWN");
            assert!(!k.usable_for_s3);
        }
        cloudtrail_create_key_response: json!({"keyMetadata": {
            "aWSAccountId": "444455556666",
            "keyId": "9d8c7b6a-1111-2222-3333-444455556666",
            "arn": "arn:aws:kms:us-west-2:444455556666:key/9d8c7b6a-1111-2222-3333-444455556666",
            "creationDate": "Mar 1, 2024, 10:00:00 AM",
            "enabled": true,
            "description": "",
            "keyUsage": "ENCRYPT_DECRYPT",
            "keyState": "Enabled",
            "origin": "AWS_KMS",
            "keyManager": "CUSTOMER",
            "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
            "keySpec": "SYMMETRIC_DEFAULT",
            "encryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
            "multiRegion": false}}) => |k| {
            let k = k.unwrap();
            assert_eq!(k.account, "444455556666");
            assert_eq!(k.region, "us-west-2");
            assert_eq!(k.rotation, Rotation::AutomaticEligible);
            assert!(k.usable_for_s3);
        }
        cloudtrail_record_without_arn_uses_aws_region: json!({
            "eventSource": "kms.amazonaws.com",
            "eventName": "CreateKey",
            "awsRegion": "cn-north-1",
            "responseElements": {"keyMetadata": {
                "aWSAccountId": "444455556666",
                "keyId": "9d8c7b6a-1111-2222-3333-444455556666",
                "keyManager": "CUSTOMER",
                "keyUsage": "ENCRYPT_DECRYPT",
                "keySpec": "SYMMETRIC_DEFAULT",
                "keyState": "Enabled",
                "origin": "AWS_KMS"}}}) => |k| {
            let k = k.unwrap();
            assert_eq!(k.key_arn, "arn:aws-cn:kms:cn-north-1:444455556666:key/9d8c7b6a-1111-2222-3333-444455556666");
            assert_eq!(k.partition, "aws-cn");
        }
        eventbridge_envelope: json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.kms", "detail": {
            "awsRegion": "eu-central-1",
            "responseElements": {"keyMetadata": {"keyId": "k1", "arn": "arn:aws:kms:eu-central-1:111122223333:key/k1", "keyManager": "CUSTOMER", "keySpec": "SYMMETRIC_DEFAULT", "keyUsage": "ENCRYPT_DECRYPT", "keyState": "Enabled", "origin": "EXTERNAL"}}}}) => |k| {
            let k = k.unwrap();
            assert_eq!(k.key_id, "k1");
            assert_eq!(k.rotation, Rotation::ManualOnly);
        }
        bare_pascal_metadata: describe(json!({}))["KeyMetadata"].clone() => |k| {
            assert_eq!(k.unwrap().key_arn, ARN);
        }
        upper_case_keys: json!({"KEYMETADATA": {"ARN": ARN, "KEYMANAGER": "customer", "KEYSPEC": "symmetric_default", "KEYUSAGE": "encrypt_decrypt", "KEYSTATE": "enabled", "ORIGIN": "aws_kms"}}) => |k| {
            let k = k.unwrap();
            assert!(k.usable_for_s3, "{:?}", k.unusable_reasons);
            assert_eq!(k.rotation, Rotation::AutomaticEligible);
        }
        key_id_taken_from_arn: describe(json!({"KeyId": null})) => |k| {
            assert_eq!(k.unwrap().key_id, ID);
        }
        missing_key_manager: describe(json!({"KeyManager": null})) => |k| {
            assert_eq!(k, Err(KeyError::Missing("KeyManager")));
        }
        odd_key_manager: describe(json!({"KeyManager": "PARTNER"})) => |k| {
            assert!(matches!(k, Err(KeyError::Invalid { field: "KeyManager", .. })));
        }
        missing_arn_without_region: describe(json!({"Arn": null})) => |k| {
            assert_eq!(k, Err(KeyError::Missing("Arn")));
        }
        arn_of_another_service: describe(json!({"Arn": "arn:aws:s3:::bucket"})) => |k| {
            assert!(matches!(k, Err(KeyError::Invalid { field: "Arn", .. })));
        }
        arn_not_an_arn: describe(json!({"Arn": "key/abc"})) => |k| {
            assert!(matches!(k, Err(KeyError::Invalid { field: "Arn", .. })));
        }
        odd_account_kept_as_given: describe(json!({"Arn": "arn:aws:kms:eu-west-1:1234:key/abc", "KeyId": "abc"})) => |k| {
            assert_eq!(k.unwrap().account, "1234");
        }
        account_as_number_when_arn_has_none: describe(json!({"Arn": "arn:aws:kms:eu-west-1::key/abc", "AWSAccountId": 111122223333u64})) => |k| {
            assert_eq!(k.unwrap().account, "111122223333");
        }
        spec_assumed_for_encrypt_decrypt: describe(json!({"KeySpec": null, "CustomerMasterKeySpec": null})) => |k| {
            let k = k.unwrap();
            assert_eq!(k.key_spec, "SYMMETRIC_DEFAULT");
            assert!(k.usable_for_s3);
        }
        spec_not_assumed_when_algorithms_say_rsa: describe(json!({"KeySpec": null, "CustomerMasterKeySpec": null, "EncryptionAlgorithms": ["RSAES_OAEP_SHA_1"]})) => |k| {
            let k = k.unwrap();
            assert_eq!(k.key_spec, "UNKNOWN");
            assert!(!k.usable_for_s3);
            assert_eq!(k.rotation, Rotation::ManualOnly);
        }
        spec_not_assumed_without_usage: describe(json!({"KeySpec": null, "CustomerMasterKeySpec": null, "KeyUsage": null})) => |k| {
            let k = k.unwrap();
            assert_eq!((k.key_spec.as_str(), k.key_usage.as_str()), ("UNKNOWN", "UNKNOWN"));
            assert_eq!(k.unusable_reasons.len(), 2);
        }
        legacy_customer_master_key_spec: describe(json!({"KeySpec": null})) => |k| {
            assert_eq!(k.unwrap().key_spec, "SYMMETRIC_DEFAULT");
        }
        usage_inferred_from_symmetric_spec: describe(json!({"KeyUsage": null})) => |k| {
            let k = k.unwrap();
            assert_eq!(k.key_usage, "ENCRYPT_DECRYPT");
            assert!(k.usable_for_s3);
        }
        customer_key_without_origin_is_manual: describe(json!({"Origin": null})) => |k| {
            let k = k.unwrap();
            assert_eq!(k.origin, "UNKNOWN");
            assert_eq!(k.rotation, Rotation::ManualOnly);
        }
        aws_key_without_origin_is_aws_kms: describe(json!({"Origin": null, "KeyManager": "AWS"})) => |k| {
            assert_eq!(k.unwrap().origin, "AWS_KMS");
        }
        multi_region_as_text: describe(json!({"MultiRegion": "true"})) => |k| {
            assert!(k.unwrap().multi_region);
        }
        metadata_not_an_object: json!({"KeyMetadata": "oops"}) => |k| {
            assert!(matches!(k, Err(KeyError::Invalid { field: "KeyMetadata", .. })));
        }
        garbage_list: json!([1, 2, 3]) => |k| { assert_eq!(k, Err(KeyError::NoMetadata)); }
        garbage_null: Value::Null => |k| { assert_eq!(k, Err(KeyError::NoMetadata)); }
        garbage_unrelated_object: json!({"Bucket": "b"}) => |k| { assert_eq!(k, Err(KeyError::NoMetadata)); }
        cloudtrail_record_with_null_response: json!({"eventName": "CreateKey", "responseElements": null, "errorCode": "AccessDenied"}) => |k| {
            assert_eq!(k, Err(KeyError::NoMetadata));
        }
    }

    #[test]
    fn caller_region_builds_the_arn() {
        let v = describe(json!({"Arn": null}));
        let k = classify_key_in_region(&v, Some("us-gov-west-1")).unwrap();
        assert_eq!(
            k.key_arn,
            format!("arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/{ID}")
        );
    }

    #[test]
    fn serialises_with_snake_case_names() {
        let k = classify_key(&describe(json!({}))).unwrap();
        let v = serde_json::to_value(&k).unwrap();
        assert_eq!(v["class"], "customer_managed");
        assert_eq!(v["rotation"], "automatic_eligible");
        assert_eq!(v["usable_for_s3"], true);
    }

    const ARB_VALUES: &[&str] = &[
        "KeyMetadata",
        "keyMetadata",
        "AWS",
        "CUSTOMER",
        "Enabled",
        "SYMMETRIC_DEFAULT",
        "ENCRYPT_DECRYPT",
        "AWS_KMS",
        ARN,
        "arn:aws:kms:::key/",
        "PendingDeletion",
    ];
    const ARB_KEYS: &[&str] = &[
        "KeyMetadata",
        "keyMetadata",
        "responseElements",
        "detail",
        "awsRegion",
        "Arn",
        "KeyId",
        "KeyManager",
        "KeySpec",
        "CustomerMasterKeySpec",
        "KeyUsage",
        "KeyState",
        "Enabled",
        "Origin",
        "MultiRegion",
        "AWSAccountId",
        "DeletionDate",
        "EncryptionAlgorithms",
        "x",
    ];

    fn arb_json() -> impl Strategy<Value = Value> {
        crate::core::testing::arb_json(ARB_VALUES, ARB_KEYS)
    }

    proptest! {
        #[test]
        fn classify_never_panics(v in arb_json()) {
            let _ = classify_key(&v);
        }

        #[test]
        fn usable_iff_no_reasons(v in arb_json()) {
            if let Ok(k) = classify_key(&v) {
                prop_assert_eq!(k.usable_for_s3, k.unusable_reasons.is_empty());
                if k.class == KeyClass::AwsManaged {
                    prop_assert_eq!(k.rotation, Rotation::AwsManaged);
                }
            }
        }
    }
}
