//! The account sweep (`cmkguard scan`, and the Lambda on its schedule): every key and every
//! bucket of each region goes through the same `app::handle_trigger` as an event would, with
//! a trigger synthesised by `core::schedule`, so the rules, the plan, and in enforce mode the
//! fresh read / write / verify / re-plan path are the Lambda's own.
//!
//! Streaming and bounded: listings arrive page by page over a channel of one page; at most
//! `max_concurrency` resources are in flight (a task is spawned only when fewer are running,
//! so a 10 000-bucket page never becomes 10 000 tasks); each finished outcome is
//! folded into the report and dropped. Per bucket the reads are by need (`app::Reads::ByNeed`):
//! policy and ACL; the encryption only when they say the bucket is shared; the tags only when
//! the plan has a finding or a patch — 2 to 4 requests, where an event reads all four in one
//! round trip. Keys go through `KeyCache`, so each distinct key is read
//! once however many buckets use it. Keys are swept first, which warms that cache. Key policy
//! writes go one key at a time (`SerialKeyWrites`). A failed resource is recorded and the
//! sweep goes on.

pub mod aws;
pub mod batch;
pub mod cache;
pub mod keywrites;
pub mod report;

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::app::{self, RecordOutcome, SinkRecord};
use crate::config::Settings;
use crate::core::event::Trigger;
use crate::core::schedule::{bucket_trigger, key_trigger};
use crate::ports::{
    BucketReader, BucketWriter, Deps, FindingSink, Inventory, KeyReader, KeyWriter, ListedBucket,
    PortError, Writers,
};
use batch::{Batched, FLUSH_AT};
use cache::KeyCache;
use keywrites::SerialKeyWrites;
use report::{Kind, RegionFailure, ScanReport};

/// Default for `--max-concurrency`: resources in flight (each bucket makes at most 2
/// concurrent reads at a time, so 16 buckets are at most 32 bucket requests in flight).
pub const DEFAULT_MAX_CONCURRENCY: usize = 16;

/// Progress callbacks (the CLI's progress bar; nothing in the Lambda).
pub trait Progress: Send + Sync {
    /// `n` more resources were listed.
    fn listed(&self, n: u64);
    /// One resource was evaluated.
    fn evaluated(&self);
}

/// No progress display.
impl Progress for () {
    fn listed(&self, _n: u64) {}
    fn evaluated(&self) {}
}

#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// The account that owns the buckets (`ExpectedBucketOwner`, trigger account).
    pub account: String,
    pub max_concurrency: usize,
    /// Stop starting new resources at this instant (the Lambda's remaining time).
    pub deadline: Option<Instant>,
    /// Where the full report is, for the digest (the Lambda's log stream, the CLI's output,
    /// the OCSF objects).
    pub full_report: String,
}

/// One region's inventory and dependencies.
pub struct RegionSweep<L, B, K, BW, KW, S> {
    pub region: String,
    pub inventory: L,
    pub deps: Deps<B, K, Writers<BW, KW>, S>,
}

