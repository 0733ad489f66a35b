//! The Lambda function: settings validated and SDK clients built once at cold start; each
//! EventBridge event goes through `app::handle`, except a schedule firing, which runs the
//! account sweep of the function's region (`scan::aws::lambda_sweep`). Transient AWS failures
//! of an event return a `Retryable` error (async invoke retries); everything else returns the
//! Outcome (already logged), so a bad event is not retried pointlessly. A sweep always
//! returns its summary: its per-bucket errors are in it, and the next schedule retries them.

// The handler's future nests the sweep, the event path and the SDK's orchestrator: its layout
// is computed past rustc's default query depth of 128.
#![recursion_limit = "256"]

use cmkguard::core::schedule::sweep_request;
use cmkguard::{app, aws, config, scan};
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let settings = config::from_env(&config::process_env())?;
    let clients = aws::load_clients(&aws::AwsOptions::default()).await;
    let deps = aws::deps(&clients, &settings.sinks);
    let (clients, deps, settings) = (&clients, &deps, &settings);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        if let Some(request) = sweep_request(&event.payload) {
            let ctx = &event.context;
            let report = scan::aws::lambda_sweep(
                clients,
                settings,
                &request,
                &ctx.invoked_function_arn,
                ctx.deadline,
            )
            .await;
            let summary = report.summary_json();
            tracing::info!(target: "cmkguard::sweep", summary = %summary);
            return Ok(summary);
        }
        let outcome = app::handle(&event.payload, deps, settings).await;
        if outcome.retryable() {
            return Err(Diagnostic {
                error_type: "Retryable".into(),
                error_message: "transient AWS failure; see the outcome log line".into(),
            });
        }
        serde_json::to_value(&outcome).map_err(|e| Diagnostic {
            error_type: "NonRetryable".into(),
            error_message: e.to_string(),
        })
    }))
    .await
}
