//! The end-to-end harness: a moto server per test (started on a free loopback port, stopped by
//! its guard whatever happens), real SDK clients over HTTP with dummy credentials, path-style
//! S3 and no retries, a capturing sink, and the one emulator correction we need. `Faulty`
//! wraps the real adapters to inject AWS errors and a concurrent writer (no mock of AWS: every
//! call that is not failed on purpose goes to the emulator); `Kept` checks that no policy
//! statement was lost.
//!
//! moto 5.2 workaround (DOMAIN.md §10): moto reports the keys behind `alias/aws/*` with
//! `KeyManager: CUSTOMER`. `MotoKeys` wraps the real KMS adapter and sets `AWS` for keys that
//! carry such an alias. The product is not bent to the emulator.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use cmkguard::app::{self, Outcome};
use cmkguard::aws::error::classify_code;
use cmkguard::aws::iam::IamReader;
use cmkguard::aws::kms::KmsReader;
use cmkguard::aws::s3::S3Reader;
use cmkguard::aws::sinks::AwsSink;
use cmkguard::aws::{self, AwsWriters, Clients};
use cmkguard::config::{Settings, SinkSettings};
use cmkguard::core::config::Mode;
use cmkguard::core::snapshot::{BucketState, Tags};
use cmkguard::dev::emulator::Emulator;
use cmkguard::dev::scenario as demo;
use cmkguard::dev::seed::Seeder;
use cmkguard::ports::{
    BucketParts, BucketReader, BucketWriter, Deps, FindingBatch, FindingSink, KeyRead, KeyReader,
    KeyWriter, PortError,
};
use serde_json::{json, Value};

pub use cmkguard::dev::scenario::{
    kms_event, s3_event, ADMIN_ROLE, COMPUTE_ACCOUNT, DATA_ACCOUNT, GUARDRAIL_ROLE,
};

/// Corrects moto's `KeyManager` for AWS managed keys (see the module doc).
pub struct MotoKeys(pub KmsReader);

impl MotoKeys {
    /// moto creates the key of a reserved `alias/aws/*` alias with the description
    /// "Default key"; the lean read has no alias list, so that is how it is recognised.
    fn correct(mut read: KeyRead) -> KeyRead {
        if let KeyRead::Found { state, .. } = &mut read {
            let moto_default = state
                .metadata
                .pointer("/KeyMetadata/Description")
                .and_then(Value::as_str)
                == Some("Default key");
            if moto_default || state.aliases.iter().any(|a| a.starts_with("alias/aws/")) {
                if let Some(m) = state.metadata.get_mut("KeyMetadata") {
                    m["KeyManager"] = Value::from("AWS");
                }
            }
        }
        read
    }
}

impl KeyReader for MotoKeys {
    async fn read_key(&self, key: &str) -> Result<KeyRead, PortError> {
        Ok(Self::correct(self.0.read_key(key).await?))
    }

    async fn read_key_for_bucket(&self, key: &str, with_tags: bool) -> Result<KeyRead, PortError> {
        Ok(Self::correct(
            self.0.read_key_for_bucket(key, with_tags).await?,
        ))
    }

    async fn read_key_policy(&self, key_arn: &str) -> Result<Option<Value>, PortError> {
        self.0.read_key_policy(key_arn).await
    }

    async fn read_rotation(&self, key_arn: &str) -> Result<bool, PortError> {
        self.0.read_rotation(key_arn).await
    }

