//! Event parsing (DOMAIN.md §6, §7): an EventBridge envelope, a bare CloudTrail record or a
//! CloudTrail log file `{"Records": [...]}` becomes, per record, a `Trigger` or an
//! `Ignored { reason }`. Lenient about real-world mess, never panics.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    /// S3 bucket configuration changed: re-evaluate the bucket.
    BucketChanged,
    /// KMS key changed: re-evaluate the key.
    KeyChanged,
    /// Cross-account AccessDenied: diagnose the handshake.
    AccessDenied,
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
    /// `account`, else `userIdentity.accountId`).
    pub account: Option<String>,
    pub region: Option<String>,
    pub bucket: Option<String>,
    /// The key as the record names it: full ARN when known, else key id or alias.
    pub key: Option<String>,
    /// `userIdentity.accountId`.
    pub caller_account: Option<String>,
    /// The resource owner: the account in `resources[]` / the key ARN, else `recipientAccountId`.
    pub owner_account: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// `userIdentity.arn`.
    pub principal_arn: Option<String>,
    /// `userIdentity.sessionContext.sessionIssuer.arn` (the role behind an assumed-role session).
    pub session_issuer_arn: Option<String>,
    /// For S3 object-level events: the object key, when present.
    pub object_key: Option<String>,
}

/// The verdict on one record. Serialises as `{"trigger": {...}}` or
/// `{"ignored": {"reason": "..."}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Parsed {
    Trigger(Trigger),
    Ignored { reason: String },
}

/// One event (envelope or bare record) or a CloudTrail log file.
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
    todo!()
}

/// Parses an already-decoded JSON value.
pub fn parse_event_value(v: &Value) -> EventInput {
    todo!()
}

/// Parses one CloudTrail record (the `detail` of an envelope).
pub fn parse_record(record: &Value) -> Parsed {
    todo!()
}
