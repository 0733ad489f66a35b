//! CloudTrail for the CLI only (`doctor`, `backfill`; never the Lambda role): the trails a
//! region sees — shadow trails (multi-region trails homed elsewhere) and organization trails
//! included — with their status and event selectors, and the event history (`LookupEvents`,
//! paginated and paced under its 2 requests per second per account and region).
//!
//! A shadow trail's status and selectors are read in its home region (the region override
//! below), which is where the trail lives. What cannot be read (a member account looking at
//! an organization trail, a missing permission) becomes an "unknown" with the reason, so the
//! doctor can say so instead of failing.

use std::time::{Duration, Instant};

use aws_config::Region;
use aws_sdk_cloudtrail::primitives::DateTime;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use serde_json::Value;

use crate::aws::error::port_error;
use crate::core::doctor::selectors::{
    AdvancedSelector, BasicSelector, DataResource, FieldCondition, Selectors,
};
use crate::core::doctor::Trail;
use crate::ports::{ErrorClass, PortError};

/// Reads the trail configuration.
#[derive(Debug, Clone)]
pub struct TrailReader {
    client: aws_sdk_cloudtrail::Client,
}

fn in_region(region: &str) -> aws_sdk_cloudtrail::config::Builder {
    aws_sdk_cloudtrail::config::Builder::default().region(Region::new(region.to_string()))
}

fn why(e: &PortError) -> String {
    format!("{} ({})", e.code, e.message)
}

impl TrailReader {
    pub const IAM_ACTIONS: &'static [&'static str] = &[
        "cloudtrail:DescribeTrails",
        "cloudtrail:GetTrailStatus",
        "cloudtrail:GetEventSelectors",
    ];

    pub fn new(client: aws_sdk_cloudtrail::Client) -> Self {
        TrailReader { client }
    }

    /// Every trail the client's region sees, each with its status and selectors.
    pub async fn trails(&self) -> Result<Vec<Trail>, PortError> {
        let op = "cloudtrail:DescribeTrails";
        let out = self
            .client
            .describe_trails()
            .include_shadow_trails(true)
            .send()
            .await
            .map_err(|e| port_error(op, &e))?;
        let here = self
            .client
            .config()
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default();
        let mut trails = Vec::new();
        for t in out.trail_list() {
            let arn = t.trail_arn().unwrap_or_default().to_string();
            let name = t.name().unwrap_or(&arn).to_string();
            let home = t.home_region().unwrap_or(&here).to_string();
            let id = if arn.is_empty() {
                name.clone()
            } else {
                arn.clone()
            };
            trails.push(Trail {
                logging: self.is_logging(&id, &home).await.map_err(|e| why(&e)),
                selectors: self.selectors(&id, &home).await.map_err(|e| why(&e)),
                name,
                arn,
                home_region: home,
                multi_region: t.is_multi_region_trail().unwrap_or(false),
                organization: t.is_organization_trail().unwrap_or(false),
            });
        }
        Ok(trails)
    }

    async fn is_logging(&self, trail: &str, home: &str) -> Result<bool, PortError> {
        let op = "cloudtrail:GetTrailStatus";
        let out = self
            .client
            .get_trail_status()
            .name(trail)
            .customize()
            .config_override(in_region(home))
            .send()
            .await
            .map_err(|e| port_error(op, &e))?;
        Ok(out.is_logging().unwrap_or(false))
    }

    async fn selectors(&self, trail: &str, home: &str) -> Result<Selectors, PortError> {
        let op = "cloudtrail:GetEventSelectors";
        let out = self
            .client
            .get_event_selectors()
            .trail_name(trail)
            .customize()
            .config_override(in_region(home))
            .send()
            .await
            .map_err(|e| port_error(op, &e))?;
        if !out.advanced_event_selectors().is_empty() {
            return Ok(Selectors::Advanced(
                out.advanced_event_selectors()
                    .iter()
                    .map(|s| AdvancedSelector {
                        name: s.name().map(String::from),
                        fields: s
                            .field_selectors()
                            .iter()
                            .map(|f| FieldCondition {
                                field: f.field().to_string(),
                                equals: f.equals().to_vec(),
                                starts_with: f.starts_with().to_vec(),
                                ends_with: f.ends_with().to_vec(),
                                not_equals: f.not_equals().to_vec(),
                                not_starts_with: f.not_starts_with().to_vec(),
                                not_ends_with: f.not_ends_with().to_vec(),
                            })
                            .collect(),
                    })
                    .collect(),
            ));
        }
        Ok(Selectors::Basic(
            out.event_selectors()
                .iter()
                .map(|s| BasicSelector {
                    read_write_type: s.read_write_type().map(|r| r.as_str().to_string()),
                    include_management_events: s.include_management_events(),
                    exclude_management_event_sources: s.exclude_management_event_sources().to_vec(),
                    data_resources: s
                        .data_resources()
                        .iter()
                        .map(|d| DataResource {
                            resource_type: d.r#type().unwrap_or_default().to_string(),
                            values: d.values().to_vec(),
                        })
                        .collect(),
                })
                .collect(),
        ))
    }
}

