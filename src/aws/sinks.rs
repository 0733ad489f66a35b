//! Finding sinks over AWS: SNS (one readable message per run, severity as a message
//! attribute), Security Hub (`BatchImportFindings`, ≤ 100 per call, `FailedCount` checked),
//! EventBridge (`PutEvents`, ≤ 10 entries per call, `FailedEntryCount` checked). What they
//! send is rendered by `crate::render`; here it is only mapped onto the SDK types.

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_securityhub::types::{
    AwsSecurityFinding, Compliance, ComplianceStatus, Partition, Recommendation, Remediation,
    Resource, Severity, SeverityLabel,
};
use aws_sdk_sns::types::MessageAttributeValue;

use super::error::port_error;
use crate::ports::{ErrorClass, FindingBatch, FindingSink, PortError};
use crate::render::{self, Asff};

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
}

impl FindingSink for SnsSink {
    fn name(&self) -> &str {
        "sns"
    }

    async fn publish(&self, batch: &FindingBatch) -> Result<usize, PortError> {
        // Passed checks alone are not worth a notification.
        if batch.findings.is_empty() {
            return Ok(0);
        }
        let op = "sns:Publish";
        let severity = render::top_severity(batch).map_or("INFORMATIONAL", |s| s.as_str());
        let attr = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(severity)
            .build()
            .map_err(|e| PortError::new(ErrorClass::Permanent, op, "build", e.to_string()))?;
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(render::sns_subject(batch))
            .message(render::sns_body(batch))
            .message_attributes("severity", attr)
            .send()
            .await
            .map_err(|e| port_error(op, &e))?;
        Ok(1)
    }
}

#[derive(Debug, Clone)]
pub struct SecurityHubSink {
    client: aws_sdk_securityhub::Client,
}

impl SecurityHubSink {
    pub const IAM_ACTIONS: &'static [&'static str] = &["securityhub:BatchImportFindings"];

    pub fn new(client: aws_sdk_securityhub::Client) -> Self {
        SecurityHubSink { client }
    }
}

/// Maps the rendered ASFF record onto the SDK's finding type.
pub fn to_sdk_finding(a: &Asff) -> AwsSecurityFinding {
    let resources = a.resources.iter().map(|r| {
        Resource::builder()
            .r#type(&r.kind)
            .id(&r.id)
            .partition(Partition::from(r.partition.as_str()))
            .region(&r.region)
            .build()
    });
    let mut b = AwsSecurityFinding::builder()
        .schema_version(&a.schema_version)
        .id(&a.id)
        .product_arn(&a.product_arn)
        .generator_id(&a.generator_id)
        .aws_account_id(&a.aws_account_id)
        .created_at(&a.created_at)
        .updated_at(&a.updated_at)
        .severity(
            Severity::builder()
                .label(SeverityLabel::from(a.severity.label.as_str()))
                .build(),
        )
        .title(&a.title)
        .description(&a.description)
        .remediation(
            Remediation::builder()
                .recommendation(
                    Recommendation::builder()
                        .text(&a.remediation.recommendation.text)
                        .build(),
                )
                .build(),
        )
        .compliance(
            Compliance::builder()
                .status(ComplianceStatus::from(a.compliance.status.as_str()))
                .build(),
        );
    for t in &a.types {
        b = b.types(t);
    }
    for r in resources {
        b = b.resources(r);
    }
    b.build()
}

impl FindingSink for SecurityHubSink {
    fn name(&self) -> &str {
        "securityhub"
    }

