//! Rows of the caller-side diagnosis (DOMAIN.md §6, place 1): the denial as the caller's trail
//! records it — owner redacted for S3, owner from the key ARN for KMS — judged against the
//! denied role's identity policies and boundary: allowed, missing action, wrong resource,
//! boundary, explicit deny, undecidable conditions, unread policies, root, a message that
//! blames an SCP. The owner-side rows are in `decide/tests.rs`.

use serde_json::{json, Value};

use super::paste::{parse_fix, CALLER_IAM, OWNER_BUCKET, OWNER_KEY};
use super::VERDICT;
use crate::core::config::Config;
use crate::core::decide::decide;
use crate::core::event::{Side, Trigger, TriggerKind};
use crate::core::finding::RuleId;
use crate::core::plan::Plan;
use crate::core::snapshot::Snapshot;

const OWNER: &str = "111122223333";
const CALLER: &str = "444455556666";
const BUCKET: &str = "data-shared-analytics";
const ROLE: &str = "arn:aws:iam::444455556666:role/analytics-etl";
const KEY: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// The caller's copy of a denied `GetObject`: owner redacted.
fn s3_denial() -> Trigger {
    Trigger {
        kind: TriggerKind::AccessDenied,
        event_name: "GetObject".into(),
        event_source: "s3.amazonaws.com".into(),
        event_id: Some("e1".into()),
        event_time: Some("2024-11-25T10:02:41Z".into()),
        account: Some(CALLER.into()),
        region: Some("eu-west-1".into()),
        bucket: Some(BUCKET.into()),
        key: None,
        caller_account: Some(CALLER.into()),
        owner_account: None,
        error_code: Some("AccessDenied".into()),
        error_message: Some("Access Denied".into()),
        principal_arn: Some("arn:aws:sts::444455556666:assumed-role/analytics-etl/job".into()),
        session_issuer_arn: Some(ROLE.into()),
        object_key: Some("reports/a.csv".into()),
        side: Some(Side::Caller),
        shared_event_id: None,
        request_id: None,
        resource_arn: None,
        change: None,
    }
}

/// The caller's copy of a denied `kms:Decrypt` S3 made for a `GetObject`.
fn kms_denial() -> Trigger {
    Trigger {
        event_name: "Decrypt".into(),
        event_source: "kms.amazonaws.com".into(),
        key: Some(KEY.into()),
        owner_account: Some(OWNER.into()),
        object_key: None,
        error_code: Some("AccessDeniedException".into()),
        ..s3_denial()
    }
}

