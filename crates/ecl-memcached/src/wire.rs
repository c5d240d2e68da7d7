//! Every exact reply string of the text and meta protocols, in one place.
//!
//! Place in the flow: the parsers (`protocol::*`) choose these and the executors
//! (`execute::*`) write these bytes into a connection's output buffer. The texts are those
//! memcached 1.6 sends, byte for byte (checked against a stock memcached by the compatibility
//! suite), so clients that match on them behave identically.

/// Success of a storage command.
pub const STORED: &[u8] = b"STORED\r\n";
/// add/replace/append/prepend condition not met.
pub const NOT_STORED: &[u8] = b"NOT_STORED\r\n";
/// cas on an item modified since it was fetched.
pub const EXISTS: &[u8] = b"EXISTS\r\n";
/// Item absent (cas, delete, incr/decr, touch).
pub const NOT_FOUND: &[u8] = b"NOT_FOUND\r\n";
/// delete succeeded.
pub const DELETED: &[u8] = b"DELETED\r\n";
/// touch succeeded.
pub const TOUCHED: &[u8] = b"TOUCHED\r\n";
/// End of a retrieval or stats reply.
pub const END: &[u8] = b"END\r\n";
/// flush_all / verbosity / cache_memlimit success.
pub const OK: &[u8] = b"OK\r\n";
/// `stats reset` success.
pub const RESET: &[u8] = b"RESET\r\n";
/// Unknown command or wrong number of tokens.
pub const ERROR: &[u8] = b"ERROR\r\n";
/// Malformed command line.
pub const BAD_FORMAT: &[u8] = b"CLIENT_ERROR bad command line format\r\n";
/// Data block not terminated by `\r\n`.
pub const BAD_CHUNK: &[u8] = b"CLIENT_ERROR bad data chunk\r\n";
/// Item bigger than the item size limit.
pub const TOO_LARGE: &[u8] = b"SERVER_ERROR object too large for cache\r\n";
/// No memory (with `-M`, or an item bigger than the whole cache).
pub const OUT_OF_MEMORY: &[u8] = b"SERVER_ERROR out of memory storing object\r\n";
/// incr/decr on a value that is not a decimal 64-bit unsigned number.
pub const NON_NUMERIC: &[u8] = b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n";
/// incr/decr delta that is not a number.
pub const INVALID_DELTA: &[u8] = b"CLIENT_ERROR invalid numeric delta argument\r\n";
/// touch/gat/flush_all with an exptime that is not a number.
pub const INVALID_EXPTIME: &[u8] = b"CLIENT_ERROR invalid exptime argument\r\n";
/// delete with a time argument other than 0.
pub const DELETE_USAGE: &[u8] =
    b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n";
/// flush_all on a node started with flush disabled (`-F`).
pub const FLUSH_DISABLED: &[u8] = b"CLIENT_ERROR flush_all not allowed\r\n";
/// `shutdown` is never enabled on an emulated node.
pub const SHUTDOWN_DISABLED: &[u8] = b"ERROR: shutdown not enabled\r\n";
/// `slabs reassign` replies (memcached 1.6.18).
pub const REASSIGN_SAME: &[u8] = b"SAME src and dst class are identical\r\n";
/// A class id outside memcached's slab classes (0, the global page pool, included).
pub const REASSIGN_BADCLASS: &[u8] = b"BADCLASS invalid src or dst class id\r\n";
/// The source class has fewer than two pages.
pub const REASSIGN_NOSPARE: &[u8] = b"NOSPARE source class has no spare pages\r\n";
/// `watch` behind other requests whose replies are not sent yet.
pub const WATCH_PIPELINED: &[u8] = b"ERROR cannot pipeline other commands before watch\r\n";
/// `watch` while a node already has 20 watchers (memcached's limit).
pub const WATCHER_TOO_MANY: &[u8] = b"WATCHER_TOO_MANY log watcher limit reached\r\n";
/// `stats detail` with a wrong argument.
pub const STATS_DETAIL_USAGE: &[u8] = b"CLIENT_ERROR usage: stats detail on|off|dump\r\n";
/// `stats cachedump` with the wrong number of arguments.
pub const CACHEDUMP_USAGE: &[u8] = b"CLIENT_ERROR bad command line\r\n";
/// `cache_memlimit` below memcached's 8 MB floor.
pub const MEMLIMIT_TOO_SMALL: &[u8] = b"MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n";
/// `cache_memlimit` over 1,000,000,000 (memcached takes it for a byte count given by mistake).
pub const MEMLIMIT_NOT_BYTES: &[u8] =
    b"MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes\r\n";
/// Sent before closing a connection over the connection limit.
pub const TOO_MANY_CONNECTIONS: &[u8] = b"ERROR Too many open connections\r\n";

/// Meta: success without value.
pub const MN: &[u8] = b"MN\r\n";
/// Meta: miss.
pub const EN: &[u8] = b"EN\r\n";
/// Meta: bad token (e.g. `T` without a number).
pub const BAD_TOKEN: &[u8] = b"CLIENT_ERROR bad token in command line format\r\n";
/// Meta: a flag given twice.
pub const DUPLICATE_FLAG: &[u8] = b"CLIENT_ERROR duplicate flag\r\n";
/// Meta: a flag the command does not know.
pub const INVALID_FLAG: &[u8] = b"CLIENT_ERROR invalid flag\r\n";
/// Meta ma: a flag it does not know or a bad numeric token.
pub const INVALID_OR_DUPLICATE_FLAG: &[u8] = b"CLIENT_ERROR invalid or duplicate flag\r\n";
/// Meta ms: unknown `M` mode.
pub const INVALID_MS_MODE: &[u8] = b"CLIENT_ERROR invalid mode for ms M token\r\n";
/// Meta ma: unknown `M` mode.
pub const INVALID_MA_MODE: &[u8] = b"CLIENT_ERROR invalid mode for ma M token\r\n";
/// Meta mg/ms: `D` without a number.
pub const INVALID_DELTA_VALUE: &[u8] = b"CLIENT_ERROR invalid numeric delta value\r\n";
/// Meta mg/ms: `J` without a number.
pub const INVALID_INITIAL_VALUE: &[u8] = b"CLIENT_ERROR invalid numeric initial value\r\n";
/// Meta mg/ms: `M` with other than one character.
pub const M_TOKEN_LENGTH: &[u8] = b"CLIENT_ERROR incorrect length for M token\r\n";
/// Meta: `O` token over 32 bytes.
pub const OPAQUE_TOO_LONG: &[u8] = b"CLIENT_ERROR opaque token too long\r\n";
/// Meta: `b` flag with a key that is not valid base64.
pub const KEY_DECODE: &[u8] = b"CLIENT_ERROR error decoding key\r\n";

/// `lru_crawler sleep` over one second.
pub const CRAWLER_SLEEP_TOO_LONG: &[u8] = b"CLIENT_ERROR sleep must be one second or less\r\n";
/// `lru_crawler crawl|metadump` while the crawler is disabled.
pub const CRAWLER_DISABLED: &[u8] = b"CLIENT_ERROR lru crawler disabled\r\n";
/// `lru_crawler crawl|metadump` naming a class that cannot exist.
pub const CRAWLER_BADCLASS: &[u8] = b"BADCLASS invalid class id\r\n";
/// `lru_crawler crawl hash`, which memcached cannot start.
pub const CRAWLER_UNKNOWN_ERROR: &[u8] = b"ERROR an unknown error happened\r\n";
/// `lru_crawler metadump` after other requests of the same batch.
pub const METADUMP_PIPELINED: &[u8] = b"ERROR cannot pipeline other commands before metadump\r\n";
