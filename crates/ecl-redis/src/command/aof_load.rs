//! Loading an append-only file: the base (RDB preamble or commands), then every incremental
//! file in manifest order, replayed through the ordinary dispatcher.
//!
//! Place in the flow: called by the node's start (`node::load`) before the node serves
//! anyone, and by DEBUG LOADAOF (`command::debug`). It sits beside the dispatcher it replays
//! through. Faults: an
//! incomplete last command of the last file is cut off with a warning naming the file and the
//! offset (Redis' `aof-load-truncated yes`; the file is truncated there so new writes follow
//! valid content); anything else malformed refuses the start with an error naming the file and
//! the byte offset, so a node never serves half-loaded data silently.

use super::{OwnedArgv, dispatch};
use crate::client::Client;
use crate::engine::Engine;
use crate::rdb::aof::manifest::Manifest;
use crate::resp::Reply;
use std::io;
use std::path::Path;

/// One step of the RESP command parser.
enum Parsed {
    /// A complete command and the offset after it.
    Cmd(Vec<Vec<u8>>, usize),
    /// The bytes end inside a command.
    Incomplete,
    /// Malformed at this offset.
    Bad(usize),
}

/// Reads one `\r\n`-terminated line starting at `p`: its content and the offset after it.
fn line(b: &[u8], p: usize) -> Option<(&[u8], usize)> {
    let rel = b.get(p..)?.windows(2).position(|w| w == b"\r\n")?;
    Some((&b[p..p + rel], p + rel + 2))
}

/// Parses `<prefix><number>\r\n` at `p`.
fn header(b: &[u8], p: usize, prefix: u8) -> Result<(usize, usize), Parsed> {
    match b.get(p) {
        None => return Err(Parsed::Incomplete),
        Some(c) if *c != prefix => return Err(Parsed::Bad(p)),
        _ => {}
    }
    let Some((text, next)) = line(b, p + 1) else {
        // A header longer than any length can be is corruption, not truncation.
        return Err(if b.len() - p > 24 {
            Parsed::Bad(p)
        } else {
            Parsed::Incomplete
        });
    };
    let n = std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse::<usize>().ok())
        .ok_or(Parsed::Bad(p))?;
    Ok((n, next))
}

/// Parses the command at `p` (`*N\r\n` then N bulk strings).
fn next_cmd(b: &[u8], p: usize) -> Parsed {
    let (n, mut q) = match header(b, p, b'*') {
        Ok(v) => v,
        Err(e) => return e,
    };
    if n == 0 {
        return Parsed::Bad(p);
    }
    let mut args = Vec::with_capacity(n);
    for _ in 0..n {
        let (len, data) = match header(b, q, b'$') {
            Ok(v) => v,
            Err(e) => return e,
        };
        let end = data + len;
        if b.len() < end + 2 {
            return Parsed::Incomplete;
        }
        if &b[end..end + 2] != b"\r\n" {
            return Parsed::Bad(end);
        }
        args.push(b[data..end].to_vec());
        q = end + 2;
    }
    Parsed::Cmd(args, q)
}

/// Runs one command of the file (expiry suspended, as Redis does while loading).
fn apply(eng: &mut Engine, client: &mut Client, args: &[Vec<u8>]) -> Result<(), String> {
    let owned = OwnedArgv::from_slices(args.iter().map(|a| a.as_slice()));
    let mut sink = Reply::new();
    dispatch::dispatch(eng, client, &mut sink, &owned.as_argv());
    if sink.buf.starts_with(b"-ERR unknown command") {
        return Err(format!(
            "unknown command '{}'",
            String::from_utf8_lossy(&args[0])
        ));
    }
    Ok(())
}

