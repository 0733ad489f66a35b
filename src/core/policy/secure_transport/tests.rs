//! Table tests of "TLS enforced" (DOMAIN.md §5): enforced, partial with each gap, and not
//! enforced.

use super::*;
use serde_json::json;

const B: &str = "data-bucket";

/// A Deny built from the canonical TLS statement with `overrides` merged over it
/// (a `null` override removes the field).
fn deny(overrides: Value) -> Value {
    let mut st = json!({"Sid": "TLS", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": ["arn:aws:s3:::data-bucket", "arn:aws:s3:::data-bucket/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}});
    if let (Some(st), Some(over)) = (st.as_object_mut(), overrides.as_object()) {
        for (k, v) in over {
            if v.is_null() {
                st.shift_remove(k);
            } else {
                st.insert(k.clone(), v.clone());
            }
        }
    }
    st
}

fn judge_in(v: &Value, partition: &str) -> TlsReport {
    let doc = if v.get("Statement").is_some() {
        v.clone()
    } else {
        json!({"Version": "2012-10-17", "Statement": [v]})
    };
    evaluate_tls(Some(&Policy::parse_any(&doc).unwrap()), B, partition)
}

fn check(r: &TlsReport, status: TlsStatus, statement: Option<&str>, gaps: &[&str]) {
    assert_eq!(r.status, status, "{r:#?}");
    assert_eq!(r.statement.as_deref(), statement, "{r:#?}");
    if status == TlsStatus::Enforced {
        assert!(r.gaps.is_empty(), "{r:#?}");
    } else {
        assert!(!r.gaps.is_empty(), "{r:#?}");
    }
    for want in gaps {
        assert!(
            r.gaps.iter().any(|g| g.contains(want)),
            "no gap contains {want:?}: {:#?}",
            r.gaps
        );
    }
    // A partial verdict lists exactly the gaps it names (one sentence each).
    if status == TlsStatus::Partial {
        assert_eq!(r.gaps.len(), gaps.len(), "{:#?}", r.gaps);
    }
}

use TlsStatus::{Enforced, NotEnforced, Partial};

macro_rules! tls_cases {
    ($($name:ident: $policy:expr $(, in $partition:expr)? => $status:expr, $statement:expr, [$($gap:expr),*];)*) => {$(
        #[test]
        fn $name() {
            #[allow(unused_mut, unused_assignments)]
            let mut partition = "aws";
            $(partition = $partition;)?
            let report = judge_in(&$policy, partition);
            check(&report, $status, $statement, &[$($gap),*]);
        }
    )*};
}

