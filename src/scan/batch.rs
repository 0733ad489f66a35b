//! The sweep's per-finding sinks, batched across resources: each resource's findings are
//! queued and a sink is posted only when 100 records are waiting (one `BatchImportFindings`
//! call's worth) and once at the end of the region, instead of one call per resource. What a
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

    /// Queues the batch; posts the queue once it holds `flush_at` records. Returns how many
    /// records were queued.
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
            if q.as_ref().is_some_and(|b| b.len() >= self.flush_at) {
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
