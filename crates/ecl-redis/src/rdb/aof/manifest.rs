//! The AOF manifest: which files make up the append-only file, in Redis 7's multi-part
//! layout (`<appendfilename>.manifest` in `appenddirname`).
//!
//! Place in the flow: [`super`] reads it at node start to know what to load, rewrites it
//! atomically (temporary file, fsync, rename) whenever the set of files changes (a new
//! incremental file, a finished rewrite). One line per file, as Redis 7 writes it:
//! `file <name> seq <n> type <b|i|h>` — `b` the base (an RDB image, or commands), `i` the
//! incremental files in order, `h` files of a finished rewrite awaiting deletion.

use std::io::Write;
use std::path::Path;

/// One file named by the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// File name inside the AOF directory.
    pub name: String,
    /// Sequence number (base and incremental files count separately).
    pub seq: u64,
}

/// The parsed manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The base file (absent only in a manifest Redis wrote before any rewrite).
    pub base: Option<FileEntry>,
    /// Incremental files, oldest first.
    pub incrs: Vec<FileEntry>,
    /// Files of an earlier generation, to delete.
    pub history: Vec<FileEntry>,
}

impl Manifest {
    /// Parses manifest text; the error names the line that is wrong.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split_ascii_whitespace().collect();
            let field = |k: &str| {
                words
                    .chunks(2)
                    .find(|p| p.len() == 2 && p[0] == k)
                    .map(|p| p[1])
            };
            let bad = || format!("invalid AOF manifest line {}: {line}", n + 1);
            let (Some(name), Some(seq), Some(kind)) = (field("file"), field("seq"), field("type"))
            else {
                return Err(bad());
            };
            let seq = seq.parse().map_err(|_| bad())?;
            if name.contains('/') {
                return Err(bad());
            }
            let e = FileEntry {
                name: name.to_string(),
                seq,
            };
            match kind {
                "b" if m.base.is_none() => m.base = Some(e),
                "i" => m.incrs.push(e),
                "h" => m.history.push(e),
                _ => return Err(bad()),
            }
        }
        if m.base.is_none() && m.incrs.is_empty() {
            return Err("AOF manifest names no base and no incremental file".into());
        }
        Ok(m)
    }

    /// The manifest text, in Redis' line format (base, history, then incrementals).
    pub fn render(&self) -> String {
        let mut s = String::new();
        let mut line = |e: &FileEntry, t: char| {
            s.push_str(&format!("file {} seq {} type {t}\n", e.name, e.seq));
        };
        if let Some(b) = &self.base {
            line(b, 'b');
        }
        for h in &self.history {
            line(h, 'h');
        }
        for i in &self.incrs {
            line(i, 'i');
        }
        s
    }

    /// Sequence number for the next incremental file.
    pub fn next_incr_seq(&self) -> u64 {
        self.incrs.iter().map(|e| e.seq).max().unwrap_or(0) + 1
    }

    /// Sequence number for the next base file.
    pub fn next_base_seq(&self) -> u64 {
        self.base.as_ref().map_or(0, |e| e.seq) + 1
    }
}

/// Writes `dir/name` atomically and durably: temporary file, fsync, rename, fsync of the
/// directory (a crash leaves the old or the new file, never a mix).
pub fn write_durably(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!("temp-{name}.{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(name))?;
    sync_dir(dir)
}

/// Makes a directory's entries (created, renamed files) durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_renders_and_redis_lines() {
        let text = "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.2.incr.aof seq 2 type i\n";
        let m = Manifest::parse(text).expect("manifest");
        assert_eq!(m.base.as_ref().map(|b| b.seq), Some(1));
        assert_eq!(m.incrs.len(), 2);
        assert_eq!(m.next_incr_seq(), 3);
        assert_eq!(m.render(), text);
        assert!(Manifest::parse("file x seq one type i\n").is_err());
        assert!(Manifest::parse("file x seq 1 type z\n").is_err());
        assert!(Manifest::parse("\n").is_err());
    }
}
