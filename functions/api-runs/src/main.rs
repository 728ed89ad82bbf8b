//! The runs routes of the API, behind API Gateway: the same router `skein dev`
//! serves, on DynamoDB, SQS and Step Functions.

use skein_http::groups;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    skein_lambda::api::run(groups::runs, skein_lambda::no_builtins).await
}
