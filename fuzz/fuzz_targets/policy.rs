//! Bucket policy parser and judges: `Policy::parse_text`, the TLS evaluation and the sharing
//! evaluation (policy and, on the same JSON, the ACL judge) never panic; an enforced verdict
//! names its statement and has no gaps.
#![no_main]

use cmkguard_fuzz::core::policy::secure_transport::{evaluate_tls, TlsStatus};
use cmkguard_fuzz::core::policy::sharing::{
    evaluate_acl_sharing, evaluate_policy_sharing, BucketContext, Trust,
};
use cmkguard_fuzz::core::policy::Policy;
use cmkguard_fuzz::{BUCKET, OWNER, PARTITION};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ctx = BucketContext {
        bucket: BUCKET,
        owner_account: OWNER,
        owner_canonical_id: Some(
            "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be",
        ),
        partition: PARTITION,
    };
    let trust = Trust::default();
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(policy) = Policy::parse_text(text) {
            let tls = evaluate_tls(Some(&policy), BUCKET, PARTITION);
            if tls.status == TlsStatus::Enforced {
                assert!(tls.statement.is_some(), "enforced without a statement");
            }
            let sharing = evaluate_policy_sharing(&policy, &ctx, &trust);
            if sharing.public {
                assert!(sharing.shared, "public but not shared");
            }
        }
    }
    if let Some(v) = cmkguard_fuzz::json(data) {
        let _ = evaluate_acl_sharing(&v, &ctx, &trust);
    }
});
