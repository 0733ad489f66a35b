//! The Lambda function: settings validated and SDK clients built once at cold start; each
//! EventBridge event goes through `app::handle`. Transient AWS failures return a `Retryable`
//! error (async invoke retries); everything else returns the Outcome (already logged), so a
//! bad event is not retried pointlessly.

use cmkguard::{app, aws, config};
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let settings = config::from_env(&config::process_env())?;
    let clients = aws::load_clients(&aws::AwsOptions::default()).await;
    let deps = aws::deps(&clients, &settings.sinks);
    let (deps, settings) = (&deps, &settings);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
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
