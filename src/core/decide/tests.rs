//! Named table tests for `decide`: every rule of DOMAIN.md §3, the patch planning and its
//! safety limits of §8, exemptions, the loop guard and the AccessDenied diagnosis of §6.

use serde_json::{json, Value};

use super::decide;
use super::diagnose::paste::{CALLER_IAM, OWNER_BUCKET, OWNER_KEY};
use super::{bucket, key};
use crate::core::config::{Config, Mode};
use crate::core::event::{Trigger, TriggerKind};
use crate::core::finding::{finding_id, Remediation, ResourceType, RuleId};
use crate::core::plan::{Plan, Step};
use crate::core::policy::secure_transport::{evaluate_tls, TlsStatus};
use crate::core::policy::Policy;
use crate::core::snapshot::Snapshot;

const OWNER: &str = "111122223333";
const COMPUTE: &str = "444455556666";
const THIRD: &str = "777788889999";
const REGION: &str = "eu-west-1";
const BUCKET: &str = "data-shared-analytics";
const CMK: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const OTHER_KEY: &str =
    "arn:aws:kms:eu-west-1:111122223333:key/0000aaaa-12ab-34cd-56ef-1234567890ab";
const AWS_S3_KEY: &str =
    "arn:aws:kms:eu-west-1:111122223333:key/9999ffff-12ab-34cd-56ef-1234567890ab";
const US_KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/5555eeee-12ab-34cd-56ef-1234567890ab";
const GOV_KEY: &str =
    "arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/6666dddd-12ab-34cd-56ef-1234567890ab";
const ROLE: &str = "arn:aws:iam::111122223333:role/cmkguard-function-role";

fn trigger(kind: TriggerKind, name: &str) -> Trigger {
    Trigger {
        kind,
        event_name: name.into(),
        event_source: if name.contains("Key") || name == "Decrypt" {
            "kms.amazonaws.com"
        } else {
            "s3.amazonaws.com"
        }
        .into(),
        event_id: Some("e1".into()),
        event_time: None,
        account: Some(OWNER.into()),
        region: Some(REGION.into()),
        bucket: None,
        key: None,
        caller_account: Some(OWNER.into()),
        owner_account: Some(OWNER.into()),
        error_code: None,
        error_message: None,
        principal_arn: Some("arn:aws:sts::111122223333:assumed-role/admin/alice".into()),
        session_issuer_arn: Some("arn:aws:iam::111122223333:role/admin".into()),
        object_key: None,
        side: None,
        shared_event_id: None,
        request_id: None,
        resource_arn: None,
        change: None,
    }
}

fn bucket_event() -> Trigger {
    Trigger {
        bucket: Some(BUCKET.into()),
        ..trigger(TriggerKind::BucketChanged, "PutBucketPolicy")
    }
}

fn key_event(key: &str) -> Trigger {
    Trigger {
        key: Some(key.into()),
        ..trigger(TriggerKind::KeyChanged, "PutKeyPolicy")
    }
}

fn denied_s3(recorded_in: &str) -> Trigger {
    Trigger {
        bucket: Some(BUCKET.into()),
        account: Some(recorded_in.into()),
        caller_account: Some(COMPUTE.into()),
        owner_account: Some(OWNER.into()),
        error_code: Some("AccessDenied".into()),
        principal_arn: Some("arn:aws:sts::444455556666:assumed-role/reader/job".into()),
        ..trigger(TriggerKind::AccessDenied, "GetObject")
    }
}

fn denied_kms() -> Trigger {
    Trigger {
        key: Some(CMK.into()),
        caller_account: Some(COMPUTE.into()),
        error_code: Some("AccessDeniedException".into()),
        ..trigger(TriggerKind::AccessDenied, "Decrypt")
    }
}

fn grant(account: &str) -> Value {
    json!({"Sid": format!("Share{account}"), "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
           "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
           "Resource": [format!("arn:aws:s3:::{BUCKET}"), format!("arn:aws:s3:::{BUCKET}/*")]})
}

/// A bucket policy statement granting `account` exactly `actions`.
fn share(account: &str, actions: Value) -> Value {
    json!({"Sid": format!("Share{account}"), "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
           "Action": actions, "Resource": [format!("arn:aws:s3:::{BUCKET}"), format!("arn:aws:s3:::{BUCKET}/*")]})
}

/// A key policy statement giving `account` exactly `actions`.
fn key_use(account: &str, actions: Value) -> Value {
    json!({"Sid": format!("Key{account}"), "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
           "Action": actions, "Resource": "*"})
}

/// A shared bucket under the CMK with this bucket policy grant and this key policy.
fn cmk_bucket(share_stmt: Value, key_stmts: Vec<Value>) -> Value {
    with(
        with(
            with(base(), &["bucket", "encryption"], kms_encryption(Some(CMK))),
            &["bucket", "policy"],
            policy(vec![share_stmt, tls()]),
        ),
        &["keys", "0", "policy"],
        key_policy(key_stmts),
    )
}

