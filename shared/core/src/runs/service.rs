//! Starting, reading, listing and cancelling runs.

use chrono::Duration;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::Runs;
use super::model::{ParentStep, Run, RunStatus};
use super::values::{Apart, Part};
use crate::auth::{Action, Principal};
use crate::cursor::{ListPage, PageRequest, list_filtered};
use crate::error::{Error, FieldError, Result};
use crate::ids::{PrincipalId, RunId, TenantId};
use crate::ports::{Change, Condition, Index, IndexKey, Item, Query, StoreError, WriteOp};
use crate::records::{from_item, idempotency_key, quota_key, run_key, runs_list_pk, to_body};
use crate::tasks::model::{MAX_INPUT_BYTES, json_size};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StartRun {
    #[serde(default)]
    pub input: Value,
    /// Run this version; the latest when absent.
    #[serde(default, deserialize_with = "crate::whole_number::option::deserialize")]
    pub version: Option<u32>,
}

pub struct Started {
    pub run: Run,
    pub replayed: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RunFilter {
    pub workflow: Option<String>,
    pub status: Option<RunStatus>,
}

#[derive(Serialize, Deserialize)]
struct IdempotencyRecord {
    run: RunId,
    fingerprint: String,
}

const IDEMPOTENCY_WINDOW: Duration = Duration::hours(24);

/// The quota item's count of the tenant's running runs.
pub(crate) const RUNNING: &str = "running";

impl Runs {
    /// The trace a new run's steps join: the starter's (a request, a parent step), or,
    /// for a run nobody traced (a schedule's), a new trace rooted in a `run` span.
    fn trace_for(&self, run: &Run) -> Option<String> {
        if let Some(current) = self.ctx.traces.current() {
            return Some(current);
        }
        let root = tracing::info_span!(
            parent: None,
            "run",
            otel.name = %format!("run {}", run.workflow),
            skein.tenant = %run.tenant,
            skein.workflow = %run.workflow,
            skein.run = %run.id,
        );
        root.in_scope(|| self.ctx.traces.current())
    }

    pub async fn start(
        &self,
        caller: &Principal,
        workflow: &str,
        request: StartRun,
        idempotency: Option<&str>,
    ) -> Result<Started> {
        caller.authorize(Action::RunWorkflows)?;
        if let Some(key) = idempotency {
            crate::tasks::check_idempotency_key(key)?;
        }
        self.start_as(
            &caller.tenant,
            &caller.id,
            workflow,
            request,
            idempotency,
            None,
        )
        .await
    }

