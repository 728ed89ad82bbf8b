//! # skein-asl
//!
//! Amazon States Language for Rust: a serde [`model`], a validator that reports every problem
//! with the state and field it is in, and a fast async interpreter with pluggable Task
//! resources, virtual time, Step Functions-shaped history, task tokens and the `States.*`
//! error semantics.
//!
//! ```
//! use std::sync::Arc;
//! use skein_asl::{StateMachine, Execution, ExecutionConfig, Resources, Status};
//!
//! let machine = StateMachine::parse(r#"{
//!   "StartAt": "Greet",
//!   "States": { "Greet": { "Type": "Pass", "Parameters": { "hello.$": "$.name" }, "End": true } }
//! }"#).unwrap();
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
//! let config = ExecutionConfig::new(Arc::new(Resources::new()));
//! let outcome = runtime.block_on(Execution::new(&machine, serde_json::json!({"name": "Ada"}), config).run());
//! assert_eq!(outcome.status, Status::Succeeded);
//! assert_eq!(outcome.output.unwrap(), serde_json::json!({"hello": "Ada"}));
//! ```

pub mod choice;
mod compile;
pub mod error;
pub mod errors;
pub mod intrinsics;
mod json_size;
pub mod jsonata;
mod machine;
pub mod model;
pub mod path;
mod runtime;
pub mod template;

pub use error::{InvalidDefinition, Problem};
pub use machine::StateMachine;
pub use runtime::*;
