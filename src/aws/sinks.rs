//! Finding sinks over AWS: SNS (one readable message per event, severity as a message
//! attribute; a sweep's one digest), EventBridge (`PutEvents` within 10 entries and 256 KB,
//! only the failed entries retried, never what succeeded), the OCSF JSON-lines objects in S3,
//! and `AwsSink`, the configured ones as one type. Security Hub is `securityhub.rs`. What they
//! send is rendered by `crate::render`; here it is only mapped onto the SDK types.

use std::future::Future;
use std::time::Duration;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sns::types::MessageAttributeValue;
use sha2::{Digest as _, Sha256};

use super::error::{classify_code, port_error};
pub use super::securityhub::SecurityHubSink;
use crate::core::finding::Severity;
use crate::ports::{ErrorClass, FindingBatch, FindingSink, PortError};
use crate::render::{self, ocsf, EventEntry, Poster};

#[derive(Debug, Clone)]
pub struct SnsSink {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsSink {
    pub const IAM_ACTIONS: &'static [&'static str] = &["sns:Publish"];

    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        SnsSink {
            client,
            topic_arn: topic_arn.into(),
        }
    }

    /// One message: the subject is made SNS-safe here whatever the caller passed.
    pub async fn send(
        &self,
        subject: &str,
        body: &str,
        severity: Severity,
    ) -> Result<usize, PortError> {
        let op = "sns:Publish";
        let attr = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(severity.as_str())
            .build()
            .map_err(|e| PortError::new(ErrorClass::Permanent, op, "build", e.to_string()))?;
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(render::sns_safe_subject(subject))
            .message(body)
            .message_attributes("severity", attr)
            .send()
            .await
            .map_err(|e| port_error(op, &e))?;
        Ok(1)
    }
}

impl FindingSink for SnsSink {
    fn name(&self) -> &str {
        "sns"
    }

    fn per_finding(&self) -> bool {
        false
    }

    async fn publish_digest(
        &self,
        subject: &str,
        body: &str,
        severity: Severity,
    ) -> Result<usize, PortError> {
        self.send(subject, body, severity).await
    }

    async fn publish(&self, batch: &FindingBatch) -> Result<usize, PortError> {
        // Passed or archived checks alone are not worth a notification.
        if batch.findings.is_empty() {
            return Ok(0);
        }
        let severity = render::top_severity(batch).unwrap_or(Severity::Informational);
        self.send(
            &render::sns_subject(batch),
            &render::sns_body(batch),
            severity,
        )
        .await
    }
}

/// Attempts per PutEvents entry (the first and two retries of the failed entries only).
pub const EVENT_ATTEMPTS: usize = 3;
/// Back-off before retrying failed entries: this, then four times it.
pub const EVENT_BACKOFF: Duration = Duration::from_millis(100);

/// One PutEvents answer, per entry in request order: `None` delivered, `Some((code,
/// message))` failed.
pub type EntryResults = Vec<Option<(String, String)>>;

/// Delivers `entries` in requests of at most 10 entries and 256 KB; after a partial failure
/// only the failed entries whose error may pass (throttling, internal failure) are sent again,
/// up to `EVENT_ATTEMPTS`; what is still failing is reported. An error once something was
/// delivered is permanent: retrying the invocation would post the delivered entries twice.
pub async fn deliver_events<F, Fut>(entries: &[EventEntry], mut send: F) -> Result<usize, PortError>
where
    F: FnMut(Vec<EventEntry>) -> Fut,
    Fut: Future<Output = Result<EntryResults, PortError>>,
{
    let op = "events:PutEvents";
    let mut delivered = 0;
    let mut failed: Vec<String> = Vec::new();
    for range in render::event_chunks(entries) {
        let mut pending: Vec<EventEntry> = entries[range].to_vec();
        for attempt in 0..EVENT_ATTEMPTS {
            let results = match send(pending.clone()).await {
                Ok(r) => r,
                Err(e) if delivered == 0 && failed.is_empty() => return Err(e),
                Err(e) => {
                    failed.extend(
                        pending
                            .iter()
                            .map(|p| format!("{} {} {}", p.resource, e.code, e.message)),
                    );
                    break;
                }
            };
            let mut retry = Vec::new();
            for (i, entry) in pending.into_iter().enumerate() {
                match results.get(i) {
                    Some(None) => delivered += 1,
                    Some(Some((code, message))) => {
                        let transient = classify_code(code, None) == ErrorClass::Transient
                            || code == "InternalFailure";
                        if transient && attempt + 1 < EVENT_ATTEMPTS {
                            retry.push(entry);
                        } else {
                            failed.push(format!("{} {code} {message}", entry.resource));
                        }
                    }
                    None => failed.push(format!("{} no result for the entry", entry.resource)),
                }
            }
            if retry.is_empty() {
                break;
            }
            tokio::time::sleep(EVENT_BACKOFF * 4u32.pow(attempt as u32)).await;
            pending = retry;
        }
    }
    if failed.is_empty() {
        return Ok(delivered);
    }
    Err(PortError::new(
        ErrorClass::Permanent,
        op,
        "FailedEntryCount",
        format!(
            "{} of {} entries not delivered after {EVENT_ATTEMPTS} attempts ({delivered} delivered, not re-sent): {}",
            failed.len(),
            entries.len(),
            failed.join("; ")
        ),
    ))
}

