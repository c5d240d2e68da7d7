//! Running a script or a function: the Lua side of EVAL / FCALL and `redis.call` back into
//! the dispatcher, with the rules a script's commands follow (ACL, no-writes, cluster slots,
//! OOM, kill checks).
//!
//! Place in the flow: the EVAL and FCALL families (`command::scripting`,
//! `command::functions`) call [`run_script`] / [`run_function`] with the node's Lua state
//! (`crate::scripting`); every `redis.call` a script makes goes through
//! [`crate::command::dispatch::dispatch`] as a command of the calling client marked as inside
//! the script. This is the one place where commands and scripts call each other.

use crate::argv::OwnedArgv;
use crate::client::{Client, ReplyMode};
use crate::cmdtable::flags;
use crate::command::Argv;
use crate::engine::visits::Visits;
use crate::engine::{Ctx, Engine};
use crate::errors::{CmdError, CmdResult};
use crate::resp::Reply;
use crate::scripting::{
    KILL_CHECK_INSTRUCTIONS, KILLED, NOSCRIPT_MSG, RunModes, ScriptWatch, State, convert,
    err_table, libs,
};
use mlua::{Either, Function, Lua, MultiValue, Table, Value};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// What a script run needs besides the engine and the client.
pub struct Invocation<'a> {
    /// The script's SHA-1 (lowercase hex).
    pub sha: &'a str,
    /// The EVAL/FCALL command line: KEYS are `argv[3..3 + nkeys]`, ARGV what follows.
    pub argv: &'a Argv<'a>,
    /// How many keys.
    pub nkeys: usize,
    /// EVAL_RO/EVALSHA_RO or a `no-writes` script.
    pub read_only: bool,
    /// In cluster mode the script may touch keys of several slots (`allow-cross-slot-keys`,
    /// or a script without a shebang, as Redis 7.0 allows legacy scripts).
    pub cross_slot: bool,
}

impl<'a> Invocation<'a> {
    /// KEYS.
    fn keys(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + 'a {
        self.argv.iter_from(3).take(self.nkeys)
    }

    /// ARGV.
    fn args(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + 'a {
        self.argv.iter_from(3 + self.nkeys)
    }
}

/// Runs the cached script `inv.sha` for `client`, writing its reply (or error) to `out`.
/// The script must have been loaded ([`crate::scripting::Scripts::load`]); `index` is what
/// [`crate::scripting::Scripts::lookup`] gave for it.
pub fn run_script(
    eng: &mut Engine,
    client: &mut Client,
    out: &mut Reply,
    index: i64,
    inv: &Invocation<'_>,
) -> Result<bool, ScriptFailure> {
    let Some(st) = eng.scripts.state.take() else {
        return Err(NOSCRIPT_MSG.to_string().into());
    };
    let res = run_prepared(eng, client, out, &st, Either::Left(index), inv);
    // A SCRIPT FLUSH from inside is refused, so the state taken out is the one to put back.
    eng.scripts.state = Some(st);
    res
}

/// Runs a registered function (FCALL): `inv.sha` is the function's name, `func` its callback
/// in the functions' Lua state, which gets `(keys, args)` as arguments.
pub(crate) fn run_function(
    eng: &mut Engine,
    client: &mut Client,
    out: &mut Reply,
    func: Function,
    inv: &Invocation<'_>,
) -> Result<bool, ScriptFailure> {
    let Some(st) = eng.scripts.functions.state.take() else {
        return Err("ERR Function not found".to_string().into());
    };
    let res = run_prepared(eng, client, out, &st, Either::Right(func), inv);
    // FUNCTION commands are refused from inside, so this state is still the current one.
    eng.scripts.functions.state = Some(st);
    res
}

/// What a run calls: a cached script by its index in the EVAL state, or a function.
type Target = Either<i64, Function>;

