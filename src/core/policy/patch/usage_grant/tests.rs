//! Tests of the key usage-grant patch: exact grants, idempotence, our Sid replaced in place,
//! refusals, and the properties that it keeps every statement and adds only S3 usage for the
//! accounts asked for.

use super::*;
use crate::core::policy::key_policy::KeyPolicyReport;
use proptest::prelude::*;

const OWNER: &str = "111122223333";
const OTHER: &str = "444455556666";
const THIRD: &str = "777788889999";

fn owner_statement() -> Value {
    json!({"Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{OWNER}:root")}, "Action": "kms:*", "Resource": "*"})
}

/// A key policy: the default owner statement followed by `extra`.
fn key_policy(extra: Value) -> Value {
    let mut statements = vec![owner_statement()];
    match extra {
        Value::Array(items) => statements.extend(items),
        other => statements.push(other),
    }
    json!({"Version": "2012-10-17", "Id": "key-consolepolicy-3", "Statement": statements})
}

fn allow(principal: Value, action: Value) -> Value {
    json!({"Effect": "Allow", "Principal": principal, "Action": action, "Resource": "*"})
}

fn analyse(v: &Value) -> KeyPolicyReport {
    analyse_key_policy(&Policy::parse_any(v).unwrap(), OWNER)
}

const USAGE: [&str; 5] = [
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:DescribeKey",
];

fn grant_for(account: &str) -> Value {
    json!({"Sid": format!("CmkguardS3Usage{account}"), "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:Encrypt", "kms:ReEncrypt*"],
        "Resource": "*", "Condition": {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}})
}

fn accounts(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn adds_exact_grant_after_existing_statements() {
    let before = key_policy(json!([]));
    let after = add_usage_grants(&before, &accounts(&[OTHER]), "eu-west-1", "aws").unwrap();
    assert_eq!(after, key_policy(grant_for(OTHER)));
    let keys: Vec<&String> = after.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["Version", "Id", "Statement"]);
    assert!(analyse(&after).grants_usage_to(OWNER, OTHER));
    assert!(analyse(&after).issues.is_empty());
}

#[test]
fn grant_is_idempotent_and_skips_granted_accounts() {
    let before = key_policy(allow(json!({"AWS": THIRD}), json!(USAGE)));
    let once = add_usage_grants(
        &before,
        &accounts(&[OTHER, THIRD, OTHER]),
        "eu-west-1",
        "aws",
    )
    .unwrap();
    let twice = add_usage_grants(&once, &accounts(&[OTHER, THIRD]), "eu-west-1", "aws").unwrap();
    assert_eq!(once, twice);
    assert_eq!(once["Statement"].as_array().unwrap().len(), 3);
    assert_eq!(
        add_usage_grants(&before, &[], "eu-west-1", "aws").unwrap(),
        before
    );
}

#[test]
fn our_sid_is_replaced_in_place() {
    let mut tampered = grant_for(OTHER);
    tampered["Action"] = json!("kms:*");
    let before = key_policy(json!([
        tampered,
        allow(json!({"AWS": THIRD}), json!("kms:Decrypt"))
    ]));
    let after = add_usage_grants(&before, &accounts(&[OTHER]), "eu-west-1", "aws").unwrap();
    assert_eq!(after["Statement"][1], grant_for(OTHER));
    assert_eq!(after["Statement"][2], before["Statement"][2]);
    assert_eq!(after["Statement"].as_array().unwrap().len(), 3);
}

