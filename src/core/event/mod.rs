//! Event parsing (DOMAIN.md §6, §7): an EventBridge envelope, a bare CloudTrail record or a
//! CloudTrail log file `{"Records": [...]}` becomes, per record, a `Trigger` or an
//! `Ignored { reason }`. Lenient about real-world mess, never panics. The envelope is read by
//! `envelope` (typed, with a lenient fallback); the CloudTrail record here, leniently.

pub mod beyond;
mod denial;
pub mod envelope;
pub mod relayed;

pub use denial::dedup;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::arn::{self, Arn, KmsRef};
use super::json::{self, get_ci, get_ci_present, path, str_field};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    /// S3 bucket configuration changed: re-evaluate the bucket.
    BucketChanged,
    /// KMS key changed: re-evaluate the key.
    KeyChanged,
    /// Cross-account AccessDenied: diagnose the handshake.
    AccessDenied,
    /// Beyond S3 (DOMAIN-BEYOND-S3.md §7): an EBS snapshot's share or a new snapshot.
    SnapshotChanged,
    /// An AMI's launch permissions or a new AMI.
    ImageChanged,
    /// An RDS DB or cluster snapshot's `restore` attribute or a new one.
    DbSnapshotChanged,
    /// A secret's resource policy or key.
    SecretChanged,
    /// A KMS grant created, revoked or retired.
    GrantChanged,
    /// A region's EBS settings (default key, encryption by default, block public access).
    Ec2SettingsChanged,
}

impl TriggerKind {
    /// The beyond-S3 kinds: parsed and decided by the core, but no adapter re-reads their
    /// state yet, so the app ignores them with that reason.
    pub fn is_beyond_s3(self) -> bool {
        !matches!(
            self,
            TriggerKind::BucketChanged | TriggerKind::KeyChanged | TriggerKind::AccessDenied
        )
    }
}

/// Which account's trail a denial record came from, relative to the caller and the owner
/// (DOMAIN.md §6): that decides what can be diagnosed where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The caller's own account: it can read the caller's identity policies, not the owner's
    /// bucket or key.
    Caller,
    /// The resource owner's account (its own copy, or a copy relayed to it): it can read the
    /// bucket and key, not the caller's IAM.
    Owner,
    /// Neither (an organisation trail, a delegated administrator): it can read neither half.
    ThirdParty,
}

/// What an event asks the guardrail to look at. Field names are a public interface
/// (parse-event JSON). Optional fields are null when the record does not say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    pub kind: TriggerKind,
    pub event_name: String,
    /// `s3.amazonaws.com` / `kms.amazonaws.com`.
    pub event_source: String,
    pub event_id: Option<String>,
    pub event_time: Option<String>,
    /// The account that recorded the event (`recipientAccountId`, else the envelope's
    /// `account`, else `userIdentity.accountId`); for a denial relayed to the owner
    /// (`cmkguard.denial`), the owner, whose guardrail handles it.
    pub account: Option<String>,
    pub region: Option<String>,
    pub bucket: Option<String>,
    /// The key as the record names it: full ARN when known, else key id or alias.
    pub key: Option<String>,
    /// `userIdentity.accountId`.
    pub caller_account: Option<String>,
    /// The resource owner: the account in `resources[]` / the key ARN, else
    /// `recipientAccountId` when that is not the caller. Null for a denial whose owner the
    /// record does not say (S3 redacts it in the caller's copy): never a guess.
    pub owner_account: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// `userIdentity.arn`.
    pub principal_arn: Option<String>,
    /// `userIdentity.sessionContext.sessionIssuer.arn` (the role behind an assumed-role session).
    pub session_issuer_arn: Option<String>,
    /// For S3 object-level events: the object key, when present.
    pub object_key: Option<String>,
    /// For `access_denied`: which account's trail the record came from (null otherwise).
    #[serde(default)]
    pub side: Option<Side>,
    /// `sharedEventID`: one call delivered to several accounts carries the same one.
    #[serde(default)]
    pub shared_event_id: Option<String>,
    /// `requestID` of the call.
    #[serde(default)]
    pub request_id: Option<String>,
    /// Beyond S3: the ARN of the snapshot, AMI, DB snapshot or secret (for a grant event the
    /// key). Not written when null, so S3 and KMS triggers read as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_arn: Option<String>,
    /// Beyond S3: what the call asked to change, as the record says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<beyond::Change>,
}

