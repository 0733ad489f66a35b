//! The Lambda function: settings validated and SDK clients built once at cold start; each
//! EventBridge event goes through `app::handle`, except a schedule firing, which runs the
//! account sweep of the function's region (`scan::aws::lambda_sweep`). Transient AWS failures
//! of an event return a `Retryable` error (async invoke retries); everything else returns the
//! Outcome (already logged), so a bad event is not retried pointlessly. A sweep always
//! returns its summary: its per-bucket errors are in it, and the next schedule retries them.

// The handler's future nests the sweep, the event path and the SDK's orchestrator: its layout
// is computed past rustc's default query depth of 128.
#![recursion_limit = "256"]

use cmkguard::core::schedule::{account_of_arn, sweep_request};
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
        // The account that posts the findings is the function's own (Security Hub accepts
        // only the caller's): from the invocation context, not from an event.
        let mut settings = settings.clone();
        settings.account = account_of_arn(&event.context.invoked_function_arn);
        let settings = &settings;
        if let Some(request) = sweep_request(&event.payload) {
            let ctx = &event.context;
            // Where the digest says the full report is: this invocation's log stream.
            let env = |k: &str| std::env::var(k).unwrap_or_default();
            let full_report = format!(
                "CloudWatch Logs group {} stream {} (the cmkguard::sweep line)",
                env("AWS_LAMBDA_LOG_GROUP_NAME"),
                env("AWS_LAMBDA_LOG_STREAM_NAME")
            );
            let report = scan::aws::lambda_sweep(
                clients,
                settings,
                &request,
                &ctx.invoked_function_arn,
                ctx.deadline,
                &full_report,
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
