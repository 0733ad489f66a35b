//! `cmkguard diagnose`: the §6 AccessDenied diagnosis from the command line. With `--state` it
//! runs the pure core on a recorded state file; otherwise it re-reads the live state through
//! the same read adapters as `cmkguard handle` (an emulator with `--endpoint-url`, else the
//! default AWS credential chain) and never writes: the dependencies it builds have no writer
//! and no sink, so a write cannot even be expressed. Prints per denial the verdict, the
//! missing half and the statements to paste under "Owner: bucket policy", "Owner: key
//! policy" and "Caller: IAM policy"; `--output json` prints the findings.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;
use serde_json::Value;

use super::common::{
    fail, merge_batches, open_batch, read_bytes, runtime, LiveArgs, Report, UsageError,
};
use crate::core::config::{Config, Mode};
use crate::core::decide::decide;
use crate::core::decide::diagnose::paste::{parse_fix, HEADINGS};
use crate::core::decide::diagnose::VERDICT;
use crate::core::event::{parse_event_bytes, EventInput, Parsed, Trigger, TriggerKind};
use crate::core::finding::{Finding, RuleId};
use crate::core::snapshot::Snapshot;

#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    /// The AccessDenied event (EventBridge envelope, CloudTrail record or log file; '-' = stdin).
    #[arg(long)]
    pub event: PathBuf,
    /// Diagnose offline against this state file (the `decide` format, tests/state/README.md).
    #[arg(long, conflicts_with = "endpoint_url")]
    pub state: Option<PathBuf>,
    /// Live reads (read-only): without --endpoint-url and without --state, AWS through the
    /// default credential chain.
    #[command(flatten)]
    pub live: LiveArgs,
}

/// The JSON for one record. Field names are a public interface.
#[derive(Debug, Serialize)]
pub struct Diagnosed {
    /// Why the record is not diagnosed (not an AccessDenied, same account, missing fields…).
    pub ignored: Option<String>,
    pub trigger: Option<Trigger>,
    /// `ACCESS_DENIED_DIAGNOSIS` findings, the same objects `decide` and `handle` produce.
    pub findings: Vec<Finding>,
    /// What could not be checked, and observations that are not findings.
    pub notes: Vec<String>,
}

