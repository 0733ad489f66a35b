//! The sweep's per-finding sinks, batched across resources: each resource's findings are
//! queued and a sink is posted only when 100 findings are waiting (one `BatchImportFindings`
//! call's worth: passed checks mostly resolve nothing and are not counted, up to ten times as
//! many) and once at the end of the region, instead of one call per resource. What a
//! sink sent, and the errors, are kept for the report (a resource's outcome only says its
//! records were queued).

use std::sync::Mutex;

use crate::ports::{FindingBatch, FindingSink, PortError};

/// Records queued before a sink is posted.
pub const FLUSH_AT: usize = 100;

/// One sink with its queue.
pub struct Batched<S> {
    pub inner: S,
    queue: Mutex<Option<FindingBatch>>,
    done: Mutex<(usize, Vec<PortError>)>,
    flush_at: usize,
}

impl<S: FindingSink> Batched<S> {
    pub fn new(inner: S, flush_at: usize) -> Self {
        Batched {
            inner,
            queue: Mutex::new(None),
            done: Mutex::new((0, Vec::new())),
            flush_at: flush_at.max(1),
        }
    }

    async fn send(&self, batch: FindingBatch) {
        let result = self.inner.publish(&batch).await;
        if let Ok(mut done) = self.done.lock() {
            match result {
                Ok(n) => done.0 += n,
                Err(e) => done.1.push(e),
            }
        }
    }

    /// Posts what is queued; returns what the sink sent in all and its errors, and resets both.
    pub async fn flush(&self) -> (usize, Vec<PortError>) {
        let rest = self.queue.lock().ok().and_then(|mut q| q.take());
        if let Some(b) = rest.filter(|b| !b.is_empty()) {
            self.send(b).await;
        }
        self.done
            .lock()
            .map(|mut d| std::mem::take(&mut *d))
            .unwrap_or_default()
    }
}

impl<S: FindingSink> FindingSink for Batched<S> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    /// Queues the batch; posts the queue once it holds `flush_at` findings (or ten times as
    /// many records). Returns how many records were queued.
    async fn publish(&self, batch: &FindingBatch) -> Result<usize, PortError> {
        let full = {
            let Ok(mut q) = self.queue.lock() else {
                return Ok(0);
            };
            match q.as_mut() {
                // One sweep region: the same time, account and region in every batch.
                Some(b) => {
                    b.findings.extend(batch.findings.iter().cloned());
                    b.passed.extend(batch.passed.iter().cloned());
                    b.archived.extend(batch.archived.iter().cloned());
                }
                None => *q = Some(batch.clone()),
            }
            let due = |b: &FindingBatch| {
                b.findings.len() + b.archived.len() >= self.flush_at
                    || b.len() >= 10 * self.flush_at
            };
            if q.as_ref().is_some_and(due) {
                q.take()
            } else {
                None
            }
        };
        if let Some(b) = full {
            self.send(b).await;
        }
        Ok(batch.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::finding::{finding_id, Passed, ResourceType, RuleId};
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Count(Arc<Mutex<Vec<usize>>>);

    impl FindingSink for Count {
        fn name(&self) -> &str {
            "count"
        }

        async fn publish(&self, batch: &FindingBatch) -> Result<usize, PortError> {
            self.0.lock().unwrap().push(batch.findings.len());
            Ok(batch.len())
        }
    }

    fn one(i: usize, finding: bool) -> FindingBatch {
        let p = Passed {
            id: finding_id(RuleId::TlsPartial, &format!("arn:aws:s3:::b{i}"), ""),
            rule_id: RuleId::TlsPartial,
            resource_type: ResourceType::AwsS3Bucket,
            resource_arn: format!("arn:aws:s3:::b{i}"),
            account: "111122223333".into(),
            region: "eu-west-1".into(),
        };
        let published = crate::ports::Published {
            finding: crate::core::finding::Finding {
                id: p.id.clone(),
                rule_id: RuleId::TlsNotEnforced,
                severity: crate::core::finding::Severity::Medium,
                title: String::new(),
                resource_type: ResourceType::AwsS3Bucket,
                resource_arn: p.resource_arn.clone(),
                account: p.account.clone(),
                region: p.region.clone(),
                exempt: false,
                reasons: Vec::new(),
                fix: String::new(),
                remediation: crate::core::finding::Remediation::Exempt,
            },
            status: crate::ports::FindingStatus::Open,
            done: Vec::new(),
        };
        FindingBatch {
            findings: if finding { vec![published] } else { Vec::new() },
            passed: vec![p; 6],
            archived: Vec::new(),
            time: "2024-11-25T10:02:41.000Z".into(),
            account: "111122223333".into(),
            region: "eu-west-1".into(),
        }
    }

    #[tokio::test]
    async fn findings_are_posted_a_hundred_at_a_time_and_the_rest_at_the_end() {
        let c = Count::default();
        let b = Batched::new(c.clone(), FLUSH_AT);
        for i in 0..250 {
            assert_eq!(b.publish(&one(i, true)).await, Ok(7), "queued");
        }
        assert_eq!(*c.0.lock().unwrap(), vec![100, 100]);
        let (sent, errors) = b.flush().await;
        assert_eq!(*c.0.lock().unwrap(), vec![100, 100, 50]);
        assert_eq!(sent, 250 * 7);
        assert!(errors.is_empty());
        // Passed checks alone flush at ten times the count.
        let c = Count::default();
        let b = Batched::new(c.clone(), FLUSH_AT);
        for i in 0..170 {
            b.publish(&one(i, false)).await.unwrap();
        }
        assert_eq!(c.0.lock().unwrap().len(), 1, "1000 records reached once");
        // Nothing queued: nothing sent.
        let c = Count::default();
        let (sent, _) = Batched::new(c.clone(), FLUSH_AT).flush().await;
        assert_eq!((sent, c.0.lock().unwrap().len()), (0, 0));
    }
}
