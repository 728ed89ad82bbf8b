//! Parsing and validating arbitrary bytes must never panic: every input is either a
//! StateMachine or a list of problems. Run: `cargo +nightly fuzz run parse_validate`
//! (from shared/asl; seed the corpus with `../../scripts/asl-fuzz-corpus.sh`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        match skein_asl::StateMachine::parse(text) {
            Ok(machine) => assert!(machine.state_count() > 0),
            Err(invalid) => assert!(!invalid.problems.is_empty()),
        }
    }
});
