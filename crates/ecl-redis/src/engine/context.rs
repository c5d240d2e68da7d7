//! The context a command handler runs in ([`Ctx`]: the engine, the calling client, the reply
//! buffer, the command's time and table id, what it propagates) and the handler type.
//!
//! Place in the flow: defined with the engine because the engine's command table holds
//! handlers of this type; what a handler can do with it (reading and writing keys, blocking,
//! propagation) is implemented next to the dispatcher (`command::dispatch`, `command::write`).

use super::Engine;
use crate::argv::{Argv, OwnedArgv};
use crate::client::Client;
use crate::errors::CmdResult;
use crate::resp::Reply;

/// A command handler.
pub type Handler = fn(&mut Ctx<'_>, &Argv<'_>) -> CmdResult;

/// Everything a handler can touch.
pub struct Ctx<'a> {
    /// The node state.
    pub eng: &'a mut Engine,
    /// The calling client.
    pub client: &'a mut Client,
    /// The reply buffer.
    pub out: &'a mut Reply,
    /// Time of this command (ms, Unix; includes the test clock offset).
    pub now: i64,
    /// Table id of the running command.
    pub cmd_id: usize,
    /// What the handler asked replicas to receive instead of, or besides, the command.
    pub(crate) propagation: Propagation,
    /// How the command's errors count in its statistics, when the handler knows better than
    /// its result (scripts).
    pub(crate) outcome: Outcome,
}

/// See [`Ctx::outcome`]. Redis counts an error once, where it arises: a command a script
/// called counts its own error, and the script's error reply that carries it on does not
/// count again; a script that answers with an error table still counts as a failed call.
#[derive(Debug, Default, Clone, Copy)]
pub struct Outcome {
    /// The error the handler returns was already counted (INFO errorstats, total).
    pub error_counted: bool,
    /// The handler wrote an error reply itself: a failed call though it returned Ok.
    pub failed: bool,
}

/// What a command sends to replicas once it dirtied the keyspace, as its handler states it
/// (Redis' `alsoPropagate`). By default the command itself, verbatim.
#[derive(Debug, Default)]
pub struct Propagation {
    /// Replaces the verbatim command (empty: propagate nothing).
    pub instead: Option<Vec<OwnedArgv>>,
    /// Sent after the command (or after `instead`).
    pub also: Vec<OwnedArgv>,
}