    /// Starts a run on anyone's behalf: the API, a schedule, a parent run.
    pub(crate) async fn start_as(
        &self,
        tenant: &TenantId,
        who: &PrincipalId,
        workflow: &str,
        request: StartRun,
        idempotency: Option<&str>,
        parent: Option<ParentStep>,
    ) -> Result<Started> {
        let size = json_size(&request.input);
        if size > MAX_INPUT_BYTES {
            return Err(Error::PayloadTooLarge(format!(
                "the run input is {size} bytes; the limit is {MAX_INPUT_BYTES}: pass a reference to large data"
            )));
        }
        let version = self
            .workflows
            .runnable_version(tenant, workflow, request.version)
            .await?;
        let compiled = self
            .workflows
            .compiled(tenant, workflow, version.version)
            .await?;
        compiled.input_schema.check(&request.input)?;
        let now = self.ctx.now();
        let run = Run {
            id: RunId::from_ulid(self.ctx.ulid()),
            tenant: tenant.clone(),
            workflow: workflow.to_string(),
            version: version.version,
            status: RunStatus::Running,
            input: request.input.clone(),
            output: None,
            error: None,
            started_by: who.clone(),
            started_at: now,
            finished_at: None,
            parent,
            budget: compiled.definition.budget,
            trace: None,
        };
        let run = Run {
            trace: self.trace_for(&run),
            ..run
        };
        self.admit_run(tenant).await?;
        let listing = IndexKey::new(runs_list_pk(tenant), run.id.as_str());
        let mut ops = vec![
            WriteOp::Put {
                item: Item::new(run_key(tenant, &run.id), to_body(&run)?)
                    .with_gsi(Index::Gsi3, Some(listing)),
                condition: Condition::NotExists,
            },
            // Counted with the run's creation, released with its end (execution_ended):
            // the count never drifts from the runs that exist.
            WriteOp::Update {
                key: quota_key(tenant),
                changes: vec![Change::Add(RUNNING.into(), 1)],
                condition: Condition::Always,
            },
        ];
        let record_key = idempotency
            .map(|key| idempotency_key(tenant, who.as_str(), &format!("run:{workflow}:{key}")));
        let fingerprint = fingerprint(&request);
        if let Some(key) = &record_key {
            let record = IdempotencyRecord {
                run: run.id.clone(),
                fingerprint: fingerprint.clone(),
            };
            ops.push(WriteOp::Put {
                item: Item::new(key.clone(), to_body(&record)?)
                    .expiring_at((now + IDEMPOTENCY_WINDOW).timestamp()),
                condition: Condition::NotExists,
            });
        }
        // The run's first event is written with it: a run never exists without it.
        ops.push(WriteOp::Put {
            item: self.event_item(
                tenant,
                &run.id,
                "run.started",
                None,
                json!({ "workflow": workflow, "version": run.version }),
            )?,
            condition: Condition::Always,
        });
        match self.ctx.store.transact_write(ops).await {
            Ok(()) => {}
            Err(StoreError::TransactionCanceled { failed }) if failed.contains(&2) => {
                let key = record_key
                    .ok_or_else(|| Error::Internal("idempotency conflict without a key".into()))?;
                return self.replay(tenant, &key, &fingerprint).await;
            }
            Err(e) => return Err(e.into()),
        }
        crate::metrics::run_started(workflow);
        self.ctx.events.run_changed(run.id.as_str());
        self.launch(&version.machine, &run).await?;
        Ok(Started {
            run,
            replayed: false,
        })
    }

    /// Starts the run's execution. Starting an execution name twice is a no-op, so a
    /// start whose answer was lost is simply made again, and so is the start of a run
    /// whose first request died before it (`replay` launches again). An engine that
    /// refuses, or stays unavailable, fails the run with a cause that says so.
    async fn launch(&self, machine: &str, run: &Run) -> Result<()> {
        let execution_input = json!({ "run": run.id, "tenant": run.tenant });
        let engine = &self.ports.engine;
        let started = crate::retry::while_unavailable(|| {
            engine.start(machine, run.id.as_str(), &execution_input)
        })
        .await;
        if let Err(e) = started {
            tracing::error!(run = %run.id, error = %e, "the engine did not start the run");
            let ended = crate::ports::ExecutionEnded {
                run: run.id.to_string(),
                input: execution_input,
                status: crate::ports::ExecutionStatus::Failed,
                error: Some(crate::workflows::compile::StepErrorName::Internal.into()),
                cause: Some(match e {
                    crate::ports::EngineError::Unavailable(_) => {
                        "the workflow engine stayed unavailable; start the run again".into()
                    }
                    other => format!("the workflow engine could not start the run: {other}"),
                }),
            };
            self.execution_ended(ended).await?;
        }
        Ok(())
    }

    async fn replay(
        &self,
        tenant: &TenantId,
        key: &crate::ports::Key,
        fingerprint: &str,
    ) -> Result<Started> {
        let item = self
            .ctx
            .store
            .get(key)
            .await?
            .ok_or_else(|| Error::Internal("idempotency record vanished".into()))?;
        let (earlier, _) = from_item::<IdempotencyRecord>(item)?;
        if earlier.fingerprint != fingerprint {
            return Err(Error::Validation(vec![FieldError::new(
                "header.Idempotency-Key",
                "this key was already used to start a run with a different input; use a new key",
            )]));
        }
        let mut run = self.run_record(tenant, &earlier.run).await?;
        if !run.status.is_terminal() {
            // The first request may have stopped between creating the run and starting it.
            let version = self
                .workflows
                .load_version(tenant, &run.workflow, Some(run.version))
                .await?;
            self.launch(&version.machine, &run).await?;
            run = self.run_record(tenant, &earlier.run).await?;
        }
        Ok(Started {
            run,
            replayed: true,
        })
    }

