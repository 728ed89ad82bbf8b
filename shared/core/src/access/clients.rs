//! Admins manage the credentials of their tenant: list and delete clients, and rotate a
//! client's or an agent's secret. Deleting and rotating revoke the tokens already issued.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::revocation;
use super::{Access, ClientSecret, Credential};
use crate::auth::{Action, Principal, Role, generate_secret, hash_secret};
use crate::cursor::{ListPage, PageRequest, list_filtered};
use crate::error::{Error, Result};
use crate::ids::{AgentId, ClientId};
use crate::ports::{Condition, Index, Query, StoreError, WriteOp};
use crate::records::{clients_list_pk, credential_key, from_item};

/// A client credential as listed: never its secret or hash.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientSummary {
    pub client_id: String,
    pub roles: Vec<Role>,
    pub description: String,
    pub created_at: DateTime<Utc>,
}

impl From<Credential> for ClientSummary {
    fn from(c: Credential) -> Self {
        ClientSummary {
            client_id: c.client_id,
            roles: c.roles,
            description: c.description,
            created_at: c.created_at,
        }
    }
}

impl Access {
    pub async fn list_clients(
        &self,
        caller: &Principal,
        page: &PageRequest,
    ) -> Result<ListPage<ClientSummary>> {
        caller.authorize(Action::ManageClients)?;
        let query = Query::new(Index::Gsi3, clients_list_pk(&caller.tenant));
        list_filtered(self.ctx.store.as_ref(), query, page, 1000, |item| {
            from_item::<Credential>(item).map(|(c, _)| Some(c.into()))
        })
        .await
    }

    /// Deletes a client credential of the caller's tenant; its tokens stop working at once.
    pub async fn delete_client(&self, caller: &Principal, id: &ClientId) -> Result<()> {
        caller.authorize(Action::ManageClients)?;
        if caller.id.as_str() == id.as_str() {
            return Err(Error::conflict(
                "own-credential",
                "a client cannot delete itself; use another admin's credentials",
            ));
        }
        let (credential, version) = self.credential_of(caller, id.as_str()).await?;
        let ops = vec![
            WriteOp::Delete {
                key: credential_key(id.as_str()),
                condition: Condition::VersionIs(version),
            },
            revocation::revoke(
                &credential.tenant,
                credential.principal.as_str(),
                self.ctx.now(),
                true,
            )?,
        ];
        self.commit(ops).await
    }

    /// Replaces a client's secret: the old secret and every token issued with it stop
    /// working at once. The new secret is shown only in this answer.
    pub async fn rotate_client_secret(
        &self,
        caller: &Principal,
        id: &ClientId,
    ) -> Result<ClientSecret> {
        caller.authorize(Action::ManageClients)?;
        self.rotate(caller, id.as_str()).await
    }

    /// Replaces an agent's secret, as `rotate_client_secret` does for clients.
    pub async fn rotate_agent_secret(
        &self,
        caller: &Principal,
        id: &AgentId,
    ) -> Result<ClientSecret> {
        caller.authorize(Action::UpdateAgent)?;
        self.rotate(caller, id.as_str()).await
    }

    async fn rotate(&self, caller: &Principal, client_id: &str) -> Result<ClientSecret> {
        let (mut credential, version) = self.credential_of(caller, client_id).await?;
        let secret = generate_secret(self.ctx.entropy.as_ref());
        credential.secret_hash =
            hash_secret(&secret, self.ctx.entropy.as_ref()).map_err(Error::Internal)?;
        let ops = vec![
            WriteOp::Put {
                item: super::credential_item(&credential)?,
                condition: Condition::VersionIs(version),
            },
            revocation::revoke(
                &credential.tenant,
                credential.principal.as_str(),
                self.ctx.now(),
                false,
            )?,
        ];
        self.commit(ops).await?;
        Ok(ClientSecret {
            client_id: client_id.to_string(),
            client_secret: secret,
        })
    }

    /// The caller's tenant's credential with this id (other tenants' are not found).
    async fn credential_of(
        &self,
        caller: &Principal,
        client_id: &str,
    ) -> Result<(Credential, u64)> {
        let item = self.ctx.store.get(&credential_key(client_id)).await?;
        match item.map(from_item::<Credential>).transpose()? {
            Some((credential, version)) if credential.tenant == caller.tenant => {
                Ok((credential, version))
            }
            _ => Err(Error::NotFound { what: "client" }),
        }
    }

    async fn commit(&self, ops: Vec<WriteOp>) -> Result<()> {
        match self.ctx.store.transact_write(ops).await {
            Ok(()) => Ok(()),
            Err(StoreError::TransactionCanceled { .. }) => Err(Error::conflict(
                "concurrent-update",
                "the credential changed at the same moment; try again",
            )),
            Err(e) => Err(e.into()),
        }
    }
}
