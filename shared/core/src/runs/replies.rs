//! Workflow steps that talk to agents: `message.send` sends a message from the run, and
//! `message.await` waits for a reply to the run by correlation id, up to the step's
//! timeout. The reply and the waiting step meet on one item (`R#<correlation>` in the
//! run): whichever arrives second finds the other there, so neither can be missed.
//!
//! Ending the waiting step is mark, act, then delete: the reply (or the timeout) is
//! recorded on the meeting, which goes onto the due timer; the step is ended; only then is
//! the meeting removed. If ending the step fails, the replies sweep finds the recorded
//! outcome and ends it, so a reply is never lost in between.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Runs;
use super::call::StepCall;
use super::model::{RunError, StepMessage};
use crate::error::Result;
use crate::ids::{AgentId, RunId};
use crate::messages::{Message, NewMessage, Recipient};
use crate::ports::{Condition, Index, IndexKey, Item, Query, SkRange, StoreError};
use crate::records::{REPLIES_DUE_PK, from_item, reply_key, time_sort_key, to_body};
use crate::workflows::compile::StepErrorName;

type StepOutcome = std::result::Result<Value, RunError>;

/// Where a reply and its waiting step meet.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Meeting {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    waiting: Option<Waiting>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reply: Option<Message>,
    /// The wait ran out (recorded before the step is failed); a later reply is dropped.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    timed_out: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Waiting {
    run: RunId,
    step: String,
    attempt: u32,
    correlation_id: String,
    due_at: Option<DateTime<Utc>>,
}

/// What `message.send` takes as input.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendInput {
    /// An agent's name or id, or `{capability, tags}` for a broadcast.
    to: Value,
    kind: String,
    #[serde(default)]
    payload: Value,
    #[serde(default)]
    correlation_id: Option<String>,
    #[serde(default)]
    ttl_seconds: Option<u64>,
}

fn non_retryable(cause: String) -> RunError {
    RunError {
        error: StepErrorName::NonRetryable.into(),
        cause,
    }
}

fn reply_output(reply: &Message) -> Value {
    json!({
        "message_id": reply.id,
        "sender": reply.sender,
        "kind": reply.kind,
        "payload": reply.payload,
        "correlation_id": reply.correlation_id,
    })
}

impl Runs {
    /// `message.send`: the output names the message and its correlation id (the run id
    /// unless the input gives one), which a later `message.await` waits on.
    pub(crate) async fn send_step_message(
        &self,
        message: &StepMessage,
        idempotency_key: &str,
        input: Value,
    ) -> Result<StepOutcome> {
        let input: SendInput = match serde_json::from_value(input) {
            Ok(input) => input,
            Err(e) => return Ok(Err(non_retryable(format!("message.send input: {e}")))),
        };
        let to = match &input.to {
            Value::String(name_or_id) => match AgentId::parse(name_or_id) {
                Ok(agent) => Recipient::Agent { agent },
                Err(_) => match self.agent_named(&message.tenant, name_or_id).await {
                    Ok(Some(agent)) => Recipient::Agent { agent },
                    // The store did not answer: the step's message comes back later.
                    Err(e) if e.is_transient() => return Err(e),
                    Ok(None) | Err(_) => {
                        let cause = format!("message.send: no agent is named `{name_or_id}`");
                        return Ok(Err(non_retryable(cause)));
                    }
                },
            },
            filter => match serde_json::from_value::<Recipient>(
                json!({ "type": "broadcast", "capability": filter.get("capability"), "tags": filter.get("tags").cloned().unwrap_or(json!([])) }),
            ) {
                Ok(to) => to,
                Err(e) => {
                    let cause = format!(
                        "message.send `to`: an agent name or id, or {{capability, tags}}: {e}"
                    );
                    return Ok(Err(non_retryable(cause)));
                }
            },
        };
        let correlation_id = input
            .correlation_id
            .unwrap_or_else(|| message.run.to_string());
        let new = NewMessage {
            kind: input.kind,
            payload: input.payload,
            correlation_id: Some(correlation_id.clone()),
            ttl_seconds: input.ttl_seconds,
        };
        match self
            .messages
            .send_from_run(&message.tenant, &message.run, idempotency_key, to, new)
            .await
        {
            Ok(sent) => Ok(Ok(
                json!({ "message_id": sent.id, "correlation_id": correlation_id }),
            )),
            // The queue or the store was down: the step's message comes back later.
            Err(e) if e.is_transient() => Err(e),
            Err(crate::Error::Internal(e)) => Err(crate::Error::Internal(e)),
            Err(e) => Ok(Err(non_retryable(format!("message.send: {e}")))),
        }
    }

