//! The EventBridge envelope (DOMAIN.md §7) around a CloudTrail record, read as the Lambda
//! ecosystem's typed model — `aws_lambda_events`' `EventBridgeEvent` — when the strict type
//! takes it, and field by field when it does not (a key in another case, a `time` that is not
//! RFC 3339, a number where a string belongs, a missing `detail`, …), so an envelope is never
//! dropped for its shape. Both readings give the same fields for an envelope both accept; the
//! lenient one only ever accepts more. The CloudTrail record inside `detail` is always read
//! leniently (`Record` in `event`): real records carry null `requestParameters`, policies as
//! text or as objects, missing fields and odd types, which a strict struct would turn into
//! errors and dropped events.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Deserializer, Serialize};
use std::borrow::Cow;

use serde_json::Value;

use crate::core::json::{embedded_document_ref, get_ci_present, str_field};

/// An EventBridge event with its `detail` as JSON: the typed model of the envelope.
pub type Envelope = EventBridgeEvent<Value>;

/// The envelope's top-level fields, spelt as the typed model spells them.
const FIELDS: [&str; 9] = [
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
];

/// How an envelope was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// By `aws_lambda_events`' `EventBridgeEvent`.
    Typed,
    /// Field by field, keys in any case: the strict type rejected the envelope.
    Lenient,
}

/// A `detail` that is not read (the Scheduled Event's is always `{}`): it deserialises from
/// anything without copying it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Unread;

impl<'de> Deserialize<'de> for Unread {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_ignored_any(IgnoredAny).map(|_| Unread)
    }
}

/// `v` as the typed envelope, when the strict type takes it and no envelope field is spelt in
/// another case (the type would skip such a key where the lenient reading finds it).
pub fn typed<T: Serialize + DeserializeOwned>(v: &Value) -> Option<EventBridgeEvent<T>> {
    let respelt = v.as_object()?.keys().any(|k| {
        FIELDS
            .iter()
            .any(|f| k.as_str() != *f && k.eq_ignore_ascii_case(f))
    });
    if respelt {
        return None;
    }
    EventBridgeEvent::<T>::deserialize(v).ok()
}

/// The envelope fields the event parser uses, normalised alike on both readings: strings
/// trimmed, empty ones absent.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvelopeFields<'a> {
    pub reading: Reading,
    pub detail_type: Option<String>,
    pub source: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    /// `detail` as a document (a JSON text decoded); `None` when absent, null or not JSON.
    /// Borrowed from the event: the record is read in place, never copied.
    pub detail: Option<Cow<'a, Value>>,
}

/// Reads an envelope: typed first, leniently when the strict type rejects it. The typed
/// reading checks the envelope's fields and leaves `detail` unread (`Unread`), which is then
/// borrowed from the event as it stands: deserialising it into the type would copy the whole
/// record for nothing.
pub fn read_envelope(v: &Value) -> EnvelopeFields<'_> {
    let envelope: Option<EventBridgeEvent<Unread>> = typed(v);
    match envelope {
        Some(env) => EnvelopeFields {
            reading: Reading::Typed,
            detail_type: text(Some(env.detail_type)),
            source: text(Some(env.source)),
            account: text(env.account),
            region: text(env.region),
            // The typed reading took `detail` under exactly this key (no other spelling).
            detail: v.get("detail").and_then(embedded_document_ref),
        },
        None => read_leniently(v),
    }
}

/// The lenient reading alone: each field looked up by key in any case, numbers taken as text,
/// anything else in the envelope ignored.
pub fn read_leniently(v: &Value) -> EnvelopeFields<'_> {
    EnvelopeFields {
        reading: Reading::Lenient,
        detail_type: str_field(v, "detail-type"),
        source: str_field(v, "source"),
        account: str_field(v, "account"),
        region: str_field(v, "region"),
        detail: get_ci_present(v, "detail").and_then(embedded_document_ref),
    }
}

/// A typed string field as `json::str_field` reads it: trimmed, and absent when empty.
fn text(s: Option<String>) -> Option<String> {
    let s = s?;
    let trimmed = s.trim();
    if trimmed.is_empty() {
        None
    } else if trimmed.len() == s.len() {
        Some(s)
    } else {
        Some(trimmed.to_string())
    }
}
