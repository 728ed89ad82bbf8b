//! Lambda: routes messages from the messages queue into agents' inboxes, exactly once per
//! message and receiver, and dead-letters what cannot be delivered.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    skein_lambda::message_router::run().await
}
