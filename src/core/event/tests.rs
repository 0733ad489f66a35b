//! Tests of event parsing: a named row per fixture file in `events/` (every file needs one),
//! the lenient shapes real records take, which reading (typed or lenient) takes an envelope,
//! and property tests that parsing never panics and that the typed reading agrees with the
//! lenient one.

use super::*;
use proptest::prelude::*;
use serde_json::json;

const DATA: &str = "111122223333";
const COMPUTE: &str = "444455556666";
const THIRD: &str = "777788889999";
const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
const KEY_ARN: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// A successful record made in the data account by an admin role.
fn record(source: &str, name: &str, params: Value) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLEADMINROLE1:alice",
            "arn": "arn:aws:sts::111122223333:assumed-role/platform-admin/alice",
            "accountId": DATA,
            "sessionContext": {"sessionIssuer": {
                "type": "Role",
                "arn": "arn:aws:iam::111122223333:role/platform-admin",
                "accountId": DATA
            }}
        },
        "eventTime": "2024-11-25T10:02:41Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": "eu-west-1",
        "requestParameters": params,
        "responseElements": null,
        "eventID": "0a1b2c3d-0000-4000-8000-000000000001",
        "readOnly": false,
        "recipientAccountId": DATA,
    })
}

fn s3(name: &str) -> Value {
    record(
        "s3.amazonaws.com",
        name,
        json!({"bucketName": "data-no-tls", "Host": "data-no-tls.s3.eu-west-1.amazonaws.com"}),
    )
}

fn kms(name: &str) -> Value {
    record("kms.amazonaws.com", name, json!({"keyId": KEY_ARN}))
}

fn create_key(response: Value) -> Value {
    with(
        record(
            "kms.amazonaws.com",
            "CreateKey",
            json!({"keySpec": "SYMMETRIC_DEFAULT"}),
        ),
        "/responseElements",
        response,
    )
}

/// Sets the value at a JSON pointer whose parent exists (adds object keys).
fn with(mut v: Value, pointer: &str, new: Value) -> Value {
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    match v.pointer_mut(parent).unwrap() {
        Value::Object(map) => {
            map.insert(last.to_string(), new);
        }
        Value::Array(items) => items[last.parse::<usize>().unwrap()] = new,
        other => panic!("cannot set {pointer} in {other}"),
    }
    v
}

fn without(mut v: Value, pointer: &str) -> Value {
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    v.pointer_mut(parent)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove(last);
    v
}

/// Renames a top-level key, keeping its value.
fn renamed(v: Value, from: &str, to: &str) -> Value {
    let value = v[from].clone();
    with(without(v, &format!("/{from}")), &format!("/{to}"), value)
}

/// The record failed with `code` for a caller of `caller`'s account.
fn denied(v: Value, code: &str, caller: &str) -> Value {
    let v = with(v, "/errorCode", json!(code));
    let v = with(v, "/errorMessage", json!("Access Denied"));
    with(v, "/userIdentity/accountId", json!(caller))
}

fn failed(v: Value, code: &str) -> Value {
    with(v, "/errorCode", json!(code))
}

fn bucket_resource(bucket: &str, account: &str) -> Value {
    json!([
        {"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{bucket}/reports/daily.parquet")},
        {"accountId": account, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")}
    ])
}

fn key_resource(account: &str) -> Value {
    json!([{"accountId": account, "type": "AWS::KMS::Key", "ARN": KEY_ARN}])
}

fn envelope(source: &str, detail: Value) -> Value {
    json!({
        "version": "0",
        "id": "6f2c1a4e-0000-4000-8000-000000000001",
        "detail-type": "AWS API Call via CloudTrail",
        "source": source,
        "account": DATA,
        "time": "2024-11-25T10:02:41Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": detail,
    })
}

/// The caller's copy of a denied cross-account `kms:Decrypt` (only the caller's trail has it).
fn callers_kms_denial() -> Value {
    with(
        denied(kms("Decrypt"), "AccessDeniedException", COMPUTE),
        "/recipientAccountId",
        json!(COMPUTE),
    )
}

/// The caller's copy of a denied cross-account `GetObject`: the owner redacted.
fn callers_redacted_s3_denial() -> Value {
    with(
        with(
            denied(s3("GetObject"), "AccessDenied", COMPUTE),
            "/recipientAccountId",
            json!(COMPUTE),
        ),
        "/resources",
        bucket_resource("data-shared-analytics", ""),
    )
}

/// A `cmkguard.denial` envelope as the relay puts it, with `account` as given (the relay's
/// account on AWS, the receiver's on moto).
fn relayed(record: Value, owner: Value, envelope_account: &str) -> Value {
    json!({
        "version": "0",
        "id": "7f1d0000-0000-4000-8000-000000000009",
        "detail-type": relayed::DETAIL_TYPE,
        "source": relayed::SOURCE,
        "account": envelope_account,
        "time": "2024-11-25T10:02:45Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {"record": record, "owner_account": owner, "relayed_at": "2024-11-25T10:02:45Z"},
    })
}

