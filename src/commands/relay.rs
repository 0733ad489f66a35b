//! `cmkguard relay`: the organisation relay's plan for a file of denial records, offline —
//! what it would put on which owner's `cmkguard` bus (`owner_account`, `bus_arn`, `detail`),
//! which records have no known owner (`owner_unknown`, reported centrally), and which it drops
//! and why. The same code as the relay Lambda (`relay::relay`), without the forwarder; the
//! bucket owners come from `--owner-map` instead of the Config aggregator.

use std::path::PathBuf;

use clap::Args;

use super::common::{fail, read_bytes, read_json, runtime, to_json, Report, UsageError};
use crate::app::now_rfc3339;
use crate::core::relay::OwnerMap;
use crate::ports::DenialForwarder;
use crate::relay::{inputs_of, relay};

#[derive(Debug, Args)]
pub struct RelayArgs {
    /// The records: an EventBridge envelope, a CloudTrail record or log file, or the relay's
    /// SQS event ('-' = stdin).
    #[arg(long)]
    pub event: PathBuf,
    /// Bucket owners: {"bucket": "account", ...}, a list of {"accountId", "resourceName"}
    /// rows, or `aws configservice select-aggregate-resource-config` output.
    #[arg(long)]
    pub owner_map: Option<PathBuf>,
}

/// No forwarder: the offline run plans only.
enum Offline {}

impl DenialForwarder for Offline {
    async fn put(
        &self,
        _entries: &[crate::core::relay::RelayEntry],
    ) -> Result<Vec<Option<(String, String)>>, crate::ports::PortError> {
        match *self {}
    }
}

pub fn run(args: RelayArgs) -> Result<Report, UsageError> {
    let bytes = read_bytes(&args.event)?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let v: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| fail(&args.event, format!("not valid JSON: {e}")))?;
    let owners = match &args.owner_map {
        Some(path) => OwnerMap::parse(&read_json(path)?).map_err(|e| fail(path, e))?,
        None => OwnerMap::default(),
    };
    let inputs = inputs_of(&v);
    let now = now_rfc3339();
    let outcome = runtime()?.block_on(relay(&inputs, &owners, None::<&Offline>, &now));
    let plan = outcome.plan;
    let mut text = String::new();
    for e in &plan.entries {
        let r = &e.detail["record"];
        text.push_str(&format!(
            "relay #{} to {} (owner {}): {} by {}\n",
            e.input,
            e.bus_arn,
            e.owner_account,
            r["eventName"].as_str().unwrap_or("-"),
            r["userIdentity"]["arn"].as_str().unwrap_or("-"),
        ));
    }
    for u in &plan.owner_unknown {
        text.push_str(&format!("owner unknown #{}: {}\n", u.input, u.reason));
    }
    for d in &plan.dropped {
        text.push_str(&format!("dropped #{}: {}\n", d.input, d.reason));
    }
    Ok(Report {
        json: to_json(&plan),
        text,
        violations: false,
        batch: None,
    })
}
