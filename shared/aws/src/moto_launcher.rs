//! How to start moto so that it keeps DynamoDB's promise that a conditional write is
//! atomic (see `moto_launcher/serial_dynamodb.py`): the project venv's Python runs the
//! launcher, which is moto's own server with DynamoDB requests taken one at a time.
//! Both the tests' moto servers and `skein aws local` start moto this way.

use std::path::{Path, PathBuf};

/// The launcher's source, passed to Python with `-c`, so no file has to be found at run time.
pub const SERIAL_DYNAMODB: &str = include_str!("moto_launcher/serial_dynamodb.py");

/// The venv's Python, which has moto installed (`scripts/setup.sh`).
pub fn python(venv: &Path) -> PathBuf {
    venv.join("bin/python")
}

/// The arguments that make `python(venv)` serve moto on `host:port`.
pub fn args(host: &str, port: u16) -> Vec<String> {
    vec![
        "-c".into(),
        SERIAL_DYNAMODB.into(),
        "-H".into(),
        host.into(),
        "-p".into(),
        port.to_string(),
    ]
}
