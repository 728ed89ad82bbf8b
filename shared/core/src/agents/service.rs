use crate::access::Access;
use crate::access::revocation;
use crate::auth::{Action, Principal, Role};
use crate::context::Context;
use crate::cursor::{ListPage, PageRequest, list_filtered};
use crate::error::{Error, Result};
use crate::ids::{AgentId, PrincipalId};
use crate::ports::{Change, Condition, Index, IndexKey, Item, Query, StoreError, WriteOp};
use crate::records::{
    agent_gone_item, agent_key, agent_name_key, agents_list_pk, credential_key, from_item, to_body,
};

use super::model::{Agent, AgentFilter, AgentPatch, AgentStatus, NewAgent, RegisteredAgent};

/// Agent registration and management.
#[derive(Clone)]
pub struct Agents {
    ctx: Context,
    access: Access,
}

const MAX_SCANNED_PER_LIST: usize = 1000;

impl Agents {
    pub fn new(ctx: Context, access: Access) -> Self {
        Self { ctx, access }
    }

    /// Registers an agent and its credentials in one transaction: the agent, a lock on
    /// its name (names are unique per tenant), and its hashed secret.
    pub async fn register(&self, caller: &Principal, new: NewAgent) -> Result<RegisteredAgent> {
        caller.authorize(Action::CreateAgent)?;
        new.validate()?;
        let now = self.ctx.now();
        let id = AgentId::from_ulid(self.ctx.ulid());
        let agent = Agent {
            id: id.clone(),
            tenant: caller.tenant.clone(),
            name: new.name,
            kind: new.kind,
            capabilities: new.capabilities,
            tags: new.tags,
            config: new.config,
            status: AgentStatus::Active,
            last_heartbeat_at: None,
            created_at: now,
            updated_at: now,
        };
        let (credential, credentials) = self.access.credential_put(
            &agent.tenant,
            PrincipalId::agent(&id),
            id.as_str(),
            vec![Role::Agent],
            "",
        )?;
        let ops = vec![
            WriteOp::Put {
                item: self.agent_item(&agent)?,
                condition: Condition::NotExists,
            },
            self.name_lock(&agent)?,
            credential,
        ];
        match self.ctx.store.transact_write(ops).await {
            Ok(()) => Ok(RegisteredAgent { agent, credentials }),
            Err(StoreError::TransactionCanceled { failed }) if failed.contains(&1) => {
                Err(name_taken(&agent))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get(&self, caller: &Principal, id: &AgentId) -> Result<Agent> {
        if !caller.may(Action::ReadAnyAgent) {
            caller.require_agent(id, "read its agent record")?;
        }
        Ok(self.load(caller, id).await?.0)
    }

    pub async fn list(
        &self,
        caller: &Principal,
        filter: &AgentFilter,
        page: &PageRequest,
    ) -> Result<ListPage<Agent>> {
        caller.authorize(Action::ReadAnyAgent)?;
        let query = Query::new(Index::Gsi3, agents_list_pk(&caller.tenant));
        list_filtered(
            self.ctx.store.as_ref(),
            query,
            page,
            MAX_SCANNED_PER_LIST,
            |item| {
                let (agent, _) = from_item::<Agent>(item)?;
                Ok(filter.matches(&agent).then_some(agent))
            },
        )
        .await
    }

    pub async fn update(
        &self,
        caller: &Principal,
        id: &AgentId,
        patch: AgentPatch,
    ) -> Result<Agent> {
        caller.authorize(Action::UpdateAgent)?;
        patch.validate()?;
        let (mut agent, version) = self.load(caller, id).await?;
        let old = agent.clone();
        if let Some(name) = patch.name {
            agent.name = name;
        }
        if let Some(kind) = patch.kind {
            agent.kind = kind;
        }
        if let Some(capabilities) = patch.capabilities {
            agent.capabilities = capabilities;
        }
        if let Some(tags) = patch.tags {
            agent.tags = tags;
        }
        if let Some(config) = patch.config {
            agent.config = config;
        }
        if let Some(status) = patch.status {
            agent.status = status;
        }
        agent.updated_at = self.ctx.now();
        let mut ops = vec![WriteOp::Put {
            item: self.agent_item(&agent)?,
            condition: Condition::VersionIs(version),
        }];
        if agent.status != old.status {
            // Pausing stops the agent's tokens at once; resuming does not bring back the
            // ones issued before the pause (the agent gets a new token).
            ops.push(revocation::revoke(
                &agent.tenant,
                agent.id.as_str(),
                self.ctx.now(),
                agent.status == AgentStatus::Paused,
            )?);
        }
        if agent.name != old.name {
            ops.push(self.name_lock(&agent)?);
            let old_lock = agent_name_key(&old.tenant, &old.name);
            ops.push(WriteOp::Delete {
                key: old_lock,
                condition: Condition::Exists,
            });
        }
        match self.ctx.store.transact_write(ops).await {
            Ok(()) => Ok(agent),
            Err(StoreError::TransactionCanceled { failed }) if failed.contains(&1) => {
                Err(name_taken(&agent))
            }
            Err(StoreError::TransactionCanceled { .. }) => Err(concurrent_change()),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes the agent, its name lock and its credentials; its tokens stop working at
    /// once, for every action and read.
    pub async fn delete(&self, caller: &Principal, id: &AgentId) -> Result<()> {
        caller.authorize(Action::DeleteAgent)?;
        let (agent, version) = self.load(caller, id).await?;
        let ops = vec![
            WriteOp::Delete {
                key: agent_key(&agent.tenant, id),
                condition: Condition::VersionIs(version),
            },
            WriteOp::Delete {
                key: agent_name_key(&agent.tenant, &agent.name),
                condition: Condition::Always,
            },
            WriteOp::Delete {
                key: credential_key(id.as_str()),
                condition: Condition::Always,
            },
            revocation::revoke(&agent.tenant, id.as_str(), self.ctx.now(), true)?,
            // Its queued tasks (a workflow step may wait on one) fail in the next sweep.
            WriteOp::Put {
                item: agent_gone_item(&agent.tenant, id, self.ctx.now().timestamp_millis())?,
                condition: Condition::Always,
            },
        ];
        match self.ctx.store.transact_write(ops).await {
            Ok(()) => Ok(()),
            Err(StoreError::TransactionCanceled { .. }) => Err(concurrent_change()),
            Err(e) => Err(e.into()),
        }
    }

    /// Records that the agent is alive. Only the agent itself heartbeats.
    pub async fn heartbeat(&self, caller: &Principal, id: &AgentId) -> Result<Agent> {
        caller.require_agent(id, "heartbeat")?;
        let now =
            serde_json::to_value(self.ctx.now()).map_err(|e| Error::Internal(e.to_string()))?;
        let changes = vec![Change::Set("last_heartbeat_at".into(), now)];
        match self
            .ctx
            .store
            .update(&agent_key(&caller.tenant, id), changes, Condition::Exists)
            .await
        {
            Ok(item) => Ok(from_item::<Agent>(item)?.0),
            Err(StoreError::ConditionFailed) => Err(Error::NotFound { what: "agent" }),
            Err(e) => Err(e.into()),
        }
    }

    /// Loads an agent of the caller's tenant (the key itself is tenant-scoped).
    pub async fn load(&self, caller: &Principal, id: &AgentId) -> Result<(Agent, u64)> {
        let item = self.ctx.store.get(&agent_key(&caller.tenant, id)).await?;
        let item = item.ok_or(Error::NotFound { what: "agent" })?;
        from_item(item)
    }

    fn agent_item(&self, agent: &Agent) -> Result<Item> {
        let listing = IndexKey::new(agents_list_pk(&agent.tenant), agent.id.as_str());
        Ok(
            Item::new(agent_key(&agent.tenant, &agent.id), to_body(agent)?)
                .with_gsi(Index::Gsi3, Some(listing)),
        )
    }

    fn name_lock(&self, agent: &Agent) -> Result<WriteOp> {
        let body = to_body(&serde_json::json!({ "agent": agent.id }))?;
        let item = Item::new(agent_name_key(&agent.tenant, &agent.name), body);
        Ok(WriteOp::Put {
            item,
            condition: Condition::NotExists,
        })
    }
}

fn name_taken(agent: &Agent) -> Error {
    Error::conflict(
        "agent-name-taken",
        format!(
            "an agent named `{}` already exists in this tenant; pick another name",
            agent.name
        ),
    )
}

fn concurrent_change() -> Error {
    Error::conflict(
        "concurrent-update",
        "the agent changed while this request ran; read it again and retry",
    )
}
