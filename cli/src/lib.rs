//! The `skein` command's library half: the dev server (also started in-process by the
//! end-to-end tests and by `skein bench`), its typed configuration, the API client and
//! its Server-Sent Events reader.

pub mod asl;
pub mod aws_local;
pub mod bench;
pub mod client;
pub mod config;
pub mod dev;
pub mod sse;
