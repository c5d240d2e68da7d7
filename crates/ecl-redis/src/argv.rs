//! Command arguments: a zero-copy view ([`Argv`]) and an owned form ([`OwnedArgv`]) for commands
//! that outlive the input buffer (MULTI queue, blocked clients), plus argument parsers that
//! produce Redis' exact error strings.
//!
//! Place in the flow: the connection builds an `Argv` over decoder offsets and hands it to the
//! dispatcher; handlers read arguments with `argv.get(i)` after the table checked the arity.

use crate::db::string::{parse_f64, parse_i64};
use crate::errors::{self, CmdError};

/// Borrowed command arguments (argument 0 is the command name).
#[derive(Clone, Copy, Debug)]
pub struct Argv<'a> {
    buf: &'a [u8],
    offs: &'a [(usize, usize)],
}

impl<'a> Argv<'a> {
    /// View over `buf` with `(start, end)` offsets.
    pub fn new(buf: &'a [u8], offs: &'a [(usize, usize)]) -> Argv<'a> {
        Argv { buf, offs }
    }

    /// Number of arguments including the command name.
    pub fn len(&self) -> usize {
        self.offs.len()
    }

    /// Whether there are no arguments at all.
    pub fn is_empty(&self) -> bool {
        self.offs.is_empty()
    }

    /// Argument `i`, or an empty slice when out of range (never panics).
    pub fn get(&self, i: usize) -> &'a [u8] {
        match self.offs.get(i) {
            Some(&(s, e)) => self.buf.get(s..e).unwrap_or(&[]),
            None => &[],
        }
    }

    /// Iterates arguments from index `from`.
    pub fn iter_from(&self, from: usize) -> impl ExactSizeIterator<Item = &'a [u8]> + 'a {
        let buf = self.buf;
        self.offs
            .get(from..)
            .unwrap_or(&[])
            .iter()
            .map(move |&(s, e)| buf.get(s..e).unwrap_or(&[]))
    }

    /// Copies the arguments into an owned form.
    pub fn to_owned(&self) -> OwnedArgv {
        let mut o = OwnedArgv::default();
        for a in self.iter_from(0) {
            o.push(a);
        }
        o
    }

    /// Whether argument `i` equals `word` ignoring ASCII case.
    pub fn is(&self, i: usize, word: &str) -> bool {
        self.get(i).eq_ignore_ascii_case(word.as_bytes())
    }

    /// Argument `i` as a strict integer (`ERR value is not an integer or out of range`).
    pub fn i64(&self, i: usize) -> Result<i64, CmdError> {
        parse_i64(self.get(i)).ok_or_else(|| errors::NOT_INTEGER.into())
    }

    /// Argument `i` as a float (`ERR value is not a valid float`).
    pub fn f64(&self, i: usize) -> Result<f64, CmdError> {
        parse_f64(self.get(i)).ok_or_else(|| errors::NOT_FLOAT.into())
    }

    /// Argument `i` as a non-negative integer that fits `usize`.
    pub fn usize(&self, i: usize) -> Result<usize, CmdError> {
        match parse_i64(self.get(i)) {
            Some(v) if v >= 0 => Ok(v as usize),
            _ => Err(errors::NOT_INTEGER.into()),
        }
    }

    /// Argument `i` as UTF-8 text (lossy), for names and options.
    pub fn str(&self, i: usize) -> String {
        String::from_utf8_lossy(self.get(i)).into_owned()
    }
}

/// Owned command arguments.
#[derive(Clone, Debug, Default)]
pub struct OwnedArgv {
    buf: Vec<u8>,
    offs: Vec<(usize, usize)>,
}

impl OwnedArgv {
    /// Builds from byte slices.
    pub fn from_slices<'b>(args: impl IntoIterator<Item = &'b [u8]>) -> OwnedArgv {
        let mut o = OwnedArgv::default();
        for a in args {
            o.push(a);
        }
        o
    }

    /// Appends an argument.
    pub fn push(&mut self, a: &[u8]) {
        let s = self.buf.len();
        self.buf.extend_from_slice(a);
        self.offs.push((s, self.buf.len()));
    }

    /// Removes every argument, keeping the memory for the next command line.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.offs.clear();
    }

    /// Borrowed view.
    pub fn as_argv(&self) -> Argv<'_> {
        Argv::new(&self.buf, &self.offs)
    }

    /// Bytes held (for client memory accounting).
    pub fn mem_size(&self) -> usize {
        self.buf.capacity() + self.offs.capacity() * 16
    }
}

/// Lowercases a command name into a stack buffer for table lookups; `None` if too long to be
/// any command.
pub fn lower_name(name: &[u8], buf: &mut [u8; 32]) -> Option<usize> {
    if name.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    Some(name.len())
}
