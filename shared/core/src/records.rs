//! The single-table layout: how each record maps to keys and indexes. Keeping every key
//! format here makes the table's access patterns readable in one place.
//!
//! | record       | pk                         | sk | gsi1 (claim queue)        | gsi2 (timers)        | gsi3 (listing)        |
//! |--------------|----------------------------|----|---------------------------|----------------------|-----------------------|
//! | tenant       | `TENANT#{t}`               | `#`|                           |                      |                       |
//! | credential   | `CRED#{client}`            | `#`|                           |                      | `T#{t}#CLIENTS` / id (not agents) |
//! | quota        | `T#{t}#QUOTA`              | `#`|                           |                      |                       |
//! | agent gone   | `T#{t}#AGENTGONE#{id}`     | `#`|                           | `TIMER#{n}` / now#pk |                       |
//! | revocation   | `T#{t}#REVOKE#{principal}` | `#`|                           |                      |                       |
//! | agent        | `T#{t}#AGENT#{id}`         | `#`|                           |                      | `T#{t}#AGENTS` / id   |
//! | agent name   | `T#{t}#AGENTNAME#{name}`   | `#`|                           |                      |                       |
//! | task         | `T#{t}#TASK#{id}`          | `#`| `Q#{t}#{target}` / due#id | `TIMER#{n}` / due#pk | `T#{t}#TASKS` / id    |
//! | idempotency  | `T#{t}#IDEM#{who}#{key}`   | `#`|                           |                      |                       |
//! | failed logins| `AUTHFAIL#{client}@{source}#{window}`, `AUTHFAIL#@{source}#{window}` | `#`| |          |                       |
//! | workflow     | `T#{t}#WF#{name}`          | `#`|                           |                      | `T#{t}#WORKFLOWS` / name |
//! | wf version   | `T#{t}#WF#{name}`          | `V#{000001}` |                 |                      |                       |
//! | wf schedule  | `T#{t}#WF#{name}`          | `SCHEDULE` |                   | `SCHEDULES` / next#t#name |                  |
//! | run          | `T#{t}#RUN#{id}`           | `#`|                           |                      | `T#{t}#RUNS` / id     |
//! | run step     | `T#{t}#RUN#{id}`           | `S#{step}` |                   |                      |                       |
//! | map item     | `T#{t}#RUN#{id}`           | `S#{step}#I#{000042}` |        |                      |                       |
//! | run event    | `T#{t}#RUN#{id}`           | `E#{ulid}` |                   |                      |                       |
//! | approval     | `T#{t}#RUN#{id}`           | `A#{step}` | `APPROVALS#{t}` / at#run#step | `APPROVALS-DUE` / due#pk#step |   |
//! | step delta   | `T#{t}#RUN#{id}`           | `D#{ulid}` (TTL 10 min) |      |                      |                       |
//! | run usage    | `T#{t}#RUN#{id}`           | `USAGE` (committed tokens, micro-USD) |  |              |                       |
//! | usage call   | `T#{t}#RUN#{id}`           | `U#{ulid or task id}` |        |                      |                       |
//! | task usage   | `T#{t}#TASK#{id}`          | `U` (a task outside any run) | |                      |                       |
//! | usage rollup | `T#{t}#USAGE`              | `{workflow,agent,model}#{day}#{key}` | |              |                       |
//! | month usage  | `T#{t}#USAGE`              | `MONTH#{yyyy-mm}` |            |                      |                       |
//! | tenant budget| `T#{t}#USAGE`              | `BUDGET` |                     |                      |                       |

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::ids::{AgentId, AgentName, MessageId, RunId, TaskId, TenantId};
use crate::ports::{Index, IndexKey, Item, Key};

pub const SK: &str = "#";
/// Timer entries are spread over this many partitions so that no single DynamoDB
/// partition takes every lease write.
pub const TIMER_SHARDS: u32 = 8;

pub fn tenant_key(tenant: &TenantId) -> Key {
    Key::new(format!("TENANT#{tenant}"), SK)
}

pub fn credential_key(client_id: &str) -> Key {
    Key::new(format!("CRED#{client_id}"), SK)
}

pub fn agent_key(tenant: &TenantId, id: &AgentId) -> Key {
    Key::new(format!("T#{tenant}#AGENT#{id}"), SK)
}

