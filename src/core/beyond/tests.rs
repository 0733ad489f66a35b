//! The typed beyond-S3 state read leniently (API field names, CloudTrail camelCase, strings for
//! booleans, missing lists), "shared" per kind, the key set per kind, external grants — and
//! property tests that arbitrary attribute documents and state sections never panic and read
//! the same after a round trip through the state-file format.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::ec2::{EbsSnapshot, Ec2Settings, Image, Sharee};
use super::grants::{external_grants, is_service_principal};
use super::key_set::{key_set, Carrier};
use super::rds::DbSnapshot;
use super::secret::Secret;
use super::shared::{
    db_snapshot_sharing, image_sharing, organisation_of, secret_sharing, snapshot_sharing,
};
use super::BeyondState;
use crate::core::config::Config;
use crate::core::decide::decide;
use crate::core::event::{parse_event_bytes, EventInput, Parsed, Trigger};
use crate::core::policy::key_half::parse_grants;
use crate::core::policy::sharing::Trust;
use crate::core::snapshot::Snapshot;
use crate::core::testing::arb_json;

const OWNER: &str = "111122223333";
const COMPUTE: &str = "444455556666";

fn trust() -> Trust {
    Trust::default()
}

macro_rules! sharee_rows {
    ($($name:ident: $item:expr => $want:expr;)*) => {$(
        #[test]
        fn $name() {
            assert_eq!(Sharee::from_item(&$item), $want);
        }
    )*};
}

sharee_rows! {
    sharee_api_user_id: json!({"UserId": COMPUTE}) => Some(Sharee::Account(COMPUTE.into()));
    sharee_cloudtrail_user_id: json!({"userId": COMPUTE}) => Some(Sharee::Account(COMPUTE.into()));
    sharee_user_id_number: json!({"userId": 444455556666_u64}) => Some(Sharee::Account(COMPUTE.into()));
    sharee_group_all: json!({"Group": "all"}) => Some(Sharee::Public);
    sharee_group_all_case: json!({"group": "ALL"}) => Some(Sharee::Public);
    sharee_groups_plural: json!({"groups": "all"}) => Some(Sharee::Public);
    sharee_other_group: json!({"Group": "admins"}) => Some(Sharee::Other("group admins".into()));
    sharee_organisation: json!({"OrganizationArn": "arn:aws:organizations::1:organization/o-a1"}) => Some(Sharee::Organization("arn:aws:organizations::1:organization/o-a1".into()));
    sharee_ou: json!({"organizationalUnitArn": "arn:aws:organizations::1:ou/o-a1/ou-b2"}) => Some(Sharee::OrganizationalUnit("arn:aws:organizations::1:ou/o-a1/ou-b2".into()));
    sharee_unknown_key_is_kept: json!({"Something": "x"}) => Some(Sharee::Other("Something \"x\"".into()));
    sharee_empty: json!({}) => None;
    sharee_not_an_object: json!("all") => None;
}

#[test]
fn ebs_snapshot_reads_describe_snapshots_and_the_attribute() {
    let s = EbsSnapshot::from_value(&json!({
        "SnapshotId": "snap-1", "OwnerId": OWNER, "Encrypted": "true", "KmsKeyId": "alias/aws/ebs",
        "CreateVolumePermissions": [{"UserId": COMPUTE}, {"Group": "all"}, null, 7],
        "Tags": [{"Key": "cmkguard:exempt", "Value": "true"}]
    }))
    .unwrap();
    assert_eq!(s.encrypted, Some(true));
    assert_eq!(
        s.create_volume_permissions,
        Some(vec![Sharee::Account(COMPUTE.into()), Sharee::Public])
    );
    assert!(s.tags.has("cmkguard:exempt", "true"));
    assert!(s.exists);
    assert_eq!(s.arn("eu-west-1"), "arn:aws:ec2:eu-west-1::snapshot/snap-1");
    // Not read is not "shared with nobody".
    let unread = EbsSnapshot::from_value(&json!({"snapshotId": "snap-1"})).unwrap();
    assert_eq!(unread.create_volume_permissions, None);
    assert_eq!(unread.encrypted, None);
    assert!(EbsSnapshot::from_value(&json!({"Encrypted": true})).is_err());
}

#[test]
fn image_reads_block_device_mappings_and_launch_permissions() {
    let i = Image::from_value(&json!({
        "ImageId": "ami-1", "Public": false,
        "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": "snap-b"}},
                                {"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"},
                                {"Ebs": {"SnapshotId": "snap-a"}}],
        "LaunchPermissions": {"OrganizationArn": "arn:aws:organizations::1:organization/o-a1"}
    }))
    .unwrap();
    assert_eq!(i.snapshot_ids, vec!["snap-a", "snap-b"]);
    assert_eq!(i.launch_permissions.as_ref().map(Vec::len), Some(1));
}

