//! The organisation relay's two AWS adapters (ORG.md §2): `EventBusForwarder` puts relayed
//! denials on the owners' `cmkguard` buses (`PutEvents` with the bus ARN; per-entry failures
//! reported, never the whole request re-sent), and `ConfigOwners` answers "who owns bucket B"
//! from an AWS Config aggregator advanced query, cached for an hour (the inventory is a
//! pre-filter, not the truth: the owner's guardrail re-reads its own bucket anyway).

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde_json::Value;

use super::error::port_error;
use crate::core::event::relayed;
use crate::core::relay::{OwnerMap, RelayEntry, OWNER_QUERY};
use crate::ports::{DenialForwarder, OwnerResolver, PortError};

#[derive(Debug, Clone)]
pub struct EventBusForwarder {
    client: aws_sdk_eventbridge::Client,
}

impl EventBusForwarder {
    pub const IAM_ACTIONS: &'static [&'static str] = &["events:PutEvents"];

    pub fn new(client: aws_sdk_eventbridge::Client) -> Self {
        EventBusForwarder { client }
    }
}

impl DenialForwarder for EventBusForwarder {
    async fn put(
        &self,
        entries: &[RelayEntry],
    ) -> Result<Vec<Option<(String, String)>>, PortError> {
        let mut req = self.client.put_events();
        for e in entries {
            req = req.entries(
                PutEventsRequestEntry::builder()
                    .event_bus_name(&e.bus_arn)
                    .source(relayed::SOURCE)
                    .detail_type(relayed::DETAIL_TYPE)
                    .detail(e.detail.to_string())
                    .build(),
            );
        }
        let out = req
            .send()
            .await
            .map_err(|e| port_error("events:PutEvents", &e))?;
        // One result per entry, in order (the API's contract).
        let mut results: Vec<Option<(String, String)>> = out
            .entries()
            .iter()
            .map(|r| {
                r.error_code().map(|c| {
                    (
                        c.to_string(),
                        r.error_message().unwrap_or_default().to_string(),
                    )
                })
            })
            .collect();
        results.resize(entries.len(), None);
        Ok(results)
    }
}

/// How long an inventory answer is reused: buckets change owner rarely, and a record whose
/// bucket is missing from a stale answer is only reported centrally as `owner_unknown`.
pub const INVENTORY_TTL: Duration = Duration::from_secs(3600);

#[derive(Debug)]
pub struct ConfigOwners {
    client: aws_sdk_config::Client,
    aggregator: String,
    cache: Mutex<Option<(Instant, OwnerMap)>>,
}

impl ConfigOwners {
    pub const IAM_ACTIONS: &'static [&'static str] = &["config:SelectAggregateResourceConfig"];

    pub fn new(client: aws_sdk_config::Client, aggregator: impl Into<String>) -> Self {
        ConfigOwners {
            client,
            aggregator: aggregator.into(),
            cache: Mutex::new(None),
        }
    }

    /// Every page of the query.
    async fn query(&self) -> Result<OwnerMap, PortError> {
        let mut rows: Vec<Value> = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .select_aggregate_resource_config()
                .configuration_aggregator_name(&self.aggregator)
                .expression(OWNER_QUERY)
                .limit(100)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| port_error("config:SelectAggregateResourceConfig", &e))?;
            rows.extend(out.results().iter().map(|r| Value::String(r.clone())));
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        OwnerMap::parse(&serde_json::json!({ "Results": rows })).map_err(|why| {
            PortError::new(
                crate::ports::ErrorClass::Permanent,
                "config:SelectAggregateResourceConfig",
                "response",
                why,
            )
        })
    }
}

impl OwnerResolver for ConfigOwners {
    async fn owners(&self, _buckets: &BTreeSet<String>) -> Result<OwnerMap, PortError> {
        let cached = self
            .cache
            .lock()
            .ok()
            .and_then(|c| c.clone())
            .filter(|(at, _)| at.elapsed() < INVENTORY_TTL);
        // A fresh answer is reused; one that misses an asked bucket is too, until it expires:
        // a bucket created since is at most an hour of `owner_unknown`.
        if let Some((_, map)) = cached {
            return Ok(map);
        }
        let map = self.query().await?;
        if let Ok(mut c) = self.cache.lock() {
            *c = Some((Instant::now(), map.clone()));
        }
        Ok(map)
    }
}

/// The relay's adapters over AWS: the forwarder, and the inventory when an aggregator is
/// named (without one, records that do not name their owner are reported as `owner_unknown`).
pub async fn adapters(
    opts: &super::AwsOptions,
    aggregator: Option<&str>,
) -> (EventBusForwarder, Option<ConfigOwners>) {
    let sdk = super::load_sdk_config(opts).await;
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    let owners = aggregator.map(|a| ConfigOwners::new(aws_sdk_config::Client::new(&sdk), a));
    (EventBusForwarder::new(events), owners)
}
