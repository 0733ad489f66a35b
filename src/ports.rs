//! The narrow async interfaces the app needs from the outside world: read a bucket's state,
//! read a key's state (and its grants), read a caller principal's identity policies, make the
//! four writes of DOMAIN.md §8 (bucket writes and key writes),
//! list an account's buckets and keys, publish findings; and `Deps`, the bundle the app runs on. `src/aws/`
//! implements them over the AWS SDK; tests implement them with fakes or wrap the real ones.
//!
//! Static dispatch: the app is generic over these traits, so the futures need no boxing.
//! The methods return `impl Future + Send` (rather than `async fn`) so the Lambda runtime can
//! spawn the handler on a multi-threaded executor: the `Send` bound is part of the contract.

use std::future::Future;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc::Sender;

use crate::core::finding::{Finding, Passed, Severity};
use crate::core::relay::{OwnerMap, RelayEntry};
use crate::core::snapshot::{BucketState, IdentityState, KeyState, Tags};

/// How a failed call should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Throttling, 5xx, timeouts, dispatch failures: retrying may help.
    Transient,
    /// Access denied, validation, malformed input: retrying will not help.
    Permanent,
    /// The resource does not exist (adapters turn expected "not found" answers into states;
    /// this is for the unexpected ones).
    NotFound,
}

/// A failed call to the outside world, classified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} failed ({class:?}, {code}): {message}")]
pub struct PortError {
    pub class: ErrorClass,
    /// The API operation, e.g. `s3:GetBucketPolicy`.
    pub operation: &'static str,
    /// The service's error code (`AccessDenied`, `ThrottlingException`, …) or a local kind
    /// (`dispatch`, `timeout`, `response`).
    pub code: String,
    pub message: String,
}

impl PortError {
    pub fn new(
        class: ErrorClass,
        operation: &'static str,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        PortError {
            class,
            operation,
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn retryable(&self) -> bool {
        self.class == ErrorClass::Transient
    }
}

/// The result of reading a key: its state (with notes about parts that could not be read),
/// or the fact that it does not exist.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyRead {
    Found {
        // Boxed: a key state is large and `NotFound` is empty.
        state: Box<KeyState>,
        /// Parts not read and why (e.g. `GetKeyPolicy` denied on another account's key).
        notes: Vec<String>,
    },
    NotFound,
}

/// Reads the state of one bucket. Everything but `GetBucketAcl` denial is an error: deciding
/// on a half-read bucket could patch an exempt bucket or miss a grant.
pub trait BucketReader: Send + Sync {
    /// Policy, encryption, ACL and tags, read concurrently. A bucket that does not exist
    /// comes back with `exists: false`, not as an error.
    fn read_bucket(
        &self,
        bucket: &str,
        owner_account: &str,
        region: &str,
    ) -> impl Future<Output = Result<BucketState, PortError>> + Send;

    /// Only the parts asked for, read concurrently (the sweep's reads by need: policy and ACL
    /// first, the encryption and tags only when the verdict needs them). Parts not asked for
    /// are left as "not read" (`None`, no tags). A bucket that does not exist comes back with
    /// `exists: false`. The default reads everything and forgets what was not asked for, so a
    /// fake stays simple; the S3 adapter makes only the requests asked for.
    fn read_bucket_parts(
        &self,
        bucket: &str,
        owner_account: &str,
        region: &str,
        parts: BucketParts,
    ) -> impl Future<Output = Result<BucketState, PortError>> + Send {
        async move {
            let mut state = self.read_bucket(bucket, owner_account, region).await?;
            parts.forget_unasked(&mut state);
            Ok(state)
        }
    }

    /// The bucket's tags alone (the exemption tag), read when a sweep's verdict has a finding
    /// or a patch.
    fn read_bucket_tags(
        &self,
        bucket: &str,
        owner_account: &str,
        region: &str,
    ) -> impl Future<Output = Result<Tags, PortError>> + Send {
        async move {
            let parts = BucketParts {
                tags: true,
                ..BucketParts::NONE
            };
            Ok(self
                .read_bucket_parts(bucket, owner_account, region, parts)
                .await?
                .tags)
        }
    }

