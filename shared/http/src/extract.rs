//! Request extractors that fail with problem+json: the bearer principal, JSON bodies
//! whose errors name the bad field's path, and query strings.

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use skein_core::{Error, FieldError, Principal};

use crate::problem::ApiError;
use crate::state::AppState;

/// The authenticated caller, from `Authorization: Bearer <jwt>`.
pub struct Caller(pub Principal);

impl<S> FromRequestParts<S> for Caller
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        principal(&parts.headers, &AppState::from_ref(state))
            .await
            .map(Caller)
    }
}

/// The principal of `Authorization: Bearer <jwt>`, for a handler that needs a caller only
/// sometimes (else take [`Caller`]).
pub(crate) async fn principal(
    headers: &axum::http::HeaderMap,
    state: &AppState,
) -> Result<Principal, ApiError> {
    let header = headers.get(header::AUTHORIZATION);
    let token =
        skein_core::auth::bearer_token(header.map(|value| value.to_str().unwrap_or_default()))?;
    let principal = state.platform.access.authenticate(token).await?;
    tracing::Span::current()
        .record("tenant", principal.tenant.as_str())
        .record("principal", principal.id.as_str());
    Ok(principal)
}

/// The address the request came from, as the host saw it: the peer address on `skein dev`,
/// API Gateway's `sourceIp` on Lambda. Hosts put it in the request's extensions; it keys
/// per-source limits (failed logins), never authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub std::net::IpAddr);

/// A JSON body. Syntax errors give 400 with the line and column; a body of the wrong
/// shape gives 422 with the JSONPath of the offending field.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| {
                let mime = mime.trim();
                mime == "application/json" || mime.ends_with("+json")
            });
        match is_json {
            Some(true) => {}
            Some(false) => {
                return Err(ApiError::UnsupportedMediaType(
                    "send the body as `Content-Type: application/json`".into(),
                ));
            }
            None => {
                return Err(ApiError::UnsupportedMediaType(
                    "set `Content-Type: application/json` and send a JSON body".into(),
                ));
            }
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::Domain(Error::PayloadTooLarge(format!(
                    "the request body is over the {} byte limit",
                    crate::MAX_BODY_BYTES
                )))
            } else {
                ApiError::bad_request(format!("could not read the request body: {rejection}"))
            }
        })?;
        parse_json(&bytes).map(JsonBody)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
        Ok(value) => deserializer.end().map(|()| value).map_err(|e| {
            ApiError::bad_request(format!(
                "unexpected data after the JSON value at line {} column {}",
                e.line(),
                e.column()
            ))
        }),
        Err(err) => {
            let path = json_path(err.path());
            let inner = err.into_inner();
            match inner.classify() {
                serde_json::error::Category::Data => Err(Error::Validation(vec![FieldError::new(
                    path,
                    strip_position(&inner.to_string()),
                )])
                .into()),
                _ => Err(ApiError::bad_request(format!(
                    "the body is not valid JSON: {} (line {}, column {})",
                    strip_position(&inner.to_string()),
                    inner.line(),
                    inner.column()
                ))),
            }
        }
    }
}

/// serde_path_to_error's `a.b[0]` as the JSONPath `$.a.b[0]`.
fn json_path(path: &serde_path_to_error::Path) -> String {
    let rendered = path.to_string();
    if rendered == "." {
        "$".into()
    } else {
        format!("$.{rendered}")
    }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

/// Query-string parameters; a bad one gives 400 naming it.
pub struct QueryParams<T>(pub T);

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer = serde_urlencoded_deserializer(query);
        serde_path_to_error::deserialize(deserializer)
            .map(QueryParams)
            .map_err(|err| {
                ApiError::bad_request(format!("query parameter `{}`: {}", err.path(), err.inner()))
            })
    }
}

fn serde_urlencoded_deserializer(query: &str) -> serde_urlencoded::Deserializer<'_> {
    serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()))
}
