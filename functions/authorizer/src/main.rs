//! Lambda: the API Gateway Lambda authorizer, checking bearer tokens before any API function runs.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    skein_lambda::authorizer::run().await
}
