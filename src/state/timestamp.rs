//! How the state file writes times: AWS timestamps (RFC 3339 in UTC with milliseconds,
//! `2024-05-01T10:00:00.123Z`), so a saved file reads like what the API reports.
//!
//! Place in the flow: record fields of type `OffsetDateTime` name this module in
//! `#[serde(with = "...")]`; `state::persist` (de)serializes whole regions through them.

use serde::{Deserialize, Deserializer, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Writes `t` as an RFC 3339 UTC timestamp.
pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    let text = t
        .to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .map_err(serde::ser::Error::custom)?;
    s.serialize_str(&text)
}

/// Reads an RFC 3339 timestamp.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
    let text = String::deserialize(d)?;
    OffsetDateTime::parse(&text, &Rfc3339)
        .map_err(|e| serde::de::Error::custom(format!("invalid timestamp {text:?}: {e}")))
}

/// The same for optional times (`null` when absent).
pub mod option {
    use super::*;

    /// Writes `Some(t)` as a timestamp, `None` as null.
    pub fn serialize<S: Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    /// Reads a timestamp or null.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|text| {
            OffsetDateTime::parse(&text, &Rfc3339)
                .map_err(|e| serde::de::Error::custom(format!("invalid timestamp {text:?}: {e}")))
        })
        .transpose()
    }
}
