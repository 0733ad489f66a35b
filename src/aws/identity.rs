//! Who the CLI runs as and where it may look: the caller's account (STS
//! `GetCallerIdentity`, which needs no permission) — the account `scan` sweeps by default and
//! the account that posts findings — and the regions the account has enabled (Account
//! `ListRegions`, for `scan --region all`). CLI only: the Lambda knows its account from its
//! context and sweeps its own region. The Account API can be pointed elsewhere than the other
//! services (`AWS_ENDPOINT_URL_ACCOUNT`): the emulator lacks `ListRegions`, so tests serve it.

use aws_sdk_account::types::RegionOptStatus;

use super::error::port_error;
use crate::core::json::is_account_id;
use crate::ports::{ErrorClass, PortError};

/// The environment variable the SDK itself uses for an Account-only endpoint.
pub const ACCOUNT_ENDPOINT_ENV: &str = "AWS_ENDPOINT_URL_ACCOUNT";

#[derive(Debug, Clone)]
pub struct Identity {
    sts: aws_sdk_sts::Client,
    account: aws_sdk_account::Client,
}

impl Identity {
    /// `sts:GetCallerIdentity` needs no grant; listed for the operator's policy all the same.
    pub const IAM_ACTIONS: &'static [&'static str] =
        &["sts:GetCallerIdentity", "account:ListRegions"];

    pub fn new(sts: aws_sdk_sts::Client, account: aws_sdk_account::Client) -> Self {
        Identity { sts, account }
    }

    /// The 12-digit account of the credentials in use.
    pub async fn caller_account(&self) -> Result<String, PortError> {
        let op = "sts:GetCallerIdentity";
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| port_error(op, &e))?;
        match out.account() {
            Some(a) if is_account_id(a) => Ok(a.to_string()),
            other => Err(PortError::new(
                ErrorClass::Permanent,
                op,
                "NoAccount",
                format!("GetCallerIdentity named no 12-digit account ({other:?})"),
            )),
        }
    }

    /// The regions enabled for the account (enabled by default or opted in), sorted.
    pub async fn enabled_regions(&self) -> Result<Vec<String>, PortError> {
        let op = "account:ListRegions";
        let mut pages = self
            .account
            .list_regions()
            .region_opt_status_contains(RegionOptStatus::Enabled)
            .region_opt_status_contains(RegionOptStatus::EnabledByDefault)
            .max_results(50)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error(op, &e))?;
            for r in page.regions() {
                let enabled = matches!(
                    r.region_opt_status(),
                    Some(RegionOptStatus::Enabled | RegionOptStatus::EnabledByDefault)
                );
                if let (true, Some(name)) = (enabled, r.region_name()) {
                    out.push(name.to_string());
                }
            }
        }
        out.sort();
        out.dedup();
        if out.is_empty() {
            return Err(PortError::new(
                ErrorClass::Permanent,
                op,
                "NoRegions",
                "ListRegions named no enabled region",
            ));
        }
        Ok(out)
    }
}
