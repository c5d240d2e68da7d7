//! Every error string the Redis engine sends, in one place (exact Redis wording).
//!
//! Place in the flow: parsers and handlers return these (as [`CmdError`]) and the dispatcher
//! writes them with [`crate::resp::Reply::error`], counting them in INFO `errorstats` by their
//! first word.

use std::borrow::Cow;

/// An error reply; the text starts with its code (`ERR`, `WRONGTYPE`, `NOAUTH`, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CmdError(pub Cow<'static, str>);

impl CmdError {
    /// The error code: the first word (used by INFO errorstats and MULTI bookkeeping).
    pub fn code(&self) -> &str {
        self.0.split(' ').next().unwrap_or("ERR")
    }
}

impl From<&'static str> for CmdError {
    fn from(s: &'static str) -> Self {
        CmdError(Cow::Borrowed(s))
    }
}

impl From<String> for CmdError {
    fn from(s: String) -> Self {
        CmdError(Cow::Owned(s))
    }
}

/// Result of a command handler.
pub type CmdResult = Result<(), CmdError>;

// Protocol (the connection is closed after these).
/// Inline line longer than the inline limit.
pub const PROTO_INLINE_TOO_BIG: &str = "Protocol error: too big inline request";
/// Quotes not closed, or closed and followed by a non-space.
pub const PROTO_UNBALANCED_QUOTES: &str = "Protocol error: unbalanced quotes in request";
/// `*N` not a number or out of range.
pub const PROTO_INVALID_MULTIBULK: &str = "Protocol error: invalid multibulk length";
/// `*N` header line without terminator within the header limit.
pub const PROTO_MBULK_COUNT_TOO_BIG: &str = "Protocol error: too big mbulk count string";
/// `$N` header line without terminator within the header limit.
pub const PROTO_BULK_COUNT_TOO_BIG: &str = "Protocol error: too big bulk count string";
/// `$N` not a number, negative or above `proto-max-bulk-len`.
pub const PROTO_INVALID_BULK: &str = "Protocol error: invalid bulk length";
/// Multibulk count above 10 before AUTH.
pub const PROTO_UNAUTH_MULTIBULK: &str = "Protocol error: unauthenticated multibulk length";
/// Bulk length above 16384 before AUTH.
pub const PROTO_UNAUTH_BULK: &str = "Protocol error: unauthenticated bulk length";

/// `Protocol error: expected '$', got 'x'`.
pub fn proto_expected_dollar(got: u8) -> &'static str {
    // Built once per process (256 short strings) so the decoder stays allocation-free and its
    // error type `'static`.
    static TABLE: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    let t = TABLE.get_or_init(|| {
        (0u8..=255)
            .map(|b| {
                let c = if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '?'
                };
                &*Box::leak(format!("Protocol error: expected '$', got '{c}'").into_boxed_str())
            })
            .collect()
    });
    t[got as usize]
}

// Generic.
/// Generic syntax error.
pub const SYNTAX: &str = "ERR syntax error";
/// LMPOP/ZMPOP/BLMPOP/BZMPOP with `COUNT` 0 or negative.
pub const COUNT_NOT_POSITIVE: &str = "ERR count should be greater than 0";
/// Integer argument parse failure.
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
/// Float argument parse failure.
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
/// Operation against a key of the wrong type.
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
/// Missing key where one is required (RENAME…).
pub const NO_SUCH_KEY: &str = "ERR no such key";
/// INCR family overflow.
pub const INCR_OVERFLOW: &str = "ERR increment or decrement would overflow";
/// INCRBYFLOAT producing NaN/Inf.
pub const INCR_NAN: &str = "ERR increment would produce NaN or Infinity";
/// SELECT / MOVE / SWAPDB out of range.
pub const DB_INDEX_OUT_OF_RANGE: &str = "ERR DB index is out of range";
/// An integer argument Redis reads as a C `int` (SELECT and MOVE database indexes).
pub const INT_OUT_OF_RANGE: &str =
    "ERR value is out of range, value must between -2147483648 and 2147483647";