/// The part of a run common to scripts and functions: the caller's state saved and restored,
/// the BUSY/kill watch, the result converted to the caller's reply.
fn run_prepared(
    eng: &mut Engine,
    client: &mut Client,
    out: &mut Reply,
    st: &State,
    target: Target,
    inv: &Invocation<'_>,
) -> Result<bool, ScriptFailure> {
    let function = target.is_right();
    let saved = (
        client.db,
        client.reply_mode,
        client.in_exec,
        client.last_cmd,
    );
    client.reply_mode = ReplyMode::On;
    client.in_exec = true;
    eng.scripts.running = true;
    if eng.tracking.clients.contains_key(&client.id) {
        eng.scripts.declared_keys = inv.keys().map(<[u8]>::to_vec).collect();
    }
    let watch = eng.scripts.watch.clone();
    let node = crate::scripting::NodeAtStart {
        maxclients: eng.cfg.maxclients,
    };
    watch.begin(eng.cfg.busy_reply_threshold, function, node);
    eng.visits.open();
    let res = run_in_state(st, eng, client, target, inv);
    let killed = watch.kill.load(Ordering::Acquire);
    watch.end();
    eng.visits.close();
    if killed {
        // The kill left the every-line hook (see `set_kill_hook`): off at once, so no Lua code
        // of the next run meets it, which installs the count hook again.
        st.lua.remove_hook();
        st.kill_hook.set(false);
    }
    if function {
        // The functions' state uses hooks of its own (FUNCTION LOAD's time limit); the EVAL
        // state keeps its kill check installed between runs (installing costs every call).
        st.lua.remove_hook();
    }
    eng.scripts.running = false;
    eng.scripts.declared_keys.clear();
    (
        client.db,
        client.reply_mode,
        client.in_exec,
        client.last_cmd,
    ) = saved;
    match res {
        Ok((v, lua_resp3)) if !killed => {
            let errors = convert::lua_to_reply(&v, out, lua_resp3);
            for text in errors.to_count {
                crate::command::dispatch::count_error(eng, &CmdError(text.into()));
            }
            Ok(errors.any)
        }
        // The kill error as Redis words it (without Lua's position prefix); a script that
        // caught it with pcall still ends killed.
        Err(f) if killed && f.msg.contains(KILLED) => {
            Err(f.msg[f.msg.find(KILLED).unwrap_or(0)..].to_string().into())
        }
        Ok(_) => Err(format!("{KILLED} script: {}.", inv.sha).into()),
        Err(f) => Err(f),
    }
}

/// The handler's result of a run, with how its errors count (see [`Ctx::outcome`]).
pub(crate) fn outcome(ctx: &mut Ctx<'_>, res: Result<bool, ScriptFailure>) -> CmdResult {
    match res {
        Ok(wrote_error) => {
            ctx.outcome.failed = wrote_error;
            Ok(())
        }
        Err(f) => {
            ctx.outcome.error_counted = f.counted;
            Err(CmdError(f.msg.into()))
        }
    }
}

/// A script's failure: its error reply, and whether that error was counted already (INFO
/// errorstats): a command the script called failed with it, or was refused.
#[derive(Debug)]
pub struct ScriptFailure {
    /// The error reply.
    pub msg: String,
    /// Counted where it arose.
    pub counted: bool,
}

impl From<String> for ScriptFailure {
    fn from(msg: String) -> Self {
        ScriptFailure {
            msg,
            counted: false,
        }
    }
}

impl From<&str> for ScriptFailure {
    fn from(msg: &str) -> Self {
        msg.to_string().into()
    }
}

