//! Wall-clock timestamps as stored and returned by every service.

use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

/// RFC 3339 in UTC with exactly three fractional digits, so that timestamps sort as
/// strings (sort keys rely on this).
const RFC3339_MILLIS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// The current time, e.g. `2026-11-26T19:56:53.123Z`.
pub fn now() -> String {
    format(OffsetDateTime::now_utc())
}

/// Milliseconds since the Unix epoch.
pub fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// Formats a `SystemTime` (such as a Temporal workflow's deterministic clock).
pub fn format_system_time(at: std::time::SystemTime) -> String {
    format(OffsetDateTime::from(at))
}

pub fn format(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(RFC3339_MILLIS)
        .unwrap_or_else(|_| unreachable!("every UTC date in range formats"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn formats_fixed_width_utc() {
        assert_eq!(
            format(datetime!(2026-01-02 03:04:05.0067 +02:00)),
            "2026-01-02T01:04:05.006Z"
        );
    }

    #[test]
    fn later_times_sort_after_earlier_ones_as_strings() {
        let earlier = format(datetime!(2026-01-02 03:04:05.9 UTC));
        let later = format(datetime!(2026-01-02 03:04:10.0 UTC));
        assert!(earlier < later);
    }
}
