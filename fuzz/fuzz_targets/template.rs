//! check-template's core on arbitrary JSON: a CloudFormation template or a Terraform plan is a
//! report or a reasoned error, never a panic; every finding and unchecked entry names a
//! resource (logical id or address) and every finding of the report is in that file.
#![no_main]

use cmkguard_fuzz::core::template::{check, Options};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(doc) = cmkguard_fuzz::json(data) else {
        return;
    };
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let opts = Options {
        partition: "aws".into(),
        ..Options::default()
    };
    if let Ok(report) = check("fuzz.json", &doc, text, &opts) {
        for f in &report.findings {
            assert!(!f.logical_id.is_empty(), "a finding without a resource");
            assert_eq!(f.file, "fuzz.json");
        }
        for u in &report.unchecked {
            assert!(!u.rules.is_empty(), "an unchecked entry names no rule");
        }
    }
});
