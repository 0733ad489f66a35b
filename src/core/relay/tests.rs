//! Rows of the relay's plan: where each forwarded denial goes (owner from the key ARN, from
//! the inventory, or unknown), what is dropped and why, the owner maps it reads, the
//! PutEvents batching, and that an entry it builds parses back, on the owner's side, to the
//! same denial.

use super::*;
use serde_json::json;

const DATA: &str = "111122223333";
const COMPUTE: &str = "444455556666";
const NOW: &str = "2024-11-25T10:02:46Z";

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn kms_denial() -> Value {
    fixture("kms-Decrypt-AccessDeniedException-cross-account.json")
}

fn redacted_s3() -> Value {
    fixture("s3-GetObject-AccessDenied-caller-redacted.json")
}

fn owners() -> OwnerMap {
    OwnerMap([("data-shared-analytics".to_string(), DATA.to_string())].into())
}

#[test]
fn a_kms_denial_goes_to_the_key_owners_bus() {
    let plan = plan_relay(&[kms_denial()], &OwnerMap::default(), NOW);
    assert!(
        plan.dropped.is_empty() && plan.owner_unknown.is_empty(),
        "{plan:#?}"
    );
    let e = &plan.entries[0];
    assert_eq!(e.owner_account, DATA);
    assert_eq!(
        e.bus_arn,
        "arn:aws:events:eu-west-1:111122223333:event-bus/cmkguard"
    );
    assert_eq!(e.detail["owner_account"], DATA);
    assert_eq!(e.detail["relayed_at"], NOW);
    assert_eq!(
        e.detail["record"],
        kms_denial()["detail"],
        "the record as the caller's trail wrote it"
    );
}

#[test]
fn a_redacted_s3_denial_takes_its_owner_from_the_inventory() {
    let plan = plan_relay(&[redacted_s3()], &owners(), NOW);
    assert_eq!(plan.entries.len(), 1, "{plan:#?}");
    assert_eq!(plan.entries[0].owner_account, DATA);
    let plan = plan_relay(&[redacted_s3()], &OwnerMap::default(), NOW);
    assert!(plan.entries.is_empty());
    let u = &plan.owner_unknown[0];
    assert_eq!(u.caller_account.as_deref(), Some(COMPUTE));
    assert_eq!(u.bucket.as_deref(), Some("data-shared-analytics"));
    assert!(
        u.reason.contains("not in the organisation's inventory"),
        "{u:?}"
    );
    assert_eq!(
        buckets_to_resolve(&[redacted_s3(), kms_denial()]),
        ["data-shared-analytics".to_string()].into()
    );
}

macro_rules! drops {
    ($($name:ident: $inputs:expr => $reason:expr;)*) => {$(
        #[test]
        fn $name() {
            let plan = plan_relay(&$inputs, &owners(), NOW);
            let last = plan.dropped.last().unwrap_or_else(|| panic!("nothing dropped: {plan:#?}"));
            assert!(last.reason.contains($reason), "{:?}", last.reason);
        }
    )*};
}

drops! {
    the_owners_own_copy_is_diagnosed_there: [fixture("s3-GetObject-AccessDenied-cross-account.json")]
        => "recorded in the owner's own account 111122223333";
    a_same_account_denial_is_not_relayed: [fixture("s3-PutObject-AccessDenied-same-account.json")]
        => "within account 111122223333";
    a_duplicate_goes_once: [kms_denial(), kms_denial()]
        => "duplicate of an earlier record of this batch (requestID e229f119";
    a_change_is_not_a_denial: [fixture("s3-PutBucketPolicy-shared-no-tls.json")]
        => "is not an AccessDenied";
    a_relayed_denial_is_not_relayed_again: [fixture("cmkguard-denial-Decrypt-relayed-to-owner.json")]
        => "recorded in the owner's own account";
    junk_is_dropped_with_the_parsers_reason: [json!("text")]
        => "not a JSON object";
    a_log_file_is_not_one_denial: [json!({"Records": []})]
        => "log file";
    a_record_without_region: [{
            let mut r = kms_denial()["detail"].clone();
            r.as_object_mut().unwrap().remove("awsRegion");
            r
        }] => "names no region";
}

#[test]
fn an_inventory_naming_the_caller_as_owner_is_not_relayed() {
    let map = OwnerMap([("data-shared-analytics".to_string(), COMPUTE.to_string())].into());
    let plan = plan_relay(&[redacted_s3()], &map, NOW);
    assert!(plan.entries.is_empty());
    assert!(
        plan.dropped[0].reason.contains("caller's own account"),
        "{plan:#?}"
    );
}

#[test]
fn a_bare_record_and_china_partition() {
    let mut record = kms_denial()["detail"].clone();
    record["awsRegion"] = json!("cn-north-1");
    record["requestParameters"]["keyId"] =
        json!("arn:aws-cn:kms:cn-north-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab");
    record["resources"] = json!([]);
    let plan = plan_relay(&[record.clone()], &OwnerMap::default(), NOW);
    assert_eq!(
        plan.entries[0].bus_arn,
        "arn:aws-cn:events:cn-north-1:111122223333:event-bus/cmkguard"
    );
    assert_eq!(plan.entries[0].detail["record"], record);
}

