//! Command dispatch: the generic rules the command table drives, then the handler.
//!
//! Place in the flow: the connection calls [`dispatch`] for every decoded command while it
//! holds the node lock. Order of checks follows Redis: lookup (unknown command), arity and
//! subcommand, authentication, ACL permissions, RESP2 subscribed-mode restrictions, MULTI queueing, CLIENT PAUSE,
//! maxmemory (evict, then OOM for `denyoom`); then the handler runs, MONITOR is fed, and its
//! statistics, slowlog entry, error counters, blocked-client wake-ups and expiry notifications
//! are recorded.

use super::run_flags::run_flags;
use super::{Argv, CommandSpec, Flags, OwnedArgv, arity_ok, flags};
use crate::client::{BlockSpec, Client, Event, ReplyMode, TimeoutReply};
use crate::db::{Db, Key};
use crate::engine::commandlog::{client_origin, logged_args};
use crate::engine::slot_stats;
use crate::engine::{Blocked, Engine};
pub use crate::engine::{Ctx, Propagation};
use crate::errors::{self, CmdError, CmdResult};
use crate::resp::Reply;

impl<'a> Ctx<'a> {
    /// A context for running one command handler.
    pub fn new(
        eng: &'a mut Engine,
        client: &'a mut Client,
        out: &'a mut Reply,
        now: i64,
        cmd_id: usize,
    ) -> Ctx<'a> {
        Ctx {
            eng,
            client,
            out,
            now,
            cmd_id,
            propagation: Propagation::default(),
            outcome: Default::default(),
        }
    }

    /// Whether this command's effects are streamed to replicas (a primary with a backlog):
    /// handlers that rewrite what they propagate check it first, so a node without replicas
    /// builds no commands for nobody.
    pub fn replicating(&self) -> bool {
        self.eng.feeding()
    }

    /// Replicas receive `cmds` instead of this command (an empty list: nothing). Applies
    /// only if the command dirtied the keyspace, like the default verbatim propagation.
    pub fn propagate(&mut self, cmds: Vec<OwnedArgv>) {
        self.propagation.instead = Some(cmds);
    }

    /// Replicas receive `cmd` after this command (or after what [`Ctx::propagate`] set).
    pub fn also_propagate(&mut self, cmd: OwnedArgv) {
        self.propagation.also.push(cmd);
    }

    /// The absolute expiry (Unix ms) stored for `key` in the selected database, `Some(0)`
    /// for a key without one and `None` for a missing key, without touching access
    /// statistics: what rewrites to `PEXPIREAT` read after the write.
    pub fn stored_expiry(&self, key: &[u8]) -> Option<i64> {
        self.eng.dbs[self.client.db]
            .peek_raw(key)
            .map(|e| e.expire_at)
    }
}

impl Ctx<'_> {
    /// The selected database.
    pub fn db(&mut self) -> &mut Db {
        &mut self.eng.dbs[self.client.db]
    }

    /// Redis-compatible engine version (packed with [`super::v`]).
    pub fn version(&self) -> u32 {
        self.eng.info.compat
    }

    /// Whether this node's engine and version have a feature available `since` (an option a
    /// later release added to an existing command, such as Valkey 8.1's `SET … IFEQ`).
    pub fn has(&self, since: super::Since) -> bool {
        self.eng.info.release.has(since)
    }

    /// Counts `n` changes (INFO `rdb_changes_since_last_save`) made over several keys at once
    /// (MSET, DEL, FLUSHALL); a write on one key records its count on [`Ctx::write`]'s guard.
    pub fn dirty(&mut self, n: u64) {
        self.eng.add_dirty(n);
    }

    /// Blocks the client until one of `keys` is signalled ready or `deadline_ms` passes. Inside
    /// MULTI/EXEC a blocking command does not block: it answers its timeout reply at once.
    pub fn block(
        &mut self,
        keys: Vec<Key>,
        deadline_ms: Option<i64>,
        timeout_reply: TimeoutReply,
    ) -> CmdResult {
        if self.client.in_exec {
            match timeout_reply {
                TimeoutReply::NullArray => self.out.null_array(),
                TimeoutReply::Null => self.out.null(),
                TimeoutReply::Int(n) => self.out.int(n),
                TimeoutReply::Ok => self.out.ok(),
            }
            return Ok(());
        }
        self.client.block = Some(BlockSpec {
            keys,
            deadline_ms,
            timeout_reply,
            rerun: None,
        });
        Ok(())
    }

    /// After [`Ctx::block`]: re-run `argv` instead of the command given when a key is ready.
    pub fn block_rerun(&mut self, argv: OwnedArgv) {
        if let Some(b) = self.client.block.as_mut() {
            b.rerun = Some(argv);
        }
    }

    /// Parses a blocking timeout in seconds (float) into an absolute deadline (`None` = 0 =
    /// forever), with Redis' error strings.
    pub fn timeout_arg(&self, argv: &Argv<'_>, i: usize) -> Result<Option<i64>, CmdError> {
        let t = crate::db::string::parse_f64(argv.get(i))
            .ok_or(CmdError::from("ERR timeout is not a float or out of range"))?;
        // Redis rounds up to whole milliseconds (so 0.0001 waits 1 ms, not forever) and
        // converts with a C cast, which yields i64::MIN on x86-64 when the value does not fit
        // in 64 bits (infinities too): such a timeout reads as negative.
        let ms = (t * 1000.0).ceil();
        let ms = if (-TWO_POW_63..TWO_POW_63).contains(&ms) {
            ms as i64
        } else {
            i64::MIN
        };
        if ms < 0 {
            return Err("ERR timeout is negative".into());
        }
        Ok(self.deadline_after(ms))
    }

    /// The absolute deadline of a wait of `ms` milliseconds (non-negative; 0 = forever, `None`).
    /// Redis 7.0 adds the current time in a C `long long` without a check: a sum past its
    /// range wraps negative, and the table of blocked clients' timeouts (unsigned) never fires
    /// it, so such a wait is forever too.
    pub fn deadline_after(&self, ms: i64) -> Option<i64> {
        if ms == 0 {
            None
        } else {
            self.now.checked_add(ms)
        }
    }
}