impl Trigger {
    /// The key that makes two copies of one denial the same (DOMAIN.md §6): `sharedEventID`,
    /// else `requestID` with `eventTime`; none when the record carries neither.
    pub fn dedup_key(&self) -> Option<String> {
        if let Some(shared) = &self.shared_event_id {
            return Some(format!("sharedEventID {shared}"));
        }
        match (&self.request_id, &self.event_time) {
            (Some(id), Some(time)) => Some(format!("requestID {id} at {time}")),
            _ => None,
        }
    }
}

/// The verdict on one record. Serialises as `{"trigger": {...}}` or
/// `{"ignored": {"reason": "..."}}`.
// One value per event, moved a handful of times: boxing the trigger would buy nothing and
// make every `Parsed::Trigger(t)` pattern in the decider clumsier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Parsed {
    Trigger(Trigger),
    Ignored { reason: String },
}

/// One event (envelope or bare record) or a CloudTrail log file.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventInput {
    Single(Parsed),
    Records(Vec<Parsed>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("not JSON: {0}")]
    NotJson(String),
}

/// Parses raw bytes: JSON errors are errors, everything else is a Trigger or Ignored.
pub fn parse_event_bytes(bytes: &[u8]) -> Result<EventInput, EventError> {
    // Files saved by some Windows editors start with a BOM, which serde_json rejects.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| EventError::NotJson(e.to_string()))?;
    Ok(parse_event_value(&value))
}

/// Parses an already-decoded JSON value.
pub fn parse_event_value(v: &Value) -> EventInput {
    if !v.is_object() {
        return EventInput::Single(ignored(format!(
            "the event is {}, not a JSON object",
            kind_of(v)
        )));
    }
    if let Some(records) = get_ci(v, "Records") {
        return match records {
            Value::Array(items) => {
                EventInput::Records(dedup(items.iter().map(parse_record).collect()))
            }
            other => EventInput::Single(ignored(format!(
                "Records is {}, not an array of CloudTrail records",
                kind_of(other)
            ))),
        };
    }
    if get_ci(v, "detail-type").is_some() || get_ci(v, "detail").is_some() {
        return EventInput::Single(parse_envelope(v));
    }
    if get_ci_present(v, "eventName").is_some() {
        return EventInput::Single(parse_record(v));
    }
    EventInput::Single(ignored("not an EventBridge event or CloudTrail record"))
}

/// Parses one CloudTrail record (the `detail` of an envelope).
pub fn parse_record(record: &Value) -> Parsed {
    parse_record_in(record, &EnvelopeContext::default())
}

/// The EventBridge detail-type of an API call's CloudTrail record.
const CLOUDTRAIL_DETAIL_TYPE: &str = "AWS API Call via CloudTrail";
/// The detail-type of a CloudTrail record AWS itself writes (`eventType: AwsServiceEvent`):
/// KMS deleting a key at the end of its waiting period (`DeleteKey`) is one.
const SERVICE_EVENT_DETAIL_TYPE: &str = "AWS Service Event via CloudTrail";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    S3,
    Kms,
    Ec2,
    Rds,
    SecretsManager,
}

impl Service {
    const ALL: [Service; 5] = [
        Service::S3,
        Service::Kms,
        Service::Ec2,
        Service::Rds,
        Service::SecretsManager,
    ];

