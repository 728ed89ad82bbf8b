//! Tenants and client credentials: bootstrapping a tenant's first admin, exchanging
//! client credentials for a token, admins managing credentials for people and services,
//! and revoking tokens before they expire.

mod clients;
pub mod revocation;

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::auth::{Action, IssuedToken, Principal, Role, SecretHash, TokenService};
use crate::auth::{generate_secret, hash_secret, verify_secret};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::ids::{AgentId, ClientId, PrincipalId, TenantId};
use crate::ports::{Condition, Index, IndexKey, Item, StoreError, WriteOp};
use crate::records::{
    clients_list_pk, credential_key, failed_logins_key, from_item, tenant_key, to_body,
};

pub use clients::ClientSummary;

/// Failed client-credential attempts allowed for one client id from one source address,
/// within the current and the previous window. Only that source is slowed down: the
/// client's correct secret keeps working from everywhere else.
pub const MAX_FAILED_LOGINS: u64 = 10;
/// Failed attempts allowed from one source address for all client ids together, which
/// bounds the argon2 work one source can make the server do.
pub const MAX_FAILED_LOGINS_PER_SOURCE: u64 = 50;
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
    /// None in a process that neither verifies nor issues tokens (the step-worker, the
    /// message-router and the scheduler on Lambda), which then links no JWT crypto.
    tokens: Option<Arc<TokenService>>,
}

impl Access {
    pub fn new(ctx: Context, tokens: Option<Arc<TokenService>>) -> Self {
        Self { ctx, tokens }
    }

    /// The token service, where this process has one: every API host does.
    fn token_service(&self) -> Result<&TokenService> {
        self.tokens
            .as_deref()
            .ok_or_else(|| Error::Internal("this process was built without tokens".into()))
    }

    /// The token buckets API requests take from, on this platform's store.
    pub fn rate_limiter(&self, limits: crate::limits::RateLimits) -> crate::limits::RateLimiter {
        crate::limits::RateLimiter::new(self.ctx.clone(), limits)
    }

    pub fn tokens(&self) -> Option<&TokenService> {
        self.tokens.as_deref()
    }

    /// Verifies a bearer token's signature and claims, without asking the store: enough
    /// to pick a rate-limit bucket, not to act (see `authenticate`).
    pub fn verify_token(&self, bearer: &str) -> Result<Principal> {
        self.token_service()?
            .verify(bearer)
            .map_err(|e| Error::Unauthenticated(e.to_string()))
    }

    /// Verifies a bearer token into the calling principal, refusing one whose principal
    /// was deleted or paused, or whose secret was rotated, after the token was issued.
    pub async fn authenticate(&self, bearer: &str) -> Result<Principal> {
        let (principal, issued_at_ms) = self
            .token_service()?
            .verify_issued(bearer)
            .map_err(|e| Error::Unauthenticated(e.to_string()))?;
        revocation::check(
            self.ctx.store.as_ref(),
            &principal.tenant,
            principal.id.as_str(),
            issued_at_ms,
        )
        .await?;
        Ok(principal)
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

    /// OAuth 2.0 client credentials grant. Failed attempts are counted per client id and
    /// source address, and per source; past a limit that source gets 429 until the window
    /// ends, so secrets cannot be guessed online and one source cannot make the server
    /// burn CPU on argon2, while nobody can lock a client out from elsewhere.
    pub async fn exchange(
        &self,
        client_id: &str,
        client_secret: &str,
        source: Option<IpAddr>,
    ) -> Result<IssuedToken> {
        if ClientId::parse(client_id).is_err() && AgentId::parse(client_id).is_err() {
            return Err(Error::Unauthenticated(
                "`client_id` is neither a client id (cli_...) nor an agent id (agt_...)".into(),
            ));
        }
        let source = source.map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
        let (window, retry_after) = self.login_window();
        let pair = format!("{client_id}@{source}");
        let from_source = format!("@{source}");
        let throttled = self.failures(&pair, window).await? >= MAX_FAILED_LOGINS
            || self.failures(&from_source, window).await? >= MAX_FAILED_LOGINS_PER_SOURCE;
        if throttled {
            return Err(Error::RateLimited {
                message: format!(
                    "too many failed attempts from this address; retry in {retry_after} s"
                ),
                retry_after_seconds: retry_after,
            });
        }
        let issued = self.verify_and_issue(client_id, client_secret).await;
        if matches!(issued, Err(Error::Unauthenticated(_))) {
            self.count_failed_login(failed_logins_key(&pair, window), window)
                .await?;
            self.count_failed_login(failed_logins_key(&from_source, window), window)
                .await?;
        }
        issued
    }

    /// Failures of `subject` in this window and the one before it: a burst that straddles
    /// a boundary still counts.
    async fn failures(&self, subject: &str, window: i64) -> Result<u64> {
        let mut failures = 0;
        for key in [
            failed_logins_key(subject, window - 1),
            failed_logins_key(subject, window),
        ] {
            if let Some(item) = self.ctx.store.get(&key).await? {
                failures += item
                    .body
                    .get("failures")
                    .and_then(|v| v.as_u64())
                    .unwrap_or(0);
            }
        }
        Ok(failures)
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
        let blocked = revocation::load(
            self.ctx.store.as_ref(),
            &credential.tenant,
            credential.principal.as_str(),
        )
        .await?
        .is_some_and(|r| r.blocked);
        if blocked {
            return Err(Error::Forbidden(
                "this agent is paused; an admin can resume it with PATCH /v1/agents/{id}".into(),
            ));
        }
        let principal = Principal {
            tenant: credential.tenant,
            id: credential.principal,
            roles: credential.roles,
        };
        self.token_service()?
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
        let item = credential_item(&credential)?;
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
        self.token_service()?
            .issue(principal, self.ctx.now(), self.ctx.ulid().to_string())
            .map_err(|e| Error::Internal(e.to_string()))
    }
}

/// A credential as stored. People's and services' credentials are listed per tenant;
/// agents' are listed as the agents themselves.
fn credential_item(credential: &Credential) -> Result<Item> {
    let listing = credential
        .principal
        .as_agent()
        .is_none()
        .then(|| IndexKey::new(clients_list_pk(&credential.tenant), &credential.client_id));
    Ok(
        Item::new(credential_key(&credential.client_id), to_body(credential)?)
            .with_gsi(Index::Gsi3, listing),
    )
}
