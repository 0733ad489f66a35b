//! The pipeline on the beyond-S3 triggers (issue 15, core only): until the EC2 / RDS / Secrets
//! Manager adapters exist, every such trigger is ignored with a reason that says so — no read,
//! no write, no sink, no panic, and never a "compliant" outcome with empty findings — except
//! the share EC2 refused under aws/ebs, which needs no state and is reported from the event.

use std::sync::Mutex;

use serde_json::{json, Value};

use super::handle;
use crate::config::Settings;
use crate::core::snapshot::BucketState;
use crate::ports::{
    BucketReader, BucketWriter, Deps, FindingBatch, FindingSink, KeyRead, KeyReader, KeyWriter,
    NoIdentities, PortError,
};

/// Any call is a test failure: nothing may be read, written or posted for these triggers.
struct Untouchable;

impl BucketReader for Untouchable {
    async fn read_bucket(&self, b: &str, _o: &str, _r: &str) -> Result<BucketState, PortError> {
        panic!("read bucket {b}")
    }
    async fn read_bucket_policy(&self, b: &str, _o: &str) -> Result<Option<Value>, PortError> {
        panic!("read the policy of {b}")
    }
    async fn read_bucket_encryption(&self, b: &str, _o: &str) -> Result<Option<Value>, PortError> {
        panic!("read the encryption of {b}")
    }
}

impl KeyReader for Untouchable {
    async fn read_key(&self, key: &str) -> Result<KeyRead, PortError> {
        panic!("read key {key}")
    }
    async fn read_key_policy(&self, key: &str) -> Result<Option<Value>, PortError> {
        panic!("read the policy of {key}")
    }
    async fn read_rotation(&self, key: &str) -> Result<bool, PortError> {
        panic!("read the rotation of {key}")
    }
}

impl BucketWriter for Untouchable {
    async fn put_bucket_policy(&self, b: &str, _o: &str, _p: &str) -> Result<(), PortError> {
        panic!("wrote the policy of {b}")
    }
    async fn put_bucket_encryption(&self, b: &str, _o: &str, _r: &Value) -> Result<(), PortError> {
        panic!("wrote the encryption of {b}")
    }
}

impl KeyWriter for Untouchable {
    async fn put_key_policy(&self, k: &str, _n: &str, _p: &str) -> Result<(), PortError> {
        panic!("wrote the key policy of {k}")
    }
    async fn enable_key_rotation(&self, k: &str) -> Result<(), PortError> {
        panic!("enabled rotation of {k}")
    }
}

impl FindingSink for Untouchable {
    fn name(&self) -> &str {
        "untouchable"
    }
    async fn publish(&self, _batch: &FindingBatch) -> Result<usize, PortError> {
        panic!("posted findings")
    }
}

/// Records what it is sent.
#[derive(Default)]
struct Recorded(Mutex<Vec<String>>);

impl FindingSink for Recorded {
    fn name(&self) -> &str {
        "recorded"
    }
    async fn publish(&self, batch: &FindingBatch) -> Result<usize, PortError> {
        let mut got = self.0.lock().unwrap();
        got.extend(
            batch
                .findings
                .iter()
                .map(|p| p.finding.rule_id.as_str().to_string()),
        );
        Ok(batch.findings.len())
    }
}

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[tokio::test]
async fn beyond_s3_triggers_are_ignored_until_their_adapters_exist() {
    let deps = Deps {
        buckets: Untouchable,
        keys: Untouchable,
        writer: Untouchable,
        sinks: vec![Untouchable],
        identities: NoIdentities,
    };
    let mut settings = Settings::default();
    settings.core.mode = crate::core::config::Mode::Enforce;
    for name in [
        "ec2-ModifySnapshotAttribute-share-account.json",
        "ec2-ModifyImageAttribute-share-account.json",
        "ec2-ModifyEbsDefaultKmsKeyId-basic.json",
        "rds-ModifyDBSnapshotAttribute-share-account.json",
        "secretsmanager-PutResourcePolicy-cross-account.json",
        "kms-CreateGrant-cross-account.json",
    ] {
        let outcome = handle(&fixture(name), &deps, &settings).await;
        assert_eq!(outcome.results.len(), 1, "{name}");
        let r = &outcome.results[0];
        let why = r.ignored.as_deref().unwrap_or_default();
        assert!(
            why.contains("is not built yet") && why.contains("not compliant"),
            "{name}: {why}"
        );
        assert!(
            r.findings.is_empty() && r.passed.is_empty() && r.writes.is_empty(),
            "{name}"
        );
        assert!(!outcome.has_errors() && !outcome.retryable(), "{name}");
        assert!(r.trigger.as_ref().is_some_and(|t| t.kind.is_beyond_s3()));
    }
    // A CloudTrail log file mixing kinds: the S3 record is still handled (here it would read,
    // so only the beyond-S3 record is fed), the beyond-S3 one ignored.
    let detail = fixture("ec2-ModifyImageAttribute-share-account.json")["detail"].clone();
    let outcome = handle(&json!({"Records": [detail]}), &deps, &settings).await;
    assert!(outcome.results[0].ignored.is_some());
}

#[tokio::test]
async fn a_refused_aws_ebs_share_is_reported_from_the_event_alone() {
    let deps = Deps {
        buckets: Untouchable,
        keys: Untouchable,
        writer: Untouchable,
        sinks: vec![Recorded::default()],
        identities: NoIdentities,
    };
    let mut settings = Settings::default();
    settings.core.mode = crate::core::config::Mode::Enforce;
    for (name, rule) in [
        (
            "ec2-ModifySnapshotAttribute-OperationNotPermitted-aws-ebs.json",
            "SHARED_SNAPSHOT_AWS_MANAGED_KEY",
        ),
        (
            "ec2-ModifyImageAttribute-InvalidParameter-aws-managed-key.json",
            "SHARED_IMAGE_AWS_MANAGED_KEY",
        ),
    ] {
        let outcome = handle(&fixture(name), &deps, &settings).await;
        let r = &outcome.results[0];
        assert_eq!(r.ignored, None, "{name}: {r:#?}");
        let rules: Vec<&str> = r.findings.iter().map(|f| f.rule_id.as_str()).collect();
        assert_eq!(rules, [rule], "{name}");
        assert!(r.writes.is_empty() && !outcome.has_errors());
        assert!(
            r.notes
                .iter()
                .any(|n| n.contains("exemption tag is not known")),
            "{r:#?}"
        );
    }
    assert_eq!(
        *deps.sinks[0].0.lock().unwrap(),
        [
            "SHARED_SNAPSHOT_AWS_MANAGED_KEY",
            "SHARED_IMAGE_AWS_MANAGED_KEY"
        ]
    );
}
