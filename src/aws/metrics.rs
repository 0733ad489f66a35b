//! Request accounting for the SDK clients: an interceptor, installed on every client that
//! `aws::load_clients` builds, counts each HTTP attempt per operation (`s3:GetBucketPolicy`),
//! reads versus writes, and the sequential round-trip depth. Users see it in
//! `cmkguard handle --output json` under `requests`; the benches use it to check the issue's
//! targets (≤ 6 reads per bucket event, depth ≤ 3, zero writes on a repeated event).
//!
//! The bookkeeping (`Tally`) is pure and tested on its own; the interceptor only feeds it
//! start / end events in the order the SDK reports them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use aws_sdk_s3::config::interceptors::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use serde::Serialize;

/// What a run cost in AWS requests. Field names are public (`handle --output json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RequestCounts {
    /// HTTP attempts sent (a retried call counts once per attempt: each one is billed,
    /// throttled and logged like any other request).
    pub total: u64,
    /// Attempts of `Get*`, `List*`, `Describe*`, `Head*` operations.
    pub reads: u64,
    /// Every other attempt (state writes, and sink publishes when sinks are configured).
    pub writes: u64,
    /// The longest chain of requests each sent after the previous one had answered: the
    /// number of round trips the run waited for one after another (see `Tally`).
    pub depth: u32,
    /// Attempts per `service:Operation`, e.g. `s3:GetBucketPolicy`.
    pub by_operation: BTreeMap<String, u64>,
}

/// True for operations that only read (the AWS naming convention the SDKs follow).
pub fn is_read(operation: &str) -> bool {
    ["Get", "List", "Describe", "Head"]
        .iter()
        .any(|p| operation.starts_with(p))
}

/// The pure bookkeeping behind `RequestMetrics`.
///
/// Depth: each request gets `1 + the largest depth among requests that had already answered
/// when it was sent`; the run's depth is the largest of these. That is the longest chain of
/// strictly sequential requests — requests sent together (a `join!`) share one round, and a
/// request sent after an answer counts one round more, because it *may* depend on it. It is an
/// upper bound on the true dependency depth (it cannot see that a later request did not need
/// the earlier answer), so a target met under it is met for real. The simpler "waves" count
/// (a request sent while none is in flight opens a round) is a lower bound instead: it misses
/// a request that depends on an answer while an unrelated request is still in flight.
#[derive(Debug, Default)]
pub struct Tally {
    counts: RequestCounts,
    next_id: u64,
    /// Depth of each request in flight, by id.
    in_flight: HashMap<u64, u32>,
    /// Largest depth among the requests that have answered.
    answered_depth: u32,
}

impl Tally {
    /// A request is sent: counts it and returns its id for `end`.
    pub fn start(&mut self, operation: &str) -> u64 {
        let op_name = operation.rsplit(':').next().unwrap_or(operation);
        self.counts.total += 1;
        if is_read(op_name) {
            self.counts.reads += 1;
        } else {
            self.counts.writes += 1;
        }
        *self
            .counts
            .by_operation
            .entry(operation.to_string())
            .or_default() += 1;
        let depth = self.answered_depth + 1;
        self.counts.depth = self.counts.depth.max(depth);
        let id = self.next_id;
        self.next_id += 1;
        self.in_flight.insert(id, depth);
        id
    }

    /// The request `id` answered (or failed): later requests may depend on it. An unknown id
    /// (already ended, or from before a reset) is ignored.
    pub fn end(&mut self, id: u64) {
        if let Some(d) = self.in_flight.remove(&id) {
            self.answered_depth = self.answered_depth.max(d);
        }
    }

    pub fn counts(&self) -> RequestCounts {
        self.counts.clone()
    }

    /// Starts a new measurement; requests still in flight are forgotten (their `end` is
    /// ignored), so they cannot lengthen the next run's chain.
    pub fn reset(&mut self) {
        let next_id = self.next_id;
        *self = Tally {
            next_id,
            ..Tally::default()
        };
    }
}

/// Shared counters: cheap to clone, one per set of clients.
#[derive(Debug, Clone, Default)]
pub struct RequestMetrics(Arc<Mutex<Tally>>);

impl RequestMetrics {
    /// The counts since the clients were built or the last `reset`.
    pub fn snapshot(&self) -> RequestCounts {
        self.0.lock().map(|t| t.counts()).unwrap_or_default()
    }

    pub fn reset(&self) {
        if let Ok(mut t) = self.0.lock() {
            t.reset();
        }
    }

    /// The interceptor to install on a client's config.
    pub fn interceptor(&self) -> CountRequests {
        CountRequests(self.clone())
    }

    fn start(&self, operation: &str) -> Option<u64> {
        self.0.lock().ok().map(|mut t| t.start(operation))
    }

