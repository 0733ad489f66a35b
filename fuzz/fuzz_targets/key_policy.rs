//! Key policy analysis and the usage-grant patch: never a panic; the report names only
//! 12-digit accounts other than the owner; a patched policy keeps every statement that is not
//! under one of our grant Sids, grants usage to the accounts asked for, and is idempotent.
#![no_main]

use cmkguard_fuzz::core::policy::key_policy::analyse_key_policy;
use cmkguard_fuzz::core::policy::patch::usage_grant::{add_usage_grants, GRANT_SID_PREFIX};
use cmkguard_fuzz::core::policy::Policy;
use cmkguard_fuzz::OWNER;
use libfuzzer_sys::fuzz_target;

fn ours(sid: Option<&str>) -> bool {
    sid.is_some_and(|s| s.starts_with(GRANT_SID_PREFIX))
}

fuzz_target!(|data: &[u8]| {
    let Some(v) = cmkguard_fuzz::json(data) else {
        return;
    };
    let Ok(before) = Policy::parse_any(&v) else {
        return;
    };
    let report = analyse_key_policy(&before, OWNER);
    for a in report.usage_accounts.iter().chain(&report.admin_accounts) {
        assert!(
            a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()),
            "{a}"
        );
        assert_ne!(a, OWNER);
    }
    let wanted = vec!["444455556666".to_string(), "777788889999".to_string()];
    let Ok(once) = add_usage_grants(&v, &wanted, "eu-west-1", "aws") else {
        return;
    };
    let after = Policy::parse_any(&once).expect("the patched key policy parses");
    let kept = |p: &Policy| -> Vec<serde_json::Value> {
        p.statements
            .iter()
            .filter(|s| !ours(s.sid.as_deref()))
            .map(|s| s.raw.clone())
            .collect()
    };
    assert_eq!(
        kept(&before),
        kept(&after),
        "a statement was lost or changed"
    );
    let r = analyse_key_policy(&after, "");
    for a in &wanted {
        assert!(r.grants_usage_to("", a), "{a} not granted");
    }
    let twice = add_usage_grants(&once, &wanted, "eu-west-1", "aws").expect("patch again");
    assert_eq!(once, twice, "not idempotent");
});
