//! Key policy writes in a sweep, one key at a time. Many buckets of a sweep can plan a grant
//! on the same key at once, each from the state it read; written blindly, the second write
//! could drop the first one's grant (both are "the policy read + my grant"). Here each
//! `PutKeyPolicy` takes the key's lock, re-reads the policy, and then: writes nothing when
//! the policy already is the one asked for (another bucket wrote the same grant), refuses
//! when the current policy has a statement the new one lacks (changed since that bucket
//! planned: the next sweep decides again), and writes otherwise. It wraps only the key writer
//! (`ports::Writers` keeps the bucket writer beside it); rotation passes through.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::core::policy::model::unwrap_document;
use crate::core::policy::patch::statements;
use crate::ports::{ErrorClass, KeyReader, KeyWriter, PortError};

pub struct SerialKeyWrites<W, K> {
    inner: W,
    keys: Arc<K>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    shared: AtomicUsize,
}

impl<W, K> SerialKeyWrites<W, K> {
    pub fn new(inner: W, keys: Arc<K>) -> Self {
        SerialKeyWrites {
            inner,
            keys,
            locks: Mutex::new(HashMap::new()),
            shared: AtomicUsize::new(0),
        }
    }

    /// Key policy writes not sent because the policy already was the one asked for.
    pub fn already_written(&self) -> usize {
        self.shared.load(Ordering::Relaxed)
    }

    fn lock_for(&self, key_arn: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(key_arn.to_string()).or_default().clone()
    }
}

/// What to do with a key policy write, given the policy now (None = not readable).
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Write,
    AlreadyThere,
    /// A statement now in the policy would be lost.
    Conflict(String),
}

fn verdict(current: Option<&Value>, new: &Value) -> Verdict {
    let Some(current) = current.and_then(|c| unwrap_document(c).ok()) else {
        return Verdict::Write;
    };
    if &current == new {
        return Verdict::AlreadyThere;
    }
    let new_statements = statements(new);
    match statements(&current)
        .into_iter()
        .find(|s| !new_statements.contains(s))
    {
        Some(s) => Verdict::Conflict(
            s.get("Sid")
                .and_then(Value::as_str)
                .unwrap_or("(no Sid)")
                .to_string(),
        ),
        None => Verdict::Write,
    }
}

impl<W: KeyWriter, K: KeyReader> KeyWriter for SerialKeyWrites<W, K> {
    async fn put_key_policy(
        &self,
        key_arn: &str,
        policy_name: &str,
        policy: &str,
    ) -> Result<(), PortError> {
        let op = "kms:PutKeyPolicy";
        let new: Value = serde_json::from_str(policy)
            .map_err(|e| PortError::new(ErrorClass::Permanent, op, "build", e.to_string()))?;
        let lock = self.lock_for(key_arn);
        let _held = lock.lock().await;
        let current = self.keys.read_key_policy(key_arn).await?;
        match verdict(current.as_ref(), &new) {
            Verdict::AlreadyThere => {
                self.shared.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Verdict::Conflict(sid) => Err(PortError::new(
                ErrorClass::Transient,
                op,
                "ConcurrentChange",
                format!(
                    "the key policy of {key_arn} changed while the sweep planned (statement {sid} would be lost): not written, the next sweep decides again"
                ),
            )),
            Verdict::Write => {
                self.inner
                    .put_key_policy(key_arn, policy_name, policy)
                    .await
            }
        }
    }

    async fn enable_key_rotation(&self, key_arn: &str) -> Result<(), PortError> {
        self.inner.enable_key_rotation(key_arn).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(sids: &[&str]) -> Value {
        json!({"Version": "2012-10-17", "Statement": sids.iter().map(|s| json!({"Sid": s, "Effect": "Allow"})).collect::<Vec<_>>()})
    }

    #[test]
    fn verdicts() {
        let new = doc(&["Owner", "GrantA"]);
        assert_eq!(verdict(None, &new), Verdict::Write);
        assert_eq!(
            verdict(Some(&Value::String(doc(&["Owner"]).to_string())), &new),
            Verdict::Write
        );
        assert_eq!(
            verdict(Some(&Value::String(new.to_string())), &new),
            Verdict::AlreadyThere
        );
        assert_eq!(
            verdict(Some(&doc(&["Owner", "GrantB"])), &new),
            Verdict::Conflict("GrantB".into())
        );
        assert_eq!(verdict(Some(&json!("not json")), &new), Verdict::Write);
    }
}
