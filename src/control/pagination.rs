//! `Marker`/`MaxRecords` pagination shared by every Describe operation.
//!
//! Records are listed in a stable order (creation order or name); the marker is an opaque
//! base64 token of the offset of the next record. The last page carries no marker, which is
//! what botocore's paginator and the Go SDK's paginators stop on.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Default page size of Describe operations.
pub const DEFAULT_MAX_RECORDS: i32 = 100;

/// One page of results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    /// The records of this page.
    pub items: Vec<T>,
    /// Token for the next page; `None` on the last page.
    pub marker: Option<String>,
}

/// Validates `MaxRecords` against `min..=max`; absent means `default`. The error is the
/// `InvalidParameterValue` message.
pub fn max_records(value: Option<i32>, min: i32, max: i32, default: i32) -> Result<usize, String> {
    match value {
        None => Ok(default as usize),
        Some(v) if (min..=max).contains(&v) => Ok(v as usize),
        Some(v) => Err(format!(
            "Invalid value {v} for MaxRecords. Must be between {min} and {max}"
        )),
    }
}

/// The standard `MaxRecords` rule: 20–100, default 100.
pub fn standard_max_records(value: Option<i32>) -> Result<usize, String> {
    max_records(value, 20, 100, DEFAULT_MAX_RECORDS)
}

fn encode(offset: usize) -> String {
    STANDARD.encode(format!("ecl1:{offset}"))
}

fn decode(marker: &str) -> Option<usize> {
    let bytes = STANDARD.decode(marker.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix("ecl1:")?.parse().ok()
}

/// Cuts one page out of `items`, starting at `marker`. An empty marker means the first page;
/// a marker that is not ours is an `InvalidParameterValue` (message returned as the error).
pub fn paginate<T>(items: Vec<T>, marker: Option<&str>, max: usize) -> Result<Page<T>, String> {
    let start = match marker.map(str::trim).filter(|m| !m.is_empty()) {
        None => 0,
        Some(m) => decode(m).ok_or_else(|| format!("Invalid marker: {m}"))?,
    };
    let total = items.len();
    let items: Vec<T> = items.into_iter().skip(start).take(max).collect();
    let next = start.saturating_add(items.len());
    let marker = (next < total && !items.is_empty()).then(|| encode(next));
    Ok(Page { items, marker })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_all_pages_without_repeating_a_marker() {
        let items: Vec<u32> = (0..45).collect();
        let mut marker: Option<String> = None;
        let mut seen = Vec::new();
        let mut markers = Vec::new();
        for _ in 0..10 {
            let page = paginate(items.clone(), marker.as_deref(), 20).expect("page");
            seen.extend(page.items);
            match page.marker {
                Some(m) => {
                    assert!(!markers.contains(&m));
                    markers.push(m.clone());
                    marker = Some(m);
                }
                None => break,
            }
        }
        assert_eq!(seen, items);
        assert_eq!(markers.len(), 2);
    }

    #[test]
    fn last_page_has_no_marker_and_bad_markers_fail() {
        let page = paginate(vec![1, 2, 3], None, 100).expect("page");
        assert_eq!(page.marker, None);
        assert_eq!(page.items, vec![1, 2, 3]);
        assert!(paginate(vec![1], Some("garbage!"), 20).is_err());
        let empty = paginate(Vec::<u8>::new(), Some(""), 20).expect("empty");
        assert!(empty.items.is_empty() && empty.marker.is_none());
    }

    #[test]
    fn max_records_bounds() {
        assert_eq!(standard_max_records(None), Ok(100));
        assert_eq!(standard_max_records(Some(20)), Ok(20));
        assert!(standard_max_records(Some(19)).is_err());
        assert!(standard_max_records(Some(101)).is_err());
        assert_eq!(max_records(Some(50), 20, 50, 50), Ok(50));
    }
}