    fn end(&self, id: u64) {
        if let Ok(mut t) = self.0.lock() {
            t.end(id);
        }
    }
}

/// The id of the attempt in flight, kept in the operation's config bag between the
/// before-transmit and after-attempt hooks (attempts of one operation are sequential).
#[derive(Debug, Clone)]
struct InFlight(u64);

impl Storable for InFlight {
    type Storer = StoreReplace<Self>;
}

/// The SDK interceptor feeding `RequestMetrics`. It never fails a request.
#[derive(Debug, Clone)]
pub struct CountRequests(RequestMetrics);

impl Intercept for CountRequests {
    fn name(&self) -> &'static str {
        "cmkguard::CountRequests"
    }

    // Counted just before the bytes go out, so an attempt that failed earlier (endpoint,
    // signing) is not counted as a request the service saw.
    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg
            .load::<Metadata>()
            .map(|m| format!("{}:{}", m.service().to_ascii_lowercase(), m.name()))
            .unwrap_or_else(|| "unknown:Unknown".to_string());
        if let Some(id) = self.0.start(&operation) {
            cfg.interceptor_state().store_put(InFlight(id));
        }
        Ok(())
    }

    // Called once per attempt whatever its result (answer, error, timeout), so every started
    // request ends exactly once.
    fn read_after_attempt(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(InFlight(id)) = cfg.load::<InFlight>().cloned() {
            self.0.end(id);
            cfg.interceptor_state().unset::<InFlight>();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_reads_share_one_round() {
        let mut t = Tally::default();
        let ids: Vec<u64> = [
            "s3:GetBucketPolicy",
            "s3:GetBucketEncryption",
            "s3:GetBucketAcl",
        ]
        .iter()
        .map(|op| t.start(op))
        .collect();
        for id in ids {
            t.end(id);
        }
        let c = t.counts();
        assert_eq!((c.total, c.reads, c.writes, c.depth), (3, 3, 0, 1));
    }

    #[test]
    fn a_request_sent_after_an_answer_is_one_round_deeper() {
        let mut t = Tally::default();
        let a = t.start("s3:GetBucketEncryption");
        t.end(a);
        let b = t.start("kms:DescribeKey");
        let c = t.start("kms:GetKeyPolicy");
        t.end(b);
        t.end(c);
        let d = t.start("s3:PutBucketPolicy");
        t.end(d);
        let counts = t.counts();
        assert_eq!(counts.depth, 3);
        assert_eq!((counts.reads, counts.writes), (3, 1));
        assert_eq!(counts.by_operation["s3:PutBucketPolicy"], 1);
    }

    #[test]
    fn a_dependent_request_overlapping_a_slow_one_still_counts_a_round() {
        // A and C sent together; A answers; B (which may need A's answer) is sent while C is
        // still in flight. "Waves" would say 1; the chain A → B is 2 rounds.
        let mut t = Tally::default();
        let a = t.start("s3:GetBucketPolicy");
        let c = t.start("s3:GetBucketTagging");
        t.end(a);
        let b = t.start("kms:DescribeKey");
        t.end(c);
        t.end(b);
        assert_eq!(t.counts().depth, 2);
    }

    #[test]
    fn overlapping_requests_do_not_chain() {
        // B is sent before A answers: B cannot depend on A.
        let mut t = Tally::default();
        let a = t.start("s3:GetBucketPolicy");
        let b = t.start("s3:GetBucketAcl");
        t.end(b);
        t.end(a);
        assert_eq!(t.counts().depth, 1);
    }

    #[test]
    fn reset_forgets_counts_and_requests_in_flight() {
        let mut t = Tally::default();
        let a = t.start("s3:GetBucketPolicy");
        let b = t.start("s3:GetBucketAcl");
        t.end(b);
        t.reset();
        assert_eq!(t.counts(), RequestCounts::default());
        t.end(a); // from before the reset: ignored
        t.end(a); // twice: ignored
        let c = t.start("s3:GetBucketAcl");
        t.end(c);
        assert_eq!(t.counts().depth, 1);
        assert_eq!(t.counts().total, 1);
    }

    #[test]
    fn reads_and_writes_follow_the_operation_verb() {
        for op in [
            "GetBucketPolicy",
            "ListAliases",
            "DescribeKey",
            "HeadBucket",
        ] {
            assert!(is_read(op), "{op}");
        }
        for op in [
            "PutBucketPolicy",
            "EnableKeyRotation",
            "Publish",
            "BatchImportFindings",
        ] {
            assert!(!is_read(op), "{op}");
        }
        let mut t = Tally::default();
        let id = t.start("sns:Publish");
        t.end(id);
        assert_eq!((t.counts().reads, t.counts().writes), (0, 1));
    }
}
