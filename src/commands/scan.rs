//! `cmkguard scan`: the flags, the settings they make (the CMKGUARD_* environment, then the
//! flags on top, report mode unless `--enforce`), the progress bar (stderr, only on a
//! terminal).

use std::io::IsTerminal;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::common::{runtime, LiveArgs, Report, UsageError};
use crate::core::json::is_account_id;
use crate::scan::aws::sweep_aws;
use crate::scan::{Progress, SweepOptions, DEFAULT_MAX_CONCURRENCY};

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The account that owns the buckets (12 digits; sent as ExpectedBucketOwner).
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,
    /// Apply the same patches as the Lambda in enforce mode (default: report only).
    #[arg(long)]
    pub enforce: bool,
    /// Buckets and keys evaluated at once (each bucket makes 4 concurrent reads).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONCURRENCY as u64,
          value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub max_concurrency: u64,
    /// Where to sweep (`--region` repeatable: default the configured region) and the
    /// guardrail settings.
    #[command(flatten)]
    pub live: LiveArgs,
}

/// The progress bar: on stderr when it is a terminal, hidden otherwise (pipes, CI, tests).
struct Bar(ProgressBar);

impl Bar {
    fn new() -> Bar {
        let target = if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(0), target);
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} resources, eta {eta}",
        ) {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(200));
        Bar(bar)
    }
}

impl Progress for Bar {
    fn listed(&self, n: u64) {
        self.0.inc_length(n);
    }

    fn evaluated(&self) {
        self.0.inc(1);
    }
}

/// Sweeps the account: every key and bucket of each region, with a progress bar on a terminal.
pub fn run(args: ScanArgs) -> Result<Report, UsageError> {
    let account = match args.account.as_deref().map(str::trim) {
        Some(a) if is_account_id(a) => a.to_string(),
        Some(a) => {
            return Err(UsageError(format!(
                "--account: '{a}' is not a 12-digit account id"
            )))
        }
        None => {
            return Err(UsageError(
                "scan needs --account ID: the account that owns the buckets (sent as ExpectedBucketOwner)"
                    .into(),
            ))
        }
    };
    let mode = if args.enforce { "enforce" } else { "report" };
    let settings = args.live.settings(Some(mode))?;
    let rt = runtime()?;
    let opts = args.live.aws_options();
    let report = rt.block_on(async {
        let clients = crate::aws::load_clients(&opts).await;
        let regions = if args.live.regions.is_empty() {
            vec![clients.region.clone()]
        } else {
            args.live.regions.clone()
        };
        if regions.iter().any(String::is_empty) {
            return Err(UsageError(
                "no region: pass --region R or set AWS_REGION / a profile region".into(),
            ));
        }
        let sweep = SweepOptions {
            account,
            max_concurrency: args.max_concurrency as usize,
            deadline: None,
        };
        let bar = Bar::new();
        let report = sweep_aws(&clients, &settings, &regions, &sweep, &bar).await;
        bar.0.finish_and_clear();
        Ok(report)
    })?;
    Ok(Report {
        json: serde_json::to_value(&report).unwrap_or_default(),
        text: report.text(),
        violations: report.violations(),
    })
}
