//! The stable twin of the cargo-fuzz targets in `fuzz/` (which need nightly): the entry points
//! not already fed arbitrary JSON by their own module's proptests, with the same assertions as
//! the targets. The TLS patch on arbitrary documents keeps every statement not under our Sid
//! and is idempotent; a state file of arbitrary JSON either is refused by serde or is decided
//! on without a panic, with the same steps planned in both modes.

use proptest::prelude::*;
use serde_json::Value;

use crate::core::config::{Config, Mode};
use crate::core::decide::decide;
use crate::core::event::{parse_event_bytes, EventInput, Parsed, Trigger};
use crate::core::policy::patch::{patch_tls, TlsPatch, DEFAULT_TLS_SID};
use crate::core::policy::secure_transport::{evaluate_tls, TlsStatus};
use crate::core::policy::Policy;
use crate::core::snapshot::Snapshot;
use crate::core::testing::arb_json;

const VALUES: &[&str] = &[
    "*",
    "Allow",
    "Deny",
    "s3:*",
    "s3:GetObject",
    "false",
    "arn:aws:s3:::data-bucket",
    "arn:aws:s3:::data-bucket/*",
    "DenyInsecureTransport",
    "111122223333",
    "444455556666",
    "data-bucket",
    "eu-west-1",
    "aws:kms",
    "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "CUSTOMER",
    "Enabled",
];
const KEYS: &[&str] = &[
    "Statement",
    "Sid",
    "Effect",
    "Principal",
    "AWS",
    "Action",
    "Resource",
    "Condition",
    "Bool",
    "aws:SecureTransport",
    "bucket",
    "keys",
    "name",
    "account",
    "region",
    "policy",
    "encryption",
    "acl",
    "tags",
    "metadata",
    "KeyMetadata",
    "Arn",
];

fn others(p: &Policy) -> Vec<Value> {
    p.statements
        .iter()
        .filter(|s| s.sid.as_deref() != Some(DEFAULT_TLS_SID))
        .filter_map(|s| p.statement_raw(s.index).cloned())
        .collect()
}

fn trigger(bytes: &[u8]) -> Trigger {
    match parse_event_bytes(bytes) {
        Ok(EventInput::Single(Parsed::Trigger(t))) => t,
        other => panic!("fixture is not a trigger: {other:?}"),
    }
}

/// A state file: arbitrary JSON in each slot of the shape, or wholly arbitrary.
fn arb_state() -> impl Strategy<Value = Value> {
    let j = || arb_json(VALUES, KEYS);
    prop_oneof![
        j(),
        (j(), j(), j(), j(), j()).prop_map(|(policy, enc, acl, meta, kp)| {
            serde_json::json!({
                "bucket": {"name": "data-bucket", "account": "111122223333", "region": "eu-west-1",
                           "policy": policy, "encryption": enc, "acl": acl},
                "keys": [{"metadata": meta, "policy": kp}],
            })
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn tls_patch_on_arbitrary_json_keeps_statements_and_is_idempotent(v in arb_json(VALUES, KEYS)) {
        if let Ok(TlsPatch::Patched { policy, .. }) = patch_tls(Some(&v), "data-bucket", "aws", DEFAULT_TLS_SID) {
            let after = Policy::parse_any(&policy).expect("the patched policy parses");
            prop_assert_eq!(evaluate_tls(Some(&after), "data-bucket", "aws").status, TlsStatus::Enforced);
            if !v.is_null() {
                let before = Policy::parse_any(&v).expect("patched, so it parsed");
                prop_assert_eq!(others(&before), others(&after));
            }
            prop_assert_eq!(
                patch_tls(Some(&policy), "data-bucket", "aws", DEFAULT_TLS_SID),
                Ok(TlsPatch::AlreadyEnforced)
            );
        }
    }

    #[test]
    fn arbitrary_state_files_are_refused_or_decided(state in arb_state(), enforce_cmk in any::<bool>()) {
        let Ok(snapshot) = serde_json::from_value::<Snapshot>(state) else {
            return Ok(());
        };
        let triggers = [
            trigger(include_bytes!("../../events/s3-PutBucketPolicy-shared-no-tls.json")),
            trigger(include_bytes!("../../events/kms-PutKeyPolicy-basic.json")),
        ];
        for t in &triggers {
            let plan = |mode| {
                let config = Config {
                    mode,
                    cmk_arn: enforce_cmk.then(|| VALUES[14].to_string()),
                    patch_key_policy: true,
                    ..Config::default()
                };
                decide(t, &snapshot, &config)
            };
            let (report, enforce) = (plan(Mode::Report), plan(Mode::Enforce));
            prop_assert_eq!(&report.steps, &enforce.steps);
            prop_assert!(serde_json::to_string(&enforce).is_ok());
        }
    }
}