/// 2^63 as a float: the first value a C cast to `long long` cannot hold.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// What the connection should do after a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Go on with the next command.
    Continue,
    /// CLIENT PAUSE is in effect for this command: retry it later, without the lock.
    Paused,
}

fn reject(eng: &mut Engine, client: &mut Client, out: &mut Reply, id: Option<usize>, e: CmdError) {
    if client.multi.is_some() {
        client.multi_dirty = true;
    }
    if let Some(id) = id
        && let Some(s) = eng.stats.cmd.get_mut(id)
    {
        s.rejected += 1;
    }
    count_error(eng, &e);
    // Redis answers any refused EXEC with EXECABORT and drops the transaction and watches.
    if let Some(id) = id
        && eng.table.entries[id].full_name == "exec"
    {
        client.multi = None;
        client.multi_dirty = false;
        eng.release_watches(client);
        let why = e.0.strip_prefix("ERR ").unwrap_or(&e.0);
        out.error(&format!(
            "EXECABORT Transaction discarded because of: {why}"
        ));
        return;
    }
    out.error(&e.0);
}

/// Counts an error reply: INFO's `total_error_replies` and errorstats.
pub(crate) fn count_error(eng: &mut Engine, e: &CmdError) {
    eng.stats.error_replies += 1;
    let code = e.code();
    match eng.stats.errors.get_mut(code) {
        Some(n) => *n += 1,
        None => {
            eng.stats.errors.insert(code.to_string(), 1);
        }
    }
}

const SUBSCRIBED_MSG: &str =
    "only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context";

/// Commands a broken node still answers: INFO (which reports the breakage) and those a client
/// needs to reach it (AUTH, HELLO) or leave (QUIT).
const ALLOWED_WHEN_BROKEN: &[&str] = &["info", "auth", "hello", "quit"];

/// Runs one command with all table-driven checks.
///
/// A panic inside the command is contained here, while the caller still holds the node lock
/// (so the lock is never poisoned): the client gets an `-ERR` and the node is marked broken,
/// because a multi-key write may have stopped halfway. From then on the node refuses every
/// command but [`ALLOWED_WHEN_BROKEN`] until a reboot replaces its engine.
pub fn dispatch(eng: &mut Engine, client: &mut Client, out: &mut Reply, argv: &Argv<'_>) -> Flow {
    if let Some(reason) = eng.broken()
        && !ALLOWED_WHEN_BROKEN.iter().any(|n| argv.is(0, n))
    {
        let e = errors::node_broken(reason);
        count_error(eng, &e);
        out.error(&e.0);
        return Flow::Continue;
    }
    let mark = out.len();
    let run = std::panic::AssertUnwindSafe(|| dispatch_unguarded(eng, client, out, argv));
    match std::panic::catch_unwind(run) {
        Ok(flow) => flow,
        Err(payload) => {
            let reason = panic_message(payload.as_ref());
            tracing::error!(%reason, "command panicked: node marked broken until rebooted");
            eng.mark_broken(reason.clone());
            // Whatever the command had written of its reply is dropped for the error.
            out.buf.truncate(mark);
            let e = CmdError(format!("ERR command panicked ({reason}); the node is now broken and refuses commands until it is rebooted").into());
            count_error(eng, &e);
            out.error(&e.0);
            Flow::Continue
        }
    }
}

/// The text of a panic payload (`panic!` with a literal or a formatted message).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    // It goes into one-line error replies and INFO fields.
    text.replace(['\r', '\n'], " ")
}