fn run_in_state(
    st: &State,
    eng: &mut Engine,
    client: &mut Client,
    target: Target,
    inv: &Invocation<'_>,
) -> Result<(Value, bool), ScriptFailure> {
    let lua = &st.lua;
    let function = target.is_right();
    st.modes.begin(eng.scripts.rand);
    let (call, slot) = call_function(st, eng).map_err(|e| format!("ERR {e}"))?;
    if function || !st.kill_hook.get() {
        let held = slot_handle(st).ok_or("ERR the script state's call slot has another type")?;
        let (watch, visits) = (eng.scripts.watch.clone(), eng.visits.clone());
        set_kill_hook(lua, watch, (visits, held))?;
        st.kill_hook.set(!function);
    }
    let rules = CallRules {
        read_only: inv.read_only,
        cross_slot: inv.cross_slot,
        // Cluster mode: the slot the script works in (its first declared key's, else the
        // first key it touches).
        slot: inv.keys().next().map(crate::cluster::key_slot),
        dirty_at_start: eng.dirty(),
    };
    let result = {
        let _lent = LentEngine::lend(slot, eng, client, rules);
        let runner = if function { &st.run_fn } else { &st.run_script };
        call_runner(lua, runner, call, target, inv)
    };
    let lua_resp3 = st.modes.resp3();
    eng.scripts.rand = st.modes.rand();
    match result {
        Ok((true, v)) => Ok((v, lua_resp3)),
        Ok((false, Value::Table(t))) => Err(ScriptFailure {
            msg: script_error(&t, inv.sha),
            counted: matches!(
                t.raw_get::<Value>(convert::COUNTED_MARK),
                Ok(Value::Boolean(true))
            ),
        }),
        Ok((false, other)) => Err(format!("ERR {other:?}").into()),
        Err(e) => Err(format!("ERR {e}").into()),
    }
}

/// What the state's call function works on: between runs a placeholder engine and client,
/// during a run the node's, swapped in by [`LentEngine`]. (A function made once per state and
/// reaching the engine this way costs a run nothing; one borrowing the engine through
/// `Lua::scope` cost about 3,500 instructions and garbage per run, a fifth of an EVALSHA.)
struct RunSlot {
    eng: Box<Engine>,
    client: Box<Client>,
    /// A run is in progress: the engine and client above are the node's.
    active: bool,
    rules: CallRules,
    /// The command line and reply buffers `redis.call` reuses from call to call.
    argv: OwnedArgv,
    reply: Vec<u8>,
}

/// The slot behind a state's call function. Only the thread running the script touches it,
/// under the node lock; the mutex is there because a Lua state must be `Send`.
type Slot = std::sync::Mutex<RunSlot>;

fn lock_slot(slot: &Slot) -> std::sync::MutexGuard<'_, RunSlot> {
    // A panic while the slot was held was caught and the node marked broken; the slot's
    // contents are still whole (swaps are not interrupted).
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The node's engine and client lent to the state's call function for one run; dropping it
/// (also when a panic unwinds) gives them back.
struct LentEngine<'a> {
    slot: &'a Slot,
    eng: &'a mut Engine,
    client: &'a mut Client,
}

impl<'a> LentEngine<'a> {
    fn lend(
        slot: &'a Slot,
        eng: &'a mut Engine,
        client: &'a mut Client,
        rules: CallRules,
    ) -> LentEngine<'a> {
        let mut s = lock_slot(slot);
        std::mem::swap(eng, &mut *s.eng);
        std::mem::swap(client, &mut *s.client);
        s.active = true;
        s.rules = rules;
        drop(s);
        LentEngine { slot, eng, client }
    }
}

impl Drop for LentEngine<'_> {
    fn drop(&mut self) {
        let mut s = lock_slot(self.slot);
        std::mem::swap(self.eng, &mut *s.eng);
        std::mem::swap(self.client, &mut *s.client);
        s.active = false;
    }
}

