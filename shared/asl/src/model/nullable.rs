use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A path field that may be absent (use the default, `$`), `null` (discard), or a path.
/// `InputPath`, `OutputPath` and `ResultPath` give `null` a meaning of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Nullable {
    #[default]
    Absent,
    Null,
    Path(String),
}

impl Nullable {
    pub fn is_absent(&self) -> bool {
        matches!(self, Nullable::Absent)
    }
}

impl Serialize for Nullable {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Nullable::Path(path) => serializer.serialize_str(path),
            _ => serializer.serialize_none(),
        }
    }
}

impl<'de> Deserialize<'de> for Nullable {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Option::<String>::deserialize(deserializer)? {
            Some(path) => Nullable::Path(path),
            None => Nullable::Null,
        })
    }
}
