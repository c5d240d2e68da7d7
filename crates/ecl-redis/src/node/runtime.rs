//! A node's own tokio runtime: where its listener, connections and commands run.
//!
//! Place in the flow: [`super::RedisNode::start`] builds one when the config asks for threads
//! (`RedisConfig::threads`), and the node's tasks (accept loop, connections, replication and
//! cluster links) are spawned on it through its handle. One worker thread per node mirrors
//! redis-server's single thread: batches of the node's connections never wait for each other's
//! node lock on another thread, and a long script still hands its worker to a fresh thread
//! (`block_in_place`, which needs a multi-thread runtime, hence not `current_thread`).

use std::io;

/// The runtime a node owns; dropping it stops whatever of the node still runs there.
#[derive(Debug)]
pub(crate) struct NodeRuntime {
    /// `None` only once dropped.
    runtime: Option<tokio::runtime::Runtime>,
    /// Where the node's tasks are spawned.
    pub(crate) handle: tokio::runtime::Handle,
}

impl NodeRuntime {
    /// A runtime with `threads` workers (at least one).
    pub(crate) fn new(threads: usize) -> io::Result<NodeRuntime> {
        // The node's threads log where the thread that started it logs (its default
        // subscriber, which is the global one except in a test capturing logs).
        let dispatch = tracing::dispatcher::get_default(|d| d.clone());
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        // Without the LIFO slot, tasks woken together run in the order they were woken: the
        // connection whose command arrived first runs it first, as redis-server's event loop
        // serves ready connections (with the slot, the last one woken would run first). The
        // option is behind tokio's unstable cfg, which .cargo/config.toml sets.
        #[cfg(tokio_unstable)]
        builder.disable_lifo_slot();
        let runtime = builder
            .worker_threads(threads.max(1))
            .thread_name("ecl-redis-node")
            .thread_stack_size(crate::WORKER_STACK_SIZE)
            .on_thread_start(move || {
                // Kept for the thread's life: it ends with the thread.
                std::mem::forget(tracing::dispatcher::set_default(&dispatch));
            })
            .enable_all()
            .build()?;
        Ok(NodeRuntime {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        })
    }
}

impl Drop for NodeRuntime {
    fn drop(&mut self) {
        // A node is usually dropped from another runtime's task, where a blocking shutdown
        // panics; its connections were told to close by `RedisNode::shutdown` already.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