tls_cases! {
    canonical_statement_enforces: deny(json!({})) => Enforced, Some("TLS"), [];
    aws_star_principal: deny(json!({"Principal": {"AWS": "*"}})) => Enforced, Some("TLS"), [];
    principal_list_holding_star: deny(json!({"Principal": {"AWS": ["arn:aws:iam::111122223333:root", "*"]}})) => Enforced, Some("TLS"), [];
    action_star: deny(json!({"Action": "*"})) => Enforced, Some("TLS"), [];
    action_upper_case: deny(json!({"Action": "S3:*"})) => Enforced, Some("TLS"), [];
    action_in_list: deny(json!({"Action": ["s3:GetObject", "s3:*"]})) => Enforced, Some("TLS"), [];
    json_bool_false: deny(json!({"Condition": {"Bool": {"aws:SecureTransport": false}}})) => Enforced, Some("TLS"), [];
    capitalised_false: deny(json!({"Condition": {"Bool": {"aws:SecureTransport": "False"}}})) => Enforced, Some("TLS"), [];
    list_of_one_false: deny(json!({"Condition": {"Bool": {"aws:SecureTransport": ["false"]}}})) => Enforced, Some("TLS"), [];
    list_of_one_json_false: deny(json!({"Condition": {"Bool": {"aws:SecureTransport": [false]}}})) => Enforced, Some("TLS"), [];
    bool_if_exists: deny(json!({"Condition": {"BoolIfExists": {"aws:SecureTransport": "false"}}})) => Enforced, Some("TLS"), [];
    key_case_insensitive: deny(json!({"Condition": {"bool": {"AWS:securetransport": "false"}}})) => Enforced, Some("TLS"), [];
    resource_star: deny(json!({"Resource": "*"})) => Enforced, Some("TLS"), [];
    resource_every_bucket: deny(json!({"Resource": "arn:aws:s3:::*"})) => Enforced, Some("TLS"), [];
    resource_bucket_prefix: deny(json!({"Resource": "arn:aws:s3:::data-*"})) => Enforced, Some("TLS"), [];
    resource_bucket_star: deny(json!({"Resource": "arn:aws:s3:::data-bucket*"})) => Enforced, Some("TLS"), [];
    china_partition: deny(json!({"Resource": ["arn:aws-cn:s3:::data-bucket", "arn:aws-cn:s3:::data-bucket/*"]})), in "aws-cn"
        => Enforced, Some("TLS"), [];
    no_sid_named_by_index: json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"},
        deny(json!({"Sid": null}))]}) => Enforced, Some("#1"), [];
    enforcing_beats_partial: json!({"Statement": [deny(json!({"Sid": "Half", "Resource": "arn:aws:s3:::data-bucket"})),
        deny(json!({"Sid": "Full"}))]}) => Enforced, Some("Full"), [];
    // Partial: each gap named.
    bucket_only: deny(json!({"Resource": "arn:aws:s3:::data-bucket"})) => Partial, Some("TLS"), ["does not cover the objects"];
    objects_only: deny(json!({"Resource": "arn:aws:s3:::data-bucket/*"})) => Partial, Some("TLS"), ["does not cover the bucket itself"];
    some_objects_only: deny(json!({"Resource": ["arn:aws:s3:::data-bucket", "arn:aws:s3:::data-bucket/logs/*"]}))
        => Partial, Some("TLS"), ["does not cover the objects"];
    single_character_keys_only: deny(json!({"Resource": ["arn:aws:s3:::data-bucket", "arn:aws:s3:::data-bucket/?"]}))
        => Partial, Some("TLS"), ["does not cover the objects"];
    other_bucket: deny(json!({"Resource": ["arn:aws:s3:::other", "arn:aws:s3:::other/*"]})) => Partial, Some("TLS"), ["covers neither"];
    wrong_partition: deny(json!({})), in "aws-cn" => Partial, Some("TLS"), ["covers neither arn:aws-cn:s3:::data-bucket"];
    not_resource: deny(json!({"Resource": null, "NotResource": "arn:aws:s3:::other/*"})) => Partial, Some("TLS"), ["NotResource"];
    no_resource: deny(json!({"Resource": null})) => Partial, Some("TLS"), ["no Resource"];
    not_principal: deny(json!({"Principal": null, "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"}}))
        => Partial, Some("TLS"), ["NotPrincipal"];
    named_principal: deny(json!({"Principal": {"AWS": "arn:aws:iam::444455556666:root"}}))
        => Partial, Some("TLS"), ["names only arn:aws:iam::444455556666:root"];
    not_action: deny(json!({"Action": null, "NotAction": "s3:GetObject"})) => Partial, Some("TLS"), ["NotAction"];
    narrow_action: deny(json!({"Action": ["s3:GetObject", "s3:PutObject"]})) => Partial, Some("TLS"), ["rather than \"s3:*\""];
    true_is_wrong: deny(json!({"Condition": {"Bool": {"aws:SecureTransport": "true"}}})) => Partial, Some("TLS"), ["denies HTTPS requests"];
    json_true_is_wrong: deny(json!({"Condition": {"Bool": {"aws:SecureTransport": true}}})) => Partial, Some("TLS"), ["denies HTTPS requests"];
    several_values_are_wrong: deny(json!({"Condition": {"Bool": {"aws:SecureTransport": ["false", "true"]}}}))
        => Partial, Some("TLS"), ["several values"];
    string_operator_is_wrong: deny(json!({"Condition": {"StringEquals": {"aws:SecureTransport": "false"}}}))
        => Partial, Some("TLS"), ["instead of Bool"];
    set_operator_is_wrong: deny(json!({"Condition": {"ForAnyValue:Bool": {"aws:SecureTransport": "false"}}}))
        => Partial, Some("TLS"), ["set operator"];
    extra_account_condition: deny(json!({"Condition": {"Bool": {"aws:SecureTransport": "false"},
        "StringEquals": {"aws:PrincipalAccount": "444455556666"}}})) => Partial, Some("TLS"), ["aws:PrincipalAccount"];
    extra_key_in_same_operator: deny(json!({"Condition": {"Bool": {"aws:SecureTransport": "false", "aws:ViaAWSService": "false"}}}))
        => Partial, Some("TLS"), ["aws:ViaAWSService"];
    repeated_tls_test: deny(json!({"Condition": {"Bool": {"aws:SecureTransport": "false"}, "BoolIfExists": {"aws:SecureTransport": "false"}}}))
        => Partial, Some("TLS"), ["repeats"];
    several_gaps_listed: deny(json!({"Principal": {"AWS": "444455556666"}, "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::data-bucket/*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}))
        => Partial, Some("TLS"), ["names only", "rather than", "bucket itself", "denies HTTPS"];
    closest_partial_reported: json!({"Statement": [
        deny(json!({"Sid": "Far", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::other"})),
        deny(json!({"Sid": "Near", "Resource": "arn:aws:s3:::data-bucket"}))]})
        => Partial, Some("Near"), ["does not cover the objects"];
    // Not enforced.
    empty_policy: json!({"Statement": []}) => NotEnforced, None, ["no Deny statement refuses"];
    allow_on_secure_transport_true: json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::data-bucket/*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}})
        => NotEnforced, None, ["is an Allow conditioned on aws:SecureTransport"];
    tls_version_only: deny(json!({"Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}}}))
        => NotEnforced, None, ["minimum TLS version"];
    deny_without_condition_is_not_tls: deny(json!({"Condition": null})) => NotEnforced, None, ["no Deny statement refuses"];
    allow_shaped_like_tls_deny: deny(json!({"Effect": "Allow"})) => NotEnforced, None, ["is an Allow"];
}

#[test]
fn no_policy_is_not_enforced() {
    let r = evaluate_tls(None, B, "aws");
    check(&r, NotEnforced, None, &["bucket has no policy"]);
    assert_eq!(r.gaps, vec!["bucket has no policy"]);
}

#[test]
fn malformed_condition_is_a_gap() {
    let mut st = deny(json!({}));
    st["Condition"]["StringEquals"] = json!("x");
    let r = judge_in(&st, "aws");
    check(&r, Partial, Some("TLS"), &["cannot be read"]);
}