#[derive(Debug, Clone)]
pub struct EventBridgeSink {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBridgeSink {
    pub const IAM_ACTIONS: &'static [&'static str] = &["events:PutEvents"];

    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        EventBridgeSink {
            client,
            bus: bus.into(),
        }
    }

    async fn put(&self, chunk: Vec<EventEntry>) -> Result<EntryResults, PortError> {
        let mut req = self.client.put_events();
        for e in &chunk {
            req = req.entries(
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus)
                    .source(render::EVENT_SOURCE)
                    .detail_type(render::EVENT_DETAIL_TYPE)
                    .resources(&e.resource)
                    .detail(&e.detail)
                    .build(),
            );
        }
        let out = req
            .send()
            .await
            .map_err(|e| port_error("events:PutEvents", &e))?;
        Ok(out
            .entries()
            .iter()
            .map(|r| {
                r.error_code().map(|c| {
                    (
                        c.to_string(),
                        r.error_message().unwrap_or_default().to_string(),
                    )
                })
            })
            .collect())
    }
}

impl FindingSink for EventBridgeSink {
    fn name(&self) -> &str {
        "eventbridge"
    }

    async fn publish(&self, batch: &FindingBatch) -> Result<usize, PortError> {
        let entries = render::event_entries(batch);
        deliver_events(&entries, |chunk| self.put(chunk)).await
    }
}

/// Findings as OCSF JSON lines, one new object per batch under `cmkguard/ocsf/`, partitioned
/// by region, account and day (the Security Lake custom-source layout): for a SIEM, or a
/// Security Lake custom source once converted to Parquet. Never overwrites: the key holds the
/// time and a hash of the content.
#[derive(Debug, Clone)]
pub struct OcsfSink {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl OcsfSink {
    pub const IAM_ACTIONS: &'static [&'static str] = &["s3:PutObject"];
    pub const PREFIX: &'static str = "cmkguard/ocsf";

    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        OcsfSink {
            client,
            bucket: bucket.into(),
        }
    }

    /// `s3://bucket/cmkguard/ocsf/region=R/account=A/dt=YYYY-MM-DD/`: where a run's objects go.
    pub fn location(&self, account: &str, region: &str, time: &str) -> String {
        format!(
            "s3://{}/{}",
            self.bucket,
            Self::partition(account, region, time)
        )
    }

    fn partition(account: &str, region: &str, time: &str) -> String {
        let day = time.get(..10).unwrap_or("unknown");
        format!(
            "{}/region={region}/account={account}/dt={day}/",
            Self::PREFIX
        )
    }
}

impl FindingSink for OcsfSink {
    fn name(&self) -> &str {
        "ocsf"
    }

    async fn publish(&self, batch: &FindingBatch) -> Result<usize, PortError> {
        let events = ocsf::ocsf_batch(batch, &Poster::of(batch));
        if events.is_empty() {
            return Ok(0);
        }
        let body = ocsf::json_lines(&events);
        let hash: String = Sha256::digest(body.as_bytes())
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        let key = format!(
            "{}{}-{hash}.json",
            Self::partition(&batch.account, &batch.region, &batch.time),
            batch.time.replace(':', "")
        );
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/x-ndjson")
            .body(ByteStream::from(body.into_bytes()))
            .send()
            .await
            .map_err(|e| port_error("s3:PutObject", &e))?;
        Ok(events.len())
    }
}

/// The configured sinks as one type, so the app can hold a list of them (static dispatch).
#[derive(Debug, Clone)]
pub enum AwsSink {
    Sns(SnsSink),
    SecurityHub(SecurityHubSink),
    EventBridge(EventBridgeSink),
    Ocsf(OcsfSink),
}

impl FindingSink for AwsSink {
    fn name(&self) -> &str {
        match self {
            AwsSink::Sns(s) => s.name(),
            AwsSink::SecurityHub(s) => s.name(),
            AwsSink::EventBridge(s) => s.name(),
            AwsSink::Ocsf(s) => s.name(),
        }
    }

    async fn publish(&self, batch: &FindingBatch) -> Result<usize, PortError> {
        match self {
            AwsSink::Sns(s) => s.publish(batch).await,
            AwsSink::SecurityHub(s) => s.publish(batch).await,
            AwsSink::EventBridge(s) => s.publish(batch).await,
            AwsSink::Ocsf(s) => s.publish(batch).await,
        }
    }

    fn per_finding(&self) -> bool {
        !matches!(self, AwsSink::Sns(_))
    }

    async fn publish_digest(
        &self,
        subject: &str,
        body: &str,
        severity: Severity,
    ) -> Result<usize, PortError> {
        match self {
            AwsSink::Sns(s) => s.publish_digest(subject, body, severity).await,
            _ => Ok(0),
        }
    }
}

#[cfg(test)]
mod tests;