    fn event_source(self) -> &'static str {
        match self {
            Service::S3 => "s3.amazonaws.com",
            Service::Kms => "kms.amazonaws.com",
            Service::Ec2 => "ec2.amazonaws.com",
            Service::Rds => "rds.amazonaws.com",
            Service::SecretsManager => "secretsmanager.amazonaws.com",
        }
    }

    fn envelope_source(self) -> &'static str {
        match self {
            Service::S3 => "aws.s3",
            Service::Kms => "aws.kms",
            Service::Ec2 => "aws.ec2",
            Service::Rds => "aws.rds",
            Service::SecretsManager => "aws.secretsmanager",
        }
    }

    /// The services whose denials `denial` diagnoses (DOMAIN.md §6).
    fn diagnosed(self) -> bool {
        matches!(self, Service::S3 | Service::Kms)
    }

    fn from_event_source(s: &str) -> Option<Service> {
        Self::ALL
            .into_iter()
            .find(|svc| s.eq_ignore_ascii_case(svc.event_source()))
    }

    fn from_envelope_source(s: &str) -> Option<Service> {
        Self::ALL
            .into_iter()
            .find(|svc| s.eq_ignore_ascii_case(svc.envelope_source()))
    }
}

/// Where a watched call's resource is named, which is also what it changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Changed {
    Bucket,
    /// `CreateKey`: the new key exists only in `responseElements`.
    NewKey,
    Key,
}

/// Successful calls that can leave a bucket or key worse off (§7). Calls that can only improve
/// things (`EnableKey`, `CancelKeyDeletion`, `EnableKeyRotation`) are left out: the guardrail
/// has nothing to fix after them, and the next evaluation posts the resolved findings.
/// Tag changes are in because the exemption tag (§8) decides whether a resource is patched:
/// removing it must bring enforcement back without waiting for an unrelated change, and
/// adding it must mark the open findings exempt.
const WATCHED: &[(&str, Service, Changed)] = &[
    ("CreateBucket", Service::S3, Changed::Bucket),
    ("PutBucketEncryption", Service::S3, Changed::Bucket),
    ("DeleteBucketEncryption", Service::S3, Changed::Bucket),
    ("PutBucketPolicy", Service::S3, Changed::Bucket),
    ("DeleteBucketPolicy", Service::S3, Changed::Bucket),
    ("PutBucketAcl", Service::S3, Changed::Bucket),
    ("PutBucketTagging", Service::S3, Changed::Bucket),
    ("DeleteBucketTagging", Service::S3, Changed::Bucket),
    // The bucket is gone: its findings are archived (re-read: NoSuchBucket).
    ("DeleteBucket", Service::S3, Changed::Bucket),
    ("CreateKey", Service::Kms, Changed::NewKey),
    ("PutKeyPolicy", Service::Kms, Changed::Key),
    ("DisableKeyRotation", Service::Kms, Changed::Key),
    ("ScheduleKeyDeletion", Service::Kms, Changed::Key),
    ("DisableKey", Service::Kms, Changed::Key),
    ("TagResource", Service::Kms, Changed::Key),
    ("UntagResource", Service::Kms, Changed::Key),
    // A service event at the end of the waiting period: the key is gone, its findings are
    // archived.
    ("DeleteKey", Service::Kms, Changed::Key),
];

/// The watched calls as (`eventName`, `eventSource`): what `backfill` looks up.
pub fn watched_events() -> impl Iterator<Item = (&'static str, &'static str)> {
    WATCHED.iter().map(|(n, svc, _)| (*n, svc.event_source()))
}

fn watched(name: &str) -> Option<(&'static str, Service, Changed)> {
    WATCHED
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
        .copied()
}

/// The error codes of a denied authorisation. Other failures (`MalformedPolicy`,
/// `NoSuchBucket`, throttling, …) changed nothing and say nothing about the handshake.
fn is_access_denied(code: &str) -> bool {
    ["AccessDenied", "AccessDeniedException"]
        .iter()
        .any(|c| c.eq_ignore_ascii_case(code))
}