/// The state's call function (`redis.call`, and through it `redis.pcall` and
/// `redis.acl_check_cmd`) and its [`RunSlot`], made at the state's first run.
fn call_function<'s>(st: &'s State, eng: &Engine) -> mlua::Result<(&'s Function, &'s Slot)> {
    let no_slot = || mlua::Error::runtime("the script state's call slot has another type");
    if let Some((f, slot)) = st.call.get() {
        return Ok((f, slot.downcast_ref::<Slot>().ok_or_else(no_slot)?));
    }
    let placeholder = Engine::new(
        eng.info.clone(),
        crate::config::Config::default(),
        eng.table.clone(),
    );
    let slot = Arc::new(Slot::new(RunSlot {
        eng: Box::new(placeholder),
        client: Box::new(Client::new(0, false)),
        active: false,
        rules: CallRules::default(),
        argv: OwnedArgv::default(),
        reply: Vec::new(),
    }));
    let (mark, modes, held) = (st.acl_mark.clone(), st.modes.clone(), slot.clone());
    let f = st.lua.create_function(move |lua, args: MultiValue| {
        // Never blocks: the slot is free whenever Lua code runs; a command that re-entered a
        // script from inside `redis.call` would find it held.
        let Ok(mut guard) = held.try_lock() else {
            return Err(mlua::Error::runtime("redis.call re-entered"));
        };
        let slot = &mut *guard;
        if !slot.active {
            return Err(mlua::Error::runtime("redis.call outside a script run"));
        }
        if let Some(Value::Table(t)) = args.front()
            && *t == mark
        {
            let mut args = args;
            args.pop_front();
            let allowed = acl_check(&slot.eng, &slot.client, &args)?;
            return Ok(Either::Right(Value::Boolean(allowed)));
        }
        let (v, bad) = script_call(lua, slot, args, &modes)?;
        if bad && let Either::Right(Value::Table(t)) = &v {
            let msg: String = t.raw_get::<mlua::LuaString>("err")?.to_string_lossy();
            let counted = matches!(
                t.raw_get::<Value>(convert::COUNTED_MARK),
                Ok(Value::Boolean(true))
            );
            return Err(libs::Raised::error(msg, counted));
        }
        Ok(v)
    })?;
    let (f, slot) = st.call.get_or_init(|| (f, slot));
    Ok((f, slot.downcast_ref::<Slot>().ok_or_else(no_slot)?))
}

/// Above this many keys and arguments, KEYS and ARGV are built here and passed as tables: a
/// call passes at most a few thousand values on Lua's stack.
const MAX_PASSED_ARGS: usize = 1000;

/// Calls the Lua runner with the run's call function, the script and its keys and arguments,
/// passed as values on Lua's stack (the runner builds KEYS and ARGV from them, which costs no
/// reference per string as tables built from here would).
fn call_runner(
    lua: &Lua,
    runner: &Function,
    call: &Function,
    target: Target,
    inv: &Invocation<'_>,
) -> mlua::Result<(bool, Value)> {
    let (nk, na) = (inv.keys().len(), inv.args().len());
    if nk + na > MAX_PASSED_ARGS {
        let keys = string_sequence(lua, inv.keys())?;
        let args = string_sequence(lua, inv.args())?;
        return runner.call((call, target, -1, 0, keys, args));
    }
    let mut all = inv.keys().chain(inv.args());
    let mut next = || lua_bytes(lua, all.next().unwrap_or_default());
    // A few values go as a tuple (no vector to allocate).
    match nk + na {
        0 => runner.call((call, target, nk, na)),
        1 => runner.call((call, target, nk, na, next()?)),
        2 => runner.call((call, target, nk, na, next()?, next()?)),
        3 => runner.call((call, target, nk, na, next()?, next()?, next()?)),
        n => {
            let values = (0..n).map(|_| next()).collect::<mlua::Result<Vec<_>>>()?;
            runner.call((call, target, nk, na, mlua::Variadic::from(values)))
        }
    }
}

/// A byte string to pass to Lua: text goes straight onto Lua's stack; other bytes become a
/// Lua string first (mlua pushes only `str` directly).
fn lua_bytes<'a>(lua: &Lua, b: &'a [u8]) -> mlua::Result<Either<&'a str, mlua::LuaString>> {
    match std::str::from_utf8(b) {
        Ok(s) => Ok(Either::Left(s)),
        Err(_) => lua.create_string(b).map(Either::Right),
    }
}

/// A Lua array of byte strings (KEYS, ARGV), built without copying each one first.
fn string_sequence<'a>(
    lua: &Lua,
    items: impl ExactSizeIterator<Item = &'a [u8]>,
) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.enumerate() {
        t.raw_set(i + 1, lua.create_string(item)?)?;
    }
    Ok(t)
}

