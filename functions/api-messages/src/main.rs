//! The messaging routes of the API, behind API Gateway: direct and broadcast sends onto
//! the messages queue, inbox reads, acknowledgements and replies, dead letters.

use skein_http::ApiGroup;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    skein_lambda::api::run(ApiGroup::Messages).await
}