/// What an EventBridge envelope adds to its record: fallbacks for fields the record lacks, and
/// the service the rule matched on.
#[derive(Debug, Default)]
struct EnvelopeContext {
    account: Option<String>,
    region: Option<String>,
    service: Option<Service>,
}

fn parse_envelope(env: &Value) -> Parsed {
    let fields = envelope::read_envelope(env);
    if fields
        .source
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case(relayed::SOURCE))
    {
        return relayed::parse(&fields);
    }
    let Some(detail_type) = fields.detail_type else {
        return ignored("the EventBridge event has no detail-type");
    };
    if !detail_type.eq_ignore_ascii_case(CLOUDTRAIL_DETAIL_TYPE)
        && !detail_type.eq_ignore_ascii_case(SERVICE_EVENT_DETAIL_TYPE)
    {
        // A schedule firing is not a change to judge but a request for the account sweep,
        // which the Lambda runs before it gets here (`core::schedule::sweep_request`).
        let sweep = if detail_type.eq_ignore_ascii_case("Scheduled Event") {
            ": a schedule is a sweep request (the Lambda sweeps the account, as `cmkguard scan` does)"
        } else {
            ""
        };
        return ignored(format!(
            "detail-type '{detail_type}' is not '{CLOUDTRAIL_DETAIL_TYPE}'{sweep}"
        ));
    }
    let service = match fields.source {
        None => return ignored("the EventBridge event has no source"),
        Some(source) => match Service::from_envelope_source(&source) {
            Some(service) => service,
            None => {
                return ignored(format!(
                    "EventBridge source '{source}' is none of aws.s3, aws.kms, aws.ec2, aws.rds, aws.secretsmanager"
                ))
            }
        },
    };
    // A detail that arrives as JSON text (hand-built test events) is accepted too.
    let Some(detail) = fields.detail.filter(|d| d.is_object()) else {
        return ignored("the EventBridge event has no detail object");
    };
    let context = EnvelopeContext {
        account: fields.account,
        region: fields.region,
        service: Some(service),
    };
    parse_record_in(&detail, &context)
}

/// One `resources[]` entry of a CloudTrail record.
#[derive(Debug)]
struct Resource {
    arn: Option<String>,
    account: Option<String>,
    kind: Option<String>,
}

impl Resource {
    fn is_type(&self, kind: &str) -> bool {
        self.kind
            .as_deref()
            .is_some_and(|k| k.eq_ignore_ascii_case(kind))
    }

    fn bucket(&self) -> Option<String> {
        let arn = Arn::parse(self.arn.as_deref()?).ok()?;
        arn.s3_bucket().map(str::to_string)
    }

    /// `arn:P:s3:::B/K` → `K`.
    fn object_key(&self) -> Option<String> {
        let arn = Arn::parse(self.arn.as_deref()?).ok()?;
        arn.s3_bucket()?;
        let (_, key) = arn.resource.split_once('/')?;
        (!key.is_empty()).then(|| key.to_string())
    }

    fn key_arn(&self) -> Option<KmsRef> {
        KmsRef::parse(self.arn.as_deref()?).filter(KmsRef::is_key_arn)
    }
}

/// The fields of one CloudTrail record that matter here, read leniently once.
#[derive(Debug)]
struct Record<'a> {
    name: String,
    error_code: Option<String>,
    error_message: Option<String>,
    event_id: Option<String>,
    event_time: Option<String>,
    /// `recipientAccountId`, else the envelope's account, else the caller's.
    account: Option<String>,
    recipient: Option<String>,
    region: Option<String>,
    caller_account: Option<String>,
    identity_type: Option<String>,
    principal_arn: Option<String>,
    session_issuer_arn: Option<String>,
    /// `requestParameters` as an object; null, missing or non-JSON text become an empty one.
    /// Borrowed from the record (a `PutBucketPolicy` carries the whole policy here).
    params: Cow<'a, Value>,
    response: Cow<'a, Value>,
    resources: Vec<Resource>,
    shared_event_id: Option<String>,
    request_id: Option<String>,
}

