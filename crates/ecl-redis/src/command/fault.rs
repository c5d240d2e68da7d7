//! Fault injection for tests: a command that panics in the middle of a multi-key write, to
//! exercise the dispatcher's panic containment (the node answers an error and marks itself
//! broken instead of serving half-applied state).
//!
//! Place in the flow: [`super::dispatch::dispatch`] hands `ECL.FAULT` to [`run`] before the
//! table lookup, inside its `catch_unwind`. The module exists only in unit tests and with the
//! `fault-injection` feature (which the workspace's tests enable as a dev-dependency feature),
//! so clients of a normal build can never reach it: there it is an unknown command.

use super::{Argv, Ctx, OwnedArgv};
use crate::client::Client;
use crate::engine::Engine;
use crate::resp::Reply;

/// Name of the hidden command.
pub const NAME: &str = "ecl.fault";

/// Whether `argv` is the fault-injection command.
pub fn is_fault(argv: &Argv<'_>) -> bool {
    argv.is(0, NAME)
}

/// `ECL.FAULT PANIC-MID-MSET key value [key value …]`: stores the first pair with the real
/// MSET handler, then panics before the others, leaving a half-applied multi-key write.
/// Anything else answers an error. Inside MULTI the command is queued.
pub fn run(eng: &mut Engine, client: &mut Client, out: &mut Reply, argv: &Argv<'_>) {
    // Inside MULTI it is queued like any command, so a test can make EXEC panic.
    if let Some(q) = client.multi.as_mut() {
        q.push(argv.to_owned());
        out.simple("QUEUED");
        return;
    }
    if !argv.is(1, "panic-mid-mset") || argv.len() < 4 {
        out.error("ERR usage: ECL.FAULT PANIC-MID-MSET key value [key value ...]");
        return;
    }
    let Some(id) = eng.table.lookup(b"mset") else {
        out.error("ERR no MSET in this node's command table");
        return;
    };
    let handler = eng.table.entries[id].spec.handler;
    let first = OwnedArgv::from_slices([b"MSET".as_slice(), argv.get(2), argv.get(3)]);
    let now = eng.command_now();
    let mut ctx = Ctx::new(eng, client, out, now, id);
    let _ = handler(&mut ctx, &first.as_argv());
    panic!("fault injection: panic in the middle of a multi-key write");
}