/// Regression (found by `key_grant_adds_exactly_usage_for_the_shared_accounts`): a Deny
/// for everyone under our Sid was rewritten into the Allow, lifting the denial from the
/// owner's own principals (`kms:GetKeyPolicy` became allowed). Now refused, untouched.
#[test]
fn deny_under_our_sid_is_refused_not_rewritten() {
    let mut squatter = json!({"Effect": "Deny", "Principal": "*", "Action": "kms:Get*",
        "Resource": "*"});
    squatter["Sid"] = json!(format!("{GRANT_SID_PREFIX}{OTHER}"));
    let before = key_policy(json!([squatter]));
    match add_usage_grants(&before, &accounts(&[OTHER]), "eu-west-1", "aws") {
        Err(PatchRefusal::Unsafe(why)) => assert!(why.contains("not an Allow"), "{why}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // An account whose Sid is free is still granted.
    let after = add_usage_grants(&before, &accounts(&[THIRD]), "eu-west-1", "aws").unwrap();
    assert_eq!(after["Statement"][1], before["Statement"][1]);
    assert_eq!(after["Statement"][2], grant_for(THIRD));
}

#[test]
fn china_and_gov_endpoints() {
    let after = add_usage_grants(
        &key_policy(json!([])),
        &accounts(&[OTHER]),
        "cn-north-1",
        "aws-cn",
    )
    .unwrap();
    assert_eq!(
        after["Statement"][1]["Condition"]["StringEquals"]["kms:ViaService"],
        "s3.cn-north-1.amazonaws.com.cn"
    );
    assert_eq!(
        after["Statement"][1]["Principal"]["AWS"],
        format!("arn:aws-cn:iam::{OTHER}:root")
    );
    assert_eq!(
        s3_service_endpoint("us-gov-west-1"),
        "s3.us-gov-west-1.amazonaws.com"
    );
}

#[test]
fn wrapped_and_single_statement_policies() {
    let single = json!({"Version": "2012-10-17", "Statement": owner_statement()});
    let wrapped = json!({"Policy": single.to_string()});
    let after = add_usage_grants(&wrapped, &accounts(&[OTHER]), "eu-west-1", "aws").unwrap();
    assert_eq!(
        after,
        json!({"Version": "2012-10-17", "Statement": [owner_statement(), grant_for(OTHER)]})
    );
    let lower = json!({"version": "2012-10-17", "statement": owner_statement()});
    let after = add_usage_grants(&lower, &accounts(&[OTHER]), "eu-west-1", "aws").unwrap();
    assert_eq!(
        after,
        json!({"version": "2012-10-17", "statement": [owner_statement(), grant_for(OTHER)]})
    );
    let empty = add_usage_grants(
        &json!({"Version": "2012-10-17"}),
        &accounts(&[OTHER]),
        "eu-west-1",
        "aws",
    )
    .unwrap();
    assert_eq!(
        empty,
        json!({"Version": "2012-10-17", "Statement": [grant_for(OTHER)]})
    );
}

#[test]
fn refusals() {
    let p = key_policy(json!([]));
    for bad in [
        "*",
        "4444",
        "arn:aws:iam::444455556666:root",
        "",
        "44445555666a",
    ] {
        assert!(
            matches!(
                add_usage_grants(&p, &accounts(&[OTHER, bad]), "eu-west-1", "aws"),
                Err(PatchRefusal::Unsafe(_))
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        add_usage_grants(&p, &accounts(&[OTHER]), "", "aws"),
        Err(PatchRefusal::Unsafe(_))
    ));
    assert!(matches!(
        add_usage_grants(&json!("not json"), &accounts(&[OTHER]), "eu-west-1", "aws"),
        Err(PatchRefusal::Unreadable(_))
    ));
    assert!(matches!(
        add_usage_grants(
            &json!({"Statement": 5}),
            &accounts(&[OTHER]),
            "eu-west-1",
            "aws"
        ),
        Err(PatchRefusal::Unreadable(_))
    ));
    let big = key_policy(
        json!({"Sid": "x".repeat(MAX_KEY_POLICY_BYTES), "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}),
    );
    assert!(matches!(
        add_usage_grants(&big, &accounts(&[OTHER]), "eu-west-1", "aws"),
        Err(PatchRefusal::TooLarge {
            limit: MAX_KEY_POLICY_BYTES,
            ..
        })
    ));
}

/// Realistic key policy statements from the accounts in play.
fn arb_statement() -> impl Strategy<Value = Value> {
    let account = prop::sample::select(vec![OWNER, OTHER, THIRD, "222233334444"]);
    let principal = prop_oneof![
        account.clone().prop_map(|a| json!({"AWS": a})),
        account
            .clone()
            .prop_map(|a| json!({"AWS": format!("arn:aws:iam::{a}:root")})),
        account
            .clone()
            .prop_map(|a| json!({"AWS": [format!("arn:aws:iam::{a}:role/r")]})),
        Just(json!("*")),
        Just(json!({"Service": "s3.amazonaws.com"})),
    ];
    let action = prop::sample::subsequence(
        vec![
            "kms:Decrypt",
            "kms:Encrypt",
            "kms:GenerateDataKey*",
            "kms:*",
            "kms:Put*",
            "kms:CreateGrant",
            "kms:Get*",
            "s3:GetObject",
        ],
        1..4,
    );
    let condition = prop_oneof![
        Just(None),
        account.prop_map(|a| Some(json!({"StringEquals": {"kms:CallerAccount": a}}))),
        Just(Some(
            json!({"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}})
        )),
        Just(Some(
            json!({"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}})
        )),
    ];
    let effect = prop::sample::select(vec!["Allow", "Deny"]);
    let sid = prop::option::of("[A-Za-z]{1,8}");
    (principal, action, condition, effect, sid).prop_map(|(p, a, c, e, sid)| {
        let mut s = json!({"Effect": e, "Principal": p, "Action": a, "Resource": "*"});
        if let Some(c) = c {
            s["Condition"] = c;
        }
        if let Some(sid) = sid {
            s["Sid"] = json!(sid);
        }
        s
    })
}

proptest! {
    #[test]
    fn patch_keeps_statements_grants_and_is_idempotent(
        statements in prop::collection::vec(arb_statement(), 0..6),
        wanted in prop::sample::subsequence(vec![OTHER, THIRD, "222233334444", OWNER], 0..4),
    ) {
        let before = json!({"Version": "2012-10-17", "Id": "k", "Statement": statements});
        let wanted = accounts(&wanted);
        let once = add_usage_grants(&before, &wanted, "eu-west-1", "aws").unwrap();
        let twice = add_usage_grants(&once, &wanted, "eu-west-1", "aws").unwrap();
        prop_assert_eq!(&once, &twice);
        // Every original statement is still there, unchanged and in order.
        let after_list = once["Statement"].as_array().unwrap();
        let before_list = before["Statement"].as_array().unwrap();
        prop_assert_eq!(&after_list[..before_list.len()], before_list.as_slice());
        prop_assert_eq!(&once["Id"], &before["Id"]);
        let r_before = analyse(&before);
        let r_after = analyse(&once);
        for a in &wanted {
            prop_assert!(r_after.grants_usage_to(OWNER, a), "{} not granted", a);
        }
        for a in &r_after.usage_accounts {
            prop_assert!(r_before.usage_accounts.contains(a) || wanted.contains(a));
        }
        prop_assert_eq!(&r_after.admin_accounts, &r_before.admin_accounts);
        prop_assert_eq!(&r_after.organisations, &r_before.organisations);
        prop_assert_eq!(r_after.public, r_before.public);
    }
}

proptest! {
    // Each case evaluates 270 concrete requests twice: fewer cases keep the debug-build
    // suite quick, the generator's small vocabulary keeps them dense.
    #![proptest_config(ProptestConfig::with_cases(96))]
    /// Never widen access (issue 7), for the key grant: over every concrete request, the
    /// access the patch adds is usage (Encrypt, Decrypt, ReEncrypt*, GenerateDataKey*,
    /// DescribeKey) through S3 for the accounts asked for, nothing else; every statement
    /// not under one of our Sids is byte-identical and in order; the only new statements
    /// are exact usage grants. The oracle (`core::access_model`) reads raw JSON.
    #[test]
    fn key_grant_adds_exactly_usage_for_the_shared_accounts(
        statements in prop::collection::vec(arb_statement(), 0..6),
        // A statement already under our Sid for an account, with arbitrary content.
        squatter in prop::option::of((arb_statement(), prop::sample::select(vec![OTHER, THIRD]), any::<prop::sample::Index>())),
        wanted in prop::sample::subsequence(vec![OTHER, THIRD, "222233334444"], 0..4),
    ) {
        use crate::core::access_model::{allowed, universe, Who};
        let mut statements = statements;
        let squatted = squatter.map(|(mut st, account, at)| {
            st["Sid"] = json!(format!("{GRANT_SID_PREFIX}{account}"));
            let deny = st["Effect"] == "Deny";
            statements.insert(at.index(statements.len() + 1), st);
            (account, deny)
        });
        let before = json!({"Version": "2012-10-17", "Id": "k", "Statement": statements});
        let wanted = accounts(&wanted);
        let after = match add_usage_grants(&before, &wanted, "eu-west-1", "aws") {
            Ok(after) => after,
            Err(PatchRefusal::Unsafe(why)) => {
                // Only a Deny under the Sid of an account we grant is refused.
                let refused = squatted.is_some_and(|(a, deny)| deny && wanted.iter().any(|w| w == a));
                prop_assert!(refused, "unexpected refusal: {}", why);
                return Ok(());
            }
            Err(other) => return Err(TestCaseError::fail(format!("unexpected refusal {other:?}"))),
        };
        let ours = |s: &&Value| s["Sid"].as_str().is_some_and(|x| x.starts_with(GRANT_SID_PREFIX));
        let list = |d: &Value| d["Statement"].as_array().cloned().unwrap_or_default();
        let (old, new) = (list(&before), list(&after));
        let kept_old: Vec<&Value> = old.iter().filter(|s| !ours(s)).collect();
        let kept_new: Vec<&Value> = new.iter().filter(|s| !ours(s)).collect();
        prop_assert_eq!(kept_old, kept_new, "a statement changed");
        for s in new.iter().filter(|s| !old.contains(s)) {
            prop_assert!(
                wanted.iter().any(|a| *s == usage_grant(a, "eu-west-1", "aws")),
                "unexpected new statement {}", s
            );
        }
        let whos: Vec<Who> = [OWNER, OTHER, THIRD, "222233334444"]
            .iter()
            .flat_map(|a| [Who::aws(a, "root"), Who::aws(a, "role/r")])
            .chain([Who::Anonymous, Who::Service("s3.amazonaws.com".into())])
            .collect();
        const USAGE: &[&str] = &["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:DescribeKey"];
        let u = universe(
            &whos,
            &[USAGE, &["kms:PutKeyPolicy", "kms:CreateGrant", "kms:ScheduleKeyDeletion", "kms:GetKeyPolicy"]].concat(),
            &["arn:aws:kms:eu-west-1:111122223333:key/k"],
            &[
                vec![("kms:ViaService", "s3.eu-west-1.amazonaws.com")],
                vec![("kms:ViaService", "ec2.eu-west-1.amazonaws.com"), ("aws:PrincipalOrgID", "o-a1b2c3d4e5")],
                vec![],
            ],
        );
        let (a_before, a_after) = (allowed(&before, &u), allowed(&after, &u));
        for r in a_after.difference(&a_before) {
            let via_s3 = r.context.iter().any(|(k, v)| k == "kms:viaservice" && v == "s3.eu-west-1.amazonaws.com");
            prop_assert!(
                r.who.account().is_some_and(|a| wanted.iter().any(|w| w == a))
                    && USAGE.contains(&r.action.as_str())
                    && via_s3,
                "the grant widened access beyond S3 usage for the shared accounts: {:?}", r
            );
        }
    }
}
