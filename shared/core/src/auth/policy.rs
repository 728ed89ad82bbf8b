//! Who may do what. Every use case asks `Principal::authorize` before touching the store,
//! so the rules live in one table rather than scattered across handlers.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ids::{AgentId, PrincipalId, TenantId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    /// Manages everything in its tenant.
    Admin,
    /// Creates and reads agents and tasks.
    Operator,
    /// Claims, heartbeats, completes and reads only its own tasks.
    Agent,
}

impl Role {
    /// The role's name on the wire (tokens, the authorizer's context, errors).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Agent => "agent",
        }
    }
}

/// An authenticated caller. Built only from a verified token or a verified credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant: TenantId,
    pub id: PrincipalId,
    pub roles: Vec<Role>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    CreateAgent,
    ReadAnyAgent,
    UpdateAgent,
    DeleteAgent,
    CreateTask,
    ReadAnyTask,
    ManageClients,
    ManageWorkflows,
    RunWorkflows,
    SendMessages,
    ManageDeadLetters,
    CheckHealth,
    /// Read the tenant's LLM usage and costs.
    ReadUsage,
    /// Set the tenant's monthly budget.
    ManageBudgets,
}

impl Action {
    fn allowed(self) -> &'static [Role] {
        use Role::*;
        match self {
            Action::CreateAgent | Action::ReadAnyAgent => &[Admin, Operator],
            Action::CreateTask | Action::ReadAnyTask => &[Admin, Operator],
            Action::ManageWorkflows | Action::RunWorkflows => &[Admin, Operator],
            Action::UpdateAgent | Action::DeleteAgent | Action::ManageClients => &[Admin],
            Action::CheckHealth | Action::ManageBudgets => &[Admin],
            Action::ReadUsage => &[Admin, Operator],
            Action::SendMessages => &[Admin, Operator, Agent],
            Action::ManageDeadLetters => &[Admin, Operator],
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Action::CreateAgent => "register agents",
            Action::ReadAnyAgent => "read other agents",
            Action::UpdateAgent => "update agents",
            Action::DeleteAgent => "delete agents",
            Action::CreateTask => "create tasks",
            Action::ReadAnyTask => "read tasks of other agents",
            Action::ManageClients => "manage client credentials",
            Action::ManageWorkflows => "register workflows",
            Action::RunWorkflows => "start, read and cancel runs",
            Action::SendMessages => "send messages",
            Action::ManageDeadLetters => "read and redrive dead letters",
            Action::CheckHealth => "check the platform's health in depth",
            Action::ReadUsage => "read the tenant's usage and costs",
            Action::ManageBudgets => "set the tenant's budget",
        }
    }
}

impl Principal {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn may(&self, action: Action) -> bool {
        action.allowed().iter().any(|role| self.has_role(*role))
    }

    pub fn authorize(&self, action: Action) -> Result<()> {
        if self.may(action) {
            return Ok(());
        }
        let needed: Vec<_> = action.allowed().iter().map(|r| r.as_str()).collect();
        Err(Error::Forbidden(format!(
            "only {} may {}",
            needed.join(" or "),
            action.describe()
        )))
    }

    /// The agent this caller acts as, when it holds the agent role.
    pub fn agent(&self) -> Option<AgentId> {
        self.has_role(Role::Agent)
            .then(|| self.id.as_agent())
            .flatten()
    }

    /// Succeeds only for the agent `id` itself.
    pub fn require_agent(&self, id: &AgentId, doing: &str) -> Result<()> {
        match self.agent() {
            Some(me) if &me == id => Ok(()),
            Some(_) => Err(Error::Forbidden(format!(
                "an agent may only {doing} for itself"
            ))),
            None => Err(Error::Forbidden(format!(
                "only the agent itself may {doing}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ulid::Ulid;

    fn principal(roles: &[Role]) -> Principal {
        let id = AgentId::from_ulid(Ulid::from_parts(1, 1));
        Principal {
            tenant: TenantId::parse("t").unwrap(),
            id: PrincipalId::agent(&id),
            roles: roles.to_vec(),
        }
    }

    #[test]
    fn an_operator_creates_tasks_but_cannot_delete_agents() {
        let operator = principal(&[Role::Operator]);
        assert!(operator.authorize(Action::CreateTask).is_ok());
        let err = operator.authorize(Action::DeleteAgent).unwrap_err();
        assert_eq!(err.to_string(), "only admin may delete agents");
    }

    #[test]
    fn an_agent_may_act_only_for_itself() {
        let me = principal(&[Role::Agent]);
        let my_id = me.agent().unwrap();
        assert!(me.require_agent(&my_id, "claim tasks").is_ok());
        let other = AgentId::from_ulid(Ulid::from_parts(2, 2));
        assert!(matches!(
            me.require_agent(&other, "claim tasks"),
            Err(Error::Forbidden(_))
        ));
        assert!(!me.may(Action::ReadAnyTask));
    }
}
