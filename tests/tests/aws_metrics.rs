//! The Lambda handlers' metrics as CloudWatch Embedded Metric Format lines: a workflow run
//! through the API and step-worker handlers on moto, every line checked against the EMF
//! specification, and the numbers the platform's own series should hold.
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

mod aws;

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use aws::Cloud;
use serde_json::{Value, json};

const DIAMOND: &str = "
name: diamond
steps:
  - { id: a, builtin: echo, input: { n: '{{ input.n }}' } }
  - { id: b, builtin: transform, with: { program: '.n * 2' }, input: '{{ steps.a.output }}' }
  - { id: c, builtin: transform, with: { program: '.n + 1' }, input: '{{ steps.a.output }}' }
  - { id: d, builtin: echo, input: { doubled: '{{ steps.b.output }}', next: '{{ steps.c.output }}' } }
";

/// What the handlers write, kept for the test to read.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The units CloudWatch accepts.
const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Checks one line against the EMF specification; returns its data points as
/// (metric name, dimensions, sum of its values).
fn emf_points(line: &str) -> Vec<(String, HashMap<String, String>, f64)> {
    let doc: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let root = doc.as_object().expect("an EMF document is an object");
    let aws = root["_aws"].as_object().expect("_aws is an object");
    assert!(aws["Timestamp"].as_u64().is_some(), "Timestamp: {line}");
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .expect("CloudWatchMetrics");
    assert!(!directives.is_empty(), "{line}");
    let mut points = Vec::new();
    for directive in directives {
        let namespace = directive["Namespace"].as_str().expect("Namespace");
        assert_eq!(namespace, "Skein/skein-test");
        let dimension_sets = directive["Dimensions"].as_array().expect("Dimensions");
        let mut dimensions = HashMap::new();
        for set in dimension_sets {
            let names = set.as_array().expect("a dimension set is an array");
            assert!(names.len() <= 30, "{line}");
            for name in names {
                let name = name.as_str().expect("a dimension name is a string");
                let value = root[name]
                    .as_str()
                    .unwrap_or_else(|| panic!("dimension {name} has no string value: {line}"));
                assert!(!value.is_empty() && value.len() <= 1024, "{line}");
                dimensions.insert(name.to_string(), value.to_string());
            }
        }
        let metrics = directive["Metrics"].as_array().expect("Metrics");
        assert!(!metrics.is_empty() && metrics.len() <= 100, "{line}");
        for metric in metrics {
            let name = metric["Name"].as_str().expect("Name");
            assert!(!name.is_empty() && name.len() <= 1024, "{line}");
            if let Some(unit) = metric.get("Unit") {
                assert!(
                    UNITS.contains(&unit.as_str().unwrap()),
                    "unit {unit}: {line}"
                );
            }
            let sum = match &root[name] {
                Value::Number(n) => n.as_f64().unwrap(),
                Value::Array(values) => {
                    assert!(values.len() <= 100, "{line}");
                    values.iter().map(|v| v.as_f64().expect("a number")).sum()
                }
                other => panic!("metric {name} has value {other}: {line}"),
            };
            points.push((name.to_string(), dimensions.clone(), sum));
        }
    }
    points
}

#[tokio::test]
async fn the_lambda_handlers_write_their_metrics_as_cloudwatch_emf_lines() {
    let lines = Lines::default();
    skein_lambda::metrics::install_with_sink("skein-test", Box::new(lines.clone()));
    let cloud = Cloud::new().await;
    cloud.apply(DIAMOND).await;
    let run = cloud.start("diamond", json!({"n": 20})).await;
    let ended = cloud.drive_to_end(&run).await;
    assert_eq!(ended["status"], "succeeded", "{ended:#}");
    skein_lambda::metrics::flush();

    let written = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    let points: Vec<_> = written
        .lines()
        .filter(|line| !line.trim().is_empty())
        .flat_map(emf_points)
        .collect();
    let total = |name: &str, dims: &[(&str, &str)]| -> f64 {
        points
            .iter()
            .filter(|(n, d, _)| {
                n == name
                    && dims
                        .iter()
                        .all(|(k, v)| d.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, _, sum)| sum)
            .sum()
    };
    assert_eq!(
        total("skein_runs_started_total", &[("workflow", "diamond")]),
        1.0
    );
    assert_eq!(
        total(
            "skein_runs_ended_total",
            &[("workflow", "diamond"), ("status", "succeeded")]
        ),
        1.0
    );
    // The alarm's series: outcome is the only dimension.
    assert_eq!(
        total("skein_step_attempts_total", &[("outcome", "succeeded")]),
        4.0
    );
    assert!(
        points
            .iter()
            .filter(|(n, _, _)| n == "skein_step_attempts_total")
            .all(|(_, d, _)| d.keys().eq(["outcome"].iter())),
        "step attempts carry exactly the alarm's dimension"
    );
    assert_eq!(
        total(
            "skein_http_requests_total",
            &[
                ("method", "POST"),
                ("route", "/v1/workflows/{id}/runs"),
                ("status", "201")
            ]
        ),
        1.0
    );
    assert!(
        total(
            "skein_http_request_duration_seconds",
            &[("method", "POST"), ("route", "/v1/workflows/{id}/runs")]
        ) > 0.0
    );
}
