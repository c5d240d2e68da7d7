//! The `CLUSTER` command family and `READONLY`/`READWRITE`/`ASKING`.
//!
//! Place in the flow: registered in the command table like any family; every reply is
//! rendered from the topology in [`super::ClusterState`].

use crate::command::{Argv, CommandSpec, Ctx};
use crate::errors::CmdResult;

/// Commands of this family.
pub const COMMANDS: &[CommandSpec] = &[];

#[allow(dead_code)]
fn unused(_: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    Ok(())
}
