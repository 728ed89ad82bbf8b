//! Starts the real dev server in-process on port 0 with a fresh data dir, and drives it
//! over HTTP like any client would.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use skein_cli::config::DevArgs;
use skein_cli::dev::{DevServer, Wiring};
use skein_core::system::OffsetClock;
use tempfile::TempDir;

pub mod dump;
pub mod fault_batch;
pub mod faults;
pub mod inbox;
pub mod large_values;
pub mod upstream;

pub const SECRET: &str = "e2e-secret-e2e-secret-e2e-secret-0123";

pub struct TestApp {
    pub url: String,
    pub http: reqwest::Client,
    /// An admin token of the seeded `default` tenant.
    pub admin: String,
    pub seeded_admin: skein_core::access::ClientSecret,
    server: Option<DevServer>,
    pub dir: TempDir,
    /// The platform's clock: `advance` it to pass a timeout without waiting for it.
    pub clock: Arc<OffsetClock>,
    args: DevArgs,
}

pub struct TestAgent {
    pub id: String,
    pub secret: String,
    pub token: String,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(configure: impl FnOnce(&mut DevArgs)) -> Self {
        Self::spawn_wired(configure, |_| {}).await
    }

    /// A server whose wiring `wire` changes (fault injection), on a fresh data dir.
    pub async fn spawn_wired(
        configure: impl FnOnce(&mut DevArgs),
        wire: impl FnOnce(&mut Wiring),
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut args = DevArgs::for_data_dir(dir.path());
        args.local.jwt_secret = Some(SECRET.into());
        args.sweep_interval_ms = 50;
        configure(&mut args);
        let clock = Arc::new(OffsetClock::default());
        let mut wiring = Wiring {
            clock: clock.clone(),
            ..Wiring::default()
        };
        wire(&mut wiring);
        let server = DevServer::start_with(&args, wiring)
            .await
            .expect("dev server starts");
        let seeded_admin = server
            .seeded_admin
            .clone()
            .expect("a fresh data dir seeds an admin");
        let url = server.url();
        let http = reqwest::Client::new();
        let mut app = Self {
            url,
            http,
            admin: String::new(),
            seeded_admin,
            server: Some(server),
            dir,
            clock,
            args,
        };
        let creds = app.seeded_admin.clone();
        let (status, body) = app
            .call(
                Method::POST,
                "/v1/auth/token",
                None,
                Some(json!({"client_id": creds.client_id, "client_secret": creds.client_secret})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "admin token: {body}");
        app.admin = body["access_token"].as_str().unwrap().to_string();
        app
    }

    /// The running dev server (its queues, its platform).
    pub fn server(&self) -> &DevServer {
        self.server.as_ref().expect("the server runs until stop")
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }

    /// Stops the server as a process that dies would (in-flight work is cut off where it
    /// is) and starts a new one on the same data dir, wired plainly, on a new port.
    pub async fn restart(&mut self) {
        self.restart_after(|_| async {}).await;
    }

    /// As [`restart`](Self::restart), with `while_down` run on the data dir between the
    /// stop and the start (what the stopped process left behind).
    pub async fn restart_after<F, Fut>(&mut self, while_down: F)
    where
        F: FnOnce(std::path::PathBuf) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
        while_down(self.dir.path().to_path_buf()).await;
        let wiring = Wiring {
            clock: self.clock.clone(),
            ..Wiring::default()
        };
        let mut args = self.args.clone();
        args.addr = "127.0.0.1:0".parse().unwrap();
        let server = DevServer::start_with(&args, wiring)
            .await
            .expect("dev server starts again");
        self.url = server.url();
        self.server = Some(server);
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{}", self.url, path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request reaches the server");
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, token: &str, path: &str) -> StatusCode {
        self.call(Method::DELETE, path, Some(token), None).await.0
    }

    /// Exchanges client credentials at the token endpoint.
    pub async fn exchange(&self, client_id: &str, client_secret: &str) -> (StatusCode, Value) {
        let body = json!({"client_id": client_id, "client_secret": client_secret});
        self.call(Method::POST, "/v1/auth/token", None, Some(body))
            .await
    }

    pub async fn register_agent(&self, name: &str, capabilities: &[&str]) -> TestAgent {
        let (status, body) = self
            .post(
                &self.admin,
                "/v1/agents",
                json!({"name": name, "capabilities": capabilities}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "register {name}: {body}");
        let id = body["agent"]["id"].as_str().unwrap().to_string();
        let secret = body["credentials"]["client_secret"]
            .as_str()
            .unwrap()
            .to_string();
        let (status, token) = self.exchange(&id, &secret).await;
        assert_eq!(status, StatusCode::OK, "agent token: {token}");
        TestAgent {
            id,
            secret,
            token: token["access_token"].as_str().unwrap().to_string(),
        }
    }

    pub async fn create_task(&self, body: Value) -> Value {
        let (status, task) = self.post(&self.admin, "/v1/tasks", body).await;
        assert_eq!(status, StatusCode::CREATED, "create task: {task}");
        task
    }

    pub async fn claim(&self, agent: &TestAgent, wait: u64) -> (StatusCode, Value) {
        self.post(
            &agent.token,
            &format!("/v1/agents/{}/tasks/claim?wait={wait}", agent.id),
            json!({}),
        )
        .await
    }

    /// Polls the task until `done` holds, failing after 10 s.
    pub async fn task_until(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, task) = self.get(&self.admin, &format!("/v1/tasks/{id}")).await;
            if done(&task) {
                return task;
            }
            assert!(
                Instant::now() < deadline,
                "task never became {what}: {task}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Registers a workflow from YAML text, as `skein workflows apply` does.
    pub async fn apply(&self, yaml: &str) -> (StatusCode, Value) {
        self.apply_as(&self.admin, yaml).await
    }

    /// Registers a workflow from YAML text with another caller's token.
    pub async fn apply_as(&self, token: &str, yaml: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}/v1/workflows", self.url))
            .bearer_auth(token)
            .header("content-type", "application/yaml")
            .body(yaml.to_string())
            .send()
            .await
            .expect("request reaches the server");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn apply_ok(&self, yaml: &str) -> Value {
        let (status, body) = self.apply(yaml).await;
        assert!(status.is_success(), "apply: {status} {body}");
        body
    }

    /// Starts a run and returns its id.
    pub async fn start_run(&self, workflow: &str, input: Value) -> String {
        let (status, run) = self
            .post(
                &self.admin,
                &format!("/v1/workflows/{workflow}/runs"),
                json!({"input": input}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "start {workflow}: {run}");
        run["id"].as_str().unwrap().to_string()
    }

    /// Polls the run view until `done` holds, failing after 30 s.
    pub async fn run_until(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, run) = self.get(&self.admin, &format!("/v1/runs/{id}")).await;
            assert_eq!(status, StatusCode::OK, "{run}");
            if done(&run) {
                return run;
            }
            assert!(
                Instant::now() < deadline,
                "run never became {what}: {run:#}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for the run to end, whichever way.
    pub async fn finished_run(&self, id: &str) -> Value {
        self.run_until(id, "finished", |r| r["status"] != "running")
            .await
    }

    /// Counts every item of a listing by following cursors.
    pub async fn count_all(&self, token: &str, path: &str) -> usize {
        let mut count = 0;
        let mut cursor: Option<String> = None;
        loop {
            let sep = if path.contains('?') { '&' } else { '?' };
            let url = match &cursor {
                Some(c) => format!("{path}{sep}cursor={c}"),
                None => path.to_string(),
            };
            let (status, page) = self.get(token, &url).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            count += page["items"].as_array().unwrap().len();
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return count,
            }
        }
    }
}

/// Signs arbitrary claims, for tokens the server must refuse.
pub fn forge(claims: &Value, algorithm: Algorithm, key: &EncodingKey) -> String {
    jsonwebtoken::encode(&Header::new(algorithm), claims, key).unwrap()
}

pub fn claims(tenant: &str, sub: &str, roles: &[&str], audience: &str, expires_in: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": "skein", "aud": audience, "sub": sub, "tenant": tenant, "roles": roles,
        "iat": now, "nbf": now, "exp": now + expires_in, "jti": "forged",
    })
}

/// The body of a problem+json response must name the problem and leak nothing.
pub fn assert_problem(body: &Value, status: StatusCode, kind: &str) {
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert_eq!(body["type"], format!("urn:skein:problem:{kind}"), "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
}

/// One step of a run view.
pub fn step<'a>(run: &'a Value, id: &str) -> &'a Value {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id} in {run}"))
}

pub fn time_of(value: &Value) -> chrono::DateTime<chrono::Utc> {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"))
        .parse()
        .unwrap()
}
