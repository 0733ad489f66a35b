//! Event parser: arbitrary bytes → Trigger | Ignored | NotJson, never a panic; every trigger
//! serialises (it is logged and printed as JSON).
#![no_main]

use cmkguard_fuzz::core::event::{parse_event_bytes, EventInput, Parsed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = parse_event_bytes(data) else {
        return;
    };
    let parsed = match input {
        EventInput::Single(p) => vec![p],
        EventInput::Records(ps) => ps,
    };
    for p in parsed {
        match p {
            Parsed::Trigger(t) => {
                serde_json::to_string(&t).expect("a trigger serialises");
            }
            Parsed::Ignored { reason } => assert!(!reason.is_empty(), "ignored without a reason"),
        }
    }
});
