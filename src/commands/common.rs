//! What every subcommand shares: the `Report` a subcommand returns (JSON, text, violations),
//! the one-line `UsageError` that exits 2, file readers that name the file in their errors,
//! the one clap group of live flags (`LiveArgs`) flattened into handle / scan / backfill /
//! diagnose / doctor, the settings those flags make, and the async runtime.

use std::io::Read;
use std::path::Path;

use clap::{Args, ValueEnum};
use serde::Serialize;
use serde_json::Value;

use crate::aws::AwsOptions;
use crate::config::Settings;
use crate::core::policy::Policy;
use crate::ports::FindingBatch;

/// What a subcommand produced: the JSON value, its text rendering, whether it found
/// violations, and (for the commands that make findings) the findings as a sink would
/// receive them, for `--output ocsf` / `--output asff`.
pub struct Report {
    pub json: Value,
    pub text: String,
    pub violations: bool,
    pub batch: Option<FindingBatch>,
}

/// A failure that exits 2: one line, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

pub fn fail(path: &Path, problem: impl std::fmt::Display) -> UsageError {
    UsageError(format!("{}: {problem}", path.display()))
}

/// The file's bytes; `-` reads standard input.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, UsageError> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| fail(path, e))?;
        return Ok(buf);
    }
    std::fs::read(path).map_err(|e| fail(path, e))
}

pub fn read_json(path: &Path) -> Result<Value, UsageError> {
    let bytes = read_bytes(path)?;
    serde_json::from_slice(&bytes).map_err(|e| fail(path, format!("not valid JSON: {e}")))
}

pub fn read_policy(path: &Path) -> Result<Policy, UsageError> {
    let v = read_json(path)?;
    Policy::parse_any(&v).map_err(|e| fail(path, e))
}

/// The findings of an offline or read-only run as a sink would receive them (all open), dated
/// by the event (offline commands have no clock) and posted as the account that recorded it.
pub fn open_batch(
    findings: &[crate::core::finding::Finding],
    passed: &[crate::core::finding::Passed],
    trigger: Option<&crate::core::event::Trigger>,
) -> FindingBatch {
    FindingBatch {
        findings: findings
            .iter()
            .map(|f| crate::ports::Published {
                finding: f.clone(),
                status: crate::ports::FindingStatus::Open,
                done: Vec::new(),
            })
            .collect(),
        passed: passed.to_vec(),
        archived: Vec::new(),
        time: trigger
            .and_then(|t| t.event_time.clone())
            .filter(|t| crate::core::time::parse_rfc3339_millis(t).is_ok())
            .unwrap_or_else(|| "1970-01-01T00:00:00Z".into()),
        account: trigger.and_then(|t| t.account.clone()).unwrap_or_default(),
        region: trigger.and_then(|t| t.region.clone()).unwrap_or_default(),
    }
}

/// Several batches as one (a CloudTrail log file's records): the first one's time, account
/// and region.
pub fn merge_batches(batches: Vec<FindingBatch>) -> Option<FindingBatch> {
    let mut it = batches.into_iter();
    let mut first = it.next()?;
    for b in it {
        first.findings.extend(b.findings);
        first.passed.extend(b.passed);
        first.archived.extend(b.archived);
    }
    Some(first)
}

pub fn to_json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

pub fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    Report,
    Enforce,
}

impl ModeArg {
    pub fn as_str(self) -> &'static str {
        match self {
            ModeArg::Report => "report",
            ModeArg::Enforce => "enforce",
        }
    }
}

/// The flags of every subcommand that talks to AWS (or the emulator): where to reach it and
/// the guardrail settings that override the CMKGUARD_* environment.
#[derive(Debug, Args, Default, Clone)]
pub struct LiveArgs {
    /// Endpoint override, e.g. the emulator's http://127.0.0.1:5000 (forces path-style S3).
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// Region override (else AWS_REGION / the profile). `scan` takes several.
    #[arg(long = "region", value_name = "R")]
    pub regions: Vec<String>,
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

impl LiveArgs {
    /// The one region of a single-region subcommand (None = the standard chain's).
    pub fn region(&self) -> Result<Option<String>, UsageError> {
        match self.regions.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one.clone())),
            many => Err(UsageError(format!(
                "--region given {} times: this subcommand works on one region",
                many.len()
            ))),
        }
    }

    /// How to reach AWS: the endpoint override and the first region given.
    pub fn aws_options(&self) -> AwsOptions {
        AwsOptions {
            endpoint_url: self.endpoint_url.clone(),
            region: self.regions.first().cloned(),
            ..Default::default()
        }
    }

    /// The guardrail settings: the CMKGUARD_* environment, overridden by these flags (trusted
    /// accounts are added to the environment's) and by `mode` when given.
    pub fn settings(&self, mode: Option<&str>) -> Result<Settings, UsageError> {
        let mut env = crate::config::process_env();
        if let Some(m) = mode {
            env.insert("CMKGUARD_MODE".into(), m.into());
        }
        if let Some(arn) = &self.cmk_arn {
            env.insert("CMKGUARD_CMK_ARN".into(), arn.clone());
        }
        if !self.trusted_accounts.is_empty() {
            let mut all: Vec<String> = env
                .get("CMKGUARD_TRUSTED_ACCOUNTS")
                .map(|s| vec![s.clone()])
                .unwrap_or_default();
            all.extend(self.trusted_accounts.iter().cloned());
            env.insert("CMKGUARD_TRUSTED_ACCOUNTS".into(), all.join(","));
        }
        if self.patch_key_policy {
            env.insert("CMKGUARD_PATCH_KEY_POLICY".into(), "true".into());
        }
        crate::config::from_env(&env).map_err(|e| UsageError(format!("configuration: {e}")))
    }
}

/// The multi-threaded runtime the live subcommands run on.
pub fn runtime() -> Result<tokio::runtime::Runtime, UsageError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| UsageError(format!("cannot start the async runtime: {e}")))
}
