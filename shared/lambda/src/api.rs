//! An API function: lambda_http over the skein-http router of one resource group, with
//! the same auth layer, errors and limits as `skein dev`.

use skein_http::{ApiGroup, group_router};

use crate::AwsPlatform;

/// The router an API function serves for `group`.
pub fn service(group: ApiGroup, aws: &AwsPlatform) -> axum::Router {
    group_router(group, aws.app_state())
}

/// Runs an API function: reads its settings once, then serves API Gateway HTTP API
/// (payload v2) events until the sandbox is retired.
pub async fn run(group: ApiGroup) -> Result<(), lambda_http::Error> {
    crate::init_tracing();
    let aws = AwsPlatform::from_env().await?;
    lambda_http::run(service(group, &aws)).await
}