fn tls() -> Value {
    json!({"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
           "Resource": [format!("arn:aws:s3:::{BUCKET}"), format!("arn:aws:s3:::{BUCKET}/*")],
           "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
}

fn policy(statements: Vec<Value>) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn kms_encryption(key: Option<&str>) -> Value {
    let mut default = json!({"SSEAlgorithm": "aws:kms"});
    if let Some(k) = key {
        default["KMSMasterKeyID"] = json!(k);
    }
    json!({"ServerSideEncryptionConfiguration": {"Rules": [{"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": true}]}})
}

fn sse_s3() -> Value {
    json!({"ServerSideEncryptionConfiguration": {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": false}]}})
}

fn acl() -> Value {
    json!({"Owner": {"ID": "owner-canonical"}, "Grants": [{"Grantee": {"Type": "CanonicalUser", "ID": "owner-canonical"}, "Permission": "FULL_CONTROL"}]})
}

fn key_metadata(arn: &str, manager: &str, state: &str) -> Value {
    let id = arn.rsplit('/').next().unwrap_or_default();
    json!({"KeyMetadata": {"AWSAccountId": OWNER, "KeyId": id, "Arn": arn, "Enabled": state == "Enabled",
        "KeyUsage": "ENCRYPT_DECRYPT", "KeyState": state, "Origin": "AWS_KMS", "KeyManager": manager,
        "KeySpec": "SYMMETRIC_DEFAULT", "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"], "MultiRegion": false}})
}

fn key_policy(extra: Vec<Value>) -> Value {
    let mut statements = vec![
        json!({"Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{OWNER}:root")}, "Action": "kms:*", "Resource": "*"}),
    ];
    statements.extend(extra);
    json!({"Version": "2012-10-17", "Id": "key-default-1", "Statement": statements})
}

fn usage(account: &str) -> Value {
    json!({"Sid": format!("Use{account}"), "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
           "Action": ["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"], "Resource": "*"})
}

fn cmk(policy: Value) -> Value {
    json!({"metadata": key_metadata(CMK, "CUSTOMER", "Enabled"), "policy": policy, "rotation_enabled": true, "aliases": ["alias/data"]})
}

fn aws_s3_key() -> Value {
    json!({"metadata": key_metadata(AWS_S3_KEY, "AWS", "Enabled"), "policy": null, "rotation_enabled": true, "aliases": ["alias/aws/s3"]})
}

/// A shared bucket under aws/s3 without TLS, the CMK granting nobody: the default scenario.
fn base() -> Value {
    json!({
        "bucket": {"name": BUCKET, "account": OWNER, "region": REGION, "policy": policy(vec![grant(COMPUTE)]),
                   "encryption": kms_encryption(None), "acl": acl(), "tags": {}},
        "keys": [cmk(key_policy(vec![])), aws_s3_key()]
    })
}

fn with(mut v: Value, path: &[&str], value: Value) -> Value {
    let mut cur = &mut v;
    for p in &path[..path.len() - 1] {
        cur = if let Ok(i) = p.parse::<usize>() {
            &mut cur[i]
        } else {
            &mut cur[*p]
        };
    }
    let last = path[path.len() - 1];
    if let Ok(i) = last.parse::<usize>() {
        cur[i] = value;
    } else {
        cur[last] = value;
    }
    v
}

fn cfg() -> Config {
    Config {
        cmk_arn: Some(CMK.into()),
        ..Config::default()
    }
}

fn enforce() -> Config {
    Config {
        mode: Mode::Enforce,
        ..cfg()
    }
}

fn enforce_patching_keys() -> Config {
    Config {
        patch_key_policy: true,
        ..enforce()
    }
}

fn rules(plan: &Plan) -> Vec<RuleId> {
    let mut r: Vec<RuleId> = plan.findings.iter().map(|f| f.rule_id).collect();
    r.sort();
    r
}

fn steps(plan: &Plan) -> Vec<&'static str> {
    plan.steps.iter().map(Step::api).collect()
}

macro_rules! cases {
    ($($name:ident: $trigger:expr, $snap:expr, $cfg:expr => [$($rule:ident),*], [$($step:literal),*] $(, $check:expr)?;)*) => {$(
        #[test]
        fn $name() {
            let snapshot: Snapshot = serde_json::from_value($snap).expect("snapshot");
            let plan = decide(&$trigger, &snapshot, &$cfg);
            let mut want = vec![$(RuleId::$rule),*];
            want.sort();
            assert_eq!(rules(&plan), want, "rules of {plan:#?}");
            assert_eq!(steps(&plan), vec![$($step),*] as Vec<&str>, "steps of {plan:#?}");
            $( let check: fn(&Plan) = $check; check(&plan); )?
        }
    )*};
}

fn reasons_mention(plan: &Plan, rule: RuleId, needle: &str) -> bool {
    plan.findings
        .iter()
        .filter(|f| f.rule_id == rule)
        .any(|f| f.reasons.iter().any(|r| r.contains(needle)) || f.fix.contains(needle))
}

/// The statement block of a diagnosis under `heading`, checked for the shape it must have.
fn block(plan: &Plan, heading: &str) -> Option<Value> {
    let f = plan
        .findings
        .iter()
        .find(|f| f.rule_id == RuleId::AccessDeniedDiagnosis)?;
    let (_, blocks) = super::diagnose::paste::parse_fix(&f.fix);
    let doc = blocks.into_iter().find(|b| b.heading == heading)?.document;
    let statements = if heading == CALLER_IAM {
        assert_eq!(doc["Version"], "2012-10-17", "{doc}");
        doc["Statement"].as_array().cloned().unwrap_or_default()
    } else {
        let aws = doc["Principal"]["AWS"].as_str().unwrap_or_default();
        assert!(
            aws.starts_with("arn:aws") && aws.ends_with(":root"),
            "{doc}"
        );
        vec![doc.clone()]
    };
    for s in &statements {
        assert!(
            s["Sid"]
                .as_str()
                .is_some_and(|sid| sid.chars().all(|c| c.is_ascii_alphanumeric())),
            "{s}"
        );
        assert_eq!(s["Effect"], "Allow", "{s}");
        assert!(s["Action"].is_string() || s["Action"].is_array(), "{s}");
    }
    Some(doc)
}

fn plus_acl_grant(mut v: Value, grant: Value) -> Value {
    v["bucket"]["acl"]["Grants"]
        .as_array_mut()
        .unwrap()
        .push(grant);
    v
}

fn verdict(plan: &Plan) -> String {
    plan.findings
        .iter()
        .flat_map(|f| &f.reasons)
        .find_map(|r| r.strip_prefix(super::diagnose::VERDICT))
        .unwrap_or_default()
        .to_string()
}

fn manual(plan: &Plan, rule: RuleId) -> String {
    plan.findings
        .iter()
        .find(|f| f.rule_id == rule)
        .map(|f| match &f.remediation {
            Remediation::Manual { reason } => reason.clone(),
            other => format!("not manual: {other:?}"),
        })
        .unwrap_or_default()
}

cases! {
    // ---- shared bucket, key classes ----
    aws_managed_default_key_reports_in_report_mode: bucket_event(), base(), cfg()
        => [SharedBucketAwsManagedKey, TlsNotEnforced], ["s3:PutBucketPolicy"],
        |p| {
            assert!(reasons_mention(p, RuleId::SharedBucketAwsManagedKey, "aws/s3"));
            assert!(manual(p, RuleId::SharedBucketAwsManagedKey).contains(COMPUTE), "CMK move refused while the key policy misses the account");
            assert!(matches!(p.findings.iter().find(|f| f.rule_id == RuleId::TlsNotEnforced).unwrap().remediation, Remediation::WouldApply { .. }));
        };
    aws_managed_alias_in_config_is_aws_managed: bucket_event(),
        with(base(), &["bucket", "encryption"], kms_encryption(Some("alias/aws/s3"))), cfg()
        => [SharedBucketAwsManagedKey, TlsNotEnforced], ["s3:PutBucketPolicy"];
    aws_managed_key_by_arn_is_recognised_from_metadata: bucket_event(),
        with(base(), &["bucket", "encryption"], kms_encryption(Some(AWS_S3_KEY))), cfg()
        => [SharedBucketAwsManagedKey, TlsNotEnforced], ["s3:PutBucketPolicy"];
    sse_s3_is_medium: bucket_event(), with(base(), &["bucket", "encryption"], sse_s3()), cfg()
        => [SharedBucketSseS3, TlsNotEnforced], ["s3:PutBucketPolicy"],
        |p| assert_eq!(p.findings.iter().find(|f| f.rule_id == RuleId::SharedBucketSseS3).unwrap().severity, crate::core::finding::Severity::Medium);
    no_encryption_configuration_counts_as_sse_s3: bucket_event(), with(base(), &["bucket", "encryption"], Value::Null), cfg()
        => [SharedBucketSseS3, TlsNotEnforced], ["s3:PutBucketPolicy"];
    dsse_with_cmk_is_compliant: bucket_event(),
        with(with(base(), &["bucket", "encryption"], json!({"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms:dsse", "KMSMasterKeyID": CMK}}]})),
             &["keys", "0", "policy"], key_policy(vec![usage(COMPUTE)])), cfg()
        => [TlsNotEnforced], ["s3:PutBucketPolicy"];
    compliant_bucket_has_no_findings_and_passes_every_rule: bucket_event(),
        with(with(with(base(), &["bucket", "encryption"], kms_encryption(Some(CMK))), &["keys", "0", "policy"], key_policy(vec![usage(COMPUTE)])),
             &["bucket", "policy"], policy(vec![grant(COMPUTE), tls()])), enforce()
        => [], [],
        |p| assert_eq!(p.passed.len(), 7, "{:?}", p.passed);
    key_by_alias_is_not_arn_and_is_rewritten: bucket_event(),
        with(with(base(), &["bucket", "encryption"], kms_encryption(Some("alias/data"))), &["keys", "0", "policy"], key_policy(vec![usage(COMPUTE)])), enforce()
        => [SharedBucketKeyNotArn, TlsNotEnforced], ["s3:PutBucketPolicy", "s3:PutBucketEncryption"],
        |p| assert!(p.steps.iter().any(|s| matches!(s, Step::PutBucketEncryption { kms_key_arn, .. } if kms_key_arn == CMK)));
    key_by_bare_id_is_not_arn: bucket_event(),
        with(with(base(), &["bucket", "encryption"], kms_encryption(Some("1234abcd-12ab-34cd-56ef-1234567890ab"))), &["keys", "0", "policy"], key_policy(vec![usage(COMPUTE)])), cfg()
        => [SharedBucketKeyNotArn, TlsNotEnforced], ["s3:PutBucketPolicy", "s3:PutBucketEncryption"];
    key_by_alias_arn_is_not_arn: bucket_event(),
        with(with(base(), &["bucket", "encryption"], kms_encryption(Some("arn:aws:kms:eu-west-1:111122223333:alias/data"))), &["keys", "0", "policy"], key_policy(vec![usage(COMPUTE)])), cfg()
        => [SharedBucketKeyNotArn, TlsNotEnforced], ["s3:PutBucketPolicy", "s3:PutBucketEncryption"];
    unresolvable_alias_is_reported_without_a_patch: bucket_event(),
        with(base(), &["bucket", "encryption"], kms_encryption(Some("alias/unknown"))), enforce()
        => [SharedBucketKeyNotArn, TlsNotEnforced], ["s3:PutBucketPolicy"],
        |p| assert!(p.notes.iter().any(|n| n.contains("not checked")));
    disabled_key_is_unusable: bucket_event(),
        with(with(base(), &["bucket", "encryption"], kms_encryption(Some(CMK))), &["keys", "0", "metadata"], key_metadata(CMK, "CUSTOMER", "Disabled")), cfg()
        => [KeyPolicyMissingGrant, SharedBucketKeyUnusable, TlsNotEnforced], ["s3:PutBucketPolicy"];
    pending_deletion_key_is_unusable: bucket_event(),
        with(with(with(base(), &["bucket", "encryption"], kms_encryption(Some(CMK))), &["keys", "0", "metadata"], key_metadata(CMK, "CUSTOMER", "PendingDeletion")), &["keys", "0", "policy"], key_policy(vec![usage(COMPUTE)])), cfg()
        => [SharedBucketKeyUnusable, TlsNotEnforced], ["s3:PutBucketPolicy"];
    deleted_key_is_unusable: bucket_event(),
        json!({"bucket": base()["bucket"].clone(), "keys": [], "keys_not_found": [OTHER_KEY]}).pipe(|v| with(v, &["bucket", "encryption"], kms_encryption(Some(OTHER_KEY)))), cfg()
        => [SharedBucketKeyUnusable, TlsNotEnforced], ["s3:PutBucketPolicy"];
    key_in_other_region_is_unusable: bucket_event(),
        with(with(with(base(), &["bucket", "encryption"], kms_encryption(Some(CMK))), &["bucket", "region"], json!("us-east-1")), &["keys", "0", "policy"], key_policy(vec![usage(COMPUTE)])), cfg()
        => [SharedBucketKeyUnusable, TlsNotEnforced], ["s3:PutBucketPolicy"],
        |p| assert!(reasons_mention(p, RuleId::SharedBucketKeyUnusable, "us-east-1"));
    key_not_in_snapshot_is_undetermined_not_failed: bucket_event(),
        with(base(), &["bucket", "encryption"], kms_encryption(Some(OTHER_KEY))), cfg()
        => [TlsNotEnforced], ["s3:PutBucketPolicy"],
        |p| {
            assert!(!p.passed.iter().any(|x| x.rule_id == RuleId::KeyPolicyMissingGrant));
            assert!(p.passed.iter().any(|x| x.rule_id == RuleId::SharedBucketKeyNotArn));
        };
    // ---- key policy grants ----
    key_policy_missing_grant_reported: bucket_event(),
        with(base(), &["bucket", "encryption"], kms_encryption(Some(CMK))), enforce()
        => [KeyPolicyMissingGrant, TlsNotEnforced], ["s3:PutBucketPolicy"],
        |p| assert!(manual(p, RuleId::KeyPolicyMissingGrant).contains("patch_key_policy"));
    key_policy_missing_grant_patched_when_allowed: bucket_event(),
        with(base(), &["bucket", "encryption"], kms_encryption(Some(CMK))), enforce_patching_keys()
        => [KeyPolicyMissingGrant, TlsNotEnforced], ["s3:PutBucketPolicy", "kms:PutKeyPolicy"],
        |p| assert!(p.steps.iter().any(|s| matches!(s, Step::PutKeyPolicy { added_accounts, .. } if added_accounts == &vec![COMPUTE.to_string()])));
    key_policy_missing_only_one_of_two_accounts: bucket_event(),
        with(with(with(base(), &["bucket", "encryption"], kms_encryption(Some(CMK))), &["bucket", "policy"], policy(vec![grant(COMPUTE), grant(THIRD), tls()])), &["keys", "0", "policy"], key_policy(vec![usage(COMPUTE)])), cfg()
        => [KeyPolicyMissingGrant], [],
        |p| { assert!(reasons_mention(p, RuleId::KeyPolicyMissingGrant, THIRD)); assert!(!p.findings[0].reasons.iter().any(|r| r.contains(&format!("account {COMPUTE} kms")))); };
    key_policy_grant_via_caller_account_condition: bucket_event(),
        with(with(base(), &["bucket", "encryption"], kms_encryption(Some(CMK))), &["keys", "0", "policy"], key_policy(vec![json!({"Effect": "Allow", "Principal": "*", "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*", "Condition": {"StringEquals": {"kms:CallerAccount": COMPUTE}}})])), cfg()
        => [TlsNotEnforced], ["s3:PutBucketPolicy"];
    // ---- the key half per account and direction (DOMAIN.md §3) ----
    reader_needs_only_decrypt: bucket_event(),
        cmk_bucket(share(COMPUTE, json!("s3:GetObject")), vec![key_use(COMPUTE, json!("kms:Decrypt"))]), cfg()
        => [], [],
        |p| assert!(p.needs_grants.is_empty());
    writer_with_decrypt_only_lacks_generate_data_key: bucket_event(),
        cmk_bucket(share(COMPUTE, json!("s3:PutObject")), vec![key_use(COMPUTE, json!("kms:Decrypt"))]), cfg()
        => [KeyPolicyMissingGrant], [],
        |p| {
            assert!(reasons_mention(p, RuleId::KeyPolicyMissingGrant, &format!("account {COMPUTE} is granted object write but the key {CMK} does not let it use kms:GenerateDataKey:")));
            assert_eq!(p.needs_grants, vec![CMK.to_string()], "a grant could still opt it in");
            assert!(reasons_mention(p, RuleId::KeyPolicyMissingGrant, "grants of"));
        };
    writer_only_key_grant_misses_decrypt_for_multipart: bucket_event(),
        with(cmk_bucket(share(COMPUTE, json!("s3:PutObject")), vec![key_use(COMPUTE, json!("kms:GenerateDataKey*"))]), &["keys", "0", "grants"], json!({"Grants": []})), cfg()
        => [KeyPolicyMissingGrant], [],
        |p| {
            assert!(reasons_mention(p, RuleId::KeyPolicyMissingGrant, "does not let it use kms:Decrypt (writers need kms:Decrypt for multipart uploads)"));
            assert!(reasons_mention(p, RuleId::KeyPolicyMissingGrant, &format!("account {COMPUTE} has kms:GenerateDataKey")));
            assert!(p.needs_grants.is_empty(), "the grants were read");
        };
    writer_with_both_actions_is_complete: bucket_event(),
        cmk_bucket(share(COMPUTE, json!(["s3:PutObject", "s3:GetObject"])), vec![key_use(COMPUTE, json!(["kms:Decrypt", "kms:GenerateDataKey"]))]), cfg()
        => [], [];
    bucket_level_access_needs_no_key: bucket_event(),
        cmk_bucket(share(COMPUTE, json!(["s3:ListBucket", "s3:GetBucketLocation"])), vec![]), cfg()
        => [], [],
        |p| assert!(p.passed.iter().any(|x| x.rule_id == RuleId::KeyPolicyMissingGrant));
    kms_grant_opts_a_writer_in: bucket_event(),
        with(cmk_bucket(share(COMPUTE, json!("s3:PutObject")), vec![]), &["keys", "0", "grants"],
            json!({"Grants": [{"GrantId": "g-etl", "GranteePrincipal": format!("arn:aws:iam::{COMPUTE}:role/etl"), "Operations": ["GenerateDataKey", "Decrypt"]}]})), cfg()
        => [], [];
    kms_grant_to_another_account_does_not_count: bucket_event(),
        with(cmk_bucket(share(COMPUTE, json!("s3:GetObject")), vec![]), &["keys", "0", "grants"],
            json!({"Grants": [{"GrantId": "g-x", "GranteePrincipal": format!("arn:aws:iam::{THIRD}:root"), "Operations": ["Decrypt"]}]})), cfg()
        => [KeyPolicyMissingGrant], [],
        |p| assert!(reasons_mention(p, RuleId::KeyPolicyMissingGrant, "kms:Decrypt: step 2"));
    key_policy_deny_subtracts_the_grant: bucket_event(),
        cmk_bucket(share(COMPUTE, json!("s3:GetObject")), vec![key_use(COMPUTE, json!("kms:*")),
            json!({"Sid": "NoDecryptForCompute", "Effect": "Deny", "Principal": {"AWS": COMPUTE}, "Action": "kms:Decrypt", "Resource": "*"})]), cfg()
        => [KeyPolicyMissingGrant], [],
        |p| assert!(reasons_mention(p, RuleId::KeyPolicyMissingGrant, "statement 'NoDecryptForCompute' denies account 444455556666 kms:Decrypt"));
    unreadable_grants_are_said_and_the_policy_judges: bucket_event(),
        with(cmk_bucket(share(COMPUTE, json!("s3:GetObject")), vec![key_use(COMPUTE, json!("kms:Decrypt"))]), &["keys", "0", "grants"], json!("junk")), cfg()
        => [], [],
        |p| assert!(p.notes.iter().any(|n| n.contains("cannot be read")));
    owner_side_denial_on_a_writer_names_the_missing_action: Trigger { event_name: "PutObject".into(), ..denied_s3(OWNER) },
        cmk_bucket(share(COMPUTE, json!("s3:PutObject")), vec![key_use(COMPUTE, json!("kms:GenerateDataKey*"))]), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| {
            assert!(reasons_mention(p, RuleId::AccessDeniedDiagnosis, &format!("does not grant account {COMPUTE} kms:Decrypt (its KMS grants were not read)")));
            assert_eq!(p.needs_grants, vec![CMK.to_string()]);
        };
    owner_side_denial_complete_through_a_grant: Trigger { event_name: "PutObject".into(), ..denied_s3(OWNER) },
        with(cmk_bucket(share(COMPUTE, json!("s3:PutObject")), vec![]), &["keys", "0", "grants"],
            json!([{"GrantId": "g", "GranteePrincipal": format!("arn:aws:iam::{COMPUTE}:root"), "Operations": ["GenerateDataKey", "Decrypt"]}])), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| assert!(reasons_mention(p, RuleId::AccessDeniedDiagnosis, "owner side complete"));
    // ---- CMK move ----
    cmk_move_with_key_policy_patch_in_enforce: bucket_event(), base(), enforce_patching_keys()
        => [SharedBucketAwsManagedKey, TlsNotEnforced], ["s3:PutBucketPolicy", "kms:PutKeyPolicy", "s3:PutBucketEncryption"],
        |p| assert!(p.steps.iter().any(|s| matches!(s, Step::PutBucketEncryption { kms_key_arn, bucket_key_enabled: true, expected_bucket_owner, .. } if kms_key_arn == CMK && expected_bucket_owner == OWNER)));
    cmk_move_without_patch_when_key_already_grants: bucket_event(), with(base(), &["keys", "0", "policy"], key_policy(vec![usage(COMPUTE)])), enforce()
        => [SharedBucketAwsManagedKey, TlsNotEnforced], ["s3:PutBucketPolicy", "s3:PutBucketEncryption"];
    cmk_move_refused_without_configured_cmk: bucket_event(), base(), Config { mode: Mode::Enforce, ..Config::default() }
        => [SharedBucketAwsManagedKey, TlsNotEnforced], ["s3:PutBucketPolicy"],
        |p| assert!(manual(p, RuleId::SharedBucketAwsManagedKey).contains("no CMK configured"));
    cmk_move_refused_for_public_bucket: bucket_event(),
        with(base(), &["bucket", "policy"], policy(vec![json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{BUCKET}/*")}), tls()])), enforce_patching_keys()
        => [SharedBucketAwsManagedKey], [],
        |p| assert!(manual(p, RuleId::SharedBucketAwsManagedKey).contains("public"));
    cmk_move_refused_when_cmk_disabled: bucket_event(),
        with(base(), &["keys", "0", "metadata"], key_metadata(CMK, "CUSTOMER", "Disabled")), enforce_patching_keys()
        => [SharedBucketAwsManagedKey, TlsNotEnforced], ["s3:PutBucketPolicy"],
        |p| assert!(manual(p, RuleId::SharedBucketAwsManagedKey).contains("cannot be used"));
    cmk_move_refused_when_cmk_not_read: bucket_event(), with(base(), &["keys"], json!([])), enforce_patching_keys()
        => [SharedBucketAwsManagedKey, TlsNotEnforced], ["s3:PutBucketPolicy"],
        |p| assert!(manual(p, RuleId::SharedBucketAwsManagedKey).contains("not read"));
    cmk_move_refused_for_org_share_not_granted_on_key: bucket_event(),
        with(base(), &["bucket", "policy"], policy(vec![json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{BUCKET}/*"), "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}}), tls()])), enforce_patching_keys()
        => [SharedBucketAwsManagedKey], [],
        |p| assert!(manual(p, RuleId::SharedBucketAwsManagedKey).contains("o-abc123"));
    // ---- TLS ----
    not_shared_bucket_only_tls: bucket_event(),
        with(with(base(), &["bucket", "policy"], Value::Null), &["bucket", "encryption"], sse_s3()), cfg()
        => [TlsNotEnforced], ["s3:PutBucketPolicy"],
        |p| {
            assert_eq!(p.findings[0].severity, crate::core::finding::Severity::Medium);
            let Step::PutBucketPolicy { policy, .. } = &p.steps[0] else { panic!() };
            assert_eq!(evaluate_tls(Some(&Policy::parse(policy).unwrap()), BUCKET, "aws").status, TlsStatus::Enforced);
        };
    tls_not_enforced_is_high_when_shared: bucket_event(), base(), cfg()
        => [SharedBucketAwsManagedKey, TlsNotEnforced], ["s3:PutBucketPolicy"],
        |p| assert_eq!(p.findings.iter().find(|f| f.rule_id == RuleId::TlsNotEnforced).unwrap().severity, crate::core::finding::Severity::High);
    tls_partial_keeps_the_partial_statement: bucket_event(),
        with(with(base(), &["bucket", "encryption"], sse_s3()), &["bucket", "policy"], policy(vec![json!({"Sid": "OnlyObjects", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": format!("arn:aws:s3:::{BUCKET}/*"), "Condition": {"Bool": {"aws:SecureTransport": "false"}}})])), enforce()
        => [TlsPartial], ["s3:PutBucketPolicy"],
        |p| {
            let Step::PutBucketPolicy { policy, .. } = &p.steps[0] else { panic!() };
            let statements = policy["Statement"].as_array().unwrap();
            assert_eq!(statements.len(), 2);
            assert_eq!(statements[0]["Sid"], "OnlyObjects");
        };
    tls_patch_refused_over_20kb: bucket_event(),
        with(with(base(), &["bucket", "encryption"], sse_s3()), &["bucket", "policy"], policy((0..120).map(|i| json!({"Sid": format!("Owner{i:04}"), "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{OWNER}:role/some-long-role-name-for-padding-{i:04}")}, "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{BUCKET}/prefix-{i:04}/*")})).collect())), enforce()
        => [TlsNotEnforced], [],
        |p| assert!(manual(p, RuleId::TlsNotEnforced).contains("limit"));
    unreadable_bucket_policy_is_ignored_not_patched: bucket_event(), with(base(), &["bucket", "policy"], json!("{not json")), enforce()
        => [], [],
        |p| assert!(p.ignored.as_deref().unwrap_or_default().contains("cannot be read"));
    // ---- exemption, loop guard, missing state ----
    exempt_bucket_gets_findings_but_no_steps: bucket_event(), with(base(), &["bucket", "tags"], json!([{"Key": "cmkguard:exempt", "Value": "true"}])), enforce_patching_keys()
        => [SharedBucketAwsManagedKey, TlsNotEnforced], [],
        |p| assert!(p.findings.iter().all(|f| f.exempt && f.remediation == Remediation::Exempt) && !p.has_violations());
    loop_guard_ignores_own_role: Trigger { session_issuer_arn: Some(ROLE.into()), ..bucket_event() }, base(), Config { guardrail_role_arn: Some(ROLE.into()), ..enforce() }
        => [], [],
        |p| assert!(p.ignored.as_deref().unwrap_or_default().contains("loop guard"));
    loop_guard_matches_assumed_role_arn: Trigger { session_issuer_arn: None, principal_arn: Some("arn:aws:sts::111122223333:assumed-role/cmkguard-function-role/fn".into()), ..bucket_event() }, base(), Config { guardrail_role_arn: Some(ROLE.into()), ..enforce() }
        => [], [];
    other_roles_pass_the_loop_guard: bucket_event(), base(), Config { guardrail_role_arn: Some(ROLE.into()), ..cfg() }
        => [SharedBucketAwsManagedKey, TlsNotEnforced], ["s3:PutBucketPolicy"];
    deleted_bucket_is_ignored: bucket_event(), with(base(), &["bucket", "exists"], json!(false)), enforce()
        => [], [],
        |p| assert!(p.ignored.as_deref().unwrap_or_default().contains("no longer exists"));
    deleted_bucket_archives_every_bucket_check: bucket_event(), with(base(), &["bucket", "exists"], json!(false)), cfg()
        => [], [],
        |p| {
            let ids: Vec<String> = p.archived.iter().map(|a| a.id.clone()).collect();
            let want: Vec<String> = bucket::BUCKET_RULES.iter().map(|r| finding_id(*r, &format!("arn:aws:s3:::{BUCKET}"), "")).collect();
            assert_eq!(ids, want);
            assert!(p.archived.iter().all(|a| a.account == OWNER && a.region == REGION));
        };
    existing_bucket_archives_nothing: bucket_event(), base(), cfg()
        => [SharedBucketAwsManagedKey, TlsNotEnforced], ["s3:PutBucketPolicy"],
        |p| assert!(p.archived.is_empty());
    deleted_key_by_arn_archives_every_key_check: key_event(CMK), json!({"keys": [], "keys_not_found": [CMK]}), cfg()
        => [], [],
        |p| {
            assert!(p.ignored.as_deref().unwrap_or_default().contains("no longer exists"));
            let rules: Vec<RuleId> = p.archived.iter().map(|a| a.rule_id).collect();
            assert_eq!(rules, key::KEY_RULES.to_vec());
            assert!(p.archived.iter().all(|a| a.resource_arn == CMK && a.resource_type == ResourceType::AwsKmsKey));
        };
    deleted_key_by_alias_cannot_name_its_findings: key_event("alias/gone"), json!({"keys": [], "keys_not_found": ["alias/gone"]}), cfg()
        => [], [],
        |p| assert!(p.ignored.is_some() && p.archived.is_empty());
    snapshot_of_another_bucket_is_ignored: Trigger { bucket: Some("other".into()), ..bucket_event() }, base(), cfg()
        => [], [];
    acl_grant_to_all_users_is_public_sharing: bucket_event(),
        with(with(base(), &["bucket", "policy"], policy(vec![tls()])), &["bucket", "acl", "Grants", "0"], json!({"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"}, "Permission": "READ"})), enforce_patching_keys()
        => [SharedBucketAwsManagedKey], [];
    // ---- keys ----
    rotation_disabled_is_patched_in_enforce: key_event(CMK), with(base(), &["keys", "0", "rotation_enabled"], json!(false)), enforce()
        => [KeyRotationDisabled], ["kms:EnableKeyRotation"];
    rotation_enabled_key_passes: key_event(CMK), base(), enforce()
        => [], [],
        |p| assert_eq!(p.passed.len(), 3);
    imported_key_needs_manual_rotation_low: key_event(CMK),
        with(with(base(), &["keys", "0", "metadata", "KeyMetadata", "Origin"], json!("EXTERNAL")), &["keys", "0", "rotation_enabled"], json!(false)), enforce()
        => [KeyRotationDisabled], [],
        |p| assert_eq!(p.findings[0].severity, crate::core::finding::Severity::Low);
    multi_region_replica_rotation_is_not_patched_on_the_replica: key_event(CMK),
        with(with(base(), &["keys", "0", "rotation_enabled"], json!(false)), &["keys", "0", "metadata", "KeyMetadata", "MultiRegionConfiguration"], json!({"MultiRegionKeyType": "REPLICA"})), enforce()
        => [KeyRotationDisabled], [],
        |p| assert!(manual(p, RuleId::KeyRotationDisabled).contains("primary"));
    key_external_admin_is_reported_never_patched: key_event(CMK),
        with(base(), &["keys", "0", "policy"], key_policy(vec![json!({"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{THIRD}:root")}, "Action": "kms:*", "Resource": "*"})])), enforce()
        => [KeyExternalAdmin], [];
    public_key_policy_is_critical: key_event(CMK),
        with(base(), &["keys", "0", "policy"], key_policy(vec![json!({"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"})])), enforce()
        => [KeyPublic], [],
        |p| assert_eq!(p.findings[0].severity, crate::core::finding::Severity::Critical);
    aws_managed_key_event_is_ignored: key_event(AWS_S3_KEY), base(), enforce()
        => [], [],
        |p| assert!(p.ignored.is_some());
    key_event_by_alias_resolves: key_event("alias/data"), with(base(), &["keys", "0", "rotation_enabled"], json!(false)), cfg()
        => [KeyRotationDisabled], ["kms:EnableKeyRotation"],
        |p| assert_eq!(p.subject.resource.as_deref(), Some(CMK));
    exempt_key_gets_no_rotation_patch: key_event(CMK), with(with(base(), &["keys", "0", "rotation_enabled"], json!(false)), &["keys", "0", "tags"], json!([{"TagKey": "cmkguard:exempt", "TagValue": "true"}])), enforce()
        => [KeyRotationDisabled], [];
    // ---- AccessDenied diagnosis (§6): one named row per branch ----
    denied_owner_side_aws_managed_key: denied_s3(OWNER), base(), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| {
            assert!(reasons_mention(p, RuleId::AccessDeniedDiagnosis, "can never be shared"));
            let k = block(p, OWNER_KEY).expect("key statement for the CMK to move to");
            assert_eq!(k["Principal"]["AWS"], format!("arn:aws:iam::{COMPUTE}:root"));
            assert_eq!(k["Condition"]["StringEquals"]["kms:ViaService"], "s3.eu-west-1.amazonaws.com");
            assert!(block(p, OWNER_BUCKET).is_none(), "the bucket policy grants the caller");
            let iam = block(p, CALLER_IAM).unwrap();
            assert_eq!(iam["Statement"].as_array().unwrap().len(), 1, "no key ARN to name yet: {iam}");
            assert_eq!(iam["Statement"][0]["Resource"], format!("arn:aws:s3:::{BUCKET}/*"));
        };
    denied_owner_side_aws_managed_key_by_alias_in_config: denied_s3(OWNER), with(base(), &["bucket", "encryption"], kms_encryption(Some("alias/aws/s3"))), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| assert!(reasons_mention(p, RuleId::AccessDeniedDiagnosis, "aws/s3"));
    denied_owner_side_bucket_policy_grants_nothing: denied_s3(OWNER), with(with(base(), &["bucket", "policy"], policy(vec![tls()])), &["bucket", "encryption"], sse_s3()), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| {
            assert!(reasons_mention(p, RuleId::AccessDeniedDiagnosis, &format!("grants nothing to account {COMPUTE}")));
            let s = block(p, OWNER_BUCKET).expect("bucket statement");
            assert_eq!(s["Effect"], "Allow");
            assert_eq!(s["Principal"], json!({"AWS": format!("arn:aws:iam::{COMPUTE}:root")}));
            assert_eq!(s["Action"], "s3:GetObject");
            assert_eq!(s["Resource"], format!("arn:aws:s3:::{BUCKET}/*"));
            assert!(block(p, OWNER_KEY).is_none(), "SSE-S3 needs no key grant");
            assert!(verdict(p).starts_with("owner side incomplete"), "{}", verdict(p));
        };
    denied_list_bucket_names_the_bucket_arn_not_objects: Trigger { event_name: "ListObjectsV2".into(), ..denied_s3(OWNER) }, with(base(), &["bucket", "policy"], policy(vec![tls()])), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| {
            let s = block(p, OWNER_BUCKET).unwrap();
            assert_eq!(s["Action"], "s3:ListBucket");
            assert_eq!(s["Resource"], format!("arn:aws:s3:::{BUCKET}"));
            let iam = block(p, CALLER_IAM).unwrap();
            assert_eq!(iam["Statement"], json!([{"Sid": "AllowListBucketOnSharedBucket", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": format!("arn:aws:s3:::{BUCKET}")}]));
            assert!(!reasons_mention(p, RuleId::AccessDeniedDiagnosis, "aws/s3"), "listing never touches the key");
        };
    denied_put_object_where_the_acl_grants_a_canonical_user: Trigger { event_name: "PutObject".into(), ..denied_s3(OWNER) },
        plus_acl_grant(with(with(base(), &["bucket", "policy"], policy(vec![tls()])), &["bucket", "encryption"], sse_s3()),
             json!({"Grantee": {"Type": "CanonicalUser", "ID": "compute-canonical"}, "Permission": "WRITE"})), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| {
            assert!(reasons_mention(p, RuleId::AccessDeniedDiagnosis, "ACL grant counts"));
            assert!(reasons_mention(p, RuleId::AccessDeniedDiagnosis, "compute-canonical (WRITE)"));
            assert_eq!(block(p, OWNER_BUCKET).unwrap()["Action"], "s3:PutObject");
        };
    denied_get_object_bucket_acl_never_covers_object_reads: denied_s3(OWNER),
        plus_acl_grant(with(with(base(), &["bucket", "policy"], policy(vec![tls()])), &["bucket", "encryption"], sse_s3()),
             json!({"Grantee": {"Type": "CanonicalUser", "ID": "compute-canonical"}, "Permission": "READ"})), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| assert!(reasons_mention(p, RuleId::AccessDeniedDiagnosis, "never covers s3:GetObject"));
    denied_public_acl_counts_as_a_grant: denied_s3(OWNER),
        plus_acl_grant(with(with(base(), &["bucket", "policy"], policy(vec![tls()])), &["bucket", "encryption"], sse_s3()),
             json!({"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"}, "Permission": "READ"})), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| {
            assert!(block(p, OWNER_BUCKET).is_none());
            assert!(reasons_mention(p, RuleId::AccessDeniedDiagnosis, "owner side complete"));
        };
    denied_owner_side_key_policy_misses_caller: denied_s3(OWNER), with(base(), &["bucket", "encryption"], kms_encryption(Some(CMK))), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| {
            assert!(reasons_mention(p, RuleId::AccessDeniedDiagnosis, &format!("does not grant account {COMPUTE}")));
            let k = block(p, OWNER_KEY).unwrap();
            assert_eq!(k["Principal"]["AWS"], format!("arn:aws:iam::{COMPUTE}:root"));
            assert!(k["Action"].as_array().unwrap().contains(&json!("kms:Decrypt")));
            let iam = block(p, CALLER_IAM).unwrap();
            assert_eq!(iam["Statement"][1]["Resource"], CMK);
            assert_eq!(iam["Statement"][1]["Action"], json!(["kms:Decrypt"]));
        };
    denied_owner_side_key_by_alias_in_bucket_encryption: Trigger { event_name: "PutObject".into(), ..denied_s3(OWNER) },
        with(with(base(), &["bucket", "encryption"], kms_encryption(Some("alias/data"))), &["keys", "0", "policy"], key_policy(vec![usage(COMPUTE)])), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| {
            assert!(reasons_mention(p, RuleId::AccessDeniedDiagnosis, "references its key as 'alias/data'"));
            let iam = block(p, CALLER_IAM).unwrap();
            assert_eq!(iam["Statement"][1]["Resource"], CMK, "the alias resolved to the key ARN");
            assert_eq!(iam["Statement"][1]["Action"], json!(["kms:GenerateDataKey", "kms:Decrypt"]));
        };
    denied_owner_side_key_disabled: denied_s3(OWNER),
        with(with(with(base(), &["bucket", "encryption"], kms_encryption(Some(CMK))), &["keys", "0", "metadata"], key_metadata(CMK, "CUSTOMER", "Disabled")), &["keys", "0", "policy"], key_policy(vec![usage(COMPUTE)])), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| {
            assert!(reasons_mention(p, RuleId::AccessDeniedDiagnosis, "(Disabled)"));
            assert!(!reasons_mention(p, RuleId::AccessDeniedDiagnosis, "owner side complete"));
            assert!(block(p, OWNER_KEY).is_none(), "the grant is there; the key state is the problem");
        };
    denied_owner_side_key_pending_deletion: denied_s3(OWNER),
        with(with(with(base(), &["bucket", "encryption"], kms_encryption(Some(CMK))), &["keys", "0", "metadata"], key_metadata(CMK, "CUSTOMER", "PendingDeletion")), &["keys", "0", "policy"], key_policy(vec![usage(COMPUTE)])), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| assert!(reasons_mention(p, RuleId::AccessDeniedDiagnosis, "(PendingDeletion)"));
    denied_owner_side_key_in_other_region: denied_s3(OWNER),
        with(with(with(base(), &["bucket", "encryption"], kms_encryption(Some(CMK))), &["bucket", "region"], json!("us-east-1")), &["keys", "0", "policy"], key_policy(vec![usage(COMPUTE)])), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| assert!(reasons_mention(p, RuleId::AccessDeniedDiagnosis, "not the bucket's region us-east-1"));
    denied_owner_side_key_in_other_region_not_readable: denied_s3(OWNER),
        json!({"bucket": with(base(), &["bucket", "encryption"], kms_encryption(Some(US_KEY)))["bucket"].clone(), "keys": [], "keys_not_found": [US_KEY]}), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| assert!(reasons_mention(p, RuleId::AccessDeniedDiagnosis, "in region us-east-1, not the bucket's region eu-west-1"));
    denied_owner_side_multi_region_replica_key: denied_s3(OWNER),
        with(with(with(base(), &["bucket", "encryption"], kms_encryption(Some(CMK))), &["keys", "0", "metadata", "KeyMetadata", "MultiRegion"], json!(true)),
             &["keys", "0", "metadata", "KeyMetadata", "MultiRegionConfiguration"], json!({"MultiRegionKeyType": "REPLICA"})), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| {
            assert!(reasons_mention(p, RuleId::AccessDeniedDiagnosis, "replica multi-Region key"));
            assert!(reasons_mention(p, RuleId::AccessDeniedDiagnosis, "never share key policies"));
            assert!(block(p, OWNER_KEY).is_some());
        };
    denied_owner_side_complete_points_at_caller_iam: denied_s3(OWNER),
        with(with(base(), &["bucket", "encryption"], kms_encryption(Some(CMK))), &["keys", "0", "policy"], key_policy(vec![usage(COMPUTE)])), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| {
            assert!(reasons_mention(p, RuleId::AccessDeniedDiagnosis, &format!("owner side complete: the caller's IAM policy in {COMPUTE} must allow s3:GetObject on arn:aws:s3:::{BUCKET}/* and kms:Decrypt on {CMK}")));
            assert!(block(p, OWNER_BUCKET).is_none() && block(p, OWNER_KEY).is_none());
            assert_eq!(block(p, CALLER_IAM).unwrap()["Statement"][1]["Resource"], CMK);
        };
    denied_kms_key_policy_misses_caller: denied_kms(), base(), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| {
            assert!(reasons_mention(p, RuleId::AccessDeniedDiagnosis, &format!("does not grant account {COMPUTE}")));
            let k = block(p, OWNER_KEY).unwrap();
            assert_eq!(k["Action"], json!(["kms:Decrypt", "kms:DescribeKey"]), "direct use: no kms:ViaService");
            assert!(k.get("Condition").is_none());
            assert_eq!(p.findings[0].resource_arn, CMK);
        };
    denied_kms_decrypt_on_get_object_via_s3: Trigger { bucket: Some(BUCKET.into()), ..denied_kms() }, with(base(), &["bucket", "encryption"], kms_encryption(Some(CMK))), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| {
            let k = block(p, OWNER_KEY).unwrap();
            assert_eq!(k["Condition"]["StringEquals"]["kms:ViaService"], "s3.eu-west-1.amazonaws.com");
            let iam = block(p, CALLER_IAM).unwrap();
            assert_eq!(iam["Statement"][0]["Action"], "s3:GetObject");
            assert_eq!(iam["Statement"][1]["Action"], json!(["kms:Decrypt"]));
            assert!(p.notes.iter().any(|n| n.contains("already authorised s3:GetObject")));
            assert!(block(p, OWNER_BUCKET).is_none(), "S3 passed the request on: the bucket side is in place");
        };
    denied_kms_generate_data_key_on_put_object: Trigger { bucket: Some(BUCKET.into()), event_name: "GenerateDataKey".into(), ..denied_kms() }, with(base(), &["bucket", "encryption"], kms_encryption(Some(CMK))), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| {
            let iam = block(p, CALLER_IAM).unwrap();
            assert_eq!(iam["Statement"][0]["Action"], "s3:PutObject");
            assert_eq!(iam["Statement"][1]["Action"], json!(["kms:GenerateDataKey", "kms:Decrypt"]));
            assert!(reasons_mention(p, RuleId::AccessDeniedDiagnosis, "denied kms:GenerateDataKey"));
        };
    denied_kms_via_s3_without_key_uses_the_bucket_default: Trigger { bucket: Some(BUCKET.into()), key: None, ..denied_kms() }, with(base(), &["bucket", "encryption"], kms_encryption(Some(CMK))), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| assert_eq!(p.findings[0].resource_arn, CMK);
    denied_kms_on_aws_managed_key: Trigger { key: Some(AWS_S3_KEY.into()), ..denied_kms() }, base(), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| {
            assert!(reasons_mention(p, RuleId::AccessDeniedDiagnosis, "AWS managed"));
            assert_eq!(p.findings[0].resource_arn, AWS_S3_KEY);
        };
    denied_kms_key_pending_deletion: denied_kms(),
        with(with(base(), &["keys", "0", "metadata"], key_metadata(CMK, "CUSTOMER", "PendingDeletion")), &["keys", "0", "policy"], key_policy(vec![usage(COMPUTE)])), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| assert!(reasons_mention(p, RuleId::AccessDeniedDiagnosis, "(PendingDeletion)"));
    denied_kms_caller_used_alias_arn: Trigger { key: Some(format!("arn:aws:kms:{REGION}:{OWNER}:alias/data")), ..denied_kms() }, base(), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| {
            assert!(reasons_mention(p, RuleId::AccessDeniedDiagnosis, "by alias ARN"));
            assert_eq!(p.findings[0].resource_arn, CMK, "resolved through the key's aliases");
            assert_eq!(block(p, CALLER_IAM).unwrap()["Statement"][0]["Resource"], CMK);
        };
    denied_kms_caller_used_bare_key_id: Trigger { key: Some("1234abcd-12ab-34cd-56ef-1234567890ab".into()), ..denied_kms() }, base(), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| assert!(reasons_mention(p, RuleId::AccessDeniedDiagnosis, &format!("resolves in the caller's own account {COMPUTE}")));
    denied_kms_unknown_key_is_said_not_read: Trigger { key: Some(OTHER_KEY.into()), ..denied_kms() }, base(), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| assert!(reasons_mention(p, RuleId::AccessDeniedDiagnosis, "was not read"));
    denied_caller_side_lists_checklist: denied_s3(COMPUTE), json!({}), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| {
            assert!(reasons_mention(p, RuleId::AccessDeniedDiagnosis, "owner-side checklist"));
            assert!(verdict(p).contains(&format!("recorded in the caller's account {COMPUTE}")));
            assert_eq!(block(p, OWNER_BUCKET).unwrap()["Resource"], format!("arn:aws:s3:::{BUCKET}/*"));
            assert!(block(p, OWNER_KEY).is_some() && block(p, CALLER_IAM).is_some());
            // The caller's account posts the finding (Security Hub: AwsAccountId = the
            // calling account); the foreign bucket is its resource.
            assert_eq!(p.findings[0].account, COMPUTE);
            assert_eq!(p.findings[0].resource_arn, format!("arn:aws:s3:::{BUCKET}"));
            assert!(reasons_mention(p, RuleId::AccessDeniedDiagnosis, "identity policies of"), "identity not read: said so");
        };
    denied_caller_side_foreign_key: Trigger { account: Some(COMPUTE.into()), ..denied_kms() }, json!({}), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| {
            assert_eq!(p.findings[0].resource_arn, CMK);
            assert_eq!(block(p, CALLER_IAM).unwrap()["Statement"][0]["Resource"], CMK);
        };
    denied_recorded_in_a_third_account: denied_s3(THIRD), json!({}), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| assert!(verdict(p).contains(&format!("recorded in account {THIRD}, which is neither the caller {COMPUTE} nor the owner {OWNER}")));
    denied_by_scp_does_not_blame_the_owner: Trigger { error_message: Some("User: arn:aws:sts::444455556666:assumed-role/reader/job is not authorized to perform: s3:GetObject on resource: \"arn:aws:s3:::data-shared-analytics/a.csv\" with an explicit deny in a service control policy".into()), ..denied_s3(OWNER) },
        with(with(base(), &["bucket", "encryption"], kms_encryption(Some(CMK))), &["keys", "0", "policy"], key_policy(vec![usage(COMPUTE)])), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| {
            assert!(verdict(p).contains("service control policy") && verdict(p).contains("not the cause"), "{}", verdict(p));
            assert!(!verdict(p).contains("owner side"));
        };
    denied_by_vpc_endpoint_policy: Trigger { error_message: Some("... with an explicit deny in a VPC endpoint policy".into()), ..denied_s3(OWNER) }, base(), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| assert!(verdict(p).contains("VPC endpoint"));
    denied_by_permissions_boundary_on_kms: Trigger { error_message: Some("User: x is not authorized to perform: kms:Decrypt on resource: k because no permissions boundary allows the kms:Decrypt action".into()), ..denied_kms() }, base(), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| assert!(verdict(p).contains("permissions boundary"));
    denied_no_resource_based_policy_blames_the_key_policy: Trigger { error_message: Some(format!("User: x is not authorized to perform: kms:Decrypt on resource: {CMK} because no resource-based policy allows the kms:Decrypt action")), ..denied_kms() }, base(), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| assert!(verdict(p).contains("resource-based policy"));
    denied_same_account_is_ignored_not_diagnosed: Trigger { caller_account: Some(OWNER.into()), ..denied_s3(OWNER) }, base(), cfg()
        => [], [],
        |p| assert!(p.ignored.as_deref().unwrap_or_default().contains("within account"));
    denied_without_caller_is_ignored: Trigger { caller_account: None, ..denied_s3(OWNER) }, base(), cfg()
        => [], [],
        |p| assert!(p.ignored.as_deref().unwrap_or_default().contains("without a caller account"));
    denied_without_owner_or_account_is_ignored: Trigger { owner_account: None, account: None, ..denied_s3(OWNER) }, base(), cfg()
        => [], [],
        |p| assert!(p.ignored.as_deref().unwrap_or_default().contains("no resource owner"));
    denied_s3_without_bucket_is_ignored: Trigger { bucket: None, ..denied_s3(OWNER) }, base(), cfg()
        => [], [],
        |p| assert!(p.ignored.as_deref().unwrap_or_default().contains("names no bucket"));
    denied_kms_without_key_or_bucket_is_ignored: Trigger { key: None, ..denied_kms() }, base(), cfg()
        => [], [],
        |p| assert!(p.ignored.as_deref().unwrap_or_default().contains("neither a key nor a bucket"));
    denied_owner_side_without_bucket_state_is_ignored: denied_s3(OWNER), json!({}), cfg()
        => [], [],
        |p| assert!(p.ignored.as_deref().unwrap_or_default().contains("no state for bucket"));
    denied_in_china_uses_the_aws_cn_partition: Trigger { region: Some("cn-north-1".into()), ..denied_s3(OWNER) },
        with(with(with(base(), &["bucket", "region"], json!("cn-north-1")), &["bucket", "policy"], Value::Null), &["bucket", "encryption"], sse_s3()), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| {
            let s = block(p, OWNER_BUCKET).unwrap();
            assert_eq!(s["Principal"]["AWS"], format!("arn:aws-cn:iam::{COMPUTE}:root"));
            assert_eq!(s["Resource"], format!("arn:aws-cn:s3:::{BUCKET}/*"));
            assert_eq!(p.findings[0].resource_arn, format!("arn:aws-cn:s3:::{BUCKET}"));
        };
    denied_in_govcloud_uses_the_aws_us_gov_partition: Trigger { region: Some("us-gov-west-1".into()), key: Some(GOV_KEY.into()), ..denied_kms() },
        json!({"keys": [{"metadata": with(key_metadata(GOV_KEY, "CUSTOMER", "Enabled"), &["KeyMetadata", "AWSAccountId"], json!(OWNER)), "policy": key_policy(vec![]), "aliases": []}]}), cfg()
        => [AccessDeniedDiagnosis], [],
        |p| {
            let k = block(p, OWNER_KEY).unwrap();
            assert_eq!(k["Principal"]["AWS"], format!("arn:aws-us-gov:iam::{COMPUTE}:root"));
            assert_eq!(block(p, CALLER_IAM).unwrap()["Statement"][0]["Resource"], GOV_KEY);
        };
}

trait Pipe: Sized {
    fn pipe(self, f: impl FnOnce(Self) -> Self) -> Self {
        f(self)
    }
}
impl Pipe for Value {}

#[test]
fn finding_ids_are_stable_across_runs_and_modes() {
    let snapshot: Snapshot = serde_json::from_value(base()).unwrap();
    let a = decide(&bucket_event(), &snapshot, &cfg());
    let b = decide(&bucket_event(), &snapshot, &enforce());
    let ids = |p: &Plan| p.findings.iter().map(|f| f.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&a), ids(&b));
    assert!(!ids(&a).is_empty());
}

#[test]
fn planned_tls_patch_keeps_every_statement() {
    let snapshot: Snapshot = serde_json::from_value(base()).unwrap();
    let plan = decide(&bucket_event(), &snapshot, &enforce());
    let Some(Step::PutBucketPolicy {
        policy,
        based_on: Some(before),
        ..
    }) = plan.steps.first()
    else {
        panic!("{plan:#?}")
    };
    for s in before["Statement"].as_array().unwrap() {
        assert!(policy["Statement"].as_array().unwrap().contains(s));
    }
}

#[test]
fn applying_the_plan_then_deciding_again_is_a_no_op() {
    let mut state = base();
    let snapshot: Snapshot = serde_json::from_value(state.clone()).unwrap();
    let plan = decide(&bucket_event(), &snapshot, &enforce_patching_keys());
    for step in &plan.steps {
        match step {
            Step::PutBucketPolicy { policy, .. } => state["bucket"]["policy"] = policy.clone(),
            Step::PutBucketEncryption { kms_key_arn, .. } => {
                state["bucket"]["encryption"] = kms_encryption(Some(kms_key_arn))
            }
            Step::PutKeyPolicy { policy, .. } => state["keys"][0]["policy"] = policy.clone(),
            Step::EnableKeyRotation { .. } => state["keys"][0]["rotation_enabled"] = json!(true),
        }
    }
    let again = decide(
        &bucket_event(),
        &serde_json::from_value(state).unwrap(),
        &enforce_patching_keys(),
    );
    assert!(again.findings.is_empty(), "{again:#?}");
    assert!(again.steps.is_empty());
    assert_eq!(again.passed.len(), 7);
}

mod fuzz {
    //! Arbitrary documents in every slot of a snapshot: `decide` never panics, and a plan
    //! never writes to a resource other than the one decided on.
    use super::*;
    use crate::core::access_model::allowed;
    use proptest::prelude::*;

    const ARB_VALUES: &[&str] = &[
        "*",
        "false",
        CMK,
        "alias/aws/s3",
        "arn:aws:iam::444455556666:root",
        "arn:aws:s3:::data-shared-analytics/*",
        "Allow",
        "Deny",
        "aws:kms",
        "AES256",
        "AWS",
        "CUSTOMER",
    ];
    const ARB_KEYS: &[&str] = &[
        "Statement",
        "Effect",
        "Principal",
        "AWS",
        "Action",
        "Resource",
        "Condition",
        "Bool",
        "aws:SecureTransport",
        "Rules",
        "ApplyServerSideEncryptionByDefault",
        "SSEAlgorithm",
        "KMSMasterKeyID",
        "Grants",
        "Grantee",
        "KeyMetadata",
        "KeyManager",
    ];

    fn arb_json() -> impl Strategy<Value = Value> {
        crate::core::testing::arb_json(ARB_VALUES, ARB_KEYS)
    }

    fn arb_trigger() -> impl Strategy<Value = Trigger> {
        (0..4usize, proptest::option::of(Just(CMK.to_string()))).prop_map(|(k, key)| match k {
            0 => bucket_event(),
            1 => key_event(key.as_deref().unwrap_or("alias/data")),
            2 => denied_s3(OWNER),
            _ => denied_kms(),
        })
    }

    /// Requests to compare bucket policies on (see `core::access_model`).
    fn never_widen_universe() -> Vec<crate::core::access_model::Request> {
        use crate::core::access_model::{universe, Who};
        universe(
            &[
                Who::Anonymous,
                Who::aws(OWNER, "root"),
                Who::aws("444455556666", "role/r"),
            ],
            &["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
            &[
                &format!("arn:aws:s3:::{BUCKET}"),
                &format!("arn:aws:s3:::{BUCKET}/k"),
            ],
            &[
                vec![("aws:SecureTransport", "true")],
                vec![("aws:SecureTransport", "false")],
            ],
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(192))]
        #[test]
        fn decide_is_total(policy in arb_json(), enc in arb_json(), acl in arb_json(), meta in arb_json(), kp in arb_json(), t in arb_trigger(), patch in any::<bool>()) {
            let state = with(with(with(with(with(base(), &["bucket", "policy"], policy), &["bucket", "encryption"], enc), &["bucket", "acl"], acl), &["keys", "1", "metadata"], meta), &["keys", "0", "policy"], kp);
            let snapshot: Snapshot = serde_json::from_value(state).unwrap();
            let config = Config { patch_key_policy: patch, ..enforce() };
            let plan = decide(&t, &snapshot, &config);
            for step in &plan.steps {
                match step {
                    Step::PutBucketPolicy { bucket, policy, based_on, .. } => {
                        prop_assert_eq!(bucket.as_str(), BUCKET);
                        prop_assert!(serde_json::to_string(policy).unwrap().len() <= 20 * 1024);
                        // Never widen: the written policy allows a subset of the current one.
                        let current = based_on.clone().unwrap_or(Value::Null);
                        let u = never_widen_universe();
                        let (before, after) = (allowed(&current, &u), allowed(policy, &u));
                        prop_assert!(after.is_subset(&before), "widened: {:?}", after.difference(&before).collect::<Vec<_>>());
                    }
                    Step::PutBucketEncryption { bucket, kms_key_arn, .. } => {
                        prop_assert_eq!(bucket.as_str(), BUCKET);
                        prop_assert!(kms_key_arn.starts_with("arn:"));
                        // The move goes to the configured CMK, or rewrites the bucket's own key
                        // to its full ARN: never to a key nobody chose.
                        let known = snapshot.keys.iter().any(|k| {
                            k.metadata.pointer("/KeyMetadata/Arn").and_then(Value::as_str) == Some(kms_key_arn.as_str())
                        });
                        prop_assert!(kms_key_arn == CMK || known, "{}", kms_key_arn);
                    }
                    Step::PutKeyPolicy { key_arn, .. } | Step::EnableKeyRotation { key_arn } => prop_assert_eq!(key_arn.as_str(), CMK),
                }
            }
        }
    }
}
