//! The API Gateway HTTP API Lambda authorizer (payload v2, simple responses): rejects a
//! request without a valid bearer token before any API function runs. The API functions
//! still verify the token themselves; this only saves them the call. Routes that need no
//! token (health, token issue, JWKS, OpenAPI) have no authorizer attached.

use aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use lambda_runtime::{LambdaEvent, service_fn};
use serde::Serialize;
use skein_core::auth::TokenService;

use crate::config::AuthSettings;

/// What the API functions see in `requestContext.authorizer.lambda`, and the logs name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Authorized {
    pub tenant: String,
    pub principal: String,
    /// Comma-separated roles.
    pub roles: String,
}

pub type Response = ApiGatewayV2CustomAuthorizerSimpleResponse<Authorized>;

/// Checks the request's bearer token.
pub fn authorize(
    tokens: &TokenService,
    request: &ApiGatewayV2CustomAuthorizerV2Request,
) -> Response {
    let header = request
        .identity_source
        .as_ref()
        .and_then(|sources| sources.first().cloned())
        .or_else(|| {
            request
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        });
    let token = header.as_deref().and_then(|h| {
        h.strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
    });
    let mut response = Response::default();
    match token.map(|t| tokens.verify(t.trim())) {
        Some(Ok(principal)) => {
            response.is_authorized = true;
            response.context = Authorized {
                tenant: principal.tenant.to_string(),
                principal: principal.id.to_string(),
                roles: principal
                    .roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            };
        }
        Some(Err(e)) => tracing::info!(reason = %e, route = ?request.route_key, "token refused"),
        None => tracing::info!(route = ?request.route_key, "no bearer token"),
    }
    response
}

/// Runs the authorizer function; it needs only the signing key settings.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    crate::init_tracing();
    let settings = AuthSettings::from_env()?;
    let tokens = TokenService::new(settings.keys, settings.tokens)?;
    let tokens = &tokens;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>| async move {
            Ok::<_, lambda_runtime::Error>(authorize(tokens, &event.payload))
        },
    ))
    .await
}
