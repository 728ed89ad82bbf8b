//! Doing a task or map step's work: a builtin in-process, or a task for a remote agent.

use serde_json::Value;

use super::Runs;
use super::call::StepCall;
use super::model::RunError;
use super::model::StepMessage;
use super::worker::set;
use crate::error::{Error, Result};
use crate::ports::{BuiltinCall, BuiltinOutput, Condition, DeltaSink, Deltas};
use crate::records::step_key;
use crate::tasks::model::{MAX_RESULT_BYTES, json_size};
use crate::tasks::{NewTask, TaskOrigin};
use crate::usage::{Call, Purpose, Reserved, UsageSource};
use crate::workflows::compile::StepErrorName;
use tracing::Instrument;

impl Runs {
    /// Runs a task or map step's agent on `input`: a builtin in-process (Some result), or
    /// a task for a remote agent (None: the task's completion finishes it).
    pub(crate) async fn perform(
        &self,
        call: StepCall<'_>,
        input: Value,
        item: Option<u32>,
    ) -> Result<Option<std::result::Result<Value, RunError>>> {
        let message = call.message;
        let step = call.step();
        let idempotency_key = idempotency_key(message, &step.id, item);
        if let Some(name) = &step.builtin {
            match name.as_str() {
                crate::messages::SEND_BUILTIN => {
                    return self
                        .send_step_message(message, &idempotency_key, input)
                        .await
                        .map(Some);
                }
                crate::messages::AWAIT_BUILTIN => {
                    return self.await_reply(call, &input).await;
                }
                _ => {}
            }
            return self.run_builtin(call, name, input, item).await.map(Some);
        }
        let run = self.run_record(&message.tenant, &message.run).await?;
        let target_agent = match &step.agent {
            Some(name) => match self.agent_named(&message.tenant, name).await? {
                Some(id) => Some(id),
                None => {
                    let cause = format!(
                        "agent `{name}` no longer exists; register it again or change the step"
                    );
                    return Ok(Some(Err(RunError {
                        error: StepErrorName::NonRetryable.into(),
                        cause,
                    })));
                }
            },
            None => None,
        };
        let capability = match &step.capability {
            Some(c) => Some(
                crate::ids::Capability::parse(c)
                    .map_err(|e| Error::invalid("$.capability", e.0))?,
            ),
            None => None,
        };
        let new = NewTask {
            agent: target_agent,
            capability,
            input,
            timeout_seconds: step
                .timeout
                .map_or(300, |t| t.ceil_seconds().min(12 * 3600) as u32),
            max_attempts: 1,
            ttl_seconds: None,
        };
        let origin = TaskOrigin {
            run: message.run.clone(),
            step: step.id.clone(),
            attempt: message.attempt,
            index: item,
            reported: false,
        };
        let owner = crate::auth::Principal {
            tenant: message.tenant.clone(),
            id: run.started_by.clone(),
            roles: vec![crate::auth::Role::Admin],
        };
        let created = self
            .tasks
            .create_with_origin(
                &owner,
                new,
                Some(&format!("step:{idempotency_key}")),
                Some(origin),
            )
            .await?;
        if item.is_none() {
            let key = step_key(&message.tenant, &message.run, &step.id);
            self.ctx
                .store
                .update(&key, vec![set("task", &created.task.id)], Condition::Exists)
                .await?;
        }
        if created.task.status.is_terminal() {
            // A re-run found the task already finished: its completion may have been lost.
            self.tasks_finished_now(&created.task).await?;
        } else {
            tracing::Span::current().record("skein.outcome", "awaiting_agent");
        }
        Ok(None)
    }

    /// Runs builtin agent `name` (one the platform does not do itself, as it does `send`
    /// and `await`) on `input`.
    pub(crate) async fn run_builtin(
        &self,
        call: StepCall<'_>,
        name: &str,
        input: Value,
        item: Option<u32>,
    ) -> Result<std::result::Result<Value, RunError>> {
        let message = call.message;
        let step = call.step();
        // Only a step that asks to stream gets somewhere to stream to.
        let streams = step
            .config
            .as_ref()
            .is_some_and(|c| c.get("stream") == Some(&Value::Bool(true)));
        let deltas = streams.then(|| {
            Deltas(std::sync::Arc::new(StepDeltas {
                runs: self.clone(),
                message: message.clone(),
                item,
            }))
        });
        let builtin = BuiltinCall {
            name: name.to_string(),
            config: step.config.clone().unwrap_or(Value::Null),
            input,
            idempotency_key: idempotency_key(message, &step.id, item),
            timeout: step.timeout.map(|t| t.0),
            trace: None,
            deltas,
        };
        let result = self
            .invoke_builtin(message, &step.id, item, builtin)
            .await?;
        Ok(result.and_then(|output| within_limit(name, output)))
    }

