//! `GET /v1/runs/{id}/events`, live: the same route `skein dev` and api-runs serve, with
//! its response streamed from a function URL (`InvokeMode: RESPONSE_STREAM`) instead of
//! buffered by API Gateway, so watchers see each event as it is written.

use skein_http::groups;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    skein_lambda::api::run_streaming(groups::run_events).await
}
