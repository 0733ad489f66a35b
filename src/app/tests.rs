//! The pipeline on the beyond-S3 triggers (issue 15, core only): until the EC2 / RDS / Secrets
//! Manager adapters exist, every such trigger is ignored with a reason that says so — no read,
//! no write, no sink, no panic, and never a "compliant" outcome with empty findings.

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
        "ec2-ModifySnapshotAttribute-OperationNotPermitted-aws-ebs.json",
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
