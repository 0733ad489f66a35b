//! The organisation relay's plan and the caller-side parsers: arbitrary bytes as a batch of
//! denial records (with the fixture owner map), as list-grants output, as an owner map and as
//! an IAM policy document. Never a panic; every input of a batch is accounted for exactly once,
//! every entry goes to a `cmkguard` bus of its 12-digit owner, and a decoded IAM document is an
//! object.
#![no_main]

use cmkguard_fuzz::core::iam::decode_document;
use cmkguard_fuzz::core::policy::key_half::parse_grants;
use cmkguard_fuzz::core::relay::{plan_relay, OwnerMap};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(doc) = decode_document(&Value::String(text.to_string())) {
            assert!(doc.is_object(), "a decoded document is an object");
        }
    }
    let Some(v) = cmkguard_fuzz::json(data) else {
        return;
    };
    let _ = parse_grants(&v);
    let _ = OwnerMap::parse(&v);
    let inputs: Vec<Value> = match &v {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    let owners = OwnerMap(
        [("data-shared-analytics".to_string(), "111122223333".to_string())].into(),
    );
    let plan = plan_relay(&inputs, &owners, "2024-11-25T10:02:46Z");
    let mut seen: Vec<usize> = plan
        .entries
        .iter()
        .map(|e| e.input)
        .chain(plan.owner_unknown.iter().map(|u| u.input))
        .chain(plan.dropped.iter().map(|d| d.input))
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..inputs.len()).collect::<Vec<_>>(), "every input once");
    for e in &plan.entries {
        assert!(e.owner_account.len() == 12 && e.owner_account.bytes().all(|b| b.is_ascii_digit()));
        assert!(e.bus_arn.ends_with(&format!(":{}:event-bus/cmkguard", e.owner_account)));
    }
});
