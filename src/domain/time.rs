//! Timestamps: UTC, serialised as RFC 3339 with milliseconds (`2026-11-23T10:00:00.000Z`).

use chrono::{DateTime, SecondsFormat, Utc};

/// A point in time, UTC.
pub type Timestamp = DateTime<Utc>;

/// Now, truncated to whole milliseconds, so what is stored is exactly what clients see.
pub fn now() -> Timestamp {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

/// `#[serde(serialize_with = "rfc3339_millis")]` for timestamps in responses.
pub fn rfc3339_millis<S: serde::Serializer>(time: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&time.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// The same for an optional timestamp (`null` when absent).
pub fn rfc3339_millis_opt<S: serde::Serializer>(
    time: &Option<Timestamp>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => rfc3339_millis(time, s),
        None => s.serialize_none(),
    }
}

/// A client's RFC 3339 timestamp, to the millisecond, in UTC.
pub fn parse_rfc3339(input: &str) -> Result<Timestamp, String> {
    let time = DateTime::parse_from_rfc3339(input)
        .map_err(|_| format!("`{input}` is not an RFC 3339 date-time"))?
        .with_timezone(&Utc);
    Ok(DateTime::from_timestamp_millis(time.timestamp_millis()).unwrap_or(time))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_with_milliseconds_and_z() {
        let t = DateTime::from_timestamp_millis(1_795_428_000_123).unwrap();
        let json = rfc3339_millis(&t, serde_json::value::Serializer).unwrap();
        assert_eq!(json, "2026-11-23T10:00:00.123Z");
    }
}
