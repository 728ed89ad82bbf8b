//! The AWS-protocol server the local cloud runs on: moto from the project's venv, on
//! loopback, started by skein-aws's launcher so that DynamoDB's conditional writes stay
//! atomic, with Step Functions executing state machines (moto only pretends unless told,
//! before any state machine exists).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use super::AwsLocalError;

/// A moto server this process started; it stops when this is dropped.
pub struct MotoServer {
    pub endpoint: String,
    _process: Child,
}

/// The project's venv, which has moto (`scripts/setup.sh` installs it).
fn venv() -> Result<PathBuf, AwsLocalError> {
    let venv = std::env::var_os("SKEIN_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".venv"));
    let bin = venv.join("bin/moto_server");
    if bin.exists() {
        Ok(venv)
    } else {
        Err(AwsLocalError::NoMoto(bin))
    }
}

/// Starts moto on `127.0.0.1:port` and waits until it answers.
pub async fn start(port: u16) -> Result<MotoServer, AwsLocalError> {
    let bin = skein_aws::moto_launcher::python(&venv()?);
    let process = Command::new(&bin)
        .args(skein_aws::moto_launcher::args("127.0.0.1", port))
        // Service integrations (a state machine's SQS task) call back to this port.
        .env("MOTO_PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| AwsLocalError::Spawn { bin, source })?;
    let endpoint = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if http
            .get(format!("{endpoint}/moto-api/"))
            .send()
            .await
            .is_ok()
        {
            break;
        }
        if Instant::now() > deadline {
            return Err(AwsLocalError::NotReady(endpoint));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(MotoServer {
        endpoint,
        _process: process,
    })
}

/// Turns on moto's Step Functions execution mode; any other server is left as it is.
pub async fn execute_state_machines(endpoint: &str) -> Result<(), AwsLocalError> {
    let answer = reqwest::Client::new()
        .post(format!("{endpoint}/moto-api/config"))
        .json(&serde_json::json!({"stepfunctions": {"execute_state_machine": true}}))
        .send()
        .await;
    match answer {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) if response.status() == reqwest::StatusCode::NOT_FOUND => {
            tracing::info!(%endpoint, "not moto: Step Functions execution mode left as it is");
            Ok(())
        }
        Ok(response) => Err(AwsLocalError::Moto(format!(
            "the Step Functions config was refused: {}",
            response.status()
        ))),
        Err(e) => Err(AwsLocalError::Moto(e.to_string())),
    }
}
