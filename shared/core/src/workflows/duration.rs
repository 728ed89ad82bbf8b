//! Durations as people write them in workflow files: `250ms`, `30s`, `5m`, `2h`, `1d`, or a
//! plain number of seconds.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let split = raw
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(raw.len());
        let (number, unit) = raw.split_at(split);
        let value: f64 = number.parse().map_err(|_| explain(raw))?;
        let seconds = match unit.trim() {
            "ms" => value / 1000.0,
            "" | "s" => value,
            "m" => value * 60.0,
            "h" => value * 3600.0,
            "d" => value * 86_400.0,
            _ => return Err(explain(raw)),
        };
        if !seconds.is_finite() || !(0.0..=366.0 * 86_400.0).contains(&seconds) {
            return Err(format!("`{raw}` is out of range: use at most 366d"));
        }
        Ok(Self(Duration::from_secs_f64(seconds)))
    }

    /// Whole seconds, rounded up and at least 1, as ASL's integer fields need.
    pub fn ceil_seconds(self) -> u64 {
        let ms = self.0.as_millis() as u64;
        ms.div_ceil(1000).max(1)
    }
}

fn explain(raw: &str) -> String {
    format!("`{raw}` is not a duration: write a number and a unit, e.g. 500ms, 30s, 5m, 2h or 1d")
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        match ms {
            ms if ms % 3_600_000 == 0 && ms > 0 => write!(f, "{}h", ms / 3_600_000),
            ms if ms % 60_000 == 0 && ms > 0 => write!(f, "{}m", ms / 60_000),
            ms if ms % 1000 == 0 => write!(f, "{}s", ms / 1000),
            ms => write!(f, "{ms}ms"),
        }
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(f64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Seconds(s) => HumanDuration::parse(&s.to_string()),
            Raw::Text(t) => HumanDuration::parse(&t),
        }
        .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_every_unit() {
        let cases = [
            ("250ms", 250),
            ("30s", 30_000),
            ("5m", 300_000),
            ("2h", 7_200_000),
            ("1.5s", 1500),
            ("7", 7000),
        ];
        for (raw, ms) in cases {
            assert_eq!(
                HumanDuration::parse(raw).unwrap().0.as_millis(),
                ms,
                "{raw}"
            );
        }
    }

    #[test]
    fn a_bad_duration_says_how_to_write_one() {
        let err = HumanDuration::parse("5 minutes").unwrap_err();
        assert!(err.contains("e.g. 500ms, 30s"), "{err}");
        assert!(HumanDuration::parse("-1s").is_err());
    }

    #[test]
    fn ceil_seconds_never_rounds_down_to_zero() {
        assert_eq!(HumanDuration::parse("250ms").unwrap().ceil_seconds(), 1);
        assert_eq!(HumanDuration::parse("2.1s").unwrap().ceil_seconds(), 3);
    }
}
