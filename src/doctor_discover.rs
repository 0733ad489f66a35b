//! Shared-bucket discovery for `cmkguard doctor` when no `--bucket` is given: list the
//! region's buckets (the sweep's inventory), read each one's policy and ACL through the
//! guardrail's bucket reader, and keep those another account can reach (DOMAIN.md §4) — the
//! buckets whose object-level AccessDenied needs S3 data events to be seen at all.

use std::sync::Arc;

use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use crate::aws::listing::AwsInventory;
use crate::aws::s3::S3Reader;
use crate::core::config::Config;
use crate::core::decide::bucket_sharing;
use crate::core::policy::Policy;
use crate::ports::BucketReader;
use crate::ports::Inventory;

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
