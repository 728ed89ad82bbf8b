//! The usage ledger and budgets end to end, against the real dev server and a local
//! server speaking OpenAI's chat completions: every call recorded with its tokens and
//! cost, a run's and a tenant's budgets held before each call (also when steps run at
//! once), and usage that remote agents report.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use common::{TestApp, step};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Answers every completion after `delay` with 300 input and 100 output tokens.
struct FakeOpenAi {
    url: String,
    calls: Arc<AtomicU32>,
}

impl FakeOpenAi {
    async fn start(delay: Duration) -> FakeOpenAi {
        let calls = Arc::new(AtomicU32::new(0));
        let app = axum::Router::new()
            .route(
                "/v1/chat/completions",
                post(
                    move |State(calls): State<Arc<AtomicU32>>, Json(body): Json<Value>| async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(delay).await;
                        Json(json!({
                            "id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
                            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
                            "usage": {"prompt_tokens": 300, "completion_tokens": 100, "total_tokens": 400,
                                      "prompt_tokens_details": {"cached_tokens": 100}}
                        }))
                    },
                ),
            )
            .with_state(calls.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeOpenAi { url, calls }
    }

    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

async fn app_with_llm(llm: &FakeOpenAi) -> TestApp {
    let url = llm.url.clone();
    TestApp::spawn_with(move |args| {
        args.local.llm_base_url = Some(url);
        args.local.llm_model = "gpt-4o-mini".into();
    })
    .await
}

/// An `llm` step that may use at most 400 output tokens; its prompt is a few tokens.
fn llm_step(id: &str, depends_on: Option<&str>) -> String {
    let after = depends_on.map_or(String::new(), |d| format!("    depends_on: [{d}]\n"));
    format!(
        "  - id: {id}\n    builtin: llm\n    with: {{ prompt: 'Say ok', max_tokens: 400 }}\n    on_failure: continue\n{after}"
    )
}

async fn run_usage(app: &TestApp, run: &str) -> Value {
    let (status, usage) = app.get(&app.admin, &format!("/v1/runs/{run}/usage")).await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    usage
}

fn budget_failures(run: &Value, steps: &[&str]) -> Vec<String> {
    steps
        .iter()
        .filter(|id| step(run, id)["error"]["error"] == "Skein.BudgetExceeded")
        .map(|id| id.to_string())
        .collect()
}

#[tokio::test]
async fn a_run_budget_of_1000_tokens_stops_the_third_of_three_400_token_calls() {
    let llm = FakeOpenAi::start(Duration::ZERO).await;
    let app = app_with_llm(&llm).await;
    let yaml = format!(
        "name: chain\nbudget: {{ tokens: 1000 }}\nsteps:\n{}{}{}",
        llm_step("a", None),
        llm_step("b", Some("a")),
        llm_step("c", Some("b"))
    );
    app.apply_ok(&yaml).await;
    let id = app.start_run("chain", json!({})).await;
    let run = app.finished_run(&id).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(step(&run, "a")["status"], "succeeded", "{run:#}");
    assert_eq!(step(&run, "b")["status"], "succeeded", "{run:#}");
    let c = step(&run, "c");
    assert_eq!(c["error"]["error"], "Skein.BudgetExceeded", "{run:#}");
    let cause = c["error"]["cause"].as_str().unwrap();
    assert!(
        cause.contains("1000 tokens") && cause.contains("800 tokens committed"),
        "the cause names the budget and what is spent: {cause}"
    );
    assert_eq!(
        llm.calls(),
        2,
        "the refused call never reached the provider"
    );

    let usage = run_usage(&app, &id).await;
    assert_eq!(usage["budget"], json!({"tokens": 1000}));
    assert_eq!(usage["totals"]["calls"], 2);
    assert_eq!(usage["totals"]["input_tokens"], 600);
    assert_eq!(usage["totals"]["output_tokens"], 200);
    assert_eq!(usage["totals"]["cached_tokens"], 200);
    // gpt-4o-mini: 200 x 0.15 + 100 x 0.075 + 100 x 0.60 = 97.5 -> 98 micro-dollars a call.
    assert_eq!(usage["totals"]["cost_usd"], 0.000196, "{usage:#}");
    let call = &usage["calls"][0];
    assert_eq!(call["provider"], "openai");
    assert_eq!(call["model"], "gpt-4o-mini");
    assert_eq!(call["source"], "builtin");
    assert_eq!(call["agent"], "llm");
    assert_eq!(call["workflow"], "chain");
    assert_eq!(call["step"], "a");
    assert!(call["latency_ms"].is_u64(), "{call}");
}

#[tokio::test]
async fn parallel_steps_cannot_both_spend_the_last_of_a_budget() {
    // Slow answers, so that the three calls are in flight together.
    let llm = FakeOpenAi::start(Duration::from_millis(300)).await;
    let app = app_with_llm(&llm).await;
    let yaml = format!(
        "name: fan\nbudget: {{ tokens: 1000 }}\nsteps:\n{}{}{}",
        llm_step("a", None),
        llm_step("b", None),
        llm_step("c", None)
    );
    app.apply_ok(&yaml).await;
    for round in 0..3 {
        let id = app.start_run("fan", json!({})).await;
        let run = app.finished_run(&id).await;
        let refused = budget_failures(&run, &["a", "b", "c"]);
        assert_eq!(
            refused.len(),
            1,
            "round {round}: exactly one refused: {run:#}"
        );
        let usage = run_usage(&app, &id).await;
        assert_eq!(usage["totals"]["calls"], 2, "{usage:#}");
    }
    assert_eq!(llm.calls(), 6);
}

#[tokio::test]
async fn a_tenant_monthly_budget_holds_across_runs_and_only_admins_set_it() {
    let llm = FakeOpenAi::start(Duration::ZERO).await;
    let app = app_with_llm(&llm).await;
    let (status, problem) = app
        .call(
            Method::PUT,
            "/v1/usage/budget",
            Some(&app.admin),
            Some(json!({"monthly": {"usd": -1}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem.to_string().contains("$.monthly.usd"), "{problem}");
    let (status, client) = app
        .post(
            &app.admin,
            "/v1/clients",
            json!({"roles": ["operator"], "description": "reads usage"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{client}");
    let (_, token) = app
        .exchange(
            client["client_id"].as_str().unwrap(),
            client["client_secret"].as_str().unwrap(),
        )
        .await;
    let operator = token["access_token"].as_str().unwrap().to_string();
    let (status, _) = app
        .call(
            Method::PUT,
            "/v1/usage/budget",
            Some(&operator),
            Some(json!({"monthly": {"tokens": 10}})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // $0.0003 a month: one call (98 micro-dollars, held as up to 0.000255) fits, the
    // second's hold would pass it.
    let (status, set) = app
        .call(
            Method::PUT,
            "/v1/usage/budget",
            Some(&app.admin),
            Some(json!({"monthly": {"usd": 0.0003}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(set["monthly"], json!({"usd": 0.0003}));

    app.apply_ok(&format!("name: one\nsteps:\n{}", llm_step("ask", None)))
        .await;
    let first = app
        .finished_run(&app.start_run("one", json!({})).await)
        .await;
    assert_eq!(step(&first, "ask")["status"], "succeeded", "{first:#}");
    let second = app
        .finished_run(&app.start_run("one", json!({})).await)
        .await;
    let error = &step(&second, "ask")["error"];
    assert_eq!(error["error"], "Skein.BudgetExceeded", "{second:#}");
    assert!(
        error["cause"].as_str().unwrap().contains("monthly budget"),
        "{error}"
    );
    assert_eq!(llm.calls(), 1);

    let (status, status_now) = app.get(&operator, "/v1/usage/budget").await;
    assert_eq!(status, StatusCode::OK, "{status_now}");
    assert_eq!(status_now["committed_tokens"], 400, "{status_now}");
    assert_eq!(status_now["committed_usd"], 0.000098, "{status_now}");

    // Removing the budget lets the next run through.
    let (status, _) = app
        .call(
            Method::PUT,
            "/v1/usage/budget",
            Some(&app.admin),
            Some(json!({"monthly": null})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let third = app
        .finished_run(&app.start_run("one", json!({})).await)
        .await;
    assert_eq!(step(&third, "ask")["status"], "succeeded", "{third:#}");
}

#[tokio::test]
async fn usage_an_agent_reports_is_recorded_and_counts_against_the_run_budget() {
    let app = TestApp::spawn().await;
    let writer = app.register_agent("writer", &["write"]).await;
    app.apply_ok(
        "
name: drafts
budget: { tokens: 1000, usd: 1 }
steps:
  - id: draft
    agent: writer
  - id: redraft
    agent: writer
    depends_on: [draft]
",
    )
    .await;
    let id = app.start_run("drafts", json!({})).await;

    // A report that cannot be true is refused, and the task stays claimed.
    let (status, task) = app.claim(&writer, 5).await;
    assert_eq!(status, StatusCode::OK, "{task}");
    let task_id = task["id"].as_str().unwrap().to_string();
    let complete = format!("/v1/tasks/{task_id}/complete");
    let bad = json!({"result": "x", "usage": {"model": "m", "input_tokens": 5, "output_tokens": 1, "cached_tokens": 9}});
    let (status, problem) = app.post(&writer.token, &complete, bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        problem.to_string().contains("$.usage.cached_tokens"),
        "{problem}"
    );

    let usage = json!({"provider": "anthropic", "model": "claude-sonnet-4-20250514", "input_tokens": 500, "output_tokens": 100});
    let (status, done) = app
        .post(
            &writer.token,
            &complete,
            json!({"result": "first draft", "usage": usage}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["usage"]["model"], "claude-sonnet-4-20250514");

    // The second report passes the 1,000 tokens: the step fails by the budget.
    let (status, task) = app.claim(&writer, 5).await;
    assert_eq!(status, StatusCode::OK, "{task}");
    let second = format!("/v1/tasks/{}/complete", task["id"].as_str().unwrap());
    let usage = json!({"model": "my-own-model", "input_tokens": 400, "output_tokens": 50, "cost_usd": 0.01});
    let (status, _) = app
        .post(
            &writer.token,
            &second,
            json!({"result": "second", "usage": usage}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let run = app.finished_run(&id).await;
    assert_eq!(run["status"], "failed", "{run:#}");
    assert_eq!(
        step(&run, "redraft")["error"]["error"],
        "Skein.BudgetExceeded",
        "{run:#}"
    );

    let usage = run_usage(&app, &id).await;
    assert_eq!(usage["totals"]["calls"], 2, "{usage:#}");
    assert_eq!(usage["totals"]["input_tokens"], 900);
    // Sonnet 4 at $3 / $15 per million: 500 x 3 + 100 x 15 = 3,000 micro-dollars; the
    // agent priced its own call at $0.01.
    assert_eq!(usage["totals"]["cost_usd"], 0.013, "{usage:#}");
    let first = &usage["calls"][0];
    assert_eq!(first["source"], "agent");
    assert_eq!(first["agent"], writer.id.as_str());
    assert_eq!(first["task"], task_id.as_str());
    assert_eq!(usage["calls"][1]["provider"], "unknown");

    // Told again (the sweep re-reports a task whose report was lost): recorded once.
    let (status, _) = app
        .post(&writer.token, &complete, json!({"result": "first draft", "usage": {"provider": "anthropic", "model": "claude-sonnet-4-20250514", "input_tokens": 500, "output_tokens": 100}}))
        .await;
    assert!(
        status.is_success() || status == StatusCode::CONFLICT,
        "{status}"
    );
    assert_eq!(run_usage(&app, &id).await["totals"]["calls"], 2);
}

#[tokio::test]
async fn the_tenant_report_groups_by_workflow_agent_and_model() {
    let llm = FakeOpenAi::start(Duration::ZERO).await;
    let app = app_with_llm(&llm).await;
    app.apply_ok(&format!(
        "name: two\nsteps:\n{}{}",
        llm_step("a", None),
        "  - id: b\n    builtin: llm\n    with: { prompt: 'Again', model: gpt-4o }\n"
    ))
    .await;
    let id = app.start_run("two", json!({})).await;
    app.finished_run(&id).await;
    let (status, task) = app
        .post(
            &app.admin,
            "/v1/tasks",
            json!({"capability": "solo", "input": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    let solo = app.register_agent("solo", &["solo"]).await;
    let (_, claimed) = app.claim(&solo, 5).await;
    let (status, _) = app
        .post(
            &solo.token,
            &format!("/v1/tasks/{}/complete", claimed["id"].as_str().unwrap()),
            json!({"result": 1, "usage": {"model": "gpt-4o-mini", "input_tokens": 1000, "output_tokens": 0}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, by_model) = app.get(&app.admin, "/v1/usage?group_by=model").await;
    assert_eq!(status, StatusCode::OK, "{by_model}");
    assert_eq!(by_model["totals"]["calls"], 3, "{by_model:#}");
    let keys: Vec<&str> = by_model["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    // Most expensive first: gpt-4o's call costs more than two gpt-4o-mini calls.
    assert_eq!(keys, ["gpt-4o", "gpt-4o-mini"], "{by_model:#}");
    assert_eq!(by_model["groups"][1]["calls"], 2);

    let (_, by_workflow) = app.get(&app.admin, "/v1/usage?group_by=workflow").await;
    let workflows: Vec<(&str, u64)> = by_workflow["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"].as_str().unwrap(), g["calls"].as_u64().unwrap()))
        .collect();
    assert_eq!(workflows, [("two", 2), ("-", 1)], "{by_workflow:#}");

    let (_, by_agent) = app.get(&app.admin, "/v1/usage?group_by=agent").await;
    assert_eq!(
        by_agent["groups"].as_array().unwrap().len(),
        2,
        "{by_agent:#}"
    );

    let (status, problem) = app
        .get(&app.admin, "/v1/usage?from=2026-02-01&to=2026-01-01")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let (status, _) = app.get(&app.admin, "/v1/usage?group_by=color").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, empty) = app
        .get(&app.admin, "/v1/usage?from=2020-01-01&to=2020-01-31")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(empty["totals"]["calls"], 0);
}

#[tokio::test]
async fn a_bad_budget_is_refused_at_registration_with_its_path() {
    let app = TestApp::spawn().await;
    let (status, problem) = app
        .apply("name: broke\nbudget: { usd: 0 }\nsteps:\n  - id: a\n    builtin: echo\n")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem.to_string().contains("$.budget.usd"), "{problem}");
    let (status, problem) = app
        .apply("name: broke\nbudget: {}\nsteps:\n  - id: a\n    builtin: echo\n")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem.to_string().contains("$.budget"), "{problem}");
}
