//! SDK error → `PortError`: the one place that decides which AWS failures are transient
//! (retry), permanent (do not retry) or "not found" (usually a state, not a failure). Matched
//! on the service's error code and HTTP status, never on message text.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};

use crate::ports::{ErrorClass, PortError};

/// Error codes that mean "the thing asked for does not exist". Adapters turn the expected
/// ones into states (no policy, no encryption, key not found).
pub const NOT_FOUND_CODES: &[&str] = &[
    "NoSuchBucket",
    "NoSuchBucketPolicy",
    "ServerSideEncryptionConfigurationNotFoundError",
    "NoSuchTagSet",
    "NoSuchTagSetError",
    "NotFoundException",
    "NoSuchKey",
    "ResourceNotFoundException",
];

/// Error codes that say "slow down" or "try again".
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "SlowDown",
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "InternalFailure",
    "InternalException",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "KMSInternalException",
    "DependencyTimeoutException",
    "OperationAborted",
];

/// Classifies an error code and HTTP status (pure, so it is table-tested).
pub fn classify_code(code: &str, status: Option<u16>) -> ErrorClass {
    if NOT_FOUND_CODES.contains(&code) {
        ErrorClass::NotFound
    } else if TRANSIENT_CODES.contains(&code) || matches!(status, Some(429) | Some(500..=599)) {
        ErrorClass::Transient
    } else {
        ErrorClass::Permanent
    }
}

/// Retries a bare HTTP 429 like throttling. A load balancer or proxy answers 429 "Too Many
/// Requests" without an AWS error code; the SDK's standard classifiers know throttling only by
/// code (and retry only 500/502/503/504 by status), so without this the call fails at once.
#[derive(Debug, Default, Clone, Copy)]
pub struct TooManyRequests;

impl TooManyRequests {
    /// Pure half: the action for a response status.
    pub fn action(status: Option<u16>) -> RetryAction {
        if status == Some(429) {
            RetryAction::throttling_error()
        } else {
            RetryAction::NoActionIndicated
        }
    }
}

impl ClassifyRetry for TooManyRequests {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        Self::action(ctx.response().map(|r| r.status().as_u16()))
    }

    fn name(&self) -> &'static str {
        "bare HTTP 429 as throttling"
    }
}

/// Converts any SDK operation error.
pub fn port_error<E>(operation: &'static str, err: &SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::TimeoutError(_) => PortError::new(
            ErrorClass::Transient,
            operation,
            "timeout",
            "request timed out",
        ),
        SdkError::DispatchFailure(d) => PortError::new(
            ErrorClass::Transient,
            operation,
            "dispatch",
            format!("request could not be sent: {d:?}"),
        ),
        SdkError::ResponseError(r) => PortError::new(
            ErrorClass::Transient,
            operation,
            "response",
            format!("unreadable response: {r:?}"),
        ),
        SdkError::ServiceError(se) => {
            let code = err.code().unwrap_or("Unknown").to_string();
            let status = se.raw().status().as_u16();
            let message = err
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| se.err().to_string());
            PortError::new(classify_code(&code, Some(status)), operation, code, message)
        }
        other => PortError::new(
            ErrorClass::Permanent,
            operation,
            "construction",
            format!("{other:?}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_429_is_retried_as_throttling() {
        assert_eq!(
            TooManyRequests::action(Some(429)),
            RetryAction::throttling_error()
        );
        for other in [None, Some(200), Some(400), Some(403), Some(503)] {
            assert_eq!(
                TooManyRequests::action(other),
                RetryAction::NoActionIndicated,
                "{other:?}"
            );
        }
    }

    #[test]
    fn codes_are_classified() {
        let cases: &[(&str, Option<u16>, ErrorClass)] = &[
            ("NoSuchBucketPolicy", Some(404), ErrorClass::NotFound),
            (
                "ServerSideEncryptionConfigurationNotFoundError",
                Some(404),
                ErrorClass::NotFound,
            ),
            ("NoSuchTagSet", Some(404), ErrorClass::NotFound),
            ("NotFoundException", Some(400), ErrorClass::NotFound),
            ("ThrottlingException", Some(400), ErrorClass::Transient),
            ("SlowDown", Some(503), ErrorClass::Transient),
            ("Whatever", Some(502), ErrorClass::Transient),
            ("Whatever", Some(429), ErrorClass::Transient),
            ("AccessDenied", Some(403), ErrorClass::Permanent),
            ("AccessDeniedException", Some(400), ErrorClass::Permanent),
            (
                "MalformedPolicyDocumentException",
                Some(400),
                ErrorClass::Permanent,
            ),
            ("ValidationException", None, ErrorClass::Permanent),
        ];
        for (code, status, want) in cases {
            assert_eq!(classify_code(code, *status), *want, "{code} {status:?}");
        }
    }
}
