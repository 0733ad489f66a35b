//! Table rows for check-template: each row is a small template (or plan) and the findings and
//! unchecked rules it must give — intrinsics, linking, conditions both ways, unknown values,
//! Terraform references — plus the property that arbitrary documents never panic.

use super::*;
use proptest::prelude::*;
use serde_json::json;

use crate::core::testing::arb_json;

const OWNER: &str = "111122223333";

fn opts() -> Options {
    Options {
        account: None,
        partition: "aws".into(),
        region: None,
        trust: Trust::default(),
    }
}

fn run_with(doc: &Value, o: &Options) -> FileReport {
    let source = serde_json::to_string_pretty(doc).unwrap();
    check("t.json", doc, &source, o).expect("a template")
}

/// `(logical id, rule, when)` of every finding, sorted.
fn verdicts(r: &FileReport) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = r
        .findings
        .iter()
        .map(|f| (f.logical_id.clone(), f.rule_id.to_string(), f.when.clone()))
        .collect();
    v.sort();
    v
}

/// `(logical id, rules)` of every unchecked entry, sorted.
fn unchecked(r: &FileReport) -> Vec<(String, Vec<String>)> {
    let mut v: Vec<_> = r
        .unchecked
        .iter()
        .map(|u| {
            (
                u.logical_id.clone(),
                u.rules.iter().map(|r| r.to_string()).collect(),
            )
        })
        .collect();
    v.sort();
    v
}

