//! The rule a CMK move or key-ref rewrite writes (DOMAIN.md §8). `PutBucketEncryption`
//! replaces the bucket's whole rule, so the written rule is the fresh `GetBucketEncryption`
//! rule with only the default encryption and the bucket key changed: every other field —
//! `BlockedEncryptionTypes` above all (S3 blocks SSE-C on new buckets; dropping the field may
//! let SSE-C back in, a silent widening) — is copied as it is. `kept_fields_lost` checks the
//! read-back for the same fields.

use serde_json::{json, Map, Value};

/// The rule fields the move means to change; everything else is kept.
pub const CHANGED_FIELDS: [&str; 2] = ["ApplyServerSideEncryptionByDefault", "BucketKeyEnabled"];

/// Fields a rule must keep, checked first (and named first in a failure).
pub const KEPT_FIRST: &str = "BlockedEncryptionTypes";

/// The first rule of GetBucketEncryption output (`{"ServerSideEncryptionConfiguration":
/// {"Rules": [...]}}`), if any.
pub fn first_rule(enc: Option<&Value>) -> Option<&Map<String, Value>> {
    enc?.pointer("/ServerSideEncryptionConfiguration/Rules")?
        .as_array()?
        .first()?
        .as_object()
}

/// The rule to write: SSE-KMS with `kms_key_arn` and the bucket key setting, plus every other
/// field of the fresh rule unchanged (`BlockedEncryptionTypes` first).
pub fn moved_rule(fresh: Option<&Value>, kms_key_arn: &str, bucket_key_enabled: bool) -> Value {
    let mut rule = Map::new();
    rule.insert(
        "ApplyServerSideEncryptionByDefault".into(),
        json!({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key_arn}),
    );
    rule.insert("BucketKeyEnabled".into(), json!(bucket_key_enabled));
    if let Some(old) = first_rule(fresh) {
        let mut kept: Vec<(&String, &Value)> = old
            .iter()
            .filter(|(k, _)| !CHANGED_FIELDS.contains(&k.as_str()))
            .collect();
        kept.sort_by_key(|(k, _)| k.as_str() != KEPT_FIRST);
        for (k, v) in kept {
            rule.insert(k.clone(), v.clone());
        }
    }
    Value::Object(rule)
}

/// The fields of the `before` rule that the write did not mean to change but that differ (or
/// are gone) in the `after` rule; empty when every one was kept.
pub fn kept_fields_lost(before: Option<&Value>, after: Option<&Value>) -> Vec<String> {
    let Some(before) = first_rule(before) else {
        return Vec::new();
    };
    let after = first_rule(after);
    let mut lost: Vec<String> = before
        .iter()
        .filter(|(k, _)| !CHANGED_FIELDS.contains(&k.as_str()))
        .filter(|(k, v)| after.and_then(|a| a.get(k.as_str())) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect();
    lost.sort_by_key(|k| k.as_str() != KEPT_FIRST);
    lost
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::testing::arb_json;
    use proptest::prelude::*;

    const CMK: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn enc(rule: Value) -> Value {
        json!({"ServerSideEncryptionConfiguration": {"Rules": [rule]}})
    }

    #[test]
    fn the_moved_rule_keeps_every_field_it_does_not_change() {
        let blocked = json!({"EncryptionType": ["SSE-C"]});
        // (name, fresh rule, expected rule written)
        let rows: Vec<(&str, Option<Value>, Value)> = vec![
            (
                "no configuration: just the move",
                None,
                json!({"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": CMK}, "BucketKeyEnabled": true}),
            ),
            (
                "aws/s3 with SSE-C blocked: the block is kept",
                Some(enc(
                    json!({"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": false, "BlockedEncryptionTypes": blocked}),
                )),
                json!({"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": CMK}, "BucketKeyEnabled": true, "BlockedEncryptionTypes": blocked}),
            ),
            (
                "SSE-S3 with an explicit NONE block and an unknown future field",
                Some(enc(
                    json!({"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "FutureField": 1, "BlockedEncryptionTypes": {"EncryptionType": ["NONE"]}}),
                )),
                json!({"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": CMK}, "BucketKeyEnabled": true, "BlockedEncryptionTypes": {"EncryptionType": ["NONE"]}, "FutureField": 1}),
            ),
            (
                "malformed configuration: just the move",
                Some(json!({"ServerSideEncryptionConfiguration": "x"})),
                json!({"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": CMK}, "BucketKeyEnabled": true}),
            ),
        ];
        for (name, fresh, want) in rows {
            let got = moved_rule(fresh.as_ref(), CMK, true);
            assert_eq!(got, want, "{name}");
            // BlockedEncryptionTypes comes right after the changed fields when present.
            let keys: Vec<&String> = got.as_object().unwrap().keys().collect();
            if let Some(i) = keys.iter().position(|k| *k == KEPT_FIRST) {
                assert_eq!(i, 2, "{name}: {keys:?}");
            }
            // What was written, read back, loses nothing.
            assert!(
                kept_fields_lost(fresh.as_ref(), Some(&enc(got))).is_empty(),
                "{name}"
            );
        }
    }

    #[test]
    fn a_read_back_without_the_block_names_it() {
        let before = enc(
            json!({"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BlockedEncryptionTypes": {"EncryptionType": ["SSE-C"]}, "Other": "x"}),
        );
        let moved = json!({"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": CMK}, "BucketKeyEnabled": true});
        assert_eq!(
            kept_fields_lost(Some(&before), Some(&enc(moved.clone()))),
            vec!["BlockedEncryptionTypes", "Other"]
        );
        assert_eq!(
            kept_fields_lost(Some(&before), None),
            vec!["BlockedEncryptionTypes", "Other"]
        );
        let widened = json!({"ApplyServerSideEncryptionByDefault": {}, "BlockedEncryptionTypes": {"EncryptionType": ["NONE"]}, "Other": "x"});
        assert_eq!(
            kept_fields_lost(Some(&before), Some(&enc(widened))),
            vec!["BlockedEncryptionTypes"]
        );
        assert!(kept_fields_lost(None, Some(&enc(moved))).is_empty());
    }

    const VALUES: &[&str] = &["aws:kms", "AES256", "SSE-C", "NONE", "true", CMK, ""];
    const KEYS: &[&str] = &[
        "ServerSideEncryptionConfiguration",
        "Rules",
        "ApplyServerSideEncryptionByDefault",
        "SSEAlgorithm",
        "KMSMasterKeyID",
        "BucketKeyEnabled",
        "BlockedEncryptionTypes",
        "EncryptionType",
    ];

    proptest! {
        /// Whatever GetBucketEncryption said, the rule written names the CMK and, read back
        /// as written, loses none of the fields it did not mean to change.
        #[test]
        fn arbitrary_rules_are_moved_without_losing_a_field(v in arb_json(VALUES, KEYS), wrap in any::<bool>()) {
            let fresh = if wrap { enc(v) } else { v };
            let rule = moved_rule(Some(&fresh), CMK, true);
            prop_assert_eq!(&rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"], CMK);
            prop_assert_eq!(&rule["BucketKeyEnabled"], &json!(true));
            prop_assert!(kept_fields_lost(Some(&fresh), Some(&enc(rule))).is_empty());
        }
    }
}
