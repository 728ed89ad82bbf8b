//! An API function: lambda_http over the skein-http router of one resource group, with
//! the same auth layer, errors and limits as `skein dev`.

use skein_http::{ApiGroup, group_router};

use crate::AwsPlatform;

/// The router an API function serves for `group`.
pub fn service(group: ApiGroup, aws: &AwsPlatform) -> axum::Router {
    group_router(group, aws.app_state()).layer(axum::middleware::from_fn(source_address))
}

/// Hands API Gateway's view of the caller's address to the routes (per-source limits key
/// on it). X-Forwarded-For is not read: the caller writes it.
async fn source_address(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use lambda_http::request::RequestContext;
    // The deployment's HTTP API sends payload v2 only (the feature set builds no other).
    let source = match request.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.clone(),
        _ => None,
    };
    if let Some(ip) = source.and_then(|ip| ip.parse().ok()) {
        request.extensions_mut().insert(skein_http::ClientAddr(ip));
    }
    next.run(request).await
}

/// Runs an API function: reads its settings once, then serves API Gateway HTTP API
/// (payload v2) events until the sandbox is retired.
pub async fn run(group: ApiGroup) -> Result<(), lambda_http::Error> {
    crate::init_tracing();
    let aws = AwsPlatform::from_env().await?;
    lambda_http::run(service(group, &aws)).await
}
