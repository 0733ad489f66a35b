//! `cmkguard doctor`: reads the trails and the function's EventBridge rules through the
//! CLI-only adapters, hands them to the pure `core::doctor::evaluate`, and renders the checks.
//! With `--account` and no `--bucket`, the shared buckets are discovered first (below: list
//! the region's buckets, keep those another account can reach).
//!
//! Rule names: the SAM template does not name its rules, so CloudFormation generates
//! `<stack>-<LogicalId>-<random>`; they are found with `ListRules` by the `<stack>-` prefix
//! (default stack `cmkguard`, as in samconfig.toml). When CloudFormation had to shorten a long
//! stack name the prefix no longer matches: pass the real names with `--rule` (repeatable),
//! which replaces the stack lookup. The shared buckets are an input (`--bucket`), so a bucket
//! discovery can feed the same `gather`.

use std::sync::Arc;

use clap::Args;
use serde_json::Value;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use super::common::{runtime, LiveArgs, Report, UsageError};
use crate::aws::listing::AwsInventory;
use crate::aws::s3::S3Reader;
use crate::aws::trigger_path::cloudtrail::TrailReader;
use crate::aws::trigger_path::event_rules::RuleReader;
use crate::aws::trigger_path::{self, CliClients};
use crate::core::arn::partition_for_region;
use crate::core::config::Config;
use crate::core::decide::bucket_sharing;
use crate::core::doctor::{
    evaluate, Discovery, DoctorInput, DoctorReport, Need, Rule, RuleRead, Status,
};
use crate::core::policy::Policy;
use crate::ports::{BucketReader, Inventory};

/// The rules `template.yaml` creates, by logical id, and when they exist.
pub const STACK_RULES: &[(&str, Need)] = &[
    ("BucketChangeRule", Need::Required),
    ("KeyChangeRule", Need::Required),
    // The AWS service event of a key deleted at the end of its waiting period.
    ("KeyDeletedRule", Need::Required),
    ("S3AccessDeniedRule", Need::Required),
    (
        "KmsAccessDeniedRule",
        Need::Optional("KmsReadOnlyDenials=true"),
    ),
    ("SweepRule", Need::Optional("a SweepSchedule")),
];

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The stack whose rules to check (rules named `<stack>-<LogicalId>-…`).
    #[arg(long, default_value = "cmkguard")]
    pub stack_name: String,
    /// A rule to check by name, instead of the stack's (repeatable).
    #[arg(long = "rule", value_name = "NAME")]
    pub rules: Vec<String>,
    /// A shared bucket whose S3 data events must be logged (repeatable).
    #[arg(long = "bucket", value_name = "NAME")]
    pub buckets: Vec<String>,
    /// The account owning the buckets: without --bucket, list the region's buckets and check
    /// data events for those shared with another account (4 reads per bucket).
    #[arg(long)]
    pub account: Option<String>,
    /// Where to check (one region); trusted accounts for the discovery's sharing analysis.
    #[command(flatten)]
    pub live: LiveArgs,
}

/// Which rules to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleSource {
    Stack(String),
    Names(Vec<String>),
}

/// Reads everything the checks need. Never fails: what cannot be read is an "unknown".
pub async fn gather(
    trails: &TrailReader,
    rules: &RuleReader,
    region: &str,
    source: &RuleSource,
    buckets: &[String],
) -> DoctorInput {
    let trails = trails
        .trails()
        .await
        .map_err(|e| format!("{} ({})", e.code, e.message));
    let mut out = Vec::new();
    match source {
        RuleSource::Names(names) => {
            for n in names {
                out.push(Rule {
                    id: n.clone(),
                    need: Need::Required,
                    read: rules.describe(n).await,
                });
            }
        }
        RuleSource::Stack(stack) => {
            let listed = rules.names_with_prefix(&format!("{stack}-")).await;
            for (logical, need) in STACK_RULES {
                let read = match &listed {
                    Err(e) => RuleRead::Unknown(format!("{} ({})", e.code, e.message)),
                    Ok(names) => match stack_rule_name(names, stack, logical) {
                        Some(n) => rules.describe(n).await,
                        None => RuleRead::Missing,
                    },
                };
                out.push(Rule {
                    id: logical.to_string(),
                    need: *need,
                    read,
                });
            }
        }
    }
    DoctorInput {
        region: region.to_string(),
        partition: partition_for_region(region).to_string(),
        trails,
        rules: out,
        buckets: buckets.to_vec(),
        discovery: None,
    }
}

/// The CloudFormation-generated name of a stack's rule: `<stack>-<LogicalId>-<random>`.
pub fn stack_rule_name<'a>(names: &'a [String], stack: &str, logical: &str) -> Option<&'a str> {
    let prefix = format!("{stack}-{logical}-");
    names
        .iter()
        .find(|n| n.starts_with(&prefix))
        .map(String::as_str)
}

pub async fn run(clients: &CliClients, source: &RuleSource, buckets: &[String]) -> DoctorReport {
    let input = gather(
        &clients.trails,
        &clients.rules,
        &clients.region,
        source,
        buckets,
    )
    .await;
    evaluate(&input)
}

pub fn render_text(r: &DoctorReport) -> String {
    let mut out = String::new();
    for c in &r.checks {
        let mark = match c.status {
            Status::Ok => "ok     ",
            Status::Problem => "PROBLEM",
            Status::Unknown => "unknown",
        };
        out.push_str(&format!("{mark} {}: {}\n", c.id, c.message));
        if let Some(f) = &c.fix {
            out.push_str(&format!("        fix: {f}\n"));
        }
    }
    let unknown = r
        .checks
        .iter()
        .filter(|c| c.status == Status::Unknown)
        .count();
    out.push_str(&format!(
        "{} checks: {} problem(s), {unknown} unknown — {}\n",
        r.checks.len(),
        r.problems(),
        if r.ok {
            "the trigger path is complete"
        } else {
            "the trigger path is NOT complete"
        }
    ));
    out
}

