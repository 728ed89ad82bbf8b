//! A real moto server for the adapter tests: one per test binary, on a free loopback
//! port, started from the project's venv (scripts/setup.sh installs it). It stops by itself
//! when the test process ends: a small shell watches the parent and kills moto.
#![allow(dead_code)]

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub struct Moto {
    pub endpoint: String,
}

static MOTO: OnceLock<Moto> = OnceLock::new();

fn moto_server() -> PathBuf {
    let venv = std::env::var_os("SKEIN_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv"));
    let bin = venv.join("bin/moto_server");
    assert!(
        bin.exists(),
        "moto_server not found at {}: run `bash scripts/setup.sh` (make test does), or set SKEIN_VENV",
        bin.display()
    );
    bin
}

/// The shared moto server, started on first use.
pub fn moto() -> &'static Moto {
    MOTO.get_or_init(|| {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let script = format!(
            "MOTO_PORT={port} '{}' -H 127.0.0.1 -p {port} >/dev/null 2>&1 & moto=$!; \
             while kill -0 {parent} 2>/dev/null; do sleep 1; done; kill $moto",
            moto_server().display(),
            parent = std::process::id()
        );
        let mut watcher = Command::new("bash")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .spawn()
            .expect("bash starts moto");
        // Reaped when it exits, which is after this process ends.
        std::thread::spawn(move || watcher.wait());
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    })
}

/// An AWS configuration that talks to moto with dummy credentials.
pub async fn aws_config() -> aws_config::SdkConfig {
    let moto = moto();
    aws_config::from_env()
        .endpoint_url(&moto.endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "moto",
        ))
        .load()
        .await
}

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", ulid::Ulid::new().to_string().to_lowercase())
}
