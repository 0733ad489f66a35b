//! The command line: the `Cli` and its subcommands (one file each; `offline` holds the six
//! that run the pure core on files), the dispatch, and the exit codes — 0 evaluated, 1
//! violations with `--fail-on-findings`, 2 bad usage or unreadable input (one line on stderr
//! naming the file). Subcommands return a `Report`; printing it is done here, once.

pub mod backfill;
pub mod check_template;
pub mod common;
#[cfg(feature = "dev")]
pub mod demo;
pub mod diagnose;
pub mod doctor;
pub mod handle;
pub mod offline;
pub mod relay;
pub mod scan;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use serde_json::Value;

use crate::core::policy::patch::DEFAULT_TLS_SID;
use crate::render::{asff_batch, ocsf, Poster};
pub use common::{Report, UsageError};

#[derive(Debug, Parser)]
#[command(
    name = "cmkguard",
    version,
    about = "Shared S3 buckets use a customer managed KMS key and enforce TLS"
)]
pub struct Cli {
    /// Output format (sarif: check-template only).
    #[arg(long, value_enum, global = true, default_value_t = Output::Text)]
    pub output: Output,
    /// Exit 1 when violations are found (decide, check-policy, check-key-policy).
    #[arg(long, global = true)]
    pub fail_on_findings: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
    /// SARIF 2.1.0 (GitHub code scanning); only `check-template` writes it.
    Sarif,
    /// The findings as OCSF 1.1.0 Compliance Finding events (a JSON array): decide, handle,
    /// scan, diagnose.
    Ocsf,
    /// The findings as the ASFF documents Security Hub would receive (a JSON array): decide,
    /// handle, scan, diagnose.
    Asff,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Judge a bucket policy: TLS enforcement and sharing.
    CheckPolicy(offline::CheckPolicy),
    /// Judge CloudFormation / SAM templates, CDK synth output or Terraform plans before deploy.
    CheckTemplate(check_template::CheckTemplateArgs),
    /// Judge a KMS key policy: external usage, external admin, public.
    CheckKeyPolicy {
        /// Key policy: document, JSON string of it, or get-key-policy output ('-' = stdin).
        file: PathBuf,
        /// The key owner's account id.
        #[arg(long)]
        account: String,
        /// The key's grants (list-grants output): accounts they opt in join `account_usage`.
        #[arg(long)]
        grants: Option<PathBuf>,
    },
    /// Classify a KMS key from describe-key output, KeyMetadata or CloudTrail keyMetadata.
    ClassifyKey { file: PathBuf },
    /// Parse an EventBridge event, a CloudTrail record or a CloudTrail log file.
    ParseEvent { file: PathBuf },
    /// Decide findings and patches for an event against a state file.
    Decide(offline::DecideArgs),
    /// Run the live guardrail on one event against AWS or an emulator (same code as the Lambda).
    Handle(handle::HandleArgs),
    /// Start the local emulator, seed a realistic scenario, and run it in report then enforce mode.
    #[cfg(feature = "dev")]
    Demo(demo::DemoArgs),
    /// Self-check: can the CloudTrail events the guardrail needs reach its rules?
    Doctor(doctor::DoctorArgs),
    /// Replay recent CloudTrail management events (LookupEvents) through the handler.
    Backfill(backfill::BackfillArgs),
    /// Sweep every key and bucket of an account (and regions): the same findings and patches
    /// as the Lambda, with bounded concurrency.
    Scan(scan::ScanArgs),
    /// Diagnose a cross-account AccessDenied: the missing half and the statements to paste.
    Diagnose(diagnose::DiagnoseArgs),
    /// The organisation relay's plan for denial records, offline: which owner's cmkguard bus
    /// each goes to, which owners are unknown, what is dropped.
    Relay(relay::RelayArgs),
    /// Print the bucket policy with the TLS Deny upserted (exit 2 with the reason if refused).
    PatchTls {
        /// Current bucket policy ('-' = stdin; an empty file or `null` = no policy).
        file: PathBuf,
        #[arg(long)]
        bucket: String,
        #[arg(long, default_value = "aws")]
        partition: String,
        #[arg(long, default_value = DEFAULT_TLS_SID)]
        sid: String,
    },
}

/// The commands that make findings, and so print `--output ocsf` / `asff`.
fn makes_findings(cmd: &Command) -> bool {
    matches!(
        cmd,
        Command::Decide(_) | Command::Handle(_) | Command::Scan(_) | Command::Diagnose(_)
    )
}

/// The report's findings as OCSF events or ASFF documents.
fn findings_output(report: &Report, output: Output) -> Value {
    let Some(batch) = &report.batch else {
        return Value::Array(Vec::new());
    };
    let poster = Poster::of(batch);
    match output {
        Output::Ocsf => Value::Array(ocsf::ocsf_batch(batch, &poster)),
        _ => serde_json::to_value(asff_batch(batch, &poster)).unwrap_or(Value::Null),
    }
}

/// Runs a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    let output = cli.output;
    if matches!(output, Output::Ocsf | Output::Asff) && !makes_findings(&cli.command) {
        eprintln!(
            "cmkguard: --output {} applies to decide, handle, scan and diagnose",
            if output == Output::Ocsf {
                "ocsf"
            } else {
                "asff"
            }
        );
        return 2;
    }
    match execute(cli.command, output) {
        Ok(report) => {
            match output {
                Output::Json | Output::Sarif => println!(
                    "{}",
                    serde_json::to_string_pretty(&report.json).unwrap_or_default()
                ),
                Output::Text => print!("{}", report.text),
                Output::Ocsf | Output::Asff => println!(
                    "{}",
                    serde_json::to_string_pretty(&findings_output(&report, output))
                        .unwrap_or_default()
                ),
            }
            if cli.fail_on_findings && report.violations {
                1
            } else {
                0
            }
        }
        Err(e) => {
            eprintln!("cmkguard: {e}");
            2
        }
    }
}

fn execute(cmd: Command, output: Output) -> Result<Report, UsageError> {
    if output == Output::Sarif && !matches!(cmd, Command::CheckTemplate(_)) {
        return Err(UsageError(
            "--output sarif is written only by check-template; use text or json here".into(),
        ));
    }
    match cmd {
        Command::CheckTemplate(args) => check_template::run(args, output),
        Command::CheckPolicy(args) => offline::check_policy(args),
        Command::CheckKeyPolicy {
            file,
            account,
            grants,
        } => offline::check_key_policy(&file, &account, grants.as_deref()),
        Command::ClassifyKey { file } => offline::classify(&file),
        Command::ParseEvent { file } => offline::parse_event(&file),
        Command::Decide(args) => offline::decide_cmd(args),
        Command::PatchTls {
            file,
            bucket,
            partition,
            sid,
        } => offline::patch(&file, &bucket, &partition, &sid),
        Command::Handle(args) => handle::run(args),
        #[cfg(feature = "dev")]
        Command::Demo(args) => demo::run(args),
        Command::Doctor(args) => doctor::command(args),
        Command::Backfill(args) => backfill::command(args),
        Command::Scan(args) => scan::run(args),
        Command::Diagnose(args) => diagnose::run(args),
        Command::Relay(args) => relay::run(args),
    }
}