/// Lists and judges the region's buckets with the guardrail's own clients and settings
/// (trusted accounts and organisations from the CMKGUARD_* variables, as `handle` reads them).
async fn discover(live: &LiveArgs, account: &str, region: &str) -> Result<Discovered, UsageError> {
    let settings = live
        .settings(None)
        .map_err(|e| UsageError(format!("settings: {}", e.0)))?;
    let clients = crate::aws::load_clients(&live.aws_options()).await;
    let inventory = AwsInventory::new(clients.s3.clone(), clients.kms.clone());
    let reader = S3Reader::new(clients.s3.clone());
    shared_buckets(&inventory, reader, account, region, &settings.core)
        .await
        .map_err(UsageError)
}

/// The `doctor` subcommand.
pub fn command(args: DoctorArgs) -> Result<Report, UsageError> {
    args.live.region()?;
    let rt = runtime()?;
    let opts = args.live.aws_options();
    let source = if args.rules.is_empty() {
        RuleSource::Stack(args.stack_name.clone())
    } else {
        RuleSource::Names(args.rules.clone())
    };
    let report = rt.block_on(async {
        let clients = trigger_path::load(&opts, None).await;
        if clients.region.is_empty() {
            return Err(UsageError(
                "no region: pass --region or set AWS_REGION".into(),
            ));
        }
        let (buckets, discovery) = match (&args.account, args.buckets.is_empty()) {
            (Some(account), true) => {
                let found = discover(&args.live, account, &clients.region).await?;
                let discovery = Discovery {
                    listed: found.listed,
                    unread: found.unread,
                };
                (found.shared, Some(discovery))
            }
            _ => (args.buckets.clone(), None),
        };
        let input = gather(
            &clients.trails,
            &clients.rules,
            &clients.region,
            &source,
            &buckets,
        )
        .await;
        Ok(evaluate(&DoctorInput { discovery, ..input }))
    })?;
    Ok(Report {
        json: serde_json::to_value(&report).unwrap_or(Value::Null),
        text: render_text(&report),
        violations: report.problems() > 0,
        batch: None,
    })
}

// Shared-bucket discovery (`--account` without `--bucket`): the buckets whose object-level
// AccessDenied needs S3 data events to be seen at all.

/// Buckets read at once: the same default as the sweep.
const CONCURRENCY: usize = 16;

/// What discovery found: the shared buckets (sorted) and what it could not judge.
#[derive(Debug, Default)]
pub struct Discovered {
    pub listed: usize,
    pub shared: Vec<String>,
    /// "bucket: reason" for buckets that could not be read or parsed.
    pub unread: Vec<String>,
}

/// Lists and judges every bucket of `region` owned by `account`. A listing failure is an
/// error (the check would be meaningless); a bucket that cannot be read is reported, not
/// guessed shared or private.
pub async fn shared_buckets(
    inventory: &AwsInventory,
    reader: S3Reader,
    account: &str,
    region: &str,
    config: &Config,
) -> Result<Discovered, String> {
    let (tx, mut rx) = mpsc::channel(4);
    let listing = inventory.list_buckets(region, tx);
    let collect = async {
        let mut names = Vec::new();
        while let Some(page) = rx.recv().await {
            match page {
                Ok(p) => names.extend(p.into_iter().map(|b| b.name)),
                Err(e) => return Err(format!("listing the buckets failed: {e}")),
            }
        }
        Ok(names)
    };
    let ((), names) = tokio::join!(listing, collect);
    let names = names?;
    let mut out = Discovered {
        listed: names.len(),
        ..Discovered::default()
    };
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let reader = Arc::new(reader);
    let mut tasks = JoinSet::new();
    for name in names {
        let (permits, reader) = (permits.clone(), reader.clone());
        let (account, region, trust) = (
            account.to_string(),
            region.to_string(),
            config.trust.clone(),
        );
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let state = match reader.read_bucket(&name, &account, &region).await {
                Ok(s) => s,
                Err(e) => return (name, Err(e.to_string())),
            };
            if !state.exists {
                return (name, Ok(false));
            }
            let policy = match state.policy.as_ref().filter(|v| !v.is_null()) {
                None => None,
                Some(v) => match Policy::parse_any(v) {
                    Ok(p) => Some(p),
                    Err(e) => return (name, Err(format!("bucket policy unreadable: {e}"))),
                },
            };
            let shared = bucket_sharing(&state, policy.as_ref(), &trust).shared;
            (name, Ok(shared))
        });
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((name, Ok(true))) => out.shared.push(name),
            Ok((_, Ok(false))) => {}
            Ok((name, Err(why))) => out.unread.push(format!("{name}: {why}")),
            Err(e) => out.unread.push(format!("a bucket read task failed: {e}")),
        }
    }
    out.shared.sort();
    out.unread.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_rule_names_follow_cloudformation() {
        let names: Vec<String> = [
            "cmkguard-BucketChangeRule-1A2B3C",
            "cmkguard-KeyChangeRule-XYZ",
            "cmkguard-prod-BucketChangeRule-Q",
            "other",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            stack_rule_name(&names, "cmkguard", "BucketChangeRule"),
            Some("cmkguard-BucketChangeRule-1A2B3C")
        );
        assert_eq!(
            stack_rule_name(&names, "cmkguard-prod", "BucketChangeRule"),
            Some("cmkguard-prod-BucketChangeRule-Q")
        );
        assert_eq!(stack_rule_name(&names, "cmkguard", "SweepRule"), None);
    }
}