/// Invalid expire time argument.
pub fn invalid_expire(cmd: &str) -> CmdError {
    CmdError(format!("ERR invalid expire time in '{cmd}' command").into())
}
/// Memory limit reached under `noeviction`.
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
/// Command needs AUTH first.
pub const NOAUTH: &str = "NOAUTH Authentication required.";
/// Wrong password (Redis 6+ wording).
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
/// AUTH without a configured password.
pub const AUTH_NOT_CONFIGURED: &str = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?";
/// Nested MULTI.
pub const MULTI_NESTED: &str = "ERR MULTI calls can not be nested";
/// EXEC without MULTI.
pub const EXEC_NO_MULTI: &str = "ERR EXEC without MULTI";
/// DISCARD without MULTI.
pub const DISCARD_NO_MULTI: &str = "ERR DISCARD without MULTI";
/// WATCH inside MULTI.
pub const WATCH_IN_MULTI: &str = "ERR WATCH inside MULTI is not allowed";
/// EXEC after a queueing error.
pub const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";
/// String values above 512 MB.
pub const STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
/// Bit offsets out of range.
pub const BIT_OFFSET: &str = "ERR bit offset is not an integer or out of range";
/// Bit value not 0/1.
pub const BIT_VALUE: &str = "ERR bit is not an integer or out of range";
/// Source and destination equal (COPY…).
pub const SAME_OBJECT: &str = "ERR source and destination objects are the same";
/// A write sent to a replica.
pub const READONLY_REPLICA: &str = "READONLY You can't write against a read only replica.";
/// A primary with fewer good replicas than `min-replicas-to-write` refuses writes.
pub const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";
/// WAIT on a replica.
pub const WAIT_ON_REPLICA: &str = "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.";
/// Keys of one command in different hash slots.
pub const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";
/// A slot no shard serves.
pub const CLUSTERDOWN_UNBOUND: &str = "CLUSTERDOWN Hash slot not served";
/// CLUSTER on a node without cluster mode.
pub const CLUSTER_DISABLED: &str = "ERR This instance has cluster support disabled";
/// Cluster-mode SELECT.
pub const SELECT_CLUSTER: &str = "ERR SELECT is not allowed in cluster mode";

/// The refusal of a node marked broken after a command panicked.
pub fn node_broken(reason: &str) -> CmdError {
    CmdError(
        format!(
            "ERR node is broken: an earlier command panicked ({reason}) and may have left a write half-applied; reboot the node to recover"
        )
        .into(),
    )
}

/// `ERR wrong number of arguments for 'xxx' command` (name as the client typed it, lowercased).
pub fn wrong_arity(name: &str) -> CmdError {
    CmdError(format!("ERR wrong number of arguments for '{name}' command").into())
}

/// `ERR unknown command 'x', with args beginning with: 'a' 'b' `.
pub fn unknown_command(name: &[u8], args: &[&[u8]]) -> CmdError {
    let mut s = format!(
        "ERR unknown command '{}', with args beginning with: ",
        show(name, 128)
    );
    for a in args.iter().take(20) {
        s.push_str(&format!("'{}' ", show(a, 128)));
    }
    CmdError(s.into())
}

/// `ERR unknown subcommand 'x'. Try CONTAINER HELP.`
pub fn unknown_subcommand(container: &str, sub: &[u8]) -> CmdError {
    CmdError(
        format!(
            "ERR unknown subcommand '{}'. Try {} HELP.",
            show(sub, 128),
            container.to_ascii_uppercase()
        )
        .into(),
    )
}

/// The bytes before the first NUL, as Redis's `%s` of a client argument prints them.
pub fn c_string(b: &[u8]) -> &[u8] {
    b.split(|&c| c == 0).next().unwrap_or(b)
}

/// Lossy, truncated rendering of client bytes inside error messages.
pub fn show(b: &[u8], max: usize) -> String {
    let b = &b[..b.len().min(max)];
    String::from_utf8_lossy(b).replace(['\r', '\n'], " ")
}