fn dispatch_unguarded(
    eng: &mut Engine,
    client: &mut Client,
    out: &mut Reply,
    argv: &Argv<'_>,
) -> Flow {
    #[cfg(any(test, feature = "fault-injection"))]
    if super::fault::is_fault(argv) {
        super::fault::run(eng, client, out, argv);
        return Flow::Continue;
    }
    if client.reply_mode == ReplyMode::Skip {
        client.reply_mode = ReplyMode::SkipThis;
    }
    let mark = out.len();
    let flow = dispatch_inner(eng, client, out, argv);
    if matches!(client.reply_mode, ReplyMode::Off | ReplyMode::SkipThis) {
        // Subscription confirmations are pushed past CLIENT REPLY OFF / SKIP, as Redis sends
        // them (in RESP2 too); an error reply of those commands is not.
        if !is_subscription(argv) || out.buf[mark..].starts_with(b"-") {
            out.buf.truncate(mark);
        }
        if client.reply_mode == ReplyMode::SkipThis {
            client.reply_mode = ReplyMode::On;
        }
    }
    // Waiters, expiry events and new-key events wait for the end of the batch, the EXEC or
    // the script; a visit between a busy script's steps must not serve them halfway.
    if !client.detached && !client.in_exec && !eng.scripts.visiting {
        if eng.has_ready() {
            serve_blocked(eng);
        }
        if !eng.dbs[client.db].expired_log.is_empty() {
            eng.drain_expired();
        }
        if eng.cfg.notify & crate::config::notify::NEW != 0
            && eng.dbs.iter().any(|d| !d.new_log.is_empty())
        {
            eng.drain_new();
        }
    }
    flow
}

/// Whether the transaction a client queued holds a command that writes or may replicate: a
/// write pause holds such an EXEC as it holds the writes themselves, as in Redis.
fn queues_writes(eng: &Engine, client: &Client) -> bool {
    queues_any(eng, client, |f| {
        f.intersects(flags::WRITE | flags::MAY_REPLICATE)
    })
}

/// Whether the transaction a client queued holds a command whose run flags (a script's
/// declared ones: see [`super::run_flags`]) `test` accepts.
fn queues_any(eng: &Engine, client: &Client, test: impl Fn(Flags) -> bool) -> bool {
    let Some(queue) = &client.multi else {
        return false;
    };
    queue.iter().any(|argv| {
        let argv = argv.as_argv();
        let Some(id) = eng.table.lookup(argv.get(0)) else {
            return false;
        };
        let spec = match eng.table.lookup_sub(id, argv.get(1)) {
            Some(sub) if argv.len() >= 2 => eng.table.entries[sub].spec,
            _ => eng.table.entries[id].spec,
        };
        test(run_flags(eng, spec, &argv))
    })
}

fn resolve(
    eng: &Engine,
    client: &mut Client,
    argv: &Argv<'_>,
) -> Result<(usize, &'static CommandSpec), (Option<usize>, CmdError)> {
    let table = &eng.table;
    let name = argv.get(0);
    // Clients repeat the same command name: compare bytes before hashing.
    let cached = match &client.name_cache {
        Some((n, id)) if n.as_slice() == name => Some(*id),
        _ => None,
    };
    let found = cached.or_else(|| {
        let id = table.lookup(name)?;
        if name.len() <= 16 {
            client.name_cache = Some((name.to_vec(), id));
        }
        Some(id)
    });
    let Some(id) = found else {
        let args: Vec<&[u8]> = argv.iter_from(1).collect();
        return Err((None, errors::unknown_command(argv.get(0), &args)));
    };
    let spec = table.entries[id].spec;
    if spec.subs.is_empty() {
        if !arity_ok(spec.arity, argv.len()) {
            return Err((Some(id), errors::wrong_arity(&table.entries[id].full_name)));
        }
        return Ok((id, spec));
    }
    if argv.len() < 2 {
        // A container callable bare (COMMAND) declares an arity that admits it.
        if arity_ok(spec.arity, argv.len()) {
            return Ok((id, spec));
        }
        return Err((Some(id), errors::wrong_arity(&table.entries[id].full_name)));
    }
    let Some(sid) = table.lookup_sub(id, argv.get(1)) else {
        // Redis finds no command for an unknown subcommand, so the refusal is counted in
        // errorstats only, not as a rejected call of the container (ioredis sends CLIENT
        // SETINFO, new in 7.2, on every connection: BullMQ showed cmdstat_client growing).
        return Err((None, errors::unknown_subcommand(spec.name, argv.get(1))));
    };
    let sub = table.entries[sid].spec;
    if !arity_ok(sub.arity, argv.len()) {
        return Err((
            Some(sid),
            errors::wrong_arity(&table.entries[sid].full_name),
        ));
    }
    Ok((sid, sub))
}