    pub async fn list(
        &self,
        caller: &Principal,
        filter: RunFilter,
        page: &PageRequest,
    ) -> Result<ListPage<Run>> {
        caller.authorize(Action::RunWorkflows)?;
        let mut query = Query::new(Index::Gsi3, runs_list_pk(&caller.tenant));
        query.descending = true;
        let mut listed = list_filtered(self.ctx.store.as_ref(), query, page, 5000, |item| {
            let (run, _) = from_item::<Run>(item)?;
            let keep = filter.workflow.as_ref().is_none_or(|w| &run.workflow == w)
                && filter.status.is_none_or(|s| run.status == s);
            Ok(keep.then_some(run))
        })
        .await?;
        // A succeeded run without an output on its record keeps it apart.
        for run in &mut listed.items {
            if run.status == RunStatus::Succeeded && run.output.is_none() {
                *run = self.run_record(&run.tenant, &run.id).await?;
            }
        }
        Ok(listed)
    }

    /// Asks the engine to stop the run; it ends as `cancelled` when the engine confirms.
    pub async fn cancel(&self, caller: &Principal, id: &RunId) -> Result<Run> {
        caller.authorize(Action::RunWorkflows)?;
        let run = self.load_run(caller, id).await?;
        if run.status.is_terminal() {
            return Err(Error::conflict(
                "run-finished",
                format!("the run already ended as {}", run.status.as_str()),
            ));
        }
        let cause = format!("cancelled by {}", caller.id);
        let version = self
            .workflows
            .load_version(&caller.tenant, &run.workflow, Some(run.version))
            .await?;
        self.ports
            .engine
            .stop(
                &version.machine,
                id.as_str(),
                crate::workflows::compile::StepErrorName::Cancelled.as_str(),
                &cause,
            )
            .await
            .map_err(|e| Error::Internal(format!("engine stop failed: {e}")))?;
        self.event(
            &caller.tenant,
            id,
            "run.cancelling",
            None,
            json!({ "by": caller.id }),
        )
        .await?;
        self.run_record(&caller.tenant, id).await
    }

    /// Refuses a start while the tenant has its quota of runs in flight.
    async fn admit_run(&self, tenant: &TenantId) -> Result<()> {
        let Some(limit) = self.ports.quotas.runs_in_flight else {
            return Ok(());
        };
        let running = self
            .ctx
            .store
            .get(&quota_key(tenant))
            .await?
            .and_then(|item| item.body.get(RUNNING).and_then(Value::as_i64))
            .unwrap_or(0);
        if running >= i64::from(limit) {
            return Err(Error::QuotaExceeded(format!(
                "this tenant has {running} runs in flight, its quota is {limit}; start more as they end (or cancel some)"
            )));
        }
        Ok(())
    }

    /// The run's record, without its steps (`view` has them).
    pub async fn get(&self, caller: &Principal, id: &RunId) -> Result<Run> {
        self.load_run(caller, id).await
    }

    pub(crate) async fn load_run(&self, caller: &Principal, id: &RunId) -> Result<Run> {
        caller.authorize(Action::RunWorkflows)?;
        self.run_record(&caller.tenant, id).await
    }

    /// The run as stored, its output put together when it was kept apart.
    pub(crate) async fn run_record(&self, tenant: &TenantId, id: &RunId) -> Result<Run> {
        let key = run_key(tenant, id);
        let item = self
            .ctx
            .store
            .get(&key)
            .await?
            .ok_or(Error::NotFound { what: "run" })?;
        let apart = item
            .body
            .get(Part::Output.apart_attribute())
            .and_then(|v| serde_json::from_value::<Apart>(v.clone()).ok());
        let (mut run, _) = from_item::<Run>(item)?;
        if let Some(apart) = apart {
            run.output = Some(self.load_value(&key, Part::Output, apart).await?);
        }
        Ok(run)
    }
}

fn fingerprint(request: &StartRun) -> String {
    let bytes = serde_json::to_vec(request).unwrap_or_default();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
