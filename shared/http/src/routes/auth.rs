//! The OAuth 2.0 client-credentials token endpoint, the JWKS, and client credentials.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use skein_core::Error;
use skein_core::access::{ClientSecret, ClientSummary, NewClient};
use skein_core::cursor::{ListPage, PageRequest};
use skein_core::ids::ClientId;

use crate::extract::{Caller, ClientAddr, JsonBody, QueryParams, parse_json};
use crate::problem::Problem;
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/token", post(issue_token))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/v1/clients", post(create_client).get(list_clients))
        .route("/v1/clients/{id}", delete(delete_client))
        .route("/v1/clients/{id}/secret", post(rotate_client_secret))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    /// Only `client_credentials`.
    #[schema(pattern = "^client_credentials$")]
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    #[allow(dead_code)]
    scope: Option<String>,
}

/// OAuth 2.0 client-credentials grant. Accepts RFC 6749 form bodies and JSON, with the
/// credentials in the body or in HTTP Basic auth.
#[utoipa::path(post, path = "/v1/auth/token", tag = "auth", security(),
    request_body(content = TokenRequest, content_type = "application/json"),
    responses((status = 200, body = TokenResponse), (status = 401, description = "unknown client or wrong secret", body = Problem)))]
async fn issue_token(
    State(state): State<AppState>,
    source: Option<axum::Extension<ClientAddr>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let request: TokenRequest = if content_type.starts_with("application/x-www-form-urlencoded") {
        serde_urlencoded::from_bytes(&body)
            .map_err(|e| ApiError::bad_request(format!("form body: {e}")))?
    } else if body.is_empty() {
        TokenRequest {
            grant_type: None,
            client_id: None,
            client_secret: None,
            scope: None,
        }
    } else {
        parse_json(&body)?
    };
    if let Some(grant) = request
        .grant_type
        .as_deref()
        .filter(|g| *g != "client_credentials")
    {
        return Err(Error::invalid(
            "$.grant_type",
            format!("`{grant}` is not supported; use `client_credentials`"),
        )
        .into());
    }
    let (client_id, client_secret) = match (
        request.client_id,
        request.client_secret,
        basic_auth(&headers),
    ) {
        (Some(id), Some(secret), _) => (id, secret),
        (_, _, Some(pair)) => pair,
        _ => {
            return Err(Error::Unauthenticated(
                "send `client_id` and `client_secret` in the body, or HTTP Basic auth".into(),
            )
            .into());
        }
    };
    let issued = state
        .platform
        .access
        .exchange(
            &client_id,
            &client_secret,
            source.map(|axum::Extension(ClientAddr(ip))| ip),
        )
        .await?;
    let body = TokenResponse {
        access_token: issued.access_token,
        token_type: "Bearer".into(),
        expires_in: issued.expires_in,
    };
    Ok(super::no_store(body))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct TokenResponse {
    access_token: String,
    token_type: String,
    expires_in: u64,
}

fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// The public keys that verify this server's tokens (empty for HS256).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth", security(), responses((status = 200, description = "a JWK set")))]
async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    let keys = state
        .platform
        .access
        .tokens()
        .map(|tokens| tokens.jwks().clone())
        .unwrap_or_default();
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(keys))
}

/// Creates a credential for a person or service of the caller's tenant (admin).
#[utoipa::path(post, path = "/v1/clients", tag = "auth", request_body = NewClient,
    responses((status = 201, description = "the secret is shown only this once", body = ClientSecret)))]
async fn create_client(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(new): JsonBody<NewClient>,
) -> ApiResult<impl IntoResponse> {
    let secret = state.platform.access.create_client(&caller, new).await?;
    Ok((StatusCode::CREATED, Json(secret)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ClientListParams {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// The tenant's client credentials (admin); agents' are listed as agents.
#[utoipa::path(get, path = "/v1/clients", tag = "auth", params(ClientListParams),
    responses((status = 200, body = ListPage<ClientSummary>), (status = 403, description = "not an admin", body = Problem)))]
async fn list_clients(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(params): QueryParams<ClientListParams>,
) -> ApiResult<Json<ListPage<ClientSummary>>> {
    let page = PageRequest {
        limit: params.limit,
        cursor: params.cursor,
    };
    Ok(Json(
        state.platform.access.list_clients(&caller, &page).await?,
    ))
}

fn client_id(raw: &str) -> Result<ClientId, ApiError> {
    // An agent's id is its client id too, but not a client credential's: none such here
    // (an agent's secret is rotated at /v1/agents/{id}/secret).
    if skein_core::ids::AgentId::parse(raw).is_ok() {
        return Err(Error::NotFound { what: "client" }.into());
    }
    ClientId::parse(raw).map_err(|e| ApiError::bad_request(e.0))
}

/// Deletes a client credential (admin); its tokens stop working at once.
#[utoipa::path(delete, path = "/v1/clients/{id}", tag = "auth", params(("id" = String, Path, description = "a client id, `cli_...`")),
    responses((status = 204, description = "deleted"), (status = 404, description = "no such client", body = Problem)))]
async fn delete_client(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .platform
        .access
        .delete_client(&caller, &client_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces a client's secret (admin): the old secret and its tokens stop working at
/// once. The new secret is shown only in this answer.
#[utoipa::path(post, path = "/v1/clients/{id}/secret", tag = "auth", params(("id" = String, Path, description = "a client id, `cli_...`")),
    responses((status = 200, body = ClientSecret), (status = 404, description = "no such client", body = Problem)))]
async fn rotate_client_secret(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let secret = state
        .platform
        .access
        .rotate_client_secret(&caller, &client_id(&id)?)
        .await?;
    Ok(super::no_store(secret))
}