/// One command, start to end: resolved against the table, admitted ([`check_access`], then
/// [`admit`], which may queue it in a transaction or hold it under CLIENT PAUSE), then run and
/// accounted ([`run_command`]).
fn dispatch_inner(eng: &mut Engine, client: &mut Client, out: &mut Reply, argv: &Argv<'_>) -> Flow {
    let (id, spec) = match resolve(eng, client, argv) {
        Ok(x) => x,
        Err((id, e)) => {
            reject(eng, client, out, id, e);
            return Flow::Continue;
        }
    };
    client.last_cmd = id;
    if let Err(e) = check_access(eng, client, out, (id, spec), argv) {
        reject(eng, client, out, Some(id), e);
        return Flow::Continue;
    }
    // The replication link applies the primary's stream with expiry suspended (time 0): only
    // the primary's DELs remove keys on a replica. Replicas leave eviction to the primary too.
    let now = if client.master { 0 } else { eng.command_now() };
    if let Err(flow) = admit(eng, client, out, (id, spec), argv, now) {
        return flow;
    }
    run_command(eng, client, out, (id, spec), argv, now);
    Flow::Continue
}

/// Whether this client may run this command here at all: authentication, ACL, the RESP2
/// subscribed state, cluster and replica redirection, a replica's read-only rule.
fn check_access(
    eng: &mut Engine,
    client: &mut Client,
    out: &mut Reply,
    (id, spec): (usize, &'static CommandSpec),
    argv: &Argv<'_>,
) -> Result<(), CmdError> {
    if client.user.is_some() && client.acl_gen != eng.acl.generation {
        super::aclcmd::refresh_user(eng, client)?;
    }
    if !client.authenticated && !spec.has(flags::NO_AUTH) {
        return Err(errors::NOAUTH.into());
    }
    if client.user.is_some() {
        super::aclcmd::enforce(eng, client, out, id, spec, argv)?;
    }
    if !out.resp3 && client.sub_count() > 0 && !spec.has(flags::SUBSCRIBED_OK) {
        let name = &eng.table.entries[id].full_name;
        return Err(CmdError(
            format!("ERR Can't execute '{name}': {SUBSCRIBED_MSG}").into(),
        ));
    }
    // ASKING holds for the one command that follows it (ASKING itself sets it again).
    let asking = std::mem::take(&mut client.asking);
    if client.master {
        return Ok(());
    }
    // Cluster redirection first (a write sent to a replica is MOVED to its primary, as in
    // Redis Cluster), then the read-only replica rule.
    if eng.info.cluster && eng.cluster.active() {
        super::route::route(eng, client, spec, argv, asking)?;
    }
    if let Some(e) = standalone_redirect(eng, client, spec) {
        return Err(e);
    }
    if eng.repl.is_replica() && spec.has(flags::WRITE) {
        return Err(errors::READONLY_REPLICA.into());
    }
    Ok(())
}

/// Whether the node runs the command now: memory (evicting first), a busy script,
/// `min-replicas-to-write`, a transaction (which queues it instead), CLIENT PAUSE (which holds
/// it). `Err` carries what the connection does instead of running it.
fn admit(
    eng: &mut Engine,
    client: &mut Client,
    out: &mut Reply,
    (id, spec): (usize, &'static CommandSpec),
    argv: &Argv<'_>,
    now: i64,
) -> Result<(), Flow> {
    let refuse = |eng: &mut Engine, client: &mut Client, out: &mut Reply, e: CmdError| {
        reject(eng, client, out, Some(id), e);
        Err(Flow::Continue)
    };
    if eng.tracking.is_active() && eng.tracking.totals().0 > eng.cfg.tracking_table_max_keys {
        limit_tracking_for(eng, client, out);
    }
    // Nothing is evicted under a busy script (Redis neither evicts nor refuses for memory while
    // it runs other clients' commands between the script's steps).
    let over_memory = eng.cfg.maxmemory > 0
        && !eng.repl.is_replica()
        && !eng.scripts.visiting
        && !evict_for(eng, client, out, now);
    if eng.scripts.visiting && !spec.has(flags::ALLOW_BUSY) {
        let e = CmdError(eng.scripts.watch.busy_error().into());
        return refuse(eng, client, out, e);
    }
    if eng.cfg.min_replicas.0 > 0 && refuse_for_replicas(eng, client, spec, now) {
        return refuse(eng, client, out, errors::NOREPLICAS.into());
    }
    if client.multi.is_some() && !spec.has(flags::TXN_CONTROL) {
        if spec.has(flags::NO_MULTI) {
            let e = "ERR Command not allowed inside a transaction".into();
            return refuse(eng, client, out, e);
        }
        if over_memory && !client.allow_oom {
            // Queuing takes memory: over the limit, Redis refuses every command inside MULTI.
            return refuse(eng, client, out, errors::OOM.into());
        }
        if let Some(q) = client.multi.as_mut() {
            q.push(argv.to_owned());
            out.simple("QUEUED");
        }
        return Err(Flow::Continue);
    }
    if let Some((until, writes_only)) = eng.pause() {
        // A script is judged by the flags it declares: a `no-writes` one runs under a write
        // pause, as in Redis.
        let affected = if writes_only {
            run_flags(eng, spec, argv).intersects(flags::WRITE | flags::MAY_REPLICATE)
                || (spec.name == "exec" && queues_writes(eng, client))
        } else {
            true
        };
        if now < until && affected && !client.detached && !client.in_exec && spec.name != "client" {
            return Err(Flow::Paused);
        }
    }
    // An EXEC whose transaction holds a command refused for memory is refused whole (as
    // EXECABORT), as in Redis.
    let denyoom = spec.has(flags::DENYOOM)
        || (over_memory
            && spec.name == "exec"
            && queues_any(eng, client, |f| f.contains(flags::DENYOOM)));
    if over_memory && denyoom && !client.allow_oom {
        return refuse(eng, client, out, errors::OOM.into());
    }
    Ok(())
}

/// Runs an admitted command and accounts for it: MONITOR, propagation, command and error
/// statistics, client-side caching, the slow log and latency monitor, slot statistics, and
/// blocking when the handler asked to wait.
fn run_command(
    eng: &mut Engine,
    client: &mut Client,
    out: &mut Reply,
    (id, spec): (usize, &'static CommandSpec),
    argv: &Argv<'_>,
    now: i64,
) {
    // CLIENT NO-TOUCH: the databases leave access times alone for this client's commands,
    // TOUCH excepted (flipped only when the setting changes between commands).
    if client.no_touch || eng.no_touch_on {
        let no_touch = client.no_touch && spec.name != "touch";
        eng.dbs.iter_mut().for_each(|db| db.no_touch = no_touch);
        eng.no_touch_on = no_touch;
    }
    let dirty_before = eng.dirty();
    let reply_before = out.len();
    // EXEC's slot is that of the commands it runs: read before the queue is consumed.
    let exec_slot = (eng.cfg.slot_stats && spec.name == "exec")
        .then(|| slot_stats::transaction_slot(eng, client))
        .flatten();
    // A command run by EXEC or a script is timed on its own clock: the node's per-command tick
    // keeps measuring the EXEC/EVAL around it, whose time includes its commands, as in Redis.
    let nested_start = client.in_exec.then(std::time::Instant::now);
    let (res, propagation, outcome) = {
        let mut ctx = Ctx::new(&mut *eng, &mut *client, &mut *out, now, id);
        let res = (spec.handler)(&mut ctx, argv);
        (res, ctx.propagation, ctx.outcome)
    };
    // MONITOR sees a command once it ran (in the database it left selected), as in Redis 7:
    // an EXEC after the commands it ran. Scripts feed their EVAL themselves, before they run;
    // administrative commands (MONITOR itself, CONFIG, DEBUG) are never shown.
    if !eng.clients.monitors.is_empty()
        && !spec.flags.intersects(flags::SKIP_MONITOR | flags::ADMIN)
        && !client.detached
        && !client.uncounted
    {
        feed_monitors(eng, client, argv, now);
    }
    let dirtied = eng.dirty() != dirty_before;
    after_command_propagate(eng, client, spec, argv, res.is_ok(), dirtied, propagation);
    let call = CallKind::of(client);
    let failed = res.is_err() || outcome.failed;
    let counted = !client.uncounted;
    let usec = if counted {
        count_call(eng, id, (failed, call), nested_start)
    } else {
        0
    };
    if let Err(e) = res {
        if !outcome.error_counted && counted {
            count_error(eng, &e);
        }
        out.error(&e.0);
    }
    if eng.tracking.is_active() || eng.dbs[0].modified_log.is_some() {
        track(eng, client, spec, argv);
    }
    let reply_bytes = out.len().saturating_sub(reply_before);
    if counted {
        log_command(eng, client, (spec, argv, call), (usec, reply_bytes), now);
        if eng.cfg.slot_stats {
            slot_stats::account(eng, client, (spec, argv), (usec, reply_bytes), exec_slot);
        }
    }
    block_if_asked(eng, client, out, argv);
}

/// `min-replicas-to-write`: a write (or an EXEC holding one) on a primary short of good
/// replicas is refused, as in Redis, before it is queued or run.
fn refuse_for_replicas(eng: &Engine, client: &Client, spec: &CommandSpec, now: i64) -> bool {
    let writes = spec.has(flags::WRITE)
        || (spec.name == "exec" && queues_any(eng, client, |f| f.contains(flags::WRITE)));
    writes && !client.master && eng.too_few_good_replicas(now)
}

/// Evicts keys until memory is under `maxmemory` (false when it cannot). The client's own
/// invalidations of evicted keys come ahead of its reply, as in Redis, where they are sent
/// before the command runs.
fn evict_for(eng: &mut Engine, client: &Client, out: &mut Reply, now: i64) -> bool {
    if !eng.tracking.is_active() {
        return eng.evict_if_needed(now);
    }
    let mark = eng.tracking.hold.start(client.id);
    let fits = eng.evict_if_needed(now);
    out.raw(&eng.tracking.hold.release(mark));
    fits
}

/// Holds the tracking table to `tracking-table-max-keys` before a command; the client's own
/// invalidations come ahead of its reply, as in Redis.
fn limit_tracking_for(eng: &mut Engine, client: &Client, out: &mut Reply) {
    let mark = eng.tracking.hold.start(client.id);
    eng.limit_tracking_table();
    out.raw(&eng.tracking.hold.release(mark));
}

/// Parks the client when the command it just ran asked to wait (a blocking command).
fn block_if_asked(eng: &mut Engine, client: &Client, out: &Reply, argv: &Argv<'_>) {
    if client.block.is_some()
        && !client.detached
        && let Some(spec) = client.block.clone()
    {
        let b = Blocked {
            db: client.db,
            argv: spec.rerun.clone().unwrap_or_else(|| argv.to_owned()),
            resp3: out.resp3,
            spec,
        };
        eng.block_client(client.id, b);
    }
}

/// How a run of a command counts in its statistics, as in Redis: a command that blocks counts
/// as a call when it blocks, and its run time goes into the latency histogram once it is
/// served (a timed-out wait never does).
#[derive(Clone, Copy, PartialEq, Eq)]
enum CallKind {
    /// Ran to its reply.
    Completed,
    /// Blocked, waiting for a key, a replica or its timeout.
    Blocked,
    /// A blocked command re-run because a key it waits for is ready, and served.
    Served,
    /// Such a re-run that found nothing and keeps waiting: counts nothing.
    StillWaiting,
}

impl CallKind {
    /// After the handler ran for `client`.
    fn of(client: &Client) -> CallKind {
        match (client.serving_blocked, client.block.is_some()) {
            (false, false) => CallKind::Completed,
            (false, true) => CallKind::Blocked,
            (true, false) => CallKind::Served,
            (true, true) => CallKind::StillWaiting,
        }
    }
}

/// Counts a run of command `id` (INFO stats, commandstats, the latency histogram); returns its
/// duration (µs), since `nested_start` for a command run inside another one.
fn count_call(
    eng: &mut Engine,
    id: usize,
    (failed, call): (bool, CallKind),
    nested_start: Option<std::time::Instant>,
) -> u64 {
    let usec = match nested_start {
        Some(t) => t.elapsed().as_micros() as u64,
        None => eng.command_elapsed_us(),
    };
    if call == CallKind::StillWaiting {
        return usec;
    }
    let new_call = call != CallKind::Served;
    if new_call {
        eng.stats.commands += 1;
    }
    let tracking = eng.cfg.latency_tracking && call != CallKind::Blocked;
    if let Some(s) = eng.stats.cmd.get_mut(id) {
        s.calls += u64::from(new_call);
        s.add_run(usec, tracking);
        if failed {
            s.failed += 1;
        }
    }
    usec
}

/// The end of a DEBUG SLEEP (emulated by pausing the node, see `server::debug`): Redis's
/// DEBUG SLEEP holds the server for the whole time, so its run time, counted in the
/// command's statistics, latency histogram, the latency monitor and the slow log, is the
/// sleep. `slept_us` is how long it lasted.
pub fn finish_debug_sleep(eng: &mut Engine, client: &Client, argv: &Argv<'_>, slept_us: u64) {
    let Some(id) = eng.table.lookup(b"debug") else {
        return;
    };
    let tracking = eng.cfg.latency_tracking;
    if let Some(s) = eng.stats.cmd.get_mut(id) {
        s.add_run(slept_us, tracking);
    }
    let spec = eng.table.entries[id].spec;
    let now = eng.now_ms();
    log_command(
        eng,
        client,
        (spec, argv, CallKind::Completed),
        (slept_us, 5),
        now,
    );
}

/// What leaves the node after a command: its replication stream (what the handler stated,
/// once it dirtied the keyspace, and PUBLISH), the end of an EXEC's unit, and in cluster mode
/// PUBLISH over the cluster bus.
fn after_command_propagate(
    eng: &mut Engine,
    client: &Client,
    spec: &CommandSpec,
    argv: &Argv<'_>,
    ok: bool,
    dirtied: bool,
    propagation: Propagation,
) {
    if eng.feeding() {
        // PUBLISH changes nothing but is replicated, so subscribers of replicas get messages
        // (in cluster mode the cluster bus carries it instead).
        let publish = spec.has(flags::PUBSUB)
            && spec.has(flags::MAY_REPLICATE)
            && !eng.info.cluster
            && eng.repl.streaming();
        if (dirtied || publish) && ok && (spec.has(flags::WRITE) || spec.has(flags::MAY_REPLICATE))
        {
            eng.propagate_command(client, argv, propagation);
        }
        // A visit between a busy script's steps leaves the script's unit open: its effects
        // reach replicas and the AOF together when it ends.
        if !client.in_exec && !eng.scripts.visiting && !eng.repl.txn.is_empty() {
            eng.flush_txn();
        }
    }
    if eng.info.cluster
        && !client.master
        && ok
        && eng.cluster.bus.is_some()
        && spec.has(flags::PUBSUB)
        && spec.has(flags::MAY_REPLICATE)
        && argv.len() == 3
    {
        let shard = spec.name == "spublish";
        super::route::broadcast_publish(eng, shard, argv.get(1), argv.get(2));
    }
}

/// Client-side caching bookkeeping after a command: the keys it modified are invalidated,
/// and the keys a read-only command names (the table's key specs) are remembered.
fn track(eng: &mut Engine, client: &Client, spec: &CommandSpec, argv: &Argv<'_>) {
    eng.invalidate_modified(Some(client.id));
    // A script's read makes its caller track the script's KEYS; the read-only script commands
    // track nothing themselves (Redis).
    let script_ro = matches!(spec.name, "eval_ro" | "evalsha_ro" | "fcall_ro");
    if spec.has(flags::READONLY) && !spec.has(flags::WRITE) && !script_ro {
        if eng.scripts.running && !eng.scripts.visiting {
            let keys = std::mem::take(&mut eng.scripts.declared_keys);
            eng.tracking
                .record_reads(client.id, keys.iter().map(Vec::as_slice));
            eng.scripts.declared_keys = keys;
        } else {
            let pos = spec.key_positions(argv);
            eng.tracking
                .record_reads(client.id, pos.iter().map(|&i| argv.get(i)));
        }
    }
    let caching_cmd = argv.is(0, "client") && argv.is(1, "caching");
    eng.tracking.end_command(client.id, caching_cmd);
}

/// A standalone replica sends a client that declared `CLIENT CAPA redirect` (Valkey 8.0) to
/// its primary for data commands: every write, and every read unless the client asked for
/// READONLY.
fn standalone_redirect(eng: &Engine, client: &Client, spec: &CommandSpec) -> Option<CmdError> {
    if !client.capa_redirect || eng.info.cluster {
        return None;
    }
    let (host, port) = &eng.repl.upstream.as_ref()?.primary;
    let read = spec.has(flags::READONLY) && !spec.has(flags::WRITE);
    let data = spec.has(flags::WRITE) || spec.has(flags::READONLY);
    (data && !(read && client.readonly)).then(|| CmdError(format!("REDIRECT {host}:{port}").into()))
}

/// The logs a command that ran may enter: the latency monitor's `command` (or `fast-command`)
/// event, the slow log
/// and (Valkey 8.1) the large-request / large-reply command logs. `cost` is the run time in
/// µs and the reply's size in bytes.
// Inlined into the dispatcher (its checks are a few loads on the common path); the DEBUG
// SLEEP path calls it too.
#[inline(always)]
fn log_command(
    eng: &mut Engine,
    client: &Client,
    (spec, argv, call): (&CommandSpec, &Argv<'_>, CallKind),
    cost: (u64, usize),
    now: i64,
) {
    let (usec, reply_bytes) = cost;
    let lat = eng.cfg.latency_threshold_ms;
    if lat > 0 && usec / 1000 >= lat {
        // LATENCY LATEST/HISTORY: Redis records a slow command as the "fast-command" event
        // when the command is flagged fast (O(1) ones, such as a GET of a huge value), else
        // as "command".
        let event = if spec.has(flags::FAST) {
            "fast-command"
        } else {
            "command"
        };
        eng.latency.record(event, now / 1000, usec / 1000);
    }
    // A blocking command goes into the logs once it is served (under its client, after the
    // command that served it), never when it blocks or times out, as in Redis.
    let logged = match call {
        CallKind::Completed => !client.detached,
        CallKind::Served => true,
        CallKind::Blocked | CallKind::StillWaiting => false,
    };
    if !logged {
        return;
    }
    let slow = eng.cfg.slowlog_slower_than;
    if slow >= 0 && usec >= slow as u64 && !spec.has(flags::SKIP_SLOWLOG) {
        record_slow(eng, client, argv, usec, now);
    }
    if eng.info.release.has(super::commandlog::SINCE) {
        crate::engine::commandlog::record(eng, client, argv, reply_bytes, now);
    }
}

fn record_slow(eng: &mut Engine, client: &Client, argv: &Argv<'_>, usec: u64, now: i64) {
    let args = logged_args(argv);
    let (addr, name) = client_origin(eng, client);
    eng.slowlog_push(usec, args, addr, name, now);
}

/// Sends `argv` to MONITOR clients (a script's commands show `lua` as their origin).
pub(crate) fn feed_monitors(eng: &mut Engine, client: &Client, argv: &Argv<'_>, now: i64) {
    let addr = if eng.scripts.running {
        "lua".to_string()
    } else {
        eng.clients
            .map
            .get(&client.id)
            .map(|c| c.addr.clone())
            .unwrap_or_default()
    };
    let mut line = format!(
        "+{}.{:06} [{} {}]",
        now / 1000,
        (now % 1000) * 1000,
        client.db,
        addr
    );
    for a in argv.iter_from(0) {
        line.push_str(" \"");
        for &b in a {
            match b {
                b'"' => line.push_str("\\\""),
                b'\\' => line.push_str("\\\\"),
                b'\n' => line.push_str("\\n"),
                b'\r' => line.push_str("\\r"),
                b'\t' => line.push_str("\\t"),
                0x20..=0x7e => line.push(b as char),
                _ => line.push_str(&format!("\\x{b:02x}")),
            }
        }
        line.push('"');
    }
    line.push_str("\r\n");
    let ids = eng.clients.monitors.clone();
    for id in ids {
        eng.send(id, Event::Push(line.as_bytes().to_vec()));
    }
}

/// A command whose replies are subscription confirmations (SUBSCRIBE and the like).
fn is_subscription(argv: &Argv<'_>) -> bool {
    const NAMES: [&str; 6] = [
        "subscribe",
        "unsubscribe",
        "psubscribe",
        "punsubscribe",
        "ssubscribe",
        "sunsubscribe",
    ];
    NAMES.iter().any(|n| argv.is(0, n))
}

/// Serves clients blocked on keys that became ready: each waiter, in FIFO order, re-runs its
/// command atomically now; served ones get their reply through their event channel.
pub fn serve_blocked(eng: &mut Engine) {
    let mut rounds = 0;
    while rounds < 10_000
        && let Some(((ready_db, key), ids)) = eng.next_ready()
    {
        rounds += 1;
        let ready_type = eng.dbs[ready_db]
            .peek_raw(&key)
            .map(|e| e.value.type_name());
        for id in ids {
            let Some((argv, db, resp3)) = eng.blocked_command(id) else {
                continue;
            };
            // Redis 7.0 serves a key's list (or sorted set) waiters only while it holds a list
            // (sorted set); the others stay blocked, and a later waiter may be of its type.
            let served_type = served_type(&argv.as_argv());
            if served_type.is_some() && served_type != ready_type {
                continue;
            }
            // Served from this key alone; a stream waiter reads at its own position (or
            // group), so one left waiting says nothing about the next.
            let own_position = {
                let a = argv.as_argv();
                a.is(0, "xread") || a.is(0, "xreadgroup")
            };
            let argv = rerun_for_key(&argv.as_argv(), &key).unwrap_or(argv);
            let mut c = Client::new(id, true);
            c.db = db;
            c.detached = true;
            c.serving_blocked = true;
            let mut r = Reply {
                buf: Vec::new(),
                resp3,
            };
            // Its invalidations (BLMOVE's destination) follow its reply, as in Redis.
            let mark = eng.tracking.hold.start(id);
            dispatch_inner(eng, &mut c, &mut r, &argv.as_argv());
            let held = eng.tracking.hold.release(mark);
            r.buf.extend_from_slice(&held);
            // Still nothing to take for this client; later waiters would see the same.
            if c.block.is_some() && own_position {
                continue;
            }
            if c.block.is_some() {
                break;
            }
            // A stream waiter on a key of another type stays blocked as well. A list waiter's
            // WRONGTYPE comes from its destination (BLMOVE onto a string): Redis answers it
            // and leaves the element in the source.
            if served_type.is_none() && r.buf.starts_with(b"-WRONGTYPE") {
                continue;
            }
            eng.unblock_client(id);
            eng.send(id, Event::Unblocked(r.buf));
        }
    }
}

/// The type of key a list or sorted-set blocking command takes its element from (`None` for
/// the others: streams, WAIT).
fn served_type(argv: &Argv<'_>) -> Option<&'static str> {
    const LIST: [&str; 5] = ["blpop", "brpop", "blmove", "brpoplpush", "blmpop"];
    const ZSET: [&str; 3] = ["bzpopmin", "bzpopmax", "bzmpop"];
    if LIST.iter().any(|c| argv.is(0, c)) {
        Some("list")
    } else if ZSET.iter().any(|c| argv.is(0, c)) {
        Some("zset")
    } else {
        None
    }
}

/// The command a waiter re-runs for one ready key: Redis serves a client blocked on several
/// keys from the key that became ready (keys in the order they were signalled, e.g. within an
/// EXEC), not from the first of its keys that has data, so the re-run names that key alone.
/// `None` when the command waits on one key (or is not a multi-key blocking command).
fn rerun_for_key(argv: &Argv<'_>, key: &[u8]) -> Option<OwnedArgv> {
    let n = argv.len();
    let (first, count) = if ["blpop", "brpop", "bzpopmin", "bzpopmax"]
        .iter()
        .any(|c| argv.is(0, c))
    {
        (1, n.checked_sub(2)?)
    } else if argv.is(0, "blmpop") || argv.is(0, "bzmpop") {
        let numkeys = crate::db::string::parse_i64(argv.get(2))?;
        (3, usize::try_from(numkeys).ok()?.min(n.saturating_sub(3)))
    } else {
        return super::streams::rerun_for_key(argv, key);
    };
    if count < 2 || !(first..first + count).any(|i| argv.get(i) == key) {
        return None;
    }
    let mut one = OwnedArgv::default();
    for i in (0..n).filter(|&i| i < first || i >= first + count) {
        if first == 3 && i == 2 {
            one.push(b"1");
        } else {
            one.push(argv.get(i));
        }
        if i + 1 == first {
            one.push(key);
        }
    }
    Some(one)
}