/// The state's call slot as a handle the kill check can keep.
fn slot_handle(st: &State) -> Option<Arc<Slot>> {
    let (_, slot) = st.call.get()?;
    Arc::downcast::<Slot>(slot.clone()).ok()
}

/// Makes the running script check for SCRIPT KILL (or FUNCTION KILL) every few thousand
/// instructions, serve other connections' turns once it is busy (`engine::visits`: Redis
/// runs its event loop there), and leave the runtime's worker once it has run for a while.
fn set_kill_hook(
    lua: &Lua,
    watch: Arc<ScriptWatch>,
    (visits, slot): (Arc<Visits>, Arc<Slot>),
) -> Result<(), String> {
    lua.set_hook(
        mlua::HookTriggers::new().every_nth_instruction(KILL_CHECK_INSTRUCTIONS),
        move |lua, _| {
            watch.maybe_leave_worker();
            if visits.waiting()
                && let Ok(mut s) = slot.try_lock()
                && s.active
            {
                // Between two steps of the script the slot is free: it holds the node's engine.
                visits.serve(&mut s.eng);
            }
            if watch.kill.load(Ordering::Acquire) {
                raise_killed_on_every_line(lua);
                Err(mlua::Error::runtime(KILLED))
            } else {
                Ok(mlua::VmState::Continue)
            }
        },
    )
    .map_err(|e| format!("ERR {e}"))
}

/// After a kill, as Redis does: every line the script goes on to run raises the kill error, so
/// a script that catches it with pcall (`while 1 do pcall(f) end`) meets it again outside the
/// pcall, at its loop's next line, and ends; a count hook would mostly fire inside `f`.
pub(crate) fn raise_killed_on_every_line(lua: &Lua) {
    let _ = lua.set_hook(mlua::HookTriggers::new().every_line(), |_, _| {
        Err(mlua::Error::runtime(KILLED))
    });
}

/// The error reply for a script that raised `t` (`{err=..., source=..., line=...}`).
fn script_error(t: &Table, sha: &str) -> String {
    let msg = match t.raw_get::<Value>("err") {
        Ok(Value::String(s)) => s.to_string_lossy(),
        _ => "ERR unknown error".to_string(),
    };
    let msg = msg.strip_prefix('-').unwrap_or(&msg).to_string();
    match (
        t.raw_get::<Option<String>>("source"),
        t.raw_get::<Option<i64>>("line"),
    ) {
        (Ok(Some(src)), Ok(Some(line))) => format!("{msg} script: {sha}, on {src}:{line}."),
        _ => msg,
    }
}

/// One `redis.call`/`redis.pcall` on the lent engine: returns the converted reply and whether
/// it is an error. The command line and the reply go through the slot's buffers, kept from
/// call to call so a call allocates nothing for them.
fn script_call(
    lua: &Lua,
    slot: &mut RunSlot,
    args: MultiValue,
    modes: &RunModes,
) -> mlua::Result<(CallReply, bool)> {
    let (eng, client) = (&mut *slot.eng, &mut *slot.client);
    // Once the script has written, its later commands are not refused for memory: a script
    // stopped halfway would leave a partial write (Redis' rule).
    if eng.dirty() != slot.rules.dirty_at_start {
        client.allow_oom = true;
    }
    slot.argv.clear();
    // The reply comes in the script's protocol (`redis.setresp`).
    let mut reply = Reply {
        buf: std::mem::take(&mut slot.reply),
        resp3: modes.resp3(),
    };
    reply.buf.clear();
    let r = run_call(
        lua,
        eng,
        client,
        &args,
        &mut slot.rules,
        modes,
        &mut slot.argv,
        &mut reply,
    );
    slot.reply = reply.buf;
    if eng.dirty() != slot.rules.dirty_at_start {
        eng.scripts.watch.wrote.store(true, Ordering::Release);
    }
    r
}

