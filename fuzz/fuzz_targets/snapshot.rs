//! State-file snapshot parse, then `decide` on it for a bucket event and a key event in both
//! modes: never a panic; both modes plan the same steps (report mode only shows them, as
//! "would apply"); every plan serialises.
#![no_main]

use cmkguard_fuzz::core::config::{Config, Mode};
use cmkguard_fuzz::core::decide::decide;
use cmkguard_fuzz::core::event::{parse_event_bytes, EventInput, Parsed, Trigger};
use cmkguard_fuzz::core::snapshot::Snapshot;
use libfuzzer_sys::fuzz_target;

fn trigger(bytes: &[u8]) -> Trigger {
    match parse_event_bytes(bytes) {
        Ok(EventInput::Single(Parsed::Trigger(t))) => t,
        other => panic!("seed event is not a trigger: {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(snapshot) = serde_json::from_slice::<Snapshot>(data) else {
        return;
    };
    let triggers = [
        trigger(include_bytes!(
            "../../events/s3-PutBucketPolicy-shared-no-tls.json"
        )),
        trigger(include_bytes!("../../events/kms-PutKeyPolicy-basic.json")),
    ];
    for t in &triggers {
        let mut steps = Vec::new();
        for mode in [Mode::Report, Mode::Enforce] {
            let config = Config {
                mode,
                cmk_arn: Some(
                    "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                        .to_string(),
                ),
                patch_key_policy: true,
                ..Config::default()
            };
            let plan = decide(t, &snapshot, &config);
            serde_json::to_string(&plan).expect("a plan serialises");
            steps.push(plan.steps);
        }
        assert_eq!(
            steps[0], steps[1],
            "report and enforce plan different writes"
        );
    }
});
