//! Tests of key classification: DescribeKey shapes, the class / usability / rotation table, and
//! property tests that classification never panics.

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
