//! The sweep over AWS, shared by `cmkguard scan` and the Lambda's scheduled invocation: one
//! set of adaptive-retry clients per region (from the base clients, so endpoint and
//! credentials carry over), the AWS inventory, the real adapters and the configured sinks.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{sweep, Progress, RegionSweep, SweepOptions};
use crate::aws::listing::{sweep_clients, AwsInventory, SWEEP_MAX_ATTEMPTS};
use crate::aws::sinks::AwsSink;
use crate::aws::{self, Clients};
use crate::config::{Settings, SinkSettings};
use crate::core::schedule::{account_of_arn, SweepRequest};
use crate::scan::report::ScanReport;

/// Sweeps `regions` of `opts.account` with the real adapters. With an OCSF bucket, the
/// digest also points at the sweep's objects.
pub async fn sweep_aws(
    base: &Clients,
    settings: &Settings,
    regions: &[String],
    opts: &SweepOptions,
    progress: &dyn Progress,
) -> ScanReport {
    let mut opts = opts.clone();
    if let Some(bucket) = &settings.sinks.ocsf_bucket {
        let ocsf = crate::aws::sinks::OcsfSink::new(base.s3.clone(), bucket);
        let poster = settings.account.as_deref().unwrap_or(&opts.account);
        let places: Vec<String> = regions
            .iter()
            .map(|r| ocsf.location(poster, r, &crate::app::now_rfc3339()))
            .collect();
        opts.full_report = format!("{}; OCSF events: {}", opts.full_report, places.join(", "));
    }
    let opts = &opts;
    // The sinks post from the guardrail's own region, built once: the Security Hub sink reads
    // the stored findings once for the whole sweep, and its clones share what it read.
    let sinks = aws::deps(base, &settings.sinks).sinks;
    let poster = settings.account.clone().unwrap_or(opts.account.clone());
    for s in &sinks {
        if let AwsSink::SecurityHub(hub) = s {
            match hub.prefetch(&poster).await {
                Ok(n) => {
                    tracing::info!(target: "cmkguard::scan", stored = n, "Security Hub findings read")
                }
                Err(e) => {
                    tracing::warn!(target: "cmkguard::scan", error = %e, "stored findings not read: each batch looks its own up")
                }
            }
        }
    }
    let per_region = regions
        .iter()
        .map(|region| {
            let c = sweep_clients(base, region, SWEEP_MAX_ATTEMPTS);
            let mut deps = aws::deps(&c, &SinkSettings::default());
            deps.sinks = sinks.clone();
            RegionSweep {
                region: region.clone(),
                inventory: AwsInventory::new(c.s3.clone(), c.kms.clone()),
                deps,
            }
        })
        .collect();
    sweep(per_region, settings, opts, progress).await
}

/// Time kept back from the Lambda deadline to finish the running buckets and return.
pub const LAMBDA_MARGIN: Duration = Duration::from_secs(10);

/// The Lambda's scheduled sweep: the event's account (else the function ARN's), the event's
/// region (else the clients'), stopping new work `LAMBDA_MARGIN` before the invocation's
/// deadline (milliseconds since the epoch, from the runtime).
pub async fn lambda_sweep(
    base: &Clients,
    settings: &Settings,
    request: &SweepRequest,
    invoked_function_arn: &str,
    deadline_ms: u64,
    full_report: &str,
) -> ScanReport {
    let account = request
        .account
        .clone()
        .or_else(|| account_of_arn(invoked_function_arn));
    let region = request
        .region
        .clone()
        .unwrap_or_else(|| base.region.clone());
    let Some(account) = account else {
        // Without the owner account every read would go out without ExpectedBucketOwner.
        let mut report = ScanReport::new("", std::slice::from_ref(&region), settings.core.mode);
        report.incomplete = true;
        report.errors.push(super::report::ScanError {
            resource: format!("region:{region}"),
            stage: "start".into(),
            operation: "sweep".into(),
            code: "NoAccount".into(),
            message: "neither the scheduled event nor the function ARN names an account".into(),
            retryable: false,
        });
        return report;
    };
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    let opts = SweepOptions {
        account,
        max_concurrency: super::DEFAULT_MAX_CONCURRENCY,
        deadline: Some(Instant::now() + left.saturating_sub(LAMBDA_MARGIN)),
        full_report: full_report.to_string(),
    };
    sweep_aws(base, settings, &[region], &opts, &()).await
}
