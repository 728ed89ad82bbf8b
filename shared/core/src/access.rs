//! Tenants and client credentials: bootstrapping a tenant's first admin, exchanging
//! client credentials for a token, and admins minting credentials for people and services.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::auth::{Action, IssuedToken, Principal, Role, SecretHash, TokenService};
use crate::auth::{generate_secret, hash_secret, verify_secret};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::ids::{ClientId, PrincipalId, TenantId};
use crate::ports::{Condition, Item, StoreError, WriteOp};
use crate::records::{credential_key, failed_logins_key, from_item, tenant_key, to_body};

/// Failed client-credential attempts allowed per client id within the current and the
/// previous window.
pub const MAX_FAILED_LOGINS: u64 = 10;
const LOGIN_WINDOW_SECONDS: i64 = 300;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tenant {
    pub id: TenantId,
    pub created_at: DateTime<Utc>,
}

/// A stored credential. The secret itself is never stored, only its argon2 hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credential {
    pub client_id: String,
    pub tenant: TenantId,
    pub principal: PrincipalId,
    pub roles: Vec<Role>,
    pub secret_hash: SecretHash,
    #[serde(default)]
    pub description: String,
    pub created_at: DateTime<Utc>,
}

/// Shown to the caller exactly once, when the credential is created.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientSecret {
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewClient {
    pub roles: Vec<Role>,
    #[serde(default)]
    pub description: String,
}

#[derive(Clone)]
pub struct Access {
    ctx: Context,
    tokens: Arc<TokenService>,
}

impl Access {
    pub fn new(ctx: Context, tokens: Arc<TokenService>) -> Self {
        Self { ctx, tokens }
    }

    /// The token buckets API requests take from, on this platform's store.
    pub fn rate_limiter(&self, limits: crate::limits::RateLimits) -> crate::limits::RateLimiter {
        crate::limits::RateLimiter::new(self.ctx.clone(), limits)
    }

    pub fn tokens(&self) -> &TokenService {
        &self.tokens
    }

    /// Verifies a bearer token into the calling principal.
    pub fn authenticate(&self, bearer: &str) -> Result<Principal> {
        self.tokens
            .verify(bearer)
            .map_err(|e| Error::Unauthenticated(e.to_string()))
    }

