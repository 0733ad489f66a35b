//! `cmkguard doctor`: reads the trails and the function's EventBridge rules through the
//! CLI-only adapters, hands them to the pure `core::doctor::evaluate`, and renders the checks.
//!
//! Rule names: the SAM template does not name its rules, so CloudFormation generates
//! `<stack>-<LogicalId>-<random>`; they are found with `ListRules` by the `<stack>-` prefix
//! (default stack `cmkguard`, as in samconfig.toml). When CloudFormation had to shorten a long
//! stack name the prefix no longer matches: pass the real names with `--rule` (repeatable),
//! which replaces the stack lookup. The shared buckets are an input (`--bucket`), so a bucket
//! discovery can feed the same `gather`.

use clap::Args;
use serde_json::Value;

use crate::aws::cli_clients::{self, CliClients};
use crate::aws::cloudtrail::TrailReader;
use crate::aws::listing::AwsInventory;
use crate::aws::rules::RuleReader;
use crate::aws::s3::S3Reader;
use crate::aws::AwsOptions;
use crate::cli::{Report, UsageError};
use crate::core::arn::partition_for_region;
use crate::core::doctor::{
    evaluate, Discovery, DoctorInput, DoctorReport, Need, Rule, RuleRead, Status,
};

/// The rules `template.yaml` creates, by logical id, and when they exist.
pub const STACK_RULES: &[(&str, Need)] = &[
    ("BucketChangeRule", Need::Required),
    ("KeyChangeRule", Need::Required),
    ("S3AccessDeniedRule", Need::Required),
    (
        "KmsAccessDeniedRule",
        Need::Optional("KmsReadOnlyDenials=true"),
    ),
    ("SweepRule", Need::Optional("a SweepSchedule")),
];

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Endpoint override, e.g. the emulator's http://127.0.0.1:5000.
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// Region override (else AWS_REGION / the profile).
    #[arg(long)]
    pub region: Option<String>,
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
async fn discover(
    opts: &AwsOptions,
    account: &str,
    region: &str,
) -> Result<crate::doctor_discover::Discovered, UsageError> {
    let settings = crate::config::from_env(&crate::config::process_env())
        .map_err(|e| UsageError(format!("settings: {e}")))?;
    let clients = crate::aws::load_clients(opts).await;
    let inventory = AwsInventory::new(clients.s3.clone(), clients.kms.clone());
    let reader = S3Reader::new(clients.s3.clone());
    crate::doctor_discover::shared_buckets(&inventory, reader, account, region, &settings.core)
        .await
        .map_err(UsageError)
}

/// The `doctor` subcommand.
pub fn command(args: DoctorArgs) -> Result<Report, UsageError> {
    let rt = crate::cli::runtime()?;
    let opts = AwsOptions {
        endpoint_url: args.endpoint_url.clone(),
        region: args.region.clone(),
        ..Default::default()
    };
    let source = if args.rules.is_empty() {
        RuleSource::Stack(args.stack_name.clone())
    } else {
        RuleSource::Names(args.rules.clone())
    };
    let report = rt.block_on(async {
        let clients = cli_clients::load(&opts, None).await;
        if clients.region.is_empty() {
            return Err(UsageError(
                "no region: pass --region or set AWS_REGION".into(),
            ));
        }
        let (buckets, discovery) = match (&args.account, args.buckets.is_empty()) {
            (Some(account), true) => {
                let found = discover(&opts, account, &clients.region).await?;
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
    })
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
