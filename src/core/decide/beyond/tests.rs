//! Named table rows for every beyond-S3 rule (DOMAIN-BEYOND-S3.md §6): each row feeds a
//! trigger (a fixture from `events/` or one built here) and a state file's `beyond` section to
//! `decide`, and names exactly the findings (rule, severity) it must give — an empty list
//! means compliant — plus a phrase its reasons must hold.

use serde_json::{json, Value};

use crate::core::config::Config;
use crate::core::decide::decide;
use crate::core::event::{parse_event_bytes, EventInput, Parsed, Trigger};
use crate::core::finding::{Remediation, ResourceType, RuleId};
use crate::core::plan::Plan;
use crate::core::snapshot::Snapshot;

const OWNER: &str = "111122223333";
const COMPUTE: &str = "444455556666";
const THIRD: &str = "777788889999";
const REGION: &str = "eu-west-1";
const SNAP: &str = "snap-0a1b2c3d4e5f60718";
const ROOT_SNAP: &str = "snap-0b0b0b0b0b0b0b0b0";
const AMI: &str = "ami-0f1e2d3c4b5a69788";
const CMK: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const AWS_EBS: &str = "arn:aws:kms:eu-west-1:111122223333:key/eeee0000-12ab-34cd-56ef-1234567890ab";
const US_KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/5555eeee-12ab-34cd-56ef-1234567890ab";
const SECRET: &str = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:analytics/db-AbCdEf";
const ORG: &str = "o-exampleorg1";

// ---- triggers ----------------------------------------------------------------------------

/// The trigger of a fixture in `events/`.
fn ev(file: &str) -> Trigger {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(file);
    match parse_event_bytes(&std::fs::read(&path).unwrap()).unwrap() {
        EventInput::Single(Parsed::Trigger(t)) => t,
        other => panic!("{file}: {other:?}"),
    }
}

fn snap_share() -> Trigger {
    ev("ec2-ModifySnapshotAttribute-share-account.json")
}
fn image_share() -> Trigger {
    ev("ec2-ModifyImageAttribute-share-account.json")
}
fn db_share() -> Trigger {
    ev("rds-ModifyDBSnapshotAttribute-share-account.json")
}
fn cluster_share() -> Trigger {
    ev("rds-ModifyDBClusterSnapshotAttribute-public.json")
}
fn secret_policy() -> Trigger {
    ev("secretsmanager-PutResourcePolicy-cross-account.json")
}
fn grant_event() -> Trigger {
    ev("kms-CreateGrant-cross-account.json")
}
fn settings_event() -> Trigger {
    ev("ec2-ModifyEbsDefaultKmsKeyId-basic.json")
}

// ---- state -------------------------------------------------------------------------------

fn account(a: &str) -> Value {
    json!({"UserId": a})
}

fn ebs(encrypted: bool, key: Option<&str>, perms: Value) -> Value {
    let mut s = json!({"SnapshotId": SNAP, "OwnerId": OWNER, "Region": REGION, "Encrypted": encrypted,
                       "CreateVolumePermissions": perms});
    if let Some(k) = key {
        s["KmsKeyId"] = json!(k);
    }
    s
}

fn image(perms: Value) -> Value {
    json!({"ImageId": AMI, "OwnerId": OWNER, "Region": REGION, "Public": false,
           "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": ROOT_SNAP}}],
           "LaunchPermissions": perms})
}

fn root_snap(encrypted: bool, key: Option<&str>) -> Value {
    let mut s = ebs(encrypted, key, json!([]));
    s["SnapshotId"] = json!(ROOT_SNAP);
    s
}

fn db(encrypted: bool, key: Option<&str>, restore: Value) -> Value {
    json!({"DBSnapshotIdentifier": "orders-2024-11-25",
           "DBSnapshotArn": "arn:aws:rds:eu-west-1:111122223333:snapshot:orders-2024-11-25",
           "Encrypted": encrypted, "KmsKeyId": key, "SnapshotType": "manual",
           "DBSnapshotAttributesResult": {"DBSnapshotIdentifier": "orders-2024-11-25",
               "DBSnapshotAttributes": [{"AttributeName": "restore", "AttributeValues": restore}]}})
}

fn cluster(encrypted: bool, restore: Value) -> Value {
    json!({"DBClusterSnapshotIdentifier": "ledger-2024-11-25", "StorageEncrypted": encrypted,
           "SnapshotType": "manual",
           "DBClusterSnapshotAttributes": [{"AttributeName": "restore", "AttributeValues": restore}]})
}

fn secret(key: Option<&str>, policy: Option<Value>) -> Value {
    let mut s = json!({"ARN": SECRET, "Name": "analytics/db"});
    if let Some(k) = key {
        s["KmsKeyId"] = json!(k);
    }
    if let Some(p) = policy {
        s["ResourcePolicy"] = json!(p.to_string());
    }
    s
}

fn secret_shared_with(principal: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": principal,
           "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]})
}

