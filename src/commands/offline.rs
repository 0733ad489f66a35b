//! The offline subcommands: each reads files, runs one piece of the pure core and returns a
//! `Report` — check-policy, check-key-policy, classify-key, parse-event, decide, patch-tls. No
//! AWS call, no clock, no environment.

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::Value;

use super::common::{
    fail, list_or_none, merge_batches, open_batch, read_bytes, read_json, read_policy, to_json,
    ModeArg, Report, UsageError,
};
use crate::core::config::{Config, Mode};
use crate::core::decide::decide;
use crate::core::event::{parse_event_bytes, EventInput, Parsed};
use crate::core::finding::Remediation;
use crate::core::key_class::classify_key;
use crate::core::plan::Plan;
use crate::core::policy::key_policy::analyse_key_policy;
use crate::core::policy::model::unwrap_document;
use crate::core::policy::patch::{patch_tls, TlsPatch};
use crate::core::policy::secure_transport::{evaluate_tls, TlsStatus};
use crate::core::policy::sharing::{evaluate_policy_sharing, BucketContext, Trust};
use crate::core::snapshot::Snapshot;

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

/// `check-key-policy`: who may use and administer the key.
pub fn check_key_policy(file: &Path, account: &str) -> Result<Report, UsageError> {
    let policy = read_policy(file)?;
    let r = analyse_key_policy(&policy, account);
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
        batch: None,
    })
}

/// `classify-key`: the key class and what it allows.
pub fn classify(file: &Path) -> Result<Report, UsageError> {
    let v = read_json(file)?;
    let k = classify_key(&v).map_err(|e| fail(file, e))?;
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
        batch: None,
    })
}

/// `parse-event`: the trigger (or the reason it is ignored) of each record.
pub fn parse_event(file: &Path) -> Result<Report, UsageError> {
    let bytes = read_bytes(file)?;
    let input = parse_event_bytes(&bytes).map_err(|e| fail(file, e))?;
    let (json, items) = match input {
        EventInput::Single(p) => (to_json(&p), vec![p]),
        EventInput::Records(ps) => (to_json(&ps), ps),
    };
    let text = items.iter().map(parsed_line).collect::<String>();
    Ok(Report {
        json,
        text,
        violations: false,
        batch: None,
    })
}

/// `patch-tls`: the policy with the TLS Deny upserted, or the refusal.
pub fn patch(file: &Path, bucket: &str, partition: &str, sid: &str) -> Result<Report, UsageError> {
    let bytes = read_bytes(file)?;
    let current = if bytes.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| fail(file, format!("not valid JSON: {e}")))?;
        if v.is_null() {
            None
        } else {
            Some(unwrap_document(&v).map_err(|e| fail(file, e))?)
        }
    };
    match patch_tls(current.as_ref(), bucket, partition, sid)
        .map_err(|e| fail(file, format!("patch refused: {e}")))?
    {
        TlsPatch::Patched { policy, .. } => Ok(Report {
            text: format!(
                "{}\n",
                serde_json::to_string_pretty(&policy).unwrap_or_default()
            ),
            json: policy,
            violations: false,
            batch: None,
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
                batch: None,
            })
        }
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

/// `check-policy`: TLS enforcement and sharing of a bucket policy.
pub fn check_policy(args: CheckPolicy) -> Result<Report, UsageError> {
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
        batch: None,
    })
}

/// `decide`: the plan for each record of the event against the state file.
pub fn decide_cmd(args: DecideArgs) -> Result<Report, UsageError> {
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
    // The findings as the Lambda of the recording account would post them.
    let triggers: Vec<&Parsed> = match &input {
        EventInput::Single(p) => vec![p],
        EventInput::Records(ps) => ps.iter().collect(),
    };
    let batch = merge_batches(
        triggers
            .iter()
            .zip(&plans)
            .filter_map(|(p, (_, plan))| match (p, plan) {
                (Parsed::Trigger(t), Some(plan)) => {
                    let mut b = open_batch(&plan.findings, &plan.passed, Some(t));
                    b.archived = plan.archived.clone();
                    Some(b)
                }
                _ => None,
            })
            .collect(),
    );
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
        batch,
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

/// Readable rendering of a plan.
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
        out.push_str(&format!("  {}\n", f.line()));
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