    /// The bucket policy document alone (None = no policy), for the fresh read before a write.
    fn read_bucket_policy(
        &self,
        bucket: &str,
        owner_account: &str,
    ) -> impl Future<Output = Result<Option<Value>, PortError>> + Send;

    /// GetBucketEncryption output (None = no configuration), for fresh reads and verification.
    fn read_bucket_encryption(
        &self,
        bucket: &str,
        owner_account: &str,
    ) -> impl Future<Output = Result<Option<Value>, PortError>> + Send;
}

/// Which of a bucket's four documents to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketParts {
    pub policy: bool,
    pub encryption: bool,
    pub acl: bool,
    pub tags: bool,
}

impl BucketParts {
    pub const ALL: BucketParts = BucketParts {
        policy: true,
        encryption: true,
        acl: true,
        tags: true,
    };
    pub const NONE: BucketParts = BucketParts {
        policy: false,
        encryption: false,
        acl: false,
        tags: false,
    };
    /// What tells whether a bucket is shared, and whether TLS is enforced.
    pub const ACCESS: BucketParts = BucketParts {
        policy: true,
        acl: true,
        ..BucketParts::NONE
    };

    /// Blanks the parts not asked for, as if they had not been read.
    pub fn forget_unasked(self, state: &mut BucketState) {
        if !self.policy {
            state.policy = None;
        }
        if !self.encryption {
            state.encryption = None;
        }
        if !self.acl {
            state.acl = None;
            state.owner_canonical_id = None;
        }
        if !self.tags {
            state.tags = Tags::default();
        }
    }
}

/// Reads the state of one KMS key, by full ARN, key id or alias.
pub trait KeyReader: Send + Sync {
    /// DescribeKey, then key policy, rotation status, tags and aliases concurrently.
    fn read_key(&self, key: &str) -> impl Future<Output = Result<KeyRead, PortError>> + Send;

    /// What a bucket or AccessDenied decision needs of a key: its metadata and key policy
    /// (rotation only matters to a key's own rules), and its tags when `with_tags` — the
    /// exemption tag is checked before a key-policy patch, so they are needed only when
    /// key-policy patching is on. `aliases` holds the alias the key was asked by, if any, so
    /// the lookup by that alias still finds it. Adapters read the parts concurrently when the
    /// reference is a key id or ARN; the default is the full read.
    fn read_key_for_bucket(
        &self,
        key: &str,
        with_tags: bool,
    ) -> impl Future<Output = Result<KeyRead, PortError>> + Send {
        let _ = with_tags;
        self.read_key(key)
    }

    /// The key policy document `default` (None = key not found).
    fn read_key_policy(
        &self,
        key_arn: &str,
    ) -> impl Future<Output = Result<Option<Value>, PortError>> + Send;

    /// GetKeyRotationStatus.
    fn read_rotation(&self, key_arn: &str) -> impl Future<Output = Result<bool, PortError>> + Send;

    /// `ListGrants` of a key, every page, as `{"Grants": [...]}`. Read only when a decision
    /// depends on it (the key policy alone leaves some account's key half incomplete). A
    /// reader without grant support says so with a permanent error.
    fn read_grants(&self, key_arn: &str) -> impl Future<Output = Result<Value, PortError>> + Send {
        let _ = key_arn;
        async {
            Err(PortError::new(
                ErrorClass::Permanent,
                "kms:ListGrants",
                "unsupported",
                "this key reader does not read grants",
            ))
        }
    }
}

/// Reads the identity policies of a principal of this account: the caller's half of a
/// cross-account denial recorded here (DOMAIN.md §6). Read-only IAM `Get*` / `List*`.
pub trait IdentityReader: Send + Sync {
    /// The role or user `principal_arn` names (`arn:…:role/…`, `arn:…:user/…`): its inline
    /// and attached policies (a user's groups' too) and its permissions boundary. Parts that
    /// cannot be read for a permanent reason (denied, gone) are listed in `unread`; a
    /// transient failure is an error.
    fn read_identity(
        &self,
        principal_arn: &str,
    ) -> impl Future<Output = Result<IdentityState, PortError>> + Send;
}

/// No identity reads: for runs that never diagnose a caller-side denial (the sweep) or are not
/// allowed to read IAM. Every read is a permanent "not configured".
#[derive(Debug, Clone, Copy, Default)]
pub struct NoIdentities;

