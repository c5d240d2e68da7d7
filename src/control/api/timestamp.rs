//! The `Timestamp` type of generated API structs.
//!
//! On the wire (query input and XML output) ElastiCache timestamps are ISO-8601 UTC; AWS writes
//! them with milliseconds (`2016-12-21T21:59:43.794Z`). In the JSON values exchanged between the
//! codecs and the typed structs a timestamp is that string. Parsing goes through
//! `aws_smithy_types::DateTime` (the Smithy `date-time` format of the model); the value is kept
//! as a `time::OffsetDateTime` because the state and its clock compute with that type.

use std::fmt;

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{OffsetDateTime, UtcOffset};

/// A point in time, serialized as AWS ISO-8601 (`2016-12-21T21:59:43.794Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub OffsetDateTime);

impl Default for Timestamp {
    fn default() -> Self {
        Timestamp(OffsetDateTime::UNIX_EPOCH)
    }
}

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        Timestamp(OffsetDateTime::now_utc())
    }

    /// Parses ISO-8601 as clients send it: RFC 3339 with or without a fraction and with `Z`
    /// or an offset; a date-time without offset is taken as UTC, a bare date as its midnight
    /// UTC (lenient, as AWS is). Smithy's parser knows only the RFC 3339 forms, so the two
    /// lenient forms are completed to RFC 3339 before it sees them.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let parse = |t: &str| DateTime::from_str(t, Format::DateTimeWithOffset).ok();
        let parsed = parse(text)
            .or_else(|| parse(&format!("{text}Z")))
            .or_else(|| parse(&format!("{text}T00:00:00Z")))?;
        OffsetDateTime::from_unix_timestamp_nanos(parsed.as_nanos())
            .ok()
            .map(Timestamp)
    }

    /// Seconds since the Unix epoch.
    pub fn unix_seconds(self) -> i64 {
        self.0.unix_timestamp()
    }
}

/// Written by hand rather than with `DateTime::fmt(Format::DateTime)`: measured with
/// aws-smithy-types 1.9.3, Smithy drops a zero fraction and trailing zeros
/// (`2024-01-02T03:04:05Z`, `2024-01-02T03:04:05.79Z`) and keeps microseconds
/// (`...05.123456Z`), while AWS responses (and the wire suite's expectations) always carry exactly
/// three digits (`2024-01-02T03:04:05.000Z`, `...05.790Z`).
impl fmt::Display for Timestamp {
    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`, the form AWS uses in responses.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0.to_offset(UtcOffset::UTC);
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        )
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(t: OffsetDateTime) -> Self {
        Timestamp(t)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Timestamp::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid timestamp {text:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_aws_and_parses_variants() {
        let t = Timestamp::parse("2016-12-21T21:59:43.794Z").unwrap();
        assert_eq!(t.to_string(), "2016-12-21T21:59:43.794Z");
        let t = Timestamp::parse("2024-01-02T03:04:05Z").unwrap();
        assert_eq!(t.to_string(), "2024-01-02T03:04:05.000Z");
        let t = Timestamp::parse("2024-01-02T03:04:05.123456Z").unwrap();
        assert_eq!(t.to_string(), "2024-01-02T03:04:05.123Z");
        let t = Timestamp::parse("2024-01-02T05:04:05+02:00").unwrap();
        assert_eq!(t.to_string(), "2024-01-02T03:04:05.000Z");
        let t = Timestamp::parse("2024-01-02T03:04:05").unwrap();
        assert_eq!(t.to_string(), "2024-01-02T03:04:05.000Z");
        assert_eq!(
            Timestamp::parse("2024-01-02").unwrap().to_string(),
            "2024-01-02T00:00:00.000Z"
        );
        for bad in [
            "",
            "yesterday",
            "2024-13-01T00:00:00Z",
            "2024-01-02T25:00:00Z",
        ] {
            assert!(Timestamp::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn serde_round_trip() {
        let t = Timestamp::parse("2016-12-21T21:59:43.794Z").unwrap();
        let v = serde_json::to_value(t).unwrap();
        assert_eq!(v, serde_json::json!("2016-12-21T21:59:43.794Z"));
        assert_eq!(serde_json::from_value::<Timestamp>(v).unwrap(), t);
        assert!(serde_json::from_value::<Timestamp>(serde_json::json!("nope")).is_err());
    }
}
