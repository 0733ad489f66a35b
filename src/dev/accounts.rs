//! Several AWS accounts on one emulator (DOMAIN.md §10): moto answers a request as the account
//! its `x-moto-account-id` header names (when the server runs without `MOTO_ACCOUNT_ID`,
//! `Emulator::start_multi_account`). `account_options` binds every client built from it to
//! one account, so a read of another account's bucket or key fails loudly instead of landing
//! in the wrong account.

use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;

use super::scenario::emulator_options;
use crate::aws::AwsOptions;

/// Sets `x-moto-account-id` on every request.
#[derive(Debug, Clone)]
pub struct MotoAccount(pub String);

impl Intercept for MotoAccount {
    fn name(&self) -> &'static str {
        "cmkguard::dev::MotoAccount"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        context
            .request_mut()
            .headers_mut()
            .insert("x-moto-account-id", self.0.clone());
        Ok(())
    }
}

/// The emulator options (`emulator_options`) with every client bound to `account`.
pub fn account_options(endpoint_url: &str, account: &str) -> AwsOptions {
    AwsOptions {
        interceptor: Some(SharedInterceptor::new(MotoAccount(account.to_string()))),
        ..emulator_options(endpoint_url)
    }
}
