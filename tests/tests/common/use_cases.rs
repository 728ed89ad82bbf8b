//! The platform `skein dev` assembles (SQLite, the local engine, the step-worker loop),
//! with the given layers, for tests that call its use cases below HTTP.

use skein_cli::config::DevArgs;
use skein_cli::dev::{LocalPlatform, Wiring};
use skein_core::Principal;
use skein_core::auth::Role;
use skein_core::ids::{ClientId, PrincipalId, TenantId};

/// The platform, an admin of its seeded tenant, and the data dir it lives in.
pub struct UseCases {
    pub local: LocalPlatform,
    pub admin: Principal,
    /// Where its database lives; removed when dropped.
    _dir: tempfile::TempDir,
}

/// Opens a fresh platform with `wiring`'s layers and starts its step-worker loop.
pub fn open(wiring: Wiring) -> UseCases {
    let dir = tempfile::tempdir().unwrap();
    let mut args = DevArgs::for_data_dir(dir.path());
    args.local.jwt_secret = Some("use-case-secret-use-case-secret-0123".into());
    let mut local = LocalPlatform::open_with(&args.local, wiring).unwrap();
    tokio::spawn(skein_local::run_step_worker(
        local.platform.clone(),
        local.workflow_engine.clone(),
        local.step_inbox.take().unwrap(),
    ));
    let admin = Principal {
        tenant: TenantId::parse("default").unwrap(),
        id: PrincipalId::client(&ClientId::from_ulid(ulid::Ulid::new())),
        roles: vec![Role::Admin],
    };
    UseCases {
        local,
        admin,
        _dir: dir,
    }
}