#[test]
fn db_snapshots_read_both_kinds_and_the_attribute_result() {
    let d = DbSnapshot::from_value(&json!({
        "DBSnapshotIdentifier": "orders", "DBSnapshotArn": "arn:aws:rds:eu-west-1:111122223333:snapshot:orders",
        "Encrypted": false, "SnapshotType": "manual",
        "DBSnapshotAttributesResult": {"DBSnapshotAttributes": [
            {"AttributeName": "restore", "AttributeValues": [COMPUTE, "all"]},
            {"AttributeName": "other", "AttributeValues": ["999999999999"]}]}
    }))
    .unwrap();
    assert!(!d.cluster);
    assert_eq!(
        d.restore,
        Some(vec![COMPUTE.to_string(), "all".to_string()])
    );
    assert_eq!(
        (d.account.as_deref(), d.region.as_deref()),
        (Some(OWNER), Some("eu-west-1"))
    );
    let c = DbSnapshot::from_value(
        &json!({"DBClusterSnapshotIdentifier": "ledger", "StorageEncrypted": true,
        "KmsKeyId": "k", "DBClusterSnapshotAttributes": []}),
    )
    .unwrap();
    assert!(c.cluster && c.encrypted == Some(true));
    assert_eq!(c.restore, Some(vec![]));
    assert_eq!(
        c.arn_or(OWNER, "eu-west-1"),
        "arn:aws:rds:eu-west-1:111122223333:cluster-snapshot:ledger"
    );
    let automated = DbSnapshot::from_value(
        &json!({"DBSnapshotIdentifier": "rds:orders-2024", "SnapshotType": "automated"}),
    )
    .unwrap();
    assert!(!automated.is_manual() && automated.restore.is_none());
}

#[test]
fn secrets_read_get_resource_policy_output_and_match_by_name() {
    let policy = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": COMPUTE}, "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]});
    let arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:analytics/db-AbCdEf";
    for v in [
        json!({"ARN": arn, "ResourcePolicy": policy.to_string()}),
        json!({"ARN": arn, "ResourcePolicy": {"ARN": arn, "Name": "analytics/db", "ResourcePolicy": policy.to_string()}}),
        json!({"ARN": arn, "ResourcePolicy": policy.clone()}),
    ] {
        let s = Secret::from_value(&v).unwrap();
        assert_eq!(s.resource_policy.as_ref(), Some(&policy), "{v}");
        assert_eq!(s.kms_key_id, None);
    }
    let s = Secret::from_value(&json!({"ARN": arn})).unwrap();
    assert!(s.matches(arn));
    assert!(s.matches("analytics/db"));
    assert!(s.matches("arn:aws:secretsmanager:eu-west-1:111122223333:secret:analytics/db"));
    assert!(!s.matches("analytics/d"));
    assert!(!s.matches("analytics/db-other"));
    assert_eq!(s.home(), Some((OWNER.to_string(), "eu-west-1".to_string())));
}

#[test]
fn ec2_settings_read_the_get_calls_outputs() {
    let s = Ec2Settings::from_value(&json!({"Region": "eu-west-1",
        "EbsEncryptionByDefault": true, "KmsKeyId": "alias/aws/ebs",
        "SnapshotBlockPublicAccessState": {"State": "block-all-sharing"},
        "ImageBlockPublicAccessState": {"ImageBlockPublicAccessState": "block-new-sharing"}}))
    .unwrap();
    assert!(s.blocks_all_snapshot_sharing());
    assert_eq!(s.ebs_default_kms_key_id.as_deref(), Some("alias/aws/ebs"));
    assert_eq!(
        s.image_block_public_access.as_deref(),
        Some("block-new-sharing")
    );
}

