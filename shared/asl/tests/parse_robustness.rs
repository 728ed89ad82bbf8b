//! The fuzz target's property on stable, in every test run: truncated and corrupted versions
//! of every known definition parse to a machine or to problems, never to a panic.

use std::path::PathBuf;

use skein_asl::StateMachine;

fn known_definitions() -> Vec<String> {
    let root = PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("tests");
    let mut definitions = Vec::new();
    for dir in ["conformance", "validation"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            let file: serde_json::Value = serde_json::from_str(&text).unwrap();
            for case in file["cases"].as_array().unwrap() {
                if let Some(definition) = case.get("definition") {
                    definitions.push(definition.to_string());
                }
            }
        }
    }
    definitions
}

#[test]
fn corrupted_definitions_never_panic_the_parser() {
    let definitions = known_definitions();
    assert!(definitions.len() > 200);
    let mut parsed = 0;
    for text in &definitions {
        let bytes = text.as_bytes();
        let step = (bytes.len() / 24).max(1);
        for cut in (0..bytes.len()).step_by(step) {
            let _ = StateMachine::parse(&String::from_utf8_lossy(&bytes[..cut]));
            for replacement in [b'"', b'{', b']', b'$', b'0', b'.'] {
                let mut corrupted = bytes.to_vec();
                corrupted[cut] = replacement;
                let _ = StateMachine::parse(&String::from_utf8_lossy(&corrupted));
                parsed += 1;
            }
        }
    }
    assert!(parsed > 10_000, "{parsed}");
}