/// Sweeps the regions one after the other and returns the report (sorted).
pub async fn sweep<L, B, K, BW, KW, S>(
    regions: Vec<RegionSweep<L, B, K, BW, KW, S>>,
    settings: &Settings,
    opts: &SweepOptions,
    progress: &dyn Progress,
) -> ScanReport
where
    L: Inventory,
    B: BucketReader + 'static,
    K: KeyReader + 'static,
    BW: BucketWriter + 'static,
    KW: KeyWriter + 'static,
    S: FindingSink + 'static,
{
    let started = Instant::now();
    let names: Vec<String> = regions.iter().map(|r| r.region.clone()).collect();
    let mut report = ScanReport::new(&opts.account, &names, settings.core.mode);
    // The findings are posted as the swept account's unless the caller said who posts.
    let mut settings = settings.clone();
    if settings.account.is_none() {
        settings.account = Some(opts.account.clone());
    }
    let mut digest_sinks: Option<Vec<S>> = None;
    for r in regions {
        let region = r.region.clone();
        let RegionSweep {
            inventory,
            deps,
            region: _,
        } = r;
        let (per_finding, digest): (Vec<S>, Vec<S>) =
            deps.sinks.into_iter().partition(|s| s.per_finding());
        // One digest for the whole sweep: the first region's notification sinks.
        digest_sinks.get_or_insert(digest);
        let deps = Deps {
            buckets: deps.buckets,
            keys: deps.keys,
            writer: deps.writer,
            sinks: per_finding
                .into_iter()
                .map(|s| Batched::new(s, FLUSH_AT))
                .collect(),
            identities: deps.identities,
        };
        let failure = sweep_region(
            &region,
            inventory,
            deps,
            &settings,
            opts,
            progress,
            &mut report,
        )
        .await;
        match failure {
            None => report.regions_swept.push(region),
            Some(reason) => report.regions_failed.push(RegionFailure { region, reason }),
        }
        if report.incomplete {
            break;
        }
    }
    report.sort();
    report.elapsed_ms = started.elapsed().as_millis();
    for sink in digest_sinks.unwrap_or_default() {
        let (subject, body, severity) = report.digest(&opts.full_report);
        match sink.publish_digest(&subject, &body, severity).await {
            Ok(sent) => report.published.push(SinkRecord {
                sink: sink.name().to_string(),
                sent,
            }),
            Err(e) => report.error(&format!("sink:{}", sink.name()), "publish", &e),
        }
    }
    tracing::info!(
        target: "cmkguard::scan",
        buckets = report.buckets,
        keys = report.keys,
        findings = report.findings.len(),
        errors = report.errors.len(),
        elapsed_ms = report.elapsed_ms as u64,
        "sweep done"
    );
    report
}

/// The tasks of one region: shared dependencies, the running tasks and their bound.
struct Runner<B, K, BW, KW, S> {
    #[allow(clippy::type_complexity)]
    deps: Arc<Deps<B, Arc<KeyCache<K>>, Writers<BW, SerialKeyWrites<KW, KeyCache<K>>>, Batched<S>>>,
    settings: Arc<Settings>,
    now: Arc<str>,
    tasks: JoinSet<(Kind, String, RecordOutcome)>,
    max: usize,
    deadline: Option<Instant>,
}

impl<B, K, BW, KW, S> Runner<B, K, BW, KW, S>
where
    B: BucketReader + 'static,
    K: KeyReader + 'static,
    BW: BucketWriter + 'static,
    KW: KeyWriter + 'static,
    S: FindingSink + 'static,
{
    /// Starts one resource once fewer than `max` are in flight; false when the deadline has
    /// passed. Finished outcomes are folded into the report on the way, so the set never
    /// holds more than `max` of them.
    async fn submit(
        &mut self,
        kind: Kind,
        resource: String,
        trigger: Trigger,
        report: &mut ScanReport,
        progress: &dyn Progress,
    ) -> bool {
        while let Some(done) = self.tasks.try_join_next() {
            absorb(done, report, progress);
        }
        while self.tasks.len() >= self.max {
            match self.tasks.join_next().await {
                Some(done) => absorb(done, report, progress),
                None => break,
            }
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return false;
        }
        let (deps, settings, now) = (self.deps.clone(), self.settings.clone(), self.now.clone());
        self.tasks.spawn(async move {
            let out = app::handle_trigger(trigger, &deps, &settings, &now).await;
            (kind, resource, out)
        });
        true
    }

    async fn drain(&mut self, report: &mut ScanReport, progress: &dyn Progress) {
        while let Some(done) = self.tasks.join_next().await {
            absorb(done, report, progress);
        }
    }
}

fn absorb(
    done: Result<(Kind, String, RecordOutcome), tokio::task::JoinError>,
    report: &mut ScanReport,
    progress: &dyn Progress,
) {
    progress.evaluated();
    match done {
        Ok((kind, resource, out)) => report.absorb(kind, &resource, out),
        // A panic in one resource's evaluation is a bug; it is reported, the sweep goes on.
        Err(e) => report.errors.push(report::ScanError {
            resource: "(unknown)".into(),
            stage: "task".into(),
            operation: "evaluate".into(),
            code: if e.is_panic() { "panic" } else { "cancelled" }.into(),
            message: e.to_string(),
            retryable: false,
        }),
    }
}