pub fn agent_name_key(tenant: &TenantId, name: &AgentName) -> Key {
    Key::new(format!("T#{tenant}#AGENTNAME#{name}"), SK)
}

pub fn agents_list_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#AGENTS")
}

pub fn task_key(tenant: &TenantId, id: &TaskId) -> Key {
    Key::new(format!("T#{tenant}#TASK#{id}"), SK)
}

pub fn tasks_list_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#TASKS")
}

pub fn claim_queue_pk(tenant: &TenantId, target: &str) -> String {
    format!("Q#{tenant}#{target}")
}

/// A deleted agent whose queued tasks the sweep has yet to fail. It sits on the timer
/// index, due at once, so the same sweep that fires task timers finds it.
pub fn agent_gone_item(tenant: &TenantId, agent: &AgentId, now_ms: i64) -> Result<Item> {
    let key = Key::new(format!("T#{tenant}#{AGENT_GONE}#{agent}"), SK);
    let due = IndexKey::new(
        timer_pk(timer_shard(agent.as_str())),
        format!("{}#{}", time_sort_key(now_ms), key.pk),
    );
    let body = to_body(&serde_json::json!({ "tenant": tenant, "agent": agent }))?;
    Ok(Item::new(key, body).with_gsi(Index::Gsi2, Some(due)))
}

/// The partition-key marker of `agent_gone_item` records.
pub const AGENT_GONE: &str = "AGENTGONE";

pub fn timer_pk(shard: u32) -> String {
    format!("TIMER#{shard}")
}

pub fn timer_shard(id: &str) -> u32 {
    id.bytes()
        .fold(0u32, |acc, b| acc.wrapping_mul(31).wrapping_add(b as u32))
        % TIMER_SHARDS
}

/// Milliseconds, zero-padded so that string order is time order.
pub fn time_sort_key(epoch_ms: i64) -> String {
    format!("{:013}", epoch_ms.max(0))
}

/// Failed logins of one subject (`{client}@{source}`, or `@{source}` for all clients).
pub fn failed_logins_key(subject: &str, window: i64) -> Key {
    Key::new(format!("AUTHFAIL#{subject}#{window}"), SK)
}

/// A tenant's quota counters (runs in flight).
pub fn quota_key(tenant: &TenantId) -> Key {
    Key::new(format!("T#{tenant}#QUOTA"), SK)
}

/// When a principal's tokens stopped being valid (deleted, paused, secret rotated).
pub fn revocation_key(tenant: &TenantId, principal: &str) -> Key {
    Key::new(format!("T#{tenant}#REVOKE#{principal}"), SK)
}

pub fn clients_list_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#CLIENTS")
}

pub fn idempotency_key(tenant: &TenantId, who: &str, key: &str) -> Key {
    Key::new(format!("T#{tenant}#IDEM#{who}#{key}"), SK)
}

pub fn to_body<T: Serialize>(record: &T) -> Result<Map<String, Value>> {
    match serde_json::to_value(record) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Error::Internal(
            "record did not serialize to an object".into(),
        )),
        Err(e) => Err(Error::Internal(format!("record did not serialize: {e}"))),
    }
}

pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<(T, u64)> {
    let version = item.version;
    let key = item.key.clone();
    serde_json::from_value(Value::Object(item.body))
        .map(|record| (record, version))
        .map_err(|e| {
            Error::Internal(format!(
                "stored item {}/{} is unreadable: {e}",
                key.pk, key.sk
            ))
        })
}

pub fn workflow_pk(tenant: &TenantId, name: &str) -> String {
    format!("T#{tenant}#WF#{name}")
}

pub fn workflow_key(tenant: &TenantId, name: &str) -> Key {
    Key::new(workflow_pk(tenant, name), SK)
}

pub fn workflow_version_key(tenant: &TenantId, name: &str, version: u32) -> Key {
    Key::new(workflow_pk(tenant, name), format!("V#{version:06}"))
}

pub fn workflows_list_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#WORKFLOWS")
}

pub fn schedule_key(tenant: &TenantId, name: &str) -> Key {
    Key::new(workflow_pk(tenant, name), "SCHEDULE")
}

pub const SCHEDULES_DUE_PK: &str = "SCHEDULES";

pub fn run_pk(tenant: &TenantId, run: &RunId) -> String {
    format!("T#{tenant}#RUN#{run}")
}

