//! The sweep engine over fakes: the concurrency bound holds, listing pages stream through,
//! a listing failure and a failed bucket are recorded while the sweep goes on, a bucket gone
//! since the listing is ignored, and a passed deadline stops the sweep as incomplete.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::mpsc::Sender;

use super::*;
use crate::core::snapshot::{BucketState, Tags};
use crate::ports::{ErrorClass, KeyRead};

const ACCOUNT: &str = "111122223333";

struct Inv {
    buckets: usize,
    page: usize,
    key_listing_fails: bool,
}

impl Inventory for Inv {
    async fn list_buckets(&self, region: &str, tx: Sender<Result<Vec<ListedBucket>, PortError>>) {
        let names: Vec<ListedBucket> = (0..self.buckets)
            .map(|i| ListedBucket {
                name: format!("b{i:04}"),
                region: region.to_string(),
            })
            .collect();
        for chunk in names.chunks(self.page) {
            if tx.send(Ok(chunk.to_vec())).await.is_err() {
                return;
            }
        }
    }

    async fn list_keys(&self, tx: Sender<Result<Vec<String>, PortError>>) {
        if self.key_listing_fails {
            let e = PortError::new(
                ErrorClass::Permanent,
                "kms:ListKeys",
                "AccessDeniedException",
                "denied",
            );
            let _ = tx.send(Err(e)).await;
        }
    }
}

/// Buckets without policy or encryption; `b0003` fails, `b0004` is gone. Tracks how many
/// reads run at once.
#[derive(Default)]
struct Buckets {
    now: AtomicUsize,
    peak: AtomicUsize,
    reads: AtomicUsize,
}

impl BucketReader for Buckets {
    async fn read_bucket(
        &self,
        bucket: &str,
        owner: &str,
        region: &str,
    ) -> Result<BucketState, PortError> {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(n, Ordering::SeqCst);
        self.reads.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(2)).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        if bucket == "b0003" {
            return Err(PortError::new(
                ErrorClass::Transient,
                "s3:GetBucketPolicy",
                "SlowDown",
                "throttled",
            ));
        }
        Ok(BucketState {
            name: bucket.to_string(),
            account: owner.to_string(),
            region: region.to_string(),
            exists: bucket != "b0004",
            owner_canonical_id: None,
            policy: None,
            encryption: None,
            acl: Some(json!({"Owner": {"ID": "owner"}, "Grants": []})),
            tags: Tags::default(),
        })
    }

    async fn read_bucket_policy(&self, _b: &str, _o: &str) -> Result<Option<Value>, PortError> {
        Ok(None)
    }

    async fn read_bucket_encryption(&self, _b: &str, _o: &str) -> Result<Option<Value>, PortError> {
        Ok(None)
    }
}

struct NoKeys;

impl KeyReader for NoKeys {
    async fn read_key(&self, _key: &str) -> Result<KeyRead, PortError> {
        Ok(KeyRead::NotFound)
    }

    async fn read_key_policy(&self, _key_arn: &str) -> Result<Option<Value>, PortError> {
        Ok(None)
    }

    async fn read_rotation(&self, _key_arn: &str) -> Result<bool, PortError> {
        Ok(false)
    }
}

/// Report mode never writes: any call is a test failure.
struct NoWrites;

impl BucketWriter for NoWrites {
    async fn put_bucket_policy(&self, b: &str, _o: &str, _p: &str) -> Result<(), PortError> {
        panic!("report mode wrote the policy of {b}")
    }

    async fn put_bucket_encryption(&self, b: &str, _o: &str, _r: &Value) -> Result<(), PortError> {
        panic!("report mode wrote the encryption of {b}")
    }
}

impl KeyWriter for NoWrites {
    async fn put_key_policy(&self, k: &str, _n: &str, _p: &str) -> Result<(), PortError> {
        panic!("report mode wrote the key policy of {k}")
    }

    async fn enable_key_rotation(&self, k: &str) -> Result<(), PortError> {
        panic!("report mode enabled rotation of {k}")
    }
}

struct Counted(Arc<Buckets>);

impl BucketReader for Counted {
    async fn read_bucket(&self, b: &str, o: &str, r: &str) -> Result<BucketState, PortError> {
        self.0.read_bucket(b, o, r).await
    }