impl<'a> Record<'a> {
    fn read(record: &'a Value, name: String, envelope: &EnvelopeContext) -> Record<'a> {
        let identity = get_ci_present(record, "userIdentity").unwrap_or(&Value::Null);
        let caller_account = str_field(identity, "accountId");
        let recipient = str_field(record, "recipientAccountId");
        let object_or_empty = |key: &str| {
            get_ci_present(record, key)
                .and_then(json::embedded_document_ref)
                .filter(|v| v.is_object())
                .unwrap_or(Cow::Owned(Value::Null))
        };
        let resources = match get_ci_present(record, "resources") {
            Some(Value::Array(items)) => items
                .iter()
                .filter(|item| item.is_object())
                .map(|item| Resource {
                    arn: str_field(item, "ARN"),
                    account: str_field(item, "accountId"),
                    kind: str_field(item, "type"),
                })
                .collect(),
            _ => Vec::new(),
        };
        Record {
            name,
            error_code: str_field(record, "errorCode"),
            error_message: str_field(record, "errorMessage"),
            event_id: str_field(record, "eventID"),
            event_time: str_field(record, "eventTime"),
            account: recipient
                .clone()
                .or_else(|| envelope.account.clone())
                .or_else(|| caller_account.clone()),
            recipient,
            region: str_field(record, "awsRegion").or_else(|| envelope.region.clone()),
            caller_account,
            identity_type: str_field(identity, "type"),
            principal_arn: str_field(identity, "arn"),
            session_issuer_arn: path(identity, &["sessionContext", "sessionIssuer"])
                .and_then(|issuer| str_field(issuer, "arn")),
            params: object_or_empty("requestParameters"),
            response: object_or_empty("responseElements"),
            resources,
            shared_event_id: str_field(record, "sharedEventID"),
            request_id: str_field(record, "requestID"),
        }
    }

    fn trigger(&self, kind: TriggerKind, service: Service) -> Trigger {
        Trigger {
            kind,
            event_name: self.name.clone(),
            event_source: service.event_source().to_string(),
            event_id: self.event_id.clone(),
            event_time: self.event_time.clone(),
            account: self.account.clone(),
            region: self.region.clone(),
            bucket: None,
            key: None,
            caller_account: self.caller_account.clone(),
            owner_account: None,
            error_code: self.error_code.clone(),
            error_message: self.error_message.clone(),
            principal_arn: self.principal_arn.clone(),
            session_issuer_arn: self.session_issuer_arn.clone(),
            object_key: None,
            side: None,
            shared_event_id: self.shared_event_id.clone(),
            request_id: self.request_id.clone(),
            resource_arn: None,
            change: None,
        }
    }

    /// `requestParameters.bucketName` (or `bucket`), else a bucket or object ARN in
    /// `resources[]`, the bucket entry first, else a virtual-hosted `Host` header.
    fn bucket(&self) -> Option<String> {
        str_field(&self.params, "bucketName")
            .or_else(|| str_field(&self.params, "bucket"))
            .or_else(|| {
                let buckets = self
                    .resources
                    .iter()
                    .filter(|r| r.is_type("AWS::S3::Bucket"));
                buckets
                    .chain(self.resources.iter())
                    .find_map(Resource::bucket)
            })
            .or_else(|| str_field(&self.params, "Host").and_then(|h| bucket_from_host(&h)))
    }

    fn object_key(&self) -> Option<String> {
        str_field(&self.params, "key")
            .or_else(|| self.resources.iter().find_map(Resource::object_key))
    }

    fn param_key_ref(&self) -> Option<KmsRef> {
        str_field(&self.params, "keyId").and_then(|k| KmsRef::parse(&k))
    }

    fn resource_key_arn(&self) -> Option<KmsRef> {
        self.resources.iter().find_map(Resource::key_arn)
    }

    /// `arn:<partition>:kms:<region>:<account>:key/<id>` when region and a well-formed account
    /// are known; the bare id otherwise, so the decider can still say what was named.
    fn expand_key_id(&self, key_id: &str, account: Option<&str>) -> String {
        match (self.region.as_deref(), account) {
            (Some(region), Some(account)) if json::is_account_id(account) => {
                arn::key_arn(arn::partition_for_region(region), region, account, key_id)
            }
            _ => key_id.to_string(),
        }
    }

    /// The changed key of a successful management call. Such calls cannot cross accounts, so
    /// a bare key id lives in the recording account. An alias in the request is replaced by
    /// the key ARN that `resources[]` resolves it to, and kept as given otherwise.
    fn changed_key(&self) -> Option<String> {
        let requested = self.param_key_ref();
        if let Some(KmsRef::KeyArn { arn, .. }) = &requested {
            return Some(arn.clone());
        }
        if let Some(resolved) = self.resource_key_arn() {
            return Some(resolved.text().to_string());
        }
        match requested {
            Some(KmsRef::KeyId { key_id }) => {
                Some(self.expand_key_id(&key_id, self.account.as_deref()))
            }
            Some(other) => Some(other.text().to_string()),
            // A keyId that is not a KMS reference at all is still what the record named.
            None => str_field(&self.params, "keyId"),
        }
    }

    /// `CreateKey`: `responseElements.keyMetadata.arn`, else its key id completed with the
    /// metadata's account (`aWSAccountId` in real records), else `resources[]`.
    fn created_key(&self) -> Option<String> {
        let metadata = get_ci_present(&self.response, "keyMetadata").unwrap_or(&Value::Null);
        let from_arn = str_field(metadata, "arn")
            .and_then(|a| KmsRef::parse(&a))
            .filter(KmsRef::is_key_arn);
        if let Some(key) = from_arn {
            return Some(key.text().to_string());
        }
        if let Some(key_id) = str_field(metadata, "keyId") {
            let account = str_field(metadata, "AWSAccountId").or_else(|| self.account.clone());
            return Some(self.expand_key_id(&key_id, account.as_deref()));
        }
        self.resource_key_arn().map(|k| k.text().to_string())
    }

    /// The resource owner (§6): the account of the bucket / key entry in `resources[]`, else
    /// of any entry, else the account in a key ARN, else the recording account.
    fn owner_account(&self, service: Service) -> Option<String> {
        let wanted = match service {
            Service::S3 => "AWS::S3::Bucket",
            Service::Kms => "AWS::KMS::Key",
            Service::Ec2 => "AWS::EC2::Snapshot",
            Service::Rds => "AWS::RDS::DBSnapshot",
            Service::SecretsManager => "AWS::SecretsManager::Secret",
        };
        let arn_account = |k: KmsRef| k.account().map(str::to_string);
        self.resources
            .iter()
            .filter(|r| r.is_type(wanted))
            .chain(self.resources.iter())
            .find_map(|r| r.account.clone())
            .or_else(|| self.resource_key_arn().and_then(arn_account))
            .or_else(|| self.param_key_ref().and_then(arn_account))
            .or_else(|| self.recipient.clone())
    }
}

fn parse_record_in(record: &Value, envelope: &EnvelopeContext) -> Parsed {
    if !record.is_object() {
        return ignored(format!(
            "the CloudTrail record is {}, not a JSON object",
            kind_of(record)
        ));
    }
    let Some(name) = str_field(record, "eventName") else {
        return ignored("the CloudTrail record has no eventName");
    };
    let source = str_field(record, "eventSource");
    let watch = watched(&name);
    let beyond_watch = beyond::watched(&name);
    let expected = watch
        .map(|(_, service, _)| service)
        .or(beyond_watch.map(|(_, service, _)| service));
    let service = match resolve_service(&name, source.as_deref(), expected, envelope) {
        Ok(service) => service,
        Err(reason) => return ignored(reason),
    };
    let rec = Record::read(record, name, envelope);

    if let Some(code) = &rec.error_code {
        if let Some((canonical, service, b)) = beyond_watch {
            if let Some(parsed) = beyond::failed_share(&rec, canonical, service, b, code) {
                return parsed;
            }
        }
        return match service {
            Some(service) if is_access_denied(code) && service.diagnosed() => {
                denial::access_denied(&rec, service, code)
            }
            _ => ignored(format!("the call failed with {code}: nothing was applied")),
        };
    }
    if let Some((canonical, service, b)) = beyond_watch {
        return beyond::parse(&rec, canonical, service, b);
    }
    // A watched name has passed `resolve_service`, so its service is the record's.
    let Some((canonical, service, changed)) = watch else {
        return ignored(format!("event {} is not one cmkguard acts on", rec.name));
    };

    let mut trigger = match changed {
        Changed::Bucket => {
            let Some(bucket) = rec.bucket() else {
                return ignored(format!(
                    "{canonical} names no bucket (no requestParameters.bucketName, no bucket in resources)"
                ));
            };
            let mut t = rec.trigger(TriggerKind::BucketChanged, service);
            t.bucket = Some(bucket);
            t
        }
        Changed::NewKey | Changed::Key => {
            let key = match changed {
                Changed::NewKey => rec.created_key(),
                _ => rec.changed_key(),
            };
            let Some(key) = key else {
                return ignored(format!(
                    "{canonical} names no key (no keyId in the request or response, no key in resources)"
                ));
            };
            let mut t = rec.trigger(TriggerKind::KeyChanged, service);
            t.key = Some(key);
            t
        }
    };
    trigger.event_name = canonical.to_string();
    trigger.owner_account = rec.owner_account(service);
    Parsed::Trigger(trigger)
}

/// The service a record belongs to, from its `eventSource`, the name's own service and the
/// envelope's source, which must agree. `Ok(None)`: a service cmkguard does not watch.
fn resolve_service(
    name: &str,
    source: Option<&str>,
    expected: Option<Service>,
    envelope: &EnvelopeContext,
) -> Result<Option<Service>, String> {
    let Some(source) = source else {
        // Records without eventSource are hand-made; the name or the envelope still says
        // which service they mean, as long as the two agree.
        return match (expected, envelope.service) {
            (Some(a), Some(b)) if a != b => Err(format!(
                "{name} is a {} event but the EventBridge source is {}",
                a.event_source(),
                b.envelope_source()
            )),
            (a, b) => match a.or(b) {
                Some(service) => Ok(Some(service)),
                None => Err(format!("the {name} record has no eventSource")),
            },
        };
    };
    let actual = Service::from_event_source(source);
    if let Some(expected) = expected {
        if actual != Some(expected) {
            return Err(format!(
                "eventSource {source} does not match {name} (expected {})",
                expected.event_source()
            ));
        }
    }
    match (actual, envelope.service) {
        (Some(a), Some(b)) if a != b => Err(format!(
            "eventSource {source} does not match the EventBridge source {}",
            b.envelope_source()
        )),
        (actual, _) => Ok(actual),
    }
}

/// `B.s3.REGION.amazonaws.com`, `B.s3-REGION.amazonaws.com`, `B.s3.amazonaws.com` (and the
/// `.com.cn` forms) → `B`; a path-style host (`s3.REGION.amazonaws.com`) names no bucket.
fn bucket_from_host(host: &str) -> Option<String> {
    let host = host.trim().to_ascii_lowercase();
    let host = host.split(':').next().unwrap_or_default();
    if !(host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn")) {
        return None;
    }
    let at = [".s3.", ".s3-"].iter().filter_map(|m| host.find(m)).min()?;
    let bucket = &host[..at];
    (!bucket.is_empty()).then(|| bucket.to_string())
}

fn ignored(reason: impl Into<String>) -> Parsed {
    Parsed::Ignored {
        reason: reason.into(),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests;
