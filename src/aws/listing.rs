//! The sweep's inventory over AWS: every bucket of a region (ListBuckets through the SDK
//! paginator, filtered to the region so each bucket's region is known without a
//! GetBucketLocation per bucket) and every key of the region (ListKeys, paginated), streamed
//! page by page; and the sweep's regional clients with adaptive retry (throttling slows the
//! whole sweep down instead of failing buckets).

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::Region;
use tokio::sync::mpsc::Sender;

use super::error::port_error;
use super::Clients;
use crate::ports::{ErrorClass, Inventory, ListedBucket, PortError};

/// ListBuckets page size: the API's maximum. Also a safety net for emulators that ignore
/// continuation tokens: a full page without a token is reported as possibly truncated.
pub const BUCKET_PAGE: i32 = 10_000;
/// ListKeys page size: the API's maximum.
pub const KEY_PAGE: i32 = 1_000;
/// Attempts per call for the sweep clients (adaptive retry: client-side rate limiting once
/// the service throttles).
pub const SWEEP_MAX_ATTEMPTS: u32 = 5;

#[derive(Debug, Clone)]
pub struct S3Inventory {
    client: aws_sdk_s3::Client,
}

impl S3Inventory {
    /// `ListBuckets` is authorised by `s3:ListAllMyBuckets`.
    pub const IAM_ACTIONS: &'static [&'static str] = &["s3:ListAllMyBuckets"];

    pub fn new(client: aws_sdk_s3::Client) -> Self {
        S3Inventory { client }
    }

    async fn buckets(&self, region: &str, tx: Sender<Result<Vec<ListedBucket>, PortError>>) {
        let op = "s3:ListBuckets";
        let mut pages = self
            .client
            .list_buckets()
            .bucket_region(region)
            .max_buckets(BUCKET_PAGE)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(p) => p,
                Err(e) => {
                    let _ = tx.send(Err(port_error(op, &e))).await;
                    return;
                }
            };
            let items: Vec<ListedBucket> = page
                .buckets()
                .iter()
                .filter_map(|b| {
                    Some(ListedBucket {
                        name: b.name()?.to_string(),
                        // Present on paginated answers from AWS; else the filter we asked for.
                        region: b.bucket_region().unwrap_or(region).to_string(),
                    })
                })
                .collect();
            let full_without_token =
                items.len() >= BUCKET_PAGE as usize && page.continuation_token().is_none();
            if tx.send(Ok(items)).await.is_err() {
                return; // the sweep stopped listening (deadline)
            }
            if full_without_token {
                let _ = tx
                    .send(Err(PortError::new(
                        ErrorClass::Permanent,
                        op,
                        "Truncated",
                        format!(
                            "a full page of {BUCKET_PAGE} buckets came without a continuation token: the listing may be incomplete"
                        ),
                    )))
                    .await;
                return;
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct KmsInventory {
    client: aws_sdk_kms::Client,
}

impl KmsInventory {
    pub const IAM_ACTIONS: &'static [&'static str] = &["kms:ListKeys"];

    pub fn new(client: aws_sdk_kms::Client) -> Self {
        KmsInventory { client }
    }

    async fn keys(&self, tx: Sender<Result<Vec<String>, PortError>>) {
        let mut pages = self
            .client
            .list_keys()
            .limit(KEY_PAGE)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let msg = page
                .map(|p| {
                    p.keys()
                        .iter()
                        .filter_map(|k| k.key_arn().or(k.key_id()).map(str::to_string))
                        .collect()
                })
                .map_err(|e| port_error("kms:ListKeys", &e));
            let failed = msg.is_err();
            if tx.send(msg).await.is_err() || failed {
                return;
            }
        }
    }
}

/// Both listings of one region.
#[derive(Debug, Clone)]
pub struct AwsInventory {
    pub s3: S3Inventory,
    pub kms: KmsInventory,
}

impl AwsInventory {
    pub fn new(s3: aws_sdk_s3::Client, kms: aws_sdk_kms::Client) -> Self {
        AwsInventory {
            s3: S3Inventory::new(s3),
            kms: KmsInventory::new(kms),
        }
    }
}

impl Inventory for AwsInventory {
    async fn list_buckets(&self, region: &str, tx: Sender<Result<Vec<ListedBucket>, PortError>>) {
        self.s3.buckets(region, tx).await
    }

    async fn list_keys(&self, tx: Sender<Result<Vec<String>, PortError>>) {
        self.kms.keys(tx).await
    }
}

/// The clients a sweep of `region` uses: the base clients' settings (endpoint, credentials,
/// path style, timeouts) in that region, with adaptive retry for S3 and KMS. The sinks keep
/// the base clients: findings go to the guardrail's own region.
pub fn sweep_clients(base: &Clients, region: &str, max_attempts: u32) -> Clients {
    let retry = RetryConfig::adaptive()
        .with_max_attempts(max_attempts.max(1))
        .with_max_backoff(Duration::from_secs(20));
    let s3 = base
        .s3
        .config()
        .to_builder()
        .region(Region::new(region.to_string()))
        .retry_config(retry.clone())
        .build();
    let kms = base
        .kms
        .config()
        .to_builder()
        .region(Region::new(region.to_string()))
        .retry_config(retry)
        .build();
    Clients {
        s3: aws_sdk_s3::Client::from_conf(s3),
        kms: aws_sdk_kms::Client::from_conf(kms),
        sns: base.sns.clone(),
        securityhub: base.securityhub.clone(),
        eventbridge: base.eventbridge.clone(),
        identity: base.identity.clone(),
        region: region.to_string(),
    }
}
