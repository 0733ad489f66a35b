//! `cmkguard handle`: the Lambda's own `app::handle` on one event file, against AWS or an
//! emulator, printing the Outcome (JSON with the AWS requests it cost, or text for people).

use std::path::PathBuf;

use clap::Args;
use serde_json::Value;

use super::common::{
    merge_batches, open_batch, read_json, runtime, to_json, LiveArgs, ModeArg, Report, UsageError,
};
use crate::app::{Outcome, WriteResult};
use crate::ports::{FindingBatch, FindingStatus};

#[derive(Debug, Args)]
pub struct HandleArgs {
    /// Event file (EventBridge envelope, CloudTrail record or log file; '-' = stdin).
    #[arg(long)]
    pub event: PathBuf,
    /// Overrides CMKGUARD_MODE.
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    #[command(flatten)]
    pub live: LiveArgs,
}

/// Runs `app::handle` on the event with the AWS adapters and the configured sinks.
pub fn run(args: HandleArgs) -> Result<Report, UsageError> {
    let event = read_json(&args.event)?;
    args.live.region()?;
    let mut settings = args.live.settings(args.mode.map(ModeArg::as_str))?;
    let rt = runtime()?;
    let opts = args.live.aws_options();
    let (outcome, requests) = rt.block_on(async {
        let (clients, requests) = crate::aws::load_counted_clients(&opts).await;
        if settings.sinks.security_hub {
            // Security Hub takes only the caller's own findings: ask who the caller is (not
            // counted: the Lambda knows it from its context).
            match clients.identity.caller_account().await {
                Ok(a) => settings.account = Some(a),
                Err(e) => tracing::warn!(error = %e, "caller account unknown: Security Hub will refuse the findings"),
            }
        }
        let deps = crate::aws::deps(&clients, &settings.sinks);
        let outcome = crate::app::handle(&event, &deps, &settings).await;
        (outcome, requests.snapshot())
    });
    let batch = handle_batch(&outcome, settings.account.as_deref());
    // The Outcome plus what it cost in AWS requests (src/aws/metrics.rs).
    let mut json = to_json(&outcome);
    if let Value::Object(map) = &mut json {
        map.insert("requests".into(), to_json(&requests));
    }
    let mut text = outcome_text(&outcome);
    text.push_str(&format!(
        "requests: {} ({} reads, {} writes), round-trip depth {}\n",
        requests.total, requests.reads, requests.writes, requests.depth
    ));
    Ok(Report {
        json,
        text,
        violations: outcome.findings().any(|f| !f.exempt) || outcome.has_errors(),
        batch,
    })
}

/// The Outcome's findings (fixed ones resolved) as one batch, posted as `account` (else the
/// account that recorded the event), for `--output ocsf` / `asff`.
fn handle_batch(o: &Outcome, account: Option<&str>) -> Option<FindingBatch> {
    let batches = o
        .results
        .iter()
        .filter(|r| r.ignored.is_none())
        .map(|r| {
            let mut b = open_batch(&r.findings, &r.passed, r.trigger.as_ref());
            for p in &mut b.findings {
                if r.fixed.contains(&p.finding.id) {
                    p.status = FindingStatus::Fixed;
                }
            }
            b.time = crate::app::now_rfc3339();
            if let Some(a) = account {
                b.account = a.to_string();
            }
            b
        })
        .collect();
    merge_batches(batches)
}

/// The Outcome for people: per record, the findings (rule, severity, resource, exempt flag,
/// reasons, fix) and the writes made.
pub fn outcome_text(o: &Outcome) -> String {
    let mut out = String::new();
    for r in &o.results {
        match (&r.trigger, &r.ignored) {
            (Some(t), _) => out.push_str(&format!(
                "{} {} ({:?} mode){}\n",
                t.event_name,
                t.bucket.as_deref().or(t.key.as_deref()).unwrap_or("-"),
                r.mode,
                r.ignored
                    .as_ref()
                    .map(|i| format!(": ignored, {i}"))
                    .unwrap_or_default()
            )),
            (None, Some(i)) => out.push_str(&format!("ignored: {i}\n")),
            (None, None) => out.push_str("ignored\n"),
        }
        for f in &r.findings {
            let state = if r.fixed.contains(&f.id) {
                "FIXED"
            } else if f.exempt {
                "EXEMPT"
            } else {
                "OPEN"
            };
            out.push_str(&format!(
                "  [{}] {} {} {} (exempt: {})\n",
                f.severity.as_str(),
                f.rule_id,
                f.resource_arn,
                state,
                f.exempt
            ));
            for reason in &f.reasons {
                out.push_str(&format!("      - {reason}\n"));
            }
            if state != "FIXED" {
                out.push_str(&format!("      fix: {}\n", f.fix));
            }
        }
        if !r.passed.is_empty() {
            let names: Vec<String> = r.passed.iter().map(|p| p.rule_id.to_string()).collect();
            out.push_str(&format!("  passed: {}\n", names.join(", ")));
        }
        for w in &r.writes {
            let result = match &w.result {
                WriteResult::Verified => "written, verified".to_string(),
                WriteResult::AlreadyApplied => "already in place, not written".to_string(),
                WriteResult::Unverified { reason } => format!("written, NOT verified: {reason}"),
                WriteResult::Failed { error, retryable } => {
                    format!("FAILED (retryable: {retryable}): {error}")
                }
                WriteResult::Skipped { reason } => format!("skipped: {reason}"),
            };
            out.push_str(&format!("  write {} {}: {result}\n", w.api, w.target));
        }
        if r.replanned {
            out.push_str("  (state changed before a write: planned again)\n");
        }
        for p in &r.published {
            out.push_str(&format!("  published {} record(s) to {}\n", p.sent, p.sink));
        }
        for e in &r.errors {
            out.push_str(&format!(
                "  error [{}] {} {}: {} (retryable: {})\n",
                e.stage, e.operation, e.code, e.message, e.retryable
            ));
        }
        for n in &r.notes {
            out.push_str(&format!("  note: {n}\n"));
        }
    }
    out
}
