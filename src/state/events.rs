//! The per-region event log behind DescribeEvents: one entry per lifecycle change, kept for
//! 14 days (AWS's retention) and capped in size so a long-running emulator stays bounded.

use std::collections::VecDeque;

use time::OffsetDateTime;

/// Maximum events kept per region; the oldest go first.
const MAX_EVENTS: usize = 10_000;

/// AWS keeps events for 14 days.
pub const RETENTION: time::Duration = time::Duration::days(14);

/// `SourceType` of an event (the wire strings of the model's enum).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SourceType {
    /// `cache-cluster`
    CacheCluster,
    /// `cache-parameter-group`
    CacheParameterGroup,
    /// `cache-security-group`
    CacheSecurityGroup,
    /// `cache-subnet-group`
    CacheSubnetGroup,
    /// `replication-group`
    ReplicationGroup,
    /// `serverless-cache`
    ServerlessCache,
    /// `serverless-cache-snapshot`
    ServerlessCacheSnapshot,
    /// `user`
    User,
    /// `user-group`
    UserGroup,
}

impl SourceType {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceType::CacheCluster => "cache-cluster",
            SourceType::CacheParameterGroup => "cache-parameter-group",
            SourceType::CacheSecurityGroup => "cache-security-group",
            SourceType::CacheSubnetGroup => "cache-subnet-group",
            SourceType::ReplicationGroup => "replication-group",
            SourceType::ServerlessCache => "serverless-cache",
            SourceType::ServerlessCacheSnapshot => "serverless-cache-snapshot",
            SourceType::User => "user",
            SourceType::UserGroup => "user-group",
        }
    }

    /// Parses the wire string.
    pub fn parse(s: &str) -> Option<SourceType> {
        [
            SourceType::CacheCluster,
            SourceType::CacheParameterGroup,
            SourceType::CacheSecurityGroup,
            SourceType::CacheSubnetGroup,
            SourceType::ReplicationGroup,
            SourceType::ServerlessCache,
            SourceType::ServerlessCacheSnapshot,
            SourceType::User,
            SourceType::UserGroup,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

/// One event.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    /// Identifier of the resource (cluster id, group name, ...).
    pub source_identifier: String,
    /// Kind of resource.
    pub source_type: SourceType,
    /// What happened.
    pub message: String,
    /// When.
    #[serde(with = "super::timestamp")]
    pub date: OffsetDateTime,
}

/// Filters of DescribeEvents, already validated and resolved to a time window.
#[derive(Clone, Debug)]
pub struct EventQuery {
    /// Only events of this resource (compared lower-cased).
    pub source_identifier: Option<String>,
    /// Only events of this kind.
    pub source_type: Option<SourceType>,
    /// Inclusive start of the window.
    pub start: OffsetDateTime,
    /// Inclusive end of the window.
    pub end: OffsetDateTime,
}

/// The event log of one region.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct EventLog {
    events: VecDeque<Event>,
}

impl EventLog {
    /// Appends an event, dropping what is past retention or over the cap.
    pub fn push(&mut self, event: Event) {
        let horizon = event.date - RETENTION;
        while self.events.front().is_some_and(|e| e.date < horizon) {
            self.events.pop_front();
        }
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    /// How many events the log holds.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether the log holds no event.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Matching events, newest first (as AWS lists them).
    pub fn query(&self, q: &EventQuery) -> Vec<Event> {
        let id = q.source_identifier.as_ref().map(|s| s.to_ascii_lowercase());
        self.events
            .iter()
            .rev()
            .filter(|e| e.date >= q.start && e.date <= q.end)
            .filter(|e| q.source_type.is_none_or(|t| e.source_type == t))
            .filter(|e| id.as_ref().is_none_or(|id| e.source_identifier == *id))
            .cloned()
            .collect()
    }
}
