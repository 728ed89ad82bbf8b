//! Real moto servers for tests, each on a free loopback port, started on first use from
//! the project's venv (scripts/setup.sh installs it): one shared by most tests, and more
//! for suites that spread their load (a moto server is one Python process, so it uses one
//! core), each started by `moto_launcher` (DynamoDB requests one at a time, as DynamoDB
//! keeps conditional writes atomic). Each stops by itself when the test process ends: a
//! small shell watches the parent and kills moto.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub struct Moto {
    pub endpoint: String,
}

/// How many servers one test process may start (`server` wraps slots around).
pub const MAX_SERVERS: usize = 8;

static SERVERS: [OnceLock<Moto>; MAX_SERVERS] = [const { OnceLock::new() }; MAX_SERVERS];

fn venv() -> PathBuf {
    let venv = std::env::var_os("SKEIN_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv"));
    assert!(
        venv.join("bin/moto_server").exists(),
        "moto_server not found in {}: run `bash scripts/setup.sh` (make test does), or set SKEIN_VENV",
        venv.display()
    );
    venv
}

/// The shared moto server, started on first use.
pub fn moto() -> &'static Moto {
    server(0)
}

/// Moto server number `slot` (modulo `MAX_SERVERS`), started on first use, with Step
/// Functions executing state machines for real (moto only pretends unless told, and must
/// be told before any state machine is created).
pub fn server(slot: usize) -> &'static Moto {
    SERVERS[slot % MAX_SERVERS].get_or_init(|| {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("a free loopback port")
            .local_addr()
            .expect("a bound address")
            .port();
        let mut moto = Command::new(crate::moto_launcher::python(&venv()))
            .args(crate::moto_launcher::args("127.0.0.1", port))
            // MOTO_PORT must equal the port: service integrations call back to it.
            .env("MOTO_PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the venv's Python starts moto");
        // moto stops when this test process ends, however it ends.
        let watch = format!(
            "while kill -0 {parent} 2>/dev/null; do sleep 1; done; kill {moto}",
            parent = std::process::id(),
            moto = moto.id()
        );
        let mut watcher = Command::new("bash")
            .args(["-c", &watch])
            .stdin(Stdio::null())
            .spawn()
            .expect("bash watches moto");
        // Both are reaped when they exit, which is after this process ends.
        std::thread::spawn(move || {
            let _ = watcher.wait();
        });
        std::thread::spawn(move || moto.wait());
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let endpoint = format!("http://127.0.0.1:{port}");
        configure_execution(port);
        Moto { endpoint }
    })
}

/// `POST /moto-api/config {"stepfunctions":{"execute_state_machine":true}}`, by hand
/// over a socket: this runs before any async runtime exists.
fn configure_execution(port: u16) {
    use std::io::{Read, Write};
    let body = r#"{"stepfunctions":{"execute_state_machine":true}}"#;
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("moto accepts connections");
    write!(
        stream,
        "POST /moto-api/config HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("moto reads the config request");
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    assert!(
        reply
            .split(' ')
            .nth(1)
            .is_some_and(|status| status.starts_with('2')),
        "moto refused the Step Functions config: {reply}"
    );
}

/// An AWS configuration that talks to the shared moto server with dummy credentials.
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config_on(0).await
}

/// An AWS configuration that talks to moto server number `slot`.
pub async fn aws_config_on(slot: usize) -> aws_config::SdkConfig {
    let moto = server(slot);
    crate::config_loader()
        .endpoint_url(&moto.endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "moto",
        ))
        .load()
        .await
}

/// moto's account: the role ARN executions assume names it.
pub const ACCOUNT: &str = "123456789012";

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", ulid::Ulid::new().to_string().to_lowercase())
}