fn tls_deny(bucket: &str) -> Value {
    json!({"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*",
        "Resource": [{"Fn::GetAtt": [bucket, "Arn"]}, {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/*"]]}],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
}

fn share(bucket: &str, principal: Value) -> Value {
    json!({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "s3:GetObject",
        "Resource": {"Fn::Sub": format!("${{{bucket}.Arn}}/*")}})
}

fn bucket(encryption: Value) -> Value {
    if encryption.is_null() {
        return json!({"Type": "AWS::S3::Bucket"});
    }
    json!({"Type": "AWS::S3::Bucket", "Properties": {"BucketEncryption": {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": encryption}]}}})
}

fn policy(bucket: &str, statements: Value) -> Value {
    json!({"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": {"Ref": bucket},
        "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}})
}

fn key(statements: Value, rotation: bool) -> Value {
    json!({"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": rotation,
        "KeyPolicy": {"Version": "2012-10-17", "Statement": statements}}})
}

fn root_of(account: &str) -> Value {
    json!({"Fn::Sub": format!("arn:${{AWS::Partition}}:iam::{account}:root")})
}

fn own_root() -> Value {
    json!({"Effect": "Allow", "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}, "Action": "kms:*", "Resource": "*"})
}

fn usage(account: &str) -> Value {
    json!({"Effect": "Allow", "Principal": {"AWS": root_of(account)}, "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"})
}

fn kms(key_ref: Value) -> Value {
    json!({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_ref})
}

fn getatt(id: &str) -> Value {
    json!({"Fn::GetAtt": [id, "Arn"]})
}

/// A shared, TLS-enforcing bucket `B` with `encryption`, plus `extra` resources.
fn shared(encryption: Value, extra: Value) -> Value {
    let mut resources = json!({
        "B": bucket(encryption),
        "P": policy("B", json!([tls_deny("B"), share("B", root_of("444455556666"))])),
    });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        resources[k] = v;
    }
    json!({"Resources": resources})
}

macro_rules! template_cases {
    ($($name:ident: $doc:expr => [$(($id:expr, $rule:expr, $when:expr)),*] $(, unchecked [$(($uid:expr, [$($urule:expr),*])),*])?;)*) => {$(
        #[test]
        fn $name() {
            let r = run_with(&$doc, &opts());
            let want: Vec<(String, String, String)> = vec![$(($id.to_string(), $rule.to_string(), $when.to_string())),*];
            let mut want = want;
            want.sort();
            assert_eq!(verdicts(&r), want, "{:#?}", r);
            $(
                let mut wu: Vec<(String, Vec<String>)> = vec![$(($uid.to_string(), vec![$($urule.to_string()),*])),*];
                wu.sort();
                assert_eq!(unchecked(&r), wu, "{:#?}", r.unchecked);
            )?
        }
    )*};
}

const A: &str = "always";

template_cases! {
    cdk_enforce_ssl_getatt_and_join_is_tls_enforced:
        json!({"Resources": {"B": bucket(Value::Null), "P": policy("B", json!([tls_deny("B")]))}}) => [];
    bucket_without_policy_is_tls_not_enforced:
        json!({"Resources": {"B": bucket(Value::Null)}}) => [("B", "TLS_NOT_ENFORCED", A)];
    deny_on_objects_only_is_partial:
        json!({"Resources": {"B": bucket(Value::Null), "P": policy("B", json!([{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${B}/*"}, "Condition": {"Bool": {"aws:SecureTransport": false}}}]))}})
        => [("B", "TLS_PARTIAL", A)];
    shared_under_aws_s3_alias:
        shared(kms(json!("alias/aws/s3")), json!({})) => [("B", "SHARED_BUCKET_AWS_MANAGED_KEY", A)];
    shared_under_aws_kms_without_key_id:
        shared(json!({"SSEAlgorithm": "aws:kms"}), json!({})) => [("B", "SHARED_BUCKET_AWS_MANAGED_KEY", A)];
    shared_under_sse_s3:
        shared(json!({"SSEAlgorithm": "AES256"}), json!({})) => [("B", "SHARED_BUCKET_SSE_S3", A)];
    shared_without_encryption_configuration_is_sse_s3:
        shared(Value::Null, json!({})) => [("B", "SHARED_BUCKET_SSE_S3", A)];
    shared_under_template_cmk_by_arn_granting_the_account:
        shared(kms(getatt("K")), json!({"K": key(json!([own_root(), usage("444455556666")]), true)})) => [];
    template_cmk_missing_the_account:
        shared(kms(getatt("K")), json!({"K": key(json!([own_root(), usage("777788889999")]), true)}))
        => [("B", "KEY_POLICY_MISSING_GRANT", A)];
    key_by_ref_is_a_key_id_not_an_arn:
        shared(kms(json!({"Ref": "K"})), json!({"K": key(json!([own_root(), usage("444455556666")]), true)}))
        => [("B", "SHARED_BUCKET_KEY_NOT_ARN", A)];
    key_by_alias_of_the_template_is_not_an_arn:
        shared(kms(json!({"Fn::Sub": "alias/${Alias}"})), json!({
            "K": key(json!([own_root(), usage("444455556666")]), true),
            "Alias": {"Type": "AWS::KMS::Alias", "Properties": {"AliasName": "alias/data", "TargetKeyId": {"Ref": "K"}}}}))
        => [("B", "SHARED_BUCKET_KEY_NOT_ARN", A)];
    key_without_key_policy_gets_the_default_which_grants_only_the_owner:
        shared(kms(getatt("K")), json!({"K": {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": true}}}))
        => [("B", "KEY_POLICY_MISSING_GRANT", A)];
    key_rotation_is_off_by_default:
        json!({"Resources": {"K": {"Type": "AWS::KMS::Key"}}}) => [("K", "KEY_ROTATION_DISABLED", A)];
    key_public_and_external_admin:
        json!({"Resources": {"K": key(json!([own_root(),
            {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"},
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action": "kms:*", "Resource": "*"}]), true)}})
        => [("K", "KEY_EXTERNAL_ADMIN", A), ("K", "KEY_PUBLIC", A)];
    imported_key_material_is_pending_import_and_manual_rotation:
        shared(kms(getatt("K")), json!({"K": {"Type": "AWS::KMS::Key", "Properties": {"Origin": "EXTERNAL",
            "KeyPolicy": {"Statement": [own_root(), usage("444455556666")]}}}}))
        => [("B", "SHARED_BUCKET_KEY_UNUSABLE", A), ("K", "KEY_ROTATION_DISABLED", A)];
    the_templates_own_role_is_the_owner_not_a_share:
        json!({"Resources": {"B": bucket(json!({"SSEAlgorithm": "aws:kms"})),
            "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
            "P": policy("B", json!([tls_deny("B"), share("B", getatt("Role"))]))}}) => [];
    a_service_principal_conditioned_on_the_owner_is_not_a_share:
        json!({"Resources": {"B": bucket(json!({"SSEAlgorithm": "aws:kms"})),
            "P": policy("B", json!([tls_deny("B"), {"Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject", "Resource": {"Fn::Sub": "${B.Arn}/*"},
                "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}}]))}}) => [];
    parameter_default_names_the_account:
        json!({"Parameters": {"Partner": {"Type": "String", "Default": "444455556666"}},
            "Resources": {"B": bucket(json!({"SSEAlgorithm": "AES256"})),
            "P": policy("B", json!([tls_deny("B"), share("B", json!({"Ref": "Partner"}))]))}})
        => [("B", "SHARED_BUCKET_SSE_S3", A)];
    principal_without_a_default_is_an_unknown_principal_fail_closed:
        json!({"Parameters": {"Partner": {"Type": "String"}},
            "Resources": {"B": bucket(json!({"SSEAlgorithm": "aws:kms"})),
            "P": policy("B", json!([tls_deny("B"), share("B", json!({"Fn::Sub": "arn:aws:iam::${Partner}:root"}))]))}})
        => [("B", "SHARED_BUCKET_AWS_MANAGED_KEY", A)];
    imported_key_is_unknown_not_a_finding:
        shared(kms(json!({"Fn::ImportValue": "shared-key"})), json!({}))
        => [], unchecked [("B", ["SHARED_BUCKET_KEY_NOT_ARN", "SHARED_BUCKET_KEY_UNUSABLE", "KEY_POLICY_MISSING_GRANT"])];
    imported_key_id_in_an_arn_keeps_the_arn_rule:
        shared(kms(json!({"Fn::Sub": ["arn:aws:kms:eu-west-1:999988887777:key/${Id}", {"Id": {"Fn::ImportValue": "key-id"}}]})), json!({}))
        => [], unchecked [("B", ["SHARED_BUCKET_KEY_UNUSABLE", "KEY_POLICY_MISSING_GRANT"])];
    external_key_by_full_arn_is_named_and_not_judged:
        shared(kms(json!("arn:aws:kms:us-east-0:999988887777:key/1234abcd-12ab-34cd-56ef-1234567890ab")), json!({}))
        => [], unchecked [("B", ["SHARED_BUCKET_KEY_UNUSABLE", "KEY_POLICY_MISSING_GRANT"])];
    statement_under_a_condition_is_reported_with_it:
        json!({"Conditions": {"ShareIt": {"Fn::Equals": [{"Ref": "Mode"}, "share"]}},
            "Parameters": {"Mode": {"Type": "String", "Default": "private"}},
            "Resources": {"B": bucket(json!({"SSEAlgorithm": "AES256"})),
            "P": policy("B", json!([tls_deny("B"), {"Fn::If": ["ShareIt", share("B", root_of("444455556666")), {"Ref": "AWS::NoValue"}]}]))}})
        => [("B", "SHARED_BUCKET_SSE_S3", "ShareIt is true")];
    policy_that_exists_only_under_a_condition:
        json!({"Conditions": {"Hardened": {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]}},
            "Resources": {"B": bucket(Value::Null),
            "P": {"Condition": "Hardened", "Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": {"Ref": "B"},
                "PolicyDocument": {"Statement": [tls_deny("B")]}}}}})
        => [("B", "TLS_NOT_ENFORCED", "Hardened is false")];
    derived_conditions_follow_their_base:
        json!({"Conditions": {"Prod": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}, "NotProd": {"Fn::Not": [{"Condition": "Prod"}]}},
            "Parameters": {"Env": {"Type": "String"}},
            "Resources": {"B": bucket(json!({"SSEAlgorithm": {"Fn::If": ["NotProd", "AES256", "aws:kms"]}})),
            "P": policy("B", json!([tls_deny("B"), share("B", root_of("444455556666"))]))}})
        => [("B", "SHARED_BUCKET_AWS_MANAGED_KEY", "NotProd is false"),
            ("B", "SHARED_BUCKET_SSE_S3", "NotProd is true")];
    two_policies_on_one_bucket_are_each_judged:
        json!({"Resources": {"B": bucket(Value::Null), "P1": policy("B", json!([tls_deny("B")])),
            "P2": policy("B", json!([share("B", root_of("444455556666"))]))}})
        => [("B", "SHARED_BUCKET_SSE_S3", A), ("B", "TLS_NOT_ENFORCED", A)];
    public_read_acl_shares_the_bucket:
        json!({"Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {"AccessControl": "PublicRead"}},
            "P": policy("B", json!([tls_deny("B")]))}}) => [("B", "SHARED_BUCKET_SSE_S3", A)];
    log_delivery_acl_does_not_share:
        json!({"Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {"AccessControl": "LogDeliveryWrite"}},
            "P": policy("B", json!([tls_deny("B")]))}}) => [];
    policy_of_a_bucket_outside_the_template:
        json!({"Resources": {"P": {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": "legacy-bucket",
            "PolicyDocument": {"Statement": [share("X", root_of("444455556666"))]}}}}})
        => [("P", "TLS_NOT_ENFORCED", A)], unchecked [("P", ["SHARED_BUCKET_AWS_MANAGED_KEY", "SHARED_BUCKET_SSE_S3", "SHARED_BUCKET_KEY_NOT_ARN", "SHARED_BUCKET_KEY_UNUSABLE", "KEY_POLICY_MISSING_GRANT"])];
    policy_naming_a_template_bucket_by_its_literal_name_is_linked:
        json!({"Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "my-data"}},
            "P": {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": "my-data",
            "PolicyDocument": {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": ["arn:aws:s3:::my-data", "arn:aws:s3:::my-data/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}}}}})
        => [];
    exemption_tag_marks_the_finding_exempt:
        json!({"Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {"Tags": [{"Key": "cmkguard:exempt", "Value": "true"}]}}}})
        => [("B", "TLS_NOT_ENFORCED", A)];
    self_reference_does_not_loop:
        json!({"Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": {"Ref": "B"}}}}})
        => [("B", "TLS_NOT_ENFORCED", A)];
    find_in_map_select_and_split_resolve:
        json!({"Mappings": {"Accounts": {"partner": {"id": "444455556666,555566667777"}}},
            "Resources": {"B": bucket(json!({"SSEAlgorithm": "AES256"})),
            "P": policy("B", json!([tls_deny("B"), share("B", json!({"Fn::Select": [1, {"Fn::Split": [",", {"Fn::FindInMap": ["Accounts", "partner", "id"]}]}]}))]))}})
        => [("B", "SHARED_BUCKET_SSE_S3", A)];
}

#[test]
fn findings_name_file_line_related_resources_and_cdk_path() {
    let doc = shared(
        kms(getatt("K")),
        json!({"K": key(json!([own_root()]), true)}),
    );
    let mut doc = doc;
    doc["Resources"]["B"]["Metadata"] = json!({"aws:cdk:path": "Stack/B/Resource"});
    let r = run_with(&doc, &opts());
    let f = &r.findings[0];
    assert_eq!(f.rule_id, RuleId::KeyPolicyMissingGrant);
    assert_eq!(f.file, "t.json");
    assert!(f.line.is_some());
    let related: Vec<&str> = f.related.iter().map(|r| r.logical_id.as_str()).collect();
    assert_eq!(related, vec!["P", "K"]);
    assert_eq!(f.cdk_path.as_deref(), Some("Stack/B/Resource"));
    assert_eq!(f.resource_type, "AWS::S3::Bucket");
    // Placeholders and markers are shown as what they stand for.
    assert!(f.resource_arn == "arn:aws:s3:::${B}", "{}", f.resource_arn);
    assert!(
        f.reasons
            .iter()
            .any(|r| r.contains("arn:aws:kms:${AWS::Region}:${AWS::AccountId}:key/${K}")),
        "{:#?}",
        f.reasons
    );
}

#[test]
fn account_and_region_from_the_command_line_are_used_and_shown() {
    let doc = json!({"Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": {"Fn::Sub": "data-${AWS::AccountId}-${AWS::Region}"}}}}});
    let o = Options {
        account: Some(OWNER.into()),
        region: Some("eu-west-1".into()),
        ..opts()
    };
    let r = run_with(&doc, &o);
    assert_eq!(
        r.findings[0].resource_arn,
        "arn:aws:s3:::data-111122223333-eu-west-1"
    );
    // With the account given, a principal of that account is the owner.
    let doc = json!({"Resources": {"B": bucket(json!({"SSEAlgorithm": "aws:kms"})),
        "P": policy("B", json!([tls_deny("B"), share("B", json!("arn:aws:iam::111122223333:role/etl"))]))}});
    assert_eq!(verdicts(&run_with(&doc, &o)), vec![]);
    assert_eq!(
        verdicts(&run_with(&doc, &opts())),
        vec![(
            "B".into(),
            "SHARED_BUCKET_AWS_MANAGED_KEY".into(),
            "always".into()
        )],
        "without --account, 111122223333 is another account"
    );
}

#[test]
fn a_condition_on_a_known_region_is_not_taken_both_ways() {
    let doc = json!({"Conditions": {"Hardened": {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]}},
        "Resources": {"B": bucket(Value::Null),
        "P": {"Condition": "Hardened", "Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": {"Ref": "B"},
            "PolicyDocument": {"Statement": [tls_deny("B")]}}}}});
    let o = Options {
        region: Some("eu-west-1".into()),
        ..opts()
    };
    assert_eq!(verdicts(&run_with(&doc, &o)), vec![]);
}

#[test]
fn bad_options_and_documents_are_errors_not_panics() {
    let doc = json!({"Resources": {}});
    let bad_partition = Options {
        partition: "aws-moon".into(),
        ..opts()
    };
    assert!(check("t", &doc, "", &bad_partition).is_err());
    let mismatch = Options {
        region: Some("cn-north-1".into()),
        ..opts()
    };
    assert!(matches!(
        check("t", &doc, "", &mismatch),
        Err(TemplateError::RegionPartition { .. })
    ));
    assert_eq!(
        check("t", &json!({"a": 1}), "", &opts()),
        Err(TemplateError::Unrecognised)
    );
    assert_eq!(
        detect(&json!({"resource_changes": []})),
        Some(Format::TerraformPlan)
    );
}

#[test]
fn many_conditions_are_flipped_one_at_a_time() {
    // Twelve independent conditions, each adding a statement: beyond the exhaustive limit,
    // each is still taken both ways (all on, all off, each flipped).
    let mut conditions = serde_json::Map::new();
    let mut statements = vec![tls_deny("B")];
    for i in 0..12 {
        conditions.insert(
            format!("C{i}"),
            json!({"Fn::Equals": [{"Ref": format!("P{i}")}, "on"]}),
        );
        statements.push(json!({"Fn::If": [format!("C{i}"), share("B", root_of(&format!("4444555566{i:02}"))), {"Ref": "AWS::NoValue"}]}));
    }
    let doc = json!({"Conditions": conditions, "Resources": {"B": bucket(json!({"SSEAlgorithm": "AES256"})), "P": policy("B", Value::Array(statements))}});
    let r = run_with(&doc, &opts());
    assert_eq!(r.findings.len(), 1, "{:#?}", r.findings);
    assert_eq!(r.findings[0].rule_id, RuleId::SharedBucketSseS3);
    assert!(
        r.findings[0].when.starts_with("under some combinations"),
        "{}",
        r.findings[0].when
    );
}

// ---- Terraform plans ----

fn change(address: &str, ty: &str, after: Value, unknown: Value) -> Value {
    json!({"address": address, "mode": "managed", "type": ty, "name": address.rsplit('.').next(),
        "change": {"actions": ["create"], "before": null, "after": after, "after_unknown": unknown}})
}

fn config(address: &str, expressions: Value) -> Value {
    json!({"address": address, "mode": "managed", "type": address.split('.').next(), "expressions": expressions})
}

fn plan(changes: Vec<Value>, configs: Vec<Value>) -> Value {
    json!({"format_version": "1.2", "resource_changes": changes,
        "configuration": {"provider_config": {"aws": {"expressions": {"region": {"constant_value": "eu-west-1"}}}},
            "root_module": {"resources": configs}},
        "prior_state": {"values": {"root_module": {"resources": [{"address": "data.aws_caller_identity.current", "mode": "data",
            "type": "aws_caller_identity", "values": {"account_id": OWNER}}]}}}})
}

fn tf_policy(bucket: &str, principal: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/*")}]})
    .to_string()
}

fn tf_bucket_with(key_ref: &str, key_policy_account: &str) -> Value {
    plan(
        vec![
            change(
                "aws_s3_bucket.d",
                "aws_s3_bucket",
                json!({"bucket": "d"}),
                json!({"id": true, "arn": true, "policy": true}),
            ),
            change(
                "aws_s3_bucket_policy.d",
                "aws_s3_bucket_policy",
                json!({"policy": tf_policy("d", "arn:aws:iam::444455556666:root")}),
                json!({"bucket": true}),
            ),
            change(
                "aws_s3_bucket_server_side_encryption_configuration.d",
                "aws_s3_bucket_server_side_encryption_configuration",
                json!({"rule": [{"apply_server_side_encryption_by_default": [{"sse_algorithm": "aws:kms"}], "bucket_key_enabled": true}]}),
                json!({"bucket": true, "rule": [{"apply_server_side_encryption_by_default": [{"kms_master_key_id": true}]}]}),
            ),
            change(
                "aws_kms_key.k",
                "aws_kms_key",
                json!({"enable_key_rotation": true, "policy": json!({"Statement": [
                {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{OWNER}:root")}, "Action": "kms:*", "Resource": "*"},
                {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{key_policy_account}:root")}, "Action": "kms:Decrypt", "Resource": "*"}]}).to_string()}),
                json!({"arn": true, "key_id": true}),
            ),
        ],
        vec![
            config(
                "aws_s3_bucket.d",
                json!({"bucket": {"constant_value": "d"}}),
            ),
            config(
                "aws_s3_bucket_policy.d",
                json!({"bucket": {"references": ["aws_s3_bucket.d.id", "aws_s3_bucket.d"]}, "policy": {}}),
            ),
            config(
                "aws_s3_bucket_server_side_encryption_configuration.d",
                json!({"bucket": {"references": ["aws_s3_bucket.d.id", "aws_s3_bucket.d"]},
                "rule": [{"apply_server_side_encryption_by_default": [{"kms_master_key_id": {"references": [key_ref, "aws_kms_key.k"]}}]}]}),
            ),
            config("aws_kms_key.k", json!({"policy": {}})),
        ],
    )
}

#[test]
fn terraform_links_through_references_and_names_the_key_by_arn() {
    let r = run_with(
        &tf_bucket_with("aws_kms_key.k.arn", "444455556666"),
        &opts(),
    );
    assert_eq!(r.format, Format::TerraformPlan);
    assert_eq!(verdicts(&r), vec![], "{:#?}", r);
    assert!(r.unchecked.is_empty(), "{:#?}", r.unchecked);
}

#[test]
fn terraform_key_missing_the_account() {
    let r = run_with(
        &tf_bucket_with("aws_kms_key.k.arn", "777788889999"),
        &opts(),
    );
    assert_eq!(
        verdicts(&r),
        vec![(
            "aws_s3_bucket.d".into(),
            "KEY_POLICY_MISSING_GRANT".into(),
            "always".into()
        )]
    );
    let f = &r.findings[0];
    assert!(
        f.reasons
            .iter()
            .any(|x| x.contains("arn:aws:kms:eu-west-1:111122223333:key/")),
        "{:#?}",
        f.reasons
    );
    let related: Vec<&str> = f.related.iter().map(|r| r.logical_id.as_str()).collect();
    assert!(
        related.contains(&"aws_kms_key.k") && related.contains(&"aws_s3_bucket_policy.d"),
        "{related:?}"
    );
}

#[test]
fn terraform_key_id_reference_is_not_an_arn() {
    let r = run_with(
        &tf_bucket_with("aws_kms_key.k.key_id", "444455556666"),
        &opts(),
    );
    assert_eq!(
        verdicts(&r),
        vec![(
            "aws_s3_bucket.d".into(),
            "SHARED_BUCKET_KEY_NOT_ARN".into(),
            "always".into()
        )]
    );
}

#[test]
fn terraform_grant_counts_as_the_keys_opt_in() {
    let mut p = tf_bucket_with("aws_kms_key.k.arn", "777788889999");
    p["resource_changes"].as_array_mut().unwrap().push(change(
        "aws_kms_grant.etl",
        "aws_kms_grant",
        json!({"grantee_principal": "arn:aws:iam::444455556666:role/etl", "operations": ["Decrypt", "GenerateDataKey"]}),
        json!({"key_id": true}),
    ));
    p["configuration"]["root_module"]["resources"]
        .as_array_mut()
        .unwrap()
        .push(config(
            "aws_kms_grant.etl",
            json!({"key_id": {"references": ["aws_kms_key.k.key_id", "aws_kms_key.k"]}}),
        ));
    assert_eq!(verdicts(&run_with(&p, &opts())), vec![]);
}

#[test]
fn terraform_policy_known_only_after_apply_is_unchecked() {
    let mut p = tf_bucket_with("aws_kms_key.k.arn", "444455556666");
    p["resource_changes"][1]["change"]["after"] = json!({});
    p["resource_changes"][1]["change"]["after_unknown"] = json!({"bucket": true, "policy": true});
    let r = run_with(&p, &opts());
    assert_eq!(verdicts(&r), vec![]);
    assert_eq!(unchecked(&r).len(), 1, "{:#?}", r.unchecked);
    assert!(
        r.unchecked[0].reason.contains("known only after apply"),
        "{}",
        r.unchecked[0].reason
    );
}

#[test]
fn terraform_deleted_resources_are_gone_and_planned_values_alone_work() {
    let mut p = tf_bucket_with("aws_kms_key.k.arn", "444455556666");
    p["resource_changes"][1]["change"]["actions"] = json!(["delete"]);
    let r = run_with(&p, &opts());
    assert_eq!(
        verdicts(&r),
        vec![(
            "aws_s3_bucket.d".into(),
            "TLS_NOT_ENFORCED".into(),
            "always".into()
        )]
    );
    let planned = json!({"planned_values": {"root_module": {"child_modules": [{"resources": [
        {"address": "module.m.aws_s3_bucket.x", "mode": "managed", "type": "aws_s3_bucket", "values": {"bucket": "x"}}]}]}}});
    let r = run_with(&planned, &opts());
    assert_eq!(
        verdicts(&r),
        vec![(
            "module.m.aws_s3_bucket.x".into(),
            "TLS_NOT_ENFORCED".into(),
            "always".into()
        )]
    );
}

// ---- Arbitrary documents ----

const VALUES: &[&str] = &[
    "AWS::S3::Bucket",
    "AWS::S3::BucketPolicy",
    "AWS::KMS::Key",
    "AWS::KMS::Alias",
    "aws_s3_bucket",
    "aws_s3_bucket_policy",
    "aws_kms_key",
    "aws:kms",
    "AES256",
    "alias/aws/s3",
    "B",
    "K",
    "P",
    "C",
    "Arn",
    "AWS::NoValue",
    "AWS::AccountId",
    "${B}",
    "${B.Arn}/*",
    "*",
    "Allow",
    "Deny",
    "s3:*",
    "444455556666",
];
const KEYS: &[&str] = &[
    "Resources",
    "Conditions",
    "Parameters",
    "Mappings",
    "Type",
    "Properties",
    "Condition",
    "Bucket",
    "BucketName",
    "PolicyDocument",
    "KeyPolicy",
    "BucketEncryption",
    "ServerSideEncryptionConfiguration",
    "ServerSideEncryptionByDefault",
    "SSEAlgorithm",
    "KMSMasterKeyID",
    "TargetKeyId",
    "AliasName",
    "Statement",
    "Effect",
    "Principal",
    "AWS",
    "Resource",
    "Ref",
    "Fn::GetAtt",
    "Fn::Sub",
    "Fn::Join",
    "Fn::If",
    "Fn::Select",
    "Fn::Split",
    "Fn::FindInMap",
    "Fn::Equals",
    "Fn::Not",
    "Default",
    "resource_changes",
    "planned_values",
    "change",
    "after",
    "after_unknown",
    "address",
    "type",
    "bucket",
    "policy",
    "configuration",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any document is a report or a reasoned error: never a panic, and every finding names
    /// a resource of the document.
    #[test]
    fn arbitrary_templates_never_panic(resources in arb_json(VALUES, KEYS), extra in arb_json(VALUES, KEYS)) {
        for doc in [
            json!({"Resources": resources.clone(), "Conditions": extra.clone(), "Parameters": extra.clone()}),
            json!({"resource_changes": resources.clone(), "configuration": {"root_module": {"resources": extra.clone()}}}),
            json!({"planned_values": {"root_module": {"resources": resources.clone()}}}),
            resources.clone(),
        ] {
            let source = doc.to_string();
            if let Ok(r) = check("f", &doc, &source, &opts()) {
                for f in &r.findings {
                    prop_assert!(!f.logical_id.is_empty() || f.resource_type.is_empty());
                }
            }
        }
    }
}

#[test]
fn exempt_resources_are_reported_exempt() {
    let doc = json!({"Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {"Tags": [{"Key": "cmkguard:exempt", "Value": "true"}]}}}});
    let r = run_with(&doc, &opts());
    assert!(r.findings.iter().all(|f| f.exempt), "{:#?}", r.findings);
    assert!(!r.findings.is_empty());
}
