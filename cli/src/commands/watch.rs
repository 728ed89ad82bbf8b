//! `skein run --watch`: a live view of a run from its event stream: one progress bar for
//! the steps (queued / running / done / failed, elapsed) and a line per thing that happened.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use skein_cli::client::{ApiClient, CliError};

struct View {
    bar: ProgressBar,
    run: String,
}

impl View {
    fn new(run: &str, steps: u64) -> View {
        let bar = ProgressBar::new(steps);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{bar:28.cyan/blue}] {pos}/{len} steps  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        View {
            bar,
            run: run.to_string(),
        }
    }

    fn line(&self, text: String) {
        if self.bar.is_hidden() {
            eprintln!("{text}");
        } else {
            self.bar.println(text);
        }
    }

    /// Counts from the run view: done steps advance the bar; the message says what runs.
    fn refresh(&self, run: &Value) {
        let steps = run["steps"].as_array().cloned().unwrap_or_default();
        let with = |status: &str| -> Vec<String> {
            steps
                .iter()
                .filter(|s| s["status"] == status)
                .map(|s| s["id"].as_str().unwrap_or("?").to_string())
                .collect()
        };
        let done = steps
            .iter()
            .filter(|s| {
                matches!(
                    s["status"].as_str(),
                    Some("succeeded" | "failed" | "cancelled")
                )
            })
            .count();
        self.bar.set_position(done as u64);
        let mut parts = Vec::new();
        let running = with("running");
        if !running.is_empty() {
            parts.push(format!("running: {}", running.join(", ")));
        }
        let approval = with("awaiting_approval");
        if !approval.is_empty() {
            parts.push(format!("awaiting approval: {}", approval.join(", ")));
        }
        let queued = with("waiting").len();
        if queued > 0 {
            parts.push(format!("{queued} queued"));
        }
        let failed = with("failed").len();
        if failed > 0 {
            parts.push(format!("{failed} failed"));
        }
        self.bar.set_message(parts.join(" · "));
    }

    fn event(&self, event: &Value) {
        let step = event["step"].as_str().unwrap_or("");
        let data = &event["data"];
        let text = match event["type"].as_str().unwrap_or("") {
            "step.succeeded" => format!("  ✔ {step}"),
            "step.failed" => format!(
                "  ✖ {step}: {} {}",
                data["error"].as_str().unwrap_or(""),
                data["cause"].as_str().unwrap_or("")
            ),
            "step.retrying" => format!(
                "  ↻ {step}: attempt {} failed ({}); retrying",
                data["attempt"],
                data["error"].as_str().unwrap_or("")
            ),
            "approval.requested" => {
                let message = data["message"]
                    .as_str()
                    .map(|m| format!(" \"{m}\""))
                    .unwrap_or_default();
                format!(
                    "  ⏸ {step} awaits approval{message}\n      skein approve {} {step}   (or --reject)",
                    self.run
                )
            }
            "approval.decided" => format!(
                "  ✔ {step} {} by {}",
                if data["approved"] == true {
                    "approved"
                } else {
                    "rejected"
                },
                data["by"].as_str().unwrap_or("?")
            ),
            "approval.timed_out" => format!("  ✖ {step}: nobody decided in time"),
            // A streaming step's answer as it is written, a piece at a time.
            "step.delta" => format!(
                "  ✎ {step}: {}",
                data["text"]
                    .as_str()
                    .unwrap_or("")
                    .replace('\n', "\n      ")
            ),
            _ => return,
        };
        self.line(text);
    }
}

/// Follows the run until it ends and returns its final view.
pub async fn watch(client: &ApiClient, run: &str) -> Result<Value, CliError> {
    let mut view_now = client.get(&format!("/v1/runs/{run}")).await?;
    let steps = view_now["steps"].as_array().map_or(0, Vec::len) as u64;
    let view = View::new(run, steps);
    view.line(format!(
        "run {run} of {} v{}",
        view_now["workflow"].as_str().unwrap_or("?"),
        view_now["version"]
    ));
    view.refresh(&view_now);
    let mut response = client.stream(&format!("/v1/runs/{run}/events")).await?;
    let mut frames = skein_cli::sse::FrameReader::default();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| CliError::Other(format!("the event stream broke: {e}")))?
    {
        frames.push(&chunk);
        while let Some(frame) = frames.next_frame() {
            let Ok(event) = serde_json::from_str::<Value>(&frame.data) else {
                continue;
            };
            view.event(&event);
            if event["type"] == "step.delta" {
                continue; // the steps' statuses have not changed
            }
            view_now = client.get(&format!("/v1/runs/{run}")).await?;
            view.refresh(&view_now);
        }
    }
    view_now = client.get(&format!("/v1/runs/{run}")).await?;
    view.refresh(&view_now);
    view.bar.finish_and_clear();
    Ok(view_now)
}
