//! Test support for the core's property tests: arbitrary JSON over a vocabulary of values and
//! keys, so generated documents reach the deep paths of each parser instead of bouncing off
//! its first lookup.

use proptest::prelude::*;
use serde_json::Value;

/// JSON trees up to depth 4 whose strings are often drawn from `values` and whose object keys
/// are drawn from `keys` (plus random words, so unknown keys are exercised too).
pub fn arb_json(
    values: &'static [&'static str],
    keys: &'static [&'static str],
) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(values).prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(4, 64, 6, move |inner| {
        let key = prop_oneof![
            3 => prop::sample::select(keys).prop_map(str::to_string),
            1 => "[A-Za-z:]{0,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key, inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}
