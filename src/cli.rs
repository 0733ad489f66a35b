//! The offline command line: each subcommand reads files, runs one piece of the pure core and
//! prints JSON (`--output json`) or readable text. Exit codes: 0 evaluated, 1 violations with
//! `--fail-on-findings`, 2 bad usage or unreadable input (one line on stderr naming the file).

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;
use serde_json::Value;

use crate::core::config::{Config, Mode};
use crate::core::decide::decide;
use crate::core::event::{parse_event_bytes, EventInput, Parsed};
use crate::core::finding::Remediation;
use crate::core::key_class::classify_key;
use crate::core::plan::Plan;
use crate::core::policy::key_policy::analyse_key_policy;
use crate::core::policy::model::unwrap_document;
use crate::core::policy::patch::{patch_tls, TlsPatch, DEFAULT_TLS_SID};
use crate::core::policy::secure_transport::{evaluate_tls, TlsStatus};
use crate::core::policy::sharing::{evaluate_policy_sharing, BucketContext, Trust};
use crate::core::policy::Policy;
use crate::core::snapshot::Snapshot;

#[derive(Debug, Parser)]
#[command(
    name = "cmkguard",
    version,
    about = "Shared S3 buckets use a customer managed KMS key and enforce TLS"
)]
pub struct Cli {
    /// Output format.
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
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Judge a bucket policy: TLS enforcement and sharing.
    CheckPolicy(CheckPolicy),
    /// Judge a KMS key policy: external usage, external admin, public.
    CheckKeyPolicy {
        /// Key policy: document, JSON string of it, or get-key-policy output ('-' = stdin).
        file: PathBuf,
        /// The key owner's account id.
        #[arg(long)]
        account: String,
    },
    /// Classify a KMS key from describe-key output, KeyMetadata or CloudTrail keyMetadata.
    ClassifyKey { file: PathBuf },
    /// Parse an EventBridge event, a CloudTrail record or a CloudTrail log file.
    ParseEvent { file: PathBuf },
    /// Decide findings and patches for an event against a state file.
    Decide(DecideArgs),
    /// Run the live guardrail on one event against AWS or an emulator (same code as the Lambda).
    Handle(HandleArgs),
    /// Start the local emulator, seed a realistic scenario, and run it in report then enforce mode.
    Demo(DemoArgs),
    /// Self-check: can the CloudTrail events the guardrail needs reach its rules?
    Doctor(crate::doctor::DoctorArgs),
    /// Replay recent CloudTrail management events (LookupEvents) through the handler.
    Backfill(crate::backfill::BackfillArgs),
    /// Sweep every key and bucket of an account (and regions): the same findings and patches
    /// as the Lambda, with bounded concurrency.
    Scan(crate::scan::cli::ScanArgs),
    /// Diagnose a cross-account AccessDenied: the missing half and the statements to paste.
    Diagnose(crate::diagnose_cmd::DiagnoseArgs),
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

#[derive(Debug, Args)]
pub struct CheckPolicy {
    /// Bucket policy: document, JSON string of it, or get-bucket-policy output ('-' = stdin).
    pub file: PathBuf,
    #[arg(long)]
    pub bucket: String,
    /// The bucket owner's account id.
    #[arg(long)]
    pub account: String,
    #[arg(long, default_value = "aws")]
    pub partition: String,
    /// The owner's canonical user id, when CanonicalUser principals should be recognised.
    #[arg(long)]
    pub owner_canonical_id: Option<String>,
    #[command(flatten)]
    pub trust: TrustArgs,
}

#[derive(Debug, Args, Default)]
pub struct TrustArgs {
    #[arg(long = "trusted-account", value_name = "ID")]
    pub accounts: Vec<String>,
    #[arg(long = "trusted-org", value_name = "o-…")]
    pub orgs: Vec<String>,
    #[arg(long = "trusted-vpc", value_name = "vpc-…")]
    pub vpcs: Vec<String>,
    #[arg(long = "trusted-vpce", value_name = "vpce-…")]
    pub vpces: Vec<String>,
}

impl TrustArgs {
    fn into_trust(self) -> Trust {
        Trust {
            accounts: self.accounts.into_iter().collect(),
            orgs: self.orgs.into_iter().collect(),
            vpcs: self.vpcs.into_iter().collect(),
            vpces: self.vpces.into_iter().collect(),
        }
    }

