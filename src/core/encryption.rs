//! Bucket default encryption from GetBucketEncryption output: SSE-S3, SSE-KMS (alias, key id,
//! ARN, or none = `aws/s3`), DSSE-KMS, and whether S3 Bucket Keys are on.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::arn::KmsRef;
use super::json::{get_ci_present, str_field};

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
///
/// Also accepts the whole CloudTrail record or its EventBridge envelope. Keys are matched
/// case-insensitively. S3 allows one rule, so the first rule with
/// `ApplyServerSideEncryptionByDefault` decides; `BucketKeyEnabled` is read from that rule.
pub fn parse_encryption(v: &Value) -> Result<BucketEncryption, EncryptionError> {
    let rule = find_rule(v)?;
    let Some(default) = get_ci_present(rule, "ApplyServerSideEncryptionByDefault") else {
        return Err(EncryptionError::Malformed(
            "no rule has ApplyServerSideEncryptionByDefault".to_string(),
        ));
    };
    let bucket_key_enabled = match get_ci_present(rule, "BucketKeyEnabled") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("true"),
        _ => false,
    };
    let algorithm = str_field(default, "SSEAlgorithm").ok_or_else(|| {
        EncryptionError::Malformed("ApplyServerSideEncryptionByDefault lacks SSEAlgorithm".into())
    })?;
    match Algorithm::parse(&algorithm) {
        Algorithm::Aes256 => Ok(BucketEncryption::SseS3 { bucket_key_enabled }),
        Algorithm::Kms { dsse } => {
            let key = match str_field(default, "KMSMasterKeyID") {
                // Absent or blank: S3 uses the AWS managed key aws/s3.
                None => None,
                Some(text) => Some(KmsRef::parse(&text).ok_or_else(|| {
                    EncryptionError::Malformed(format!(
                        "KMSMasterKeyID '{text}' is not a KMS key id, alias or ARN"
                    ))
                })?),
            };
            Ok(BucketEncryption::SseKms {
                dsse,
                key,
                bucket_key_enabled,
            })
        }
        Algorithm::Unknown => Err(EncryptionError::UnknownAlgorithm(algorithm)),
    }
}

enum Algorithm {
    Aes256,
    Kms { dsse: bool },
    Unknown,
}

impl Algorithm {
    fn parse(s: &str) -> Algorithm {
        match s.trim().to_ascii_lowercase().as_str() {
            "aes256" => Algorithm::Aes256,
            "aws:kms" => Algorithm::Kms { dsse: false },
            "aws:kms:dsse" => Algorithm::Kms { dsse: true },
            _ => Algorithm::Unknown,
        }
    }
}

/// The rule that decides: the first one with a default-encryption block, else the first one
/// (so the caller can say what is wrong with it).
fn find_rule(v: &Value) -> Result<&Value, EncryptionError> {
    let mut cur = v;
    // Peel envelope → record → requestParameters → configuration; each layer is optional.
    for layer in [
        "detail",
        "requestParameters",
        "ServerSideEncryptionConfiguration",
    ] {
        match get_ci_present(cur, layer) {
            Some(inner @ Value::Object(_)) => cur = inner,
            Some(_) => {
                return Err(EncryptionError::Malformed(format!(
                    "{layer} is not an object"
                )))
            }
            None => {}
        }
    }
    let rules = match get_ci_present(cur, "Rules").or_else(|| get_ci_present(cur, "Rule")) {
        None => return Err(EncryptionError::NoRules),
        Some(Value::Array(items)) => items.iter().collect::<Vec<_>>(),
        Some(obj @ Value::Object(_)) => vec![obj],
        Some(_) => {
            return Err(EncryptionError::Malformed(
                "Rules is neither a list nor an object".to_string(),
            ))
        }
    };
    let objects: Vec<&Value> = rules.into_iter().filter(|r| r.is_object()).collect();
    objects
        .iter()
        .find(|r| get_ci_present(r, "ApplyServerSideEncryptionByDefault").is_some())
        .or_else(|| objects.first())
        .copied()
        .ok_or(EncryptionError::NoRules)
}

/// `KMSMasterKeyID` of the first SSE-KMS rule in GetBucketEncryption output, as the adapters
/// write it (the key the app must read for a bucket decision).
pub fn encryption_key_ref(enc: &Value) -> Option<String> {
    enc.pointer("/ServerSideEncryptionConfiguration/Rules")?
        .as_array()?
        .iter()
        .filter_map(|r| r.pointer("/ApplyServerSideEncryptionByDefault/KMSMasterKeyID"))
        .filter_map(Value::as_str)
        .map(str::trim)
        .find(|s| !s.is_empty())
        .map(str::to_string)
}

