//! The flags a command runs with, as the checks before it see them.
//!
//! Place in the flow: [`super::dispatch`] reads a command's flags from the table; for the
//! script runners it asks here first. A script that declares its flags (a `#!lua` line, and
//! every function) runs with those instead of EVAL's or FCALL's own, as Redis'
//! `getCommandFlags` rules: a `no-writes` script is no write, so CLIENT PAUSE WRITE lets it
//! run; a script that may write is a write and denies OOM unless it says `allow-oom`.
//! A transaction is judged by the union of its commands' run flags.

use super::{Argv, CommandSpec, Flags, flags};
use crate::engine::Engine;
use crate::scripting::ScriptFlags;

/// The flags `argv` runs with: the table's, or for a script that declares its flags, the
/// flags derived from the declaration.
pub(crate) fn run_flags(eng: &Engine, spec: &CommandSpec, argv: &Argv<'_>) -> Flags {
    if !spec.has(flags::NOSCRIPT) || !spec.has(flags::SKIP_MONITOR) {
        // Only the script runners carry both (a cheap filter before the name).
        return spec.flags;
    }
    match declared_flags(eng, spec.name, argv) {
        Some(declared) => from_script(spec.flags, declared),
        None => spec.flags,
    }
}

/// The declared flags of the script or function `argv` names, when it declares them.
fn declared_flags(eng: &Engine, name: &str, argv: &Argv<'_>) -> Option<ScriptFlags> {
    let script = match name {
        "eval" | "eval_ro" => crate::scripting::shebang_flags(argv.get(1)).ok()?,
        "evalsha" | "evalsha_ro" => {
            // A digest that is not 40 characters long names no script.
            let mut digest: [u8; 40] = argv.get(1).try_into().ok()?;
            digest.make_ascii_lowercase();
            eng.scripts.lookup(std::str::from_utf8(&digest).ok()?)?.0
        }
        "fcall" | "fcall_ro" => return eng.scripts.functions.flags(argv.get(1)),
        _ => return None,
    };
    // A script without a shebang runs with EVAL's own flags (Redis' compatibility mode).
    script.shebang.then_some(script)
}

/// A runner's flags with its script's declaration in place of write, OOM and stale, and
/// without may-replicate: with flags declared, whether it writes is known.
fn from_script(command: Flags, script: ScriptFlags) -> Flags {
    let mut f =
        command.without(flags::STALE | flags::DENYOOM | flags::WRITE | flags::MAY_REPLICATE);
    if !script.no_writes {
        f = f | flags::WRITE;
        if !script.allow_oom {
            f = f | flags::DENYOOM;
        }
    }
    if script.allow_stale {
        f = f | flags::STALE;
    }
    f
}