    /// `message.await`: the reply's output now if it already came, else None (the reply's
    /// arrival, or the step's timeout, finishes the step).
    pub(crate) async fn await_reply(
        &self,
        call: StepCall<'_>,
        input: &Value,
    ) -> Result<Option<StepOutcome>> {
        let message = call.message;
        let step = call.step();
        let correlation_id = input
            .get("correlation_id")
            .and_then(Value::as_str)
            .map_or_else(|| message.run.to_string(), str::to_string);
        let key = reply_key(&message.tenant, &message.run, &correlation_id);
        let due_at = step.timeout.map(|t| {
            self.ctx.now() + chrono::Duration::from_std(t.0).unwrap_or(chrono::Duration::MAX)
        });
        for _ in crate::retry::races() {
            let (meeting, version) = self.meeting(&key).await?;
            if let Some(reply) = meeting.reply {
                // Left in place (it expires with the reply): a redelivered step that runs
                // again finds the same reply.
                return Ok(Some(Ok(reply_output(&reply))));
            }
            let waiting = Waiting {
                run: message.run.clone(),
                step: step.id.clone(),
                attempt: message.attempt,
                correlation_id: correlation_id.clone(),
                due_at,
            };
            let body = to_body(&Meeting {
                waiting: Some(waiting),
                ..Meeting::default()
            })?;
            let due = due_at.map(|at| {
                IndexKey::new(
                    REPLIES_DUE_PK,
                    format!("{}#{}", time_sort_key(at.timestamp_millis()), key.pk),
                )
            });
            let item = Item::new(key.clone(), body).with_gsi(Index::Gsi2, due);
            let condition = if version == 0 {
                Condition::NotExists
            } else {
                Condition::VersionIs(version)
            };
            match self.ctx.store.put(item, condition).await {
                Ok(_) => return Ok(None),
                Err(StoreError::ConditionFailed) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(crate::retry::lost_every_race("the step's reply meeting"))
    }

    /// The router hands over a message addressed to a run: it finishes the step waiting
    /// on its correlation id, or waits for that step.
    pub async fn reply_arrived(&self, run: &RunId, reply: &Message) -> Result<()> {
        let Some(correlation_id) = &reply.correlation_id else {
            tracing::info!(message = %reply.id, %run, "a message to a run without a correlation id matches no step; dropped");
            return Ok(());
        };
        let key = reply_key(&reply.tenant, run, correlation_id);
        for _ in crate::retry::races() {
            let (meeting, version) = self.meeting(&key).await?;
            if meeting.timed_out {
                tracing::info!(message = %reply.id, %run, "a reply after its step timed out; dropped");
                return Ok(());
            }
            if let Some(waiting) = meeting.waiting {
                let marked = Meeting {
                    waiting: Some(waiting.clone()),
                    reply: Some(reply.clone()),
                    timed_out: false,
                };
                if !self.mark_meeting(&key, &marked, version).await? {
                    continue;
                }
                return self
                    .end_wait(&reply.tenant, &key, &waiting, Ok(reply_output(reply)))
                    .await;
            }
            if meeting.reply.is_some_and(|r| r.id == reply.id) {
                return Ok(()); // a redelivery of the reply already waiting here
            }
            let body = to_body(&Meeting {
                reply: Some(reply.clone()),
                ..Meeting::default()
            })?;
            let mut item = Item::new(key.clone(), body);
            item.expires_at = Some(reply.expires_at.timestamp());
            let condition = if version == 0 {
                Condition::NotExists
            } else {
                Condition::VersionIs(version)
            };
            match self.ctx.store.put(item, condition).await {
                Ok(_) => return Ok(()),
                Err(StoreError::ConditionFailed) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(crate::retry::lost_every_race("the reply's meeting"))
    }

    /// Fails the `message.await` steps whose timeout passed without a reply. Called by the
    /// scheduler's tick (on `skein dev`, by its sweeper).
    pub async fn expire_reply_waits(&self) -> Result<usize> {
        let upper = format!("{}~", time_sort_key(self.ctx.now().timestamp_millis()));
        let query = Query::new(Index::Gsi2, REPLIES_DUE_PK)
            .sk(SkRange::Between(String::new(), upper))
            .limit(100);
        let mut expired = 0;
        for item in self.ctx.store.query(&query).await?.items {
            let key = item.key.clone();
            let (meeting, version) = from_item::<Meeting>(item)?;
            let Some(waiting) = meeting.waiting.clone() else {
                continue;
            };
            let Some(tenant) = key
                .pk
                .strip_prefix("T#")
                .and_then(|rest| rest.split('#').next())
                .and_then(|t| crate::ids::TenantId::parse(t).ok())
            else {
                continue;
            };
            let outcome = match &meeting.reply {
                // Recorded, but the step was not ended: end it now.
                Some(reply) => Ok(reply_output(reply)),
                None => {
                    if !meeting.timed_out {
                        let marked = Meeting {
                            timed_out: true,
                            ..meeting
                        };
                        if !self.mark_meeting(&key, &marked, version).await? {
                            continue; // the reply came in the meantime
                        }
                    }
                    Err(RunError {
                        error: StepErrorName::Timeout.into(),
                        cause: format!(
                            "no reply with correlation id `{}` came within the step's timeout",
                            waiting.correlation_id
                        ),
                    })
                }
            };
            self.end_wait(&tenant, &key, &waiting, outcome).await?;
            expired += 1;
        }
        Ok(expired)
    }

    /// Records the meeting's outcome if nobody changed it since it was read (false if
    /// someone did), and puts it on the due timer so the sweep ends the step if we do not.
    async fn mark_meeting(
        &self,
        key: &crate::ports::Key,
        marked: &Meeting,
        version: u64,
    ) -> Result<bool> {
        let due = IndexKey::new(
            REPLIES_DUE_PK,
            format!(
                "{}#{}",
                time_sort_key(self.ctx.now().timestamp_millis()),
                key.pk
            ),
        );
        let item = Item::new(key.clone(), to_body(marked)?).with_gsi(Index::Gsi2, Some(due));
        match self
            .ctx
            .store
            .put(item, Condition::VersionIs(version))
            .await
        {
            Ok(_) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Ends the waiting step with `outcome`, then removes the meeting.
    async fn end_wait(
        &self,
        tenant: &crate::ids::TenantId,
        key: &crate::ports::Key,
        waiting: &Waiting,
        outcome: StepOutcome,
    ) -> Result<()> {
        self.step_result(
            tenant,
            &waiting.run,
            &waiting.step,
            Some(waiting.attempt),
            None,
            outcome,
        )
        .await?;
        self.ctx.store.delete(key, Condition::Always).await?;
        Ok(())
    }

    async fn meeting(&self, key: &crate::ports::Key) -> Result<(Meeting, u64)> {
        match self.ctx.store.get(key).await? {
            Some(item) => from_item(item),
            None => Ok((Meeting::default(), 0)),
        }
    }
}
