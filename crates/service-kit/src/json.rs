//! Request fields read as their OpenAPI schema describes them, so that a body the
//! published document admits is never refused for a reason the document cannot show:
//! - JSON Schema's `integer` admits `2.0`, which serde refuses for an integer type;
//! - an optional field the document gives as a non-null type must not be `null`, which
//!   serde reads as absent.
//!
//! Use with `#[serde(default, deserialize_with = "...")]` on `Option` fields.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A non-negative integer, written `2` or `2.0`.
pub fn integer<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    let value = deserializer.deserialize_any(IntegerVisitor)?;
    T::try_from(value).map_err(|_| {
        de::Error::invalid_value(de::Unexpected::Unsigned(value), &"a smaller integer")
    })
}

/// An optional [`integer`]: absent is `None`, `null` is refused.
pub fn present_integer<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    integer(deserializer).map(Some)
}

/// An optional value: absent is `None`, `null` is refused.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

struct IntegerVisitor;

impl Visitor<'_> for IntegerVisitor {
    type Value = u64;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a non-negative integer")
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<u64, E> {
        Ok(value)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<u64, E> {
        u64::try_from(value).map_err(|_| E::invalid_value(de::Unexpected::Signed(value), &self))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<u64, E> {
        // 2^64 is exactly representable; every whole f64 below it converts exactly.
        if value.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&value) {
            Ok(value as u64)
        } else {
            Err(E::invalid_value(de::Unexpected::Float(value), &self))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Body {
        #[serde(deserialize_with = "super::integer")]
        quantity: u32,
        #[serde(default, deserialize_with = "super::present_integer")]
        price: Option<u64>,
        #[serde(default, deserialize_with = "super::present")]
        name: Option<String>,
    }

    fn parse(json: &str) -> Result<Body, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn whole_numbers_are_integers_however_written() {
        let body = parse(r#"{"quantity": 2.0, "price": 5, "name": "x"}"#).expect("valid");
        assert_eq!(
            body,
            Body {
                quantity: 2,
                price: Some(5),
                name: Some("x".into())
            }
        );
        for bad in ["2.5", "-1", "4294967296", "1e300", "\"2\""] {
            assert!(
                parse(&format!(r#"{{"quantity": {bad}}}"#)).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn absent_is_none_and_null_is_refused() {
        assert_eq!(parse(r#"{"quantity": 1}"#).expect("valid").price, None);
        assert!(parse(r#"{"quantity": 1, "price": null}"#).is_err());
        assert!(parse(r#"{"quantity": 1, "name": null}"#).is_err());
    }
}
