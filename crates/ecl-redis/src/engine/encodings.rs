//! The encodings a node gives its collections: the listpack and intset limits its
//! configuration sets, and fitting a value loaded from a file or a primary to them.
//!
//! Place in the flow: engine-level rules read by the command families (`command::coll`) and
//! by loading (`crate::persistence`, replication), which runs outside any command.

use super::Engine;
use crate::db::set::SetLimits;
use crate::db::{Key, Value};
use crate::version;

/// The listpack limits (entries, value bytes) of a hash, zset or set under this node's
/// configuration.
pub fn listpack_limits_of(eng: &Engine, ty: &str) -> (usize, usize) {
    let limits = &eng.cfg.encoding;
    let (e, v) = match ty {
        "hash" => limits.hash,
        "zset" => limits.zset,
        _ => limits.set,
    };
    (e.max(0) as usize, v.max(0) as usize)
}

pub fn set_limits_of(eng: &Engine) -> SetLimits {
    let (mut listpack_entries, listpack_value) = listpack_limits_of(eng, "set");
    if eng.info.compat < version::v(7, 2, 0) {
        listpack_entries = 0;
    }
    SetLimits {
        intset_entries: eng.cfg.encoding.intset_entries.max(0) as usize,
        listpack_entries,
        listpack_value,
    }
}

/// Converts a loaded or restored value to the encoding this node would give it (its release
/// and its `*-max-listpack-*` / `set-max-intset-entries` settings); `command::coll::fit_encoding`
/// does the same inside a command, RDB loading calls this outside one.
pub fn fit_encoding_in(eng: &Engine, v: &mut Value) {
    match v {
        Value::List(l) => {
            let max =
                (eng.info.compat >= version::v(7, 2, 0)).then_some(eng.cfg.encoding.list_size);
            l.check_encoding(max);
        }
        Value::Hash(h) => {
            let (me, mv) = listpack_limits_of(eng, "hash");
            let longest = h
                .iter()
                .map(|(k, v)| k.len().max(v.len()))
                .max()
                .unwrap_or(0);
            h.check_encoding(me, mv, longest);
        }
        Value::Set(s) => {
            let lim = set_limits_of(eng);
            let all: Vec<Key> = s.iter().cloned().collect();
            let refs: Vec<&[u8]> = all.iter().map(|m| &m[..]).collect();
            s.check_encoding(lim, &refs);
        }
        Value::ZSet(z) => {
            let (me, mv) = listpack_limits_of(eng, "zset");
            let longest = z.dict().iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            z.check_encoding(me, mv, longest);
        }
        _ => {}
    }
}
