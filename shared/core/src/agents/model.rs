use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::access::ClientSecret;
use crate::error::{FieldErrors, Result};
use crate::ids::{AgentId, AgentName, AgentTag, Capability, TenantId};

/// Set by admins: a paused agent keeps its identity but is offered no tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AgentStatus {
    #[default]
    Active,
    Paused,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Agent {
    pub id: AgentId,
    pub tenant: TenantId,
    pub name: AgentName,
    /// What sort of agent this is (e.g. `llm`, `script`, `human`); free text for people.
    pub kind: String,
    pub capabilities: BTreeSet<Capability>,
    /// Labels broadcasts can select agents by.
    #[serde(default)]
    pub tags: BTreeSet<AgentTag>,
    pub config: Value,
    pub status: AgentStatus,
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An agent that has not heartbeated for this long is shown as offline.
pub const ONLINE_WINDOW: Duration = Duration::seconds(60);

impl Agent {
    pub fn is_online(&self, now: DateTime<Utc>) -> bool {
        self.last_heartbeat_at
            .is_some_and(|at| now - at <= ONLINE_WINDOW)
    }

    /// The claim queues this agent draws from: its own, then one per capability.
    pub fn claim_targets(&self) -> Vec<String> {
        std::iter::once(format!("agent:{}", self.id))
            .chain(self.capabilities.iter().map(|c| format!("capability:{c}")))
            .collect()
    }
}

const MAX_KIND_LEN: usize = 64;
const MAX_CAPABILITIES: usize = 64;
const MAX_CONFIG_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewAgent {
    pub name: AgentName,
    #[serde(default = "default_kind")]
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 64, pattern = r"\S")
    )]
    pub kind: String,
    #[serde(default)]
    pub capabilities: BTreeSet<Capability>,
    #[serde(default)]
    pub tags: BTreeSet<AgentTag>,
    #[serde(default = "empty_object")]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub config: Value,
}

fn default_kind() -> String {
    "generic".into()
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

impl NewAgent {
    pub fn validate(&self) -> Result<()> {
        let mut errors = FieldErrors::default();
        check_kind(&mut errors, &self.kind);
        check_capabilities(&mut errors, &self.capabilities);
        check_tags(&mut errors, &self.tags);
        check_config(&mut errors, &self.config);
        errors.into_result()
    }
}

/// A PATCH: absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentPatch {
    pub name: Option<AgentName>,
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 64, pattern = r"\S")
    )]
    pub kind: Option<String>,
    pub capabilities: Option<BTreeSet<Capability>>,
    pub tags: Option<BTreeSet<AgentTag>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub config: Option<Value>,
    pub status: Option<AgentStatus>,
}

impl AgentPatch {
    pub fn validate(&self) -> Result<()> {
        let mut errors = FieldErrors::default();
        if let Some(kind) = &self.kind {
            check_kind(&mut errors, kind);
        }
        if let Some(capabilities) = &self.capabilities {
            check_capabilities(&mut errors, capabilities);
        }
        if let Some(tags) = &self.tags {
            check_tags(&mut errors, tags);
        }
        if let Some(config) = &self.config {
            check_config(&mut errors, config);
        }
        errors.into_result()
    }
}

fn check_kind(errors: &mut FieldErrors, kind: &str) {
    errors.check(
        !kind.trim().is_empty() && kind.len() <= MAX_KIND_LEN,
        "$.kind",
        || format!("kind must be 1 to {MAX_KIND_LEN} characters"),
    );
}

fn check_tags(errors: &mut FieldErrors, tags: &BTreeSet<AgentTag>) {
    errors.check(tags.len() <= MAX_CAPABILITIES, "$.tags", || {
        format!("at most {MAX_CAPABILITIES} tags")
    });
}

fn check_capabilities(errors: &mut FieldErrors, capabilities: &BTreeSet<Capability>) {
    errors.check(
        capabilities.len() <= MAX_CAPABILITIES,
        "$.capabilities",
        || format!("an agent has at most {MAX_CAPABILITIES} capabilities"),
    );
}

fn check_config(errors: &mut FieldErrors, config: &Value) {
    errors.check(config.is_object(), "$.config", || {
        "config must be a JSON object".into()
    });
    let size = serde_json::to_vec(config)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    errors.check(size <= MAX_CONFIG_BYTES, "$.config", || {
        format!("config is {size} bytes; the limit is {MAX_CONFIG_BYTES}")
    });
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AgentFilter {
    pub capability: Option<Capability>,
    pub status: Option<AgentStatus>,
}

impl AgentFilter {
    pub fn matches(&self, agent: &Agent) -> bool {
        self.capability
            .as_ref()
            .is_none_or(|c| agent.capabilities.contains(c))
            && self.status.is_none_or(|s| agent.status == s)
    }
}

/// What registration returns: the agent and its credentials, shown only this once.
#[derive(Debug, Clone, Serialize)]
pub struct RegisteredAgent {
    pub agent: Agent,
    pub credentials: ClientSecret,
}
