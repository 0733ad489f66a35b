//! Rows of the evaluator: the never-widen oracle's IAM rules, and the caller-side (identity
//! policy) evaluation with its open request context.

use super::*;
use serde_json::json;

fn req(who: Who, action: &str, secure: &str) -> Vec<Request> {
    universe(
        &[who],
        &[action],
        &["arn:aws:s3:::b/k"],
        &[vec![("aws:SecureTransport", secure)]],
    )
}

/// The oracle itself: each IAM rule it models, as a named row.
#[test]
fn oracle_rows() {
    let other = Who::aws("444455556666", "role/r");
    let allow_other = json!({"Effect": "Allow", "Principal": {"AWS": "444455556666"},
        "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/*"});
    let tls_deny = json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": "arn:aws:s3:::b/*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}});
    let rows: &[(&str, Value, Vec<Request>, bool)] = &[
        (
            "account principal covers its roles",
            json!({"Statement": [allow_other]}),
            req(other.clone(), "s3:GetObject", "true"),
            true,
        ),
        (
            "action wildcard is case-insensitive",
            json!({"Statement": [allow_other]}),
            req(other.clone(), "S3:GETOBJECT", "true"),
            true,
        ),
        (
            "other action",
            json!({"Statement": [allow_other]}),
            req(other.clone(), "s3:PutObject", "true"),
            false,
        ),
        (
            "other account",
            json!({"Statement": [allow_other]}),
            req(Who::aws("222233334444", "root"), "s3:GetObject", "true"),
            false,
        ),
        (
            "TLS deny on plain HTTP",
            json!({"Statement": [allow_other, tls_deny]}),
            req(other.clone(), "s3:GetObject", "false"),
            false,
        ),
        (
            "TLS deny not on HTTPS",
            json!({"Statement": [allow_other, tls_deny]}),
            req(other.clone(), "s3:GetObject", "true"),
            true,
        ),
        (
            "NotPrincipal allow",
            json!({"Statement": {"Effect": "Allow", "NotPrincipal": {"AWS": "111122223333"}, "Action": "*", "Resource": "*"}}),
            req(Who::Anonymous, "s3:GetObject", "true"),
            true,
        ),
        (
            "NotAction allow",
            json!({"Statement": {"Effect": "Allow", "Principal": "*", "NotAction": "s3:Get*", "Resource": "*"}}),
            req(Who::Anonymous, "s3:GetObject", "true"),
            false,
        ),
        (
            "missing key fails StringEquals",
            json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}}}),
            req(Who::Anonymous, "s3:GetObject", "true"),
            false,
        ),
        (
            "missing key passes IfExists",
            json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1"}}}}),
            req(Who::Anonymous, "s3:GetObject", "true"),
            true,
        ),
        (
            "policy as a string",
            Value::String(json!({"Statement": [allow_other]}).to_string()),
            req(other.clone(), "s3:GetObject", "true"),
            true,
        ),
        (
            "no statement allows nothing",
            json!({"Version": "2012-10-17"}),
            req(other, "s3:GetObject", "true"),
            false,
        ),
    ];
    for (name, policy, u, want) in rows {
        assert_eq!(allowed(policy, u).len() == 1, *want, "{name}");
    }
}

// ---- identity policies (the caller-side diagnosis), open context -------------------------

const ROLE: &str = "arn:aws:iam::444455556666:role/analytics-etl";
const OBJECT: &str = "arn:aws:s3:::data-shared-analytics/reports/a.csv";
const KEY: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn caller() -> Who {
    Who::Aws {
        account: "444455556666".into(),
        arn: ROLE.into(),
    }
}

fn ask(action: &str, resource: &str) -> Request {
    Request::open(
        caller(),
        action,
        resource,
        &[
            ("aws:PrincipalAccount", "444455556666"),
            ("kms:ViaService", "s3.eu-west-1.amazonaws.com"),
        ],
    )
}

fn allow(action: &str, resource: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Sid": "Read", "Effect": "Allow", "Action": action, "Resource": resource}]})
}

#[test]
fn identity_rows() {
    let read = allow("s3:GetObject", "arn:aws:s3:::data-shared-analytics/*");
    let everything = allow("*", "*");
    let deny_kms = json!({"Statement": [{"Sid": "NoKeys", "Effect": "Deny", "Action": "kms:*", "Resource": "*"}]});
    let conditional = json!({"Statement": [{"Sid": "Tagged", "Effect": "Allow", "Action": "s3:GetObject",
        "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalTag/team": "data"}}}]});
    let via_s3 = json!({"Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY,
        "Condition": {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}}]});
    let other_account = json!({"Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY,
        "Condition": {"StringEquals": {"aws:PrincipalAccount": "999999999999"}}}]});
    let with_principal = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]});
    let boundary_s3 = allow("s3:*", "*");
    let n = |name, document| Named { name, document };
    type Row<'a> = (
        &'a str,
        Vec<Named<'a>>,
        Option<Named<'a>>,
        Request,
        IdentityVerdict,
    );
    let rows: Vec<Row> = vec![
        (
            "allowed by the statement that covers the object",
            vec![n("inline:read", &read)],
            None,
            ask("s3:GetObject", OBJECT),
            IdentityVerdict::Allowed {
                by: "inline:read statement 'Read'".into(),
            },
        ),
        (
            "missing action: reads do not allow writes",
            vec![n("inline:read", &read)],
            None,
            ask("s3:PutObject", OBJECT),
            IdentityVerdict::Missing,
        ),
        (
            "wrong resource: another bucket",
            vec![n("inline:read", &read)],
            None,
            ask("s3:GetObject", "arn:aws:s3:::other-bucket/reports/a.csv"),
            IdentityVerdict::Missing,
        ),
        (
            "no KMS statement: the key is missing",
            vec![n("inline:read", &read)],
            None,
            ask("kms:Decrypt", KEY),
            IdentityVerdict::Missing,
        ),
        (
            "boundary denies what the policy allows",
            vec![n("AdminAccess", &everything)],
            Some(n("boundary", &boundary_s3)),
            ask("kms:Decrypt", KEY),
            IdentityVerdict::BoundaryBlocks {
                boundary: "boundary".into(),
            },
        ),
        (
            "boundary allows too",
            vec![n("AdminAccess", &everything)],
            Some(n("boundary", &boundary_s3)),
            ask("s3:GetObject", OBJECT),
            IdentityVerdict::Allowed {
                by: "AdminAccess statement 'Read'".into(),
            },
        ),
        (
            "explicit deny beats the allow",
            vec![n("AdminAccess", &everything), n("inline:guard", &deny_kms)],
            None,
            ask("kms:Decrypt", KEY),
            IdentityVerdict::Denied {
                by: "inline:guard statement 'NoKeys'".into(),
            },
        ),
        (
            "a condition on a key the record does not carry is unknown, not missing",
            vec![n("inline:tagged", &conditional)],
            None,
            ask("s3:GetObject", OBJECT),
            IdentityVerdict::Unknown {
                conditions: vec!["StringEquals aws:PrincipalTag/team \"data\"".into()],
            },
        ),
        (
            "a condition on a known key is decided",
            vec![n("inline:via", &via_s3)],
            None,
            ask("kms:Decrypt", KEY),
            IdentityVerdict::Allowed {
                by: "inline:via statement #0".into(),
            },
        ),
        (
            "a known key with another value fails",
            vec![n("inline:other", &other_account)],
            None,
            ask("kms:Decrypt", KEY),
            IdentityVerdict::Missing,
        ),
        (
            "a statement naming a principal is not an identity statement",
            vec![n("odd", &with_principal)],
            None,
            ask("s3:GetObject", OBJECT),
            IdentityVerdict::Missing,
        ),
        (
            "no policies at all",
            vec![],
            None,
            ask("s3:GetObject", OBJECT),
            IdentityVerdict::Missing,
        ),
    ];
    for (name, policies, boundary, request, want) in rows {
        assert_eq!(
            evaluate_identity(&policies, boundary, &request),
            want,
            "{name}"
        );
    }
}

#[test]
fn open_context_makes_unknown_operators_and_malformed_conditions_unknown() {
    let odd_op = json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
        "Condition": {"DateGreaterThan": {"aws:PrincipalAccount": "2020-01-01"}}}]});
    let malformed = json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": "x"}]});
    for doc in [&odd_op, &malformed] {
        let got = evaluate(
            Kind::Identity,
            &[Named {
                name: "p",
                document: doc,
            }],
            &ask("s3:GetObject", OBJECT),
        );
        assert!(matches!(got, Decision::Unknown { .. }), "{doc}: {got:?}");
    }
    // The same in a closed context matches, as the oracle always did.
    let mut closed = ask("s3:GetObject", OBJECT);
    closed.open = false;
    let got = evaluate(
        Kind::Identity,
        &[Named {
            name: "p",
            document: &odd_op,
        }],
        &closed,
    );
    assert!(matches!(got, Decision::Allowed { .. }), "{got:?}");
}

#[test]
fn a_deny_that_may_apply_makes_an_allow_unknown() {
    let doc = json!({"Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}
    ]});
    let got = evaluate_identity(
        &[Named {
            name: "p",
            document: &doc,
        }],
        None,
        &ask("s3:GetObject", OBJECT),
    );
    assert!(
        matches!(&got, IdentityVerdict::Unknown { conditions } if conditions[0].contains("aws:SourceIp")),
        "{got:?}"
    );
}

#[test]
fn root_principals_of_any_partition_match_their_account() {
    assert!(is_root_of(
        "arn:aws-cn:iam::444455556666:root",
        "444455556666"
    ));
    assert!(!is_root_of(
        "arn:aws:iam::444455556666:role/root",
        "444455556666"
    ));
    assert!(!is_root_of(
        "arn:aws:iam::111122223333:root",
        "444455556666"
    ));
}
