//! The sweep's key cache: many buckets share one key, so `read_key` (DescribeKey plus four
//! reads) is made once per distinct key reference and shared, even by buckets asking at the
//! same moment (a per-reference `OnceCell`); so are `read_grants` answers, per key ARN. Transient failures are not cached (the next
//! bucket tries again); answers and permanent failures are.
//!
//! The fresh reads before a write and the read-backs after it (`read_key_policy`,
//! `read_rotation`) always go to the service: they are what detects a change. When one shows
//! a policy or rotation status other than the cached one, the cached key is dropped, so a
//! re-plan (and every later bucket) reads the key again instead of deciding on stale state.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::sync::OnceCell;

use crate::core::snapshot::KeyState;
use crate::ports::{KeyRead, KeyReader, PortError};

type Cell = Arc<OnceCell<Result<KeyRead, PortError>>>;
type GrantCell = Arc<OnceCell<Result<Value, PortError>>>;

pub struct KeyCache<K> {
    inner: K,
    cells: Mutex<HashMap<String, Cell>>,
    /// ListGrants answers by key ARN, cached like the key reads (a key shared by many
    /// buckets is asked once).
    grants: Mutex<HashMap<String, GrantCell>>,
    reads: AtomicUsize,
}

impl<K> KeyCache<K> {
    pub fn new(inner: K) -> Self {
        KeyCache {
            inner,
            cells: Mutex::new(HashMap::new()),
            grants: Mutex::new(HashMap::new()),
            reads: AtomicUsize::new(0),
        }
    }

    /// `read_key` calls that reached the wrapped reader (cache misses).
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::Relaxed)
    }

    fn cells(&self) -> MutexGuard<'_, HashMap<String, Cell>> {
        // A panic while holding the lock leaves the map consistent (one insert or retain).
        self.cells.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drops every cached read of `key_arn` whose state fails `still_valid`.
    /// A read of the key by its ARN still in flight is dropped too: it may have started
    /// before the change.
    fn invalidate(&self, key_arn: &str, still_valid: impl Fn(&KeyState) -> bool) {
        self.cells().retain(|reference, cell| match cell.get() {
            Some(Ok(KeyRead::Found { state, .. })) => {
                arn_of(state) != Some(key_arn) || still_valid(state)
            }
            None => reference != key_arn,
            _ => true,
        });
    }
}

fn arn_of(state: &KeyState) -> Option<&str> {
    state
        .metadata
        .pointer("/KeyMetadata/Arn")
        .and_then(Value::as_str)
}

impl<K: KeyReader> KeyReader for KeyCache<K> {
    async fn read_key(&self, key: &str) -> Result<KeyRead, PortError> {
        let cell = self.cells().entry(key.to_string()).or_default().clone();
        let got = cell
            .get_or_try_init(|| async {
                self.reads.fetch_add(1, Ordering::Relaxed);
                match self.inner.read_key(key).await {
                    Err(e) if e.retryable() => Err(e),
                    answer => Ok(answer),
                }
            })
            .await?;
        got.clone()
    }

    async fn read_key_policy(&self, key_arn: &str) -> Result<Option<Value>, PortError> {
        let fresh = self.inner.read_key_policy(key_arn).await?;
        self.invalidate(key_arn, |s| s.policy == fresh);
        Ok(fresh)
    }

    async fn read_rotation(&self, key_arn: &str) -> Result<bool, PortError> {
        let fresh = self.inner.read_rotation(key_arn).await?;
        self.invalidate(key_arn, |s| s.rotation_enabled == Some(fresh));
        Ok(fresh)
    }

    async fn read_grants(&self, key_arn: &str) -> Result<Value, PortError> {
        let cell = self
            .grants
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key_arn.to_string())
            .or_default()
            .clone();
        let got = cell
            .get_or_try_init(|| async {
                match self.inner.read_grants(key_arn).await {
                    Err(e) if e.retryable() => Err(e),
                    answer => Ok(answer),
                }
            })
            .await?;
        got.clone()
    }
}

/// The sweep shares one cache between the app's reads and the key-write gate.
impl<T: KeyReader> KeyReader for Arc<T> {
    async fn read_key(&self, key: &str) -> Result<KeyRead, PortError> {
        (**self).read_key(key).await
    }

    async fn read_key_policy(&self, key_arn: &str) -> Result<Option<Value>, PortError> {
        (**self).read_key_policy(key_arn).await
    }

    async fn read_rotation(&self, key_arn: &str) -> Result<bool, PortError> {
        (**self).read_rotation(key_arn).await
    }

