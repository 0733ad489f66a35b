//! Key metadata classification (describe-key output, bare KeyMetadata, CloudTrail
//! keyMetadata): never a panic; a key is usable for S3 exactly when no reason says otherwise.
#![no_main]

use cmkguard_fuzz::core::key_class::{classify_key, classify_key_in_region};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(v) = cmkguard_fuzz::json(data) else {
        return;
    };
    for info in [
        classify_key(&v),
        classify_key_in_region(&v, Some("eu-west-1")),
    ]
    .into_iter()
    .flatten()
    {
        assert_eq!(info.usable_for_s3, info.unusable_reasons.is_empty());
        serde_json::to_string(&info).expect("key info serialises");
    }
});
