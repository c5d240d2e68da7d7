//! DescribeEvents: the region's event log filtered by source and time
//! window (default: the last 60 minutes; at most 14 days back), newest first, paginated.

use time::Duration;

use crate::control::api::*;
use crate::control::context::RequestContext;
use crate::control::error::ApiError;
use crate::state::{EventQuery, SourceType, lock};

use super::Service;
use super::common::*;

/// Longest `Duration` accepted, in minutes (14 days).
const MAX_DURATION_MINUTES: i32 = 20_160;

/// DescribeEvents.
pub fn describe_events(
    svc: &Service,
    ctx: &RequestContext,
    input: DescribeEventsInput,
) -> Result<DescribeEventsOutput, ApiError> {
    let max = page_size(input.max_records)?;
    let source_type = match input.source_type.as_deref() {
        None => None,
        Some(s) => Some(
            SourceType::parse(s)
                .ok_or_else(|| invalid(format!("Invalid value for SourceType: {s}")))?,
        ),
    };
    let now = svc.inner.store.now();
    if input.duration.is_some() && (input.start_time.is_some() || input.end_time.is_some()) {
        return Err(combination(
            "Duration cannot be combined with StartTime or EndTime.",
        ));
    }
    let (start, end) = match input.duration {
        Some(d) if !(0..=MAX_DURATION_MINUTES).contains(&d) => {
            return Err(invalid(format!(
                "Duration must be between 0 and {MAX_DURATION_MINUTES} minutes."
            )));
        }
        Some(d) => (now - Duration::minutes(i64::from(d)), now),
        None => {
            let end = input.end_time.map(|t| t.0).unwrap_or(now);
            let start = match input.start_time {
                Some(t) => t.0,
                None if input.end_time.is_some() => end - Duration::hours(1),
                None => now - Duration::hours(1),
            };
            if start > end {
                return Err(invalid("StartTime must be before EndTime."));
            }
            (start, end)
        }
    };
    let query = EventQuery {
        source_identifier: input.source_identifier.clone(),
        source_type,
        start,
        end,
    };
    let events: Vec<Event> = {
        let region = svc.region(ctx);
        let r = lock(&region);
        r.query_events(&query)
            .into_iter()
            .map(|e| Event {
                source_identifier: Some(e.source_identifier),
                source_type: Some(e.source_type.as_str().to_string()),
                message: Some(e.message),
                date: Some(Timestamp(e.date)),
            })
            .collect()
    };
    let page = page(events, input.marker.as_deref(), max)?;
    Ok(DescribeEventsOutput {
        events: Some(page.items),
        marker: page.marker,
    })
}
