//! The `Timestamp` type of generated API structs.
//!
//! On the wire (query input and XML output) ElastiCache timestamps are ISO-8601 UTC; AWS writes
//! them with milliseconds (`2016-12-21T21:59:43.794Z`). In the JSON values exchanged between the
//! codecs and the typed structs a timestamp is that string.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

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
    /// or an offset; a date-time without offset is taken as UTC (lenient, as AWS is).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
            return Some(Timestamp(t.to_offset(UtcOffset::UTC)));
        }
        let with_z = format!("{text}Z");
        if let Ok(t) = OffsetDateTime::parse(&with_z, &Rfc3339) {
            return Some(Timestamp(t));
        }
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(text, &fmt)
            .ok()
            .map(|d| Timestamp(PrimitiveDateTime::new(d, time::Time::MIDNIGHT).assume_utc()))
    }

    /// Seconds since the Unix epoch.
    pub fn unix_seconds(self) -> i64 {
        self.0.unix_timestamp()
    }
}

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
