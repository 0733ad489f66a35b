//! A denial relayed to the owner's account (ORG.md): the organisation relay puts the caller's
//! CloudTrail record on the owner's `cmkguard` bus as an EventBridge event with source
//! `cmkguard.denial` and `detail: {record, owner_account, relayed_at}`. It parses to the same
//! `access_denied` trigger as the record, seen from the owner's side.
//!
//! The owner comes from `detail.owner_account`, never from the envelope's `account`: real
//! EventBridge keeps the sender's account there (the relay's), the emulator rewrites it to the
//! receiver, and neither is a statement about who owns the bucket or key. A record whose own
//! fields name another owner (a key ARN of a third account) is refused rather than believed.

use serde_json::{json, Value};

use super::envelope::EnvelopeFields;
use super::{ignored, parse_record_in, EnvelopeContext, Parsed, Side, TriggerKind};
use crate::core::json::{embedded_document, get_ci_present, is_account_id, str_field};

/// The EventBridge `source` of a relayed denial.
pub const SOURCE: &str = "cmkguard.denial";
/// Its `detail-type`.
pub const DETAIL_TYPE: &str = "Cross-account AccessDenied (relayed)";

/// The `detail` the relay puts: the record as the caller's trail wrote it, the owner the relay
/// resolved, and when (RFC 3339, from the caller: the core has no clock).
pub fn detail(record: &Value, owner_account: &str, relayed_at: &str) -> Value {
    json!({"record": record, "owner_account": owner_account, "relayed_at": relayed_at})
}

/// Parses a `cmkguard.denial` envelope (its fields already read).
pub fn parse(fields: &EnvelopeFields) -> Parsed {
    let Some(detail) = fields.detail.as_ref().filter(|d| d.is_object()) else {
        return ignored("the relayed denial (source cmkguard.denial) has no detail object");
    };
    let Some(record) = get_ci_present(detail, "record")
        .and_then(embedded_document)
        .filter(Value::is_object)
    else {
        return ignored("the relayed denial has no detail.record object");
    };
    let Some(owner) = str_field(detail, "owner_account").filter(|a| is_account_id(a)) else {
        return ignored(
            "the relayed denial has no 12-digit detail.owner_account (the envelope's account is never taken for the owner)",
        );
    };
    let context = EnvelopeContext {
        account: None,
        region: fields.region.clone(),
        service: None,
    };
    let mut t = match parse_record_in(&record, &context) {
        Parsed::Trigger(t) if t.kind == TriggerKind::AccessDenied => t,
        Parsed::Trigger(t) => {
            return ignored(format!(
                "the relayed record {} is not an AccessDenied",
                t.event_name
            ))
        }
        Parsed::Ignored { reason } => return ignored(format!("relayed record: {reason}")),
    };
    if t.caller_account.as_deref() == Some(owner.as_str()) {
        return ignored(format!(
            "the relayed denial names owner {owner}, which is the caller's own account: not a cross-account handshake problem"
        ));
    }
    if let Some(named) = t.owner_account.as_deref().filter(|n| *n != owner) {
        return ignored(format!(
            "the relayed denial was sent to owner {owner} but its record names owner {named}: not diagnosed"
        ));
    }
    t.owner_account = Some(owner.clone());
    t.account = Some(owner);
    t.side = Some(Side::Owner);
    Parsed::Trigger(t)
}