    /// Creates the tenant and its first admin credential, once. Returns None when the
    /// tenant already exists, so repeated starts never mint a second admin.
    pub async fn bootstrap_tenant(&self, tenant: &TenantId) -> Result<Option<ClientSecret>> {
        let now = self.ctx.now();
        let record = Tenant {
            id: tenant.clone(),
            created_at: now,
        };
        let client = ClientId::from_ulid(self.ctx.ulid());
        let (credential_put, secret) = self.credential_put(
            tenant,
            PrincipalId::client(&client),
            client.as_str(),
            vec![Role::Admin],
            "bootstrap admin",
        )?;
        let ops = vec![
            WriteOp::Put {
                item: Item::new(tenant_key(tenant), to_body(&record)?),
                condition: Condition::NotExists,
            },
            credential_put,
        ];
        match self.ctx.store.transact_write(ops).await {
            Ok(()) => Ok(Some(secret)),
            Err(StoreError::TransactionCanceled { failed }) if failed == [0] => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn tenant_exists(&self, tenant: &TenantId) -> Result<bool> {
        Ok(self.ctx.store.get(&tenant_key(tenant)).await?.is_some())
    }

    /// OAuth 2.0 client credentials grant. Failed attempts are counted per client id; past
    /// a limit the endpoint answers 429 until the window ends, so secrets cannot be
    /// guessed online and nobody can make the server burn CPU on argon2 for one client.
    pub async fn exchange(&self, client_id: &str, client_secret: &str) -> Result<IssuedToken> {
        let (window, retry_after) = self.login_window();
        let attempts_key = failed_logins_key(client_id, window);
        // This window and the one before it: a burst that straddles a boundary still counts.
        let mut failures = 0;
        for key in [
            failed_logins_key(client_id, window - 1),
            attempts_key.clone(),
        ] {
            if let Some(item) = self.ctx.store.get(&key).await? {
                failures += item
                    .body
                    .get("failures")
                    .and_then(|v| v.as_u64())
                    .unwrap_or(0);
            }
        }
        if failures >= MAX_FAILED_LOGINS {
            return Err(Error::RateLimited {
                message: format!(
                    "too many failed attempts for this client; retry in {retry_after} s"
                ),
                retry_after_seconds: retry_after,
            });
        }
        let issued = self.verify_and_issue(client_id, client_secret).await;
        if matches!(issued, Err(Error::Unauthenticated(_))) {
            self.count_failed_login(attempts_key, window).await?;
        }
        issued
    }

    /// The current failed-login window and the seconds left in it.
    fn login_window(&self) -> (i64, u64) {
        let now = self.ctx.now().timestamp();
        let window = now.div_euclid(LOGIN_WINDOW_SECONDS);
        (window, ((window + 1) * LOGIN_WINDOW_SECONDS - now) as u64)
    }

    async fn count_failed_login(&self, key: crate::ports::Key, window: i64) -> Result<()> {
        let expires = (window + 2) * LOGIN_WINDOW_SECONDS;
        let first = Item::new(key.clone(), to_body(&serde_json::json!({ "failures": 1 }))?)
            .expiring_at(expires);
        match self.ctx.store.put(first, Condition::NotExists).await {
            Ok(_) => Ok(()),
            Err(StoreError::ConditionFailed) => {
                let add = vec![crate::ports::Change::Add("failures".into(), 1)];
                self.ctx
                    .store
                    .update(&key, add, Condition::Exists)
                    .await
                    .map(|_| ())
                    .map_err(Into::into)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn verify_and_issue(&self, client_id: &str, client_secret: &str) -> Result<IssuedToken> {
        let refused = || Error::Unauthenticated("unknown client id or wrong client secret".into());
        let stored = match self.ctx.store.get(&credential_key(client_id)).await? {
            Some(item) => Some(from_item::<Credential>(item)?.0),
            None => None,
        };
        if !verify_secret(client_secret, stored.as_ref().map(|c| &c.secret_hash)) {
            return Err(refused());
        }
        let credential = stored.ok_or_else(refused)?;
        let principal = Principal {
            tenant: credential.tenant,
            id: credential.principal,
            roles: credential.roles,
        };
        self.tokens
            .issue(&principal, self.ctx.now(), self.ctx.ulid().to_string())
            .map_err(|e| Error::Internal(e.to_string()))
    }

    /// An admin creates a credential for a person or service in its own tenant.
    pub async fn create_client(&self, caller: &Principal, new: NewClient) -> Result<ClientSecret> {
        caller.authorize(Action::ManageClients)?;
        if new.roles.is_empty() || new.roles.contains(&Role::Agent) {
            return Err(Error::invalid(
                "$.roles",
                "give one or more of `admin`, `operator`; agents get credentials when they are registered",
            ));
        }
        let client = ClientId::from_ulid(self.ctx.ulid());
        let (put, secret) = self.credential_put(
            &caller.tenant,
            PrincipalId::client(&client),
            client.as_str(),
            new.roles,
            &new.description,
        )?;
        self.ctx.store.transact_write(vec![put]).await?;
        Ok(secret)
    }

    /// The write that stores a new credential, and the secret to show once. Agents'
    /// registration uses it too, inside its own transaction.
    pub(crate) fn credential_put(
        &self,
        tenant: &TenantId,
        principal: PrincipalId,
        client_id: &str,
        roles: Vec<Role>,
        description: &str,
    ) -> Result<(WriteOp, ClientSecret)> {
        let secret = generate_secret(self.ctx.entropy.as_ref());
        let secret_hash =
            hash_secret(&secret, self.ctx.entropy.as_ref()).map_err(Error::Internal)?;
        let credential = Credential {
            client_id: client_id.to_string(),
            tenant: tenant.clone(),
            principal,
            roles,
            secret_hash,
            description: description.to_string(),
            created_at: self.ctx.now(),
        };
        let item = Item::new(credential_key(client_id), to_body(&credential)?);
        let shown = ClientSecret {
            client_id: client_id.to_string(),
            client_secret: secret,
        };
        Ok((
            WriteOp::Put {
                item,
                condition: Condition::NotExists,
            },
            shown,
        ))
    }

    /// Mints a token directly, for whoever holds the signing key (`skein token --admin`).
    pub fn mint(&self, principal: &Principal) -> Result<IssuedToken> {
        self.tokens
            .issue(principal, self.ctx.now(), self.ctx.ulid().to_string())
            .map_err(|e| Error::Internal(e.to_string()))
    }
}