/// CloudTrail event history (`LookupEvents`): management events only, 90 days.
#[derive(Debug, Clone)]
pub struct EventHistory {
    client: aws_sdk_cloudtrail::Client,
    /// At least this long between two requests (LookupEvents: 2 per second).
    pub min_interval: Duration,
    /// Attempts per page when throttled or on a transient error.
    pub max_attempts: u32,
}

/// The "slow down" codes (LookupEvents allows 2 requests per second per account and region).
pub fn is_throttling(code: &str) -> bool {
    code.contains("Throttl") || code == "TooManyRequestsException" || code == "RequestLimitExceeded"
}

impl EventHistory {
    pub const IAM_ACTIONS: &'static [&'static str] = &["cloudtrail:LookupEvents"];

    pub fn new(client: aws_sdk_cloudtrail::Client) -> Self {
        EventHistory {
            client,
            min_interval: Duration::from_millis(550),
            max_attempts: 4,
        }
    }

    /// Every event named `event_name` in `[start, end)` (seconds since the epoch), following
    /// `NextToken`. `on_page` sees each page's size (progress). `last` carries the pacing
    /// clock across calls.
    pub async fn lookup(
        &self,
        event_name: &str,
        start: u64,
        end: u64,
        last: &mut Option<Instant>,
        on_page: &mut dyn FnMut(usize),
    ) -> Result<Vec<Value>, PortError> {
        let op = "cloudtrail:LookupEvents";
        let attr = LookupAttribute::builder()
            .attribute_key(LookupAttributeKey::EventName)
            .attribute_value(event_name)
            .build()
            .map_err(|e| PortError::new(ErrorClass::Permanent, op, "build", e.to_string()))?;
        let mut records = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut attempt = 0;
            let out = loop {
                attempt += 1;
                if let Some(t) = *last {
                    let wait = self.min_interval.saturating_sub(t.elapsed());
                    if !wait.is_zero() {
                        tokio::time::sleep(wait).await;
                    }
                }
                *last = Some(Instant::now());
                let res = self
                    .client
                    .lookup_events()
                    .lookup_attributes(attr.clone())
                    .start_time(DateTime::from_secs(start as i64))
                    .end_time(DateTime::from_secs(end as i64))
                    .max_results(50)
                    .set_next_token(token.clone())
                    .send()
                    .await;
                match res {
                    Ok(out) => break out,
                    Err(e) => {
                        let pe = port_error(op, &e);
                        // The SDK has already retried transient failures; only throttling
                        // (the 2 TPS limit, shared with other callers) earns more patience.
                        if is_throttling(&pe.code) && attempt < self.max_attempts {
                            // Back off 1 s, 2 s, 4 s, … on top of the pacing.
                            let backoff = Duration::from_millis(500u64 << attempt.min(6));
                            tokio::time::sleep(backoff).await;
                            continue;
                        }
                        return Err(pe);
                    }
                }
            };
            on_page(out.events().len());
            for ev in out.events() {
                let rec = ev
                    .cloud_trail_event()
                    .and_then(|s| serde_json::from_str::<Value>(s).ok())
                    .unwrap_or(Value::Null);
                records.push(rec);
            }
            match out.next_token() {
                Some(t) if !t.is_empty() && Some(t) != token.as_deref() => {
                    token = Some(t.to_string())
                }
                _ => break,
            }
        }
        Ok(records)
    }
}
