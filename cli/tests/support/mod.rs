//! What the tests that run `skein` as a separate process share: the binary run to its
//! end, a free port, and a `skein dev` on a fresh data dir with an admin token for it.
#![allow(dead_code)]

pub mod sfn;

use std::process::Stdio;
use std::time::{Duration, Instant};

/// Runs `skein` with these arguments: its exit code, stdout and stderr.
pub fn skein(args: &[&str]) -> (i32, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_skein"))
        .args(args)
        .output()
        .expect("run skein");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `skein dev` process, stopped when dropped.
pub struct DevProcess {
    pub dir: tempfile::TempDir,
    /// `http://127.0.0.1:{port}`
    pub base: String,
    pub token: String,
    _child: tokio::process::Child,
}

/// Starts `skein dev` with `secret` as its HS256 key and logs at `warn`, after `configure`
/// has added its own variables, and waits until it answers.
pub async fn spawn_dev(
    secret: &str,
    configure: impl FnOnce(&mut tokio::process::Command),
) -> DevProcess {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_skein"));
    command
        .arg("dev")
        .env("SKEIN_DATA_DIR", dir.path())
        .env("SKEIN_ADDR", format!("127.0.0.1:{port}"))
        .env("SKEIN_JWT_SECRET", secret)
        .env("SKEIN_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    configure(&mut command);
    let child = command.spawn().expect("skein dev starts");
    let token = std::process::Command::new(env!("CARGO_BIN_EXE_skein"))
        .args(["token", "--admin"])
        .env("SKEIN_DATA_DIR", dir.path())
        .env("SKEIN_JWT_SECRET", secret)
        .output()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.get(format!("{base}/v1/health")).send().await.is_err() {
        assert!(Instant::now() < deadline, "skein dev did not start");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    DevProcess {
        dir,
        base,
        token: String::from_utf8(token.stdout).unwrap().trim().to_string(),
        _child: child,
    }
}