impl Diagnosed {
    fn ignored(reason: String, trigger: Option<Trigger>) -> Self {
        Diagnosed {
            ignored: Some(reason),
            trigger,
            findings: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// Triggers worth diagnosing; everything else is ignored with its reason.
fn denials(input: EventInput) -> Vec<Result<Trigger, String>> {
    let parsed = match input {
        EventInput::Single(p) => vec![p],
        EventInput::Records(ps) => ps,
    };
    parsed
        .into_iter()
        .map(|p| match p {
            Parsed::Ignored { reason } => Err(reason),
            Parsed::Trigger(t) if t.kind != TriggerKind::AccessDenied => Err(format!(
                "{} is not a cross-account AccessDenied (use decide or handle for it)",
                t.event_name
            )),
            Parsed::Trigger(t) => Ok(t),
        })
        .collect()
}

fn diagnose_one(t: Trigger, snapshot: &Snapshot, config: &Config, notes: Vec<String>) -> Diagnosed {
    let plan = decide(&t, snapshot, config);
    let mut out = match plan.ignored {
        Some(reason) => Diagnosed::ignored(reason, Some(t)),
        None => Diagnosed {
            ignored: None,
            trigger: Some(t),
            findings: plan
                .findings
                .into_iter()
                .filter(|f| f.rule_id == RuleId::AccessDeniedDiagnosis)
                .collect(),
            notes: Vec::new(),
        },
    };
    out.notes = notes;
    out.notes.extend(plan.notes);
    out
}

pub fn run(args: DiagnoseArgs) -> Result<Report, UsageError> {
    let bytes = read_bytes(&args.event)?;
    let input = parse_event_bytes(&bytes).map_err(|e| fail(&args.event, e))?;
    let single = matches!(input, EventInput::Single(_));
    let triggers = denials(input);
    let results: Vec<Diagnosed> = match &args.state {
        Some(path) => {
            let v: Value = serde_json::from_slice(&read_bytes(path)?)
                .map_err(|e| fail(path, format!("not valid JSON: {e}")))?;
            let snapshot: Snapshot =
                serde_json::from_value(v).map_err(|e| fail(path, format!("invalid state: {e}")))?;
            let config = Config::default();
            triggers
                .into_iter()
                .map(|t| match t {
                    Ok(t) => diagnose_one(t, &snapshot, &config, Vec::new()),
                    Err(reason) => Diagnosed::ignored(reason, None),
                })
                .collect()
        }
        None => live(&args, triggers)?,
    };
    let violations = results.iter().any(|r| !r.findings.is_empty());
    // A diagnosis is the account that recorded the denial's own finding.
    let batch = merge_batches(
        results
            .iter()
            .map(|r| open_batch(&r.findings, &[], r.trigger.as_ref()))
            .collect(),
    );
    let text = results.iter().map(render).collect::<String>();
    let json = if single {
        serde_json::to_value(results.first()).unwrap_or(Value::Null)
    } else {
        serde_json::to_value(&results).unwrap_or(Value::Null)
    };
    Ok(Report {
        json,
        text,
        violations,
        batch,
    })
}

/// Re-reads each denial's state through the read adapters only (no writer, no sinks).
fn live(
    args: &DiagnoseArgs,
    triggers: Vec<Result<Trigger, String>>,
) -> Result<Vec<Diagnosed>, UsageError> {
    args.live.region()?;
    let settings = args.live.settings(None)?;
    // A diagnosis never patches, whatever CMKGUARD_MODE says.
    let config = Config {
        mode: Mode::Report,
        ..settings.core
    };
    let rt = runtime()?;
    let opts = args.live.aws_options();
    rt.block_on(async {
        let clients = crate::aws::load_clients(&opts).await;
        let full = crate::aws::deps(&clients, &Default::default());
        // The unit type is no `Writer` and no `FindingSink`: nothing here can write.
        let reads: crate::ports::Deps<_, _, (), ()> = crate::ports::Deps {
            buckets: full.buckets,
            keys: full.keys,
            writer: (),
            sinks: Vec::new(),
        };
        let mut out = Vec::new();
        for t in triggers {
            let t = match t {
                Ok(t) => t,
                Err(reason) => {
                    out.push(Diagnosed::ignored(reason, None));
                    continue;
                }
            };
            let (snapshot, notes) = crate::app::load_snapshot(&t, &reads, &config)
                .await
                .map_err(|e| UsageError(format!("reading the current state failed: {e}")))?;
            out.push(diagnose_one(t, &snapshot, &config, notes));
        }
        Ok(out)
    })
}

/// Text for one record: the denial, the verdict, the missing half, then the three headings
/// with the statements to paste (or "nothing to add").
pub fn render(d: &Diagnosed) -> String {
    if let Some(reason) = &d.ignored {
        return format!("ignored: {reason}\n");
    }
    let mut out = String::new();
    for f in &d.findings {
        let mut reasons = f.reasons.iter();
        out.push_str(&format!(
            "{} [{}] {}\n",
            f.rule_id,
            f.severity.as_str(),
            reasons.next().map(String::as_str).unwrap_or_default()
        ));
        let mut missing = Vec::new();
        for r in reasons {
            match r.strip_prefix(VERDICT) {
                Some(v) => out.push_str(&format!("verdict: {v}\n")),
                None => missing.push(r),
            }
        }
        out.push_str("missing half:\n");
        for m in missing {
            out.push_str(&format!("  - {m}\n"));
        }
        let (summary, blocks) = parse_fix(&f.fix);
        for heading in HEADINGS {
            let mine: Vec<_> = blocks.iter().filter(|b| b.heading == heading).collect();
            out.push_str(&format!("\n{heading}\n"));
            if mine.is_empty() {
                out.push_str("  nothing to add\n");
            }
            for b in mine {
                out.push_str(&format!("  {}:\n", b.how));
                let pretty = serde_json::to_string_pretty(&b.document).unwrap_or_default();
                for line in pretty.lines() {
                    out.push_str(&format!("  {line}\n"));
                }
            }
        }
        if !summary.is_empty() {
            out.push_str(&format!("\n{summary}\n"));
        }
    }
    for n in &d.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}
