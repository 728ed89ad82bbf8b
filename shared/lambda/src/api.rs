//! An API function: lambda_http over the skein-http router of one resource group, with
//! the same auth layer, errors and limits as `skein dev`.

use std::sync::Arc;

use skein_agents::BuiltinSettings;
use skein_core::ports::BuiltinAgents;
use skein_http::{AppState, group_router};

use crate::AwsPlatform;

/// The router an API function serves: `routes` is its group's function in
/// `skein_http::groups` (`ApiGroup::routes` gives it for a group).
pub fn service(routes: impl FnOnce() -> axum::Router<AppState>, aws: &AwsPlatform) -> axum::Router {
    group_router(routes, aws.app_state())
        .layer(axum::middleware::from_fn(source_address))
        .layer(axum::middleware::from_fn(crate::metrics::flush_after))
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
/// (payload v2) events until the sandbox is retired. `routes` and `builtins` are named
/// by the function's `main`, so that its binary holds one group's handlers and, unless
/// it registers workflows, no builtin agents.
pub async fn run(
    routes: impl FnOnce() -> axum::Router<AppState>,
    builtins: impl FnOnce(&BuiltinSettings) -> Option<Arc<dyn BuiltinAgents>>,
) -> Result<(), lambda_http::Error> {
    crate::init_tracing();
    let aws = AwsPlatform::from_env(builtins, crate::tokens)?;
    lambda_http::run(service(routes, &aws)).await
}

/// Runs an API function whose responses stream (`lambda_http::run_with_streaming_response`),
/// behind a function URL with `InvokeMode: RESPONSE_STREAM`: Server-Sent Events reach the
/// client as they are written, for up to the function's timeout (15 minutes at most).
pub async fn run_streaming(
    routes: impl FnOnce() -> axum::Router<AppState>,
) -> Result<(), lambda_http::Error> {
    crate::init_tracing();
    let aws = AwsPlatform::from_env(crate::no_builtins, crate::tokens)?;
    lambda_http::run_with_streaming_response(service(routes, &aws)).await
}