fn settings(default_key: &str, bpa: &str) -> Value {
    json!({"Region": REGION, "EbsEncryptionByDefault": true, "EbsDefaultKmsKeyId": default_key,
           "SnapshotBlockPublicAccessState": {"State": bpa}})
}

fn metadata(arn: &str, manager: &str, state: &str) -> Value {
    let id = arn.rsplit('/').next().unwrap();
    json!({"KeyMetadata": {"AWSAccountId": OWNER, "KeyId": id, "Arn": arn, "Enabled": state == "Enabled",
        "KeyUsage": "ENCRYPT_DECRYPT", "KeyState": state, "Origin": "AWS_KMS", "KeyManager": manager,
        "KeySpec": "SYMMETRIC_DEFAULT"}})
}

fn key_policy(extra: Vec<Value>) -> Value {
    let mut st = vec![
        json!({"Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{OWNER}:root")}, "Action": "kms:*", "Resource": "*"}),
    ];
    st.extend(extra);
    json!({"Version": "2012-10-17", "Statement": st})
}

/// The console's "Other AWS accounts" statements (EBS-SHARE, KMS-XACCT): usage, and grants
/// for AWS resources.
fn console(a: &str) -> Vec<Value> {
    vec![usage(a), grants_for_resources(a)]
}

fn usage(a: &str) -> Value {
    json!({"Sid": format!("Use{a}"), "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{a}:root")},
           "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
           "Resource": "*"})
}

fn grants_for_resources(a: &str) -> Value {
    json!({"Sid": format!("Grants{a}"), "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{a}:root")},
           "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"], "Resource": "*",
           "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}})
}

fn cmk_with(arn: &str, statements: Vec<Value>, grants: Option<Value>) -> Value {
    let mut k =
        json!({"metadata": metadata(arn, "CUSTOMER", "Enabled"), "policy": key_policy(statements)});
    if let Some(g) = grants {
        k["grants"] = g;
    }
    k
}

fn cmk(statements: Vec<Value>) -> Value {
    cmk_with(CMK, statements, None)
}

fn aws_ebs_key() -> Value {
    json!({"metadata": metadata(AWS_EBS, "AWS", "Enabled"), "policy": null, "aliases": ["alias/aws/ebs"]})
}

fn grant(grantee: &str, ops: &[&str]) -> Value {
    json!({"GrantId": format!("grant-{}", grantee.len()), "GranteePrincipal": grantee, "Operations": ops,
           "IssuingAccount": format!("arn:aws:iam::{OWNER}:root"), "KeyId": CMK})
}

fn state(beyond: Value, keys: Vec<Value>) -> Value {
    json!({"keys": keys, "beyond": beyond})
}

// ---- running -----------------------------------------------------------------------------

fn run_with(t: &Trigger, state: Value, config: &Config) -> Plan {
    let snapshot: Snapshot = serde_json::from_value(state).expect("state file");
    decide(t, &snapshot, config)
}

fn run(t: &Trigger, state: Value) -> Plan {
    run_with(t, state, &Config::default())
}