    async fn publish(&self, batch: &FindingBatch) -> Result<usize, PortError> {
        let op = "securityhub:BatchImportFindings";
        let records = render::asff_batch(batch);
        let mut sent = 0;
        for chunk in records.chunks(render::ASFF_BATCH) {
            // Boxed: an ASFF finding is a very large type and the request future would
            // otherwise sit on the caller's stack (overflowing it in debug builds).
            let request = self
                .client
                .batch_import_findings()
                .set_findings(Some(chunk.iter().map(to_sdk_finding).collect()))
                .send();
            let out = Box::pin(request).await.map_err(|e| port_error(op, &e))?;
            let failed = out.failed_count().unwrap_or(0);
            if failed > 0 {
                let why: Vec<String> = out
                    .failed_findings()
                    .iter()
                    .map(|f| {
                        format!(
                            "{}: {} {}",
                            f.id().unwrap_or("?"),
                            f.error_code().unwrap_or("?"),
                            f.error_message().unwrap_or("")
                        )
                    })
                    .collect();
                return Err(PortError::new(
                    ErrorClass::Permanent,
                    op,
                    "FailedCount",
                    format!("{failed} finding(s) rejected: {}", why.join("; ")),
                ));
            }
            sent += chunk.len();
        }
        Ok(sent)
    }
}

#[derive(Debug, Clone)]
pub struct EventBridgeSink {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBridgeSink {
    pub const IAM_ACTIONS: &'static [&'static str] = &["events:PutEvents"];
    /// PutEvents accepts at most 10 entries per call.
    const MAX_ENTRIES: usize = 10;

    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        EventBridgeSink {
            client,
            bus: bus.into(),
        }
    }
}

impl FindingSink for EventBridgeSink {
    fn name(&self) -> &str {
        "eventbridge"
    }

    async fn publish(&self, batch: &FindingBatch) -> Result<usize, PortError> {
        let op = "events:PutEvents";
        let entries: Vec<(String, String)> = batch
            .findings
            .iter()
            .map(|p| (p.finding.resource_arn.clone(), render::event_detail(p)))
            .chain(
                batch
                    .passed
                    .iter()
                    .map(|p| (p.resource_arn.clone(), render::event_detail_passed(p))),
            )
            .collect();
        let mut sent = 0;
        for chunk in entries.chunks(Self::MAX_ENTRIES) {
            let mut req = self.client.put_events();
            for (resource, detail) in chunk {
                req = req.entries(
                    PutEventsRequestEntry::builder()
                        .event_bus_name(&self.bus)
                        .source(render::EVENT_SOURCE)
                        .detail_type(render::EVENT_DETAIL_TYPE)
                        .resources(resource)
                        .detail(detail)
                        .build(),
                );
            }
            let out = req.send().await.map_err(|e| port_error(op, &e))?;
            if out.failed_entry_count() > 0 {
                let why: Vec<String> = out
                    .entries()
                    .iter()
                    .filter_map(|e| {
                        e.error_code()
                            .map(|c| format!("{c} {}", e.error_message().unwrap_or("")))
                    })
                    .collect();
                return Err(PortError::new(
                    ErrorClass::Transient,
                    op,
                    "FailedEntryCount",
                    format!(
                        "{} entries failed: {}",
                        out.failed_entry_count(),
                        why.join("; ")
                    ),
                ));
            }
            sent += chunk.len();
        }
        Ok(sent)
    }
}

/// The configured sinks as one type, so the app can hold a list of them (static dispatch).
#[derive(Debug, Clone)]
pub enum AwsSink {
    Sns(SnsSink),
    SecurityHub(SecurityHubSink),
    EventBridge(EventBridgeSink),
}

impl FindingSink for AwsSink {
    fn name(&self) -> &str {
        match self {
            AwsSink::Sns(s) => s.name(),
            AwsSink::SecurityHub(s) => s.name(),
            AwsSink::EventBridge(s) => s.name(),
        }
    }

    async fn publish(&self, batch: &FindingBatch) -> Result<usize, PortError> {
        match self {
            AwsSink::Sns(s) => s.publish(batch).await,
            AwsSink::SecurityHub(s) => s.publish(batch).await,
            AwsSink::EventBridge(s) => s.publish(batch).await,
        }
    }
}