/// The expected verdict, with the fields that matter for it.
#[derive(Debug)]
enum Want {
    Bucket(&'static str),
    Key(&'static str),
    Denied {
        bucket: Option<&'static str>,
        key: Option<&'static str>,
        caller: &'static str,
        owner: &'static str,
    },
    /// A denial with its owner (`None`: unknown, never guessed) and the side that recorded it.
    DeniedOn {
        bucket: Option<&'static str>,
        key: Option<&'static str>,
        caller: &'static str,
        owner: Option<&'static str>,
        side: Side,
    },
    /// A substring of the reason.
    Ignored(&'static str),
    Records(&'static [Want]),
    /// A beyond-S3 trigger: kind, resource ARN, the share entries it adds (accounts, `all`,
    /// organisation ARNs) and the error it carries (a refused share).
    Beyond {
        kind: TriggerKind,
        arn: Option<&'static str>,
        added: &'static [&'static str],
        error: Option<&'static str>,
    },
}

/// A share entry as the `Want::Beyond` rows write it.
fn entry(s: &crate::core::beyond::ec2::Sharee) -> String {
    use crate::core::beyond::ec2::Sharee;
    match s {
        Sharee::Account(a) => a.clone(),
        Sharee::Public => "all".into(),
        Sharee::Organization(o) | Sharee::OrganizationalUnit(o) | Sharee::Other(o) => o.clone(),
    }
}

fn check(got: &EventInput, want: &Want) {
    match (got, want) {
        (EventInput::Records(items), Want::Records(wants)) => {
            assert_eq!(items.len(), wants.len(), "{items:#?}");
            for (item, want) in items.iter().zip(wants.iter()) {
                check_parsed(item, want);
            }
        }
        (EventInput::Single(parsed), want) if !matches!(want, Want::Records(_)) => {
            check_parsed(parsed, want)
        }
        (got, want) => panic!("wanted {want:?}, got {got:#?}"),
    }
}

fn check_parsed(got: &Parsed, want: &Want) {
    let fail = || panic!("wanted {want:?}, got {got:#?}");
    match (got, want) {
        (Parsed::Ignored { reason }, Want::Ignored(part)) => {
            assert!(reason.contains(part), "reason {reason:?} lacks {part:?}")
        }
        (Parsed::Trigger(t), Want::Bucket(bucket)) => {
            assert_eq!(t.kind, TriggerKind::BucketChanged, "{t:#?}");
            assert_eq!(t.bucket.as_deref(), Some(*bucket));
            assert_eq!(t.key, None);
            assert_eq!(t.event_source, "s3.amazonaws.com");
        }
        (Parsed::Trigger(t), Want::Key(key)) => {
            assert_eq!(t.kind, TriggerKind::KeyChanged, "{t:#?}");
            assert_eq!(t.key.as_deref(), Some(*key));
            assert_eq!(t.bucket, None);
            assert_eq!(t.event_source, "kms.amazonaws.com");
        }
        (
            Parsed::Trigger(t),
            Want::Denied {
                bucket,
                key,
                caller,
                owner,
            },
        ) => {
            assert_eq!(t.kind, TriggerKind::AccessDenied, "{t:#?}");
            assert_eq!(t.bucket.as_deref(), *bucket);
            assert_eq!(t.key.as_deref(), *key);
            assert_eq!(t.caller_account.as_deref(), Some(*caller));
            assert_eq!(t.owner_account.as_deref(), Some(*owner));
            assert!(t.error_code.is_some());
            assert!(t.side.is_some(), "{t:#?}");
        }
        (
            Parsed::Trigger(t),
            Want::DeniedOn {
                bucket,
                key,
                caller,
                owner,
                side,
            },
        ) => {
            assert_eq!(t.kind, TriggerKind::AccessDenied, "{t:#?}");
            assert_eq!(t.bucket.as_deref(), *bucket, "{t:#?}");
            assert_eq!(t.key.as_deref(), *key, "{t:#?}");
            assert_eq!(t.caller_account.as_deref(), Some(*caller), "{t:#?}");
            assert_eq!(t.owner_account.as_deref(), *owner, "{t:#?}");
            assert_eq!(t.side, Some(*side), "{t:#?}");
        }
        (
            Parsed::Trigger(t),
            Want::Beyond {
                kind,
                arn,
                added,
                error,
            },
        ) => {
            assert_eq!(t.kind, *kind, "{t:#?}");
            assert_eq!(t.resource_arn.as_deref(), *arn, "{t:#?}");
            let got: Vec<String> = t
                .change
                .iter()
                .flat_map(|c| c.added.iter())
                .map(entry)
                .collect();
            assert_eq!(got, added.to_vec(), "{t:#?}");
            assert_eq!(t.error_code.as_deref(), *error, "{t:#?}");
            assert!(t.kind.is_beyond_s3());
            assert_eq!(t.bucket, None);
        }
        _ => fail(),
    }
}

macro_rules! cases {
    ($($name:ident: $input:expr => $want:expr;)*) => {$(
        #[test]
        fn $name() {
            let input: Value = $input;
            check(&parse_event_value(&input), &$want);
        }
    )*};
}

const SNAP: &str = "snap-0a1b2c3d4e5f60718";
const SNAP_ARN: &str = "arn:aws:ec2:eu-west-1::snapshot/snap-0a1b2c3d4e5f60718";
const AMI_ARN: &str = "arn:aws:ec2:eu-west-1::image/ami-0f1e2d3c4b5a69788";
const DB_ARN: &str = "arn:aws:rds:eu-west-1:111122223333:snapshot:orders";
const CLUSTER_ARN: &str = "arn:aws:rds:eu-west-1:111122223333:cluster-snapshot:ledger";
const SECRET_ARN: &str = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:analytics/db-AbCdEf";
const ORG_ARN: &str = "arn:aws:organizations::111122223333:organization/o-exampleorg1";
const OU_ARN: &str = "arn:aws:organizations::111122223333:ou/o-exampleorg1/ou-ab12-cd34ef56";

fn ec2(name: &str, params: Value) -> Value {
    record("ec2.amazonaws.com", name, params)
}

fn snapshot_share(add: Value) -> Value {
    ec2(
        "ModifySnapshotAttribute",
        json!({"snapshotId": SNAP, "attributeType": "CREATE_VOLUME_PERMISSION",
               "createVolumePermission": {"add": add}}),
    )
}

fn image_share(add: Value) -> Value {
    ec2(
        "ModifyImageAttribute",
        json!({"imageId": "ami-0f1e2d3c4b5a69788", "attributeType": "launchPermission",
               "launchPermission": {"add": add}}),
    )
}

fn rds(name: &str, params: Value) -> Value {
    record("rds.amazonaws.com", name, params)
}

fn secrets(name: &str, params: Value) -> Value {
    record("secretsmanager.amazonaws.com", name, params)
}

fn with_error(v: Value, code: &str, message: &str) -> Value {
    with(
        with(v, "/errorCode", json!(code)),
        "/errorMessage",
        json!(message),
    )
}

const fn beyond(kind: TriggerKind, arn: &'static str, added: &'static [&'static str]) -> Want {
    Want::Beyond {
        kind,
        arn: Some(arn),
        added,
        error: None,
    }
}

const EBS_REFUSAL: &str = "Encrypted snapshots with EBS default key cannot be shared";
const AMI_REFUSAL: &str =
    "Snapshots encrypted with the AWS Managed CMK can't be shared. Specify another snapshot.";

cases! {
    // EBS snapshot shares (CT-EBS real record shape; public item [U]: `group` and `groups`).
    ebs_share_account: snapshot_share(json!({"items": [{"userId": COMPUTE}]}))
        => beyond(TriggerKind::SnapshotChanged, SNAP_ARN, &[COMPUTE]);
    ebs_share_public_group: snapshot_share(json!({"items": [{"group": "all"}]}))
        => beyond(TriggerKind::SnapshotChanged, SNAP_ARN, &["all"]);
    ebs_share_public_groups_plural: snapshot_share(json!({"items": [{"groups": "all"}]}))
        => beyond(TriggerKind::SnapshotChanged, SNAP_ARN, &["all"]);
    ebs_share_without_items_is_a_list: snapshot_share(json!([{"userId": COMPUTE}, {"userId": THIRD}]))
        => beyond(TriggerKind::SnapshotChanged, SNAP_ARN, &[COMPUTE, THIRD]);
    ebs_share_single_item_object: snapshot_share(json!({"items": {"userId": COMPUTE}}))
        => beyond(TriggerKind::SnapshotChanged, SNAP_ARN, &[COMPUTE]);
    ebs_share_items_missing: snapshot_share(json!({}))
        => beyond(TriggerKind::SnapshotChanged, SNAP_ARN, &[]);
    ebs_share_account_id_as_number: snapshot_share(json!({"items": [{"userId": 444455556666_u64}]}))
        => beyond(TriggerKind::SnapshotChanged, SNAP_ARN, &[COMPUTE]);
    ebs_share_null_request_parameters: ec2("ModifySnapshotAttribute", Value::Null)
        => Want::Ignored("ModifySnapshotAttribute names no snapshot");
    ebs_remove_only: ec2("ModifySnapshotAttribute", json!({"snapshotId": SNAP,
            "createVolumePermission": {"remove": {"items": [{"userId": COMPUTE}]}}}))
        => beyond(TriggerKind::SnapshotChanged, SNAP_ARN, &[]);
    ebs_reset: ec2("ResetSnapshotAttribute", json!({"snapshotId": SNAP}))
        => beyond(TriggerKind::SnapshotChanged, SNAP_ARN, &[]);
    ebs_create_snapshot_response: with(ec2("CreateSnapshot", json!({"volumeId": "vol-1"})), "/responseElements", json!({"snapshotId": SNAP}))
        => beyond(TriggerKind::SnapshotChanged, SNAP_ARN, &[]);
    ebs_copy_without_response_is_ignored: ec2("CopySnapshot", json!({"sourceSnapshotId": SNAP}))
        => Want::Ignored("CopySnapshot names no new snapshot");
    ebs_eventname_case: snapshot_share(json!({"items": [{"userId": COMPUTE}]}))
        => beyond(TriggerKind::SnapshotChanged, SNAP_ARN, &[COMPUTE]);
    // The refused share of an aws/ebs snapshot (ERR-EBS): a trigger carrying the error.
    ebs_refused_client_prefix: with_error(snapshot_share(json!({"items": [{"userId": COMPUTE}]})), "Client.OperationNotPermitted", EBS_REFUSAL)
        => Want::Beyond { kind: TriggerKind::SnapshotChanged, arn: Some(SNAP_ARN), added: &[COMPUTE], error: Some("Client.OperationNotPermitted") };
    ebs_refused_bare_code: with_error(snapshot_share(json!({"items": [{"userId": COMPUTE}]})), "OperationNotPermitted", "Snapshots encrypted with your default KMS key cannot be shared")
        => Want::Beyond { kind: TriggerKind::SnapshotChanged, arn: Some(SNAP_ARN), added: &[COMPUTE], error: Some("OperationNotPermitted") };
    ebs_other_operation_not_permitted_is_ignored: with_error(snapshot_share(json!({"items": [{"userId": COMPUTE}]})), "Client.OperationNotPermitted", "The snapshot is in use")
        => Want::Ignored("the call failed with Client.OperationNotPermitted");
    ebs_access_denied_is_not_diagnosed: denied(snapshot_share(json!({"items": [{"userId": COMPUTE}]})), "Client.UnauthorizedOperation", DATA)
        => Want::Ignored("the call failed with Client.UnauthorizedOperation");
    ebs_access_denied_code_is_not_diagnosed: denied(snapshot_share(json!({"items": [{"userId": COMPUTE}]})), "AccessDenied", COMPUTE)
        => Want::Ignored("the call failed with AccessDenied");
    // AMI shares (CT-AMI real record shape; group / organisation / OU items [U]).
    ami_share_account: image_share(json!({"items": [{"userId": COMPUTE}]}))
        => beyond(TriggerKind::ImageChanged, AMI_ARN, &[COMPUTE]);
    ami_share_public: image_share(json!({"items": [{"group": "all"}]}))
        => beyond(TriggerKind::ImageChanged, AMI_ARN, &["all"]);
    ami_share_organisation_and_ou: image_share(json!({"items": [{"organizationArn": ORG_ARN}, {"organizationalUnitArn": OU_ARN}]}))
        => beyond(TriggerKind::ImageChanged, AMI_ARN, &[ORG_ARN, OU_ARN]);
    ami_refused_aws_managed_key: with_error(image_share(json!({"items": [{"userId": COMPUTE}]})), "Client.InvalidParameter", AMI_REFUSAL)
        => Want::Beyond { kind: TriggerKind::ImageChanged, arn: Some(AMI_ARN), added: &[COMPUTE], error: Some("Client.InvalidParameter") };
    ami_other_invalid_parameter_is_ignored: with_error(image_share(json!({"items": [{"userId": COMPUTE}]})), "Client.InvalidParameter", "Invalid id")
        => Want::Ignored("the call failed with Client.InvalidParameter");
    ami_copy_image: with(ec2("CopyImage", json!({"sourceImageId": "ami-1"})), "/responseElements", json!({"imageId": "ami-0f1e2d3c4b5a69788"}))
        => beyond(TriggerKind::ImageChanged, AMI_ARN, &[]);
    ami_register_from_resources: with(ec2("RegisterImage", json!({"name": "x"})), "/resources", json!([{"ARN": AMI_ARN}]))
        => beyond(TriggerKind::ImageChanged, AMI_ARN, &[]);
    // RDS snapshot shares (CT-RDS real record shape; cluster [U]).
    rds_share_account: rds("ModifyDBSnapshotAttribute", json!({"attributeName": "restore", "dBSnapshotIdentifier": "orders", "valuesToAdd": [COMPUTE]}))
        => beyond(TriggerKind::DbSnapshotChanged, DB_ARN, &[COMPUTE]);
    rds_share_public_value_as_string: rds("ModifyDBSnapshotAttribute", json!({"attributeName": "restore", "dBSnapshotIdentifier": "orders", "valuesToAdd": "all"}))
        => beyond(TriggerKind::DbSnapshotChanged, DB_ARN, &["all"]);
    rds_share_by_arn: rds("ModifyDBSnapshotAttribute", json!({"attributeName": "restore", "dBSnapshotIdentifier": DB_ARN, "valuesToAdd": [COMPUTE]}))
        => beyond(TriggerKind::DbSnapshotChanged, DB_ARN, &[COMPUTE]);
    rds_other_attribute_adds_nothing: rds("ModifyDBSnapshotAttribute", json!({"attributeName": "other", "dBSnapshotIdentifier": "orders", "valuesToAdd": [COMPUTE]}))
        => beyond(TriggerKind::DbSnapshotChanged, DB_ARN, &[]);
    rds_cluster_share: rds("ModifyDBClusterSnapshotAttribute", json!({"attributeName": "restore", "dBClusterSnapshotIdentifier": "ledger", "valuesToAdd": ["all"]}))
        => beyond(TriggerKind::DbSnapshotChanged, CLUSTER_ARN, &["all"]);
    rds_copy_target: rds("CopyDBSnapshot", json!({"sourceDBSnapshotIdentifier": "x", "targetDBSnapshotIdentifier": "orders", "kmsKeyId": KEY_ARN}))
        => beyond(TriggerKind::DbSnapshotChanged, DB_ARN, &[]);
    rds_copy_cluster_response: with(rds("CopyDBClusterSnapshot", json!({"targetDBClusterSnapshotIdentifier": "other"})), "/responseElements", json!({"dBClusterSnapshot": {"dBClusterSnapshotArn": CLUSTER_ARN}}))
        => beyond(TriggerKind::DbSnapshotChanged, CLUSTER_ARN, &[]);
    rds_share_without_identifier: rds("ModifyDBSnapshotAttribute", json!({"valuesToAdd": [COMPUTE]}))
        => Want::Ignored("names no snapshot (no requestParameters.dBSnapshotIdentifier)");
    // Secrets (field names [U]).
    secret_put_policy_by_arn: secrets("PutResourcePolicy", json!({"secretId": SECRET_ARN, "resourcePolicy": "{}"}))
        => beyond(TriggerKind::SecretChanged, SECRET_ARN, &[]);
    secret_by_name: secrets("DeleteResourcePolicy", json!({"secretId": "analytics/db"}))
        => beyond(TriggerKind::SecretChanged, "arn:aws:secretsmanager:eu-west-1:111122223333:secret:analytics/db", &[]);
    secret_create_response_arn: with(secrets("CreateSecret", json!({"name": "analytics/db"})), "/responseElements", json!({"aRN": SECRET_ARN}))
        => beyond(TriggerKind::SecretChanged, SECRET_ARN, &[]);
    secret_without_id: secrets("UpdateSecret", json!({}))
        => Want::Ignored("UpdateSecret names no secret");
    // KMS grants (KMS-CT [C] for CreateGrant; Revoke / Retire [U]).
    grant_create: kms("CreateGrant")
        => Want::Beyond { kind: TriggerKind::GrantChanged, arn: Some(KEY_ARN), added: &[], error: None };
    grant_revoke_bare_key_id: record("kms.amazonaws.com", "RevokeGrant", json!({"keyId": KEY_ID, "grantId": "g"}))
        => Want::Beyond { kind: TriggerKind::GrantChanged, arn: Some(KEY_ARN), added: &[], error: None };
    grant_retire_without_key: record("kms.amazonaws.com", "RetireGrant", json!({"grantToken": "t"}))
        => Want::Ignored("RetireGrant names no key");
    // Account settings.
    ebs_default_key_modified: ec2("ModifyEbsDefaultKmsKeyId", json!({"kmsKeyId": KEY_ARN}))
        => Want::Beyond { kind: TriggerKind::Ec2SettingsChanged, arn: None, added: &[], error: None };
    snapshot_bpa_disabled: ec2("DisableSnapshotBlockPublicAccess", Value::Null)
        => Want::Beyond { kind: TriggerKind::Ec2SettingsChanged, arn: None, added: &[], error: None };
    // Envelopes and sources.
    envelope_ec2: envelope("aws.ec2", snapshot_share(json!({"items": [{"userId": COMPUTE}]})))
        => beyond(TriggerKind::SnapshotChanged, SNAP_ARN, &[COMPUTE]);
    envelope_rds_wrapping_ec2_is_refused: envelope("aws.rds", snapshot_share(json!({})))
        => Want::Ignored("does not match the EventBridge source aws.rds");
    ec2_record_without_event_source: without(snapshot_share(json!({"items": [{"userId": COMPUTE}]})), "/eventSource")
        => beyond(TriggerKind::SnapshotChanged, SNAP_ARN, &[COMPUTE]);
    ec2_name_from_another_service_is_refused: record("s3.amazonaws.com", "ModifySnapshotAttribute", json!({"snapshotId": SNAP}))
        => Want::Ignored("does not match ModifySnapshotAttribute");
    ec2_unwatched_call: ec2("DescribeSnapshots", json!({}))
        => Want::Ignored("event DescribeSnapshots is not one cmkguard acts on");
}

cases! {
    // Every watched S3 name.
    s3_create_bucket: s3("CreateBucket") => Want::Bucket("data-no-tls");
    s3_put_bucket_encryption: s3("PutBucketEncryption") => Want::Bucket("data-no-tls");
    s3_delete_bucket_encryption: s3("DeleteBucketEncryption") => Want::Bucket("data-no-tls");
    s3_put_bucket_policy: s3("PutBucketPolicy") => Want::Bucket("data-no-tls");
    s3_delete_bucket_policy: s3("DeleteBucketPolicy") => Want::Bucket("data-no-tls");
    s3_put_bucket_acl: s3("PutBucketAcl") => Want::Bucket("data-no-tls");
    s3_put_bucket_tagging: s3("PutBucketTagging") => Want::Bucket("data-no-tls");
    s3_delete_bucket_tagging: s3("DeleteBucketTagging") => Want::Bucket("data-no-tls");
    s3_event_name_case_is_ignored: s3("putbucketpolicy") => Want::Bucket("data-no-tls");

    // Every watched KMS name, and the ways a key is named.
    kms_create_key: create_key(json!({"keyMetadata": {"aWSAccountId": DATA, "keyId": KEY_ID, "arn": KEY_ARN}}))
        => Want::Key(KEY_ARN);
    kms_create_key_id_only_builds_arn: create_key(json!({"keyMetadata": {"aWSAccountId": DATA, "keyId": KEY_ID}}))
        => Want::Key(KEY_ARN);
    kms_create_key_pascal_case_metadata: create_key(json!({"KeyMetadata": {"AWSAccountId": DATA, "KeyId": KEY_ID, "Arn": KEY_ARN}}))
        => Want::Key(KEY_ARN);
    kms_create_key_from_resources: with(create_key(Value::Null), "/resources", key_resource(DATA))
        => Want::Key(KEY_ARN);
    kms_create_key_without_response: create_key(Value::Null) => Want::Ignored("CreateKey names no key");
    kms_put_key_policy: kms("PutKeyPolicy") => Want::Key(KEY_ARN);
    kms_disable_key_rotation: kms("DisableKeyRotation") => Want::Key(KEY_ARN);
    kms_schedule_key_deletion: kms("ScheduleKeyDeletion") => Want::Key(KEY_ARN);
    kms_disable_key: kms("DisableKey") => Want::Key(KEY_ARN);
    kms_tag_resource: kms("TagResource") => Want::Key(KEY_ARN);
    kms_untag_resource: kms("UntagResource") => Want::Key(KEY_ARN);
    kms_bare_key_id_becomes_arn: with(kms("DisableKey"), "/requestParameters/keyId", json!(KEY_ID))
        => Want::Key(KEY_ARN);
    kms_bare_key_id_in_china_gets_china_partition:
        with(with(kms("DisableKey"), "/requestParameters/keyId", json!(KEY_ID)), "/awsRegion", json!("cn-north-1"))
        => Want::Key("arn:aws-cn:kms:cn-north-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab");
    kms_bare_key_id_without_region_stays_bare:
        without(with(kms("DisableKey"), "/requestParameters/keyId", json!(KEY_ID)), "/awsRegion")
        => Want::Key(KEY_ID);
    kms_bare_key_id_with_malformed_account_stays_bare:
        with(with(kms("DisableKey"), "/requestParameters/keyId", json!(KEY_ID)), "/recipientAccountId", json!("1111-2222-3333"))
        => Want::Key(KEY_ID);
    kms_alias_stays_as_given: with(kms("ScheduleKeyDeletion"), "/requestParameters/keyId", json!("alias/data-shared"))
        => Want::Key("alias/data-shared");
    kms_alias_resolved_by_resources:
        with(with(kms("DisableKey"), "/requestParameters/keyId", json!("alias/data-shared")), "/resources", key_resource(DATA))
        => Want::Key(KEY_ARN);
    kms_key_from_resources_when_params_null:
        with(with(kms("PutKeyPolicy"), "/requestParameters", Value::Null), "/resources", key_resource(DATA))
        => Want::Key(KEY_ARN);
    kms_key_id_as_number_is_kept: with(kms("DisableKey"), "/requestParameters/keyId", json!(42))
        => Want::Key("arn:aws:kms:eu-west-1:111122223333:key/42");
    kms_missing_key: with(kms("DisableKey"), "/requestParameters", json!({})) => Want::Ignored("DisableKey names no key");

    // Names cmkguard does not act on.
    s3_get_bucket_policy_is_not_acted_on: s3("GetBucketPolicy") => Want::Ignored("event GetBucketPolicy is not one cmkguard acts on");
    s3_put_object_success_is_not_acted_on: s3("PutObject") => Want::Ignored("not one cmkguard acts on");
    kms_enable_key_rotation_is_not_acted_on: kms("EnableKeyRotation") => Want::Ignored("not one cmkguard acts on");
    kms_cancel_key_deletion_is_not_acted_on: kms("CancelKeyDeletion") => Want::Ignored("not one cmkguard acts on");
    kms_enable_key_is_not_acted_on: kms("EnableKey") => Want::Ignored("not one cmkguard acts on");
    iam_event_is_not_acted_on: record("iam.amazonaws.com", "CreateRole", json!({})) => Want::Ignored("event CreateRole is not one");

    // eventSource and envelope source must agree with the name.
    s3_name_from_kms_source: record("kms.amazonaws.com", "PutBucketPolicy", json!({"bucketName": "b"}))
        => Want::Ignored("eventSource kms.amazonaws.com does not match PutBucketPolicy");
    kms_name_from_s3_source: record("s3.amazonaws.com", "DisableKey", json!({"keyId": KEY_ARN}))
        => Want::Ignored("expected kms.amazonaws.com");
    watched_name_from_other_service: record("ec2.amazonaws.com", "CreateKey", json!({}))
        => Want::Ignored("does not match CreateKey");
    envelope_source_disagrees_with_record: envelope("aws.kms", s3("PutBucketPolicy"))
        => Want::Ignored("does not match the EventBridge source aws.kms");
    missing_event_source_inferred_from_name: without(s3("PutBucketAcl"), "/eventSource") => Want::Bucket("data-no-tls");
    missing_event_source_and_envelope_disagree: envelope("aws.kms", without(s3("PutBucketAcl"), "/eventSource"))
        => Want::Ignored("EventBridge source is aws.kms");
    missing_event_source_unknown_name: without(s3("GetObject"), "/eventSource") => Want::Ignored("has no eventSource");
    missing_event_source_taken_from_envelope: envelope("aws.s3", denied(without(s3("GetObject"), "/eventSource"), "AccessDenied", COMPUTE))
        => Want::Denied { bucket: Some("data-no-tls"), key: None, caller: COMPUTE, owner: DATA };

    // Key casing.
    pascal_case_request_parameters: renamed(
        with(s3("PutBucketPolicy"), "/requestParameters", json!({"BucketName": "data-exempt"})),
        "requestParameters", "RequestParameters") => Want::Bucket("data-exempt");
    shouting_top_level_keys: json!({
        "EVENTNAME": "DeleteBucketPolicy", "EventSource": "S3.AMAZONAWS.COM", "AWSRegion": "eu-west-1",
        "RecipientAccountID": DATA, "REQUESTPARAMETERS": {"BUCKETNAME": "data-compliant"}
    }) => Want::Bucket("data-compliant");
    bucket_under_bucket_key: with(s3("PutBucketAcl"), "/requestParameters", json!({"Bucket": "data-exempt"}))
        => Want::Bucket("data-exempt");
    kms_key_id_pascal_case: with(kms("DisableKey"), "/requestParameters", json!({"KeyId": KEY_ARN})) => Want::Key(KEY_ARN);
    resources_with_lowercase_arn: with(with(s3("PutBucketPolicy"), "/requestParameters", Value::Null),
        "/resources", json!([{"arn": "arn:aws:s3:::data-exempt", "AccountId": DATA, "Type": "AWS::S3::Bucket"}]))
        => Want::Bucket("data-exempt");

    // Null, missing and oddly typed fields.
    null_request_parameters_with_resources: with(with(s3("PutBucketPolicy"), "/requestParameters", Value::Null),
        "/resources", bucket_resource("data-shared-analytics", DATA)) => Want::Bucket("data-shared-analytics");
    null_request_parameters_without_resources: with(s3("PutBucketPolicy"), "/requestParameters", Value::Null)
        => Want::Ignored("PutBucketPolicy names no bucket");
    missing_request_parameters: without(s3("DeleteBucketEncryption"), "/requestParameters")
        => Want::Ignored("names no bucket");
    request_parameters_as_json_text: with(s3("PutBucketPolicy"), "/requestParameters", json!("{\"bucketName\":\"data-exempt\"}"))
        => Want::Bucket("data-exempt");
    request_parameters_as_plain_text: with(s3("PutBucketPolicy"), "/requestParameters", json!("bucketName=data-exempt"))
        => Want::Ignored("names no bucket");
    request_parameters_as_array: with(s3("PutBucketPolicy"), "/requestParameters", json!(["data-exempt"]))
        => Want::Ignored("names no bucket");
    policy_as_string: with(s3("PutBucketPolicy"), "/requestParameters/bucketPolicy",
        json!("{\"Version\":\"2012-10-17\",\"Statement\":[]}")) => Want::Bucket("data-no-tls");
    policy_as_object: with(s3("PutBucketPolicy"), "/requestParameters/bucketPolicy",
        json!({"Version": "2012-10-17", "Statement": []})) => Want::Bucket("data-no-tls");
    policy_unparseable: with(s3("PutBucketPolicy"), "/requestParameters/bucketPolicy", json!("{not json"))
        => Want::Bucket("data-no-tls");
    blank_bucket_name_falls_back_to_resources: with(with(s3("PutBucketPolicy"), "/requestParameters/bucketName", json!("  ")),
        "/resources", bucket_resource("data-exempt", DATA)) => Want::Bucket("data-exempt");
    bucket_from_object_arn_only: with(with(s3("PutBucketPolicy"), "/requestParameters", Value::Null),
        "/resources", json!([{"ARN": "arn:aws:s3:::data-exempt/a/b"}])) => Want::Bucket("data-exempt");
    resources_not_an_array: with(with(s3("PutBucketPolicy"), "/requestParameters", Value::Null), "/resources", json!("arn:aws:s3:::x"))
        => Want::Ignored("names no bucket");
    resources_with_junk_entries: with(with(s3("PutBucketPolicy"), "/requestParameters", Value::Null),
        "/resources", json!([null, 3, {"ARN": "not an arn"}, {"ARN": "arn:aws:s3:::data-compliant"}])) => Want::Bucket("data-compliant");
    user_identity_missing: without(s3("CreateBucket"), "/userIdentity") => Want::Bucket("data-no-tls");
    user_identity_not_an_object: with(s3("CreateBucket"), "/userIdentity", json!("root")) => Want::Bucket("data-no-tls");
    event_name_not_text: with(s3("CreateBucket"), "/eventName", json!({"name": "CreateBucket"}))
        => Want::Ignored("the CloudTrail record has no eventName");
    event_name_null: with(s3("CreateBucket"), "/eventName", Value::Null)
        => Want::Ignored("not an EventBridge event or CloudTrail record");

    // Failed calls changed nothing.
    failed_malformed_policy: failed(s3("PutBucketPolicy"), "MalformedPolicy")
        => Want::Ignored("the call failed with MalformedPolicy: nothing was applied");
    failed_no_such_bucket: failed(s3("DeleteBucketPolicy"), "NoSuchBucket") => Want::Ignored("failed with NoSuchBucket");
    failed_kms_not_found: failed(kms("ScheduleKeyDeletion"), "NotFoundException") => Want::Ignored("failed with NotFoundException");
    failed_unauthorized_operation_is_not_access_denied: denied(s3("GetObject"), "Client.UnauthorizedOperation", COMPUTE)
        => Want::Ignored("failed with Client.UnauthorizedOperation");
    failed_unknown_name: failed(s3("GetObject"), "NoSuchKey") => Want::Ignored("failed with NoSuchKey");
    blank_error_code_is_success: failed(s3("PutBucketPolicy"), " ") => Want::Bucket("data-no-tls");
    null_error_code_is_success: with(s3("PutBucketPolicy"), "/errorCode", Value::Null) => Want::Bucket("data-no-tls");

    // The AccessDenied family (§6).
    s3_get_object_denied_cross_account:
        with(denied(s3("GetObject"), "AccessDenied", COMPUTE), "/resources", bucket_resource("data-shared-analytics", DATA))
        => Want::Denied { bucket: Some("data-no-tls"), key: None, caller: COMPUTE, owner: DATA };
    s3_put_object_denied_same_account: with(denied(s3("PutObject"), "AccessDenied", DATA), "/resources", bucket_resource("data-no-tls", DATA))
        => Want::Ignored("AccessDenied within account 111122223333: not a cross-account handshake problem");
    s3_put_bucket_policy_denied_cross_account: denied(s3("PutBucketPolicy"), "AccessDenied", THIRD)
        => Want::Denied { bucket: Some("data-no-tls"), key: None, caller: THIRD, owner: DATA };
    s3_list_objects_v2_denied: denied(s3("ListObjectsV2"), "AccessDenied", COMPUTE)
        => Want::Denied { bucket: Some("data-no-tls"), key: None, caller: COMPUTE, owner: DATA };
    s3_head_object_denied_bucket_from_resources_only:
        with(with(denied(s3("HeadObject"), "AccessDenied", COMPUTE), "/requestParameters", Value::Null),
            "/resources", bucket_resource("data-shared-analytics", DATA))
        => Want::Denied { bucket: Some("data-shared-analytics"), key: None, caller: COMPUTE, owner: DATA };
    kms_decrypt_denied_cross_account: denied(kms("Decrypt"), "AccessDeniedException", COMPUTE)
        => Want::Denied { bucket: None, key: Some(KEY_ARN), caller: COMPUTE, owner: DATA };
    kms_generate_data_key_without_plaintext_denied: denied(kms("GenerateDataKeyWithoutPlaintext"), "AccessDeniedException", THIRD)
        => Want::Denied { bucket: None, key: Some(KEY_ARN), caller: THIRD, owner: DATA };
    kms_describe_key_denied_same_account: denied(kms("DescribeKey"), "AccessDeniedException", DATA)
        => Want::Ignored("within account 111122223333");
    kms_put_key_policy_denied_cross_account: denied(kms("PutKeyPolicy"), "AccessDeniedException", COMPUTE)
        => Want::Denied { bucket: None, key: Some(KEY_ARN), caller: COMPUTE, owner: DATA };
    access_denied_code_case_is_ignored: denied(s3("CopyObject"), "accessdenied", COMPUTE)
        => Want::Denied { bucket: Some("data-no-tls"), key: None, caller: COMPUTE, owner: DATA };
    denied_anonymous_caller: denied(s3("GetObject"), "AccessDenied", "anonymous")
        => Want::Ignored("without an account id (userIdentity.type AssumedRole)");
    denied_aws_service_without_account: with(denied(s3("GetObject"), "AccessDenied", COMPUTE), "/userIdentity",
        json!({"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"}))
        => Want::Ignored("userIdentity.type AWSService");
    denied_without_user_identity: without(denied(kms("Decrypt"), "AccessDeniedException", COMPUTE), "/userIdentity")
        => Want::Ignored("userIdentity.type missing");
    denied_owner_from_resources_over_recipient:
        with(with(denied(s3("GetObject"), "AccessDenied", COMPUTE), "/recipientAccountId", json!(COMPUTE)),
            "/resources", bucket_resource("data-shared-analytics", DATA))
        => Want::Denied { bucket: Some("data-no-tls"), key: None, caller: COMPUTE, owner: DATA };
    denied_owner_from_key_arn_over_recipient:
        with(denied(kms("Decrypt"), "AccessDeniedException", COMPUTE), "/recipientAccountId", json!(COMPUTE))
        => Want::Denied { bucket: None, key: Some(KEY_ARN), caller: COMPUTE, owner: DATA };
    denied_bare_key_id_in_callers_account_is_same_account:
        with(with(denied(kms("Decrypt"), "AccessDeniedException", COMPUTE), "/recipientAccountId", json!(COMPUTE)),
            "/requestParameters/keyId", json!(KEY_ID))
        => Want::Ignored("within account 444455556666");
    denied_owner_missing_entirely_is_cross_account_owner_unknown: without(denied(s3("GetObject"), "AccessDenied", COMPUTE), "/recipientAccountId")
        => Want::DeniedOn { bucket: Some("data-no-tls"), key: None, caller: COMPUTE, owner: None, side: Side::Caller };
    denied_bucket_from_virtual_hosted_host: with(denied(s3("GetObject"), "AccessDenied", COMPUTE), "/requestParameters", json!({"Host": "data-shared-analytics.s3.eu-west-1.amazonaws.com", "key": "a.csv"}))
        => Want::Denied { bucket: Some("data-shared-analytics"), key: None, caller: COMPUTE, owner: DATA };
    denied_bucket_from_legacy_dash_region_host: with(denied(s3("PutObject"), "AccessDenied", COMPUTE), "/requestParameters", json!({"Host": "my.dotted.bucket.s3-eu-west-1.amazonaws.com:443"}))
        => Want::Denied { bucket: Some("my.dotted.bucket"), key: None, caller: COMPUTE, owner: DATA };
    denied_path_style_host_names_no_bucket: with(denied(s3("GetObject"), "AccessDenied", COMPUTE), "/requestParameters", json!({"Host": "s3.eu-west-1.amazonaws.com"}))
        => Want::Ignored("AccessDenied on GetObject names no bucket");
    denied_foreign_host_names_no_bucket: with(denied(s3("GetObject"), "AccessDenied", COMPUTE), "/requestParameters", json!({"Host": "bucket.s3.example.com"}))
        => Want::Ignored("AccessDenied on GetObject names no bucket");
    denied_s3_without_bucket: with(denied(s3("ListBuckets"), "AccessDenied", COMPUTE), "/requestParameters", json!({"Host": "s3.amazonaws.com"}))
        => Want::Ignored("AccessDenied on ListBuckets names no bucket");
    denied_kms_without_key_or_context: with(denied(kms("ListKeys"), "AccessDeniedException", COMPUTE), "/requestParameters", Value::Null)
        => Want::Ignored("names neither a key nor an S3 object");
    denied_kms_bucket_from_encryption_context:
        with(denied(kms("Decrypt"), "AccessDeniedException", COMPUTE), "/requestParameters",
            json!({"encryptionContext": {"aws:s3:arn": "arn:aws:s3:::data-shared-analytics/a.csv"}}))
        => Want::Denied { bucket: Some("data-shared-analytics"), key: None, caller: COMPUTE, owner: DATA };
    denied_non_twelve_digit_caller_is_kept: denied(s3("GetObject"), "AccessDenied", "4444")
        => Want::Denied { bucket: Some("data-no-tls"), key: None, caller: "4444", owner: DATA };
    denied_numeric_caller_account: with(denied(s3("GetObject"), "AccessDenied", COMPUTE), "/userIdentity/accountId", json!(444455556666u64))
        => Want::Denied { bucket: Some("data-no-tls"), key: None, caller: COMPUTE, owner: DATA };
    denied_on_other_service_is_just_failed: denied(record("iam.amazonaws.com", "GetRole", json!({})), "AccessDenied", COMPUTE)
        => Want::Ignored("failed with AccessDenied");
    denied_wrong_source_for_watched_name: denied(record("kms.amazonaws.com", "PutBucketPolicy", json!({})), "AccessDenied", COMPUTE)
        => Want::Ignored("does not match PutBucketPolicy");

    // Where AWS really logs a denial (§6): the caller's copy of an S3 data event has the
    // owner redacted; a KMS denial is only in the caller's trail, the key ARN names the owner.
    s3_redacted_owner_present_and_empty:
        with(with(denied(s3("GetObject"), "AccessDenied", COMPUTE), "/recipientAccountId", json!(COMPUTE)),
            "/resources", bucket_resource("data-shared-analytics", ""))
        => Want::DeniedOn { bucket: Some("data-no-tls"), key: None, caller: COMPUTE, owner: None, side: Side::Caller };
    s3_redacted_owner_absent:
        with(with(denied(s3("PutObject"), "AccessDenied", COMPUTE), "/recipientAccountId", json!(COMPUTE)),
            "/resources", json!([{"type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::data-shared-analytics"}]))
        => Want::DeniedOn { bucket: Some("data-no-tls"), key: None, caller: COMPUTE, owner: None, side: Side::Caller };
    s3_redacted_owner_null_is_absent:
        with(with(denied(s3("PutObject"), "AccessDenied", COMPUTE), "/recipientAccountId", json!(COMPUTE)),
            "/resources", json!([{"accountId": null, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::data-shared-analytics"}]))
        => Want::DeniedOn { bucket: Some("data-no-tls"), key: None, caller: COMPUTE, owner: None, side: Side::Caller };
    s3_redacted_in_a_third_accounts_copy_stays_unknown:
        with(with(denied(s3("GetObject"), "AccessDenied", COMPUTE), "/recipientAccountId", json!(THIRD)),
            "/resources", bucket_resource("data-shared-analytics", ""))
        => Want::DeniedOn { bucket: Some("data-no-tls"), key: None, caller: COMPUTE, owner: None, side: Side::ThirdParty };
    s3_filled_owner_in_the_callers_copy:
        with(with(denied(s3("GetObject"), "AccessDenied", COMPUTE), "/recipientAccountId", json!(COMPUTE)),
            "/resources", bucket_resource("data-shared-analytics", DATA))
        => Want::DeniedOn { bucket: Some("data-no-tls"), key: None, caller: COMPUTE, owner: Some(DATA), side: Side::Caller };
    s3_filled_owner_in_the_owners_copy:
        with(denied(s3("GetObject"), "AccessDenied", COMPUTE), "/resources", bucket_resource("data-shared-analytics", DATA))
        => Want::DeniedOn { bucket: Some("data-no-tls"), key: None, caller: COMPUTE, owner: Some(DATA), side: Side::Owner };
    s3_no_resources_in_the_callers_copy_is_owner_unknown:
        with(denied(s3("GetObject"), "AccessDenied", COMPUTE), "/recipientAccountId", json!(COMPUTE))
        => Want::DeniedOn { bucket: Some("data-no-tls"), key: None, caller: COMPUTE, owner: None, side: Side::Caller };
    s3_same_account_is_provable_only_by_the_bucket_entry:
        with(with(denied(s3("GetObject"), "AccessDenied", COMPUTE), "/recipientAccountId", json!(COMPUTE)),
            "/resources", bucket_resource("data-shared-analytics", COMPUTE))
        => Want::Ignored("within account 444455556666");
    kms_callers_copy_takes_the_owner_from_the_key_arn:
        with(denied(kms("Decrypt"), "AccessDeniedException", COMPUTE), "/recipientAccountId", json!(COMPUTE))
        => Want::DeniedOn { bucket: None, key: Some(KEY_ARN), caller: COMPUTE, owner: Some(DATA), side: Side::Caller };
    kms_owner_from_resources_when_the_request_names_an_alias_arn:
        with(with(with(denied(kms("Decrypt"), "AccessDeniedException", COMPUTE), "/recipientAccountId", json!(COMPUTE)),
            "/requestParameters/keyId", json!("arn:aws:kms:eu-west-1:111122223333:alias/data")), "/resources", key_resource(DATA))
        => Want::DeniedOn { bucket: None, key: Some(KEY_ARN), caller: COMPUTE, owner: Some(DATA), side: Side::Caller };
    kms_owner_from_the_key_arn_in_the_error_message:
        with(with(with(denied(kms("Decrypt"), "AccessDeniedException", COMPUTE), "/recipientAccountId", json!(COMPUTE)),
            "/requestParameters", json!({"encryptionContext": {"aws:s3:arn": "arn:aws:s3:::data-shared-analytics/a.csv"}})),
            "/errorMessage", json!(format!("User: arn:aws:sts::444455556666:assumed-role/r/s is not authorized to perform: kms:Decrypt on resource: {KEY_ARN} because no resource-based policy allows the kms:Decrypt action")))
        => Want::DeniedOn { bucket: Some("data-shared-analytics"), key: None, caller: COMPUTE, owner: Some(DATA), side: Side::Caller };
    kms_via_s3_without_any_key_in_the_callers_copy_is_owner_unknown:
        with(with(denied(kms("Decrypt"), "AccessDeniedException", COMPUTE), "/recipientAccountId", json!(COMPUTE)),
            "/requestParameters", json!({"encryptionContext": {"aws:s3:arn": "arn:aws:s3:::data-shared-analytics/a.csv"}}))
        => Want::DeniedOn { bucket: Some("data-shared-analytics"), key: None, caller: COMPUTE, owner: None, side: Side::Caller };

    // A denial relayed to the owner (source cmkguard.denial): the owner is detail.owner_account,
    // never the envelope's account, which real AWS leaves as the relay's and moto rewrites.
    relayed_kms_denial_is_the_owner_side: relayed(callers_kms_denial(), json!(DATA), "999988887777")
        => Want::DeniedOn { bucket: None, key: Some(KEY_ARN), caller: COMPUTE, owner: Some(DATA), side: Side::Owner };
    relayed_envelope_account_rewritten_to_the_receiver_is_ignored: relayed(callers_kms_denial(), json!(DATA), DATA)
        => Want::DeniedOn { bucket: None, key: Some(KEY_ARN), caller: COMPUTE, owner: Some(DATA), side: Side::Owner };
    relayed_redacted_s3_denial_takes_the_relays_owner: relayed(callers_redacted_s3_denial(), json!(DATA), "999988887777")
        => Want::DeniedOn { bucket: Some("data-no-tls"), key: None, caller: COMPUTE, owner: Some(DATA), side: Side::Owner };
    relayed_without_owner_is_not_taken_from_the_envelope: relayed(callers_redacted_s3_denial(), Value::Null, DATA)
        => Want::Ignored("no 12-digit detail.owner_account");
    relayed_owner_malformed: relayed(callers_kms_denial(), json!("1111-2222-3333"), DATA)
        => Want::Ignored("no 12-digit detail.owner_account");
    relayed_owner_contradicting_the_key_arn: relayed(callers_kms_denial(), json!(THIRD), THIRD)
        => Want::Ignored("sent to owner 777788889999 but its record names owner 111122223333");
    relayed_to_the_callers_own_account: relayed(callers_redacted_s3_denial(), json!(COMPUTE), COMPUTE)
        => Want::Ignored("which is the caller's own account");
    relayed_record_as_json_text: relayed(json!(callers_kms_denial().to_string()), json!(DATA), "999988887777")
        => Want::DeniedOn { bucket: None, key: Some(KEY_ARN), caller: COMPUTE, owner: Some(DATA), side: Side::Owner };
    relayed_success_is_not_a_denial: relayed(kms("PutKeyPolicy"), json!(DATA), "999988887777")
        => Want::Ignored("relayed record PutKeyPolicy is not an AccessDenied");
    relayed_without_record: with(relayed(callers_kms_denial(), json!(DATA), DATA), "/detail", json!({"owner_account": DATA}))
        => Want::Ignored("has no detail.record object");
    relayed_without_detail: without(relayed(callers_kms_denial(), json!(DATA), DATA), "/detail")
        => Want::Ignored("has no detail object");

    // The same denial twice in one batch (the owner's copy and a relayed copy, or a replayed
    // log file) is diagnosed once: sharedEventID, else requestID with eventTime.
    duplicate_by_shared_event_id: json!({"Records": [
            with(denied(s3("GetObject"), "AccessDenied", COMPUTE), "/sharedEventID", json!("shared-1")),
            with(with(denied(s3("GetObject"), "AccessDenied", COMPUTE), "/sharedEventID", json!("shared-1")), "/eventID", json!("other-copy"))]})
        => Want::Records(&[Want::Denied { bucket: Some("data-no-tls"), key: None, caller: COMPUTE, owner: DATA },
            Want::Ignored("duplicate of an earlier record of this batch (sharedEventID shared-1)")]);
    duplicate_by_request_id_and_time: json!({"Records": [
            with(denied(kms("Decrypt"), "AccessDeniedException", COMPUTE), "/requestID", json!("req-1")),
            with(denied(kms("Decrypt"), "AccessDeniedException", COMPUTE), "/requestID", json!("req-1"))]})
        => Want::Records(&[Want::Denied { bucket: None, key: Some(KEY_ARN), caller: COMPUTE, owner: DATA },
            Want::Ignored("requestID req-1 at 2024-11-25T10:02:41Z")]);
    same_request_id_at_another_time_is_not_a_duplicate: json!({"Records": [
            with(denied(kms("Decrypt"), "AccessDeniedException", COMPUTE), "/requestID", json!("req-1")),
            with(with(denied(kms("Decrypt"), "AccessDeniedException", COMPUTE), "/requestID", json!("req-1")), "/eventTime", json!("2024-11-25T10:09:00Z"))]})
        => Want::Records(&[Want::Denied { bucket: None, key: Some(KEY_ARN), caller: COMPUTE, owner: DATA },
            Want::Denied { bucket: None, key: Some(KEY_ARN), caller: COMPUTE, owner: DATA }]);
    without_ids_nothing_is_a_duplicate: json!({"Records": [
            denied(s3("GetObject"), "AccessDenied", COMPUTE), denied(s3("GetObject"), "AccessDenied", COMPUTE)]})
        => Want::Records(&[Want::Denied { bucket: Some("data-no-tls"), key: None, caller: COMPUTE, owner: DATA },
            Want::Denied { bucket: Some("data-no-tls"), key: None, caller: COMPUTE, owner: DATA }]);
    changes_are_never_deduplicated: json!({"Records": [
            with(s3("PutBucketPolicy"), "/requestID", json!("r")), with(s3("PutBucketPolicy"), "/requestID", json!("r"))]})
        => Want::Records(&[Want::Bucket("data-no-tls"), Want::Bucket("data-no-tls")]);

    // Envelopes.
    envelope_s3: envelope("aws.s3", s3("PutBucketEncryption")) => Want::Bucket("data-no-tls");
    envelope_kms: envelope("aws.kms", kms("DisableKeyRotation")) => Want::Key(KEY_ARN);
    envelope_source_case_is_ignored: envelope("AWS.S3", s3("PutBucketEncryption")) => Want::Bucket("data-no-tls");
    envelope_scheduled_event: with(envelope("aws.events", json!({})), "/detail-type", json!("Scheduled Event"))
        => Want::Ignored("detail-type 'Scheduled Event' is not 'AWS API Call via CloudTrail': a schedule is a sweep request");
    envelope_object_created: with(envelope("aws.s3", json!({"bucket": {"name": "data-compliant"}})), "/detail-type", json!("Object Created"))
        => Want::Ignored("detail-type 'Object Created'");
    envelope_without_detail_type: without(envelope("aws.s3", s3("PutBucketPolicy")), "/detail-type")
        => Want::Ignored("has no detail-type");
    // aws.ec2 is a watched source since beyond S3: the record must still match it.
    envelope_wrong_source: envelope("aws.ec2", s3("PutBucketPolicy")) => Want::Ignored("does not match the EventBridge source aws.ec2");
    envelope_unknown_source: envelope("aws.sqs", s3("PutBucketPolicy")) => Want::Ignored("source 'aws.sqs' is none of aws.s3, aws.kms");
    envelope_without_source: without(envelope("aws.s3", s3("PutBucketPolicy")), "/source") => Want::Ignored("has no source");
    envelope_detail_not_an_object: envelope("aws.s3", json!([s3("PutBucketPolicy")])) => Want::Ignored("no detail object");
    envelope_detail_null: envelope("aws.s3", Value::Null) => Want::Ignored("no detail object");
    envelope_detail_as_json_text: envelope("aws.s3", json!(s3("PutBucketPolicy").to_string())) => Want::Bucket("data-no-tls");
    envelope_detail_without_event_name: envelope("aws.s3", without(s3("PutBucketPolicy"), "/eventName"))
        => Want::Ignored("has no eventName");

    // CloudTrail log files.
    records_file: json!({"Records": [s3("PutBucketPolicy"), kms("DisableKey"), s3("ListBuckets"), 7]})
        => Want::Records(&[Want::Bucket("data-no-tls"), Want::Key(KEY_ARN),
            Want::Ignored("not one cmkguard acts on"), Want::Ignored("record is a number")]);
    records_empty: json!({"Records": []}) => Want::Records(&[]);
    records_lowercase_key: json!({"records": [kms("PutKeyPolicy")]}) => Want::Records(&[Want::Key(KEY_ARN)]);
    records_not_an_array: json!({"Records": "s3"}) => Want::Ignored("Records is a string, not an array");
    records_null: json!({"Records": null}) => Want::Ignored("Records is null");

    // Not events at all.
    top_level_array: json!([s3("PutBucketPolicy")]) => Want::Ignored("the event is an array, not a JSON object");
    top_level_string: json!("PutBucketPolicy") => Want::Ignored("is a string");
    top_level_null: Value::Null => Want::Ignored("is null");
    top_level_number: json!(111122223333u64) => Want::Ignored("is a number");
    empty_object: json!({}) => Want::Ignored("not an EventBridge event or CloudTrail record");
    unrelated_object: json!({"Type": "Notification", "Message": "{}"}) => Want::Ignored("not an EventBridge event");
}

fn single_trigger(v: &Value) -> Trigger {
    match parse_event_value(v) {
        EventInput::Single(Parsed::Trigger(t)) => t,
        other => panic!("expected one trigger, got {other:#?}"),
    }
}

#[test]
fn trigger_carries_every_field_of_the_record() {
    let v = with(
        with(
            s3("putBucketPolicy"),
            "/resources",
            bucket_resource("data-no-tls", DATA),
        ),
        "/eventTime",
        json!("2024-11-25T10:02:41Z"),
    );
    let t = single_trigger(&v);
    assert_eq!(
        t,
        Trigger {
            kind: TriggerKind::BucketChanged,
            event_name: "PutBucketPolicy".into(),
            event_source: "s3.amazonaws.com".into(),
            event_id: Some("0a1b2c3d-0000-4000-8000-000000000001".into()),
            event_time: Some("2024-11-25T10:02:41Z".into()),
            account: Some(DATA.into()),
            region: Some("eu-west-1".into()),
            bucket: Some("data-no-tls".into()),
            key: None,
            caller_account: Some(DATA.into()),
            owner_account: Some(DATA.into()),
            error_code: None,
            error_message: None,
            principal_arn: Some(
                "arn:aws:sts::111122223333:assumed-role/platform-admin/alice".into()
            ),
            session_issuer_arn: Some("arn:aws:iam::111122223333:role/platform-admin".into()),
            object_key: None,
            side: None,
            shared_event_id: None,
            request_id: None,
            resource_arn: None,
            change: None,
        }
    );
}

#[test]
fn access_denied_carries_object_key_and_error() {
    let v = with(
        denied(s3("GetObject"), "AccessDenied", COMPUTE),
        "/requestParameters/key",
        json!("reports/2024/daily.parquet"),
    );
    let t = single_trigger(&v);
    assert_eq!(t.object_key.as_deref(), Some("reports/2024/daily.parquet"));
    assert_eq!(t.error_code.as_deref(), Some("AccessDenied"));
    assert_eq!(t.error_message.as_deref(), Some("Access Denied"));
    assert_eq!(t.account.as_deref(), Some(DATA));

    let from_resources = with(
        with(
            denied(s3("GetObject"), "AccessDenied", COMPUTE),
            "/requestParameters",
            Value::Null,
        ),
        "/resources",
        bucket_resource("data-shared-analytics", DATA),
    );
    let t = single_trigger(&from_resources);
    assert_eq!(t.object_key.as_deref(), Some("reports/daily.parquet"));
}

/// A fixture file of `events/` as JSON.
fn fixture(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(events_dir().join(name)).unwrap()).unwrap()
}

/// Envelopes: the reading that takes them (`aws_lambda_events`' typed `EventBridgeEvent`, or
/// the lenient fallback when the strict type rejects them) and the verdict, which is the
/// lenient reading's either way.
macro_rules! envelope_cases {
    ($($name:ident: $input:expr => $reading:expr, $want:expr;)*) => {$(
        #[test]
        fn $name() {
            let input: Value = $input;
            let read = envelope::read_envelope(&input);
            assert_eq!(read.reading, $reading, "{read:#?}");
            assert_eq!(
                envelope::EnvelopeFields { reading: envelope::Reading::Lenient, ..read },
                envelope::read_leniently(&input)
            );
            check(&parse_event_value(&input), &$want);
        }
    )*};
}

envelope_cases! {
    real_envelope_is_read_typed: fixture("s3-PutBucketPolicy-shared-no-tls.json")
        => envelope::Reading::Typed, Want::Bucket("data-shared-analytics");
    real_kms_envelope_is_read_typed: fixture("kms-PutKeyPolicy-basic.json")
        => envelope::Reading::Typed, Want::Key(KEY_ARN);
    scheduled_event_fixture_is_read_typed: fixture("aws-Scheduled-Event.json")
        => envelope::Reading::Typed, Want::Ignored("a schedule is a sweep request");
    built_envelope_is_read_typed: envelope("aws.kms", kms("DisableKeyRotation"))
        => envelope::Reading::Typed, Want::Key(KEY_ARN);
    typed_detail_as_json_text_is_decoded: envelope("aws.s3", json!(s3("PutBucketPolicy").to_string()))
        => envelope::Reading::Typed, Want::Bucket("data-no-tls");
    typed_null_detail_is_no_detail: envelope("aws.s3", Value::Null)
        => envelope::Reading::Typed, Want::Ignored("no detail object");
    typed_blank_account_is_absent: with(envelope("aws.s3", s3("PutBucketPolicy")), "/account", json!("  "))
        => envelope::Reading::Typed, Want::Bucket("data-no-tls");
    malformed_time_falls_back_to_lenient: with(envelope("aws.s3", s3("PutBucketEncryption")), "/time", json!("25/11/2024 10:02"))
        => envelope::Reading::Lenient, Want::Bucket("data-no-tls");
    time_without_offset_falls_back_to_lenient: with(envelope("aws.s3", s3("PutBucketEncryption")), "/time", json!("2024-11-25T10:02:41"))
        => envelope::Reading::Lenient, Want::Bucket("data-no-tls");
    numeric_time_falls_back_to_lenient: with(envelope("aws.kms", kms("DisableKey")), "/time", json!(1732528961))
        => envelope::Reading::Lenient, Want::Key(KEY_ARN);
    numeric_account_falls_back_to_lenient: with(envelope("aws.s3", s3("PutBucketAcl")), "/account", json!(111122223333u64))
        => envelope::Reading::Lenient, Want::Bucket("data-no-tls");
    non_string_resources_fall_back_to_lenient: with(envelope("aws.s3", s3("PutBucketAcl")), "/resources", json!([{"ARN": "x"}]))
        => envelope::Reading::Lenient, Want::Bucket("data-no-tls");
    key_in_other_case_falls_back_to_lenient: renamed(envelope("aws.s3", s3("PutBucketPolicy")), "detail-type", "Detail-Type")
        => envelope::Reading::Lenient, Want::Bucket("data-no-tls");
    account_in_other_case_falls_back_to_lenient: renamed(envelope("aws.s3", s3("PutBucketPolicy")), "account", "Account")
        => envelope::Reading::Lenient, Want::Bucket("data-no-tls");
    missing_detail_falls_back_to_lenient: without(envelope("aws.s3", s3("PutBucketPolicy")), "/detail")
        => envelope::Reading::Lenient, Want::Ignored("no detail object");
    null_detail_type_falls_back_to_lenient: with(envelope("aws.s3", s3("PutBucketPolicy")), "/detail-type", Value::Null)
        => envelope::Reading::Lenient, Want::Ignored("has no detail-type");
}

#[test]
fn every_envelope_fixture_is_read_typed() {
    let mut envelopes = 0;
    for (name, bytes) in fixture_files() {
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        if get_ci(&v, "detail-type").is_none() {
            continue;
        }
        envelopes += 1;
        let read = envelope::read_envelope(&v);
        assert_eq!(read.reading, envelope::Reading::Typed, "events/{name}");
        let typed = envelope::typed::<Value>(&v).unwrap();
        assert_eq!(
            read.detail_type.as_deref(),
            Some(typed.detail_type.as_str())
        );
        assert!(typed.time.is_some(), "events/{name} has no time");
    }
    assert!(envelopes > 20, "{envelopes} envelope fixtures");
}

#[test]
fn lenient_envelope_still_fills_account_and_region_the_record_lacks() {
    let bare = without(
        without(s3("CreateBucket"), "/recipientAccountId"),
        "/awsRegion",
    );
    let mut env = envelope("aws.s3", bare);
    env["Account"] = json!(THIRD);
    env["region"] = json!("us-gov-west-1");
    env["time"] = json!("yesterday");
    env.as_object_mut().unwrap().remove("account");
    assert_eq!(
        envelope::read_envelope(&env).reading,
        envelope::Reading::Lenient
    );
    let t = single_trigger(&env);
    assert_eq!(t.account.as_deref(), Some(THIRD));
    assert_eq!(t.region.as_deref(), Some("us-gov-west-1"));
}

#[test]
fn envelope_fills_account_and_region_the_record_lacks() {
    let bare = without(
        without(s3("CreateBucket"), "/recipientAccountId"),
        "/awsRegion",
    );
    let mut env = envelope("aws.s3", bare.clone());
    env["account"] = json!(THIRD);
    env["region"] = json!("us-gov-west-1");
    let t = single_trigger(&env);
    assert_eq!(t.account.as_deref(), Some(THIRD));
    assert_eq!(t.region.as_deref(), Some("us-gov-west-1"));
    // Without the envelope the caller's account is the last resort.
    let t = single_trigger(&bare);
    assert_eq!(t.account.as_deref(), Some(DATA));
    assert_eq!(t.region, None);
    // The record's own fields win over the envelope's.
    let t = single_trigger(&envelope("aws.s3", s3("CreateBucket")));
    assert_eq!(t.region.as_deref(), Some("eu-west-1"));
}

#[test]
fn malformed_account_ids_are_kept_as_given() {
    let v = with(
        s3("PutBucketAcl"),
        "/recipientAccountId",
        json!("1111-2222-3333"),
    );
    let t = single_trigger(&v);
    assert_eq!(t.account.as_deref(), Some("1111-2222-3333"));
    assert_eq!(t.owner_account.as_deref(), Some("1111-2222-3333"));
}

#[test]
fn loop_guard_fields_are_captured_not_judged() {
    let v = with(
        s3("PutBucketPolicy"),
        "/userIdentity/sessionContext/sessionIssuer/arn",
        json!("arn:aws:iam::111122223333:role/cmkguard-function-role"),
    );
    let t = single_trigger(&v);
    assert_eq!(
        t.session_issuer_arn.as_deref(),
        Some("arn:aws:iam::111122223333:role/cmkguard-function-role")
    );
}

#[test]
fn bytes_that_are_not_json_are_errors_that_say_where() {
    let err = parse_event_bytes(b"{\"detail\": ").unwrap_err();
    let EventError::NotJson(msg) = &err;
    assert!(msg.contains("line 1"), "{msg}");
    assert!(err.to_string().starts_with("not JSON: "));
    assert!(parse_event_bytes(b"").is_err());
    assert!(parse_event_bytes(b"\xff\xfe{}").is_err());
}

#[test]
fn bytes_with_a_bom_parse() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(serde_json::to_vec(&s3("CreateBucket")).unwrap());
    assert!(matches!(
        parse_event_bytes(&bytes),
        Ok(EventInput::Single(Parsed::Trigger(_)))
    ));
    assert!(matches!(
        parse_event_bytes(b"42"),
        Ok(EventInput::Single(Parsed::Ignored { .. }))
    ));
}

#[test]
fn parsed_serialises_as_documented() {
    let ignored = serde_json::to_value(super::ignored("why")).unwrap();
    assert_eq!(ignored, json!({"ignored": {"reason": "why"}}));
    let t = serde_json::to_value(Parsed::Trigger(single_trigger(&kms("DisableKey")))).unwrap();
    assert_eq!(t["trigger"]["kind"], json!("key_changed"));
    assert_eq!(t["trigger"]["key"], json!(KEY_ARN));
    assert_eq!(t["trigger"]["bucket"], Value::Null);
}

/// Every file in `events/` and what it must parse to. A fixture without a row fails the
/// test, so the README and this table cannot silently fall behind the directory.
const FIXTURES: &[(&str, Want)] = &[
    ("ec2-CopyImage-encrypted-cmk.json", beyond(TriggerKind::ImageChanged, "arn:aws:ec2:eu-west-1::image/ami-0c0c0c0c0c0c0c0c0", &[])),
    ("ec2-CopySnapshot-encrypted-cmk.json", beyond(TriggerKind::SnapshotChanged, "arn:aws:ec2:eu-west-1::snapshot/snap-0c0c0c0c0c0c0c0c0", &[])),
    ("ec2-DescribeSnapshots-read-only.json", Want::Ignored("event DescribeSnapshots is not one cmkguard acts on")),
    ("ec2-ModifyEbsDefaultKmsKeyId-basic.json", Want::Beyond { kind: TriggerKind::Ec2SettingsChanged, arn: None, added: &[], error: None }),
    ("ec2-ModifyImageAttribute-InvalidParameter-aws-managed-key.json", Want::Beyond { kind: TriggerKind::ImageChanged, arn: Some(AMI_ARN), added: &[COMPUTE], error: Some("Client.InvalidParameter") }),
    ("ec2-ModifyImageAttribute-organization.json", beyond(TriggerKind::ImageChanged, AMI_ARN, &[ORG_ARN])),
    ("ec2-ModifyImageAttribute-share-account.json", beyond(TriggerKind::ImageChanged, AMI_ARN, &[COMPUTE])),
    ("ec2-ModifySnapshotAttribute-OperationNotPermitted-aws-ebs.json", Want::Beyond { kind: TriggerKind::SnapshotChanged, arn: Some(SNAP_ARN), added: &[COMPUTE], error: Some("Client.OperationNotPermitted") }),
    ("ec2-ModifySnapshotAttribute-failed-InvalidSnapshot.json", Want::Ignored("the call failed with Client.InvalidSnapshot.NotFound")),
    ("ec2-ModifySnapshotAttribute-public-groups.json", beyond(TriggerKind::SnapshotChanged, SNAP_ARN, &["all"])),
    ("ec2-ModifySnapshotAttribute-share-account.json", beyond(TriggerKind::SnapshotChanged, SNAP_ARN, &[COMPUTE])),
    ("ec2-ResetSnapshotAttribute-basic.json", beyond(TriggerKind::SnapshotChanged, SNAP_ARN, &[])),
    ("kms-CreateGrant-cross-account.json", Want::Beyond { kind: TriggerKind::GrantChanged, arn: Some(KEY_ARN), added: &[], error: None }),
    ("kms-RetireGrant-grant-token-only.json", Want::Beyond { kind: TriggerKind::GrantChanged, arn: Some(KEY_ARN), added: &[], error: None }),
    ("rds-CreateDBSnapshot-basic.json", beyond(TriggerKind::DbSnapshotChanged, "arn:aws:rds:eu-west-1:111122223333:snapshot:orders-2024-11-26", &[])),
    ("rds-ModifyDBClusterSnapshotAttribute-public.json", beyond(TriggerKind::DbSnapshotChanged, "arn:aws:rds:eu-west-1:111122223333:cluster-snapshot:ledger-2024-11-25", &["all"])),
    ("rds-ModifyDBSnapshotAttribute-share-account.json", beyond(TriggerKind::DbSnapshotChanged, "arn:aws:rds:eu-west-1:111122223333:snapshot:orders-2024-11-25", &[COMPUTE])),
    ("secretsmanager-CreateSecret-no-kms-key.json", beyond(TriggerKind::SecretChanged, "arn:aws:secretsmanager:eu-west-1:111122223333:secret:analytics/api-token-XyZ123", &[])),
    ("secretsmanager-PutResourcePolicy-cross-account.json", beyond(TriggerKind::SecretChanged, SECRET_ARN, &[])),
    ("secretsmanager-UpdateSecret-name-only.json", beyond(TriggerKind::SecretChanged, "arn:aws:secretsmanager:eu-west-1:111122223333:secret:analytics/db", &[])),
    (
        "aws-Scheduled-Event.json",
        Want::Ignored("detail-type 'Scheduled Event' is not 'AWS API Call via CloudTrail': a schedule is a sweep request"),
    ),
    (
        "cloudtrail-Records-mixed.json",
        Want::Records(&[
            Want::Bucket("data-no-tls"),
            Want::Key(KEY_ARN),
            Want::Ignored("event ListBuckets is not one cmkguard acts on"),
            Want::Ignored("AccessDenied within account 111122223333"),
        ]),
    ),
    (
        "kms-CreateKey-basic.json",
        Want::Key(
            "arn:aws:kms:eu-west-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321",
        ),
    ),
    (
        "cmkguard-denial-Decrypt-relayed-to-owner.json",
        Want::DeniedOn {
            bucket: Some("data-shared-analytics"),
            key: Some(KEY_ARN),
            caller: COMPUTE,
            owner: Some(DATA),
            side: Side::Owner,
        },
    ),
    (
        "kms-Decrypt-AccessDeniedException-cross-account.json",
        Want::DeniedOn {
            bucket: Some("data-shared-analytics"),
            key: Some(KEY_ARN),
            caller: COMPUTE,
            owner: Some(DATA),
            side: Side::Caller,
        },
    ),
    (
        "kms-DisableKey-alias-no-resources.json",
        Want::Key("alias/data-shared"),
    ),
    ("kms-DisableKey-basic.json", Want::Key(KEY_ARN)),
    ("kms-DisableKeyRotation-basic.json", Want::Key(KEY_ARN)),
    (
        "kms-EnableKeyRotation-improvement.json",
        Want::Ignored("event EnableKeyRotation is not one cmkguard acts on"),
    ),
    (
        "kms-GenerateDataKey-AccessDeniedException-third-account-bare-record.json",
        Want::DeniedOn {
            bucket: Some("data-shared-analytics"),
            key: Some(KEY_ARN),
            caller: THIRD,
            owner: Some(DATA),
            side: Side::Caller,
        },
    ),
    ("kms-PutKeyPolicy-basic.json", Want::Key(KEY_ARN)),
    ("kms-ScheduleKeyDeletion-basic.json", Want::Key(KEY_ARN)),
    // A service event (detail-type `AWS Service Event via CloudTrail`), no request
    // parameters: the key comes from resources[].
    ("kms-DeleteKey-end-of-waiting-period.json", Want::Key(KEY_ARN)),
    ("s3-DeleteBucket-basic.json", Want::Bucket("data-no-tls")),
    ("s3-CreateBucket-basic.json", Want::Bucket("data-no-tls")),
    (
        "s3-DeleteBucketEncryption-basic.json",
        Want::Bucket("data-no-tls"),
    ),
    (
        "s3-DeleteBucketPolicy-basic.json",
        Want::Bucket("data-compliant"),
    ),
    (
        "s3-DeleteBucketTagging-exemption-removed.json",
        Want::Bucket("data-exempt"),
    ),
    (
        "s3-GetBucketPolicy-read-only.json",
        Want::Ignored("event GetBucketPolicy is not one cmkguard acts on"),
    ),
    (
        "s3-GetObject-AccessDenied-anonymous.json",
        Want::Ignored("without an account id (userIdentity.type AWSAccount)"),
    ),
    (
        "s3-GetObject-AccessDenied-caller-redacted.json",
        Want::DeniedOn {
            bucket: Some("data-shared-analytics"),
            key: None,
            caller: COMPUTE,
            owner: None,
            side: Side::Caller,
        },
    ),
    (
        "s3-GetObject-AccessDenied-cross-account.json",
        Want::DeniedOn {
            bucket: Some("data-shared-analytics"),
            key: None,
            caller: COMPUTE,
            owner: Some(DATA),
            side: Side::Owner,
        },
    ),
    (
        "s3-Object-Created-eventbridge-notification.json",
        Want::Ignored("detail-type 'Object Created'"),
    ),
    (
        "s3-PutBucketAcl-basic.json",
        Want::Bucket("data-shared-analytics"),
    ),
    (
        "s3-PutBucketEncryption-alias.json",
        Want::Bucket("data-shared-analytics"),
    ),
    (
        "s3-PutBucketEncryption-aws-s3-key.json",
        Want::Bucket("data-shared-analytics"),
    ),
    (
        "s3-PutBucketPolicy-failed-MalformedPolicy.json",
        Want::Ignored("the call failed with MalformedPolicy: nothing was applied"),
    ),
    (
        "s3-PutBucketPolicy-loop-guard.json",
        Want::Bucket("data-shared-analytics"),
    ),
    (
        "s3-PutBucketPolicy-null-request-parameters-no-resources.json",
        Want::Ignored("PutBucketPolicy names no bucket"),
    ),
    (
        "s3-PutBucketPolicy-null-request-parameters.json",
        Want::Bucket("data-no-tls"),
    ),
    (
        "s3-PutBucketPolicy-policy-as-object.json",
        Want::Bucket("data-compliant"),
    ),
    (
        "s3-PutBucketPolicy-policy-as-string.json",
        Want::Bucket("data-shared-analytics"),
    ),
    (
        "s3-PutBucketPolicy-shared-no-tls.json",
        Want::Bucket("data-shared-analytics"),
    ),
    (
        "s3-PutBucketTagging-exemption-added.json",
        Want::Bucket("data-exempt"),
    ),
    (
        "s3-PutObject-AccessDenied-caller-owner-absent.json",
        Want::DeniedOn {
            bucket: Some("data-shared-analytics"),
            key: None,
            caller: COMPUTE,
            owner: None,
            side: Side::Caller,
        },
    ),
    (
        "s3-PutObject-AccessDenied-scp-explicit-deny.json",
        Want::Denied {
            bucket: Some("data-shared-analytics"),
            key: None,
            caller: COMPUTE,
            owner: DATA,
        },
    ),
    (
        "s3-PutObject-AccessDenied-same-account.json",
        Want::Ignored("AccessDenied within account 111122223333"),
    ),
];

fn events_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events")
}

/// Every `events/*.json` file, by name, sorted.
fn fixture_files() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_fixture_parses_to_its_expected_verdict() {
    let files = fixture_files();
    assert!(!files.is_empty());
    for (name, bytes) in &files {
        let Some((_, want)) = FIXTURES.iter().find(|(n, _)| n == name) else {
            panic!("events/{name} has no expected verdict in FIXTURES");
        };
        let got = parse_event_bytes(bytes).unwrap();
        check(&got, want);
    }
    for (name, _) in FIXTURES {
        assert!(
            files.iter().any(|(n, _)| n == name),
            "FIXTURES names events/{name}, which does not exist"
        );
    }
}

#[test]
fn every_fixture_is_listed_in_the_readme() {
    let readme = std::fs::read_to_string(events_dir().join("README.md")).unwrap();
    for (name, _) in fixture_files() {
        assert!(readme.contains(&name), "events/README.md misses {name}");
    }
}

#[test]
fn loop_guard_fixture_names_the_function_role() {
    let bytes = std::fs::read(events_dir().join("s3-PutBucketPolicy-loop-guard.json")).unwrap();
    let Ok(EventInput::Single(Parsed::Trigger(t))) = parse_event_bytes(&bytes) else {
        panic!("loop-guard fixture is not a trigger");
    };
    assert_eq!(
        t.session_issuer_arn.as_deref(),
        Some("arn:aws:iam::111122223333:role/cmkguard-function-role")
    );
    assert_eq!(t.account.as_deref(), Some(DATA));
    assert_eq!(t.region.as_deref(), Some("eu-west-1"));
    assert!(t.event_id.is_some() && t.event_time.is_some());
}

// ---- properties -----------------------------------------------------------------------

const KEYS: &[&str] = &[
    "Records",
    "detail",
    "detail-type",
    "source",
    "account",
    "region",
    "eventName",
    "eventSource",
    "awsRegion",
    "recipientAccountId",
    "requestParameters",
    "RequestParameters",
    "responseElements",
    "keyMetadata",
    "errorCode",
    "errorMessage",
    "userIdentity",
    "accountId",
    "type",
    "sessionContext",
    "sessionIssuer",
    "arn",
    "ARN",
    "resources",
    "bucketName",
    "bucket",
    "keyId",
    "key",
    "encryptionContext",
    "aws:s3:arn",
    "AWSAccountId",
    "sharedEventID",
    "requestID",
    "eventTime",
    "record",
    "owner_account",
];

const STRINGS: &[&str] = &[
    "AWS API Call via CloudTrail",
    "Scheduled Event",
    "aws.s3",
    "aws.kms",
    "s3.amazonaws.com",
    "kms.amazonaws.com",
    "CreateBucket",
    "PutBucketPolicy",
    "PutBucketTagging",
    "CreateKey",
    "DisableKey",
    "GetObject",
    "Decrypt",
    "AccessDenied",
    "AccessDeniedException",
    "MalformedPolicy",
    "anonymous",
    "AWSService",
    "111122223333",
    "444455556666",
    "eu-west-1",
    "cn-north-1",
    "",
    " ",
    KEY_ID,
    KEY_ARN,
    "arn:aws:kms:eu-west-1:111122223333:alias/data",
    "alias/aws/s3",
    "arn:aws:s3:::data-no-tls",
    "arn:aws:s3:::data-no-tls/a/b",
    "arn:aws:s3:::",
    "arn:aws:kms",
    "arn:",
    "AWS::S3::Bucket",
    "AWS::KMS::Key",
    "cmkguard.denial",
    "shared-1",
    "{\"bucketName\":\"x\"}",
    "\"{\\\"keyId\\\":\\\"k\\\"}\"",
    "{",
];

fn arb_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(STRINGS).prop_map(Value::from),
        "[a-zA-Z0-9:/ ._-]{0,16}".prop_map(Value::String),
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    crate::core::testing::arb_json(STRINGS, KEYS)
}

/// An object holding `KEYS` with wild values.
fn arb_key_soup() -> impl Strategy<Value = serde_json::Map<String, Value>> {
    let field = || prop_oneof![2 => arb_leaf(), 1 => arb_json()];
    prop::collection::vec((prop::sample::select(KEYS), field()), 0..10).prop_map(|fields| {
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    })
}

/// A record-shaped object: the fields the parser branches on, each present or not, with
/// plausible or wild values, over a soup of other keys, so the deep branches (owner
/// account, key expansion, encryption context) run often rather than by luck.
fn arb_record() -> impl Strategy<Value = Value> {
    const NAMES: &[&str] = &[
        "CreateBucket",
        "PutBucketPolicy",
        "DeleteBucketTagging",
        "CreateKey",
        "DisableKey",
        "PutKeyPolicy",
        "GetObject",
        "Decrypt",
        "ListBuckets",
        "EnableKey",
    ];
    const SOURCES: &[&str] = &["s3.amazonaws.com", "kms.amazonaws.com", "iam.amazonaws.com"];
    const ACCOUNTS: &[&str] = &["111122223333", "444455556666", "anonymous", "12", ""];
    const CODES: &[&str] = &["AccessDenied", "AccessDeniedException", "NoSuchBucket", ""];
    let text = |options: &'static [&'static str]| prop_oneof![4 => prop::sample::select(options).prop_map(Value::from), 1 => arb_leaf()];
    let soup = || arb_key_soup().prop_map(Value::Object);
    let identity = (prop::option::of(text(ACCOUNTS)), soup()).prop_map(|(account, mut v)| {
        if let Some(account) = account {
            v["accountId"] = account;
        }
        v
    });
    let resources = prop::collection::vec(
        (text(STRINGS), text(ACCOUNTS), text(STRINGS)).prop_map(
            |(arn, account, kind)| json!({"ARN": arn, "accountId": account, "type": kind}),
        ),
        0..3,
    )
    .prop_map(Value::Array);
    let params = (
        text(STRINGS),
        text(STRINGS),
        text(STRINGS),
        text(STRINGS),
        soup(),
    )
        .prop_map(|(bucket, key_id, key, context, mut v)| {
            v["bucketName"] = bucket;
            v["keyId"] = key_id;
            v["key"] = key;
            v["encryptionContext"] = json!({ "aws:s3:arn": context });
            v
        });
    let field = |s: BoxedStrategy<Value>| {
        prop::option::weighted(0.85, prop_oneof![6 => s, 1 => arb_json()])
    };
    (
        field(text(NAMES).boxed()),
        field(text(SOURCES).boxed()),
        field(text(CODES).boxed()),
        field(text(ACCOUNTS).boxed()),
        field(text(&["eu-west-1", "cn-north-1", ""]).boxed()),
        field(identity.boxed()),
        field(params.boxed()),
        field(soup().boxed()),
        field(resources.boxed()),
        arb_key_soup(),
    )
        .prop_map(
            |(
                name,
                source,
                code,
                recipient,
                region,
                identity,
                params,
                response,
                resources,
                mut map,
            )| {
                let fields = [
                    ("eventName", name),
                    ("eventSource", source),
                    ("errorCode", code),
                    ("recipientAccountId", recipient),
                    ("awsRegion", region),
                    ("userIdentity", identity),
                    ("requestParameters", params),
                    ("responseElements", response),
                    ("resources", resources),
                ];
                for (key, value) in fields {
                    if let Some(value) = value {
                        map.insert(key.to_string(), value);
                    }
                }
                Value::Object(map)
            },
        )
}

fn arb_event() -> impl Strategy<Value = Value> {
    prop_oneof![
        arb_json(),
        arb_record(),
        (
            arb_record(),
            prop_oneof![
                4 => prop::sample::select(&["aws.s3", "aws.kms"][..]),
                1 => prop::sample::select(STRINGS),
            ]
        )
            .prop_map(|(detail, source)| envelope(source, detail)),
        prop::collection::vec(arb_record(), 0..4).prop_map(|r| json!({ "Records": r })),
        (
            arb_record(),
            prop_oneof![
                3 => prop::sample::select(&["111122223333", "444455556666", "12"][..]).prop_map(Value::from),
                1 => arb_leaf(),
            ],
            prop::sample::select(&["111122223333", "999988887777", ""][..]),
        )
            .prop_map(|(record, owner, account)| relayed(record, owner, account)),
    ]
}

/// What any verdict must satisfy, whatever the input.
fn assert_sound(input: &EventInput) {
    let items = match input {
        EventInput::Single(p) => std::slice::from_ref(p),
        EventInput::Records(items) => items.as_slice(),
    };
    for item in items {
        match item {
            Parsed::Ignored { reason } => assert!(!reason.is_empty()),
            Parsed::Trigger(t) => {
                assert!(!t.event_name.is_empty());
                match t.kind {
                    TriggerKind::BucketChanged => assert!(t.bucket.is_some(), "{t:?}"),
                    TriggerKind::KeyChanged => assert!(t.key.is_some(), "{t:?}"),
                    TriggerKind::AccessDenied => {
                        assert!(t.bucket.is_some() || t.key.is_some(), "{t:?}");
                        assert!(t.caller_account.is_some());
                        assert_ne!(t.caller_account, t.owner_account);
                        assert!(t.error_code.is_some());
                        // An unknown owner is never the owner's side: the owner always knows itself.
                        match t.side {
                            Some(Side::Owner) => assert!(t.owner_account.is_some(), "{t:?}"),
                            Some(Side::Caller) => {
                                assert_eq!(t.account, t.caller_account, "{t:?}")
                            }
                            Some(Side::ThirdParty) => {}
                            None => panic!("a denial without a side: {t:?}"),
                        }
                    }
                    TriggerKind::GrantChanged => {
                        assert!(t.key.is_some() && t.resource_arn.is_some(), "{t:?}")
                    }
                    TriggerKind::Ec2SettingsChanged => assert!(t.change.is_some(), "{t:?}"),
                    TriggerKind::SnapshotChanged
                    | TriggerKind::ImageChanged
                    | TriggerKind::DbSnapshotChanged
                    | TriggerKind::SecretChanged => {
                        assert!(t.resource_arn.is_some(), "{t:?}");
                        // Only the refused share of an aws/ebs snapshot or AMI carries an error.
                        if t.error_code.is_some() {
                            assert!(
                                matches!(
                                    t.kind,
                                    TriggerKind::SnapshotChanged | TriggerKind::ImageChanged
                                ),
                                "{t:?}"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Seg {
    Key(String),
    Index(usize),
}

fn all_paths(v: &Value, prefix: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
    out.push(prefix.clone());
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                prefix.push(Seg::Key(k.clone()));
                all_paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                prefix.push(Seg::Index(i));
                all_paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

/// Drops (op 0), nulls (op 1) or replaces (op 2) the value at `path`.
fn mutate(v: &mut Value, path: &[Seg], op: u8, replacement: Value) {
    let Some((last, parents)) = path.split_last() else {
        *v = replacement;
        return;
    };
    let mut parent = v;
    for seg in parents {
        parent = match seg {
            Seg::Key(k) => parent.get_mut(k.as_str()).unwrap(),
            Seg::Index(i) => parent.get_mut(*i).unwrap(),
        };
    }
    match (op % 3, last, parent) {
        (0, Seg::Key(k), Value::Object(map)) => {
            map.remove(k.as_str());
        }
        (0, Seg::Index(i), Value::Array(items)) => {
            items.remove(*i);
        }
        (1, Seg::Key(k), p) => p[k.as_str()] = Value::Null,
        (1, Seg::Index(i), p) => p[*i] = Value::Null,
        (_, Seg::Key(k), p) => p[k.as_str()] = replacement,
        (_, Seg::Index(i), p) => p[*i] = replacement,
    }
}

fn fixture_values() -> &'static [Value] {
    static VALUES: std::sync::OnceLock<Vec<Value>> = std::sync::OnceLock::new();
    VALUES.get_or_init(|| {
        fixture_files()
            .iter()
            .map(|(_, bytes)| serde_json::from_slice(bytes).unwrap())
            .collect()
    })
}

proptest! {
    #[test]
    fn arbitrary_json_never_panics(v in arb_event()) {
        assert_sound(&parse_event_value(&v));
        // Through bytes too; not compared for equality, because serde_json's default float
        // parsing does not round-trip every f64 and a number can end up in a reason.
        let bytes = serde_json::to_vec(&v).unwrap();
        assert_sound(&parse_event_bytes(&bytes).unwrap());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(parsed) = parse_event_bytes(&bytes) {
            assert_sound(&parsed);
        }
    }

    #[test]
    fn truncated_fixtures_are_errors_not_panics(
        which in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let v = which.get(fixture_values());
        let bytes = serde_json::to_vec(v).unwrap();
        let cut = cut.index(bytes.len());
        if let Ok(parsed) = parse_event_bytes(&bytes[..cut]) {
            assert_sound(&parsed);
        }
    }

    /// The typed reading of an envelope never changes what is read: when the strict type
    /// takes an envelope, its fields are exactly those of the lenient reading.
    #[test]
    fn typed_envelope_reading_agrees_with_the_lenient_one(
        v in arb_event(),
        which in any::<prop::sample::Index>(),
        ops in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, arb_json()), 0..4),
    ) {
        let mut mutated = which.get(fixture_values()).clone();
        for (at, op, replacement) in ops {
            let mut paths = Vec::new();
            all_paths(&mutated, &mut Vec::new(), &mut paths);
            let path = at.get(&paths).clone();
            mutate(&mut mutated, &path, op, replacement);
        }
        for v in [v, mutated] {
            let read = envelope::read_envelope(&v);
            prop_assert_eq!(
                envelope::EnvelopeFields { reading: envelope::Reading::Lenient, ..read },
                envelope::read_leniently(&v)
            );
        }
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in any::<prop::sample::Index>(),
        ops in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, arb_json()), 1..6),
    ) {
        let mut v = which.get(fixture_values()).clone();
        for (at, op, replacement) in ops {
            let mut paths = Vec::new();
            all_paths(&v, &mut Vec::new(), &mut paths);
            let path = at.get(&paths).clone();
            mutate(&mut v, &path, op, replacement);
            assert_sound(&parse_event_value(&v));
        }
    }
}