/// Replays the commands of one file. Returns the length of its valid prefix: the whole file,
/// or (only when `may_truncate`) up to the last complete command or transaction.
fn replay(eng: &mut Engine, b: &[u8], path: &Path, may_truncate: bool) -> io::Result<usize> {
    let bad = |at: usize, why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "Bad file format reading the append only file {} at byte {at}: {why}",
                path.display()
            ),
        )
    };
    let mut client = Client::new(0, true);
    client.master = true;
    // Redis runs a loaded command's implementation directly, outside the call() that counts
    // and logs commands: after a restart INFO commandstats shows none of the replayed ones
    // (checked on redis-server 7.0.15: SET, INCR, RPUSH in the AOF, total_commands_processed
    // 1 for the first INFO after the restart).
    client.uncounted = true;
    eng.begin_batch();
    let (mut pos, mut valid) = (0usize, 0usize);
    let mut txn: Option<Vec<Vec<Vec<u8>>>> = None;
    while pos < b.len() {
        if b[pos] == b'#' {
            // An annotation line (`#TS:…` with aof-timestamp-enabled): no command.
            match b[pos..].iter().position(|c| *c == b'\n') {
                Some(n) => pos += n + 1,
                None => break,
            }
            continue;
        }
        match next_cmd(b, pos) {
            Parsed::Cmd(args, end) => {
                pos = end;
                let name = args[0].to_ascii_lowercase();
                if name == b"multi" {
                    txn = Some(Vec::new());
                } else if name == b"exec" {
                    for c in txn.take().unwrap_or_default() {
                        apply(eng, &mut client, &c).map_err(|e| bad(end, &e))?;
                    }
                    valid = end;
                } else if let Some(t) = &mut txn {
                    t.push(args);
                } else {
                    apply(eng, &mut client, &args).map_err(|e| bad(end, &e))?;
                    valid = end;
                }
            }
            Parsed::Incomplete => break,
            Parsed::Bad(at) => return Err(bad(at, "malformed command")),
        }
    }
    if valid < b.len() && !may_truncate {
        return Err(bad(valid, "unexpected end of file"));
    }
    Ok(valid)
}

/// Loads the AOF described by `dir/<name>.manifest`. Returns `Ok(None)` when there is no
/// manifest (no AOF yet), else the parsed manifest.
pub fn load(
    eng: &mut Engine,
    dir: &Path,
    name: &str,
    truncated_ok: bool,
) -> io::Result<Option<Manifest>> {
    let mpath = dir.join(format!("{name}.manifest"));
    let text = match std::fs::read_to_string(&mpath) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let manifest = Manifest::parse(&text).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", mpath.display()),
        )
    })?;
    eng.flush_all();
    if let Some(base) = &manifest.base {
        let path = dir.join(&base.name);
        let bytes = std::fs::read(&path)?;
        if bytes.starts_with(b"REDIS") {
            crate::persistence::apply(eng, &bytes).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "Bad file format reading the append only file {}: {e}",
                        path.display()
                    ),
                )
            })?;
        } else {
            replay(eng, &bytes, &path, false)?;
        }
    }
    let last = manifest.incrs.len().saturating_sub(1);
    for (i, incr) in manifest.incrs.iter().enumerate() {
        let path = dir.join(&incr.name);
        let bytes = match std::fs::read(&path) {
            // Redis creates the incremental file before naming it; a missing last one is empty.
            Err(e) if e.kind() == io::ErrorKind::NotFound && i == last => Vec::new(),
            r => r?,
        };
        let valid = replay(eng, &bytes, &path, i == last && truncated_ok)?;
        if valid < bytes.len() {
            tracing::warn!(
                file = %path.display(),
                offset = valid,
                "AOF ends with an incomplete command: loaded up to the last complete one and truncated the file there (aof-load-truncated yes)"
            );
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)?
                .set_len(valid as u64)?;
        }
    }
    Ok(Some(manifest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_tells_truncation_from_corruption() {
        let b = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
        assert!(matches!(next_cmd(b, 0), Parsed::Cmd(a, 20) if a.len() == 2));
        assert!(matches!(next_cmd(&b[..15], 0), Parsed::Incomplete));
        assert!(matches!(
            next_cmd(b"*2\r\n$3\r\nGETX\r\n", 0),
            Parsed::Bad(11)
        ));
        assert!(matches!(next_cmd(b"+OK\r\n", 0), Parsed::Bad(0)));
    }
}
