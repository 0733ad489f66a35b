//! `cmkguard scan`: the flags, the settings they make (the CMKGUARD_* environment, then the
//! flags on top, report mode unless `--enforce`), the progress bar (stderr, only on a
//! terminal) and the report rendering.

use std::io::IsTerminal;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::aws::sweep_aws;
use super::{Progress, SweepOptions, DEFAULT_MAX_CONCURRENCY};
use crate::cli::{Report, UsageError};
use crate::config::Settings;
use crate::core::json::is_account_id;

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Endpoint override, e.g. the emulator's http://127.0.0.1:5000 (forces path-style S3).
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// Region to sweep; repeat for several (default: the configured region).
    #[arg(long = "region", value_name = "R")]
    pub regions: Vec<String>,
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
    /// Overrides CMKGUARD_CMK_ARN (must be a full key ARN).
    #[arg(long)]
    pub cmk_arn: Option<String>,
    /// Adds to CMKGUARD_TRUSTED_ACCOUNTS.
    #[arg(long = "trusted-account", value_name = "ID")]
    pub trusted_accounts: Vec<String>,
    /// Allow usage grants to be added to the CMK's key policy (CMKGUARD_PATCH_KEY_POLICY).
    #[arg(long)]
    pub patch_key_policy: bool,
}

fn settings(args: &ScanArgs) -> Result<Settings, UsageError> {
    let mode = if args.enforce { "enforce" } else { "report" };
    crate::cli::live_settings(
        Some(mode),
        args.cmk_arn.as_deref(),
        &args.trusted_accounts,
        args.patch_key_policy,
    )
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
    let settings = settings(&args)?;
    let rt = crate::cli::runtime()?;
    let opts = crate::aws::AwsOptions {
        endpoint_url: args.endpoint_url.clone(),
        region: args.regions.first().cloned(),
        ..Default::default()
    };
    let report = rt.block_on(async {
        let clients = crate::aws::load_clients(&opts).await;
        let regions = if args.regions.is_empty() {
            vec![clients.region.clone()]
        } else {
            args.regions.clone()
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
