//! Checks for the values every service accepts at its edge: ids, names, money.

/// Ids (order ids, SKUs, customer ids) are opaque to the services but bounded: 1 to 64
/// characters of ASCII letters, digits, `-`, `_` and `.`, so they are safe in keys,
/// paths and logs.
pub fn parse_id(raw: &str, field: &str) -> Result<String, String> {
    parse_token(raw, field, 64)
}

/// An id in a path: one that cannot exist is simply not found (404, with the rule it
/// breaks).
pub fn path_id(raw: &str, field: &str) -> Result<String, crate::Problem> {
    parse_id(raw, field).map_err(crate::Problem::not_found)
}

/// Like [`parse_id`], up to `max_len` characters: for keys derived from ids, such as
/// an idempotency key `<order id>.<event>`.
pub fn parse_token(raw: &str, field: &str, max_len: usize) -> Result<String, String> {
    let valid = (1..=max_len).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(format!(
            "`{field}` must be 1 to {max_len} characters of letters, digits, '-', '_' or '.'."
        ))
    }
}

/// Free text such as a name: at most `max_chars` characters as sent (the bound the
/// API's schema states), trimmed, not blank, no control characters except line breaks
/// where `multiline`.
pub fn parse_text(
    raw: &str,
    field: &str,
    max_chars: usize,
    multiline: bool,
) -> Result<String, String> {
    let text = raw.trim();
    let allowed = |c: char| !c.is_control() || (multiline && c == '\n');
    if text.is_empty() || raw.chars().count() > max_chars || !text.chars().all(allowed) {
        return Err(format!(
            "`{field}` must be 1 to {max_chars} characters without control characters."
        ));
    }
    Ok(text.to_owned())
}

/// An ISO 4217 code: three upper-case ASCII letters.
pub fn parse_currency(raw: &str) -> Result<String, String> {
    if raw.len() == 3 && raw.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(raw.to_owned())
    } else {
        Err(format!(
            "`currency` must be an ISO 4217 code such as \"EUR\", got {raw:?}."
        ))
    }
}

/// The largest amount any service accepts, in minor units (10 million in major
/// units): far above any demo order, far below integer overflow when summed.
pub const MAX_AMOUNT: u64 = 1_000_000_000;

/// A positive amount in minor units (cents).
pub fn parse_amount(amount: u64, field: &str) -> Result<u64, String> {
    if (1..=MAX_AMOUNT).contains(&amount) {
        Ok(amount)
    } else {
        Err(format!(
            "`{field}` must be between 1 and {MAX_AMOUNT} minor units."
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_bounded_and_plain() {
        assert!(parse_id("order-42_a.b", "order_id").is_ok());
        assert!(parse_id("", "order_id").is_err());
        assert!(parse_id(&"a".repeat(65), "order_id").is_err());
        for bad in ["a b", "a/b", "a#b", "ä"] {
            assert!(parse_id(bad, "order_id").is_err(), "{bad}");
        }
    }

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(
            parse_text("  Ada ", "name", 100, false).as_deref(),
            Ok("Ada")
        );
        assert!(parse_text("   ", "name", 100, false).is_err());
        assert!(parse_text(&"x".repeat(101), "name", 100, false).is_err());
        assert!(parse_text("A\u{0007}da", "name", 100, false).is_err());
        assert!(parse_text("a\nb", "name", 100, false).is_err());
        assert!(parse_text("a\nb", "address", 100, true).is_ok());
    }

    #[test]
    fn currencies_are_iso_codes() {
        assert!(parse_currency("EUR").is_ok());
        assert!(parse_currency("eur").is_err());
        assert!(parse_currency("EURO").is_err());
    }

    #[test]
    fn amounts_are_positive_and_bounded() {
        assert!(parse_amount(0, "price").is_err());
        assert!(parse_amount(1, "price").is_ok());
        assert!(parse_amount(MAX_AMOUNT + 1, "price").is_err());
    }
}
