//! The stack the edge tests run against: a real `skein dev` (the `skein` binary, its log
//! kept to count the requests it served) behind the edge Worker (functions/edge/build,
//! built by `make edge`) in real workerd, run by `wrangler dev --local`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use tokio::process::{Child, Command};

/// The HS256 secret the origin signs with and the edge verifies with.
pub const SECRET: &str = "edge-tests-0123456789abcdef012345";

pub struct Stack {
    pub origin: String,
    pub edge: String,
    /// The bootstrap admin's token, as `skein dev` printed it.
    pub admin: String,
    pub http: reqwest::Client,
    origin_log: PathBuf,
    processes: Vec<Child>,
    _dir: tempfile::TempDir,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where scripts/setup.sh put the Node tools (wrangler, Node 22).
fn node_tools() -> PathBuf {
    let tools = std::env::var("SKEIN_NODE_TOOLS").unwrap_or_else(|_| ".tools/node".into());
    let tools = PathBuf::from(tools);
    if tools.is_absolute() {
        tools
    } else {
        repo().join(tools)
    }
}

impl Stack {
    /// Starts the origin and the edge in front of it, with these `SKEIN_RATE_*` limits at
    /// the edge (the origin has none of its own here, so what is measured is the edge's).
    pub async fn start(rate_principal: &str, rate_tenant: &str) -> Stack {
        let bundle = repo().join("functions/edge/build/index.js");
        let wrangler = node_tools().join("node_modules/.bin/wrangler");
        assert!(
            bundle.exists() && wrangler.exists(),
            "the edge tests need the Worker bundle and wrangler: run `bash scripts/setup.sh && make edge` (make test does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let origin_port = crate::support::free_port();
        let origin = format!("http://127.0.0.1:{origin_port}");
        let origin_log = dir.path().join("origin.log");

        let log = std::fs::File::create(&origin_log).unwrap();
        let mut processes = vec![
            Command::new(env!("CARGO_BIN_EXE_skein"))
                .arg("dev")
                .env("SKEIN_ADDR", format!("127.0.0.1:{origin_port}"))
                .env("SKEIN_DATA_DIR", dir.path().join("data"))
                .env("SKEIN_JWT_SECRET", SECRET)
                .env("SKEIN_RATE_SOURCE", "off")
                .env("RUST_LOG", "info")
                .env_remove("SKEIN_RATE_PRINCIPAL")
                .env_remove("SKEIN_RATE_TENANT")
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .kill_on_drop(true)
                .spawn()
                .unwrap(),
        ];

        let config = dir.path().join("wrangler.toml");
        std::fs::write(&config, test_config(&bundle)).unwrap();
        let vars = [
            format!("SKEIN_ORIGIN_URL:{origin}"),
            "SKEIN_JWT_ALG:HS256".into(),
            format!("SKEIN_JWT_SECRET:{SECRET}"),
            format!("SKEIN_RATE_PRINCIPAL:{rate_principal}"),
            format!("SKEIN_RATE_TENANT:{rate_tenant}"),
        ];
        let http = reqwest::Client::new();
        let admin = wait_for_admin_token(&origin_log).await;
        wait_until_healthy(&http, &origin).await;
        let (wrangler, edge) = start_edge(&http, &wrangler, &config, &vars, dir.path()).await;
        processes.push(wrangler);
        Stack {
            origin,
            edge,
            admin,
            http,
            origin_log,
            processes,
            _dir: dir,
        }
    }

    /// How many requests the origin logged with this request id.
    pub fn origin_requests_with_id(&self, request_id: &str) -> usize {
        self.origin_log_lines(&format!("request_id=\"{request_id}\""))
    }

    /// How many requests the origin logged for this route (`/v1/runs/{id}/events`).
    pub fn origin_requests_for_route(&self, route: &str) -> usize {
        self.origin_log_lines(&format!("route=\"{route}\""))
    }

    fn origin_log_lines(&self, needle: &str) -> usize {
        std::fs::read_to_string(&self.origin_log)
            .unwrap_or_default()
            .lines()
            .filter(|line| line.contains("finished processing request") && line.contains(needle))
            .count()
    }

    pub fn url(&self, base: &str, path: &str) -> String {
        format!("{base}{path}")
    }

    /// A JSON call (with a bearer token unless `token` is empty): the answer's status and
    /// body (Null when it has none).
    pub async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, url);
        if !token.is_empty() {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for process in &mut self.processes {
            stop_group(process);
        }
    }
}

/// Ends a process and its process group: wrangler runs workerd as its child.
fn stop_group(process: &mut Child) {
    if let Some(pid) = process.id() {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", "--", &format!("-{pid}")])
            .stderr(Stdio::null())
            .status();
    }
    let _ = process.start_kill();
}

/// Starts `wrangler dev` with the Worker in front of the origin, and waits until it answers.
/// Its ports are picked free a moment before wrangler binds them, and workerd binds more of
/// its own, so a test starting beside this one can take one first: wrangler then fails with
/// "Address already in use" and exits, or never answers. It is then started again on new
/// ports, a few times.
async fn start_edge(
    http: &reqwest::Client,
    wrangler: &Path,
    config: &Path,
    vars: &[String],
    dir: &Path,
) -> (Child, String) {
    const ATTEMPTS: u32 = 3;
    let bin = node_tools().join("node_modules/.bin");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for attempt in 1..=ATTEMPTS {
        let (edge_port, inspector_port) =
            (crate::support::free_port(), crate::support::free_port());
        let mut child = Command::new(wrangler)
            .args(["dev", "--config"])
            .arg(config)
            .args(["--local", "--ip", "127.0.0.1"])
            .args(["--port", &edge_port.to_string()])
            .args(["--inspector-port", &inspector_port.to_string()])
            .arg("--persist-to")
            .arg(dir.join(format!("edge-state-{attempt}")))
            .args([
                "--show-interactive-dev-session=false",
                "--log-level",
                "warn",
            ])
            .arg("--var")
            .args(vars)
            .env("PATH", &path)
            .env("WRANGLER_SEND_METRICS", "false")
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let edge = format!("http://127.0.0.1:{edge_port}");
        match wait_for_edge(http, &edge, &mut child).await {
            Ok(()) => return (child, edge),
            Err(why) => {
                stop_group(&mut child);
                assert!(attempt < ATTEMPTS, "{edge} never became healthy: {why}");
                eprintln!("the edge did not start ({why}); starting it again on new ports");
            }
        }
    }
    unreachable!("the last attempt returns or fails")
}

/// Waits for the edge to answer its health check; why not, if wrangler exits first or a
/// minute goes by.
async fn wait_for_edge(
    http: &reqwest::Client,
    edge: &str,
    wrangler: &mut Child,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let health = http.get(format!("{edge}/v1/health")).send().await;
        if health.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        if let Ok(Some(status)) = wrangler.try_wait() {
            return Err(format!("wrangler exited ({status})"));
        }
        if Instant::now() >= deadline {
            return Err("no answer within 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The real wrangler.toml, run from the bundle `make edge` built (no build step here).
fn test_config(bundle: &Path) -> String {
    let real = std::fs::read_to_string(repo().join("functions/edge/wrangler.toml")).unwrap();
    let mut config = String::new();
    let mut in_build = false;
    for line in real.lines() {
        if line.starts_with('[') {
            in_build = line.trim() == "[build]";
        }
        if in_build {
            continue;
        }
        if line.starts_with("main = ") {
            config.push_str(&format!("main = {:?}\n", bundle.display().to_string()));
        } else if line.starts_with("directory = ") {
            // The console's assets, from wherever this test's config is written.
            let assets = repo().join("console/assets");
            config.push_str(&format!("directory = {:?}\n", assets.display().to_string()));
        } else {
            config.push_str(line);
            config.push('\n');
        }
    }
    config
}

async fn wait_for_admin_token(log: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(token) = text
            .lines()
            .find_map(|line| line.trim().strip_prefix("export SKEIN_TOKEN="))
        {
            return token.trim().to_string();
        }
        assert!(
            Instant::now() < deadline,
            "skein dev printed no token:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_until_healthy(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let health = http.get(format!("{base}/v1/health")).send().await;
        if health.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        assert!(Instant::now() < deadline, "{base} never became healthy");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A JWT's claims, unverified: to mint look-alikes of a real token.
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// A token with these claims and header, signed by `sign` (or unsigned).
pub fn token_with(header: &Value, claims: &Value, signature: &str) -> String {
    let encode = |value: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap());
    format!("{}.{}.{signature}", encode(header), encode(claims))
}