    async fn read_grants(&self, key_arn: &str) -> Result<Value, PortError> {
        (**self).read_grants(key_arn).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::snapshot::Tags;
    use crate::ports::ErrorClass;
    use serde_json::json;
    use std::sync::atomic::AtomicBool;

    const ARN: &str = "arn:aws:kms:eu-west-1:111122223333:key/k1";

    /// A key whose policy can be changed, counting reads; optionally failing once.
    struct Fake {
        policy: Mutex<String>,
        calls: AtomicUsize,
        fail_once: AtomicBool,
        class: ErrorClass,
    }

    impl Fake {
        fn new() -> Self {
            Fake {
                policy: Mutex::new("p1".into()),
                calls: AtomicUsize::new(0),
                fail_once: AtomicBool::new(false),
                class: ErrorClass::Transient,
            }
        }
    }

    impl KeyReader for Fake {
        async fn read_key(&self, _key: &str) -> Result<KeyRead, PortError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            // Let concurrent callers pile up on the same cell.
            tokio::task::yield_now().await;
            if self.fail_once.swap(false, Ordering::SeqCst) {
                return Err(PortError::new(self.class, "kms:DescribeKey", "X", "x"));
            }
            let policy = self.policy.lock().unwrap().clone();
            Ok(KeyRead::Found {
                state: Box::new(KeyState {
                    metadata: json!({"KeyMetadata": {"Arn": ARN}}),
                    policy: Some(Value::String(policy)),
                    rotation_enabled: Some(false),
                    tags: Tags::default(),
                    aliases: vec![],
                    grants: None,
                }),
                notes: vec![],
            })
        }

        async fn read_key_policy(&self, _key_arn: &str) -> Result<Option<Value>, PortError> {
            Ok(Some(Value::String(self.policy.lock().unwrap().clone())))
        }

        async fn read_rotation(&self, _key_arn: &str) -> Result<bool, PortError> {
            Ok(true)
        }
    }

    fn policy_of(r: &KeyRead) -> Option<Value> {
        match r {
            KeyRead::Found { state, .. } => state.policy.clone(),
            KeyRead::NotFound => None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_reads_of_one_key_reach_the_service_once() {
        let cache = Arc::new(KeyCache::new(Fake::new()));
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..32 {
            let c = cache.clone();
            set.spawn(async move { c.read_key(ARN).await });
        }
        while let Some(r) = set.join_next().await {
            assert!(matches!(r.unwrap(), Ok(KeyRead::Found { .. })));
        }
        assert_eq!(cache.inner.calls.load(Ordering::SeqCst), 1);
        assert_eq!(cache.reads(), 1);
        // Another reference to the same key is another entry (aliases resolve in the service).
        cache.read_key("alias/data").await.unwrap();
        assert_eq!(cache.reads(), 2);
    }

    #[tokio::test]
    async fn transient_failures_are_retried_by_the_next_caller() {
        let fake = Fake::new();
        fake.fail_once.store(true, Ordering::SeqCst);
        let cache = KeyCache::new(fake);
        assert!(cache.read_key(ARN).await.unwrap_err().retryable());
        assert!(cache.read_key(ARN).await.is_ok());
        assert!(cache.read_key(ARN).await.is_ok());
        assert_eq!(cache.reads(), 2);
    }

    #[tokio::test]
    async fn permanent_failures_are_cached() {
        let mut fake = Fake::new();
        fake.class = ErrorClass::Permanent;
        fake.fail_once.store(true, Ordering::SeqCst);
        let cache = KeyCache::new(fake);
        assert!(!cache.read_key(ARN).await.unwrap_err().retryable());
        assert!(cache.read_key(ARN).await.is_err(), "the cached answer");
        assert_eq!(cache.reads(), 1);
    }

    #[tokio::test]
    async fn a_fresh_read_showing_a_change_drops_the_cached_key() {
        let cache = KeyCache::new(Fake::new());
        let first = cache.read_key(ARN).await.unwrap();
        assert_eq!(policy_of(&first), Some(json!("p1")));
        // Unchanged: still cached.
        cache.read_key_policy(ARN).await.unwrap();
        cache.read_key(ARN).await.unwrap();
        assert_eq!(cache.reads(), 1);
        // Another writer changed the policy: the fresh read notices, the next read re-reads.
        *cache.inner.policy.lock().unwrap() = "p2".into();
        assert_eq!(
            cache.read_key(ARN).await.map(|r| policy_of(&r)).unwrap(),
            Some(json!("p1"))
        );
        cache.read_key_policy(ARN).await.unwrap();
        let again = cache.read_key(ARN).await.unwrap();
        assert_eq!(policy_of(&again), Some(json!("p2")));
        assert_eq!(cache.reads(), 2);
        // Rotation now on (the fake says true, the cache false): dropped again.
        cache.read_rotation(ARN).await.unwrap();
        cache.read_key(ARN).await.unwrap();
        assert_eq!(cache.reads(), 3);
    }
}
