//! Authentication (JWT bearer tokens from client credentials) and authorization (roles).

mod jwt;
mod policy;
mod secrets;

pub use jwt::{AuthError, Claims, IssuedToken, KeyConfig, TokenService, TokenSettings};
pub use policy::{Action, Principal, Role};
pub use secrets::{SecretHash, generate_secret, hash_secret, verify_secret};
