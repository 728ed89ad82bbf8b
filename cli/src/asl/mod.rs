//! skein-asl's tools beyond `validate` and `run`: Step Functions' API on a laptop
//! (`serve`), and re-running an execution recorded on AWS (`replay`). Both answer Task
//! states the same way (`tasks`).

mod executions;
mod machines;
mod protocol;
pub mod replay;
pub mod serve;
pub mod tasks;
mod test_state;
