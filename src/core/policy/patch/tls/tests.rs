//! Tests of the TLS patch: upsert by Sid, preservation of every other statement and field,
//! refusals, and the property that the patch never widens access.

use super::*;
use crate::core::policy::secure_transport::evaluate_tls;
use crate::core::policy::sharing::{evaluate_policy_sharing, BucketContext, Trust};
use proptest::prelude::*;

const B: &str = "data-bucket";
const SID: &str = DEFAULT_TLS_SID;

fn patch(v: &Value) -> Result<TlsPatch, PatchRefusal> {
    patch_tls(Some(v), B, "aws", SID)
}

fn patched(v: &Value) -> (Value, bool) {
    match patch(v) {
        Ok(TlsPatch::Patched {
            policy,
            replaced_in_place,
        }) => (policy, replaced_in_place),
        other => panic!("expected a patch, got {other:?}"),
    }
}

fn grant(sid: &str) -> Value {
    json!({"Sid": sid, "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data-bucket/*"})
}

#[test]
fn statement_is_exactly_the_documented_one() {
    let st = tls_statement(B, "aws-cn", SID);
    assert_eq!(
        serde_json::to_string(&st).unwrap(),
        r#"{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws-cn:s3:::data-bucket","arn:aws-cn:s3:::data-bucket/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#
    );
}

#[test]
fn no_policy_creates_one() {
    for current in [None, Some(&Value::Null)] {
        let r = patch_tls(current, B, "aws", SID).unwrap();
        assert_eq!(
            r,
            TlsPatch::Patched {
                policy: json!({"Version": "2012-10-17", "Statement": [tls_statement(B, "aws", SID)]}),
                replaced_in_place: false
            }
        );
    }
}

#[test]
fn appends_and_keeps_everything_else_in_order() {
    let current = json!({"Id": "policy-1", "Version": "2012-10-17", "Statement": [grant("A"), grant("B")], "Extra": {"x": [1, 2]}});
    let (policy, replaced) = patched(&current);
    assert!(!replaced);
    assert_eq!(
        policy,
        json!({"Id": "policy-1", "Version": "2012-10-17",
            "Statement": [grant("A"), grant("B"), tls_statement(B, "aws", SID)], "Extra": {"x": [1, 2]}})
    );
    let keys: Vec<&String> = policy.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["Id", "Version", "Statement", "Extra"]);
}