fn fired(plan: &Plan) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = plan
        .findings
        .iter()
        .map(|f| {
            (
                f.rule_id.as_str().to_string(),
                f.severity.as_str().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn check(plan: &Plan, want: &[(&str, &str)], phrases: &[&str]) {
    assert_eq!(plan.ignored, None, "{plan:#?}");
    let mut want: Vec<(String, String)> = want
        .iter()
        .map(|(r, s)| (r.to_string(), s.to_string()))
        .collect();
    want.sort();
    assert_eq!(fired(plan), want, "{plan:#?}");
    let text = serde_json::to_string(&plan.findings).unwrap();
    for p in phrases {
        assert!(text.contains(p), "no '{p}' in {text}");
    }
    for f in &plan.findings {
        // Report only: nothing of beyond S3 is patched yet, and nothing says otherwise.
        assert!(
            matches!(
                f.remediation,
                Remediation::Manual { .. } | Remediation::Exempt
            ),
            "{f:#?}"
        );
        assert!(plan.steps.is_empty());
    }
}

macro_rules! rows {
    ($($name:ident: $trigger:expr, $state:expr => [$(($rule:literal, $sev:literal)),*] $(, $phrase:literal)*;)*) => {$(
        #[test]
        fn $name() {
            let plan = run(&$trigger, $state);
            check(&plan, &[$(($rule, $sev)),*], &[$($phrase),*]);
        }
    )*};
}

rows! {
    // EBS snapshots: the handshake on the key (§4: DescribeKey, CreateGrant, Decrypt,
    // ReEncrypt*, GenerateDataKeyWithoutPlaintext).
    ebs_shared_cmk_console_statements_pass: snap_share(),
        state(json!({"ebs_snapshots": [ebs(true, Some(CMK), json!([account(COMPUTE)]))]}), vec![cmk(console(COMPUTE))])
        => [];
    ebs_shared_cmk_usage_without_create_grant: snap_share(),
        state(json!({"ebs_snapshots": [ebs(true, Some(CMK), json!([account(COMPUTE)]))]}), vec![cmk(vec![usage(COMPUTE)])])
        => [("KEY_POLICY_MISSING_GRANT", "HIGH")], "account 444455556666 cannot copy it or create volumes from it", "kms:CreateGrant";
    ebs_shared_cmk_granting_nobody_names_every_action: snap_share(),
        state(json!({"ebs_snapshots": [ebs(true, Some(CMK), json!([account(COMPUTE)]))]}), vec![cmk_with(CMK, vec![], Some(json!({"Grants": []})))])
        => [("KEY_POLICY_MISSING_GRANT", "HIGH")],
        "kms:CreateGrant, kms:Decrypt, kms:DescribeKey, kms:GenerateDataKeyWithoutPlaintext, kms:ReEncryptFrom, kms:ReEncryptTo",
        "kms:GrantIsForAWSResource", "must also allow these actions on the key ARN";
    ebs_shared_cmk_decrypt_only_for_the_sharee: snap_share(),
        state(json!({"ebs_snapshots": [ebs(true, Some(CMK), json!([account(COMPUTE)]))]}),
              vec![cmk(vec![json!({"Effect": "Allow", "Principal": {"AWS": COMPUTE}, "Action": "kms:Decrypt", "Resource": "*"})])])
        => [("KEY_POLICY_MISSING_GRANT", "HIGH")], "account 444455556666 has kms:Decrypt";
    ebs_shared_cmk_generate_data_key_stands_in: snap_share(),
        state(json!({"ebs_snapshots": [ebs(true, Some(CMK), json!([account(COMPUTE)]))]}),
              vec![cmk(vec![json!({"Effect": "Allow", "Principal": {"AWS": COMPUTE},
                  "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:ReEncrypt*", "kms:GenerateDataKey", "kms:CreateGrant"], "Resource": "*"})])])
        => [];
    ebs_shared_cmk_grant_completes_the_key_half: snap_share(),
        state(json!({"ebs_snapshots": [ebs(true, Some(CMK), json!([account(COMPUTE)]))]}),
              vec![cmk_with(CMK, vec![], Some(json!({"Grants": [grant("arn:aws:iam::444455556666:role/copier",
                  &["Decrypt", "DescribeKey", "CreateGrant", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo"])]})))])
        => [("KEY_GRANT_EXTERNAL", "HIGH")], "can re-delegate the key";
    ebs_shared_cmk_service_grant_is_no_opt_in: snap_share(),
        state(json!({"ebs_snapshots": [ebs(true, Some(CMK), json!([account(COMPUTE)]))]}),
              vec![cmk_with(CMK, vec![], Some(json!({"Grants": [grant("ec2.eu-west-1.amazonaws.com",
                  &["Decrypt", "DescribeKey", "CreateGrant", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo"])]})))])
        => [("KEY_POLICY_MISSING_GRANT", "HIGH")];
    ebs_shared_cmk_deny_takes_create_grant_back: snap_share(),
        state(json!({"ebs_snapshots": [ebs(true, Some(CMK), json!([account(COMPUTE)]))]}),
              vec![cmk({let mut s = console(COMPUTE); s.push(json!({"Sid": "NoGrants", "Effect": "Deny",
                  "Principal": {"AWS": format!("arn:aws:iam::{COMPUTE}:root")}, "Action": "kms:CreateGrant", "Resource": "*"})); s})])
        => [("KEY_POLICY_MISSING_GRANT", "HIGH")], "kms:CreateGrant";
    ebs_shared_aws_managed_by_alias: snap_share(),
        state(json!({"ebs_snapshots": [ebs(true, Some("alias/aws/ebs"), json!([account(COMPUTE)]))]}), vec![])
        => [("SHARED_SNAPSHOT_AWS_MANAGED_KEY", "HIGH")], "alias/aws/ebs is an AWS managed key", "aws ec2 copy-snapshot";
    ebs_shared_aws_managed_by_describe_key: snap_share(),
        state(json!({"ebs_snapshots": [ebs(true, Some(AWS_EBS), json!([account(COMPUTE)]))]}), vec![aws_ebs_key()])
        => [("SHARED_SNAPSHOT_AWS_MANAGED_KEY", "HIGH")], "KeyManager AWS";
    ebs_shared_unencrypted: snap_share(),
        state(json!({"ebs_snapshots": [ebs(false, None, json!([account(COMPUTE)]))]}), vec![])
        => [("SHARED_SNAPSHOT_UNENCRYPTED", "MEDIUM")], "--encrypted --kms-key-id";
    ebs_public_unencrypted: snap_share(),
        state(json!({"ebs_snapshots": [ebs(false, None, json!([{"Group": "all"}]))]}), vec![])
        => [("SNAPSHOT_PUBLIC", "CRITICAL"), ("SHARED_SNAPSHOT_UNENCRYPTED", "MEDIUM")], "is public (group all)";
    ebs_public_neutralised_by_block_all_sharing: snap_share(),
        state(json!({"ebs_snapshots": [ebs(false, None, json!([{"Group": "all"}]))],
                     "ec2_settings": [settings("alias/aws/ebs", "block-all-sharing")]}), vec![])
        => [("SNAPSHOT_PUBLIC", "LOW")], "neutralised by the region's snapshot block public access";
    ebs_public_under_block_new_sharing_stays_critical: snap_share(),
        state(json!({"ebs_snapshots": [ebs(false, None, json!([{"Group": "all"}]))],
                     "ec2_settings": [settings("alias/aws/ebs", "block-new-sharing")]}), vec![])
        => [("SNAPSHOT_PUBLIC", "CRITICAL"), ("SHARED_SNAPSHOT_UNENCRYPTED", "MEDIUM"), ("EBS_DEFAULT_KEY_AWS_MANAGED", "LOW")];
    ebs_key_disabled: snap_share(),
        state(json!({"ebs_snapshots": [ebs(true, Some(CMK), json!([account(COMPUTE)]))]}),
              vec![json!({"metadata": metadata(CMK, "CUSTOMER", "Disabled"), "policy": key_policy(console(COMPUTE))})])
        => [("SHARED_SNAPSHOT_KEY_UNUSABLE", "HIGH")], "is Disabled, not Enabled";
    ebs_key_pending_deletion: snap_share(),
        state(json!({"ebs_snapshots": [ebs(true, Some(CMK), json!([account(COMPUTE)]))]}),
              vec![json!({"metadata": metadata(CMK, "CUSTOMER", "PendingDeletion"), "policy": key_policy(console(COMPUTE))})])
        => [("SHARED_SNAPSHOT_KEY_UNUSABLE", "HIGH")], "PendingDeletion";
    ebs_key_in_another_region: snap_share(),
        state(json!({"ebs_snapshots": [ebs(true, Some(US_KEY), json!([account(COMPUTE)]))]}), vec![cmk_with(US_KEY, console(COMPUTE), None)])
        => [("SHARED_SNAPSHOT_KEY_UNUSABLE", "HIGH")], "is in us-east-1";
    ebs_key_not_found: snap_share(),
        json!({"keys_not_found": [CMK], "beyond": {"ebs_snapshots": [ebs(true, Some(CMK), json!([account(COMPUTE)]))]}})
        => [("SHARED_SNAPSHOT_KEY_UNUSABLE", "HIGH")], "does not exist";
    ebs_not_shared_passes_everything: snap_share(),
        state(json!({"ebs_snapshots": [ebs(false, None, json!([]))]}), vec![])
        => [];
    ebs_shared_with_its_owner_only_is_not_shared: snap_share(),
        state(json!({"ebs_snapshots": [ebs(false, None, json!([account(OWNER)]))]}), vec![])
        => [];
    ebs_malformed_user_id_still_shares: snap_share(),
        state(json!({"ebs_snapshots": [ebs(false, None, json!([{"UserId": "12345"}]))]}), vec![])
        => [("SHARED_SNAPSHOT_UNENCRYPTED", "MEDIUM")], "not a 12-digit account id";
    ebs_unknown_group_fails_closed: snap_share(),
        state(json!({"ebs_snapshots": [ebs(false, None, json!([{"Group": "some-future-group"}]))]}), vec![])
        => [("SHARED_SNAPSHOT_UNENCRYPTED", "MEDIUM")], "treated as shared";
    ebs_shared_through_an_ami_needs_the_key_too: ev("ec2-CopySnapshot-encrypted-cmk.json"),
        state(json!({"ebs_snapshots": [{"SnapshotId": "snap-0c0c0c0c0c0c0c0c0", "OwnerId": OWNER, "Region": REGION,
                        "Encrypted": true, "KmsKeyId": CMK, "CreateVolumePermissions": []}],
                     "images": [{"ImageId": AMI, "OwnerId": OWNER, "Region": REGION,
                        "BlockDeviceMappings": [{"Ebs": {"SnapshotId": "snap-0c0c0c0c0c0c0c0c0"}}],
                        "LaunchPermissions": [account(THIRD)]}]}), vec![cmk(console(COMPUTE))])
        => [("KEY_POLICY_MISSING_GRANT", "HIGH")], "AMI ami-0f1e2d3c4b5a69788 (built on snapshot snap-0c0c0c0c0c0c0c0c0) shares with account 777788889999", "account 777788889999 cannot";
    // The failed share (ERR-EBS / ERR-AMI): diagnosed from the event alone.
    ebs_refused_share_is_diagnosed_without_state: ev("ec2-ModifySnapshotAttribute-OperationNotPermitted-aws-ebs.json"), json!({})
        => [("SHARED_SNAPSHOT_AWS_MANAGED_KEY", "HIGH")],
        "failed with Client.OperationNotPermitted", "Encrypted snapshots with EBS default key cannot be shared",
        "it tried to share with account 444455556666", "aws ec2 copy-snapshot --source-region eu-west-1 --source-snapshot-id snap-0a1b2c3d4e5f60718 --encrypted";
    ami_refused_share_is_diagnosed: ev("ec2-ModifyImageAttribute-InvalidParameter-aws-managed-key.json"), json!({})
        => [("SHARED_IMAGE_AWS_MANAGED_KEY", "HIGH")], "AWS Managed CMK can't be shared", "aws ec2 copy-image";
    // AMIs: the keys of the snapshots behind them.
    ami_shared_cmk_complete: image_share(),
        state(json!({"images": [image(json!([account(COMPUTE)]))], "ebs_snapshots": [root_snap(true, Some(CMK))]}), vec![cmk(console(COMPUTE))])
        => [];
    ami_shared_cmk_missing: image_share(),
        state(json!({"images": [image(json!([account(COMPUTE)]))], "ebs_snapshots": [root_snap(true, Some(CMK))]}), vec![cmk(vec![])])
        => [("KEY_POLICY_MISSING_GRANT", "HIGH")], "cannot launch it or copy it";
    ami_backed_by_aws_ebs: image_share(),
        state(json!({"images": [image(json!([account(COMPUTE)]))], "ebs_snapshots": [root_snap(true, Some("alias/aws/ebs"))]}), vec![])
        => [("SHARED_IMAGE_AWS_MANAGED_KEY", "HIGH")], "snapshot snap-0b0b0b0b0b0b0b0b0 of AMI";
    ami_backed_by_unencrypted_snapshot: image_share(),
        state(json!({"images": [image(json!([account(COMPUTE)]))], "ebs_snapshots": [root_snap(false, None)]}), vec![])
        => [("SHARED_SNAPSHOT_UNENCRYPTED", "MEDIUM")];
    ami_public: image_share(),
        state(json!({"images": [image(json!([{"Group": "all"}]))], "ebs_snapshots": [root_snap(false, None)],
                     "ec2_settings": [settings(CMK, "block-all-sharing")]}), vec![cmk(vec![])])
        => [("IMAGE_PUBLIC", "CRITICAL"), ("SHARED_SNAPSHOT_UNENCRYPTED", "MEDIUM")];
    ami_public_flag_without_attribute: image_share(),
        state(json!({"images": [{"ImageId": AMI, "OwnerId": OWNER, "Region": REGION, "Public": true, "BlockDeviceMappings": []}]}), vec![])
        => [("IMAGE_PUBLIC", "CRITICAL")];
    ami_organisation_share_without_org_in_key_policy: ev("ec2-ModifyImageAttribute-organization.json"),
        state(json!({"images": [image(json!([{"OrganizationArn": format!("arn:aws:organizations::{OWNER}:organization/{ORG}")}]))],
                     "ebs_snapshots": [root_snap(true, Some(CMK))]}), vec![cmk(vec![])])
        => [("KEY_POLICY_MISSING_GRANT", "HIGH")], "does not grant organisation o-exampleorg1";
    ami_organisation_share_with_org_in_key_policy: ev("ec2-ModifyImageAttribute-organization.json"),
        state(json!({"images": [image(json!([{"OrganizationalUnitArn": format!("arn:aws:organizations::{OWNER}:ou/{ORG}/ou-ab12-cd34ef56")}]))],
                     "ebs_snapshots": [root_snap(true, Some(CMK))]}),
              vec![cmk(vec![json!({"Effect": "Allow", "Principal": "*", "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant"],
                  "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG}}})])])
        => [];
    // RDS: CreateGrant, Decrypt, DescribeKey.
    rds_shared_cmk_complete: db_share(),
        state(json!({"db_snapshots": [db(true, Some(CMK), json!([COMPUTE]))]}), vec![cmk(console(COMPUTE))])
        => [];
    rds_shared_cmk_without_create_grant: db_share(),
        state(json!({"db_snapshots": [db(true, Some(CMK), json!([COMPUTE]))]}), vec![cmk(vec![usage(COMPUTE)])])
        => [("KEY_POLICY_MISSING_GRANT", "HIGH")], "the key arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab does not let it use kms:CreateGrant (";
    rds_shared_aws_rds_key: db_share(),
        state(json!({"db_snapshots": [db(true, Some("arn:aws:kms:eu-west-1:111122223333:alias/aws/rds"), json!([COMPUTE]))]}), vec![])
        => [("SHARED_SNAPSHOT_AWS_MANAGED_KEY", "HIGH")], "aws rds copy-db-snapshot";
    rds_public_unencrypted_cluster: cluster_share(),
        state(json!({"db_snapshots": [cluster(false, json!(["all"]))]}), vec![])
        => [("SNAPSHOT_PUBLIC", "CRITICAL"), ("SHARED_SNAPSHOT_UNENCRYPTED", "MEDIUM")], "modify-db-cluster-snapshot-attribute";
    rds_not_shared: db_share(),
        state(json!({"db_snapshots": [db(true, Some(CMK), json!([]))]}), vec![cmk(vec![])])
        => [];
    // Secrets: the resource policy read as DOMAIN §4; Decrypt and DescribeKey on the key.
    secret_shared_without_kms_key_id: secret_policy(),
        state(json!({"secrets": [secret(None, Some(secret_shared_with(json!({"AWS": format!("arn:aws:iam::{COMPUTE}:role/analytics")}))))]}), vec![])
        => [("SHARED_SECRET_AWS_MANAGED_KEY", "HIGH")], "aws/secretsmanager", "update-secret";
    secret_public: secret_policy(),
        state(json!({"secrets": [secret(Some(CMK), Some(secret_shared_with(json!("*"))))]}), vec![cmk(vec![])])
        => [("SECRET_PUBLIC", "CRITICAL")];
    secret_shared_cmk_missing_decrypt: secret_policy(),
        state(json!({"secrets": [secret(Some(CMK), Some(secret_shared_with(json!({"AWS": COMPUTE}))))]}), vec![cmk(vec![])])
        => [("KEY_POLICY_MISSING_GRANT", "HIGH")], "cannot read its value", "kms:Decrypt, kms:DescribeKey";
    secret_shared_cmk_complete: secret_policy(),
        state(json!({"secrets": [secret(Some(CMK), Some(secret_shared_with(json!({"AWS": COMPUTE}))))]}),
              vec![cmk(vec![json!({"Effect": "Allow", "Principal": {"AWS": COMPUTE}, "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*"})])])
        => [];
    secret_key_disabled: secret_policy(),
        state(json!({"secrets": [secret(Some(CMK), Some(secret_shared_with(json!({"AWS": COMPUTE}))))]}),
              vec![json!({"metadata": metadata(CMK, "CUSTOMER", "Disabled"), "policy": key_policy(vec![])})])
        => [("SHARED_SECRET_KEY_UNUSABLE", "HIGH")];
    secret_unknown_condition_fails_closed: secret_policy(),
        state(json!({"secrets": [secret(None, Some(json!({"Statement": [{"Effect": "Allow", "Principal": "*",
            "Action": "secretsmanager:GetSecretValue", "Resource": "*", "Condition": {"StringEquals": {"aws:SomethingNew": "x"}}}]})))]}), vec![])
        => [("SECRET_PUBLIC", "CRITICAL"), ("SHARED_SECRET_AWS_MANAGED_KEY", "HIGH")];
    secret_without_policy_is_not_shared: secret_policy(),
        state(json!({"secrets": [secret(None, None)]}), vec![])
        => [];
    secret_matched_by_name: ev("secretsmanager-UpdateSecret-name-only.json"),
        state(json!({"secrets": [secret(None, Some(secret_shared_with(json!({"AWS": COMPUTE}))))]}), vec![])
        => [("SHARED_SECRET_AWS_MANAGED_KEY", "HIGH")];
    // KMS grants (§5).
    grant_external_with_create_grant: grant_event(),
        state(json!({}), vec![cmk_with(CMK, vec![], Some(json!({"Grants": [grant("arn:aws:iam::444455556666:role/analytics", &["Decrypt", "CreateGrant"])]})))])
        => [("KEY_GRANT_EXTERNAL", "HIGH")], "account 444455556666, not the owner or a trusted account";
    grant_external_usage_only: grant_event(),
        state(json!({}), vec![cmk_with(CMK, vec![], Some(json!({"Grants": [grant("arn:aws:iam::444455556666:role/analytics", &["Decrypt"])]})))])
        => [("KEY_GRANT_EXTERNAL", "MEDIUM")];
    grant_to_a_unique_id_is_outside: grant_event(),
        state(json!({}), vec![cmk_with(CMK, vec![], Some(json!({"Grants": [grant("AROAEXAMPLEROLEID1", &["Decrypt"])]})))])
        => [("KEY_GRANT_EXTERNAL", "MEDIUM")], "names no account";
    grant_to_services_and_the_owner_pass: grant_event(),
        state(json!({}), vec![cmk_with(CMK, vec![], Some(json!({"Grants": [
            grant("ec2.eu-west-1.amazonaws.com", &["Decrypt", "CreateGrant"]),
            grant("rds.amazonaws.com", &["Decrypt"]),
            grant("arn:aws:iam::111122223333:role/app", &["Decrypt", "CreateGrant"])]})))])
        => [];
    // The EBS default key (§6, low).
    ebs_default_key_aws_managed_while_sharing: settings_event(),
        state(json!({"ebs_snapshots": [ebs(true, Some(CMK), json!([account(COMPUTE)]))],
                     "ec2_settings": [settings("alias/aws/ebs", "unblocked")]}), vec![])
        => [("EBS_DEFAULT_KEY_AWS_MANAGED", "LOW")], "modify-ebs-default-kms-key-id", "snapshot snap-0a1b2c3d4e5f60718";
    ebs_default_key_aws_managed_by_key_arn: settings_event(),
        state(json!({"images": [image(json!([account(COMPUTE)]))],
                     "ec2_settings": [settings(AWS_EBS, "unblocked")]}), vec![aws_ebs_key()])
        => [("EBS_DEFAULT_KEY_AWS_MANAGED", "LOW")], "AMI ami-0f1e2d3c4b5a69788";
    ebs_default_key_aws_managed_nothing_shared: settings_event(),
        state(json!({"ebs_snapshots": [ebs(true, Some(CMK), json!([]))], "ec2_settings": [settings("alias/aws/ebs", "unblocked")]}), vec![])
        => [];
    ebs_default_key_cmk: settings_event(),
        state(json!({"ebs_snapshots": [ebs(true, Some(CMK), json!([account(COMPUTE)]))], "ec2_settings": [settings(CMK, "unblocked")]}),
              vec![cmk(console(COMPUTE))])
        => [];
}

// ---- what is not a verdict ---------------------------------------------------------------

#[test]
fn a_resource_missing_from_the_state_is_never_compliant() {
    for t in [
        snap_share(),
        image_share(),
        db_share(),
        secret_policy(),
        settings_event(),
    ] {
        let plan = run(&t, json!({}));
        let why = plan.ignored.as_deref().unwrap_or_default();
        assert!(
            why.contains("adapters are not built yet"),
            "{t:?}: {plan:#?}"
        );
        assert!(plan.findings.is_empty() && plan.passed.is_empty());
    }
    let plan = run(&grant_event(), json!({}));
    assert!(
        plan.ignored
            .as_deref()
            .unwrap_or_default()
            .contains("not read"),
        "{plan:#?}"
    );
}

#[test]
fn an_unread_key_decides_nothing_about_the_key_rules() {
    // Encrypted, key id not read (moto's DescribeSnapshots omits it): neither failed nor passed.
    let plan = run(
        &snap_share(),
        state(
            json!({"ebs_snapshots": [ebs(true, None, json!([account(COMPUTE)]))]}),
            vec![],
        ),
    );
    assert!(plan.findings.is_empty(), "{plan:#?}");
    let passed: Vec<RuleId> = plan.passed.iter().map(|p| p.rule_id).collect();
    for rule in [
        RuleId::SharedSnapshotAwsManagedKey,
        RuleId::SharedSnapshotKeyUnusable,
        RuleId::KeyPolicyMissingGrant,
    ] {
        assert!(!passed.contains(&rule), "{rule} passed: {plan:#?}");
        assert!(
            plan.notes.iter().any(|n| n.contains(rule.as_str())),
            "{plan:#?}"
        );
    }
    assert!(passed.contains(&RuleId::SnapshotPublic));
}

#[test]
fn unread_grants_are_asked_for_and_said() {
    let plan = run(
        &snap_share(),
        state(
            json!({"ebs_snapshots": [ebs(true, Some(CMK), json!([account(COMPUTE)]))]}),
            vec![cmk(vec![])],
        ),
    );
    assert_eq!(plan.needs_grants, vec![CMK.to_string()]);
    check(
        &plan,
        &[("KEY_POLICY_MISSING_GRANT", "HIGH")],
        &["were not read: a grant to a principal of 444455556666"],
    );
    let plan = run(&grant_event(), state(json!({}), vec![cmk(vec![])]));
    assert_eq!(plan.needs_grants, vec![CMK.to_string()]);
    assert!(
        plan.findings.is_empty()
            && plan
                .notes
                .iter()
                .any(|n| n.contains("KEY_GRANT_EXTERNAL not checked"))
    );
}

#[test]
fn findings_name_the_resource_and_its_type() {
    let plan = run(
        &db_share(),
        state(
            json!({"db_snapshots": [db(true, Some(CMK), json!([COMPUTE]))]}),
            vec![cmk(vec![])],
        ),
    );
    let f = &plan.findings[0];
    assert_eq!(f.resource_type, ResourceType::AwsRdsDbSnapshot);
    assert_eq!(
        f.resource_arn,
        "arn:aws:rds:eu-west-1:111122223333:snapshot:orders-2024-11-25"
    );
    assert_eq!((f.account.as_str(), f.region.as_str()), (OWNER, REGION));
    assert_eq!(
        plan.subject.resource.as_deref(),
        Some(f.resource_arn.as_str())
    );
    let plan = run(
        &snap_share(),
        state(
            json!({"ebs_snapshots": [ebs(false, None, json!([account(COMPUTE)]))]}),
            vec![],
        ),
    );
    assert_eq!(plan.findings[0].resource_type, ResourceType::AwsEc2Snapshot);
    assert_eq!(
        plan.findings[0].resource_arn,
        "arn:aws:ec2:eu-west-1::snapshot/snap-0a1b2c3d4e5f60718"
    );
    let plan = run(
        &cluster_share(),
        state(
            json!({"db_snapshots": [cluster(false, json!(["all"]))]}),
            vec![],
        ),
    );
    assert!(
        plan.findings
            .iter()
            .all(|f| f.resource_type == ResourceType::AwsRdsDbClusterSnapshot),
        "{plan:#?}"
    );
}

#[test]
fn exempt_resources_are_reported_exempt() {
    let mut s = ebs(false, None, json!([account(COMPUTE)]));
    s["Tags"] = json!([{"Key": "cmkguard:exempt", "Value": "true"}]);
    let plan = run(&snap_share(), state(json!({"ebs_snapshots": [s]}), vec![]));
    assert_eq!(plan.findings.len(), 1);
    assert!(plan.findings[0].exempt);
    assert_eq!(plan.findings[0].remediation, Remediation::Exempt);
    assert!(!plan.has_violations());
}

#[test]
fn a_deleted_resource_archives_its_checks() {
    let mut s = ebs(false, None, json!([account(COMPUTE)]));
    s["Exists"] = json!(false);
    let plan = run(&snap_share(), state(json!({"ebs_snapshots": [s]}), vec![]));
    assert!(plan
        .ignored
        .as_deref()
        .unwrap_or_default()
        .contains("no longer exists"));
    let rules: Vec<RuleId> = plan.archived.iter().map(|a| a.rule_id).collect();
    assert!(
        rules.contains(&RuleId::SnapshotPublic)
            && rules.contains(&RuleId::SharedSnapshotUnencrypted)
    );
}

#[test]
fn trust_never_exempts_but_excludes_trusted_grantees() {
    let mut config = Config::default();
    config.trust.accounts.insert(COMPUTE.to_string());
    // A trusted sharee still needs the key.
    let plan = run_with(
        &snap_share(),
        state(
            json!({"ebs_snapshots": [ebs(true, Some(CMK), json!([account(COMPUTE)]))]}),
            vec![cmk_with(CMK, vec![], Some(json!([])))],
        ),
        &config,
    );
    check(&plan, &[("KEY_POLICY_MISSING_GRANT", "HIGH")], &[]);
    // A grant to a trusted account is not outside.
    let plan = run_with(
        &grant_event(),
        state(
            json!({}),
            vec![cmk_with(
                CMK,
                vec![],
                Some(
                    json!({"Grants": [grant("arn:aws:iam::444455556666:role/analytics", &["Decrypt", "CreateGrant"])]}),
                ),
            )],
        ),
        &config,
    );
    check(&plan, &[], &[]);
}

#[test]
fn the_loop_guard_applies_to_beyond_triggers() {
    let config = Config {
        guardrail_role_arn: Some("arn:aws:iam::111122223333:role/platform-admin".into()),
        ..Config::default()
    };
    let plan = run_with(
        &snap_share(),
        state(
            json!({"ebs_snapshots": [ebs(false, None, json!([account(COMPUTE)]))]}),
            vec![],
        ),
        &config,
    );
    assert!(
        plan.ignored
            .as_deref()
            .unwrap_or_default()
            .contains("loop guard"),
        "{plan:#?}"
    );
}

#[test]
fn compliant_checks_are_listed_as_passed() {
    let plan = run(
        &snap_share(),
        state(
            json!({"ebs_snapshots": [ebs(true, Some(CMK), json!([account(COMPUTE)]))]}),
            vec![cmk(console(COMPUTE))],
        ),
    );
    let passed: Vec<RuleId> = plan.passed.iter().map(|p| p.rule_id).collect();
    for rule in [
        RuleId::SnapshotPublic,
        RuleId::SharedSnapshotAwsManagedKey,
        RuleId::SharedSnapshotUnencrypted,
        RuleId::SharedSnapshotKeyUnusable,
        RuleId::KeyPolicyMissingGrant,
    ] {
        assert!(passed.contains(&rule), "{rule}: {plan:#?}");
    }
}

#[test]
fn an_ami_over_several_snapshots_gives_one_finding_per_rule() {
    let other = "arn:aws:kms:eu-west-1:111122223333:key/0000aaaa-12ab-34cd-56ef-1234567890ab";
    let two = |second_key: &str| {
        let mut i = image(json!([account(COMPUTE)]));
        i["BlockDeviceMappings"] =
            json!([{"Ebs": {"SnapshotId": ROOT_SNAP}}, {"Ebs": {"SnapshotId": SNAP}}]);
        json!({"images": [i], "ebs_snapshots": [root_snap(true, Some(CMK)), ebs(true, Some(second_key), json!([]))]})
    };
    let external =
        Some(json!({"Grants": [grant("arn:aws:iam::777788889999:role/x", &["Decrypt"])]}));
    // Same key twice: one missing-grant finding naming both snapshots, one grant finding.
    let plan = run(
        &image_share(),
        state(two(CMK), vec![cmk_with(CMK, vec![], external.clone())]),
    );
    check(&plan, &[("KEY_POLICY_MISSING_GRANT", "HIGH"), ("KEY_GRANT_EXTERNAL", "MEDIUM")],
          &["snapshot snap-0a1b2c3d4e5f60718 of AMI ami-0f1e2d3c4b5a69788, snapshot snap-0b0b0b0b0b0b0b0b0 of AMI"]);
    // Two keys: still one finding on the AMI, with the reasons of each key.
    let plan = run(
        &image_share(),
        state(
            two(other),
            vec![
                cmk_with(CMK, vec![], external),
                cmk_with(other, vec![], Some(json!([]))),
            ],
        ),
    );
    check(
        &plan,
        &[
            ("KEY_POLICY_MISSING_GRANT", "HIGH"),
            ("KEY_GRANT_EXTERNAL", "MEDIUM"),
        ],
        &[CMK, other],
    );
    let ids: Vec<&str> = plan.findings.iter().map(|f| f.id.as_str()).collect();
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(ids.len(), unique.len());
}
