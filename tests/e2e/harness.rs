//! The end-to-end harness: a moto server per test (started on a free loopback port, stopped by
//! its guard whatever happens), real SDK clients over HTTP with dummy credentials, path-style
//! S3 and no retries, a capturing sink, and the one emulator correction we need.
//!
//! moto 5.2 workaround (DOMAIN.md §10): moto reports the keys behind `alias/aws/*` with
//! `KeyManager: CUSTOMER`. `MotoKeys` wraps the real KMS adapter and sets `AWS` for keys that
//! carry such an alias. The product is not bent to the emulator.

use std::sync::{Arc, Mutex};

use cmkguard::app::{self, Deps, Outcome};
use cmkguard::aws::kms::KmsReader;
use cmkguard::aws::s3::{AwsWriter, S3Reader};
use cmkguard::aws::seed::Seeder;
use cmkguard::aws::sinks::AwsSink;
use cmkguard::aws::{self, Clients};
use cmkguard::config::{Settings, SinkSettings};
use cmkguard::core::config::Mode;
use cmkguard::demo;
use cmkguard::emulator::Emulator;
use cmkguard::ports::{FindingBatch, FindingSink, KeyRead, KeyReader, PortError};
use serde_json::Value;

pub use cmkguard::demo::{
    kms_event, s3_event, ADMIN_ROLE, COMPUTE_ACCOUNT, DATA_ACCOUNT, GUARDRAIL_ROLE,
};

/// Corrects moto's `KeyManager` for AWS managed keys (see the module doc).
pub struct MotoKeys(pub KmsReader);

impl KeyReader for MotoKeys {
    async fn read_key(&self, key: &str) -> Result<KeyRead, PortError> {
        let mut read = self.0.read_key(key).await?;
        if let KeyRead::Found { state, .. } = &mut read {
            if state.aliases.iter().any(|a| a.starts_with("alias/aws/")) {
                if let Some(m) = state.metadata.get_mut("KeyMetadata") {
                    m["KeyManager"] = Value::from("AWS");
                }
            }
        }
        Ok(read)
    }

    async fn read_key_policy(&self, key_arn: &str) -> Result<Option<Value>, PortError> {
        self.0.read_key_policy(key_arn).await
    }

    async fn read_rotation(&self, key_arn: &str) -> Result<bool, PortError> {
        self.0.read_rotation(key_arn).await
    }
}

/// Keeps every batch the app publishes.
#[derive(Clone, Default)]
pub struct Capture(pub Arc<Mutex<Vec<FindingBatch>>>);

impl Capture {
    pub fn batches(&self) -> Vec<FindingBatch> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

pub enum TestSink {
    Aws(AwsSink),
    Capture(Capture),
}

impl FindingSink for TestSink {
    fn name(&self) -> &str {
        match self {
            TestSink::Aws(s) => s.name(),
            TestSink::Capture(_) => "capture",
        }
    }

    async fn publish(&self, batch: &FindingBatch) -> Result<usize, PortError> {
        match self {
            TestSink::Aws(s) => s.publish(batch).await,
            TestSink::Capture(c) => {
                if let Ok(mut v) = c.0.lock() {
                    v.push(batch.clone());
                }
                Ok(batch.findings.len() + batch.passed.len())
            }
        }
    }
}

pub type TestDeps = Deps<S3Reader, MotoKeys, AwsWriter, TestSink>;

/// One emulator, its clients, and a way to run the app against them.
pub struct World {
    pub clients: Clients,
    pub capture: Capture,
    // Last: dropped after the clients, and always (the guard kills moto).
    _emulator: Emulator,
}

impl World {
    pub async fn start() -> World {
        let emulator = match Emulator::start(None) {
            Ok(e) => e,
            Err(why) => panic!("end-to-end tests need the AWS emulator: {why}"),
        };
        let clients = aws::load_clients(&demo::emulator_options(&emulator.endpoint_url)).await;
        World {
            clients,
            capture: Capture::default(),
            _emulator: emulator,
        }
    }

    pub fn seed(&self) -> Seeder<'_> {
        Seeder {
            clients: &self.clients,
        }
    }

    /// Dependencies with the capturing sink plus the given AWS sinks.
    pub fn deps(&self, sinks: &SinkSettings) -> TestDeps {
        let d = aws::deps(&self.clients, sinks);
        let mut all: Vec<TestSink> = d.sinks.into_iter().map(TestSink::Aws).collect();
        all.push(TestSink::Capture(self.capture.clone()));
        Deps {
            buckets: d.buckets,
            keys: MotoKeys(d.keys),
            writer: d.writer,
            sinks: all,
        }
    }

    pub async fn handle(&self, event: &Value, settings: &Settings) -> Outcome {
        app::handle(event, &self.deps(&settings.sinks), settings).await
    }

    pub async fn bucket_policy(&self, bucket: &str) -> Option<Value> {
        self.seed()
            .get_bucket_policy(bucket)
            .await
            .expect("GetBucketPolicy")
            .map(|p| serde_json::from_str(&p).expect("policy JSON"))
    }

    pub async fn encryption(&self, bucket: &str) -> Option<Value> {
        use cmkguard::ports::BucketReader;
        S3Reader::new(self.clients.s3.clone())
            .read_bucket_encryption(bucket, DATA_ACCOUNT)
            .await
            .expect("GetBucketEncryption")
    }

    pub async fn key_policy(&self, key_arn: &str) -> Value {
        let p = self
            .seed()
            .get_key_policy(key_arn)
            .await
            .expect("GetKeyPolicy");
        serde_json::from_str(&p).expect("key policy JSON")
    }
}

/// Settings for a test: the CMK, the compute account trusted, no AWS sinks.
pub fn settings(mode: Mode, cmk_arn: Option<&str>, patch_key_policy: bool) -> Settings {
    let mut s = demo::demo_settings(mode, cmk_arn.unwrap_or(""), "");
    s.core.cmk_arn = cmk_arn.map(str::to_string);
    s.core.patch_key_policy = patch_key_policy;
    s.sinks = SinkSettings::default();
    s
}

/// The rule ids of an outcome's findings, sorted.
pub fn rules(o: &Outcome) -> Vec<String> {
    let mut v: Vec<String> = o.findings().map(|f| f.rule_id.to_string()).collect();
    v.sort();
    v
}

pub fn statements(policy: &Value) -> Vec<Value> {
    policy["Statement"].as_array().cloned().unwrap_or_default()
}

pub fn verified_writes(o: &Outcome) -> Vec<String> {
    o.writes()
        .filter(|w| matches!(w.result, app::WriteResult::Verified))
        .map(|w| w.api.clone())
        .collect()
}
