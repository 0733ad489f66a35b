//! Table tests of the key policy analyser (one named row per policy shape, the M8 vocabulary
//! rows included) and a property test that analysis never panics.

use super::*;
use crate::core::json::is_account_id;
use crate::core::policy::patch::usage_grant::add_usage_grants;
use proptest::prelude::*;
use serde_json::{json, Value};

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

fn rules(r: &KeyPolicyReport) -> Vec<&str> {
    r.issues.iter().map(|i| i.rule.as_str()).collect()
}

const USAGE: [&str; 5] = [
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:DescribeKey",
];

macro_rules! policy_cases {
    ($($name:ident: $input:expr => |$r:ident| $body:block)*) => {$(
        #[test]
        fn $name() {
            let $r = analyse(&$input);
            $body
        }
    )*};
}

policy_cases! {
    default_key_policy_is_owner_only: key_policy(json!([])) => |r| {
        assert_eq!(r, KeyPolicyReport::default());
    }
    console_default_with_admins_and_users: key_policy(json!([
        {"Sid": "Allow access for Key Administrators", "Effect": "Allow",
         "Principal": {"AWS": format!("arn:aws:iam::{OWNER}:role/KeyAdmin")},
         "Action": ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"],
         "Resource": "*"},
        {"Sid": "Allow use of the key", "Effect": "Allow",
         "Principal": {"AWS": format!("arn:aws:iam::{OWNER}:user/app")}, "Action": USAGE, "Resource": "*"}
    ])) => |r| {
        assert!(r.issues.is_empty());
        assert!(r.usage_accounts.is_empty());
    }
    aws_managed_s3_key_policy: json!({"Version": "2012-10-17", "Id": "auto-s3-2", "Statement": [
        {"Sid": "Allow access through S3 for all principals in the account that are authorized to use S3",
         "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": USAGE, "Resource": "*",
         "Condition": {"StringEquals": {"kms:CallerAccount": OWNER, "kms:ViaService": "s3.eu-west-1.amazonaws.com"}}},
        {"Sid": "Allow direct access to key metadata to the account", "Effect": "Allow",
         "Principal": {"AWS": format!("arn:aws:iam::{OWNER}:root")},
         "Action": ["kms:Describe*", "kms:Get*", "kms:List*"], "Resource": "*"}]}) => |r| {
        assert!(!r.public);
        assert!(r.issues.is_empty(), "{:?}", r.issues);
        assert!(r.usage_accounts.is_empty());
        assert!(r.grants_usage_to(OWNER, OWNER));
        assert!(!r.grants_usage_to(OWNER, OTHER));
    }
    cross_account_root_usage: key_policy(json!({"Sid": "Allow use of the key", "Effect": "Allow",
        "Principal": {"AWS": [format!("arn:aws:iam::{OTHER}:root")]}, "Action": USAGE, "Resource": "*"})) => |r| {
        assert_eq!(r.usage_accounts, vec![OTHER]);
        assert!(r.admin_accounts.is_empty());
        assert!(r.issues.is_empty());
        assert!(r.grants_usage_to(OWNER, OTHER));
        assert!(!r.grants_usage_to(OWNER, THIRD));
    }
    cross_account_role_usage: key_policy(allow(json!({"AWS": format!("arn:aws:iam::{OTHER}:role/etl")}), json!(["kms:Decrypt", "kms:GenerateDataKey"]))) => |r| {
        assert_eq!(r.usage_accounts, vec![OTHER]);
        assert!(r.issues.is_empty());
    }
    cross_account_bare_id_usage: key_policy(allow(json!({"AWS": OTHER}), json!("kms:Decrypt"))) => |r| {
        assert_eq!(r.usage_accounts, vec![OTHER]);
    }
    assumed_role_principal: key_policy(allow(json!({"AWS": format!("arn:aws:sts::{OTHER}:assumed-role/etl/session")}), json!("kms:Decrypt"))) => |r| {
        assert_eq!(r.usage_accounts, vec![OTHER]);
    }
    encrypt_only_is_not_usage_account: key_policy(allow(json!({"AWS": OTHER}), json!(["kms:Encrypt", "kms:GenerateDataKey*"]))) => |r| {
        assert!(r.usage_accounts.is_empty());
        assert!(r.issues.is_empty());
    }
    usage_patterns_lower_case: key_policy(allow(json!({"AWS": OTHER}), json!(["KMS:decrypt", "kms:generatedatakey*", "kms:describe*", "kms:reencrypt*"]))) => |r| {
        assert_eq!(r.usage_accounts, vec![OTHER]);
        assert!(r.issues.is_empty(), "{:?}", r.issues);
    }
    read_only_metadata_is_not_admin: key_policy(allow(json!({"AWS": OTHER}), json!(["kms:Get*", "kms:List*", "kms:Describe*"]))) => |r| {
        assert!(r.issues.is_empty());
        assert!(r.usage_accounts.is_empty());
    }
    cross_account_kms_star: key_policy(allow(json!({"AWS": format!("arn:aws:iam::{OTHER}:root")}), json!("kms:*"))) => |r| {
        assert_eq!(r.usage_accounts, vec![OTHER]);
        assert_eq!(r.admin_accounts, vec![OTHER]);
        assert_eq!(rules(&r), vec!["KEY_EXTERNAL_ADMIN"]);
        assert_eq!(r.issues[0].account.as_deref(), Some(OTHER));
        assert_eq!(r.issues[0].statement, "#1");
        assert!(r.issues[0].detail.contains("kms:PutKeyPolicy"));
        assert!(r.issues[0].detail.contains("kms:ScheduleKeyDeletion"));
        assert!(!r.issues[0].detail.contains("kms:Decrypt"));
    }
    cross_account_star: key_policy(allow(json!({"AWS": OTHER}), json!("*"))) => |r| {
        assert_eq!(r.admin_accounts, vec![OTHER]);
    }
    cross_account_put: key_policy(allow(json!({"AWS": OTHER}), json!(["kms:Decrypt", "kms:Put*"]))) => |r| {
        assert_eq!(r.admin_accounts, vec![OTHER]);
        assert_eq!(r.issues[0].detail, format!("account {OTHER} is allowed beyond usage: kms:Put* (kms:PutKeyPolicy)"));
    }
    cross_account_schedule_deletion: key_policy(json!({"Sid": "Oops", "Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "kms:ScheduleKeyDeletion", "Resource": "*"})) => |r| {
        assert!(r.usage_accounts.is_empty());
        assert_eq!(r.admin_accounts, vec![OTHER]);
        assert_eq!(r.issues[0].statement, "Oops");
        assert_eq!(r.issues[0].detail, format!("account {OTHER} is allowed beyond usage: kms:ScheduleKeyDeletion"));
    }
    cross_account_disable_star: key_policy(allow(json!({"AWS": OTHER}), json!("kms:Disable*"))) => |r| {
        assert!(r.issues[0].detail.contains("kms:DisableKey, kms:DisableKeyRotation"));
    }
    create_grant_for_aws_resources_is_harmless: key_policy(json!({"Sid": "Allow attachment of persistent resources", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{OTHER}:root")},
        "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"], "Resource": "*",
        "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}})) => |r| {
        assert!(r.issues.is_empty(), "{:?}", r.issues);
        assert!(r.admin_accounts.is_empty());
    }
    create_grant_condition_as_json_bool: key_policy(json!({"Effect": "Allow", "Principal": {"AWS": OTHER},
        "Action": "kms:CreateGrant", "Resource": "*", "Condition": {"Bool": {"kms:GrantIsForAWSResource": true}}})) => |r| {
        assert!(r.issues.is_empty());
    }
    create_grant_without_condition_is_admin: key_policy(allow(json!({"AWS": OTHER}), json!(["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]))) => |r| {
        assert_eq!(r.admin_accounts, vec![OTHER]);
        assert_eq!(r.issues[0].detail, format!("account {OTHER} is allowed beyond usage: kms:CreateGrant; kms:RevokeGrant"));
    }
    create_grant_if_exists_is_admin: key_policy(json!({"Effect": "Allow", "Principal": {"AWS": OTHER},
        "Action": "kms:CreateGrant", "Resource": "*", "Condition": {"BoolIfExists": {"kms:GrantIsForAWSResource": "true"}}})) => |r| {
        assert_eq!(r.admin_accounts, vec![OTHER]);
    }
    sign_is_beyond_usage: key_policy(allow(json!({"AWS": OTHER}), json!(["kms:Sign", "kms:Verify", "kms:GetPublicKey"]))) => |r| {
        assert_eq!(r.issues[0].detail, format!("account {OTHER} is allowed beyond usage: kms:Sign; kms:Verify"));
    }
    unknown_kms_action_fails_closed: key_policy(allow(json!({"AWS": OTHER}), json!("kms:FrobnicateKey"))) => |r| {
        assert_eq!(r.admin_accounts, vec![OTHER]);
        assert!(r.issues[0].detail.contains("not a known KMS action"));
    }
    other_service_actions_grant_nothing: key_policy(allow(json!({"AWS": OTHER}), json!("s3:GetObject"))) => |r| {
        assert_eq!(r, KeyPolicyReport::default());
    }
    not_action_allow_is_admin: key_policy(json!({"Effect": "Allow", "Principal": {"AWS": OTHER}, "NotAction": "kms:ScheduleKeyDeletion", "Resource": "*"})) => |r| {
        assert_eq!(r.admin_accounts, vec![OTHER]);
        assert_eq!(r.usage_accounts, vec![OTHER]);
        assert!(r.issues[0].detail.contains("NotAction"));
        assert!(r.issues[0].detail.contains("kms:PutKeyPolicy"));
    }
    not_action_excluding_decrypt: key_policy(json!({"Effect": "Allow", "Principal": {"AWS": OTHER}, "NotAction": ["kms:Decrypt"], "Resource": "*"})) => |r| {
        assert!(r.usage_accounts.is_empty());
        assert_eq!(r.admin_accounts, vec![OTHER]);
    }
    public_star_without_condition: key_policy(allow(json!("*"), json!("kms:Decrypt"))) => |r| {
        assert!(r.public);
        assert_eq!(rules(&r), vec!["KEY_PUBLIC"]);
        assert!(r.issues[0].detail.starts_with("Principal * without any condition"));
        assert!(r.usage_accounts.is_empty());
    }
    public_aws_star_list: key_policy(allow(json!({"AWS": ["*"]}), json!("kms:*"))) => |r| {
        assert!(r.public);
        assert_eq!(rules(&r), vec!["KEY_PUBLIC"]);
    }
    public_wildcard_account_arn: key_policy(allow(json!({"AWS": "arn:aws:iam::*:root"}), json!("kms:Decrypt"))) => |r| {
        assert!(r.public);
    }
    via_service_alone_does_not_narrow: key_policy(json!({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": USAGE, "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}})) => |r| {
        assert!(r.public);
        assert!(r.issues[0].detail.contains("StringEquals kms:ViaService"));
    }
    star_with_caller_account_other: key_policy(json!({"Effect": "Allow", "Principal": "*", "Action": USAGE, "Resource": "*",
        "Condition": {"StringEquals": {"kms:CallerAccount": [OTHER, THIRD], "kms:ViaService": "s3.eu-west-1.amazonaws.com"}}})) => |r| {
        assert!(!r.public);
        assert_eq!(r.usage_accounts, vec![OTHER, THIRD]);
        assert!(r.issues.is_empty());
    }
    star_with_principal_account_admin: key_policy(json!({"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*",
        "Condition": {"StringEqualsIfExists": {"aws:PrincipalAccount": OTHER}}})) => |r| {
        assert_eq!(r.admin_accounts, vec![OTHER]);
        assert_eq!(rules(&r), vec!["KEY_EXTERNAL_ADMIN"]);
    }
    star_with_caller_account_wildcard_is_public: key_policy(json!({"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"StringLike": {"kms:CallerAccount": "4444*"}}})) => |r| {
        assert!(r.public);
    }
    star_with_negated_account_is_public: key_policy(json!({"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"StringNotEquals": {"kms:CallerAccount": OTHER}}})) => |r| {
        assert!(r.public);
    }
    star_with_for_all_values_is_public: key_policy(json!({"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"ForAllValues:StringEquals": {"aws:PrincipalAccount": OTHER}}})) => |r| {
        assert!(r.public);
    }
    star_with_two_account_conditions_intersects: key_policy(json!({"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"StringEquals": {"kms:CallerAccount": [OTHER, THIRD]}, "ForAnyValue:StringEquals": {"aws:PrincipalAccount": [THIRD]}}})) => |r| {
        assert_eq!(r.usage_accounts, vec![THIRD]);
    }
    star_with_principal_org: key_policy(json!({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": USAGE, "Resource": "*",
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}})) => |r| {
        assert!(!r.public);
        assert_eq!(r.organisations, vec!["o-a1b2c3d4e5"]);
        assert!(r.issues.is_empty());
        assert!(r.usage_accounts.is_empty());
    }
    star_with_org_paths_admin: key_policy(json!({"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*",
        "Condition": {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*"}}})) => |r| {
        assert_eq!(r.organisations, vec!["o-a1b2c3d4e5"]);
        assert_eq!(rules(&r), vec!["KEY_EXTERNAL_ADMIN"]);
        assert_eq!(r.issues[0].account, None);
    }
    star_with_principal_arn: key_policy(json!({"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"ArnLike": {"aws:PrincipalArn": format!("arn:aws:iam::{OTHER}:role/etl-*")}}})) => |r| {
        assert_eq!(r.usage_accounts, vec![OTHER]);
        assert!(!r.public);
    }
    star_with_unknown_condition_fails_closed: key_policy(json!({"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"StringEquals": {"kms:EncryptionContext:project": "x"}}})) => |r| {
        assert!(r.public);
        assert!(r.issues[0].detail.contains("kms:EncryptionContext:project"));
    }
    star_with_malformed_condition_fails_closed: key_policy(json!({"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
        "Condition": "kms:CallerAccount=444455556666"})) => |r| {
        assert!(r.public);
    }
    not_principal_allow_is_public: key_policy(json!({"Effect": "Allow", "NotPrincipal": {"AWS": OTHER}, "Action": "kms:Decrypt", "Resource": "*"})) => |r| {
        assert!(r.public);
        assert!(r.issues[0].detail.starts_with("NotPrincipal with Allow"));
    }
    deny_statements_never_grant: key_policy(json!([
        {"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Effect": "Deny", "Principal": {"AWS": OTHER}, "Action": "kms:ScheduleKeyDeletion", "Resource": "*"}])) => |r| {
        assert_eq!(r, KeyPolicyReport::default());
    }
    misspelt_effect_grants_nothing: key_policy(json!({"Effect": "Alow", "Principal": "*", "Action": "kms:*", "Resource": "*"})) => |r| {
        assert!(!r.public);
    }
    service_principal_for_owner_is_ignored: key_policy(json!({"Sid": "AllowCloudTrail", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "kms:GenerateDataKey*", "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceArn": format!("arn:aws:cloudtrail:eu-west-1:{OWNER}:trail/main")}}})) => |r| {
        assert!(r.issues.is_empty());
        assert!(r.usage_accounts.is_empty());
    }
    service_principal_for_other_account: key_policy(json!({"Effect": "Allow", "Principal": {"Service": "logs.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:Encrypt"], "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceAccount": OTHER}}})) => |r| {
        assert_eq!(r.usage_accounts, vec![OTHER]);
    }
    service_principal_without_condition: key_policy(allow(json!({"Service": "s3.amazonaws.com"}), json!("kms:Decrypt"))) => |r| {
        assert!(r.usage_accounts.is_empty());
        assert!(!r.public);
        assert!(r.reasons.iter().any(|m| m.contains("s3.amazonaws.com")));
    }
    unique_id_principal_is_reported: key_policy(allow(json!({"AWS": "AROAEXAMPLEID1234567"}), json!("kms:*"))) => |r| {
        assert!(r.issues.is_empty());
        assert!(r.reasons.iter().any(|m| m.contains("AROAEXAMPLEID1234567")));
    }
    // M8: an AWS principal is an account only as an id or an iam / sts ARN, as in sharing.
    lambda_function_arn_principal_is_not_that_account: key_policy(allow(json!({"AWS": format!("arn:aws:lambda:eu-west-1:{OTHER}:function:x")}), json!("kms:*"))) => |r| {
        assert!(r.usage_accounts.is_empty());
        assert!(r.admin_accounts.is_empty());
        assert!(r.issues.is_empty(), "{:?}", r.issues);
        assert!(!r.public);
        assert!(r.reasons.iter().any(|m| m.contains("arn:aws:lambda:eu-west-1:444455556666:function:x")
            && m.contains("an ARN that names no valid account principal")), "{:?}", r.reasons);
    }
    s3_bucket_arn_principal_is_not_an_account: key_policy(allow(json!({"AWS": "arn:aws:s3:::other-bucket"}), json!("kms:Decrypt"))) => |r| {
        assert!(r.usage_accounts.is_empty());
        assert!(r.issues.is_empty());
        assert!(r.reasons.iter().any(|m| m.contains("arn:aws:s3:::other-bucket")));
    }
    // M8: policy variables are not fixed values, as in sharing.
    policy_variable_account_principal_is_public: key_policy(allow(json!({"AWS": "arn:aws:iam::${aws:PrincipalAccount}:root"}), json!("kms:Decrypt"))) => |r| {
        assert!(r.public);
        assert_eq!(rules(&r), vec!["KEY_PUBLIC"]);
        assert!(r.issues[0].detail.starts_with("principal arn:aws:iam::${aws:PrincipalAccount}:root"), "{:?}", r.issues);
        assert!(r.usage_accounts.is_empty());
    }
    policy_variable_org_id_is_public: key_policy(json!({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": USAGE, "Resource": "*",
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-${aws:PrincipalOrgID}"}}})) => |r| {
        assert!(r.public);
        assert!(r.organisations.is_empty());
        assert_eq!(rules(&r), vec!["KEY_PUBLIC"]);
        assert!(r.issues[0].detail.contains("StringEquals aws:PrincipalOrgID"));
    }
    policy_variable_org_path_is_public: key_policy(json!({"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-${aws:PrincipalOrgID}/*"}}})) => |r| {
        assert!(r.public);
        assert!(r.organisations.is_empty());
    }
    policy_variable_account_condition_is_public: key_policy(json!({"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"StringEquals": {"kms:CallerAccount": "${aws:PrincipalAccount}"}}})) => |r| {
        assert!(r.public);
        assert!(r.usage_accounts.is_empty());
    }
    mixed_principals_in_one_statement: key_policy(allow(json!({"AWS": [format!("arn:aws:iam::{OWNER}:root"), OTHER, format!("arn:aws:iam::{THIRD}:user/x"), OTHER]}), json!(["kms:Decrypt", "kms:CancelKeyDeletion"]))) => |r| {
        assert_eq!(r.usage_accounts, vec![OTHER, THIRD]);
        assert_eq!(r.admin_accounts, vec![OTHER, THIRD]);
        assert_eq!(r.issues.len(), 2);
    }
    single_statement_object_policy: json!({"Statement": {"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "kms:Decrypt", "Resource": "*"}}) => |r| {
        assert_eq!(r.usage_accounts, vec![OTHER]);
    }
}

#[test]
fn grants_usage_to_owner_without_statements() {
    let r = KeyPolicyReport::default();
    assert!(r.grants_usage_to(OWNER, OWNER));
    assert!(!r.grants_usage_to(OWNER, OTHER));
    assert!(!r.grants_usage_to("", ""));
}

fn accounts(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

const ARB_VALUES: &[&str] = &[
    "*",
    "Allow",
    "Deny",
    "kms:*",
    "kms:Decrypt",
    OWNER,
    OTHER,
    "o-abc",
    "true",
    "arn:aws:iam::444455556666:root",
    "arn:aws:iam::*:root",
];
const ARB_KEYS: &[&str] = &[
    "Statement",
    "Effect",
    "Principal",
    "NotPrincipal",
    "AWS",
    "Service",
    "Action",
    "NotAction",
    "Resource",
    "Condition",
    "StringEquals",
    "kms:CallerAccount",
    "aws:PrincipalOrgID",
    "aws:SourceAccount",
    "Sid",
    "Policy",
    "x",
];

fn arb_json() -> impl Strategy<Value = Value> {
    crate::core::testing::arb_json(ARB_VALUES, ARB_KEYS)
}

proptest! {
    #[test]
    fn analyse_and_patch_never_panic(v in arb_json()) {
        if let Ok(p) = Policy::parse_any(&v) {
            let r = analyse_key_policy(&p, OWNER);
            prop_assert!(r.usage_accounts.iter().all(|a| is_account_id(a) && a != OWNER));
            prop_assert!(r.admin_accounts.iter().all(|a| is_account_id(a) && a != OWNER));
        }
        let _ = add_usage_grants(&v, &accounts(&[OTHER]), "eu-west-1", "aws");
    }
}
