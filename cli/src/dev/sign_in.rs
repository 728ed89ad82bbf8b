//! One-click sign-in to the console for the local admin.
//!
//! `skein dev` prints a link to the console that carries a one-time code in its fragment
//! (`/#code=...`): browsers never send a fragment to the server, so the code stays out of
//! access logs and `Referer` headers. The console trades the code for an admin token at
//! `POST /console/sign-in`; the code then stops working. Codes last ten minutes, and
//! `skein console` asks the running server for a fresh link (`POST /console/sign-in-links`,
//! admin only). The admin's client secret never appears in a link.
//!
//! These routes exist on `skein dev` only: in the cloud the console signs in with client
//! credentials at the token endpoint like any client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use skein_core::Error;
use skein_core::auth::{Principal, Role, TokenService};
use skein_http::{ApiError, ApiResult, AppState, Caller, JsonBody};

/// How long a printed sign-in link works.
pub const CODE_LIFETIME: Duration = Duration::from_secs(600);

/// How long the console's token lasts (it is kept in the page's memory only).
pub const SESSION_LIFETIME: Duration = Duration::from_secs(8 * 3600);

/// Links outstanding at once; the oldest is forgotten first.
const MAX_OUTSTANDING: usize = 32;

/// The codes not yet used, by their SHA-256 (the codes themselves are not kept).
pub struct ConsoleSignIn {
    origin: String,
    admin: Principal,
    tokens: Arc<TokenService>,
    codes: Mutex<HashMap<[u8; 32], Instant>>,
}

/// A link that signs the local admin in to the console once.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SignInLink {
    pub url: String,
    pub expires_in: u64,
}

impl ConsoleSignIn {
    /// Sign-in for `admin`, on the console served at `origin` (`http://host:port`).
    pub fn new(origin: String, admin: Principal, tokens: Arc<TokenService>) -> Self {
        Self {
            origin,
            admin,
            tokens,
            codes: Mutex::new(HashMap::new()),
        }
    }

    /// A new one-time link.
    pub fn link(&self) -> SignInLink {
        let code = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let now = Instant::now();
        let mut codes = self.codes.lock().unwrap_or_else(|e| e.into_inner());
        codes.retain(|_, expires| *expires > now);
        if codes.len() >= MAX_OUTSTANDING
            && let Some(oldest) = codes.iter().min_by_key(|(_, e)| **e).map(|(k, _)| *k)
        {
            codes.remove(&oldest);
        }
        codes.insert(digest(&code), now + CODE_LIFETIME);
        SignInLink {
            url: format!("{}/#code={code}", self.origin),
            expires_in: CODE_LIFETIME.as_secs(),
        }
    }

    /// Uses up `code`: true once, if it was issued and has not expired.
    fn redeem(&self, code: &str) -> bool {
        let mut codes = self.codes.lock().unwrap_or_else(|e| e.into_inner());
        codes
            .remove(&digest(code))
            .is_some_and(|expires| expires > Instant::now())
    }

    /// The dev host's sign-in routes, over the API's state (for the admin check).
    pub fn routes(self: Arc<Self>, state: AppState) -> Router {
        Router::new()
            .route("/console/sign-in", post(sign_in))
            .route("/console/sign-in-links", post(new_link))
            .layer(axum::Extension(self))
            .with_state(state)
    }
}

fn digest(code: &str) -> [u8; 32] {
    Sha256::digest(code.as_bytes()).into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignInRequest {
    code: String,
}

async fn sign_in(
    axum::Extension(sign_in): axum::Extension<Arc<ConsoleSignIn>>,
    JsonBody(request): JsonBody<SignInRequest>,
) -> ApiResult<impl IntoResponse> {
    if !sign_in.redeem(&request.code) {
        return Err(Error::Unauthenticated(
            "this sign-in link was used already or has expired: run `skein console` for a new one"
                .into(),
        )
        .into());
    }
    let issued = sign_in
        .tokens
        .issue_for(
            &sign_in.admin,
            chrono::Utc::now(),
            ulid::Ulid::new().to_string(),
            SESSION_LIFETIME,
        )
        .map_err(|e| ApiError::from(Error::Internal(e.to_string())))?;
    let body = serde_json::json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
    });
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)))
}

async fn new_link(
    State(_): State<AppState>,
    axum::Extension(sign_in): axum::Extension<Arc<ConsoleSignIn>>,
    Caller(caller): Caller,
) -> ApiResult<impl IntoResponse> {
    if !caller.has_role(Role::Admin) || caller.tenant != sign_in.admin.tenant {
        return Err(Error::Forbidden(
            "only an admin of the local tenant may make a console sign-in link".into(),
        )
        .into());
    }
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(sign_in.link())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign_in() -> ConsoleSignIn {
        let tokens = TokenService::new(
            skein_core::auth::KeyConfig::Hs256 {
                secret: b"0123456789abcdef0123456789abcdef".to_vec(),
            },
            skein_core::auth::TokenSettings::default(),
        )
        .unwrap();
        let admin = Principal {
            tenant: skein_core::ids::TenantId::parse("default").unwrap(),
            id: skein_core::ids::PrincipalId::client(&skein_core::ids::ClientId::from_ulid(
                ulid::Ulid::new(),
            )),
            roles: vec![Role::Admin],
        };
        ConsoleSignIn::new("http://127.0.0.1:8080".into(), admin, Arc::new(tokens))
    }

    fn code(link: &SignInLink) -> &str {
        link.url.split_once("#code=").unwrap().1
    }

    #[test]
    fn a_code_works_once() {
        let sign_in = sign_in();
        let link = sign_in.link();
        assert!(link.url.starts_with("http://127.0.0.1:8080/#code="));
        assert!(sign_in.redeem(code(&link)));
        assert!(!sign_in.redeem(code(&link)));
        assert!(!sign_in.redeem("made-up"));
    }

    #[test]
    fn old_codes_make_room_for_new_ones() {
        let sign_in = sign_in();
        let first = sign_in.link();
        let rest: Vec<_> = (0..MAX_OUTSTANDING).map(|_| sign_in.link()).collect();
        assert!(!sign_in.redeem(code(&first)));
        assert!(rest.iter().all(|link| sign_in.redeem(code(link))));
    }
}
