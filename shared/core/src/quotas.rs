//! Per-tenant quotas: how much one tenant's workflows may make the platform do at once,
//! so that no tenant's runs crowd out another's. Rate limits (`limits`) bound requests;
//! these bound the work the requests start.

use std::time::Duration;

/// The quotas every tenant gets; each is configured per deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    /// Runs of one tenant that may be running at once (sub-workflow runs included); a
    /// start past it answers 429. None: no limit. A soft limit: starts that race may pass
    /// it by the number racing, never by more.
    pub runs_in_flight: Option<u32>,
    /// Items one map step may fan out over; a longer list fails the step.
    pub map_items: u32,
    /// The shortest interval a workflow's schedule may fire at.
    pub schedule_interval: Duration,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            runs_in_flight: Some(1000),
            map_items: 10_000,
            schedule_interval: Duration::from_secs(60),
        }
    }
}

/// The variables that set them, for `skein dev` flags and the Lambdas alike.
pub const RUNS_IN_FLIGHT_VARIABLE: &str = "SKEIN_QUOTA_RUNS_IN_FLIGHT";
pub const MAP_ITEMS_VARIABLE: &str = "SKEIN_QUOTA_MAP_ITEMS";
pub const SCHEDULE_INTERVAL_VARIABLE: &str = "SKEIN_QUOTA_SCHEDULE_INTERVAL";
