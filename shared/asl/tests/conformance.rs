//! Every case under tests/conformance/*.json: a definition, an input, scripted tasks and the
//! expected outcome, each with the source of its expected value.

mod support;

#[test]
fn conformance_cases_match_step_functions() {
    let dir = support::package_dir().join("tests/conformance");
    let files = support::load(&dir);
    assert!(
        !files.is_empty(),
        "no conformance files in {}",
        dir.display()
    );
    let (mut count, mut failures) = (0, Vec::new());
    for (file, cases) in &files {
        assert!(
            !cases.source.trim().is_empty(),
            "{file}: every file names the source of its expected values"
        );
        for case in &cases.cases {
            count += 1;
            match support::run_case(case) {
                Ok(ran) => {
                    for problem in support::check(case, &ran) {
                        failures.push(format!("{file} / {}: {problem}", case.name));
                    }
                }
                Err(e) => failures.push(format!("{file} / {}: could not run: {e}", case.name)),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} conformance cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{count} conformance cases passed");
}
