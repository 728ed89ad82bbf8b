//! The published JSON Schema agrees with the parser: it accepts every example and fixture
//! workflow, and refuses shapes the parser refuses.

use serde_json::{Value, json};
use skein_core::workflows::{WORKFLOW_SCHEMA, parse_definition};

fn yaml_files() -> Vec<std::path::PathBuf> {
    let root = std::path::PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    );
    let root = root.as_path();
    ["../../examples", "tests/workflows/valid"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(root.join(dir)).unwrap())
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect()
}

#[test]
fn the_schema_accepts_every_example_and_fixture_the_parser_accepts() {
    let schema: Value = serde_json::from_str(WORKFLOW_SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema itself is valid");
    let files = yaml_files();
    assert!(files.len() >= 5);
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let definition =
            parse_definition(&text).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        let as_json = serde_json::to_value(&definition).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&as_json)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    }
}

#[test]
fn the_schema_refuses_what_the_parser_refuses() {
    let schema: Value = serde_json::from_str(WORKFLOW_SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for bad in [
        json!({"name": "w", "steps": [{"id": "a", "builtin": "echo", "retries": 3}]}),
        json!({"name": "w", "steps": [{"id": "a", "builtin": "echo", "timeout": "soon"}]}),
        json!({"name": "w", "mode": "fast", "steps": [{"id": "a", "builtin": "echo"}]}),
        json!({"name": "w"}),
    ] {
        assert!(!validator.is_valid(&bad), "the schema accepts {bad}");
        assert!(
            parse_definition(&bad.to_string()).is_err(),
            "the parser accepts {bad}"
        );
    }
}