fn doc(statements: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn allow(action: &str, resource: &str) -> Value {
    json!({"Sid": "Grant", "Effect": "Allow", "Action": action, "Resource": resource})
}

fn identity(policies: Vec<(&str, Value)>, boundary: Option<Value>) -> Value {
    json!({"identity": {
        "principal_arn": ROLE,
        "policies": policies.into_iter().map(|(n, d)| json!({"name": n, "document": d})).collect::<Vec<_>>(),
        "permissions_boundary": boundary.map(|d| json!({"name": "arn:aws:iam::444455556666:policy/boundary", "document": d})),
    }})
}

fn verdict(p: &Plan) -> String {
    p.findings
        .iter()
        .flat_map(|f| &f.reasons)
        .find_map(|r| r.strip_prefix(VERDICT))
        .unwrap_or_default()
        .to_string()
}

fn block(p: &Plan, heading: &str) -> Option<Value> {
    let (_, blocks) = parse_fix(&p.findings.first()?.fix);
    blocks
        .into_iter()
        .find(|b| b.heading == heading)
        .map(|b| b.document)
}

fn mentions(p: &Plan, needle: &str) -> bool {
    p.findings[0].reasons.iter().any(|r| r.contains(needle))
}

macro_rules! caller {
    ($($name:ident: $trigger:expr, $state:expr => $verdict:expr $(, $check:expr)?;)*) => {$(
        #[test]
        fn $name() {
            let snapshot: Snapshot = serde_json::from_value($state).expect("state");
            let plan = decide(&$trigger, &snapshot, &Config::default());
            assert_eq!(plan.findings.len(), 1, "{plan:#?}");
            let f = &plan.findings[0];
            assert_eq!(f.rule_id, RuleId::AccessDeniedDiagnosis);
            // The caller's account posts it, about the foreign resource.
            assert_eq!(f.account, CALLER);
            let want: &str = $verdict;
            assert!(verdict(&plan).starts_with(want), "verdict {:?} does not start with {want:?}", verdict(&plan));
            $( let check: fn(&Plan) = $check; check(&plan); )?
        }
    )*};
}

caller! {
    allowed_caller_half_points_at_the_unknown_owner: s3_denial(),
        identity(vec![("inline:read", doc(json!([allow("s3:GetObject", "arn:aws:s3:::data-shared-analytics/*")])))], None)
        => "caller half complete: the owner (unknown) must fix its side",
        |p| {
            assert!(block(p, CALLER_IAM).is_none(), "nothing for the caller to add");
            assert!(block(p, OWNER_BUCKET).is_some() && block(p, OWNER_KEY).is_some(), "the owner checklist");
            assert!(mentions(p, "owner-side checklist for the owner (account unknown"));
            assert!(mentions(p, "inline:read statement 'Grant'"));
            assert!(mentions(p, "not seen from here: the organisation's service control policies"));
            assert_eq!(p.findings[0].resource_arn, "arn:aws:s3:::data-shared-analytics");
        };
    missing_action_names_the_statement_to_add: s3_denial(),
        identity(vec![("inline:list", doc(json!([allow("s3:ListBucket", "arn:aws:s3:::data-shared-analytics")])))], None)
        => "caller half missing: arn:aws:iam::444455556666:role/analytics-etl lacks s3:GetObject on arn:aws:s3:::data-shared-analytics/reports/a.csv",
        |p| {
            let iam = block(p, CALLER_IAM).unwrap();
            assert_eq!(iam["Statement"], json!([{"Sid": "AllowGetObjectOnSharedBucket", "Effect": "Allow",
                "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data-shared-analytics/*"}]));
        };
    wrong_resource_is_missing: s3_denial(),
        identity(vec![("arn:aws:iam::444455556666:policy/read-other", doc(json!([allow("s3:GetObject", "arn:aws:s3:::other-bucket/*")])))], None)
        => "caller half missing: arn:aws:iam::444455556666:role/analytics-etl lacks s3:GetObject on";
    object_prefix_that_covers_the_key_is_allowed: s3_denial(),
        identity(vec![("inline:reports", doc(json!([allow("s3:GetObject", "arn:aws:s3:::data-shared-analytics/reports/*")])))], None)
        => "caller half complete";
    boundary_blocks_what_the_policy_allows: s3_denial(),
        identity(vec![("arn:aws:iam::aws:policy/AdministratorAccess", doc(json!([allow("*", "*")])))], Some(doc(json!([allow("kms:*", "*")]))))
        => "caller half blocked: the permissions boundary arn:aws:iam::444455556666:policy/boundary of arn:aws:iam::444455556666:role/analytics-etl does not allow s3:GetObject";
    explicit_deny_in_an_identity_policy: kms_denial(),
        identity(vec![("inline:all", doc(json!([allow("*", "*"), {"Sid": "NoKms", "Effect": "Deny", "Action": "kms:*", "Resource": "*"}])))], None)
        => "caller half blocked: inline:all statement 'NoKms' denies kms:Decrypt on";
    kms_denial_missing_decrypt_on_the_key_arn: kms_denial(),
        identity(vec![("inline:read", doc(json!([allow("s3:GetObject", "arn:aws:s3:::data-shared-analytics/*")])))], None)
        => &format!("caller half missing: {ROLE} lacks kms:Decrypt on {KEY}"),
        |p| {
            let iam = block(p, CALLER_IAM).unwrap();
            assert_eq!(iam["Statement"], json!([{"Sid": "AllowUseOfTheSharedKey", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": KEY}]));
            assert_eq!(p.findings[0].resource_arn, KEY);
            assert!(mentions(p, "of account 111122223333"), "the owner from the key ARN");
        };
    kms_denial_allowed_through_s3_only: kms_denial(),
        identity(vec![("inline:key", doc(json!([{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY,
            "Condition": {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}}])))], None)
        => "caller half complete: the owner (111122223333) must fix its side";
    condition_the_record_cannot_settle_is_undetermined: s3_denial(),
        identity(vec![("inline:tagged", doc(json!([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalTag/team": "data"}}}])))], None)
        => "caller half undetermined: whether arn:aws:iam::444455556666:role/analytics-etl may do it depends on conditions the record cannot settle: StringEquals aws:PrincipalTag/team";
    unreadable_policy_makes_a_miss_undetermined: s3_denial(),
        json!({"identity": {"principal_arn": ROLE, "policies": [], "unread": ["arn:aws:iam::444455556666:policy/x: AccessDenied"]}})
        => "caller half undetermined: the policies read do not allow s3:GetObject",
        |p| assert!(mentions(p, "not read: arn:aws:iam::444455556666:policy/x"));
    url_encoded_documents_are_read: s3_denial(),
        identity(vec![("inline:read", json!("%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3A*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D"))], None)
        => "caller half complete";
    a_document_that_is_no_policy_is_unread: s3_denial(),
        identity(vec![("inline:bad", json!("%%%"))], None)
        => "caller half undetermined",
        |p| assert!(mentions(p, "inline:bad"));
    scp_message_comes_first: Trigger { error_message: Some("User: arn:aws:sts::444455556666:assumed-role/analytics-etl/job is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::data-shared-analytics/reports/a.csv\" with an explicit deny in a service control policy".into()), ..s3_denial() },
        identity(vec![("inline:read", doc(json!([allow("s3:GetObject", "*")])))], None)
        => "denied by an explicit deny in a service control policy of the organisation of account 444455556666";
    root_user_has_no_identity_limit: Trigger { principal_arn: Some("arn:aws:iam::444455556666:root".into()), session_issuer_arn: None, ..s3_denial() },
        json!({}) => "caller half complete: the account root user of 444455556666";
    identity_not_read_keeps_the_checklist: s3_denial(), json!({})
        => "recorded in the caller's account 444455556666: the denied bucket arn:aws:s3:::data-shared-analytics belongs to the owner (account unknown",
        |p| assert!(mentions(p, &format!("the identity policies of {ROLE} were not read")));
    identity_of_another_principal_is_not_used: s3_denial(),
        json!({"identity": {"principal_arn": "arn:aws:iam::444455556666:role/someone-else", "policies": []}})
        => "recorded in the caller's account",
        |p| assert!(p.notes.iter().any(|n| n.contains("not the denied principal")));
}

#[test]
fn a_third_party_gets_the_checklist_only_and_posts_it_as_its_own() {
    let t = Trigger {
        account: Some("777788889999".into()),
        side: Some(Side::ThirdParty),
        ..s3_denial()
    };
    let state = identity(vec![("inline:none", doc(json!([])))], None);
    let plan = decide(
        &t,
        &serde_json::from_value(state).unwrap(),
        &Config::default(),
    );
    assert!(
        verdict(&plan).starts_with("recorded in account 777788889999, which is neither the caller"),
        "{plan:#?}"
    );
    assert_eq!(plan.findings[0].account, "777788889999");
    assert!(
        !verdict(&plan).contains("caller half"),
        "no IAM of the caller here"
    );
}

#[test]
fn a_user_is_judged_like_a_role() {
    let t = Trigger {
        principal_arn: Some("arn:aws:iam::444455556666:user/ops/alice".into()),
        session_issuer_arn: None,
        ..s3_denial()
    };
    let state = json!({"identity": {"principal_arn": "arn:aws:iam::444455556666:user/ops/alice",
        "policies": [{"name": "group readers inline:read", "document": doc(json!([allow("s3:Get*", "*")]))}]}});
    let plan = decide(
        &t,
        &serde_json::from_value(state).unwrap(),
        &Config::default(),
    );
    assert!(
        verdict(&plan).starts_with("caller half complete"),
        "{plan:#?}"
    );
    assert!(mentions(&plan, "group readers inline:read"));
}

#[test]
fn a_diagnosis_id_is_the_same_for_every_copy_of_one_denial() {
    let state: Snapshot = serde_json::from_value(identity(vec![], None)).unwrap();
    let a = decide(&s3_denial(), &state, &Config::default());
    let b = decide(
        &Trigger {
            event_id: Some("another-copy".into()),
            shared_event_id: Some("s".into()),
            ..s3_denial()
        },
        &state,
        &Config::default(),
    );
    assert_eq!(
        a.findings[0].id, b.findings[0].id,
        "a second post is an upsert"
    );
}
