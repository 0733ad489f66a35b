//! `cmkguard demo` (cargo feature `dev`): starts the local emulator, seeds the demo world
//! (`dev::scenario`), feeds its CloudTrail events through `app::handle` in report mode, then
//! enforce mode, then enforce mode again (nothing left to do), sweeps the account as `scan`
//! does, and prints what it found and what it patched. The emulator is stopped at exit.

use clap::Args;
use serde_json::Value;

use super::common::{Report, UsageError};
use super::handle::outcome_text;
use crate::app::{self, Outcome};
use crate::aws::{self, Clients};
use crate::core::config::Mode;
use crate::dev::emulator::Emulator;
use crate::dev::scenario::{
    demo_settings, emulator_options, seed, Scenario, COMPUTE_ACCOUNT, DATA_ACCOUNT, REGION,
};
use crate::dev::seed::Seeder;
use crate::scan::aws::sweep_aws;
use crate::scan::{SweepOptions, DEFAULT_MAX_CONCURRENCY};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Port for the emulator (default: a free loopback port).
    #[arg(long)]
    pub port: Option<u16>,
}

async fn pass(
    clients: &Clients,
    scenario: &Scenario,
    mode: Mode,
    title: &str,
) -> (String, Vec<Outcome>) {
    let settings = demo_settings(mode, &scenario.cmk_arn, &scenario.topic_arn);
    let deps = aws::deps(clients, &settings.sinks);
    let mut text = format!("\n=== {title} ===\n");
    let mut outcomes = Vec::new();
    for (label, event) in &scenario.events {
        let o = app::handle(event, &deps, &settings).await;
        text.push_str(&format!("\n--- event: {label}\n"));
        text.push_str(&outcome_text(&o));
        outcomes.push(o);
    }
    (text, outcomes)
}

async fn scenario_run(endpoint_url: &str) -> Result<String, String> {
    let clients = aws::load_clients(&emulator_options(endpoint_url)).await;
    let scenario = seed(&clients).await?;
    let mut text = format!(
        "cmkguard demo on the local emulator at {endpoint_url}\n\
         data account {DATA_ACCOUNT} ({REGION}), compute account {COMPUTE_ACCOUNT}\n\
         buckets: data-shared-analytics (shared, aws/s3), data-no-tls, data-exempt (tagged exempt), data-compliant\n\
         CMK {} (key policy misses {COMPUTE_ACCOUNT}); compliant key {}\n",
        scenario.cmk_arn, scenario.compliant_key_arn
    );
    let (t, _) = pass(
        &clients,
        &scenario,
        Mode::Report,
        "report mode: findings only, no writes",
    )
    .await;
    text.push_str(&t);
    let (t, enforce) = pass(
        &clients,
        &scenario,
        Mode::Enforce,
        "enforce mode: patches, verified",
    )
    .await;
    text.push_str(&t);
    let (t, again) = pass(
        &clients,
        &scenario,
        Mode::Enforce,
        "enforce mode again: nothing left to do",
    )
    .await;
    text.push_str(&t);
    // The sweep (`cmkguard scan`): every key and bucket of the account, whatever the events
    // said. After enforce mode only the exempt bucket and what needs a human are left.
    let sweep_settings = demo_settings(Mode::Report, &scenario.cmk_arn, &scenario.topic_arn);
    let sweep = sweep_aws(
        &clients,
        &sweep_settings,
        &[REGION.to_string()],
        &SweepOptions {
            account: DATA_ACCOUNT.to_string(),
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            deadline: None,
            full_report: "the demo output above".to_string(),
        },
        &(),
    )
    .await;
    text.push_str("\n=== sweep (cmkguard scan, report mode): every bucket and key ===\n");
    text.push_str(&sweep.text());
    let writes = |os: &[Outcome]| {
        os.iter()
            .flat_map(|o| o.writes())
            .filter(|w| matches!(w.result, app::WriteResult::Verified))
            .count()
    };
    let hub = Seeder { clients: &clients }
        .security_hub_findings()
        .await
        .unwrap_or_default();
    let failed = hub.iter().filter(|(_, _, s)| s == "FAILED").count();
    let passed = hub.iter().filter(|(_, _, s)| s == "PASSED").count();
    text.push_str(&format!(
        "\n=== summary ===\nverified writes in enforce mode: {}\nwrites on the repeated run: {}\nSecurity Hub now holds {} findings: {failed} FAILED, {passed} PASSED\n",
        writes(&enforce),
        writes(&again),
        hub.len()
    ));
    Ok(text)
}

/// Runs the demo; returns the report text.
fn demo_text(port: Option<u16>) -> Result<String, String> {
    let emulator = Emulator::start(port)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let result = rt.block_on(scenario_run(&emulator.endpoint_url));
    drop(emulator);
    result
}

/// The `demo` subcommand.
pub fn run(args: DemoArgs) -> Result<Report, UsageError> {
    let text = demo_text(args.port).map_err(UsageError)?;
    Ok(Report {
        json: Value::String(text.clone()),
        text,
        violations: false,
        batch: None,
    })
}