/// [`script_call`] with its buffers: checks and runs the command, converts the reply.
#[allow(clippy::too_many_arguments)]
fn run_call(
    lua: &Lua,
    eng: &mut Engine,
    client: &mut Client,
    args: &MultiValue,
    rules: &mut CallRules,
    modes: &RunModes,
    argv: &mut OwnedArgv,
    reply: &mut Reply,
) -> mlua::Result<(CallReply, bool)> {
    let refused = |msg| err_table(lua, msg).map(|(v, bad)| (Either::Right(v), bad));
    if let Err(msg) = lua_argv(args, argv) {
        return refused(msg);
    }
    let argv = argv.as_argv();
    if let Err(msg) = check_call(eng, client, &argv, rules) {
        // Counted here, as the command's rejection, the way Redis counts it; the script's
        // error reply that carries it on does not count again.
        crate::command::dispatch::count_error(eng, &CmdError(msg.into()));
        if let Some(id) = eng.table.lookup(argv.get(0))
            && let Some(s) = eng.stats.cmd.get_mut(id)
        {
            s.rejected += 1;
        }
        return counted_err_table(lua, msg);
    }
    // The command's effects queue up for the script's MULTI/EXEC unit (the caller is marked
    // as inside a transaction); without REPL_REPLICA (`redis.set_repl`) they are dropped from
    // it, so replicas never see them.
    let queued = eng.repl.txn.len();
    crate::command::dispatch::dispatch(eng, client, reply, &argv);
    if modes.repl() & libs::REPL_REPLICA == 0 {
        eng.repl.txn.truncate(queued);
    }
    if let Some(text) = bulk_text(&reply.buf) {
        return Ok((Either::Left(text.to_string()), false));
    }
    let mut pos = 0;
    let v = convert::reply_to_lua(lua, &reply.buf, &mut pos)?;
    let is_err = reply.buf.first() == Some(&b'-');
    // The command counted its error when it answered it.
    if is_err && let Value::Table(t) = &v {
        t.raw_set(convert::COUNTED_MARK, true)?;
    }
    Ok((Either::Right(v), is_err))
}

/// An `{err=...}` table for an error counted already (see [`convert::COUNTED_MARK`]).
fn counted_err_table(lua: &Lua, msg: &str) -> mlua::Result<(CallReply, bool)> {
    let (v, bad) = err_table(lua, msg)?;
    if let Value::Table(t) = &v {
        t.raw_set(convert::COUNTED_MARK, true)?;
    }
    Ok((Either::Right(v), bad))
}

/// What `redis.call` hands back: a text bulk reply as a Rust string (mlua pushes it straight
/// onto Lua's stack), or any other reply as a Lua value.
type CallReply = Either<String, Value>;

/// The text of a reply that is one bulk string of valid UTF-8 (the common reply, which then
/// reaches the script without a Lua reference).
fn bulk_text(buf: &[u8]) -> Option<&str> {
    let rest = buf.strip_prefix(b"$")?;
    let nl = rest.iter().position(|&b| b == b'\r')?;
    let len: usize = std::str::from_utf8(&rest[..nl]).ok()?.parse().ok()?;
    let body = rest.get(nl + 2..nl + 2 + len)?;
    (rest.len() == nl + 2 + len + 2).then_some(())?;
    std::str::from_utf8(body).ok()
}

/// A `redis.call`-style argument list as a command line in `argv`; `Err` is Redis' message.
fn lua_argv(args: &MultiValue, argv: &mut OwnedArgv) -> Result<(), &'static str> {
    if args.is_empty() {
        return Err("ERR Please specify at least one argument for this redis lib call");
    }
    for a in args.iter() {
        match a {
            Value::String(s) => argv.push(&s.as_bytes()),
            Value::Integer(n) => argv.push(n.to_string().as_bytes()),
            Value::Number(n) => argv.push(convert::number_arg(*n).as_bytes()),
            _ => return Err("ERR Lua redis lib command arguments must be strings or integers"),
        }
    }
    Ok(())
}

