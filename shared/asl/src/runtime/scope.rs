//! What paths see while a state runs: its input, the `$$` context object (built only when a
//! path asks for it) and the workflow variables in scope.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use std::borrow::Cow;

use crate::path::{Scope, Step, walk};

/// Variables visible to a run of states. A Parallel branch or Map iteration reads its parent's
/// variables and assigns its own, which are not visible outside it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Variables {
    parent: Option<Arc<Variables>>,
    local: HashMap<String, Value>,
}

impl Variables {
    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        self.local
            .get(name)
            .or_else(|| self.parent.as_ref()?.get(name))
    }

    pub(crate) fn child_of(parent: &Arc<Variables>) -> Variables {
        Variables {
            parent: Some(parent.clone()),
            local: HashMap::new(),
        }
    }

    pub(crate) fn assign(&mut self, values: Map<String, Value>) {
        self.local.extend(values);
    }
}

/// The execution-wide part of the context object.
#[derive(Debug)]
pub(crate) struct ExecutionInfo {
    pub(crate) id: String,
    pub(crate) name: Arc<str>,
    /// Shared with the history's ExecutionStarted event, which records it as it is.
    pub(crate) input: Arc<Value>,
    pub(crate) start_time: DateTime<Utc>,
    pub(crate) state_machine_id: String,
    pub(crate) state_machine_name: String,
    pub(crate) role_arn: String,
    pub(crate) context_overrides: Option<Map<String, Value>>,
}

/// The per-state part of the context object.
pub(crate) struct StateContext<'a> {
    pub(crate) execution: &'a ExecutionInfo,
    pub(crate) state_name: &'a str,
    pub(crate) entered_time: DateTime<Utc>,
    pub(crate) retry_count: u32,
    pub(crate) task_token: Option<&'a str>,
    pub(crate) map_item: Option<(usize, &'a Value)>,
}

/// `patch` over `target`: objects merge key by key, anything else replaces.
fn lay_over(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                lay_over(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

pub(crate) fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl StateContext<'_> {
    fn to_value(&self, with_execution_input: bool) -> Value {
        let e = self.execution;
        let input = if with_execution_input {
            Value::clone(&e.input)
        } else {
            Value::Null
        };
        let mut context = json!({
            "Execution": {
                "Id": e.id,
                "Input": input,
                "Name": &*e.name,
                "RoleArn": e.role_arn,
                "StartTime": timestamp(e.start_time),
                "RedriveCount": 0,
            },
            "State": {
                "EnteredTime": timestamp(self.entered_time),
                "Name": self.state_name,
                "RetryCount": self.retry_count,
            },
            "StateMachine": { "Id": e.state_machine_id, "Name": e.state_machine_name },
        });
        if let Some(token) = self.task_token {
            context["Task"] = json!({ "Token": token });
        }
        if let Some((index, value)) = self.map_item {
            context["Map"] = json!({ "Item": { "Index": index, "Value": value } });
        }
        if let Some(overrides) = &e.context_overrides {
            for (key, value) in overrides {
                lay_over(&mut context[key.as_str()], value);
            }
        }
        context
    }
}

pub(crate) struct RunScope<'a> {
    pub(crate) input: &'a Value,
    pub(crate) context: &'a StateContext<'a>,
    pub(crate) variables: &'a Variables,
    result: Option<&'a Value>,
    error_output: Option<&'a Value>,
    built: OnceCell<Value>,
    built_with_input: OnceCell<Value>,
}

impl<'a> RunScope<'a> {
    pub(crate) fn new(
        input: &'a Value,
        context: &'a StateContext<'a>,
        variables: &'a Variables,
    ) -> Self {
        RunScope {
            input,
            context,
            variables,
            result: None,
            error_output: None,
            built: OnceCell::new(),
            built_with_input: OnceCell::new(),
        }
    }

    /// With JSONata's `$states.result`.
    pub(crate) fn with_result(mut self, result: Option<&'a Value>) -> Self {
        self.result = result;
        self
    }

    /// With JSONata's `$states.errorOutput`.
    pub(crate) fn with_error_output(mut self, error_output: &'a Value) -> Self {
        self.error_output = Some(error_output);
        self
    }
}

impl Scope for RunScope<'_> {
    fn input(&self) -> &Value {
        self.input
    }

    fn context(&self, with_execution_input: bool) -> &Value {
        if with_execution_input {
            self.built_with_input
                .get_or_init(|| self.context.to_value(true))
        } else {
            self.built.get_or_init(|| self.context.to_value(false))
        }
    }

    fn variable(&self, name: &str) -> Option<&Value> {
        self.variables.get(name)
    }

    fn result(&self) -> Option<&Value> {
        self.result
    }

    fn context_field(&self, steps: &[Step]) -> Option<Cow<'_, Value>> {
        let is =
            |at: usize, name: &str| matches!(steps.get(at), Some(Step::Key(key)) if key == name);
        let context = self.context;
        if context.execution.context_overrides.is_some() {
            return None;
        }
        if is(0, "Map") && is(1, "Item") {
            let (index, value) = context.map_item?;
            if is(2, "Index") && steps.len() == 3 {
                return Some(Cow::Owned(Value::from(index)));
            }
            if is(2, "Value") {
                return walk(value, &steps[3..]).map(Cow::Borrowed);
            }
        } else if is(0, "Execution") && is(1, "Input") {
            return walk(&context.execution.input, &steps[2..]).map(Cow::Borrowed);
        } else if steps.len() == 2 && is(0, "State") && is(1, "Name") {
            return Some(Cow::Owned(Value::from(context.state_name)));
        } else if steps.len() == 2 && is(0, "Task") && is(1, "Token") {
            return context
                .task_token
                .map(|token| Cow::Owned(Value::from(token)));
        }
        None
    }

    fn error_output(&self) -> Option<&Value> {
        self.error_output
    }
}
