//! Blocking work on a runtime thread without stalling what else runs there.
//!
//! Place in the flow: a leaf used where a node blocks its thread on purpose: DEBUG SLEEP
//! inside EXEC (`command::server`) and the snapshot copy the supervisor starts
//! (`node::persistence`).

/// Runs `f`, which blocks its thread (a sleep, a long copy). Called on a multi-thread runtime's
/// worker, the worker's other tasks (other nodes, the API) move to another thread meanwhile
/// (`block_in_place`); elsewhere (current-thread runtime, no runtime) `f` just runs.
pub(crate) fn run_blocking<R>(f: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    let multi_thread =
        Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
    if multi_thread {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}
