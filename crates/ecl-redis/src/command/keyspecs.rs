//! Declared key specs of the commands whose keys are found by a function ([`super::Keys::Custom`]):
//! what `COMMAND INFO` tells cluster clients about where their keys are (a `keynum` argument,
//! a `STORE` / `STREAMS` keyword, or `unknown` for SORT's patterns), as Redis 7.0 declares them.
//!
//! Place in the flow: read by the `COMMAND` introspection handler only. Dispatch, ACL and
//! cluster routing find these commands' keys with the entry's key function, which handles
//! every syntax exactly; the declarations here describe them for clients.

use crate::cmdtable::ks;

/// Where the search for a spec's keys starts.
#[derive(Clone, Copy, Debug)]
pub enum Begin {
    /// At a fixed argument index.
    Index(i32),
    /// After `keyword`, searched from argument `startfrom` (negative: from the end).
    Keyword(&'static str, i32),
    /// Not describable (key names computed from values).
    Unknown,
}

/// How the keys are found from the start.
#[derive(Clone, Copy, Debug)]
pub enum Find {
    /// `lastkey` (relative; negative counts from the end), `keystep`, `limit`.
    Range(i32, i32, i32),
    /// The key count at `keynumidx`, the first key at `firstkey`, every `keystep`th argument.
    Keynum(i32, i32, i32),
    /// Not describable.
    Unknown,
}

/// One key spec.
#[derive(Clone, Copy, Debug)]
pub struct KeySpec {
    /// Key-spec flags ([`ks`]).
    pub flags: u16,
    /// Where the search starts.
    pub begin: Begin,
    /// How the keys are found.
    pub find: Find,
}

const fn spec(flags: u16, begin: Begin, find: Find) -> KeySpec {
    KeySpec { flags, begin, find }
}

const RO_ACCESS: u16 = ks::RO | ks::ACCESS;
const RW_DELETE_POP: u16 = ks::RW | ks::ACCESS | ks::DELETE;
const OW_UPDATE: u16 = ks::OW | ks::UPDATE;
const ONE: Find = Find::Range(0, 1, 0);
const KEYNUM: Find = Find::Keynum(0, 1, 1);

/// Declared specs per command, sorted by name for binary search.
const DECLARED: &[(&str, &[KeySpec])] = &[
    ("blmpop", &[spec(RW_DELETE_POP, Begin::Index(2), KEYNUM)]),
    ("bzmpop", &[spec(RW_DELETE_POP, Begin::Index(2), KEYNUM)]),
    (
        "eval",
        &[spec(
            ks::RW | ks::ACCESS | ks::UPDATE,
            Begin::Index(2),
            KEYNUM,
        )],
    ),
    ("eval_ro", &[spec(RO_ACCESS, Begin::Index(2), KEYNUM)]),
    (
        "evalsha",
        &[spec(
            ks::RW | ks::ACCESS | ks::UPDATE,
            Begin::Index(2),
            KEYNUM,
        )],
    ),
    ("evalsha_ro", &[spec(RO_ACCESS, Begin::Index(2), KEYNUM)]),
    (
        "fcall",
        &[spec(
            ks::RW | ks::ACCESS | ks::UPDATE,
            Begin::Index(2),
            KEYNUM,
        )],
    ),
    ("fcall_ro", &[spec(RO_ACCESS, Begin::Index(2), KEYNUM)]),
    (
        "georadius",
        &[
            spec(RO_ACCESS, Begin::Index(1), ONE),
            spec(OW_UPDATE, Begin::Keyword("STORE", 6), ONE),
            spec(OW_UPDATE, Begin::Keyword("STOREDIST", 6), ONE),
        ],
    ),
    (
        "georadiusbymember",
        &[
            spec(RO_ACCESS, Begin::Index(1), ONE),
            spec(OW_UPDATE, Begin::Keyword("STORE", 5), ONE),
            spec(OW_UPDATE, Begin::Keyword("STOREDIST", 5), ONE),
        ],
    ),
    ("lmpop", &[spec(RW_DELETE_POP, Begin::Index(1), KEYNUM)]),
    ("sintercard", &[spec(RO_ACCESS, Begin::Index(1), KEYNUM)]),
    (
        "sort",
        &[
            spec(RO_ACCESS, Begin::Index(1), ONE),
            spec(RO_ACCESS, Begin::Unknown, Find::Unknown),
            spec(OW_UPDATE, Begin::Unknown, Find::Unknown),
        ],
    ),
    (
        "sort_ro",
        &[
            spec(RO_ACCESS, Begin::Index(1), ONE),
            spec(RO_ACCESS, Begin::Unknown, Find::Unknown),
        ],
    ),
    (
        "xread",
        &[spec(
            RO_ACCESS,
            Begin::Keyword("STREAMS", 1),
            Find::Range(-1, 1, 2),
        )],
    ),
    (
        "xreadgroup",
        &[spec(
            RO_ACCESS,
            Begin::Keyword("STREAMS", 4),
            Find::Range(-1, 1, 2),
        )],
    ),
    ("zdiff", &[spec(RO_ACCESS, Begin::Index(1), KEYNUM)]),
    (
        "zdiffstore",
        &[
            spec(OW_UPDATE, Begin::Index(1), ONE),
            spec(RO_ACCESS, Begin::Index(2), KEYNUM),
        ],
    ),
    ("zinter", &[spec(RO_ACCESS, Begin::Index(1), KEYNUM)]),
    ("zintercard", &[spec(RO_ACCESS, Begin::Index(1), KEYNUM)]),
    (
        "zinterstore",
        &[
            spec(OW_UPDATE, Begin::Index(1), ONE),
            spec(RO_ACCESS, Begin::Index(2), KEYNUM),
        ],
    ),
    ("zmpop", &[spec(RW_DELETE_POP, Begin::Index(1), KEYNUM)]),
    ("zunion", &[spec(RO_ACCESS, Begin::Index(1), KEYNUM)]),
    (
        "zunionstore",
        &[
            spec(OW_UPDATE, Begin::Index(1), ONE),
            spec(RO_ACCESS, Begin::Index(2), KEYNUM),
        ],
    ),
];

/// The declared key specs of `full_name`, if it is a computed-keys command listed here.
pub fn declared(full_name: &str) -> Option<&'static [KeySpec]> {
    DECLARED
        .binary_search_by(|(name, _)| (*name).cmp(full_name))
        .ok()
        .map(|i| DECLARED[i].1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_sorted_for_binary_search() {
        assert!(super::DECLARED.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(super::declared("zunionstore").is_some_and(|s| s.len() == 2));
        assert!(super::declared("get").is_none());
    }
}