#[test]
fn replaces_our_sid_in_place() {
    let ours_but_wrong = json!({"Sid": SID, "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::data-bucket/*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}});
    let current =
        json!({"Version": "2012-10-17", "Statement": [grant("A"), ours_but_wrong, grant("B")]});
    let (policy, replaced) = patched(&current);
    assert!(replaced);
    assert_eq!(
        policy["Statement"],
        json!([grant("A"), tls_statement(B, "aws", SID), grant("B")])
    );
}

#[test]
fn our_sid_on_anything_but_a_tls_deny_is_refused_never_replaced() {
    for other in [
        json!({"Sid": SID, "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data-bucket/*"}),
        json!({"Sid": SID, "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteBucket", "Resource": "arn:aws:s3:::data-bucket"}),
        json!({"Sid": SID, "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}),
    ] {
        let current = json!({"Version": "2012-10-17", "Statement": [grant("A"), other]});
        match patch(&current) {
            Err(PatchRefusal::Unsafe(why)) => assert!(why.contains("not a TLS Deny"), "{why}"),
            got => panic!("expected a refusal, got {got:?}"),
        }
    }
}

#[test]
fn single_statement_object_becomes_a_list() {
    let current = json!({"Version": "2012-10-17", "Statement": grant("A")});
    let (policy, _) = patched(&current);
    assert_eq!(
        policy["Statement"],
        json!([grant("A"), tls_statement(B, "aws", SID)])
    );
    let ours_alone = json!({"Statement": {"Sid": SID, "Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": false}}}});
    let (policy, replaced) = patched(&ours_alone);
    assert!(replaced);
    assert_eq!(policy["Statement"], tls_statement(B, "aws", SID));
}

#[test]
fn string_and_wrapped_documents_are_read() {
    let doc = json!({"Version": "2012-10-17", "Statement": [grant("A")]});
    for current in [
        Value::String(doc.to_string()),
        json!({"Policy": doc.to_string()}),
    ] {
        let (policy, _) = patched(&current);
        assert_eq!(
            policy["Statement"],
            json!([grant("A"), tls_statement(B, "aws", SID)])
        );
    }
}

#[test]
fn enforced_under_another_sid_is_left_alone() {
    let mut other = tls_statement(B, "aws", "SomeoneElse");
    other["Action"] = json!("*");
    let current = json!({"Statement": [grant("A"), other]});
    assert_eq!(patch(&current), Ok(TlsPatch::AlreadyEnforced));
}

#[test]
fn partial_deny_under_another_sid_is_kept() {
    let mut partial = tls_statement(B, "aws", "Partial");
    partial["Resource"] = json!("arn:aws:s3:::data-bucket");
    let current = json!({"Statement": [partial.clone()]});
    let (policy, replaced) = patched(&current);
    assert!(!replaced);
    assert_eq!(
        policy["Statement"],
        json!([partial, tls_statement(B, "aws", SID)])
    );
}

#[test]
fn refuses_duplicate_sids_unreadable_and_large_policies() {
    let dup = json!({"Statement": [grant(SID), grant(SID)]});
    assert!(matches!(patch(&dup), Err(PatchRefusal::Unsafe(_))));
    for bad in [
        json!("not json"),
        json!([1, 2]),
        json!({"Statement": 7}),
        json!(42),
    ] {
        assert!(
            matches!(patch(&bad), Err(PatchRefusal::Unreadable(_))),
            "{bad}"
        );
    }
    let big: Vec<Value> = (0..200).map(|i| grant(&format!("Grant{i}"))).collect();
    let big = json!({"Statement": big});
    match patch(&big) {
        Err(PatchRefusal::TooLarge { size, limit }) => {
            assert_eq!(limit, MAX_BUCKET_POLICY_BYTES);
            assert!(size > limit);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[test]
fn sid_compare_is_exact() {
    let current = json!({"Statement": [grant("denyinsecuretransport")]});
    let (policy, replaced) = patched(&current);
    assert!(!replaced);
    assert_eq!(policy["Statement"].as_array().unwrap().len(), 2);
}

fn arb_principal() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("*")),
        Just(json!({"AWS": "*"})),
        Just(json!({"AWS": "arn:aws:iam::444455556666:root"})),
        Just(json!({"AWS": ["111122223333", "*"]})),
        Just(json!({"Service": "logging.s3.amazonaws.com"})),
        Just(json!({"CanonicalUser": "abc"})),
    ]
}

fn arb_statement() -> impl Strategy<Value = Value> {
    let resource = prop_oneof![
        Just(json!("*")),
        Just(json!("arn:aws:s3:::data-bucket")),
        Just(json!("arn:aws:s3:::data-bucket/*")),
        Just(json!(["arn:aws:s3:::other", "arn:aws:s3:::other/*"])),
    ];
    let action = prop_oneof![
        Just(json!("s3:*")),
        Just(json!("s3:GetObject")),
        Just(json!(["s3:PutObject", "s3:ListBucket"])),
    ];
    let condition = prop_oneof![
        Just(Value::Null),
        Just(json!({"Bool": {"aws:SecureTransport": "true"}})),
        Just(json!({"StringEquals": {"aws:PrincipalAccount": "444455556666"}})),
        Just(
            json!({"Bool": {"aws:SecureTransport": "false"}, "StringEquals": {"aws:SourceVpce": "vpce-1"}})
        ),
        Just(json!({"NumericLessThan": {"s3:TlsVersion": "1.2"}})),
    ];
    (
        proptest::option::of("[A-Za-z0-9]{1,10}"),
        prop_oneof![Just("Allow"), Just("Deny")],
        arb_principal(),
        action,
        resource,
        condition,
    )
        .prop_map(|(sid, effect, principal, action, resource, condition)| {
            let mut st = serde_json::Map::new();
            if let Some(sid) = sid {
                st.insert("Sid".into(), json!(sid));
            }
            st.insert("Effect".into(), json!(effect));
            st.insert("Principal".into(), principal);
            st.insert("Action".into(), action);
            st.insert("Resource".into(), resource);
            if !condition.is_null() {
                st.insert("Condition".into(), condition);
            }
            Value::Object(st)
        })
}

/// A partial TLS Deny under another Sid: right shape, bucket-only resource.
fn partial_tls() -> Value {
    let mut st = tls_statement(B, "aws", "PartialTls");
    st["Resource"] = json!("arn:aws:s3:::data-bucket");
    st
}

prop_compose! {
    fn arb_policy()(
        mut statements in prop::collection::vec(arb_statement(), 0..8),
        ours in proptest::option::of((prop_oneof![arb_statement(), Just(partial_tls())], any::<prop::sample::Index>())),
        partial in any::<bool>(),
        enforcing in prop::bool::weighted(0.15),
        single in any::<bool>(),
        id in proptest::option::of("[a-z0-9-]{1,12}"),
        version_first in any::<bool>(),
    ) -> Value {
        // Generated Sids never collide with ours; ours is placed at most once.
        for st in &mut statements {
            if st.get("Sid").and_then(Value::as_str) == Some(SID) {
                st["Sid"] = json!("Other");
            }
        }
        if partial {
            statements.push(partial_tls());
        }
        if enforcing {
            statements.push(tls_statement(B, "aws", "ExistingTls"));
        }
        if let Some((mut st, at)) = ours {
            st["Sid"] = json!(SID);
            let at = at.index(statements.len() + 1);
            statements.insert(at, st);
        }
        let statement = if single && statements.len() == 1 {
            statements.remove(0)
        } else {
            Value::Array(statements)
        };
        let mut doc = serde_json::Map::new();
        if let Some(id) = id {
            doc.insert("Id".into(), json!(id));
        }
        if version_first {
            doc.insert("Version".into(), json!("2012-10-17"));
            doc.insert("Statement".into(), statement);
        } else {
            doc.insert("Statement".into(), statement);
            doc.insert("Version".into(), json!("2008-10-17"));
        }
        Value::Object(doc)
    }
}

fn statements_of(doc: &Value) -> Vec<Value> {
    match doc.get("Statement") {
        Some(Value::Array(items)) => items.clone(),
        Some(single @ Value::Object(_)) => vec![single.clone()],
        _ => Vec::new(),
    }
}

fn has_our_sid(st: &Value) -> bool {
    st.get("Sid").and_then(Value::as_str) == Some(SID)
}

proptest! {
    #[test]
    fn patch_keeps_everything_and_enforces(doc in arb_policy()) {
        let before = Policy::parse_any(&doc).unwrap();
        let was_enforced = evaluate_tls(Some(&before), B, "aws").status == TlsStatus::Enforced;
        let unsafe_sid = before
            .statements
            .iter()
            .any(|s| s.sid.as_deref() == Some(SID) && !is_weaker_tls_deny(s));
        match patch(&doc) {
            Err(PatchRefusal::Unsafe(_)) => prop_assert!(unsafe_sid && !was_enforced),
            Err(other) => prop_assert!(false, "unexpected refusal {:?}", other),
            Ok(TlsPatch::AlreadyEnforced) => prop_assert!(was_enforced),
            Ok(TlsPatch::Patched { policy, replaced_in_place }) => {
                prop_assert!(!was_enforced && !unsafe_sid);
                let old = statements_of(&doc);
                let new = statements_of(&policy);
                prop_assert_eq!(replaced_in_place, old.iter().any(has_our_sid));
                // Every statement but ours survives unchanged and in order.
                let kept_old: Vec<&Value> = old.iter().filter(|s| !has_our_sid(s)).collect();
                let kept_new: Vec<&Value> = new.iter().filter(|s| !has_our_sid(s)).collect();
                prop_assert_eq!(kept_old, kept_new);
                let ours: Vec<&Value> = new.iter().filter(|s| has_our_sid(s)).collect();
                let expected = tls_statement(B, "aws", SID);
                prop_assert_eq!(ours, vec![&expected]);
                // Every other top-level field is identical and in the same order.
                let strip = |d: &Value| -> Vec<(String, Value)> {
                    d.as_object().unwrap().iter()
                        .map(|(k, v)| (k.clone(), if k == "Statement" { Value::Null } else { v.clone() }))
                        .collect()
                };
                prop_assert_eq!(strip(&doc), strip(&policy));
                let after = Policy::parse_any(&policy).unwrap();
                prop_assert_eq!(evaluate_tls(Some(&after), B, "aws").status, TlsStatus::Enforced);
                // Patching twice is patching once.
                prop_assert_eq!(patch(&policy), Ok(TlsPatch::AlreadyEnforced));
                // Never widen access: who the policy grants to is exactly what it was.
                let ctx = BucketContext { bucket: B, owner_account: "111122223333", owner_canonical_id: None, partition: "aws" };
                let trust = Trust::default();
                prop_assert_eq!(
                    evaluate_policy_sharing(&after, &ctx, &trust),
                    evaluate_policy_sharing(&before, &ctx, &trust)
                );
            }
        }
    }

    /// Never widen access (issue 7): over every concrete request in the universe, what the
    /// patched policy allows is a subset of what the current one allows. The oracle reads
    /// raw JSON (`core::access_model`), independent of the parser the patch uses.
    #[test]
    fn tls_patch_never_widens_access(doc in arb_policy(), as_string in any::<bool>()) {
        use crate::core::access_model::{allowed, universe, Who};
        let input = if as_string { Value::String(doc.to_string()) } else { doc.clone() };
        let Ok(TlsPatch::Patched { policy, .. }) = patch(&input) else {
            return Ok(());
        };
        let u = universe(
            &[
                Who::Anonymous,
                Who::aws("111122223333", "root"),
                Who::aws("111122223333", "role/admin"),
                Who::aws("444455556666", "role/r"),
                Who::aws("222233334444", "user/u"),
                Who::Service("logging.s3.amazonaws.com".into()),
                Who::Canonical("abc".into()),
            ],
            &["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject", "s3:PutBucketPolicy"],
            &["arn:aws:s3:::data-bucket", "arn:aws:s3:::data-bucket/report.csv"],
            &[
                vec![("aws:SecureTransport", "true"), ("s3:TlsVersion", "1.3")],
                vec![("aws:SecureTransport", "false"), ("s3:TlsVersion", "1.0")],
                vec![("aws:SecureTransport", "false"), ("aws:SourceVpce", "vpce-1")],
                vec![("aws:SecureTransport", "true"), ("aws:SourceVpce", "vpce-1")],
            ],
        );
        let before = allowed(&doc, &u);
        let after = allowed(&policy, &u);
        let widened: Vec<_> = after.difference(&before).collect();
        prop_assert!(widened.is_empty(), "the patch allows {:?}", widened);
        // And what it takes away is exactly plain HTTP.
        prop_assert!(before.difference(&after).all(|r| r.context.iter().any(|(k, v)| k == "aws:securetransport" && v == "false")));
        prop_assert!(after.iter().all(|r| r.context.iter().any(|(k, v)| k == "aws:securetransport" && v == "true")));
    }

    #[test]
    fn big_policies_are_refused(doc in arb_policy(), padding in 20_500usize..40_000) {
        let mut doc = doc;
        doc["Comment"] = json!("x".repeat(padding));
        match patch(&doc) {
            Ok(TlsPatch::AlreadyEnforced) => {}
            // A foreign statement under our Sid is refused before any size is computed.
            Err(PatchRefusal::Unsafe(why)) => prop_assert!(why.contains("not a TLS Deny"), "{}", why),
            Err(PatchRefusal::TooLarge { size, limit }) => {
                prop_assert!(size > limit);
                prop_assert_eq!(limit, MAX_BUCKET_POLICY_BYTES);
            }
            other => prop_assert!(false, "expected TooLarge, got {:?}", other),
        }
    }
}
