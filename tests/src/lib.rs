//! End-to-end tests live in tests/. The library holds what a test and a tool share: the
//! reading of the deployment templates (`deploy`), which the consistency test checks and
//! the `iam-policies` tool renders for parliament.

pub mod deploy;
