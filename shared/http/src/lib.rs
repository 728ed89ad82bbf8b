//! Skein's REST API as axum routers: one module per resource, one error type, one auth
//! extractor. The dev server and every API Lambda serve these same routers.

mod bell;
mod extract;
mod limit;
mod openapi;
mod problem;
mod request_metrics;
mod routes;
mod source_limit;
mod state;

pub use bell::TaskBell;
pub use extract::{Caller, ClientAddr, JsonBody, QueryParams};
pub use openapi::document as openapi_document;
pub use problem::{ApiError, ApiResult};
pub use routes::{ApiGroup, group_router, groups, router};
pub use source_limit::SourceLimiter;
pub use state::{AppState, ServiceInfo, Shared};

/// Largest request body accepted (a task input may be up to 256 KiB of JSON).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
