//! Task resources are pluggable: the interpreter hands each Task state's call to the handler
//! registered for its resource ARN.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

/// One invocation of a Task state's resource.
#[derive(Debug, Clone)]
pub struct TaskCall {
    /// The resource ARN as written, e.g. `arn:aws:states:::sqs:sendMessage.waitForTaskToken`.
    pub resource: Arc<str>,
    /// The effective parameters (after InputPath and Parameters).
    pub parameters: Value,
    /// Present when the resource ends in `.waitForTaskToken`: the handler sends it somewhere,
    /// and the execution waits for `send_task_success` / `send_task_failure` with it.
    pub task_token: Option<String>,
    pub credentials: Option<Value>,
    pub execution_name: Arc<str>,
    pub state_name: Arc<str>,
    pub retry_count: u32,
}

/// A named task error, which Retry and Catch match by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskError {
    pub error: String,
    pub cause: String,
}

impl TaskError {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> TaskError {
        TaskError {
            error: error.into(),
            cause: cause.into(),
        }
    }
}

#[async_trait]
pub trait TaskHandler: Send + Sync {
    /// Runs the task. For `.waitForTaskToken` resources the returned value is ignored: the
    /// result arrives later through the token.
    async fn call(&self, task: TaskCall) -> Result<Value, TaskError>;
}

struct FnHandler<F>(F);

#[async_trait]
impl<F, Fut> TaskHandler for FnHandler<F>
where
    F: Fn(TaskCall) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Value, TaskError>> + Send,
{
    async fn call(&self, task: TaskCall) -> Result<Value, TaskError> {
        (self.0)(task).await
    }
}

/// Handlers by resource ARN: an exact ARN first (with or without `.waitForTaskToken`), then
/// the longest registered prefix.
#[derive(Default, Clone)]
pub struct Resources {
    exact: HashMap<String, Arc<dyn TaskHandler>>,
    prefixes: Vec<(String, Arc<dyn TaskHandler>)>,
}

impl Resources {
    pub fn new() -> Resources {
        Resources::default()
    }

    pub fn register(
        &mut self,
        arn: impl Into<String>,
        handler: impl TaskHandler + 'static,
    ) -> &mut Self {
        self.exact.insert(arn.into(), Arc::new(handler));
        self
    }

    pub fn register_fn<F, Fut>(&mut self, arn: impl Into<String>, handler: F) -> &mut Self
    where
        F: Fn(TaskCall) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, TaskError>> + Send + 'static,
    {
        self.register(arn, FnHandler(handler))
    }

    /// Handles every resource starting with `prefix` (e.g. `arn:aws:lambda:`).
    pub fn register_prefix(
        &mut self,
        prefix: impl Into<String>,
        handler: impl TaskHandler + 'static,
    ) -> &mut Self {
        self.prefixes.push((prefix.into(), Arc::new(handler)));
        self.prefixes
            .sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        self
    }

    pub fn resolve(&self, resource: &str) -> Option<&Arc<dyn TaskHandler>> {
        let base = resource
            .strip_suffix(".waitForTaskToken")
            .unwrap_or(resource);
        self.exact
            .get(resource)
            .or_else(|| self.exact.get(base))
            .or_else(|| {
                self.prefixes
                    .iter()
                    .find(|(p, _)| resource.starts_with(p.as_str()))
                    .map(|(_, h)| h)
            })
    }
}

impl std::fmt::Debug for Resources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resources")
            .field("exact", &self.exact.keys().collect::<Vec<_>>())
            .field(
                "prefixes",
                &self.prefixes.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            )
            .finish()
    }
}