    fn is_empty(&self) -> bool {
        self.accounts.is_empty()
            && self.orgs.is_empty()
            && self.vpcs.is_empty()
            && self.vpces.is_empty()
    }
}

#[derive(Debug, Args)]
pub struct DecideArgs {
    /// Event file (EventBridge envelope, CloudTrail record or log file).
    #[arg(long)]
    pub event: PathBuf,
    /// State file: the Snapshot (see events/README.md and tests/state/).
    #[arg(long)]
    pub state: PathBuf,
    /// Config file (JSON, every field optional).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Overrides the config file's mode.
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Overrides the config file's CMK ARN.
    #[arg(long)]
    pub cmk_arn: Option<String>,
    #[command(flatten)]
    pub trust: TrustArgs,
}

#[derive(Debug, Args)]
pub struct HandleArgs {
    /// Event file (EventBridge envelope, CloudTrail record or log file; '-' = stdin).
    #[arg(long)]
    pub event: PathBuf,
    /// Endpoint override, e.g. the emulator's http://127.0.0.1:5000 (forces path-style S3).
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// Region override (else AWS_REGION / the profile).
    #[arg(long)]
    pub region: Option<String>,
    /// Overrides CMKGUARD_MODE.
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
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

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Port for the emulator (default: a free loopback port).
    #[arg(long)]
    pub port: Option<u16>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    Report,
    Enforce,
}

/// A failure that exits 2: one line, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

pub(crate) fn fail(path: &Path, problem: impl std::fmt::Display) -> UsageError {
    UsageError(format!("{}: {problem}", path.display()))
}

pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>, UsageError> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| fail(path, e))?;
        return Ok(buf);
    }
    std::fs::read(path).map_err(|e| fail(path, e))
}

fn read_json(path: &Path) -> Result<Value, UsageError> {
    let bytes = read_bytes(path)?;
    serde_json::from_slice(&bytes).map_err(|e| fail(path, format!("not valid JSON: {e}")))
}

fn read_policy(path: &Path) -> Result<Policy, UsageError> {
    let v = read_json(path)?;
    Policy::parse_any(&v).map_err(|e| fail(path, e))
}

/// What a subcommand produced: the JSON value, its text rendering, and whether it found
/// violations.
pub struct Report {
    pub json: Value,
    pub text: String,
    pub violations: bool,
}

