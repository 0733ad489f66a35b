//! The organisation relay Lambda (ORG.md §2), in the security account: fed by the SQS queue
//! behind the central denial bus, it relays each caller-side denial record to the owner's
//! `cmkguard` bus (`relay::relay_sqs`). Clients are built once; the Config aggregator named by
//! `CMKGUARD_RELAY_AGGREGATOR` (optional) resolves buckets whose record does not name their
//! owner. Each batch is logged as one JSON line; owners that stay unknown are logged one line
//! each, with the caller's facts, so they can be followed up centrally. Messages whose entry
//! failed for a reason worth retrying are returned to the queue (`ReportBatchItemFailures`).

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use cmkguard::core::relay::OwnerMap;
use cmkguard::{app, aws, relay};
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let aggregator = std::env::var("CMKGUARD_RELAY_AGGREGATOR")
        .ok()
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty());
    let (forwarder, owners) =
        aws::relay::adapters(&aws::AwsOptions::default(), aggregator.as_deref()).await;
    let (forwarder, owners) = (&forwarder, &owners);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let now = app::now_rfc3339();
        let (outcome, response): (_, SqsBatchResponse) = match owners {
            Some(config) => relay::relay_sqs(&event.payload, config, forwarder, &now).await,
            None => relay::relay_sqs(&event.payload, &OwnerMap::default(), forwarder, &now).await,
        };
        for unknown in &outcome.plan.owner_unknown {
            let line = serde_json::to_string(unknown).unwrap_or_default();
            tracing::warn!(target: "cmkguard::relay::owner_unknown", record = %line);
        }
        match serde_json::to_string(&outcome) {
            Ok(line) => tracing::info!(target: "cmkguard::relay", outcome = %line),
            Err(e) => tracing::error!(error = %e, "relay outcome not serialisable"),
        }
        Ok::<_, lambda_runtime::Error>(response)
    }))
    .await
}