#[test]
fn an_entry_parses_back_on_the_owners_side_to_the_same_denial() {
    for input in [kms_denial(), redacted_s3()] {
        let plan = plan_relay(std::slice::from_ref(&input), &owners(), NOW);
        let e = &plan.entries[0];
        // As the owner's bus delivers it: the envelope `account` is the relay's on AWS and
        // the receiver's on moto; neither is read for the owner.
        let envelope = json!({"version": "0", "id": "x", "detail-type": relayed::DETAIL_TYPE,
            "source": relayed::SOURCE, "account": "999988887777", "time": NOW, "region": "eu-west-1",
            "resources": [], "detail": e.detail});
        let (mine, _) = parse_one(&input).unwrap();
        match parse_event_value(&envelope) {
            EventInput::Single(Parsed::Trigger(t)) => {
                assert_eq!(t.side, Some(Side::Owner));
                assert_eq!(t.owner_account.as_deref(), Some(DATA));
                assert_eq!(t.account.as_deref(), Some(DATA));
                assert_eq!(
                    (t.event_name, t.bucket, t.key, t.caller_account),
                    (mine.event_name, mine.bucket, mine.key, mine.caller_account)
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn owner_maps() {
    let config = json!({"Results": [
        "{\"accountId\":\"111122223333\",\"resourceName\":\"data-shared-analytics\"}",
        "{\"accountId\":\"not-an-account\",\"resourceName\":\"x\"}",
        "not json",
        {"accountId": "777788889999", "resourceName": "reports"}
    ], "QueryInfo": {}});
    let m = OwnerMap::parse(&config).unwrap();
    assert_eq!(m.owner_of("data-shared-analytics"), Some(DATA));
    assert_eq!(m.owner_of("reports"), Some("777788889999"));
    assert_eq!(m.0.len(), 2);
    let plain =
        OwnerMap::parse(&json!({"data-shared-analytics": DATA, "bad": "1", "n": 3})).unwrap();
    assert_eq!(plain.0.len(), 1);
    let rows = OwnerMap::parse(&json!([{"accountId": DATA, "resourceName": "b"}])).unwrap();
    assert_eq!(rows.owner_of("b"), Some(DATA));
    assert!(OwnerMap::parse(&json!("x")).is_err());
    assert!(OwnerMap::parse(&json!({"Results": "x"})).is_err());
}

#[test]
fn put_events_batches_hold_ten_entries_and_stay_under_the_size_limit() {
    let entry = |n: usize| RelayEntry {
        owner_account: DATA.into(),
        bus_arn: "arn:aws:events:eu-west-1:111122223333:event-bus/cmkguard".into(),
        detail: json!({"record": "x".repeat(n)}),
        input: 0,
    };
    let small: Vec<RelayEntry> = (0..23).map(|_| entry(10)).collect();
    let sizes: Vec<usize> = batches(&small).iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![10, 10, 3]);
    let big: Vec<RelayEntry> = (0..4).map(|_| entry(100 * 1024)).collect();
    let b = batches(&big);
    assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 2]);
    for batch in &b {
        assert!(batch.iter().map(|i| big[*i].size()).sum::<usize>() <= MAX_REQUEST_BYTES);
    }
    assert!(batches(&[]).is_empty());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the batch, every input is accounted for exactly once, and every entry
        /// goes to a `cmkguard` bus of its owner.
        #[test]
        fn every_input_is_accounted_for(picks in prop::collection::vec(0usize..5, 0..8), junk in crate::core::testing::arb_json(&["AccessDenied", "s3.amazonaws.com", "111122223333"], &["detail", "detail-type", "eventName", "errorCode"])) {
            let pool = [kms_denial(), redacted_s3(), fixture("s3-GetObject-AccessDenied-cross-account.json"), fixture("s3-PutObject-AccessDenied-caller-owner-absent.json"), junk];
            let inputs: Vec<Value> = picks.iter().map(|i| pool[*i].clone()).collect();
            let plan = plan_relay(&inputs, &owners(), NOW);
            let mut seen: Vec<usize> = plan.entries.iter().map(|e| e.input)
                .chain(plan.owner_unknown.iter().map(|u| u.input))
                .chain(plan.dropped.iter().map(|d| d.input)).collect();
            seen.sort();
            prop_assert_eq!(seen, (0..inputs.len()).collect::<Vec<_>>());
            for e in &plan.entries {
                let suffix = format!(":{}:event-bus/cmkguard", e.owner_account);
                prop_assert!(e.bus_arn.ends_with(&suffix), "{}", e.bus_arn);
                prop_assert!(is_account_id(&e.owner_account));
            }
        }
    }
}
