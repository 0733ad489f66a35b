//! `cmkguard backfill --since 24h`: a new deployment catches up on what happened before it.
//! Looks up each watched event name in CloudTrail event history (`LookupEvents`, paginated,
//! paced under 2 requests per second), keeps the latest record per resource
//! (`core::backfill::select`, which says why that is enough), and feeds each through the same
//! `app::handle` as the Lambda — report mode unless `--enforce`.
//!
//! Event history holds management events only: object-level S3 calls (data events, e.g. a
//! denied `GetObject`) are not in it and cannot be replayed. One lookup per event name rather
//! than per event source, because a source filter would page through every read-only
//! `kms:Decrypt` of the last 90 days.

use std::collections::BTreeSet;
use std::time::Instant;

use clap::Args;
use serde::Serialize;
use serde_json::Value;

use super::common::{runtime, LiveArgs, Report, UsageError};
use crate::app;
use crate::aws::trigger_path;
use crate::aws::trigger_path::cloudtrail::{is_throttling, EventHistory};
use crate::config::Settings;
use crate::core::backfill::{select, window, Window};
use crate::core::event::watched_events;
use crate::core::finding::Finding;
use crate::ports::{BucketReader, BucketWriter, Deps, FindingSink, KeyReader, KeyWriter};

pub const NOTE: &str = "CloudTrail event history holds management events only: object-level S3 data events (e.g. a denied GetObject) are not replayed";

#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// How far back: a duration (24h, 90m, 7d; at most 90d) or a UTC time.
    #[arg(long)]
    pub since: String,
    /// End of the window: a duration ago or a UTC time (default: now).
    #[arg(long)]
    pub until: Option<String>,
    /// Patch as the guardrail would in enforce mode (default: report only).
    #[arg(long)]
    pub enforce: bool,
    /// Where to look (one region; CloudTrail: AWS_ENDPOINT_URL_CLOUDTRAIL wins over
    /// --endpoint-url) and the guardrail settings the replay runs with.
    #[command(flatten)]
    pub live: LiveArgs,
}

/// One failure: a lookup that failed, or a replayed event whose handling reported an error.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackfillError {
    pub stage: String,
    /// The event name looked up, or the replayed event's id.
    pub subject: String,
    pub message: String,
}

/// The summary. Field names are a public interface (`backfill --output json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackfillSummary {
    pub since: String,
    pub until: String,
    /// Records returned by LookupEvents (distinct event ids).
    pub events_seen: usize,
    /// Records fed to the handler.
    pub events_replayed: usize,
    /// Records that are not triggers, or that the handler ignored.
    pub ignored: usize,
    /// Records left out because a later event for the same resource was replayed.
    pub superseded: usize,
    /// LookupEvents requests made.
    pub pages: usize,
    /// Distinct findings (by id), the latest evaluation of each.
    pub findings: Vec<Finding>,
    pub errors: Vec<BackfillError>,
    pub note: String,
}

