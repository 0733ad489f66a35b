//! `cmkguard scan`: the flags, the settings they make (the CMKGUARD_* environment, then the
//! flags on top, report mode unless `--enforce`), the progress bar (stderr, only on a
//! terminal).

use std::io::IsTerminal;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::common::{runtime, LiveArgs, Report, UsageError};
use crate::core::json::is_account_id;
use crate::ports::{FindingBatch, FindingStatus, Published};
use crate::scan::aws::sweep_aws;
use crate::scan::{Progress, SweepOptions, DEFAULT_MAX_CONCURRENCY};

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The account that owns the buckets (12 digits; sent as ExpectedBucketOwner). Default:
    /// the caller's account (STS GetCallerIdentity).
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

/// `--region all`: every region the account has enabled.
pub const ALL_REGIONS: &str = "all";

/// Sweeps the account: every key and bucket of each region, with a progress bar on a terminal.
pub fn run(args: ScanArgs) -> Result<Report, UsageError> {
    let given = match args.account.as_deref().map(str::trim) {
        Some(a) if is_account_id(a) => Some(a.to_string()),
        Some(a) => {
            return Err(UsageError(format!(
                "--account: '{a}' is not a 12-digit account id"
            )))
        }
        None => None,
    };
    let all = args.live.regions.iter().any(|r| r == ALL_REGIONS);
    if all && args.live.regions.len() > 1 {
        return Err(UsageError(
            "--region all sweeps every enabled region: give it alone".into(),
        ));
    }
    let mode = if args.enforce { "enforce" } else { "report" };
    let mut settings = args.live.settings(Some(mode))?;
    let rt = runtime()?;
    let mut opts = args.live.aws_options();
    if all {
        // The base clients' region: the standard chain's (AWS_REGION, the profile).
        opts.region = None;
    }
    let (report, batch) = rt.block_on(async {
        let clients = crate::aws::load_clients(&opts).await;
        // The caller posts the findings (Security Hub accepts only its own account's) and is
        // the account swept unless --account says otherwise.
        let caller = clients.identity.caller_account().await;
        let account = match (given, &caller) {
            (Some(a), _) => a,
            (None, Ok(a)) => a.clone(),
            (None, Err(e)) => {
                return Err(UsageError(format!(
                    "no --account, and the caller's account is unknown (sts:GetCallerIdentity: {e})"
                )))
            }
        };
        settings.account = caller.ok();
        let regions = if all {
            clients.identity.enabled_regions().await.map_err(|e| {
                UsageError(format!(
                    "--region all: the account's enabled regions cannot be listed ({e})"
                ))
            })?
        } else if args.live.regions.is_empty() {
            vec![clients.region.clone()]
        } else {
            args.live.regions.clone()
        };
        if regions.iter().any(String::is_empty) {
            return Err(UsageError(
                "no region: pass --region R (or all), or set AWS_REGION / a profile region".into(),
            ));
        }
        let sweep = SweepOptions {
            account,
            max_concurrency: args.max_concurrency as usize,
            deadline: None,
            full_report: "the output of this cmkguard scan run (--output json, ocsf or asff)"
                .into(),
        };
        let bar = Bar::new();
        let report = sweep_aws(&clients, &settings, &regions, &sweep, &bar).await;
        bar.0.finish_and_clear();
        let batch = report_batch(&report, &settings, &clients.region);
        Ok((report, batch))
    })?;
    Ok(Report {
        json: serde_json::to_value(&report).unwrap_or_default(),
        text: report.text(),
        violations: report.violations(),
        batch: Some(batch),
    })
}

/// The sweep's findings as one batch, for `--output ocsf` / `asff`.
fn report_batch(
    report: &crate::scan::report::ScanReport,
    settings: &crate::config::Settings,
    region: &str,
) -> FindingBatch {
    let findings = report
        .findings
        .iter()
        .map(|f| Published {
            finding: f.clone(),
            status: if report.fixed.contains(&f.id) {
                FindingStatus::Fixed
            } else {
                FindingStatus::Open
            },
            done: Vec::new(),
        })
        .collect();
    FindingBatch {
        findings,
        passed: Vec::new(),
        archived: Vec::new(),
        time: crate::app::now_rfc3339(),
        account: settings.account.clone().unwrap_or_default(),
        region: region.to_string(),
    }
}
