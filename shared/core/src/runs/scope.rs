//! What a step's templates see: the run input, the steps it reads, the map item.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::Runs;
use super::model::{Run, StepRecord, StepStatus};
use super::values::Part;
use crate::error::Result;
use crate::records::{from_item, step_key};
use crate::tasks::model::MAX_INPUT_BYTES;
use crate::workflows::Workflow;
use crate::workflows::deps::step_templates;
use crate::workflows::template::{Root, Scope, StepPart, references};

pub(crate) struct StepScope {
    pub run: Run,
    pub steps: HashMap<String, StepRecord>,
    pub item: Option<Value>,
    pub index: Option<u32>,
}

impl Scope for StepScope {
    fn root(&self, root: &Root) -> Option<Value> {
        match root {
            Root::Input => Some(self.run.input.clone()),
            Root::Run => Some(
                json!({ "id": self.run.id, "workflow": self.run.workflow, "version": self.run.version }),
            ),
            Root::Item => self.item.clone(),
            Root::Index => self.index.map(|i| json!(i)),
            Root::Step { id, part } => {
                let record = self.steps.get(id)?;
                match part {
                    StepPart::Output => record.output.clone(),
                    StepPart::Error => record.error.as_ref().map(|e| json!(e)),
                    StepPart::Status => Some(json!(record.status.unwrap_or(StepStatus::Pending))),
                }
            }
        }
    }
}

impl Runs {
    /// Loads the run and every step the step's templates (and the run output) read.
    pub(crate) async fn scope_for(
        &self,
        run: Run,
        workflow: &Workflow,
        index: Option<usize>,
    ) -> Result<StepScope> {
        let mut wanted: Vec<String> = Vec::new();
        let mut templates: Vec<Value> = match index {
            Some(i) => step_templates(&workflow.definition.steps[i])
                .into_iter()
                .map(|(_, t)| t)
                .collect(),
            None => workflow.definition.output.iter().cloned().collect(),
        };
        if index.is_none() && workflow.definition.output.is_none() {
            wanted = workflow
                .dag
                .sinks()
                .into_iter()
                .map(|i| workflow.dag.ids[i].clone())
                .collect();
        }
        for template in templates.drain(..) {
            for (_, reference) in references(&template).unwrap_or_default() {
                if let Some(step) = reference.step()
                    && !wanted.iter().any(|w| w == step)
                {
                    wanted.push(step.to_string());
                }
            }
        }
        let mut steps = HashMap::new();
        for id in wanted {
            let key = step_key(&run.tenant, &run.id, &id);
            if let Some(item) = self.ctx.store.get(&key).await? {
                let mut record = from_item::<StepRecord>(item)?.0;
                record.output = self
                    .stored_value(
                        &key,
                        Part::Output,
                        record.output.take(),
                        record.output_apart,
                    )
                    .await?;
                steps.insert(id, record);
            }
        }
        Ok(StepScope {
            run,
            steps,
            item: None,
            index: None,
        })
    }
}

/// A step's input from its template, or the failure that says it renders too large: the
/// same every attempt, so the step fails at once instead of being retried.
pub(crate) fn render_step_input(
    step: &str,
    template: &serde_json::Value,
    scope: &dyn Scope,
) -> std::result::Result<serde_json::Value, super::model::RunError> {
    crate::workflows::template::render_within(template, scope, MAX_INPUT_BYTES).map_err(|too_large| super::model::RunError {
        error: crate::workflows::compile::StepErrorName::NonRetryable.into(),
        cause: format!(
            "step `{step}`: its input {too_large}; pass a reference to large data (an id or a URL) instead of the data itself"
        ),
    })
}