    /// Runs a builtin for a step. A call to a paid provider (the `llm` builtin) first
    /// holds what it may use against the run's and the tenant's budgets, and is recorded
    /// in the usage ledger when it ends.
    async fn invoke_builtin(
        &self,
        message: &StepMessage,
        step: &str,
        item: Option<u32>,
        call: BuiltinCall,
    ) -> Result<std::result::Result<Value, RunError>> {
        let Some(builtins) = &self.ports.builtins else {
            // A deployment that routes steps to a function without the builtins.
            return Err(crate::Error::Internal(format!(
                "builtin `{}` cannot run in this process: builtin steps run in the step-worker",
                call.name
            )));
        };
        let span = tracing::info_span!(
            "builtin",
            otel.name = %format!("builtin {}", call.name),
            skein.builtin = %call.name,
            skein.outcome = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            gen_ai.system = tracing::field::Empty,
            gen_ai.request.model = tracing::field::Empty,
            gen_ai.usage.input_tokens = tracing::field::Empty,
            gen_ai.usage.output_tokens = tracing::field::Empty,
        );
        let call = BuiltinCall {
            trace: span.in_scope(|| self.ctx.traces.current()),
            ..call
        };
        let result = self
            .invoke_builtin_in(message, step, item, call, builtins.as_ref())
            .instrument(span.clone())
            .await;
        let outcome = match &result {
            Ok(Ok(_)) => "succeeded",
            Ok(Err(e)) => {
                span.record("otel.status_code", "ERROR");
                if e.error == StepErrorName::BudgetExceeded.as_str() {
                    "budget_exceeded"
                } else {
                    "failed"
                }
            }
            Err(_) => {
                span.record("otel.status_code", "ERROR");
                "error"
            }
        };
        span.record("skein.outcome", outcome);
        result
    }

    async fn invoke_builtin_in(
        &self,
        message: &StepMessage,
        step: &str,
        item: Option<u32>,
        call: BuiltinCall,
        builtins: &dyn crate::ports::BuiltinAgents,
    ) -> Result<std::result::Result<Value, RunError>> {
        let failed = |f: crate::ports::AgentFailure| RunError {
            error: f.error.into(),
            cause: f.message,
        };
        let Some(estimate) = builtins.estimate(&call) else {
            return Ok(builtins.invoke(call).await.map(|o| o.value).map_err(failed));
        };
        let run = self.run_record(&message.tenant, &message.run).await?;
        let agent = call.name.clone();
        let purpose = Purpose {
            tenant: &message.tenant,
            workflow: Some(&message.workflow),
            run: Some(&message.run),
            run_budget: run.budget,
            step: Some(step),
            item,
            agent: &agent,
            task: None,
        };
        let held = match self.usage.reserve(&purpose, &estimate).await? {
            Reserved::Held(held) => held,
            Reserved::Refused { error, cause } => {
                return Ok(Err(RunError {
                    error: error.into(),
                    cause,
                }));
            }
        };
        let result = builtins.invoke(call).await;
        match &result {
            Ok(BuiltinOutput {
                usage: Some(used), ..
            }) => {
                let span = tracing::Span::current();
                span.record("gen_ai.system", used.provider.as_str());
                span.record("gen_ai.request.model", used.model.as_str());
                span.record("gen_ai.usage.input_tokens", used.tokens.input);
                span.record("gen_ai.usage.output_tokens", used.tokens.output);
                let spent = Call {
                    source: UsageSource::Builtin,
                    provider: used.provider.clone(),
                    model: used.model.clone(),
                    tokens: used.tokens,
                    latency: Some(used.latency),
                    cost_micros: None,
                };
                self.usage.record(&purpose, spent, &held).await?;
            }
            _ => self.usage.release(&purpose, &held).await?,
        }
        Ok(result.map(|o| o.value).map_err(failed))
    }

    /// The id of the tenant's agent with this name, if it still exists.
    pub(crate) async fn agent_named(
        &self,
        tenant: &crate::ids::TenantId,
        name: &str,
    ) -> Result<Option<crate::ids::AgentId>> {
        let name =
            crate::ids::AgentName::parse(name).map_err(|e| Error::invalid("$.agent", e.0))?;
        let Some(item) = self
            .ctx
            .store
            .get(&crate::records::agent_name_key(tenant, &name))
            .await?
        else {
            return Ok(None);
        };
        let id = item
            .body
            .get("agent")
            .and_then(Value::as_str)
            .unwrap_or_default();
        crate::ids::AgentId::parse(id)
            .map(Some)
            .map_err(|e| Error::Internal(e.0))
    }
}

/// What makes an attempt's call to an agent one call however often it is made: the run,
/// the step, the map item if any, and the attempt.
fn idempotency_key(message: &StepMessage, step: &str, item: Option<u32>) -> String {
    match item {
        Some(i) => format!("{}:{}:{}:{}", message.run, step, i, message.attempt),
        None => format!("{}:{}:{}", message.run, step, message.attempt),
    }
}

/// Where a streaming builtin's output goes: `step.delta` events of its step. A delta that
/// cannot be stored is logged and dropped; the step's result does not depend on it.
struct StepDeltas {
    runs: Runs,
    message: StepMessage,
    item: Option<u32>,
}

#[async_trait::async_trait]
impl DeltaSink for StepDeltas {
    async fn delta(&self, text: &str) {
        if let Err(e) = self.runs.step_delta(&self.message, self.item, text).await {
            tracing::warn!(error = %e, step = %self.message.step, "a streamed delta was not stored");
        }
    }
}

/// Step outputs are stored with the step, so they get the same limit as task results.
fn within_limit(builtin: &str, output: Value) -> std::result::Result<Value, RunError> {
    let size = json_size(&output);
    if size <= MAX_RESULT_BYTES {
        return Ok(output);
    }
    Err(RunError {
        error: StepErrorName::NonRetryable.into(),
        cause: format!(
            "builtin `{builtin}` produced {size} bytes; a step output is at most {MAX_RESULT_BYTES}: narrow it (e.g. with a transform) or store it elsewhere"
        ),
    })
}