/// Does GetBucketEncryption output set SSE-KMS with exactly this key? (The fresh read before
/// a CMK move and its read-back.)
pub fn uses_key(enc: &Value, key_arn: &str) -> bool {
    enc.pointer("/ServerSideEncryptionConfiguration/Rules")
        .and_then(Value::as_array)
        .is_some_and(|rules| {
            rules.iter().any(|r| {
                let d = r.get("ApplyServerSideEncryptionByDefault");
                d.and_then(|d| d.get("SSEAlgorithm"))
                    .and_then(Value::as_str)
                    == Some("aws:kms")
                    && d.and_then(|d| d.get("KMSMasterKeyID"))
                        .and_then(Value::as_str)
                        == Some(key_arn)
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn encryption_key_ref_reads_the_adapter_shape() {
        let enc = json!({"ServerSideEncryptionConfiguration": {"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/data"}}
        ]}});
        assert_eq!(encryption_key_ref(&enc).as_deref(), Some("alias/data"));
        assert!(uses_key(
            &json!({"ServerSideEncryptionConfiguration": {"Rules": [
                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "arn:k"}}
            ]}}),
            "arn:k"
        ));
        assert_eq!(
            encryption_key_ref(&json!({"ServerSideEncryptionConfiguration": {"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}})),
            None
        );
    }

    const KEY_ARN: &str =
        "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn key_arn_ref() -> Option<KmsRef> {
        KmsRef::parse(KEY_ARN)
    }

    macro_rules! encryption_cases {
        ($($name:ident: $input:expr => $expected:expr;)*) => {$(
            #[test]
            fn $name() {
                assert_eq!(parse_encryption(&$input), $expected);
            }
        )*};
    }

    encryption_cases! {
        get_bucket_encryption_sse_s3: json!({"ServerSideEncryptionConfiguration": {"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": false}]}})
            => Ok(BucketEncryption::SseS3 { bucket_key_enabled: false });
        get_bucket_encryption_cmk_arn: json!({"ServerSideEncryptionConfiguration": {"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY_ARN}, "BucketKeyEnabled": true}]}})
            => Ok(BucketEncryption::SseKms { dsse: false, key: key_arn_ref(), bucket_key_enabled: true });
        get_bucket_encryption_aws_s3_default_key: json!({"ServerSideEncryptionConfiguration": {"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": false}]}})
            => Ok(BucketEncryption::SseKms { dsse: false, key: None, bucket_key_enabled: false });
        empty_key_id_means_aws_s3: json!({"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": ""}}]})
            => Ok(BucketEncryption::SseKms { dsse: false, key: None, bucket_key_enabled: false });
        alias_name_key: json!({"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/aws/s3"}}]})
            => Ok(BucketEncryption::SseKms { dsse: false, key: Some(KmsRef::AliasName { alias: "alias/aws/s3".into() }), bucket_key_enabled: false });
        alias_arn_key: json!({"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "arn:aws:kms:eu-west-1:111122223333:alias/data"}}]})
            => Ok(BucketEncryption::SseKms { dsse: false, key: KmsRef::parse("arn:aws:kms:eu-west-1:111122223333:alias/data"), bucket_key_enabled: false });
        bare_key_id: json!({"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "1234abcd-12ab-34cd-56ef-1234567890ab"}}]})
            => Ok(BucketEncryption::SseKms { dsse: false, key: Some(KmsRef::KeyId { key_id: "1234abcd-12ab-34cd-56ef-1234567890ab".into() }), bucket_key_enabled: false });
        dsse_kms: json!({"ServerSideEncryptionConfiguration": {"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms:dsse", "KMSMasterKeyID": KEY_ARN}}]}})
            => Ok(BucketEncryption::SseKms { dsse: true, key: key_arn_ref(), bucket_key_enabled: false });
        algorithm_case_insensitive: json!({"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AWS:KMS", "KMSMasterKeyID": KEY_ARN}}]})
            => Ok(BucketEncryption::SseKms { dsse: false, key: key_arn_ref(), bucket_key_enabled: false });
        aes256_lower_case: json!({"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aes256"}}]})
            => Ok(BucketEncryption::SseS3 { bucket_key_enabled: false });
        cloudtrail_rule_object: json!({"bucketName": "data-lake", "Host": "data-lake.s3.eu-west-1.amazonaws.com", "encryption": "",
            "ServerSideEncryptionConfiguration": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
                "Rule": {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY_ARN}, "BucketKeyEnabled": true}}})
            => Ok(BucketEncryption::SseKms { dsse: false, key: key_arn_ref(), bucket_key_enabled: true });
        cloudtrail_rule_list_bucket_key_text: json!({"bucketName": "data-lake",
            "ServerSideEncryptionConfiguration": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
                "Rule": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": "true"}]}})
            => Ok(BucketEncryption::SseS3 { bucket_key_enabled: true });
        camel_case_keys: json!({"serverSideEncryptionConfiguration": {"rules": [
            {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyID": KEY_ARN}, "bucketKeyEnabled": "TRUE"}]}})
            => Ok(BucketEncryption::SseKms { dsse: false, key: key_arn_ref(), bucket_key_enabled: true });
        whole_cloudtrail_record: json!({"eventSource": "s3.amazonaws.com", "eventName": "PutBucketEncryption",
            "requestParameters": {"bucketName": "b", "ServerSideEncryptionConfiguration": {"Rule": {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}}}})
            => Ok(BucketEncryption::SseS3 { bucket_key_enabled: false });
        eventbridge_envelope: json!({"detail-type": "AWS API Call via CloudTrail", "detail": {
            "requestParameters": {"bucketName": "b", "ServerSideEncryptionConfiguration": {"Rule": {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms:dsse"}}}}}})
            => Ok(BucketEncryption::SseKms { dsse: true, key: None, bucket_key_enabled: false });
        first_rule_with_default_wins: json!({"Rules": [{"BucketKeyEnabled": true},
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}},
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]})
            => Ok(BucketEncryption::SseS3 { bucket_key_enabled: false });
        bucket_key_odd_value_is_off: json!({"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": 1}]})
            => Ok(BucketEncryption::SseS3 { bucket_key_enabled: false });
        empty_rules: json!({"ServerSideEncryptionConfiguration": {"Rules": []}}) => Err(EncryptionError::NoRules);
        null_rules: json!({"Rules": null}) => Err(EncryptionError::NoRules);
        no_configuration: json!({"bucketName": "b"}) => Err(EncryptionError::NoRules);
        garbage_number: json!(42) => Err(EncryptionError::NoRules);
        garbage_null: Value::Null => Err(EncryptionError::NoRules);
        rules_of_scalars: json!({"Rules": [1, "x"]}) => Err(EncryptionError::NoRules);
        rules_is_text: json!({"Rules": "AES256"})
            => Err(EncryptionError::Malformed("Rules is neither a list nor an object".into()));
        configuration_is_text: json!({"ServerSideEncryptionConfiguration": "AES256"})
            => Err(EncryptionError::Malformed("ServerSideEncryptionConfiguration is not an object".into()));
        rule_without_default: json!({"Rules": [{"BucketKeyEnabled": true}]})
            => Err(EncryptionError::Malformed("no rule has ApplyServerSideEncryptionByDefault".into()));
        missing_algorithm: json!({"Rules": [{"ApplyServerSideEncryptionByDefault": {"KMSMasterKeyID": KEY_ARN}}]})
            => Err(EncryptionError::Malformed("ApplyServerSideEncryptionByDefault lacks SSEAlgorithm".into()));
        unknown_algorithm: json!({"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:fsx"}}]})
            => Err(EncryptionError::UnknownAlgorithm("aws:fsx".into()));
        key_that_is_not_kms: json!({"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "arn:aws:s3:::bucket"}}]})
            => Err(EncryptionError::Malformed("KMSMasterKeyID 'arn:aws:s3:::bucket' is not a KMS key id, alias or ARN".into()));
    }

    #[test]
    fn serialised_shape_is_tagged() {
        let e = parse_encryption(&json!({"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY_ARN}}]})).unwrap();
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "sse_kms");
        assert_eq!(v["key"]["form"], "key_arn");
        assert_eq!(v["key"]["account"], "111122223333");
    }

    const ARB_VALUES: &[&str] = &[
        "AES256",
        "aws:kms",
        "aws:kms:dsse",
        "true",
        KEY_ARN,
        "alias/x",
        "arn:aws:kms",
    ];
    const ARB_KEYS: &[&str] = &[
        "ServerSideEncryptionConfiguration",
        "Rules",
        "Rule",
        "rules",
        "ApplyServerSideEncryptionByDefault",
        "SSEAlgorithm",
        "KMSMasterKeyID",
        "BucketKeyEnabled",
        "requestParameters",
        "detail",
        "x",
    ];

    fn arb_json() -> impl Strategy<Value = Value> {
        crate::core::testing::arb_json(ARB_VALUES, ARB_KEYS)
    }

    proptest! {
        #[test]
        fn parse_never_panics(v in arb_json()) {
            let _ = parse_encryption(&v);
        }
    }
}