    async fn read_bucket_policy(&self, b: &str, o: &str) -> Result<Option<Value>, PortError> {
        self.0.read_bucket_policy(b, o).await
    }

    async fn read_bucket_encryption(&self, b: &str, o: &str) -> Result<Option<Value>, PortError> {
        self.0.read_bucket_encryption(b, o).await
    }
}

async fn run(inv: Inv, max: usize, deadline: Option<Instant>) -> (ScanReport, Arc<Buckets>) {
    let buckets = Arc::new(Buckets::default());
    let region = RegionSweep {
        region: "eu-west-1".to_string(),
        inventory: inv,
        deps: Deps {
            buckets: Counted(buckets.clone()),
            keys: NoKeys,
            writer: Writers {
                buckets: NoWrites,
                keys: NoWrites,
            },
            sinks: Vec::<std::convert::Infallible>::new(),
            identities: crate::ports::NoIdentities,
        },
    };
    let opts = SweepOptions {
        account: ACCOUNT.to_string(),
        max_concurrency: max,
        deadline,
        full_report: "the test report".to_string(),
    };
    let report = sweep(vec![region], &Settings::default(), &opts, &()).await;
    (report, buckets)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bound_holds_pages_stream_and_failures_are_recorded() {
    let inv = Inv {
        buckets: 100,
        page: 30,
        key_listing_fails: true,
    };
    let (report, buckets) = run(inv, 5, None).await;
    // Reads by need: each bucket once for its policy and ACL, and the 98 that exist and have
    // a finding once more for their tags (the fake serves both through `read_bucket`).
    assert_eq!(
        buckets.reads.load(Ordering::SeqCst),
        100 + 98,
        "each bucket read once, and again for the tags of its finding"
    );
    let peak = buckets.peak.load(Ordering::SeqCst);
    assert!((1..=5).contains(&peak), "peak {peak} in flight");
    assert_eq!(report.buckets, 100);
    assert_eq!(report.keys, 0);
    assert!(!report.incomplete);
    // One TLS finding per bucket that was read and exists (98 of 100).
    assert_eq!(report.findings.len(), 98);
    assert_eq!(report.summary.by_rule["TLS_NOT_ENFORCED"], 98);
    assert_eq!(
        report.summary.ignored, 1,
        "the bucket gone since the listing"
    );
    let errors: Vec<(&str, &str, &str)> = report
        .errors
        .iter()
        .map(|e| (e.resource.as_str(), e.stage.as_str(), e.code.as_str()))
        .collect();
    assert_eq!(
        errors,
        vec![
            ("arn:aws:s3:::b0003", "read", "SlowDown"),
            ("listing:eu-west-1", "list", "AccessDeniedException"),
        ]
    );
    assert!(report.errors[0].retryable);
    assert!(report.writes.is_empty());
    // Sorted output: findings by resource.
    assert!(report
        .findings
        .windows(2)
        .all(|w| w[0].resource_arn <= w[1].resource_arn));
}

#[tokio::test]
async fn a_passed_deadline_stops_the_sweep_as_incomplete() {
    let inv = Inv {
        buckets: 10,
        page: 10,
        key_listing_fails: false,
    };
    let (report, buckets) = run(inv, 4, Some(Instant::now())).await;
    assert_eq!(buckets.reads.load(Ordering::SeqCst), 0);
    assert_eq!(report.buckets, 0);
    assert!(report.incomplete);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].code, "Deadline");
    assert!(report.text().contains("INCOMPLETE"));
}

#[tokio::test]
async fn summary_json_has_counts_not_findings() {
    let inv = Inv {
        buckets: 3,
        page: 2,
        key_listing_fails: false,
    };
    let (report, _) = run(inv, 2, None).await;
    let s = report.summary_json();
    assert_eq!(s["buckets"], json!(3));
    // b0000..b0002: none of them is the failing or the vanished bucket.
    assert_eq!(s["findings"], json!(3));
    assert_eq!(s["errors"], json!(0));
    assert!(s.get("first_errors").is_some());
    assert_eq!(s["summary"]["by_rule"]["TLS_NOT_ENFORCED"], json!(3));
    let text = report.text();
    assert!(text.contains("buckets scanned      3"), "{text}");
    assert!(text.contains("TLS_NOT_ENFORCED"), "{text}");
}
