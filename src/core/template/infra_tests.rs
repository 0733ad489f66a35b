//! Table rows for the template judge's building blocks: canned ACLs, key links, and the note
//! format of `decide` the judge reads back.

use super::*;
use crate::core::decide::decide;
use crate::core::policy::sharing::{evaluate_acl_sharing, BucketContext, Trust};

fn ctx() -> Ctx {
    Ctx {
        account: "111122223333".into(),
        region: "eu-west-1".into(),
        config: Config::default(),
    }
}

macro_rules! acl_cases {
    ($($name:ident: $canned:expr => shared $shared:expr, public $public:expr;)*) => {$(
        #[test]
        fn $name() {
            let sym = Symbols::default();
            let acl = canned_acl($canned, &sym);
            let ctx = BucketContext { bucket: "b", owner_account: "111122223333", owner_canonical_id: Some(OWNER_CANONICAL_ID), partition: "aws" };
            let r = evaluate_acl_sharing(&acl, &ctx, &Trust::default());
            assert_eq!((r.shared, r.public), ($shared, $public), "{r:#?}");
        }
    )*};
}

acl_cases! {
    acl_absent_is_private: None => shared false, public false;
    acl_private: Some("Private") => shared false, public false;
    acl_bucket_owner_full_control: Some("BucketOwnerFullControl") => shared false, public false;
    acl_public_read: Some("PublicRead") => shared true, public true;
    acl_public_read_write_terraform_spelling: Some("public-read-write") => shared true, public true;
    acl_authenticated_read: Some("AuthenticatedRead") => shared true, public true;
    acl_log_delivery_write: Some("LogDeliveryWrite") => shared false, public false;
    acl_aws_exec_read_names_no_account: Some("AwsExecRead") => shared true, public false;
    acl_unknown_fails_closed: Some("cmkguard-unresolved-000000") => shared true, public false;
}

#[test]
fn key_links_by_what_the_reference_is() {
    let mut sym = Symbols::default();
    let import = sym.marker("{Fn::ImportValue: k}", true);
    let c = ctx();
    assert_eq!(
        link_key("alias/aws/s3", None, &sym, "aws", &c).0,
        KeyLink::AwsManaged
    );
    let ext = "arn:aws:kms:eu-west-1:999988887777:key/abc";
    assert_eq!(
        link_key(ext, None, &sym, "aws", &c).0,
        KeyLink::External(ext.into())
    );
    let (link, text) = link_key(&import, None, &sym, "aws", &c);
    assert!(
        matches!(
            link,
            KeyLink::Unknown {
                form_known: false,
                ..
            }
        ),
        "{link:?}"
    );
    assert!(
        crate::core::arn::KmsRef::parse(&text).is_some_and(|r| r.is_key_arn()),
        "a wholly unknown reference stands in as a full key ARN: {text}"
    );
    let arn = format!("arn:aws:kms:eu-west-1:999988887777:key/{import}");
    assert!(matches!(
        link_key(&arn, None, &sym, "aws", &c).0,
        KeyLink::Unknown {
            form_known: true,
            ..
        }
    ));
}

#[test]
fn decide_notes_undetermined_rules_in_the_format_the_judge_reads() {
    // The judge turns `decide`'s "RULE not checked: why" notes into unchecked entries; if that
    // wording changes, this row fails instead of the judge silently dropping them.
    let state: crate::core::snapshot::Snapshot = serde_json::from_value(serde_json::json!({
        "bucket": {"name": "b", "account": "111122223333", "region": "eu-west-1",
            "policy": {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "444455556666"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]},
            "encryption": {"ServerSideEncryptionConfiguration": {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "arn:aws:kms:eu-west-1:111122223333:key/x"}}]}},
            "acl": {"Owner": {"ID": "o"}, "Grants": []}}
    })).unwrap();
    let t = trigger(TriggerKind::BucketChanged, &ctx(), Some("b"), None);
    let plan = decide(&t, &state, &Config::default());
    let rules: Vec<RuleId> = undetermined(&plan.notes)
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    assert!(
        rules.contains(&RuleId::KeyPolicyMissingGrant),
        "{:#?}",
        plan.notes
    );
    assert!(
        rules.contains(&RuleId::SharedBucketKeyUnusable),
        "{:#?}",
        plan.notes
    );
}

#[test]
fn unknown_policy_leaves_every_bucket_rule_unchecked() {
    let sym = Symbols::default();
    let u = BucketUnit {
        id: "B".into(),
        name: "b".into(),
        external: false,
        policy: Doc::Unknown("computed".into()),
        encryption: Doc::Absent,
        acl: canned_acl(None, &sym),
        tags: Value::Null,
        key_link: KeyLink::None,
        key: None,
        related: Vec::new(),
        notes: Vec::new(),
    };
    let v = judge_bucket(&u, &ctx(), &sym);
    assert!(v.findings.is_empty());
    assert_eq!(v.unchecked.len(), 1);
    assert_eq!(v.unchecked[0].0.len(), 7);
}

#[test]
fn key_metadata_reads_back_as_the_class_and_state_the_template_says() {
    let meta = key_metadata(&KeyProps {
        arn: "arn:aws:kms:eu-west-1:111122223333:key/k",
        key_id: "k",
        account: "111122223333",
        enabled: false,
        key_spec: "SYMMETRIC_DEFAULT",
        key_usage: "ENCRYPT_DECRYPT",
        origin: "AWS_KMS",
        multi_region: true,
    });
    let info = crate::core::key_class::classify_key(&meta).unwrap();
    assert_eq!(info.key_state, "Disabled");
    assert!(!info.usable_for_s3);
    assert_eq!(info.multi_region_key_type.as_deref(), Some("PRIMARY"));
}