#[test]
fn snapshot_sharing_per_kind() {
    let state: BeyondState = serde_json::from_value(json!({
        "ebs_snapshots": [{"SnapshotId": "snap-1", "CreateVolumePermissions": [{"UserId": OWNER}, {"Group": "all"}]}],
        "images": [{"ImageId": "ami-1", "BlockDeviceMappings": [{"Ebs": {"SnapshotId": "snap-1"}}],
                    "LaunchPermissions": [{"UserId": COMPUTE}, {"OrganizationalUnitArn": "arn:aws:organizations::1:ou/o-a1/ou-b2"}]},
                   {"ImageId": "ami-private", "BlockDeviceMappings": [{"Ebs": {"SnapshotId": "snap-1"}}], "LaunchPermissions": []}],
        "ec2_settings": [{"Region": "eu-west-1", "SnapshotBlockPublicAccessState": "block-all-sharing"}]
    }))
    .unwrap();
    let r = snapshot_sharing(
        &state.ebs_snapshots[0],
        OWNER,
        &state,
        "eu-west-1",
        &trust(),
    );
    assert!(r.shared && r.public && r.public_neutralised && r.untrusted);
    assert_eq!(r.external_accounts, vec![COMPUTE]);
    assert_eq!(r.organisations, vec!["o-a1"]);
    assert_eq!(r.via_ami, vec!["ami-1"]);
    // In another region the setting does not apply.
    let r = snapshot_sharing(
        &state.ebs_snapshots[0],
        OWNER,
        &state,
        "us-east-1",
        &trust(),
    );
    assert!(r.public && !r.public_neutralised);
    let mut trusted = trust();
    trusted.accounts.insert(COMPUTE.into());
    trusted.orgs.insert("o-a1".into());
    let image = &state.images[0];
    let r = image_sharing(image, OWNER, &trusted);
    assert!(r.shared && !r.untrusted && !r.public);
    let db =
        DbSnapshot::from_value(&json!({"DBSnapshotIdentifier": "x", "Restore": ["ALL"]})).unwrap();
    let r = db_snapshot_sharing(&db, OWNER, &trusted);
    assert!(r.public && r.shared && r.untrusted);
}

#[test]
fn secret_sharing_uses_the_bucket_policy_analyser() {
    let s = Secret::from_value(&json!({"ARN": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:s-AbCdEf",
        "ResourcePolicy": {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue",
            "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1"}}}]}})).unwrap();
    let r = secret_sharing(&s, OWNER, "eu-west-1", &trust()).unwrap();
    assert!(r.shared && !r.public);
    assert_eq!(r.organisations, vec!["o-a1"]);
    let broken = Secret::from_value(
        &json!({"ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:s", "ResourcePolicy": "[1]"}),
    )
    .unwrap();
    assert!(secret_sharing(&broken, OWNER, "eu-west-1", &trust()).is_err());
}

#[test]
fn organisation_ids_from_arns() {
    assert_eq!(
        organisation_of("arn:aws:organizations::111122223333:organization/o-a1b2"),
        Some("o-a1b2".into())
    );
    assert_eq!(
        organisation_of("arn:aws:organizations::111122223333:ou/o-a1b2/ou-x-y"),
        Some("o-a1b2".into())
    );
    assert_eq!(
        organisation_of("arn:aws:organizations::111122223333:account/o-a1b2/1"),
        None
    );
    assert_eq!(organisation_of("o-a1b2"), None);
}

#[test]
fn key_sets_per_kind() {
    assert!(key_set(Carrier::EbsSnapshot).contains(&"kms:CreateGrant"));
    assert_eq!(key_set(Carrier::EbsSnapshot), key_set(Carrier::Image));
    assert_eq!(
        key_set(Carrier::DbSnapshot),
        &["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey"]
    );
    assert_eq!(
        key_set(Carrier::Secret),
        &["kms:Decrypt", "kms:DescribeKey"]
    );
}

#[test]
fn external_grants_skip_services_owner_and_trusted() {
    let grants = parse_grants(&json!({"Grants": [
        {"GrantId": "svc", "GranteePrincipal": "ec2.eu-west-1.amazonaws.com", "Operations": ["Decrypt"]},
        {"GrantId": "cn", "GranteePrincipal": "rds.cn-north-1.amazonaws.com.cn", "Operations": ["Decrypt"]},
        {"GrantId": "own", "GranteePrincipal": "arn:aws:iam::111122223333:role/app", "Operations": ["Decrypt"]},
        {"GrantId": "ext", "GranteePrincipal": "arn:aws:iam::444455556666:role/app", "Operations": ["Decrypt", "CreateGrant"]},
        {"GrantId": "uid", "GranteePrincipal": "AROAEXAMPLE", "Operations": ["Encrypt"]}
    ]}))
    .unwrap();
    let out = external_grants(&grants, OWNER, &trust());
    let ids: Vec<&str> = out.iter().map(|g| g.grant_id.as_str()).collect();
    assert_eq!(ids, vec!["ext", "uid"]);
    assert!(out[0].redelegates && !out[1].redelegates);
    assert!(
        is_service_principal("ec2.amazonaws.com")
            && !is_service_principal("arn:aws:iam::1:role/x.amazonaws.com")
    );
}

// ---- properties -----------------------------------------------------------------------

