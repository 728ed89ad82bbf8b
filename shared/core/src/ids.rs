//! Identifiers, parsed at the edge. New ids are ULIDs behind a short type prefix
//! (`agt_01J...`) so that a person reading a log or a URL knows what an id names.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ulid::Ulid;

/// Why a string is not a valid identifier; the message says what a valid one looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IdError(pub String);

/// Display as the string itself; (de)serialize as a string, validated by `parse`.
macro_rules! string_id_traits {
    ($name:ident) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

macro_rules! prefixed_ulid_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "openapi", schema(example = json!(concat!($prefix, "_01JD8X3Q4W5E6R7T8Y9V0K1M2N"))))]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;
            /// What [`Self::parse`] accepts, as a regular expression (for API schemas): the
            /// prefix, then 26 Crockford base32 digits in either case.
            pub const PATTERN: &'static str =
                concat!("^", $prefix, "_[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$");

            pub fn from_ulid(ulid: Ulid) -> Self {
                Self(format!("{}_{}", $prefix, ulid))
            }

            pub fn parse(raw: &str) -> Result<Self, IdError> {
                let ulid_part = raw
                    .strip_prefix(concat!($prefix, "_"))
                    .filter(|rest| Ulid::from_string(rest).is_ok());
                match ulid_part {
                    Some(_) => Ok(Self(raw.to_string())),
                    None => Err(IdError(format!(
                        "`{}` is not {}: expected `{}_` followed by a 26-character ULID",
                        truncate(raw),
                        $what,
                        $prefix
                    ))),
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        string_id_traits!($name);
    };
}

prefixed_ulid_id!(
    /// One run of a workflow; also its execution's name in the engine.
    RunId, "run", "a run id"
);
prefixed_ulid_id!(
    /// An agent registered in a tenant. Also the agent's OAuth client id.
    AgentId, "agt", "an agent id"
);
prefixed_ulid_id!(
    /// A task addressed to an agent or a capability.
    TaskId, "tsk", "a task id"
);
prefixed_ulid_id!(
    /// A client credential of a person or a service (admins, operators).
    ClientId, "cli", "a client id"
);
prefixed_ulid_id!(
    /// A message between agents; inbox entries are keyed by it, so a redelivery of the
    /// same message never makes a second entry.
    MessageId, "msg", "a message id"
);
prefixed_ulid_id!(
    /// One claim of a task; completing with a stale lease is refused.
    LeaseId, "lse", "a lease id"
);

fn truncate(raw: &str) -> String {
    raw.chars().take(64).collect()
}

macro_rules! slug_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:literal, $extra:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub struct $name(String);

        impl $name {
            /// The longest value [`Self::parse`] accepts.
            pub const MAX_LEN: usize = $max;
            /// What [`Self::parse`] accepts, as a regular expression (with [`Self::MAX_LEN`]).
            pub const PATTERN: &'static str = concat!("^[a-z0-9][a-z0-9", $extra, "-]*$");

            pub fn parse(raw: &str) -> Result<Self, IdError> {
                let starts_alnum = raw.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
                let allowed = raw.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || $extra.contains(c));
                if raw.is_empty() || raw.len() > $max || !starts_alnum || !allowed {
                    return Err(IdError(format!(
                        "`{}` is not a valid {}: use 1 to {} characters of a-z, 0-9, `-`{}, starting with a letter or digit",
                        truncate(raw), $what, $max,
                        if $extra.is_empty() { String::new() } else { format!(" or one of `{}`", $extra) }
                    )));
                }
                Ok(Self(raw.to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        string_id_traits!($name);
    };
}

slug_id!(
    /// A tenant: every item and every query is scoped by one.
    TenantId, "tenant id", 63, ""
);
slug_id!(
    /// What an agent can do, e.g. `summarize` or `web.search`; tasks may target one.
    Capability, "capability", 64, "._:"
);
slug_id!(
    /// A label on an agent (e.g. `team-research`, `region.eu`); broadcasts can select by it.
    AgentTag, "tag", 64, "._:"
);
slug_id!(
    /// An agent's name, unique within its tenant.
    AgentName, "agent name", 64, "._"
);

/// Who is calling: an agent (its `AgentId`) or a client credential (`ClientId`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct PrincipalId(String);

impl PrincipalId {
    pub fn agent(id: &AgentId) -> Self {
        Self(id.to_string())
    }

    pub fn client(id: &ClientId) -> Self {
        Self(id.to_string())
    }

    pub fn parse(raw: &str) -> Result<Self, IdError> {
        if AgentId::parse(raw).is_ok() || ClientId::parse(raw).is_ok() {
            Ok(Self(raw.to_string()))
        } else {
            Err(IdError(format!(
                "`{}` is not an agent id or a client id",
                truncate(raw)
            )))
        }
    }

    /// A workflow run, as the sender of its steps' messages (replies go back to it).
    pub fn run(id: &RunId) -> Self {
        Self(format!("run:{id}"))
    }

    /// The run this principal is, if it is one.
    pub fn as_run(&self) -> Option<RunId> {
        self.0
            .strip_prefix("run:")
            .and_then(|r| RunId::parse(r).ok())
    }

    /// Skein itself, for work nobody requested directly (scheduled runs).
    pub fn scheduler() -> Self {
        Self("skein:scheduler".to_string())
    }

    /// The agent this principal is, if it is one.
    pub fn as_agent(&self) -> Option<AgentId> {
        AgentId::parse(&self.0).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PrincipalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefixed_id_round_trips_and_rejects_the_wrong_prefix() {
        let id = AgentId::from_ulid(Ulid::from_parts(1, 2));
        assert_eq!(AgentId::parse(id.as_str()).unwrap(), id);
        let err = TaskId::parse(id.as_str()).unwrap_err();
        assert!(err.0.contains("expected `tsk_`"), "{err}");
    }

    #[test]
    fn a_tenant_id_must_be_a_lowercase_slug() {
        assert!(TenantId::parse("acme-01").is_ok());
        for bad in ["", "Acme", "-acme", "a b", &"x".repeat(64)] {
            assert!(TenantId::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn capabilities_may_use_dots_and_colons() {
        assert!(Capability::parse("web.search:v2").is_ok());
        assert!(Capability::parse("web search").is_err());
    }

    #[test]
    fn a_principal_knows_whether_it_is_an_agent() {
        let agent = AgentId::from_ulid(Ulid::from_parts(5, 6));
        assert_eq!(PrincipalId::agent(&agent).as_agent(), Some(agent));
        let client = ClientId::from_ulid(Ulid::from_parts(5, 6));
        assert_eq!(PrincipalId::client(&client).as_agent(), None);
        assert!(PrincipalId::parse("nobody").is_err());
    }
}