/// Runs the backfill over `w`. `progress` receives one line per page and per replay.
pub async fn run<B, K, W, S>(
    history: &EventHistory,
    deps: &Deps<B, K, W, S>,
    settings: &Settings,
    w: Window,
    progress: &mut dyn FnMut(String),
) -> BackfillSummary
where
    B: BucketReader,
    K: KeyReader,
    W: BucketWriter + KeyWriter,
    S: FindingSink,
{
    let mut errors = Vec::new();
    let mut records = Vec::new();
    let mut seen_ids = BTreeSet::new();
    let mut pages = 0usize;
    let mut last: Option<Instant> = None;
    let mut unnamed = 0usize;
    for (name, _source) in watched_events() {
        let mut on_page = |n: usize| {
            pages += 1;
            progress(format!("lookup {name}: page of {n} event(s)"));
        };
        match history
            .lookup(name, w.start, w.end, &mut last, &mut on_page)
            .await
        {
            Ok(recs) => {
                for r in recs {
                    // Event names repeat across services (TagResource): one record, one count.
                    let id = r.get("eventID").and_then(Value::as_str).map(String::from);
                    let fresh = match id {
                        Some(id) => seen_ids.insert(id),
                        None => {
                            unnamed += 1;
                            true
                        }
                    };
                    if fresh {
                        records.push(r);
                    }
                }
            }
            Err(e) => {
                errors.push(BackfillError {
                    stage: "lookup".into(),
                    subject: name.to_string(),
                    message: format!("{}: {} ({})", e.operation, e.code, e.message),
                });
                // Still throttled after the retries: the next name may get through. Anything
                // else (access denied, no such operation, a dead endpoint) would fail the same
                // way for every name: stop looking up, replay what was found.
                if !is_throttling(&e.code) {
                    progress(format!("lookup failed ({}): no further lookups", e.code));
                    break;
                }
            }
        }
    }
    let events_seen = seen_ids.len() + unnamed;
    let sel = select(records);
    let mut ignored = sel.ignored.len();
    let mut findings: Vec<Finding> = Vec::new();
    let total = sel.replay.len();
    for (i, rec) in sel.replay.iter().enumerate() {
        let id = rec
            .get("eventID")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string();
        progress(format!(
            "replay {}/{total}: {} {}",
            i + 1,
            rec.get("eventName").and_then(Value::as_str).unwrap_or("?"),
            rec.get("eventTime").and_then(Value::as_str).unwrap_or("")
        ));
        let outcome = app::handle(rec, deps, settings).await;
        for r in &outcome.results {
            if r.ignored.is_some() && r.findings.is_empty() {
                ignored += 1;
            }
            for e in &r.errors {
                errors.push(BackfillError {
                    stage: e.stage.clone(),
                    subject: id.clone(),
                    message: format!("{}: {} ({})", e.operation, e.code, e.message),
                });
            }
            for f in &r.findings {
                match findings.iter_mut().find(|x| x.id == f.id) {
                    Some(old) => *old = f.clone(),
                    None => findings.push(f.clone()),
                }
            }
        }
    }
    BackfillSummary {
        since: crate::core::time::rfc3339(w.start),
        until: crate::core::time::rfc3339(w.end),
        events_seen,
        events_replayed: total,
        ignored,
        superseded: sel.superseded,
        pages,
        findings,
        errors,
        note: NOTE.into(),
    }
}

pub fn render_text(s: &BackfillSummary) -> String {
    let mut out = format!(
        "backfill {} → {}: {} event(s) seen in {} page(s), {} replayed, {} ignored, {} superseded by a later event\n",
        s.since, s.until, s.events_seen, s.pages, s.events_replayed, s.ignored, s.superseded
    );
    for f in &s.findings {
        out.push_str(&format!("  {}\n      fix: {}\n", f.line(), f.fix));
    }
    for e in &s.errors {
        out.push_str(&format!(
            "  error ({}) {}: {}\n",
            e.stage, e.subject, e.message
        ));
    }
    out.push_str(&format!("note: {}\n", s.note));
    out
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The `backfill` subcommand.
pub fn command(args: BackfillArgs) -> Result<Report, UsageError> {
    let w = window(now_secs(), &args.since, args.until.as_deref()).map_err(UsageError)?;
    args.live.region()?;
    // Report unless asked: a backfill must not patch because the shell exported enforce.
    let mut settings = args
        .live
        .settings(Some(if args.enforce { "enforce" } else { "report" }))?;
    let rt = runtime()?;
    let opts = args.live.aws_options();
    let summary = rt.block_on(async {
        let cli = trigger_path::load(&opts, None).await;
        let clients = crate::aws::load_clients(&opts).await;
        if settings.sinks.security_hub {
            // Security Hub takes only the caller's own findings.
            settings.account = clients.identity.caller_account().await.ok();
        }
        let deps = crate::aws::deps(&clients, &settings.sinks);
        let mut progress = |line: String| eprintln!("cmkguard: {line}");
        run(&cli.history, &deps, &settings, w, &mut progress).await
    });
    eprintln!("cmkguard: {NOTE}");
    Ok(Report {
        json: serde_json::to_value(&summary).unwrap_or(Value::Null),
        text: render_text(&summary),
        violations: summary.findings.iter().any(|f| !f.exempt) || !summary.errors.is_empty(),
        batch: None,
    })
}
