//! Lambda: the EventBridge Scheduler target that starts scheduled runs and sweeps timers.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    skein_lambda::scheduler::run().await
}
