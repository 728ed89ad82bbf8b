//! Authentication (JWT bearer tokens from client credentials) and authorization (roles).

mod jwt;
mod policy;
mod secrets;

pub use jwt::{AuthError, Claims, IssuedToken, KeyConfig, TokenService, TokenSettings};
pub use policy::{Action, Principal, Role};
pub use secrets::{SecretHash, generate_secret, hash_secret, verify_secret};

use crate::error::Error;

/// The token in an `Authorization: Bearer <token>` header's value, or the 401 that says
/// what to send: every host (the API, the edge Worker) reads the header with this.
pub fn bearer_token(authorization: Option<&str>) -> Result<&str, Error> {
    let value = authorization.ok_or_else(|| {
        Error::Unauthenticated(
            "send `Authorization: Bearer <token>`; get a token from POST /v1/auth/token".into(),
        )
    })?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            Error::Unauthenticated("the Authorization header must be `Bearer <token>`".into())
        })
}
