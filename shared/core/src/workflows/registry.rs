//! Registered workflows: every registration of a name is a new immutable version with its
//! compiled ASL, registered with the engine as its own state machine.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::WorkflowPorts;
use super::approval_guard;
use super::definition::{Definition, Mode};
use super::machine_name::machine_name;
use super::registration_checks::check_schedule_quota;
use super::schedule::next_fire;
use super::{Known, Target, Workflow, compile, parse_definition, validate};
use crate::auth::{Action, Principal};
use crate::context::Context;
use crate::cursor::{ListPage, PageRequest, list_filtered};
use crate::error::{Error, Result};
use crate::ids::TenantId;
use crate::ports::{
    Change, Condition, EngineError, Index, IndexKey, Item, Query, SkRange, StoreError, WriteOp,
};
use crate::records::{
    SCHEDULES_DUE_PK, agents_list_pk, from_item, schedule_key, time_sort_key, to_body,
    workflow_key, workflow_pk, workflow_version_key, workflows_list_pk,
};

/// A workflow's head record: what `GET /v1/workflows` lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkflowSummary {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub mode: Mode,
    pub latest_version: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One immutable version: the definition as registered and the ASL it compiled to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkflowVersion {
    pub workflow: String,
    pub version: u32,
    /// The state machine this version runs as.
    pub machine: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub definition: Value,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub asl: Value,
    pub fingerprint: String,
    pub created_at: DateTime<Utc>,
    /// Claimed in the store, its state machine not yet confirmed by the engine: no run
    /// starts on it until applying the workflow again finishes the registration.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
}

/// The registered version, and whether this call created it (an unchanged definition
/// returns the latest version instead of adding a copy).
pub struct Registered {
    pub version: WorkflowVersion,
    pub created: bool,
}

#[derive(Clone)]
pub struct Workflows {
    ctx: Context,
    ports: WorkflowPorts,
    compiled: Arc<Mutex<HashMap<VersionRef, Arc<Workflow>>>>,
}

/// (tenant, workflow, version): names one immutable version.
type VersionRef = (TenantId, String, u32);

const MAX_AGENTS_SCANNED: usize = 5000;

impl Workflows {
    pub fn new(ctx: Context, ports: WorkflowPorts) -> Self {
        Self {
            ctx,
            ports,
            compiled: Arc::default(),
        }
    }

