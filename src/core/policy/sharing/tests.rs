//! Table tests of "shared" (DOMAIN.md §4): one named row per principal form, condition and ACL
//! grant, the M8 vocabulary rows included, and a property test that the judges never panic.

use super::*;
use serde_json::{json, Value};

const OWNER: &str = "111122223333";
const OTHER: &str = "444455556666";
const THIRD: &str = "777788889999";
const TRUSTED: &str = "222233334444";
const OWNER_CANON: &str = "owner-canonical-id";

fn ctx() -> BucketContext<'static> {
    BucketContext {
        bucket: "data-bucket",
        owner_account: OWNER,
        owner_canonical_id: Some(OWNER_CANON),
        partition: "aws",
    }
}

fn trust() -> Trust {
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
    Trust {
        accounts: set(&[TRUSTED]),
        orgs: set(&["o-trusted"]),
        vpcs: set(&["vpc-trusted"]),
        vpces: set(&["vpce-trusted"]),
    }
}

/// An Allow of s3:GetObject on the bucket's objects.
fn allow(principal: Value, condition: Value) -> Value {
    let mut st = json!({"Sid": "Grant", "Effect": "Allow", "Principal": principal,
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data-bucket/*"});
    if !condition.is_null() {
        st["Condition"] = condition;
    }
    st
}

fn wide(condition: Value) -> Value {
    allow(json!("*"), condition)
}

/// A bare statement is wrapped into a one-statement policy.
fn judge(v: &Value) -> SharingReport {
    let doc = if v.get("Statement").is_some() {
        v.clone()
    } else {
        json!({"Version": "2012-10-17", "Statement": [v]})
    };
    evaluate_policy_sharing(&Policy::parse_any(&doc).unwrap(), &ctx(), &trust())
}

#[derive(Debug, Default)]
struct Expect {
    shared: bool,
    public: bool,
    untrusted: bool,
    accounts: Vec<&'static str>,
    orgs: Vec<&'static str>,
    unknown: Vec<&'static str>,
    networks: Vec<&'static str>,
    reason: Option<&'static str>,
}

fn not_shared() -> Expect {
    Expect::default()
}
fn public() -> Expect {
    Expect {
        shared: true,
        public: true,
        untrusted: true,
        ..Expect::default()
    }
}
fn shared() -> Expect {
    Expect {
        shared: true,
        untrusted: true,
        ..Expect::default()
    }
}

impl Expect {
    fn trusted(mut self) -> Self {
        self.untrusted = false;
        self
    }
    fn accounts(mut self, a: &[&'static str]) -> Self {
        self.accounts = a.to_vec();
        self
    }
    fn orgs(mut self, o: &[&'static str]) -> Self {
        self.orgs = o.to_vec();
        self
    }
    fn unknown(mut self, u: &[&'static str]) -> Self {
        self.unknown = u.to_vec();
        self
    }
    fn networks(mut self, n: &[&'static str]) -> Self {
        self.networks = n.to_vec();
        self
    }
    fn reason(mut self, r: &'static str) -> Self {
        self.reason = Some(r);
        self
    }
    fn check(&self, r: &SharingReport) {
        assert_eq!(r.shared, self.shared, "shared: {r:#?}");
        assert_eq!(r.public, self.public, "public: {r:#?}");
        assert_eq!(r.untrusted, self.untrusted, "untrusted: {r:#?}");
        assert_eq!(r.external_accounts, self.accounts, "accounts: {r:#?}");
        assert_eq!(r.organisations, self.orgs, "orgs: {r:#?}");
        assert_eq!(r.unknown_principals, self.unknown, "unknown: {r:#?}");
        assert_eq!(r.networks, self.networks, "networks: {r:#?}");
        if let Some(want) = self.reason {
            assert!(
                r.reasons.iter().any(|x| x.contains(want)),
                "no reason contains {want:?}: {:#?}",
                r.reasons
            );
        }
        if r.shared {
            assert!(!r.reasons.is_empty(), "shared without a reason");
        }
    }
}

macro_rules! sharing_cases {
    ($($name:ident: $policy:expr => $expect:expr;)*) => {$(
        #[test]
        fn $name() {
            let report = judge(&$policy);
            $expect.check(&report);
        }
    )*};
}

sharing_cases! {
    // Principal forms.
    principal_star_is_public: wide(Value::Null) => public().reason("statement 'Grant' makes the bucket public");
    principal_aws_star_is_public: allow(json!({"AWS": "*"}), Value::Null) => public();
    principal_aws_star_in_list_is_public: allow(json!({"AWS": ["*"]}), Value::Null) => public();
    list_holding_star_and_account: allow(json!({"AWS": [format!("arn:aws:iam::{OTHER}:root"), "*"]}), Value::Null)
        => public().accounts(&[OTHER]);
    any_account_root_is_public: allow(json!({"AWS": "arn:aws:iam::*:root"}), Value::Null) => public();
    not_principal_allow_is_public: json!({"Effect": "Allow", "NotPrincipal": {"AWS": format!("arn:aws:iam::{OTHER}:root")},
        "Action": "s3:*", "Resource": "*"}) => public().reason("NotPrincipal");
    not_principal_deny_never_shares: json!({"Effect": "Deny", "NotPrincipal": {"AWS": OWNER},
        "Action": "s3:*", "Resource": "*"}) => not_shared();
    deny_star_never_shares: json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}) => not_shared();
    misspelt_effect_never_shares: json!({"Effect": "Alow", "Principal": "*", "Action": "s3:*", "Resource": "*"}) => not_shared();
    missing_principal_grants_nobody: json!({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}) => not_shared();
    bare_account_id: allow(json!({"AWS": OTHER}), Value::Null)
        => shared().accounts(&[OTHER]).reason("statement 'Grant' grants account 444455556666");
    bare_account_as_json_number: allow(json!({"AWS": 444455556666u64}), Value::Null) => shared().accounts(&[OTHER]);
    account_root_arn: allow(json!({"AWS": format!("arn:aws:iam::{OTHER}:root")}), Value::Null) => shared().accounts(&[OTHER]);
    account_role_arn: json!({"Sid": "ShareWithAnalytics", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::444455556666:role/reader"}, "Action": "s3:GetObject", "Resource": "*"})
        => shared().accounts(&[OTHER])
            .reason("statement 'ShareWithAnalytics' grants account 444455556666 (arn:aws:iam::444455556666:role/reader)");
    account_user_arn: allow(json!({"AWS": format!("arn:aws:iam::{THIRD}:user/alice")}), Value::Null) => shared().accounts(&[THIRD]);
    assumed_role_arn: allow(json!({"AWS": format!("arn:aws:sts::{OTHER}:assumed-role/r/session")}), Value::Null)
        => shared().accounts(&[OTHER]);
    other_partition_role: allow(json!({"AWS": format!("arn:aws-cn:iam::{OTHER}:role/r")}), Value::Null) => shared().accounts(&[OTHER]);
    owner_root_not_shared: allow(json!({"AWS": format!("arn:aws:iam::{OWNER}:root")}), Value::Null) => not_shared();
    owner_bare_not_shared: allow(json!({"AWS": OWNER}), Value::Null) => not_shared();
    owner_role_and_user_not_shared: allow(json!({"AWS": [format!("arn:aws:iam::{OWNER}:role/app"),
        format!("arn:aws:iam::{OWNER}:user/bob")]}), Value::Null) => not_shared();
    trusted_account_is_shared_but_trusted: allow(json!({"AWS": TRUSTED}), Value::Null) => shared().trusted().accounts(&[TRUSTED]);
    trusted_and_untrusted_accounts: allow(json!({"AWS": [TRUSTED, OTHER]}), Value::Null) => shared().accounts(&[TRUSTED, OTHER]);
    malformed_account_is_unknown: allow(json!({"AWS": "12345"}), Value::Null) => shared().unknown(&["12345"]);
    unique_id_is_unknown: allow(json!({"AWS": "AROAEXAMPLEID1234567"}), Value::Null)
        => shared().unknown(&["AROAEXAMPLEID1234567"]).reason("unique id");
    user_unique_id_is_unknown: allow(json!({"AWS": "AIDAEXAMPLEID1234567"}), Value::Null) => shared().unknown(&["AIDAEXAMPLEID1234567"]);
    non_principal_arn_is_unknown: allow(json!({"AWS": "arn:aws:s3:::other-bucket"}), Value::Null)
        => shared().unknown(&["arn:aws:s3:::other-bucket"]);
    // An AWS principal is an account only as an id or an iam / sts ARN (M8: key_policy reads it the same way).
    lambda_function_arn_is_unknown: allow(json!({"AWS": format!("arn:aws:lambda:eu-west-1:{OTHER}:function:x")}), Value::Null)
        => shared().unknown(&["arn:aws:lambda:eu-west-1:444455556666:function:x"]).reason("an ARN that names no valid account principal");
    // Policy variables are not fixed values (M8: key_policy reads them the same way).
    policy_variable_account_principal_is_public: allow(json!({"AWS": "arn:aws:iam::${aws:PrincipalAccount}:root"}), Value::Null)
        => public().reason("Principal arn:aws:iam::${aws:PrincipalAccount}:root");
    canonical_user_of_other: allow(json!({"CanonicalUser": "abc123"}), Value::Null) => shared().unknown(&["canonical user abc123"]);
    canonical_user_of_owner: allow(json!({"CanonicalUser": OWNER_CANON}), Value::Null) => not_shared();
    federated_is_unknown_external: allow(json!({"Federated": "cognito-identity.amazonaws.com"}), Value::Null)
        => shared().unknown(&["federated cognito-identity.amazonaws.com"]).reason("federated principal");
    odd_principal_type_fails_closed: allow(json!({"Robot": "r2d2"}), Value::Null) => shared().unknown(&["Robot r2d2"]);
    // Service principals.
    service_without_condition: allow(json!({"Service": "logging.s3.amazonaws.com"}), Value::Null) => not_shared();
    service_for_owner: allow(json!({"Service": "logging.s3.amazonaws.com"}),
        json!({"StringEquals": {"aws:SourceAccount": OWNER}})) => not_shared();
    service_for_other_account: allow(json!({"Service": "logging.s3.amazonaws.com"}),
        json!({"StringEquals": {"aws:SourceAccount": OTHER}})) => shared().accounts(&[OTHER]).reason("service logging.s3.amazonaws.com");
    service_for_other_source_arn: allow(json!({"Service": "cloudtrail.amazonaws.com"}),
        json!({"ArnLike": {"aws:SourceArn": format!("arn:aws:cloudtrail:us-east-1:{THIRD}:trail/*")}})) => shared().accounts(&[THIRD]);
    service_for_other_source_owner: allow(json!({"Service": "ses.amazonaws.com"}),
        json!({"StringEquals": {"aws:SourceOwner": OTHER}})) => shared().accounts(&[OTHER]);
    service_for_bucket_arn_names_no_account: allow(json!({"Service": "logging.s3.amazonaws.com"}),
        json!({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::source-bucket"}})) => not_shared();
    service_for_trusted_account: allow(json!({"Service": "logging.s3.amazonaws.com"}),
        json!({"StringEquals": {"aws:SourceAccount": TRUSTED}})) => shared().trusted().accounts(&[TRUSTED]);
    // Account narrowing of a wide principal.
    star_limited_to_principal_account: wide(json!({"StringEquals": {"aws:PrincipalAccount": OTHER}}))
        => shared().accounts(&[OTHER]).reason("limited to account 444455556666");
    star_limited_to_owner_only: wide(json!({"StringEquals": {"aws:PrincipalAccount": OWNER}})) => not_shared();
    star_limited_to_owner_and_trusted: wide(json!({"StringEquals": {"aws:PrincipalAccount": [OWNER, TRUSTED]}}))
        => shared().trusted().accounts(&[TRUSTED]);
    narrowing_key_is_case_insensitive: wide(json!({"StringEquals": {"AWS:principalACCOUNT": OTHER}})) => shared().accounts(&[OTHER]);
    star_limited_by_principal_arn: wide(json!({"ArnLike": {"aws:PrincipalArn": format!("arn:aws:iam::{OTHER}:role/*")}}))
        => shared().accounts(&[OTHER]);
    principal_arn_with_wildcard_account_stays_public: wide(json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/x"}}))
        => public().reason("wildcard");
    wildcard_account_value_stays_public: wide(json!({"StringLike": {"aws:PrincipalAccount": "*"}})) => public();
    if_exists_does_not_narrow: wide(json!({"StringEqualsIfExists": {"aws:PrincipalAccount": OTHER}})) => public().reason("IfExists");
    for_any_value_narrows: wide(json!({"ForAnyValue:StringEquals": {"aws:PrincipalAccount": [OTHER, THIRD]}}))
        => shared().accounts(&[OTHER, THIRD]);
    for_all_values_does_not_narrow: wide(json!({"ForAllValues:StringEquals": {"aws:PrincipalAccount": OTHER}})) => public();
    negated_account_condition_does_not_narrow: wide(json!({"StringNotEquals": {"aws:PrincipalAccount": OTHER}})) => public();
    source_account_narrows_star: wide(json!({"StringEquals": {"aws:SourceAccount": OTHER}})) => shared().accounts(&[OTHER]);
    kms_caller_account_narrows_star: wide(json!({"StringEquals": {"kms:CallerAccount": THIRD}})) => shared().accounts(&[THIRD]);
    access_point_account_narrows_star: wide(json!({"StringEquals": {"s3:DataAccessPointAccount": OTHER}})) => shared().accounts(&[OTHER]);
    malformed_account_in_condition_is_unknown: wide(json!({"StringEquals": {"aws:PrincipalAccount": "12345"}})) => shared().unknown(&["12345"]);
    account_conditions_intersect: wide(json!({"StringEquals": {"aws:PrincipalAccount": [OTHER, THIRD]},
        "ArnLike": {"aws:PrincipalArn": format!("arn:aws:iam::{THIRD}:role/x")}})) => shared().accounts(&[THIRD]);
    disjoint_account_conditions_take_smallest: wide(json!({"StringEquals": {"aws:PrincipalAccount": [OTHER, THIRD], "aws:SourceAccount": TRUSTED}}))
        => shared().trusted().accounts(&[TRUSTED]);
    explicit_account_ignores_conditions: allow(json!({"AWS": OTHER}), json!({"StringEquals": {"aws:PrincipalAccount": OWNER}}))
        => shared().accounts(&[OTHER]);
    // Organisations.
    star_limited_to_org: wide(json!({"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}))
        => shared().orgs(&["o-abc123"]).reason("organisation o-abc123");
    star_limited_to_trusted_org: wide(json!({"StringEquals": {"aws:PrincipalOrgID": "o-trusted"}})) => shared().trusted().orgs(&["o-trusted"]);
    star_limited_to_org_path: wide(json!({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-trusted/r-ab12/ou-ab12-1/*"}}))
        => shared().trusted().orgs(&["o-trusted/r-ab12/ou-ab12-1/*"]);
    org_wildcard_stays_public: wide(json!({"StringLike": {"aws:PrincipalOrgID": "o-*"}})) => public();
    policy_variable_org_id_stays_public: wide(json!({"StringEquals": {"aws:PrincipalOrgID": "o-${aws:PrincipalOrgID}"}}))
        => public().reason("wildcard or catch-all value 'o-${aws:PrincipalOrgID}'");
    policy_variable_org_path_stays_public: wide(json!({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-${aws:PrincipalOrgID}/*"}}))
        => public();
    policy_variable_account_condition_stays_public: wide(json!({"StringEquals": {"aws:PrincipalAccount": "${aws:PrincipalAccount}"}}))
        => public().reason("wildcard or catch-all value '${aws:PrincipalAccount}'");
    org_if_exists_stays_public: wide(json!({"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-abc123"}})) => public();
    org_and_account_gives_accounts: wide(json!({"StringEquals": {"aws:PrincipalOrgID": "o-abc123", "aws:PrincipalAccount": OTHER}}))
        => shared().accounts(&[OTHER]);
    trusted_org_vouches_for_named_account: wide(json!({"StringEquals": {"aws:PrincipalOrgID": "o-trusted", "aws:PrincipalAccount": OTHER}}))
        => shared().trusted().accounts(&[OTHER]);
    // Networks.
    source_ip_cidr_is_shared_not_public: wide(json!({"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "198.51.100.7/32"]}}))
        => shared().networks(&["198.51.100.7/32", "203.0.113.0/24"]).reason("not public");
    source_ip_everything_is_public: wide(json!({"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}})) => public();
    source_ip_v6_everything_is_public: wide(json!({"IpAddress": {"aws:SourceIp": ["2001:db8::/32", "::/0"]}})) => public();
    not_ip_address_alone_is_public: wide(json!({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}})) => public();
    source_vpce_untrusted: wide(json!({"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c"}})) => shared().networks(&["vpce-1a2b3c"]);
    source_vpce_trusted: wide(json!({"StringEquals": {"aws:sourcevpce": "vpce-trusted"}})) => shared().trusted().networks(&["vpce-trusted"]);
    source_vpc_trusted: wide(json!({"StringEquals": {"aws:SourceVpc": "vpc-trusted"}})) => shared().trusted().networks(&["vpc-trusted"]);
    source_vpc_partly_trusted: wide(json!({"StringEquals": {"aws:SourceVpc": ["vpc-trusted", "vpc-other"]}}))
        => shared().networks(&["vpc-other", "vpc-trusted"]);
    source_vpc_wildcard_is_public: wide(json!({"StringLike": {"aws:SourceVpc": "vpc-*"}})) => public();
    source_vpc_if_exists_is_public: wide(json!({"StringEqualsIfExists": {"aws:SourceVpc": "vpc-trusted"}})) => public();
    trusted_vpce_vouches_for_cidr: wide(json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
        "StringEquals": {"aws:SourceVpce": "vpce-trusted"}})) => shared().trusted().networks(&["10.0.0.0/8", "vpce-trusted"]);
    account_wins_over_network: wide(json!({"StringEquals": {"aws:PrincipalAccount": OTHER, "aws:SourceVpce": "vpce-trusted"}}))
        => shared().trusted().accounts(&[OTHER]);
    referer_narrows_nothing: wide(json!({"StringLike": {"aws:Referer": "https://example.com/*"}})) => public().reason("aws:Referer");
    user_agent_narrows_nothing: wide(json!({"StringEquals": {"aws:UserAgent": "curl"}})) => public();
    // Harmless and unknown conditions.
    secure_transport_is_harmless: wide(json!({"Bool": {"aws:SecureTransport": "true"}})) => public();
    acl_header_is_harmless: wide(json!({"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}})) => public();
    prefix_and_time_are_harmless: wide(json!({"StringLike": {"s3:prefix": "public/*"}, "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}})) => public();
    unknown_key_fails_closed: wide(json!({"StringEquals": {"aws:PrincipalTag/team": "data"}}))
        => public().reason("aws:PrincipalTag/team = data is not understood");
    unknown_operator_on_known_key_fails_closed: wide(json!({"NumericEquals": {"aws:PrincipalAccount": OTHER}})) => public().reason("NumericEquals");
    unknown_key_beside_account_keeps_account: wide(json!({"StringEquals": {"aws:PrincipalAccount": OTHER, "aws:userid": "AROAX:*"}}))
        => shared().accounts(&[OTHER]);
    malformed_condition_fails_closed: wide(json!("aws:SecureTransport")) => public().reason("cannot be read");
    service_with_malformed_condition_fails_closed: allow(json!({"Service": "logging.s3.amazonaws.com"}), json!({"StringEquals": "x"}))
        => shared().unknown(&["service logging.s3.amazonaws.com"]);
    // Whole policies.
    several_statements_merge_sorted: json!({"Statement": [
        allow(json!({"AWS": THIRD}), Value::Null),
        json!({"Effect": "Allow", "Principal": {"AWS": [format!("arn:aws:iam::{OTHER}:role/a"), OTHER, OWNER]},
            "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::data-bucket"}),
        json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]})
        => shared().accounts(&[OTHER, THIRD]).reason("statement #1 grants account 444455556666 (arn:aws:iam::444455556666:role/a)");
    empty_policy_is_not_shared: json!({"Statement": []}) => not_shared();
}

fn acl(grants: Value) -> Value {
    json!({"Owner": {"ID": OWNER_CANON}, "Grants": grants})
}

fn owner_grant() -> Value {
    json!({"Grantee": {"Type": "CanonicalUser", "ID": OWNER_CANON}, "Permission": "FULL_CONTROL"})
}

fn group(uri: &str, permission: &str) -> Value {
    json!({"Grantee": {"Type": "Group", "URI": uri}, "Permission": permission})
}

macro_rules! acl_cases {
    ($($name:ident: $acl:expr, $owner:expr => $expect:expr;)*) => {$(
        #[test]
        fn $name() {
            let ctx = BucketContext { owner_canonical_id: $owner, ..ctx() };
            let report = evaluate_acl_sharing(&$acl, &ctx, &trust());
            $expect.check(&report);
        }
    )*};
}

acl_cases! {
    acl_owner_only: acl(json!([owner_grant()])), Some(OWNER_CANON) => not_shared();
    acl_all_users_is_public: acl(json!([owner_grant(), group("http://acs.amazonaws.com/groups/global/AllUsers", "READ")])), Some(OWNER_CANON)
        => public().reason("AllUsers");
    acl_authenticated_users_is_public: acl(json!([group("http://acs.amazonaws.com/groups/global/AuthenticatedUsers", "READ")])), Some(OWNER_CANON)
        => public().reason("AuthenticatedUsers");
    acl_log_delivery_does_not_share: acl(json!([owner_grant(), group("http://acs.amazonaws.com/groups/s3/LogDelivery", "WRITE")])), Some(OWNER_CANON)
        => not_shared().reason("LogDelivery");
    acl_other_canonical_user: acl(json!([owner_grant(), {"Grantee": {"Type": "CanonicalUser", "ID": "other-id"}, "Permission": "READ"}])), Some(OWNER_CANON)
        => shared().unknown(&["canonical user other-id"]);
    acl_camel_case_keys: json!({"owner": {"id": OWNER_CANON}, "grants": [{"grantee": {"type": "CanonicalUser", "id": "other-id"}, "permission": "READ"},
        {"grantee": {"type": "Group", "uri": "http://acs.amazonaws.com/groups/global/AllUsers"}, "permission": "READ"}]}), Some(OWNER_CANON)
        => public().unknown(&["canonical user other-id"]);
    acl_owner_from_document_when_unknown: acl(json!([owner_grant()])), None => not_shared();
    acl_document_owner_differs_from_context: json!({"Owner": {"ID": "acl-owner"}, "Grants": [
        {"Grantee": {"Type": "CanonicalUser", "ID": "acl-owner"}, "Permission": "FULL_CONTROL"},
        {"Grantee": {"Type": "CanonicalUser", "ID": OWNER_CANON}, "Permission": "READ"}]}), Some(OWNER_CANON) => not_shared();
    acl_unknown_group_fails_closed: acl(json!([group("http://acs.amazonaws.com/groups/global/Martians", "READ")])), Some(OWNER_CANON)
        => shared().unknown(&["group http://acs.amazonaws.com/groups/global/Martians"]);
    acl_email_grantee: acl(json!([{"Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": "a@example.com"}, "Permission": "READ"}])), Some(OWNER_CANON)
        => shared().unknown(&["email a@example.com"]);
    acl_without_grants: json!({"Owner": {"ID": OWNER_CANON}}), Some(OWNER_CANON) => not_shared();
    acl_null_is_no_acl: Value::Null, Some(OWNER_CANON) => not_shared();
    acl_not_an_object_fails_closed: json!([1, 2]), Some(OWNER_CANON) => shared().reason("cannot be read");
    acl_garbage_text_fails_closed: json!("<AccessControlPolicy>"), Some(OWNER_CANON) => shared().reason("cannot be read");
    acl_as_json_text: Value::String(acl(json!([group("http://acs.amazonaws.com/groups/global/AllUsers", "READ")])).to_string()),
        Some(OWNER_CANON) => public();
}

#[test]
fn merge_unions_sorts_and_keeps_reason_order() {
    let a = judge(&allow(json!({"AWS": [THIRD, TRUSTED]}), Value::Null));
    let b = judge(&wide(
        json!({"StringEquals": {"aws:PrincipalAccount": OTHER}}),
    ));
    let c = evaluate_acl_sharing(
        &acl(json!([group(
            "http://acs.amazonaws.com/groups/global/AllUsers",
            "READ"
        )])),
        &ctx(),
        &trust(),
    );
    let merged = a.clone().merge(b).merge(c).merge(a.clone());
    assert!(merged.shared && merged.public && merged.untrusted);
    assert_eq!(merged.external_accounts, vec![TRUSTED, OTHER, THIRD]);
    assert_eq!(merged.reasons.len(), 4, "{:#?}", merged.reasons);
    assert_eq!(merged.reasons[0], a.reasons[0]);
    let empty = SharingReport::default().merge(SharingReport::default());
    assert_eq!(empty, SharingReport::default());
}

/// Arbitrary JSON, biased towards the keys and values the judges look at.
const ARB_VALUES: &[&str] = &[
    "*",
    "Allow",
    "Deny",
    "s3:*",
    "false",
    OTHER,
    "arn:aws:s3:::data-bucket/*",
    "arn:aws:iam::*:root",
];
const ARB_KEYS: &[&str] = &[
    "Statement",
    "Effect",
    "Principal",
    "NotPrincipal",
    "AWS",
    "Action",
    "Resource",
    "Condition",
    "Bool",
    "aws:SecureTransport",
    "Grants",
    "Grantee",
    "Sid",
];

fn arb_json() -> impl Strategy<Value = Value> {
    crate::core::testing::arb_json(ARB_VALUES, ARB_KEYS)
}

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn judges_never_panic_on_arbitrary_json(v in arb_json()) {
        let ctx = ctx();
        let trust = trust();
        let _ = evaluate_acl_sharing(&v, &ctx, &trust);
        let policy = Policy::parse_any(&v).ok();
        if let Some(p) = &policy {
            let r = evaluate_policy_sharing(p, &ctx, &trust);
            prop_assert!(!r.public || (r.shared && r.untrusted));
            prop_assert!(r.unknown_principals.is_empty() || r.untrusted);
            prop_assert!(!r.external_accounts.iter().any(|a| a == OWNER));
        }
        let _ = crate::core::policy::secure_transport::evaluate_tls(policy.as_ref(), "data-bucket", "aws");
        let _ = crate::core::policy::patch::patch_tls(Some(&v), "data-bucket", "aws", "DenyInsecureTransport");
        // Statements are where the judges do the work: feed the value as one, too.
        let doc = json!({"Statement": [v]});
        if let Ok(p) = Policy::parse_any(&doc) {
            let _ = evaluate_policy_sharing(&p, &ctx, &trust);
            let _ = crate::core::policy::secure_transport::evaluate_tls(Some(&p), "data-bucket", "aws");
        }
        let _ = crate::core::policy::patch::patch_tls(Some(&doc), "data-bucket", "aws", "DenyInsecureTransport");
    }
}
