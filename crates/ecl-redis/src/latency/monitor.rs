//! The latency monitor: events slower than `latency-monitor-threshold`, for LATENCY LATEST,
//! HISTORY, RESET and DOCTOR.
//!
//! Place in the flow: the dispatcher records the `command` event when a command ran past the
//! threshold; the LATENCY commands read it. As in Redis, each event keeps its last 160
//! samples, one per second (a second sample in the same second keeps the larger latency), and
//! the largest latency ever seen.

use std::collections::{BTreeMap, VecDeque};

/// Samples kept per event.
const SAMPLES: usize = 160;

/// One event's time series.
#[derive(Debug, Clone, Default)]
pub struct Event {
    /// (Unix s, ms), oldest first.
    pub samples: VecDeque<(i64, u64)>,
    /// The largest latency recorded (ms).
    pub max: u64,
}

impl Event {
    /// The newest sample.
    pub fn latest(&self) -> Option<(i64, u64)> {
        self.samples.back().copied()
    }
}

/// Every event seen since the last reset, by name.
#[derive(Debug, Default)]
pub struct LatencyMonitor {
    events: BTreeMap<String, Event>,
}

impl LatencyMonitor {
    /// Records `ms` of event `name` at `now_s`.
    pub fn record(&mut self, name: &str, now_s: i64, ms: u64) {
        let ev = match self.events.get_mut(name) {
            Some(ev) => ev,
            None => self.events.entry(name.to_string()).or_default(),
        };
        ev.max = ev.max.max(ms);
        match ev.samples.back_mut() {
            Some(last) if last.0 == now_s => last.1 = last.1.max(ms),
            _ => {
                if ev.samples.len() == SAMPLES {
                    ev.samples.pop_front();
                }
                ev.samples.push_back((now_s, ms));
            }
        }
    }

    /// Event `name`, if it was recorded.
    pub fn event(&self, name: &str) -> Option<&Event> {
        self.events.get(name)
    }

    /// Every event, by name.
    pub fn events(&self) -> impl Iterator<Item = (&str, &Event)> {
        self.events.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Forgets `names`, or every event when empty; returns how many were dropped.
    pub fn reset(&mut self, names: &[String]) -> usize {
        if names.is_empty() {
            let n = self.events.len();
            self.events.clear();
            return n;
        }
        names
            .iter()
            .filter(|n| self.events.remove(n.as_str()).is_some())
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sample_per_second_keeps_the_larger_and_the_last_160() {
        let mut m = LatencyMonitor::default();
        m.record("command", 10, 5);
        m.record("command", 10, 3);
        m.record("command", 11, 2);
        let ev = m.event("command").map(|e| e.samples.clone());
        assert_eq!(ev, Some(VecDeque::from([(10, 5), (11, 2)])));
        assert_eq!(m.event("command").map(|e| e.max), Some(5));
        for s in 12..200 {
            m.record("command", s, 1);
        }
        let ev = m.event("command").map(|e| e.samples.len());
        assert_eq!(ev, Some(SAMPLES));
        assert_eq!(m.event("command").and_then(Event::latest), Some((199, 1)));
        assert_eq!(m.reset(&["nope".to_string()]), 0);
        assert_eq!(m.reset(&[]), 1);
        assert!(m.is_empty());
    }
}
