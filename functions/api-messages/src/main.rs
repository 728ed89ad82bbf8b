//! The messaging routes of the API, behind API Gateway: direct and broadcast sends onto
//! the messages queue, inbox reads, acknowledgements and replies, dead letters.

use skein_http::groups;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    skein_lambda::api::run(groups::messages, skein_lambda::no_builtins).await
}
