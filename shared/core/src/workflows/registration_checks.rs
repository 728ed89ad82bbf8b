//! What registering a version checks beyond the definition itself: that its sub-workflows
//! do not lead back to it, and that its schedule keeps to the deployment's quota.

use std::collections::BTreeSet;

use chrono::DateTime;

use super::definition::{Definition, Schedule};
use super::registry::Workflows;
use super::schedule::next_fire;
use crate::error::{Error, Result};
use crate::ids::TenantId;

impl Workflows {
    /// Refuses a definition whose sub-workflows lead back to it: one run would start
    /// runs without end. References are followed as a run would (the latest version, or
    /// the pinned one) through the stored definitions.
    pub(super) async fn refuse_sub_workflow_cycles(
        &self,
        tenant: &TenantId,
        definition: &Definition,
    ) -> Result<()> {
        const MAX_VISITS: usize = 256;
        for (i, step) in definition.steps.iter().enumerate() {
            let Some(first) = &step.workflow else {
                continue;
            };
            let mut pending = vec![(first.clone(), vec![definition.name.clone()])];
            let mut visited = BTreeSet::new();
            while let Some((sub, path)) = pending.pop() {
                if sub.name == definition.name && sub.version.is_none() {
                    let mut cycle = path;
                    cycle.push(sub.name.clone());
                    return Err(Error::invalid(
                        format!("$.steps[{i}].workflow.name"),
                        format!(
                            "step `{}`: sub-workflows would call each other without end: {}; remove one of the calls",
                            step.id,
                            cycle.join(" -> ")
                        ),
                    ));
                }
                if !visited.insert((sub.name.clone(), sub.version)) || visited.len() > MAX_VISITS {
                    continue;
                }
                let stored = match self.load_version(tenant, &sub.name, sub.version).await {
                    Ok(stored) => stored,
                    Err(Error::NotFound { .. }) => continue,
                    Err(e) => return Err(e),
                };
                let Ok(called) = serde_json::from_value::<Definition>(stored.definition) else {
                    continue;
                };
                let mut next_path = path.clone();
                next_path.push(sub.name.clone());
                for child in called.steps.into_iter().filter_map(|s| s.workflow) {
                    pending.push((child, next_path.clone()));
                }
            }
        }
        Ok(())
    }
}

/// Refuses a schedule that would fire more often than the deployment's quota allows.
pub(super) fn check_schedule_quota(schedule: &Schedule, least: std::time::Duration) -> Result<()> {
    let (path, gap) = match schedule.rate {
        Some(rate) => ("$.schedule.rate", rate.0),
        None => {
            // Cron fires on whole minutes; the shortest gap shows within its next fires.
            let start = DateTime::from_timestamp(946_684_800, 0).unwrap_or_default();
            let Some(mut at) = next_fire(schedule, start) else {
                return Ok(()); // validation refuses a cron that never fires
            };
            let mut gap = std::time::Duration::MAX;
            for _ in 0..16 {
                let Some(next) = next_fire(schedule, at) else {
                    break;
                };
                gap = gap.min((next - at).to_std().unwrap_or_default());
                at = next;
            }
            ("$.schedule.cron", gap)
        }
    };
    if gap < least {
        return Err(Error::invalid(
            path,
            format!(
                "this schedule would fire every {} s; this deployment's quota is at most once every {} s",
                gap.as_secs_f64(),
                least.as_secs_f64()
            ),
        ));
    }
    Ok(())
}