    pub async fn register(&self, caller: &Principal, text: &str) -> Result<Registered> {
        caller.authorize(Action::ManageWorkflows)?;
        let definition = parse_definition(text)?;
        let known = self.known(&caller.tenant).await?;
        let known = Known {
            builtins: self.ports.builtins.as_deref(),
            ..known
        };
        let workflow = validate(definition, &known)?;
        self.refuse_sub_workflow_cycles(&caller.tenant, &workflow.definition)
            .await?;
        if let Some(schedule) = &workflow.definition.schedule {
            check_schedule_quota(schedule, self.ports.quotas.schedule_interval)?;
        }
        let definition_json = serde_json::to_value(&workflow.definition)
            .map_err(|e| Error::Internal(format!("definition did not serialize: {e}")))?;
        let fingerprint = fingerprint(&definition_json);
        let name = workflow.definition.name.clone();
        let head = self
            .ctx
            .store
            .get(&workflow_key(&caller.tenant, &name))
            .await?;
        let (previous, head_version) = match head {
            Some(item) => {
                let (summary, v) = from_item::<WorkflowSummary>(item)?;
                (Some(summary), v)
            }
            None => (None, 0),
        };
        if let Some(summary) = &previous {
            let latest = self
                .version(caller, &name, Some(summary.latest_version))
                .await?;
            if latest.fingerprint == fingerprint {
                if latest.pending {
                    // An earlier apply claimed it and stopped before the engine confirmed.
                    let version = self
                        .make_runnable(&caller.tenant, &workflow.definition, latest, self.ctx.now())
                        .await?;
                    return Ok(Registered {
                        version,
                        created: true,
                    });
                }
                return Ok(Registered {
                    version: latest,
                    created: false,
                });
            }
        }
        let latest = match &previous {
            Some(summary) => Some(
                self.compiled(&caller.tenant, &name, summary.latest_version)
                    .await?,
            ),
            None => None,
        };
        approval_guard::check(caller, latest.as_deref(), &workflow)?;
        let number = previous.as_ref().map_or(1, |s| s.latest_version + 1);
        let now = self.ctx.now();
        let target = Target {
            tenant: caller.tenant.to_string(),
            workflow: name.clone(),
            version: number,
            step_queue_url: self.ports.step_queue_url.clone(),
            worker_function: self.ports.worker_function.clone(),
        };
        let asl = compile(&workflow, &target);
        let machine = machine_name(
            &self.ports.machine_prefix,
            &caller.tenant,
            &name,
            number,
            &asl,
        );
        let version = WorkflowVersion {
            workflow: name.clone(),
            version: number,
            machine,
            definition: definition_json,
            asl,
            fingerprint,
            created_at: now,
            pending: true,
        };
        let summary = WorkflowSummary {
            name: name.clone(),
            description: workflow.definition.description.clone(),
            mode: workflow.definition.mode,
            latest_version: number,
            created_at: previous.as_ref().map_or(now, |p| p.created_at),
            updated_at: now,
        };
        // The version number is claimed before the engine is touched: of two applies at
        // once, one claims it and the other is told, and a state machine only ever runs
        // the definition stored under its version.
        let listing = IndexKey::new(workflows_list_pk(&caller.tenant), name.clone());
        let claim = vec![
            WriteOp::Put {
                item: Item::new(workflow_key(&caller.tenant, &name), to_body(&summary)?)
                    .with_gsi(Index::Gsi3, Some(listing)),
                condition: if previous.is_some() {
                    Condition::VersionIs(head_version)
                } else {
                    Condition::NotExists
                },
            },
            WriteOp::Put {
                item: Item::new(
                    workflow_version_key(&caller.tenant, &name, number),
                    to_body(&version)?,
                ),
                condition: Condition::NotExists,
            },
        ];
        match self.ctx.store.transact_write(claim).await {
            Ok(()) => {}
            Err(StoreError::TransactionCanceled { .. }) => {
                return Err(Error::conflict(
                    "concurrent-update",
                    format!(
                        "workflow `{name}` was registered by someone else at the same moment; apply it again"
                    ),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        let version = self
            .make_runnable(&caller.tenant, &workflow.definition, version, now)
            .await?;
        Ok(Registered {
            version,
            created: true,
        })
    }

    /// Registers a claimed version's state machine with the engine, then marks the version
    /// runnable and points the workflow's schedule at it. Safe to repeat: the machine's
    /// name follows from its definition.
    async fn make_runnable(
        &self,
        tenant: &TenantId,
        definition: &Definition,
        mut version: WorkflowVersion,
        now: DateTime<Utc>,
    ) -> Result<WorkflowVersion> {
        let (name, number, machine) = (&version.workflow, version.version, &version.machine);
        self.ports
            .engine
            .register(machine, definition.mode, &version.asl)
            .await
            .map_err(|e| match e {
                EngineError::Unavailable(detail) => Error::Unavailable(format!(
                    "the engine could not register workflow `{name}` v{number}: {detail}; apply it again"
                )),
                EngineError::Conflict(_) => Error::conflict(
                    "machine-exists",
                    format!("state machine {machine} already exists with another definition; apply workflow `{name}` again"),
                ),
                other => Error::Internal(format!("engine refused workflow {name} v{number}: {other}")),
            })?;
        version.pending = false;
        let ops = vec![
            WriteOp::Update {
                key: workflow_version_key(tenant, name, number),
                changes: vec![Change::Set("pending".into(), Value::Bool(false))],
                condition: Condition::Exists,
            },
            self.schedule_op(tenant, definition, now)?,
        ];
        self.ctx.store.transact_write(ops).await?;
        Ok(version)
    }

    /// The version runs start on: the latest unless one is named. Refused while its
    /// registration is unfinished.
    pub(crate) async fn runnable_version(
        &self,
        tenant: &TenantId,
        name: &str,
        version: Option<u32>,
    ) -> Result<WorkflowVersion> {
        let found = self.load_version(tenant, name, version).await?;
        if found.pending {
            return Err(Error::Unavailable(format!(
                "workflow `{name}` v{} is still being registered; if this lasts, apply the workflow again",
                found.version
            )));
        }
        Ok(found)
    }

    /// The schedule entry follows the latest version: set when it has a schedule, removed when not.
    fn schedule_op(
        &self,
        tenant: &TenantId,
        definition: &Definition,
        now: DateTime<Utc>,
    ) -> Result<WriteOp> {
        let key = schedule_key(tenant, &definition.name);
        let Some(schedule) = &definition.schedule else {
            return Ok(WriteOp::Delete {
                key,
                condition: Condition::Always,
            });
        };
        let next = next_fire(schedule, now).ok_or_else(|| {
            Error::invalid("$.schedule", "this schedule has no next time to fire")
        })?;
        let due = IndexKey::new(
            SCHEDULES_DUE_PK,
            format!(
                "{}#{tenant}#{}",
                time_sort_key(next.timestamp_millis()),
                definition.name
            ),
        );
        let body = to_body(&serde_json::json!({
            "tenant": tenant, "workflow": definition.name, "next_at": next,
        }))?;
        Ok(WriteOp::Put {
            item: Item::new(key, body).with_gsi(Index::Gsi2, Some(due)),
            condition: Condition::Always,
        })
    }

    pub async fn list(
        &self,
        caller: &Principal,
        page: &PageRequest,
    ) -> Result<ListPage<WorkflowSummary>> {
        caller.authorize(Action::RunWorkflows)?;
        let query = Query::new(Index::Gsi3, workflows_list_pk(&caller.tenant));
        list_filtered(self.ctx.store.as_ref(), query, page, 1000, |item| {
            from_item::<WorkflowSummary>(item).map(|(w, _)| Some(w))
        })
        .await
    }

    pub async fn get(&self, caller: &Principal, name: &str) -> Result<WorkflowSummary> {
        caller.authorize(Action::RunWorkflows)?;
        let item = self
            .ctx
            .store
            .get(&workflow_key(&caller.tenant, name))
            .await?;
        Ok(from_item(item.ok_or(Error::NotFound { what: "workflow" })?)?.0)
    }

    /// Every version, oldest first, without their (large) definitions and ASL.
    pub async fn versions(&self, caller: &Principal, name: &str) -> Result<Vec<WorkflowVersion>> {
        let summary = self.get(caller, name).await?;
        let query = Query::new(Index::Primary, workflow_pk(&caller.tenant, name))
            .sk(SkRange::Prefix("V#".into()))
            .limit(summary.latest_version as usize + 1);
        let page = self.ctx.store.query(&query).await?;
        page.items
            .into_iter()
            .map(|item| {
                let (mut v, _) = from_item::<WorkflowVersion>(item)?;
                v.definition = Value::Null;
                v.asl = Value::Null;
                Ok(v)
            })
            .collect()
    }

    /// A version (the latest when `None`), with its definition and ASL.
    pub async fn version(
        &self,
        caller: &Principal,
        name: &str,
        version: Option<u32>,
    ) -> Result<WorkflowVersion> {
        caller.authorize(Action::RunWorkflows)?;
        self.load_version(&caller.tenant, name, version).await
    }

    pub(crate) async fn load_version(
        &self,
        tenant: &TenantId,
        name: &str,
        version: Option<u32>,
    ) -> Result<WorkflowVersion> {
        let number = match version {
            Some(v) => v,
            None => {
                let item = self.ctx.store.get(&workflow_key(tenant, name)).await?;
                from_item::<WorkflowSummary>(item.ok_or(Error::NotFound { what: "workflow" })?)?
                    .0
                    .latest_version
            }
        };
        let item = self
            .ctx
            .store
            .get(&workflow_version_key(tenant, name, number))
            .await?;
        Ok(from_item(item.ok_or(Error::NotFound {
            what: "workflow version",
        })?)?
        .0)
    }

    /// The validated workflow of a version; versions never change, so this is cached.
    pub(crate) async fn compiled(
        &self,
        tenant: &TenantId,
        name: &str,
        version: u32,
    ) -> Result<Arc<Workflow>> {
        let key = (tenant.clone(), name.to_string(), version);
        if let Some(found) = self
            .compiled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(found.clone());
        }
        let stored = self.load_version(tenant, name, Some(version)).await?;
        let definition: Definition = serde_json::from_value(stored.definition)
            .map_err(|e| Error::Internal(format!("stored definition unreadable: {e}")))?;
        let workflow = Arc::new(validate(definition, &Known::default())?);
        self.compiled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, workflow.clone());
        Ok(workflow)
    }

    /// The validated form of a stored version (for its graph).
    pub fn validated(&self, version: &WorkflowVersion) -> Result<Workflow> {
        let definition: Definition = serde_json::from_value(version.definition.clone())
            .map_err(|e| Error::Internal(format!("stored definition unreadable: {e}")))?;
        validate(definition, &Known::default())
    }

    /// Agent names, capabilities and workflows of the tenant, for validation.
    async fn known(&self, tenant: &TenantId) -> Result<Known<'static>> {
        let mut agents = BTreeSet::new();
        let mut capabilities = BTreeSet::new();
        let mut after = None;
        let mut scanned = 0;
        loop {
            let query = Query::new(Index::Gsi3, agents_list_pk(tenant))
                .limit(500)
                .after(after);
            let page = self.ctx.store.query(&query).await?;
            for item in page.items {
                scanned += 1;
                let (agent, _) = from_item::<crate::agents::Agent>(item)?;
                agents.insert(agent.name.to_string());
                capabilities.extend(agent.capabilities.iter().map(|c| c.to_string()));
            }
            match page.next {
                Some(next) if scanned < MAX_AGENTS_SCANNED => after = Some(next),
                _ => break,
            }
        }
        let query = Query::new(Index::Gsi3, workflows_list_pk(tenant)).limit(1000);
        let workflows: BTreeMap<String, u32> = self
            .ctx
            .store
            .query(&query)
            .await?
            .items
            .into_iter()
            .filter_map(|item| from_item::<WorkflowSummary>(item).ok())
            .map(|(w, _)| (w.name, w.latest_version))
            .collect();
        Ok(Known {
            agents: Some(agents),
            capabilities: Some(capabilities),
            workflows: Some(workflows),
            builtins: None,
        })
    }
}

fn fingerprint(definition: &Value) -> String {
    crate::digest::value_digest(definition)
}