/// `redis.acl_check_cmd(command, args...)`: whether the script's user may run that command
/// line (its command, keys and channels), without running it.
fn acl_check(eng: &Engine, client: &Client, args: &MultiValue) -> mlua::Result<bool> {
    let raised = |m: &str| libs::Raised::error(m, false);
    let mut owned = OwnedArgv::default();
    lua_argv(args, &mut owned).map_err(raised)?;
    let argv = owned.as_argv();
    let table = &eng.table;
    let invalid = || raised("ERR Invalid command passed to redis.acl_check_cmd()");
    let mut id = table.lookup(argv.get(0)).ok_or_else(invalid)?;
    if !table.entries[id].spec.subs.is_empty() && argv.len() > 1 {
        id = table.lookup_sub(id, argv.get(1)).ok_or_else(invalid)?;
    }
    let spec = table.entries[id].spec;
    Ok(match &client.user {
        Some(u) if !u.unrestricted() => crate::acl::check(u, table, id, spec, &argv).is_ok(),
        _ => true,
    })
}

/// What a run's commands are checked against besides the command table.
#[derive(Default)]
struct CallRules {
    read_only: bool,
    cross_slot: bool,
    /// Cluster mode: the one slot the script's keys must hash to, once known.
    slot: Option<u16>,
    /// The engine's dirty counter when the run began.
    dirty_at_start: u64,
}

/// The script-specific refusals before a command runs, in Redis' order.
fn check_call(
    eng: &Engine,
    client: &Client,
    argv: &crate::command::Argv<'_>,
    rules: &mut CallRules,
) -> Result<(), &'static str> {
    let table = &eng.table;
    let Some(id) = table.lookup(argv.get(0)) else {
        return Err("ERR Unknown Redis command called from script");
    };
    let mut spec = table.entries[id].spec;
    if !spec.subs.is_empty() && argv.len() >= 2 {
        // An unknown subcommand is an unknown command for scripts.
        let Some(sid) = table.lookup_sub(id, argv.get(1)) else {
            return Err("ERR Unknown Redis command called from script");
        };
        spec = table.entries[sid].spec;
    }
    if !crate::command::arity_ok(spec.arity, argv.len()) {
        return Err("ERR Wrong number of args calling Redis command from script");
    }
    if spec.has(flags::NOSCRIPT) && !eng.cfg.scripts_may_call_noscript {
        return Err("ERR This Redis command is not allowed from script");
    }
    // A command that may replicate (PUBLISH, PFCOUNT) counts as a write here, as in Redis: a
    // read-only script then never needs to wait out CLIENT PAUSE WRITE.
    if rules.read_only && (spec.has(flags::WRITE) || spec.has(flags::MAY_REPLICATE)) {
        return Err("ERR Write commands are not allowed from read-only scripts.");
    }
    if eng.info.cluster && eng.cluster.active() {
        check_cluster(eng, client, spec, argv, rules)?;
    }
    Ok(())
}

/// Cluster mode: a script's command may only touch keys this node serves, and (unless the
/// script allows cross-slot keys) of one slot.
fn check_cluster(
    eng: &Engine,
    client: &Client,
    spec: &crate::command::CommandSpec,
    argv: &crate::command::Argv<'_>,
    rules: &mut CallRules,
) -> Result<(), &'static str> {
    let positions = spec.key_positions(argv);
    for &p in &positions {
        let slot = crate::cluster::key_slot(argv.get(p));
        if !rules.cross_slot {
            match rules.slot {
                None => rules.slot = Some(slot),
                Some(s) if s != slot => {
                    return Err(
                        "ERR Script attempted to access keys that do not hash to the same slot",
                    );
                }
                Some(_) => {}
            }
        }
    }
    // MOVED, or keys of several slots in one command: not served here. The script's own
    // command passed routing (with its ASKING, if any), so a slot it imports is served.
    crate::command::route::route(eng, client, spec, argv, true)
        .map_err(|_| "ERR Script attempted to access a non local key in a cluster node")
}