    async fn read_grants(&self, key_arn: &str) -> Result<Value, PortError> {
        self.0.read_grants(key_arn).await
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

pub type TestDeps = Deps<S3Reader, MotoKeys, AwsWriters, TestSink, IamReader>;

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

    /// The emulator's URL, for running the CLI binary against it.
    pub fn endpoint_url(&self) -> &str {
        &self._emulator.endpoint_url
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
            identities: d.identities,
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

/// What to inject around the real adapters (`Faulty`). Errors are made from an AWS error code
/// through the product's own classifier, exactly as the adapters classify a service error.
#[derive(Default)]
pub struct Faults {
    /// Every `read_bucket` (the snapshot read) fails with this code.
    pub read_bucket: Option<&'static str>,
    /// `read_bucket_policy` (the fresh read before a write, the read-back after it) fails
    /// with this code, from call number `policy_reads_ok + 1` on.
    pub read_bucket_policy: Option<&'static str>,
    pub policy_reads_ok: usize,
    /// Calls of `read_bucket_policy` so far.
    pub policy_reads: AtomicUsize,
    pub put_bucket_encryption: Option<&'static str>,
    pub put_key_policy: Option<&'static str>,
    /// Another writer: right before the first `read_bucket_policy`, this statement is added to
    /// the bucket's policy in the emulator (a concurrent edit between plan and write).
    pub concurrent: Mutex<Option<(Clients, String, Value)>>,
    /// The same for a key policy, before the first `read_key_policy`.
    pub concurrent_key: Mutex<Option<(Clients, String, Value)>>,
    /// Calls that reached the real writer.
    pub writes: AtomicUsize,
}

impl Faults {
    pub fn writes_made(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }
}

fn injected(operation: &'static str, code: &str) -> PortError {
    PortError::new(
        classify_code(code, None),
        operation,
        code,
        format!("injected by the test: {code}"),
    )
}

/// A real adapter with faults injected around it.
pub struct Faulty<T> {
    pub inner: T,
    pub faults: Arc<Faults>,
}

impl<T: BucketReader> BucketReader for Faulty<T> {
    async fn read_bucket(
        &self,
        bucket: &str,
        owner_account: &str,
        region: &str,
    ) -> Result<BucketState, PortError> {
        if let Some(code) = self.faults.read_bucket {
            return Err(injected("s3:GetBucketPolicy", code));
        }
        self.inner.read_bucket(bucket, owner_account, region).await
    }

    async fn read_bucket_parts(
        &self,
        bucket: &str,
        owner_account: &str,
        region: &str,
        parts: BucketParts,
    ) -> Result<BucketState, PortError> {
        if let Some(code) = self.faults.read_bucket {
            return Err(injected("s3:GetBucketPolicy", code));
        }
        self.inner
            .read_bucket_parts(bucket, owner_account, region, parts)
            .await
    }

    async fn read_bucket_tags(
        &self,
        bucket: &str,
        owner_account: &str,
        region: &str,
    ) -> Result<Tags, PortError> {
        if let Some(code) = self.faults.read_bucket {
            return Err(injected("s3:GetBucketTagging", code));
        }
        self.inner
            .read_bucket_tags(bucket, owner_account, region)
            .await
    }

    async fn read_bucket_policy(
        &self,
        bucket: &str,
        owner_account: &str,
    ) -> Result<Option<Value>, PortError> {
        let concurrent = self
            .faults
            .concurrent
            .lock()
            .ok()
            .and_then(|mut c| c.take());
        if let Some((clients, target, statement)) = concurrent {
            let seed = Seeder { clients: &clients };
            let mut policy: Value = seed
                .get_bucket_policy(&target)
                .await
                .expect("concurrent GetBucketPolicy")
                .map(|p| serde_json::from_str(&p).expect("policy JSON"))
                .unwrap_or_else(|| json!({"Version": "2012-10-17", "Statement": []}));
            policy["Statement"]
                .as_array_mut()
                .expect("Statement array")
                .push(statement);
            seed.put_bucket_policy(&target, &policy.to_string())
                .await
                .expect("concurrent PutBucketPolicy");
        }
        let call = self.faults.policy_reads.fetch_add(1, Ordering::SeqCst);
        if let Some(code) = self.faults.read_bucket_policy {
            if call >= self.faults.policy_reads_ok {
                return Err(injected("s3:GetBucketPolicy", code));
            }
        }
        self.inner.read_bucket_policy(bucket, owner_account).await
    }

    async fn read_bucket_encryption(
        &self,
        bucket: &str,
        owner_account: &str,
    ) -> Result<Option<Value>, PortError> {
        self.inner
            .read_bucket_encryption(bucket, owner_account)
            .await
    }
}

impl<T: KeyReader> KeyReader for Faulty<T> {
    async fn read_key(&self, key: &str) -> Result<KeyRead, PortError> {
        self.inner.read_key(key).await
    }

    async fn read_key_for_bucket(&self, key: &str, with_tags: bool) -> Result<KeyRead, PortError> {
        self.inner.read_key_for_bucket(key, with_tags).await
    }

    async fn read_grants(&self, key_arn: &str) -> Result<Value, PortError> {
        self.inner.read_grants(key_arn).await
    }

    async fn read_key_policy(&self, key_arn: &str) -> Result<Option<Value>, PortError> {
        let concurrent = self
            .faults
            .concurrent_key
            .lock()
            .ok()
            .and_then(|mut c| c.take());
        if let Some((clients, key, statement)) = concurrent {
            let seed = Seeder { clients: &clients };
            let text = seed
                .get_key_policy(&key)
                .await
                .expect("concurrent GetKeyPolicy");
            let mut policy: Value = serde_json::from_str(&text).expect("key policy JSON");
            policy["Statement"]
                .as_array_mut()
                .expect("Statement array")
                .push(statement);
            seed.put_key_policy(&key, &policy.to_string())
                .await
                .expect("concurrent PutKeyPolicy");
        }
        self.inner.read_key_policy(key_arn).await
    }

    async fn read_rotation(&self, key_arn: &str) -> Result<bool, PortError> {
        self.inner.read_rotation(key_arn).await
    }
}

impl<T: BucketWriter> BucketWriter for Faulty<T> {
    async fn put_bucket_policy(
        &self,
        bucket: &str,
        owner_account: &str,
        policy: &str,
    ) -> Result<(), PortError> {
        self.faults.writes.fetch_add(1, Ordering::SeqCst);
        self.inner
            .put_bucket_policy(bucket, owner_account, policy)
            .await
    }

    async fn put_bucket_encryption(
        &self,
        bucket: &str,
        owner_account: &str,
        rule: &Value,
    ) -> Result<(), PortError> {
        if let Some(code) = self.faults.put_bucket_encryption {
            return Err(injected("s3:PutBucketEncryption", code));
        }
        self.faults.writes.fetch_add(1, Ordering::SeqCst);
        self.inner
            .put_bucket_encryption(bucket, owner_account, rule)
            .await
    }
}

impl<T: KeyWriter> KeyWriter for Faulty<T> {
    async fn put_key_policy(
        &self,
        key_arn: &str,
        policy_name: &str,
        policy: &str,
    ) -> Result<(), PortError> {
        if let Some(code) = self.faults.put_key_policy {
            return Err(injected("kms:PutKeyPolicy", code));
        }
        self.faults.writes.fetch_add(1, Ordering::SeqCst);
        self.inner
            .put_key_policy(key_arn, policy_name, policy)
            .await
    }

    async fn enable_key_rotation(&self, key_arn: &str) -> Result<(), PortError> {
        self.faults.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.enable_key_rotation(key_arn).await
    }
}

impl World {
    /// Runs the app with `faults` injected around the real readers and writer.
    pub async fn handle_faulty(
        &self,
        event: &Value,
        settings: &Settings,
        faults: Arc<Faults>,
    ) -> Outcome {
        let d = self.deps(&settings.sinks);
        let deps = Deps {
            buckets: Faulty {
                inner: d.buckets,
                faults: faults.clone(),
            },
            keys: Faulty {
                inner: d.keys,
                faults: faults.clone(),
            },
            writer: Faulty {
                inner: d.writer,
                faults,
            },
            sinks: d.sinks,
            identities: d.identities,
        };
        app::handle(event, &deps, settings).await
    }

    /// The statements of these bucket and key policies now, to check later that none was lost.
    pub async fn keep(&self, buckets: &[&str], keys: &[&str]) -> Kept {
        let mut kept = Kept::default();
        for b in buckets {
            let p = self.bucket_policy(b).await.unwrap_or(Value::Null);
            kept.buckets.push((b.to_string(), statements(&p)));
        }
        for k in keys {
            kept.keys
                .push((k.to_string(), statements(&self.key_policy(k).await)));
        }
        kept
    }
}

/// Policy statements recorded by `World::keep`.
#[derive(Default)]
pub struct Kept {
    buckets: Vec<(String, Vec<Value>)>,
    keys: Vec<(String, Vec<Value>)>,
}

impl Kept {
    /// Every recorded statement is still in its policy, unchanged (DOMAIN.md §8: never remove
    /// a statement).
    pub async fn assert_none_lost(&self, w: &World) {
        for (b, before) in &self.buckets {
            let now = statements(&w.bucket_policy(b).await.unwrap_or(Value::Null));
            for s in before {
                assert!(now.contains(s), "bucket {b}: statement lost: {s}");
            }
        }
        for (k, before) in &self.keys {
            let now = statements(&w.key_policy(k).await);
            for s in before {
                assert!(now.contains(s), "key {k}: statement lost: {s}");
            }
        }
    }
}

// ---- Policies and events shared by the e2e modules ----

/// The bucket and key the fixtures in `events/` name.
pub const FIXTURE_BUCKET: &str = "data-shared-analytics";
pub const FIXTURE_KEY: &str =
    "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// A fixture of `events/` with its bucket and key replaced by the emulator's.
pub fn fixture(text: &str, bucket: &str, key_arn: &str) -> Value {
    serde_json::from_str(
        &text
            .replace(FIXTURE_BUCKET, bucket)
            .replace(FIXTURE_KEY, key_arn),
    )
    .expect("fixture JSON")
}

/// A cross-account GetObject denied on `bucket` (recorded in the owner's account).
pub fn s3_denied(bucket: &str) -> Value {
    fixture(
        include_str!("../../events/s3-GetObject-AccessDenied-cross-account.json"),
        bucket,
        FIXTURE_KEY,
    )
}

/// A cross-account kms:Decrypt denied on `key_arn` for an object of `bucket`, as the owner
/// receives it: relayed by the organisation relay (KMS logs a denial only in the caller's
/// account, DOMAIN.md §6).
pub fn kms_denied(key_arn: &str, bucket: &str) -> Value {
    fixture(
        include_str!("../../events/cmkguard-denial-Decrypt-relayed-to-owner.json"),
        bucket,
        key_arn,
    )
}

/// The same denial as the caller's own trail records it.
pub fn kms_denied_callers_copy(key_arn: &str, bucket: &str) -> Value {
    fixture(
        include_str!("../../events/kms-Decrypt-AccessDeniedException-cross-account.json"),
        bucket,
        key_arn,
    )
}

/// The CloudTrail record of an envelope (a relayed one's is in `detail.record`).
pub fn record_of(event: &Value) -> &Value {
    match event["detail"].get("record") {
        Some(r) => r,
        None => &event["detail"],
    }
}

pub fn tls_deny(bucket: &str) -> Value {
    json!({"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
}

/// Shared with the compute account, TLS enforced: only the encryption rules can fire.
pub fn shared_with_tls(bucket: &str) -> String {
    let mut p = demo::shared_policy(bucket);
    p["Statement"]
        .as_array_mut()
        .unwrap()
        .push(tls_deny(bucket));
    p.to_string()
}

/// A key policy granting the compute account usage: the CMK side of the handshake is done.
pub fn granted_key_policy() -> String {
    let mut p: Value = serde_json::from_str(&demo::owner_only_key_policy(DATA_ACCOUNT)).unwrap();
    p["Statement"]
        .as_array_mut()
        .unwrap()
        .push(json!({"Sid": "ComputeUsage", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{COMPUTE_ACCOUNT}:root")},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"], "Resource": "*"}));
    p.to_string()
}
