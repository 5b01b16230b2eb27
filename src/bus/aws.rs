//! Shared AWS SDK configuration for the SNS and SQS adapters.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Where and how to reach AWS (or LocalStack, or moto).
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    /// Endpoint override, e.g. `http://127.0.0.1:4566`; `None` uses AWS (or `AWS_ENDPOINT_URL`).
    pub endpoint_url: Option<String>,
    /// Region override; `None` uses the environment's (`AWS_REGION`), else `us-east-1`.
    pub region: Option<String>,
}

/// Loads SDK configuration from the environment, with QuickFix's timeouts and retries: fail
/// fast on an unreachable endpoint (the outbox retries later), a few quick retries otherwise.
pub async fn aws_config(options: &AwsOptions) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .read_timeout(Duration::from_secs(30))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3));
    if let Some(endpoint) = &options.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    if let Some(region) = &options.region {
        loader = loader.region(Region::new(region.clone()));
    }
    let config = loader.load().await;
    if config.region().is_none() {
        return config
            .into_builder()
            .region(Region::new("us-east-1"))
            .build();
    }
    config
}

/// Renders an SDK error with its whole chain of causes, for logs and [`super::BusError`].
pub(crate) fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// Maps an SDK error: no response means the service is unreachable.
pub(crate) fn bus_error<E, R>(
    err: aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> super::BusError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    let unreachable = matches!(
        err,
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_)
    );
    let text = describe(&err);
    if unreachable {
        super::BusError::Unavailable(text)
    } else {
        super::BusError::Rejected(text)
    }
}
