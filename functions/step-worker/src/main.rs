//! Lambda: runs workflow steps from the step queue and reports them to Step Functions.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    skein_lambda::step_worker::run().await
}