pub fn run_key(tenant: &TenantId, run: &RunId) -> Key {
    Key::new(run_pk(tenant, run), SK)
}

pub fn runs_list_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#RUNS")
}

/// A tenant's usage rollups, month counters and budget.
pub fn usage_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#USAGE")
}

pub fn tenant_budget_key(tenant: &TenantId) -> Key {
    Key::new(usage_pk(tenant), "BUDGET")
}

/// `month` is `YYYY-MM`.
pub fn month_usage_key(tenant: &TenantId, month: &str) -> Key {
    Key::new(usage_pk(tenant), format!("MONTH#{month}"))
}

/// One day's counters of one workflow, agent or model; `day` is `YYYY-MM-DD`.
pub fn usage_rollup_key(tenant: &TenantId, group: &str, day: &str, key: &str) -> Key {
    Key::new(usage_pk(tenant), format!("{group}#{day}#{key}"))
}

/// What a run has committed against its budget.
pub fn run_usage_key(tenant: &TenantId, run: &RunId) -> Key {
    Key::new(run_pk(tenant, run), "USAGE")
}

pub const USAGE_CALL_PREFIX: &str = "U#";

/// A streaming step's output as it is written (`step.delta` events): kept briefly, for
/// live watchers, and never part of the run's history.
pub const DELTA_PREFIX: &str = "D#";

/// One LLM call of a run: `id` is a ULID for the builtin's calls, a task id for usage an
/// agent reported.
pub fn usage_call_key(tenant: &TenantId, run: &RunId, id: &str) -> Key {
    Key::new(run_pk(tenant, run), format!("{USAGE_CALL_PREFIX}{id}"))
}

/// The usage an agent reported for a task outside any run.
pub fn task_usage_key(tenant: &TenantId, task: &TaskId) -> Key {
    Key::new(format!("T#{tenant}#TASK#{task}"), "U")
}

pub fn step_key(tenant: &TenantId, run: &RunId, step: &str) -> Key {
    Key::new(run_pk(tenant, run), format!("S#{step}"))
}

pub fn item_key(tenant: &TenantId, run: &RunId, step: &str, index: u32) -> Key {
    Key::new(run_pk(tenant, run), format!("S#{step}#I#{index:06}"))
}

pub fn item_prefix(step: &str) -> String {
    format!("S#{step}#I#")
}

pub fn inbox_pk(tenant: &TenantId, agent: &AgentId) -> String {
    format!("T#{tenant}#INBOX#{agent}")
}

/// An undelivered or unacknowledged message in an agent's inbox.
pub fn inbox_key(tenant: &TenantId, agent: &AgentId, message: &MessageId) -> Key {
    Key::new(inbox_pk(tenant, agent), format!("{INBOX_PREFIX}{message}"))
}

pub const INBOX_PREFIX: &str = "M#";

/// Remembers an acknowledged message until it expires, so a late redelivery of it is
/// not delivered again.
pub fn acked_key(tenant: &TenantId, agent: &AgentId, message: &MessageId) -> Key {
    Key::new(inbox_pk(tenant, agent), format!("ACK#{message}"))
}

pub fn dead_letters_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#DEADLETTERS")
}

pub fn dead_letter_key(tenant: &TenantId, message: &MessageId) -> Key {
    Key::new(dead_letters_pk(tenant), format!("M#{message}"))
}

/// Where a run's reply with this correlation id meets the step waiting for it.
pub fn reply_key(tenant: &TenantId, run: &RunId, correlation: &str) -> Key {
    Key::new(run_pk(tenant, run), format!("R#{correlation}"))
}

pub const REPLIES_DUE_PK: &str = "REPLIES-DUE";

/// A token bucket: `bucket` is `tenant` or `principal#<id>`.
pub fn rate_key(tenant: &TenantId, bucket: &str) -> Key {
    Key::new(format!("T#{tenant}#RATE"), bucket)
}

pub const STEP_PREFIX: &str = "S#";
pub const EVENT_PREFIX: &str = "E#";

pub fn approval_key(tenant: &TenantId, run: &RunId, step: &str) -> Key {
    Key::new(run_pk(tenant, run), format!("A#{step}"))
}

pub fn approvals_pending_pk(tenant: &TenantId) -> String {
    format!("APPROVALS#{tenant}")
}

pub const APPROVALS_DUE_PK: &str = "APPROVALS-DUE";
