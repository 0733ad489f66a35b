//! `cmkguard check-template FILE...`: CloudFormation / SAM templates (JSON or YAML), CDK synth
//! output (a `cdk.out` directory = its `*.template.json`) and Terraform plan JSON, judged before
//! deploy by the same rules as the live guardrail (`core::template`). Reads the files, parses
//! YAML (`yaml`), and renders text, JSON or SARIF (`sarif`).

mod sarif;
pub mod yaml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;

use super::common::{fail, read_bytes, Report, UsageError};
use super::Output;
use crate::core::policy::sharing::Trust;
use crate::core::template::{check, FileReport, Options};

#[derive(Debug, Args)]
pub struct CheckTemplateArgs {
    /// Templates, CDK output directories (their *.template.json) or Terraform plan JSON
    /// (`terraform show -json PLAN`); '-' = stdin.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The account the template deploys to (else a placeholder that stands for the owner).
    #[arg(long)]
    pub account: Option<String>,
    #[arg(long, default_value = "aws")]
    pub partition: String,
    /// The region the template deploys to (else a placeholder of the partition).
    #[arg(long)]
    pub region: Option<String>,
    /// Accounts whose sharing is not reported as untrusted (never exempts the CMK rule).
    #[arg(long = "trusted-account", value_name = "ID")]
    pub trusted_accounts: Vec<String>,
}

/// The files to read: each argument, a directory as its `*.template.json` (CDK's cdk.out).
fn expand(files: &[PathBuf]) -> Result<Vec<PathBuf>, UsageError> {
    let mut out = Vec::new();
    for f in files {
        if f.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(f)
                .map_err(|e| fail(f, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.ends_with(".template.json"))
                })
                .collect();
            if found.is_empty() {
                return Err(fail(f, "a directory without *.template.json files"));
            }
            found.sort();
            out.extend(found);
        } else {
            out.push(f.clone());
        }
    }
    Ok(out)
}

/// The path as reports show it: as given, `/`-separated.
fn shown(p: &Path) -> String {
    let s = p.to_string_lossy().replace('\\', "/");
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

pub fn run(args: CheckTemplateArgs, output: Output) -> Result<Report, UsageError> {
    if let Some(a) = &args.account {
        if !crate::core::json::is_account_id(a) {
            return Err(UsageError(format!(
                "--account {a} is not a 12-digit account id"
            )));
        }
    }
    let opts = Options {
        account: args.account.clone(),
        partition: args.partition.clone(),
        region: args.region.clone(),
        trust: Trust {
            accounts: args.trusted_accounts.iter().cloned().collect(),
            ..Trust::default()
        },
    };
    let mut reports = Vec::new();
    for path in expand(&args.files)? {
        let bytes = read_bytes(&path)?;
        let source = String::from_utf8(bytes).map_err(|_| fail(&path, "not UTF-8 text"))?;
        let doc = yaml::parse(&source).map_err(|e| fail(&path, e))?;
        let report = check(&shown(&path), &doc, &source, &opts).map_err(|e| fail(&path, e))?;
        reports.push(report);
    }
    let violations = reports.iter().flat_map(|r| &r.findings).any(|f| !f.exempt);
    let json = match output {
        Output::Sarif => sarif::render(&reports),
        _ => to_json(&reports),
    };
    Ok(Report {
        text: text(&reports),
        json,
        violations,
        // Template findings are not posted anywhere: no OCSF / ASFF batch.
        batch: None,
    })
}

fn to_json(reports: &[FileReport]) -> serde_json::Value {
    let findings: Vec<_> = reports.iter().flat_map(|r| &r.findings).collect();
    let unchecked: Vec<_> = reports.iter().flat_map(|r| &r.unchecked).collect();
    let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_severity: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &findings {
        *by_rule.entry(f.rule_id.as_str()).or_default() += 1;
        *by_severity.entry(f.severity.as_str()).or_default() += 1;
    }
    let files: Vec<_> = reports
        .iter()
        .map(|r| json!({"file": r.file, "format": r.format, "counts": r.counts}))
        .collect();
    json!({
        "files": files,
        "findings": findings,
        "unchecked": unchecked,
        "summary": {
            "files": reports.len(),
            "findings": findings.len(),
            "exempt": findings.iter().filter(|f| f.exempt).count(),
            "unchecked": unchecked.len(),
            "by_rule": by_rule,
            "by_severity": by_severity,
        }
    })
}

fn text(reports: &[FileReport]) -> String {
    let mut out = String::new();
    for r in reports {
        out.push_str(&format!(
            "{}: {} resources ({} buckets, {} bucket policies, {} keys) — {} findings, {} not checked\n",
            r.file,
            r.counts.resources,
            r.counts.buckets,
            r.counts.bucket_policies,
            r.counts.keys,
            r.findings.len(),
            r.unchecked.len()
        ));
        for f in &r.findings {
            let at = f.line.map(|l| format!(":{l}")).unwrap_or_default();
            out.push_str(&format!(
                "  {}{at} {} [{}] {}{} — {}\n",
                f.file,
                f.logical_id,
                f.severity.as_str(),
                f.rule_id,
                if f.exempt { " (exempt)" } else { "" },
                f.resource_arn
            ));
            if f.when != "always" {
                out.push_str(&format!("      when {}\n", f.when));
            }
            for reason in &f.reasons {
                out.push_str(&format!("      - {reason}\n"));
            }
            out.push_str(&format!("      fix: {}\n", f.fix));
        }
        for u in &r.unchecked {
            let at = u.line.map(|l| format!(":{l}")).unwrap_or_default();
            let rules: Vec<&str> = u.rules.iter().map(|r| r.as_str()).collect();
            out.push_str(&format!(
                "  not checked: {}{at} {} {}{}: {}\n",
                u.file,
                u.logical_id,
                rules.join(", "),
                if u.when == "always" {
                    String::new()
                } else {
                    format!(" (when {})", u.when)
                },
                u.reason
            ));
        }
    }
    out
}
