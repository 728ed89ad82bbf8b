//! AWS adapters for the ports in skein-core: the item store on DynamoDB, queues on SQS,
//! the workflow engine on Step Functions. SDK clients are built once per process from the
//! shared AWS configuration; `AWS_ENDPOINT_URL` (or a per-service variable such as
//! `AWS_ENDPOINT_URL_SQS`) points them at a local AWS-protocol server like moto.

mod config;
mod dynamo;
#[cfg(feature = "moto")]
pub mod moto;
pub mod moto_launcher;
pub mod provision;
mod sfn;
mod sqs;
mod step_queue;

pub use config::{config_loader, default_chain_credentials, lambda_config, load_config};
pub use dynamo::{DynamoStore, IAM_ACTIONS as DYNAMODB_IAM_ACTIONS};
pub use sfn::{ExecutionState, StateMachines, StepFunctionsEngine};
pub use sqs::SqsQueue;

/// The IAM actions each adapter call needs, next to the calls, grouped by what calls
/// them; skein-lambda's deploy needs pick from these per function.
pub mod iam {
    pub use crate::dynamo::IAM_ACTIONS as DYNAMODB_ACTIONS;
    pub use crate::sfn::{
        INSPECT_ACTIONS as STATES_INSPECT_ACTIONS, LOG_DELIVERY_ACTIONS, PASS_ROLE_ACTIONS,
        PROBE_ACTIONS as STATES_PROBE_ACTIONS, REGISTER_ACTIONS as STATES_REGISTER_ACTIONS,
        START_ACTIONS as STATES_START_ACTIONS, STOP_ACTIONS as STATES_STOP_ACTIONS,
        TASK_TOKEN_ACTIONS as STATES_TASK_TOKEN_ACTIONS,
    };
    pub use crate::sqs::{
        CONSUME_ACTIONS as SQS_CONSUME_ACTIONS, DEPTH_ACTIONS as SQS_DEPTH_ACTIONS,
        SEND_ACTIONS as SQS_SEND_ACTIONS,
    };
}
pub use step_queue::StepQueue;
