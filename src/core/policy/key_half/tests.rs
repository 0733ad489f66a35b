//! Rows of the per-account, per-direction key half: key policy statements, KMS grants, Deny
//! subtraction, and the ListGrants shapes.

use super::*;
use serde_json::json;

const OWNER: &str = "111122223333";
const READER: &str = "444455556666";
const WRITER: &str = "777788889999";

fn policy(extra: Vec<Value>) -> Policy {
    let mut statements = vec![json!({"Sid": "Owner", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{OWNER}:root")}, "Action": "kms:*", "Resource": "*"})];
    statements.extend(extra);
    Policy::parse(&json!({"Version": "2012-10-17", "Statement": statements})).unwrap()
}

fn allow(account: &str, actions: Value) -> Value {
    json!({"Sid": format!("Use{account}"), "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:root")}, "Action": actions, "Resource": "*"})
}

fn grant(grantee: &str, operations: Value) -> Value {
    json!({"KeyId": "arn:aws:kms:eu-west-1:111122223333:key/k", "GrantId": "g-1", "Name": "etl",
        "GranteePrincipal": grantee, "IssuingAccount": format!("arn:aws:iam::{OWNER}:root"),
        "Operations": operations})
}

fn grants(v: Value) -> Vec<Grant> {
    parse_grants(&v).unwrap()
}

const READ: &[&str] = &["kms:Decrypt"];
const WRITE: &[&str] = &["kms:GenerateDataKey", "kms:Decrypt"];

macro_rules! halves {
    ($($name:ident: $policy:expr, $grants:expr, $account:expr, $needed:expr => missing $missing:expr, grants $used:expr;)*) => {$(
        #[test]
        fn $name() {
            let grants: Vec<Grant> = $grants;
            let half = key_half(&$policy, &grants, OWNER, $account, $needed);
            let want: &[&str] = $missing;
            assert_eq!(half.missing, want, "{half:#?}");
            let used: &[&str] = $used;
            assert_eq!(half.grants, used, "{half:#?}");
            assert_eq!(half.complete(), want.is_empty());
        }
    )*};
}

halves! {
    reader_granted_decrypt_reads: policy(vec![allow(READER, json!(["kms:Decrypt", "kms:DescribeKey"]))]), vec![], READER, READ
        => missing &[], grants &[];
    reader_cannot_write: policy(vec![allow(READER, json!(["kms:Decrypt", "kms:DescribeKey"]))]), vec![], READER, WRITE
        => missing &["kms:GenerateDataKey"], grants &[];
    writer_only_account_writes_single_part: policy(vec![allow(WRITER, json!("kms:GenerateDataKey*"))]), vec![], WRITER, &["kms:GenerateDataKey"]
        => missing &[], grants &[];
    writer_only_account_lacks_decrypt_for_multipart: policy(vec![allow(WRITER, json!("kms:GenerateDataKey*"))]), vec![], WRITER, WRITE
        => missing &["kms:Decrypt"], grants &[];
    nothing_for_an_unnamed_account: policy(vec![allow(READER, json!("kms:Decrypt"))]), vec![], WRITER, READ
        => missing &["kms:Decrypt"], grants &[];
    the_owner_is_always_complete: policy(vec![]), vec![], OWNER, WRITE
        => missing &[], grants &[];
    wide_principal_narrowed_by_caller_account: policy(vec![json!({"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"StringEquals": {"kms:CallerAccount": READER}}})]), vec![], READER, READ
        => missing &[], grants &[];
    via_service_narrows_without_refusing: policy(vec![json!({"Effect": "Allow", "Principal": {"AWS": READER}, "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}})]), vec![], READER, READ
        => missing &[], grants &[];
    grant_to_a_role_of_the_account_opts_it_in: policy(vec![]), grants(json!({"Grants": [grant("arn:aws:iam::444455556666:role/etl", json!(["Decrypt", "DescribeKey"]))]})), READER, READ
        => missing &[], grants &["g-1"];
    grant_plus_policy_cover_a_writer: policy(vec![allow(WRITER, json!("kms:Decrypt"))]), grants(json!([grant("arn:aws:iam::777788889999:root", json!(["GenerateDataKey"]))])), WRITER, WRITE
        => missing &[], grants &["g-1"];
    grant_to_a_service_principal_opts_no_account_in: policy(vec![]), grants(json!([grant("rds.eu-west-1.amazonaws.com", json!(["Decrypt"]))])), READER, READ
        => missing &["kms:Decrypt"], grants &[];
    grant_of_another_account_does_not_count: policy(vec![]), grants(json!([grant("arn:aws:iam::777788889999:role/x", json!(["Decrypt"]))])), READER, READ
        => missing &["kms:Decrypt"], grants &[];
    grant_without_usage_operations_is_not_used: policy(vec![]), grants(json!([grant("arn:aws:iam::444455556666:role/x", json!(["RetireGrant"]))])), READER, READ
        => missing &["kms:Decrypt"], grants &[];
    unconditional_deny_subtracts: policy(vec![allow(READER, json!("kms:*")), json!({"Sid": "NoDecrypt", "Effect": "Deny",
        "Principal": {"AWS": format!("arn:aws:iam::{READER}:root")}, "Action": "kms:Decrypt", "Resource": "*"})]), vec![], READER, READ
        => missing &["kms:Decrypt"], grants &[];
    deny_subtracts_a_grant_too: policy(vec![json!({"Sid": "OnlyOwner", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:PrincipalAccount": OWNER}}})]), grants(json!([grant("arn:aws:iam::444455556666:role/x", json!(["Decrypt"]))])), READER, READ
        => missing &["kms:Decrypt"], grants &["g-1"];
    deny_on_one_role_leaves_the_account: policy(vec![allow(READER, json!("kms:Decrypt")), json!({"Effect": "Deny",
        "Principal": {"AWS": "arn:aws:iam::444455556666:role/intern"}, "Action": "kms:*", "Resource": "*"})]), vec![], READER, READ
        => missing &[], grants &[];
    conditional_deny_is_not_subtracted: policy(vec![allow(READER, json!("kms:Decrypt")), json!({"Effect": "Deny", "Principal": "*",
        "Action": "kms:Decrypt", "Resource": "*", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}})]), vec![], READER, READ
        => missing &[], grants &[];
    deny_for_another_account_subtracts_nothing: policy(vec![allow(READER, json!("kms:Decrypt")), json!({"Effect": "Deny",
        "Principal": {"AWS": WRITER}, "Action": "kms:*", "Resource": "*"})]), vec![], READER, READ
        => missing &[], grants &[];
}

#[test]
fn notes_name_constraints_and_denies_that_may_apply() {
    let p = policy(vec![
        json!({"Sid": "MfaOnly", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}}),
    ]);
    let g = grants(
        json!([{"GrantId": "g-2", "GranteePrincipal": "arn:aws:iam::444455556666:root",
        "Operations": ["Decrypt"], "Constraints": {"EncryptionContextSubset": {"aws:s3:arn": "arn:aws:s3:::b"}}}]),
    );
    let half = key_half(&p, &g, OWNER, READER, READ);
    assert!(half.complete(), "{half:#?}");
    assert!(
        half.notes
            .iter()
            .any(|n| n.contains("g-2") && n.contains("constraints")),
        "{half:#?}"
    );
    assert!(
        half.notes
            .iter()
            .any(|n| n.contains("'MfaOnly' may deny account 444455556666")),
        "{half:#?}"
    );
}

#[test]
fn account_usage_lists_writers_and_grant_only_accounts() {
    let p = policy(vec![
        allow(READER, json!(["kms:Decrypt", "kms:DescribeKey"])),
        allow(WRITER, json!("kms:GenerateDataKey*")),
    ]);
    let g = grants(json!([grant(
        "arn:aws:iam::222233334444:role/backup",
        json!(["Encrypt"])
    )]));
    let usage = account_usage(&p, &g, OWNER);
    assert_eq!(usage[READER], vec!["kms:Decrypt", "kms:DescribeKey"]);
    assert_eq!(
        usage[WRITER],
        vec![
            "kms:GenerateDataKey",
            "kms:GenerateDataKeyPair",
            "kms:GenerateDataKeyPairWithoutPlaintext",
            "kms:GenerateDataKeyWithoutPlaintext"
        ]
    );
    assert_eq!(usage["222233334444"], vec!["kms:Encrypt"]);
    assert!(!usage.contains_key(OWNER));
}

#[test]
fn list_grants_shapes() {
    assert!(parse_grants(&Value::Null).unwrap().is_empty());
    assert!(parse_grants(&json!({"Grants": []})).unwrap().is_empty());
    assert!(parse_grants(&json!({"Truncated": false}))
        .unwrap()
        .is_empty());
    let g = parse_grants(&json!({"Grants": [null, 3, {"GrantId": "x"},
        {"GrantId": "g", "GranteePrincipal": "444455556666", "Operations": "Decrypt"}]}))
    .unwrap();
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].account.as_deref(), Some(READER));
    assert_eq!(g[0].operations, vec!["kms:Decrypt"]);
    assert!(!g[0].constrained);
    assert!(parse_grants(&json!("grants")).is_err());
    assert!(parse_grants(&json!({"Grants": "all"})).is_err());
}

#[test]
fn s3_directions_ask_for_their_kms_actions() {
    assert_eq!(s3_key_actions(true, false), vec!["kms:Decrypt"]);
    assert_eq!(
        s3_key_actions(false, true),
        vec!["kms:GenerateDataKey", "kms:Decrypt"]
    );
    assert_eq!(
        s3_key_actions(true, true),
        vec!["kms:GenerateDataKey", "kms:Decrypt"]
    );
    assert!(s3_key_actions(false, false).is_empty());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Arbitrary JSON as grants never panics, and every parsed grant names a grantee.
        #[test]
        fn arbitrary_grants_never_panic(v in crate::core::testing::arb_json(
            &["Decrypt", "GenerateDataKey", "arn:aws:iam::444455556666:root", "s3.amazonaws.com", "*"],
            &["Grants", "GrantId", "GranteePrincipal", "Operations", "Constraints"],
        )) {
            if let Ok(grants) = parse_grants(&v) {
                for g in &grants {
                    prop_assert!(!g.grantee.is_empty());
                    prop_assert!(g.operations.iter().all(|o| o.to_ascii_lowercase().starts_with("kms:")));
                }
                let half = key_half(&policy(vec![]), &grants, OWNER, READER, READ);
                prop_assert!(half.has.iter().all(|a| a.starts_with("kms:")));
            }
        }
    }
}

// CreateGrant in the key set (EBS / RDS sharees, DOMAIN-BEYOND-S3.md §4).
const EBS_SET: &[&str] = &["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey"];

fn grants_for_resources(account: &str) -> Value {
    json!({"Sid": "Grants", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
        "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"], "Resource": "*",
        "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}})
}

halves! {
    create_grant_for_aws_resources_counts: policy(vec![allow(READER, json!(["kms:Decrypt", "kms:DescribeKey"])), grants_for_resources(READER)]), vec![], READER, EBS_SET
        => missing &[], grants &[];
    create_grant_without_condition_counts_too: policy(vec![allow(READER, json!(["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant"]))]), vec![], READER, EBS_SET
        => missing &[], grants &[];
    create_grant_missing_is_named: policy(vec![allow(READER, json!(["kms:Decrypt", "kms:DescribeKey"]))]), vec![], READER, EBS_SET
        => missing &["kms:CreateGrant"], grants &[];
    create_grant_by_kms_star: policy(vec![allow(READER, json!("kms:*"))]), vec![], READER, EBS_SET
        => missing &[], grants &[];
    create_grant_from_a_grant: policy(vec![]), grants(json!([grant("arn:aws:iam::444455556666:role/copier", json!(["Decrypt", "DescribeKey", "CreateGrant"]))])), READER, EBS_SET
        => missing &[], grants &["g-1"];
    create_grant_denied_by_the_key_policy: policy(vec![allow(READER, json!("kms:*")),
            json!({"Effect": "Deny", "Principal": {"AWS": format!("arn:aws:iam::{READER}:root")}, "Action": "kms:CreateGrant", "Resource": "*"})]),
        vec![], READER, EBS_SET
        => missing &["kms:CreateGrant"], grants &[];
    create_grant_of_another_account_does_not_count: policy(vec![allow(READER, json!(["kms:Decrypt", "kms:DescribeKey"])), grants_for_resources(WRITER)]), vec![], READER, EBS_SET
        => missing &["kms:CreateGrant"], grants &[];
}

#[test]
fn create_grant_stays_out_of_has_unless_asked() {
    // S3 verdicts and check-key-policy's per-account list read as before issue 15.
    let p = policy(vec![allow(
        READER,
        json!(["kms:Decrypt", "kms:CreateGrant"]),
    )]);
    let half = key_half(&p, &[], OWNER, READER, READ);
    assert_eq!(half.has, vec!["kms:Decrypt"]);
    assert_eq!(account_usage(&p, &[], OWNER)[READER], vec!["kms:Decrypt"]);
    let report = crate::core::policy::key_policy::analyse_key_policy(&p, OWNER);
    assert_eq!(report.account_grant_ops[READER], vec!["kms:CreateGrant"]);
    // Not written when empty, so check-key-policy JSON is unchanged for policies without it.
    let plain = crate::core::policy::key_policy::analyse_key_policy(
        &policy(vec![allow(READER, json!("kms:Decrypt"))]),
        OWNER,
    );
    assert!(serde_json::to_value(&plain)
        .unwrap()
        .get("account_grant_ops")
        .is_none());
}