impl IdentityReader for NoIdentities {
    async fn read_identity(&self, _principal_arn: &str) -> Result<IdentityState, PortError> {
        Err(PortError::new(
            ErrorClass::Permanent,
            "iam:GetRole",
            "not-configured",
            "identity reads are not configured for this run",
        ))
    }
}

/// The bucket half of the only writes the guardrail makes (DOMAIN.md §8). No deletes exist
/// here by design.
pub trait BucketWriter: Send + Sync {
    fn put_bucket_policy(
        &self,
        bucket: &str,
        owner_account: &str,
        policy: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Writes the whole default-encryption rule (`PutBucketEncryption` replaces it): the
    /// caller passes the full rule (`core::encryption_rule::moved_rule`), every field it does
    /// not mean to change copied from the fresh read.
    fn put_bucket_encryption(
        &self,
        bucket: &str,
        owner_account: &str,
        rule: &Value,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// The key half of the guardrail's writes. No disable, delete or schedule exists here.
pub trait KeyWriter: Send + Sync {
    /// Never with `BypassPolicyLockoutSafetyCheck`.
    fn put_key_policy(
        &self,
        key_arn: &str,
        policy_name: &str,
        policy: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    fn enable_key_rotation(
        &self,
        key_arn: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// A bucket writer and a key writer as one: what the app writes through. Wrappers (the
/// sweep's serial key-policy writes, test fault injection) replace one half and keep the other.
#[derive(Debug, Clone)]
pub struct Writers<BW, KW> {
    pub buckets: BW,
    pub keys: KW,
}

impl<BW: BucketWriter, KW: Send + Sync> BucketWriter for Writers<BW, KW> {
    fn put_bucket_policy(
        &self,
        bucket: &str,
        owner_account: &str,
        policy: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        self.buckets
            .put_bucket_policy(bucket, owner_account, policy)
    }

    fn put_bucket_encryption(
        &self,
        bucket: &str,
        owner_account: &str,
        rule: &Value,
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        self.buckets
            .put_bucket_encryption(bucket, owner_account, rule)
    }
}

impl<BW: Send + Sync, KW: KeyWriter> KeyWriter for Writers<BW, KW> {
    fn put_key_policy(
        &self,
        key_arn: &str,
        policy_name: &str,
        policy: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        self.keys.put_key_policy(key_arn, policy_name, policy)
    }

    fn enable_key_rotation(
        &self,
        key_arn: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        self.keys.enable_key_rotation(key_arn)
    }
}

/// What the app talks to. Generic so the Lambda, the CLI and the tests can plug in the AWS
/// adapters, wrapped adapters or fakes, without dynamic dispatch. A read-only run (`diagnose`)
/// uses `()` as its writer and sink type: neither is a `BucketWriter` / `KeyWriter` /
/// `FindingSink`, so a write cannot even be expressed.
pub struct Deps<B, K, W, S, I = NoIdentities> {
    pub buckets: B,
    pub keys: K,
    pub writer: W,
    pub sinks: Vec<S>,
    /// The caller-side diagnosis's IAM reads (`NoIdentities` where none are made).
    pub identities: I,
}

impl<B, K, W, S, I> Deps<B, K, W, S, I> {
    /// The same dependencies with another identity reader.
    pub fn with_identities<J>(self, identities: J) -> Deps<B, K, W, S, J> {
        Deps {
            buckets: self.buckets,
            keys: self.keys,
            writer: self.writer,
            sinks: self.sinks,
            identities,
        }
    }
}

/// A bucket as listed, with the region it lives in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedBucket {
    pub name: String,
    pub region: String,
}

/// The listings a sweep needs, one region at a time. Each sends pages into the channel and
/// returns when the listing is done, failed (the error is the last message) or the receiver
/// went away.
pub trait Inventory: Send + Sync {
    fn list_buckets(
        &self,
        region: &str,
        tx: Sender<Result<Vec<ListedBucket>, PortError>>,
    ) -> impl Future<Output = ()> + Send;

    /// Key ARNs of the region (KeyId when the service gives no ARN).
    fn list_keys(
        &self,
        tx: Sender<Result<Vec<String>, PortError>>,
    ) -> impl Future<Output = ()> + Send;
}

/// Whether a finding is still open or was fixed by this run's verified writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingStatus {
    Open,
    /// Enforce mode wrote and verified every step of the finding.
    Fixed,
}

/// One finding as published.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Published {
    pub finding: Finding,
    pub status: FindingStatus,
    /// What was done about it, in plain words (empty when nothing was done).
    pub done: Vec<String>,
}

/// What one run publishes: open and fixed findings, passed checks (sinks mark earlier
/// findings with those ids resolved) and the checks of deleted resources (archived).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingBatch {
    pub findings: Vec<Published>,
    pub passed: Vec<Passed>,
    /// Checks of a resource that no longer exists: earlier findings are archived.
    pub archived: Vec<Passed>,
    /// RFC 3339 time of the run (milliseconds), from the caller (renderers have no clock).
    pub time: String,
    /// The account that posts (the guardrail's own: the Lambda's context, the CLI's STS
    /// identity) — never a finding's resource owner; empty when unknown, and then Security
    /// Hub refuses the batch. ASFF `AwsAccountId` and `ProductArn`.
    pub account: String,
    /// The region the guardrail runs in (ASFF `ProductArn`, unless the sink's client says).
    pub region: String,
}

impl FindingBatch {
    /// Nothing to publish.
    pub fn is_empty(&self) -> bool {
        self.findings.is_empty() && self.passed.is_empty() && self.archived.is_empty()
    }

    /// Records a sink would send (findings, passed and archived checks).
    pub fn len(&self) -> usize {
        self.findings.len() + self.passed.len() + self.archived.len()
    }
}

/// A destination for findings.
pub trait FindingSink: Send + Sync {
    /// Short name for logs (`sns`, `securityhub`, `eventbridge`, …).
    fn name(&self) -> &str;

    /// Publishes the batch; returns how many records were sent.
    fn publish(
        &self,
        batch: &FindingBatch,
    ) -> impl Future<Output = Result<usize, PortError>> + Send;

    /// Whether a sweep posts this sink its findings (batched across resources). A sink that
    /// says no — a notification channel: SNS — gets one digest of the sweep instead of one
    /// message per resource.
    fn per_finding(&self) -> bool {
        true
    }

    /// A sweep's digest (rendered by `render::sns_digest`), for sinks that are not
    /// `per_finding`; returns how many messages were sent.
    fn publish_digest(
        &self,
        subject: &str,
        body: &str,
        severity: Severity,
    ) -> impl Future<Output = Result<usize, PortError>> + Send {
        let _ = (subject, body, severity);
        std::future::ready(Ok(0))
    }
}

/// No sink: for runs that only print.
impl FindingSink for std::convert::Infallible {
    fn name(&self) -> &str {
        match *self {}
    }

    async fn publish(&self, _batch: &FindingBatch) -> Result<usize, PortError> {
        match *self {}
    }
}

/// The organisation relay's inventory: which account owns each bucket (ORG.md §2).
pub trait OwnerResolver: Send + Sync {
    /// Owners of `buckets` (at least; an inventory may answer for more). A bucket it does not
    /// know is simply absent from the map.
    fn owners(
        &self,
        buckets: &std::collections::BTreeSet<String>,
    ) -> impl Future<Output = Result<OwnerMap, PortError>> + Send;
}

/// An inventory that is a fixed map (`cmkguard relay --owner-map`, tests, or none at all).
impl OwnerResolver for OwnerMap {
    async fn owners(
        &self,
        _buckets: &std::collections::BTreeSet<String>,
    ) -> Result<OwnerMap, PortError> {
        Ok(self.clone())
    }
}

/// Puts relayed denials on the owners' `cmkguard` buses.
pub trait DenialForwarder: Send + Sync {
    /// One `PutEvents` request for these entries (the caller keeps within its limits): per
    /// entry `None` when accepted, else the entry's error code and message (only those are
    /// retried). An error fails the whole request.
    #[allow(clippy::type_complexity)]
    fn put(
        &self,
        entries: &[RelayEntry],
    ) -> impl Future<Output = Result<Vec<Option<(String, String)>>, PortError>> + Send;
}