/// Runs a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    let output = cli.output;
    match execute(cli.command) {
        Ok(report) => {
            match output {
                Output::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&report.json).unwrap_or_default()
                ),
                Output::Text => print!("{}", report.text),
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

fn to_json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn execute(cmd: Command) -> Result<Report, UsageError> {
    match cmd {
        Command::CheckPolicy(args) => check_policy(args),
        Command::CheckKeyPolicy { file, account } => {
            let policy = read_policy(&file)?;
            let r = analyse_key_policy(&policy, &account);
            let mut text = format!(
                "usage granted to: {}\nadmin granted to: {}\npublic: {}\n",
                list_or_none(&r.usage_accounts),
                list_or_none(&r.admin_accounts),
                r.public
            );
            for i in &r.issues {
                text.push_str(&format!(
                    "  {} statement {}: {}\n",
                    i.rule, i.statement, i.detail
                ));
            }
            Ok(Report {
                violations: !r.issues.is_empty(),
                json: to_json(&r),
                text,
            })
        }
        Command::ClassifyKey { file } => {
            let v = read_json(&file)?;
            let k = classify_key(&v).map_err(|e| fail(&file, e))?;
            let text = format!(
                "{}\n  class: {}\n  origin: {}  spec: {}  state: {}\n  usable for S3: {}{}\n  rotation: {}\n",
                k.key_arn,
                to_json(&k.class).as_str().unwrap_or_default(),
                k.origin,
                k.key_spec,
                k.key_state,
                k.usable_for_s3,
                if k.unusable_reasons.is_empty() { String::new() } else { format!(" ({})", k.unusable_reasons.join("; ")) },
                to_json(&k.rotation).as_str().unwrap_or_default()
            );
            Ok(Report {
                json: to_json(&k),
                text,
                violations: false,
            })
        }
        Command::ParseEvent { file } => {
            let bytes = read_bytes(&file)?;
            let input = parse_event_bytes(&bytes).map_err(|e| fail(&file, e))?;
            let (json, items) = match input {
                EventInput::Single(p) => (to_json(&p), vec![p]),
                EventInput::Records(ps) => (to_json(&ps), ps),
            };
            let text = items.iter().map(parsed_line).collect::<String>();
            Ok(Report {
                json,
                text,
                violations: false,
            })
        }
        Command::Decide(args) => decide_cmd(args),
        Command::Doctor(args) => crate::doctor::command(args),
        Command::Backfill(args) => crate::backfill::command(args),
        Command::Handle(args) => handle_cmd(args),
        Command::Scan(args) => crate::scan::cli::run(args),
        Command::Diagnose(args) => crate::diagnose_cmd::run(args),
        Command::Demo(args) => crate::demo::run(args.port)
            .map(|text| Report {
                json: Value::String(text.clone()),
                text,
                violations: false,
            })
            .map_err(UsageError),
        Command::PatchTls {
            file,
            bucket,
            partition,
            sid,
        } => {
            let bytes = read_bytes(&file)?;
            let current = if bytes.iter().all(u8::is_ascii_whitespace) {
                None
            } else {
                let v: Value = serde_json::from_slice(&bytes)
                    .map_err(|e| fail(&file, format!("not valid JSON: {e}")))?;
                if v.is_null() {
                    None
                } else {
                    Some(unwrap_document(&v).map_err(|e| fail(&file, e))?)
                }
            };
            match patch_tls(current.as_ref(), &bucket, &partition, &sid)
                .map_err(|e| fail(&file, format!("patch refused: {e}")))?
            {
                TlsPatch::Patched { policy, .. } => Ok(Report {
                    text: format!(
                        "{}\n",
                        serde_json::to_string_pretty(&policy).unwrap_or_default()
                    ),
                    json: policy,
                    violations: false,
                }),
                TlsPatch::AlreadyEnforced => {
                    eprintln!(
                        "cmkguard: {}: TLS already enforced; policy unchanged",
                        file.display()
                    );
                    let policy = current.unwrap_or(Value::Null);
                    Ok(Report {
                        text: format!(
                            "{}\n",
                            serde_json::to_string_pretty(&policy).unwrap_or_default()
                        ),
                        json: policy,
                        violations: false,
                    })
                }
            }
        }
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

fn parsed_line(p: &Parsed) -> String {
    match p {
        Parsed::Trigger(t) => format!(
            "trigger {}: {} ({}) bucket={} key={} account={} caller={} owner={}\n",
            to_json(&t.kind).as_str().unwrap_or_default(),
            t.event_name,
            t.event_source,
            t.bucket.as_deref().unwrap_or("-"),
            t.key.as_deref().unwrap_or("-"),
            t.account.as_deref().unwrap_or("-"),
            t.caller_account.as_deref().unwrap_or("-"),
            t.owner_account.as_deref().unwrap_or("-"),
        ),
        Parsed::Ignored { reason } => format!("ignored: {reason}\n"),
    }
}

fn check_policy(args: CheckPolicy) -> Result<Report, UsageError> {
    let policy = read_policy(&args.file)?;
    let trust = args.trust.into_trust();
    let ctx = BucketContext {
        bucket: &args.bucket,
        owner_account: &args.account,
        owner_canonical_id: args.owner_canonical_id.as_deref(),
        partition: &args.partition,
    };
    let tls = evaluate_tls(Some(&policy), &args.bucket, &args.partition);
    let sharing = evaluate_policy_sharing(&policy, &ctx, &trust);
    let mut text = format!(
        "secure transport: {}",
        to_json(&tls.status).as_str().unwrap_or_default()
    );
    if let Some(s) = &tls.statement {
        text.push_str(&format!(" (statement {s})"));
    }
    text.push('\n');
    for g in &tls.gaps {
        text.push_str(&format!("  - {g}\n"));
    }
    text.push_str(&format!(
        "sharing: shared={} public={} untrusted={}\n  external accounts: {}\n  organisations: {}\n  unknown principals: {}\n",
        sharing.shared,
        sharing.public,
        sharing.untrusted,
        list_or_none(&sharing.external_accounts),
        list_or_none(&sharing.organisations),
        list_or_none(&sharing.unknown_principals)
    ));
    for r in &sharing.reasons {
        text.push_str(&format!("  - {r}\n"));
    }
    let violations = tls.status != TlsStatus::Enforced || sharing.untrusted;
    let json = serde_json::json!({"secure_transport": to_json(&tls), "sharing": to_json(&sharing)});
    Ok(Report {
        json,
        text,
        violations,
    })
}

fn decide_cmd(args: DecideArgs) -> Result<Report, UsageError> {
    let mut config: Config = match &args.config {
        Some(path) => serde_json::from_value(read_json(path)?)
            .map_err(|e| fail(path, format!("invalid config: {e}")))?,
        None => Config::default(),
    };
    if let Some(m) = args.mode {
        config.mode = match m {
            ModeArg::Report => Mode::Report,
            ModeArg::Enforce => Mode::Enforce,
        };
    }
    if args.cmk_arn.is_some() {
        config.cmk_arn = args.cmk_arn.clone();
    }
    if !args.trust.is_empty() {
        config.trust = args.trust.into_trust();
    }
    let snapshot: Snapshot = serde_json::from_value(read_json(&args.state)?)
        .map_err(|e| fail(&args.state, format!("invalid state: {e}")))?;
    let bytes = read_bytes(&args.event)?;
    let input = parse_event_bytes(&bytes).map_err(|e| fail(&args.event, e))?;
    let run = |p: &Parsed| -> Value {
        match p {
            Parsed::Trigger(t) => to_json(&decide(t, &snapshot, &config)),
            Parsed::Ignored { reason } => serde_json::json!({"ignored": {"reason": reason}}),
        }
    };
    let plans: Vec<(Value, Option<Plan>)> = match &input {
        EventInput::Single(p) => vec![(run(p), plan_of(p, &snapshot, &config))],
        EventInput::Records(ps) => ps
            .iter()
            .map(|p| (run(p), plan_of(p, &snapshot, &config)))
            .collect(),
    };
    let violations = plans
        .iter()
        .any(|(_, p)| p.as_ref().is_some_and(Plan::has_violations));
    let text = plans
        .iter()
        .map(|(v, p)| match p {
            Some(plan) => render_plan(plan),
            None => format!(
                "ignored: {}\n",
                v["ignored"]["reason"].as_str().unwrap_or("")
            ),
        })
        .collect::<String>();
    let json = match input {
        EventInput::Single(_) => plans
            .into_iter()
            .next()
            .map(|(v, _)| v)
            .unwrap_or(Value::Null),
        EventInput::Records(_) => Value::Array(plans.into_iter().map(|(v, _)| v).collect()),
    };
    Ok(Report {
        json,
        text,
        violations,
    })
}

fn plan_of(p: &Parsed, snapshot: &Snapshot, config: &Config) -> Option<Plan> {
    match p {
        Parsed::Trigger(t) => Some(decide(t, snapshot, config)),
        Parsed::Ignored { .. } => None,
    }
}

fn remediation_line(r: &Remediation) -> String {
    let list = |steps: &[usize]| {
        steps
            .iter()
            .map(|s| format!("step {s}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match r {
        Remediation::Planned { steps } => format!("patch: {}", list(steps)),
        Remediation::WouldApply { steps } => format!("patch in enforce mode: {}", list(steps)),
        Remediation::Exempt => "patch: none (exempt)".to_string(),
        Remediation::Manual { reason } => format!("patch: none — {reason}"),
    }
}

/// Readable rendering of a plan (also used by later front ends).
pub fn render_plan(plan: &Plan) -> String {
    let mut out = format!(
        "{} {} ({} mode)\n",
        plan.subject.event_name,
        plan.subject.resource.as_deref().unwrap_or("-"),
        to_json(&plan.mode).as_str().unwrap_or_default()
    );
    if let Some(reason) = &plan.ignored {
        out.push_str(&format!("  ignored: {reason}\n"));
        return out;
    }
    if plan.findings.is_empty() {
        out.push_str("  no findings\n");
    }
    for f in &plan.findings {
        out.push_str(&format!(
            "  [{}] {}{} — {}\n",
            f.severity.as_str(),
            f.rule_id,
            if f.exempt { " (exempt)" } else { "" },
            f.resource_arn
        ));
        for r in &f.reasons {
            out.push_str(&format!("      - {r}\n"));
        }
        out.push_str(&format!("      fix: {}\n", f.fix));
        out.push_str(&format!("      {}\n", remediation_line(&f.remediation)));
    }
    for (i, s) in plan.steps.iter().enumerate() {
        out.push_str(&format!("  step {i}: {} {}\n", s.api(), s.target()));
    }
    for n in &plan.notes {
        out.push_str(&format!("  note: {n}\n"));
    }
    out
}

/// The settings for `handle`: the CMKGUARD_* environment, then the flags on top.
fn handle_settings(args: &HandleArgs) -> Result<crate::config::Settings, UsageError> {
    let mode = args.mode.map(|m| match m {
        ModeArg::Report => "report",
        ModeArg::Enforce => "enforce",
    });
    live_settings(
        mode,
        args.cmk_arn.as_deref(),
        &args.trusted_accounts,
        args.patch_key_policy,
    )
}

/// Settings of the live subcommands: the CMKGUARD_* environment, overridden by the flags
/// (trusted accounts are added to the environment's).
pub fn live_settings(
    mode: Option<&str>,
    cmk_arn: Option<&str>,
    trusted_accounts: &[String],
    patch_key_policy: bool,
) -> Result<crate::config::Settings, UsageError> {
    let mut env = crate::config::process_env();
    if let Some(m) = mode {
        env.insert("CMKGUARD_MODE".into(), m.into());
    }
    if let Some(arn) = cmk_arn {
        env.insert("CMKGUARD_CMK_ARN".into(), arn.to_string());
    }
    if !trusted_accounts.is_empty() {
        let mut all: Vec<String> = env
            .get("CMKGUARD_TRUSTED_ACCOUNTS")
            .map(|s| vec![s.clone()])
            .unwrap_or_default();
        all.extend(trusted_accounts.iter().cloned());
        env.insert("CMKGUARD_TRUSTED_ACCOUNTS".into(), all.join(","));
    }
    if patch_key_policy {
        env.insert("CMKGUARD_PATCH_KEY_POLICY".into(), "true".into());
    }
    crate::config::from_env(&env).map_err(|e| UsageError(format!("configuration: {e}")))
}

/// The multi-threaded runtime the live subcommands run on.
pub fn runtime() -> Result<tokio::runtime::Runtime, UsageError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| UsageError(format!("cannot start the async runtime: {e}")))
}

fn handle_cmd(args: HandleArgs) -> Result<Report, UsageError> {
    let event = read_json(&args.event)?;
    let settings = handle_settings(&args)?;
    let rt = runtime()?;
    let opts = crate::aws::AwsOptions {
        endpoint_url: args.endpoint_url.clone(),
        region: args.region.clone(),
        ..Default::default()
    };
    let (outcome, requests) = rt.block_on(async {
        let (clients, requests) = crate::aws::load_counted_clients(&opts).await;
        let deps = crate::aws::deps(&clients, &settings.sinks);
        let outcome = crate::app::handle(&event, &deps, &settings).await;
        (outcome, requests.snapshot())
    });
    // The Outcome plus what it cost in AWS requests (src/aws/metrics.rs).
    let mut json = to_json(&outcome);
    if let Value::Object(map) = &mut json {
        map.insert("requests".into(), to_json(&requests));
    }
    let mut text = crate::render::outcome_text(&outcome);
    text.push_str(&format!(
        "requests: {} ({} reads, {} writes), round-trip depth {}\n",
        requests.total, requests.reads, requests.writes, requests.depth
    ));
    Ok(Report {
        json,
        text,
        violations: outcome.findings().any(|f| !f.exempt) || outcome.has_errors(),
    })
}