const VALUES: &[&str] = &[
    "all",
    "ALL",
    "111122223333",
    "444455556666",
    "12345",
    "snap-0a1b2c3d4e5f60718",
    "ami-0f1e2d3c4b5a69788",
    "eu-west-1",
    "restore",
    "true",
    "false",
    "manual",
    "automated",
    "alias/aws/ebs",
    "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "arn:aws:organizations::111122223333:organization/o-exampleorg1",
    "arn:aws:organizations::111122223333:ou/o-exampleorg1/ou-ab12-cd34ef56",
    "block-all-sharing",
    "arn:aws:secretsmanager:eu-west-1:111122223333:secret:analytics/db-AbCdEf",
    "*",
    "Allow",
];
const KEYS: &[&str] = &[
    "UserId",
    "userId",
    "Group",
    "group",
    "groups",
    "OrganizationArn",
    "OrganizationalUnitArn",
    "items",
    "add",
    "remove",
    "SnapshotId",
    "ImageId",
    "OwnerId",
    "Region",
    "Encrypted",
    "StorageEncrypted",
    "KmsKeyId",
    "CreateVolumePermissions",
    "LaunchPermissions",
    "Public",
    "BlockDeviceMappings",
    "Ebs",
    "DBSnapshotIdentifier",
    "DBClusterSnapshotIdentifier",
    "DBSnapshotAttributes",
    "DBSnapshotAttributesResult",
    "AttributeName",
    "AttributeValues",
    "ARN",
    "ResourcePolicy",
    "Statement",
    "Effect",
    "Principal",
    "AWS",
    "Exists",
    "Tags",
    "EbsDefaultKmsKeyId",
    "SnapshotBlockPublicAccessState",
    "State",
];

fn arb_section() -> impl Strategy<Value = Value> {
    let j = || arb_json(VALUES, KEYS);
    prop_oneof![
        j(),
        (j(), j(), j(), j(), j()).prop_map(|(s, i, d, sec, set)| json!({
            "ebs_snapshots": [s], "images": [i], "db_snapshots": [d], "secrets": [sec], "ec2_settings": [set]
        })),
        (j(), j()).prop_map(|(perms, blocks)| json!({
            "ebs_snapshots": [{"SnapshotId": "snap-0a1b2c3d4e5f60718", "Region": "eu-west-1", "CreateVolumePermissions": perms}],
            "images": [{"ImageId": "ami-0f1e2d3c4b5a69788", "BlockDeviceMappings": blocks, "LaunchPermissions": perms}],
            "db_snapshots": [{"DBSnapshotIdentifier": "orders-2024-11-25", "DBSnapshotAttributes": perms}],
            "secrets": [{"ARN": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:analytics/db-AbCdEf", "ResourcePolicy": perms}]
        })),
    ]
}

fn fixture(name: &str) -> Trigger {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(name);
    match parse_event_bytes(&std::fs::read(path).unwrap()).unwrap() {
        EventInput::Single(Parsed::Trigger(t)) => t,
        other => panic!("{name}: {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_permission_items_never_panic(v in arb_json(VALUES, KEYS)) {
        let items: Vec<&Value> = match &v { Value::Array(a) => a.iter().collect(), other => vec![other] };
        let _ = Sharee::list(&items);
        let _ = EbsSnapshot::from_value(&v);
        let _ = Image::from_value(&v);
        let _ = DbSnapshot::from_value(&v);
        let _ = Secret::from_value(&v);
        let _ = Ec2Settings::from_value(&v);
    }

    #[test]
    fn arbitrary_state_sections_are_refused_or_decided_and_round_trip(section in arb_section()) {
        let Ok(state) = serde_json::from_value::<BeyondState>(section) else { return Ok(()); };
        // What cmkguard writes, it reads back the same.
        let again: BeyondState = serde_json::from_value(serde_json::to_value(&state).unwrap()).unwrap();
        prop_assert_eq!(&again, &state);
        let snapshot = Snapshot { beyond: Some(state), ..Snapshot::default() };
        for t in ["ec2-ModifySnapshotAttribute-share-account.json", "ec2-ModifyImageAttribute-share-account.json",
                  "rds-ModifyDBSnapshotAttribute-share-account.json", "secretsmanager-PutResourcePolicy-cross-account.json",
                  "ec2-ModifyEbsDefaultKmsKeyId-basic.json", "ec2-ModifySnapshotAttribute-OperationNotPermitted-aws-ebs.json"] {
            let plan = decide(&fixture(t), &snapshot, &Config::default());
            prop_assert!(plan.steps.is_empty());
            for f in &plan.findings {
                prop_assert!(!f.reasons.is_empty() && !f.fix.is_empty());
            }
        }
    }
}
