use clap::Subcommand;
use skein_cli::aws_local::{self, AwsLocalArgs};
use skein_cli::client::CliError;

#[derive(Debug, Subcommand)]
pub enum AwsCommand {
    /// Stand up the cloud side on this machine: moto, the table and queues the deployment
    /// defines, the functions' env file for `cargo lambda watch`, a first admin, the API's
    /// routes on one address, and the event sources (SQS, execution ends, the tick).
    Local(AwsLocalArgs),
}

pub async fn run(command: AwsCommand) -> Result<(), CliError> {
    match command {
        AwsCommand::Local(args) => aws_local::run(args)
            .await
            .map_err(|e| CliError::Other(e.to_string())),
    }
}
