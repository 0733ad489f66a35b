//! The TLS patch on arbitrary policy JSON: never a panic; a patched policy keeps every
//! original statement (all but the one under our Sid, which it may replace) in order, enforces
//! TLS, and patching it again changes nothing.
#![no_main]

use cmkguard_fuzz::core::policy::patch::{patch_tls, TlsPatch, DEFAULT_TLS_SID};
use cmkguard_fuzz::core::policy::secure_transport::{evaluate_tls, TlsStatus};
use cmkguard_fuzz::core::policy::Policy;
use cmkguard_fuzz::{others, BUCKET, PARTITION};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(current) = cmkguard_fuzz::json(data) else {
        return;
    };
    let Ok(TlsPatch::Patched { policy, .. }) =
        patch_tls(Some(&current), BUCKET, PARTITION, DEFAULT_TLS_SID)
    else {
        return;
    };
    let after = Policy::parse_any(&policy).expect("the patched policy parses");
    assert_eq!(
        evaluate_tls(Some(&after), BUCKET, PARTITION).status,
        TlsStatus::Enforced
    );
    if !current.is_null() {
        let before = Policy::parse_any(&current).expect("patched, so it parsed");
        assert_eq!(
            others(&before, DEFAULT_TLS_SID),
            others(&after, DEFAULT_TLS_SID),
            "a statement was lost or changed"
        );
    }
    assert_eq!(
        patch_tls(Some(&policy), BUCKET, PARTITION, DEFAULT_TLS_SID),
        Ok(TlsPatch::AlreadyEnforced),
        "not idempotent"
    );
});