/// Sweeps one region; returns why the region is not fully swept (a failed listing, the
/// deadline), None when it is.
async fn sweep_region<L, B, K, BW, KW, S>(
    region: &str,
    inventory: L,
    deps: Deps<B, K, Writers<BW, KW>, Batched<S>>,
    settings: &Settings,
    opts: &SweepOptions,
    progress: &dyn Progress,
    report: &mut ScanReport,
) -> Option<String>
where
    L: Inventory,
    B: BucketReader + 'static,
    K: KeyReader + 'static,
    BW: BucketWriter + 'static,
    KW: KeyWriter + 'static,
    S: FindingSink + 'static,
{
    let keys = Arc::new(KeyCache::new(deps.keys));
    let deps = Deps {
        buckets: deps.buckets,
        keys: keys.clone(),
        writer: Writers {
            buckets: deps.writer.buckets,
            keys: SerialKeyWrites::new(deps.writer.keys, keys),
        },
        sinks: deps.sinks,
        identities: deps.identities,
    };
    let mut runner = Runner {
        deps: Arc::new(deps),
        settings: Arc::new(settings.clone()),
        now: Arc::from(app::now_rfc3339()),
        tasks: JoinSet::new(),
        max: opts.max_concurrency.max(1),
        deadline: opts.deadline,
    };
    let account = opts.account.as_str();
    let mut list_errors: Vec<PortError> = Vec::new();
    let mut stopped = false;

    // Keys first: their reads fill the cache the buckets then hit.
    let (tx, rx) = mpsc::channel::<Result<Vec<String>, PortError>>(1);
    let consume = async {
        // Owned here: returning early drops the receiver, which stops the lister.
        let mut rx = rx;
        while let Some(page) = rx.recv().await {
            let keys = match page {
                Ok(keys) => keys,
                Err(e) => {
                    list_errors.push(e);
                    continue;
                }
            };
            progress.listed(keys.len() as u64);
            for key in keys {
                let t = key_trigger(account, region, &key);
                if !runner.submit(Kind::Key, key, t, report, progress).await {
                    stopped = true;
                    return;
                }
            }
        }
    };
    tokio::join!(inventory.list_keys(tx), consume);

    if !stopped {
        let (tx, rx) = mpsc::channel::<Result<Vec<ListedBucket>, PortError>>(1);
        let consume = async {
            let mut rx = rx;
            while let Some(page) = rx.recv().await {
                let buckets = match page {
                    Ok(b) => b,
                    Err(e) => {
                        list_errors.push(e);
                        continue;
                    }
                };
                progress.listed(buckets.len() as u64);
                for b in buckets {
                    let t = bucket_trigger(account, &b.region, &b.name);
                    let arn = format!("arn:aws:s3:::{}", b.name);
                    if !runner.submit(Kind::Bucket, arn, t, report, progress).await {
                        stopped = true;
                        return;
                    }
                }
            }
        };
        tokio::join!(inventory.list_buckets(region, tx), consume);
    }
    runner.drain(report, progress).await;
    report.summary.key_reads += runner.deps.keys.reads();
    for sink in &runner.deps.sinks {
        let (sent, errors) = sink.flush().await;
        report.published.push(SinkRecord {
            sink: sink.name().to_string(),
            sent,
        });
        for e in &errors {
            report.error(&format!("sink:{}", sink.name()), "publish", e);
        }
    }
    let mut failure = None;
    if !list_errors.is_empty() {
        failure = Some(
            list_errors
                .iter()
                .map(|e| format!("{} {}: {}", e.operation, e.code, e.message))
                .collect::<Vec<_>>()
                .join("; "),
        );
    }
    for e in list_errors {
        report.error(&format!("listing:{region}"), "list", &e);
    }
    if stopped {
        report.incomplete = true;
        report.errors.push(report::ScanError {
            resource: format!("region:{region}"),
            stage: "deadline".into(),
            operation: "sweep".into(),
            code: "Deadline".into(),
            message: "the time budget ran out: resources not yet started were not evaluated".into(),
            retryable: true,
        });
        failure.get_or_insert_with(|| "stopped at the deadline".to_string());
    }
    failure
}

#[cfg(test)]
mod tests;
