//! Whole numbers in request bodies as JSON means them: `6545.0` is the number 6545. JSON
//! has one number type and JSON Schema's `integer` is any number without a fraction, so a
//! client (or a generator) that writes `6545.0` sent a valid integer. Use with
//! `#[serde(deserialize_with = "crate::whole_number::deserialize")]`, or `::option`.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserializer;
use serde::de::{Error, Visitor};

struct Whole<T>(PhantomData<T>);

impl<T: TryFrom<u64>> Visitor<'_> for Whole<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a whole number")
    }

    fn visit_u64<E: Error>(self, value: u64) -> Result<T, E> {
        T::try_from(value).map_err(|_| E::custom(format!("{value} is too large")))
    }

    fn visit_i64<E: Error>(self, value: i64) -> Result<T, E> {
        u64::try_from(value)
            .map_err(|_| E::custom(format!("{value} is negative; give a whole number from 0")))
            .and_then(|v| self.visit_u64(v))
    }

    fn visit_f64<E: Error>(self, value: f64) -> Result<T, E> {
        // u64::MAX as f64 rounds up to 2^64, which does not fit: compare with `<`.
        if value.fract() == 0.0 && (0.0..u64::MAX as f64).contains(&value) {
            self.visit_u64(value as u64)
        } else {
            Err(E::custom(format!("{value} is not a whole number")))
        }
    }
}

pub fn deserialize<'de, D: Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<T, D::Error> {
    d.deserialize_any(Whole(PhantomData))
}

/// For `Option<integer>` fields that may be absent (with `#[serde(default)]`) but not
/// `null`: a value that is there is a whole number.
pub mod present {
    use serde::Deserializer;

    pub fn deserialize<'de, D: Deserializer<'de>, T: TryFrom<u64>>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        super::deserialize(d).map(Some)
    }
}

/// For `Option<integer>` fields: `null` or absent is None.
pub mod option {
    use super::*;

    struct MaybeWhole<T>(PhantomData<T>);

    impl<'de, T: TryFrom<u64>> Visitor<'de> for MaybeWhole<T> {
        type Value = Option<T>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a whole number or null")
        }

        fn visit_none<E: Error>(self) -> Result<Option<T>, E> {
            Ok(None)
        }

        fn visit_unit<E: Error>(self) -> Result<Option<T>, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
            super::deserialize(d).map(Some)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: TryFrom<u64>>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        d.deserialize_option(MaybeWhole(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Body {
        #[serde(deserialize_with = "super::deserialize")]
        seconds: u32,
        #[serde(default, deserialize_with = "super::option::deserialize")]
        ttl: Option<u64>,
    }

    fn parse(json: &str) -> Result<Body, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn integral_floats_are_whole_numbers_and_fractions_are_not() {
        assert_eq!(
            parse(r#"{"seconds": 300.0, "ttl": 6545.0}"#).unwrap(),
            Body {
                seconds: 300,
                ttl: Some(6545)
            }
        );
        assert_eq!(
            parse(r#"{"seconds": 5}"#).unwrap(),
            Body {
                seconds: 5,
                ttl: None
            }
        );
        assert_eq!(parse(r#"{"seconds": 5, "ttl": null}"#).unwrap().ttl, None);
        assert!(
            parse(r#"{"seconds": 2.5}"#)
                .unwrap_err()
                .contains("not a whole number")
        );
        assert!(
            parse(r#"{"seconds": -1}"#)
                .unwrap_err()
                .contains("negative")
        );
        assert!(
            parse(r#"{"seconds": 4294967296}"#)
                .unwrap_err()
                .contains("too large")
        );
        assert!(parse(r#"{"seconds": "5"}"#).is_err());
    }
}
