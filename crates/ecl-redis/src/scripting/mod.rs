//! Lua scripting: the node's Lua 5.1 state, the script cache by SHA-1, and running one script
//! with `redis.call` going through the same dispatcher as clients.
//!
//! Place in the flow: `EVAL`/`EVALSHA`/`SCRIPT` handlers (`command/scripting.rs`) call
//! [`run_script`] while the connection holds the node lock, so a script is atomic. The Lua
//! state lives in the engine ([`Scripts`]) and is taken out while a script runs, so the
//! `redis.call` callback can borrow the engine and the calling client mutably; each call is
//! checked (script rules: unknown command, arity, `noscript`, read-only scripts) and then
//! handed to [`crate::command::dispatch::dispatch`] with the caller's client marked as inside
//! a transaction: ACL, OOM, keyspace notifications, statistics apply as for any command, and
//! the writes reach replicas wrapped in MULTI/EXEC (not the EVAL). The reply bytes are then
//! converted to Lua values ([`convert`]).

pub mod convert;
pub mod functions;
pub mod json;
pub mod libs;
pub mod msgpack;

use crate::client::{Client, ReplyMode};
use crate::command::{OwnedArgv, flags};
use crate::engine::Engine;
use crate::resp::Reply;
use mlua::{Function, Lua, LuaOptions, MultiValue, StdLib, Table, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

/// The reply to EVALSHA of an unknown script.
pub const NOSCRIPT_MSG: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// `#!lua flags=...` of a script.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptFlags {
    /// The script has a shebang (Redis then applies the declared flags strictly).
    pub shebang: bool,
    /// `no-writes`.
    pub no_writes: bool,
    /// `allow-oom`.
    pub allow_oom: bool,
    /// `allow-stale`.
    pub allow_stale: bool,
    /// `no-cluster`.
    pub no_cluster: bool,
    /// `allow-cross-slot-keys`.
    pub cross_slot: bool,
}

/// A compiled, cached script.
struct Script {
    func: Function,
    flags: ScriptFlags,
    /// The source as loaded (SCRIPT SHOW, Valkey 8.0).
    body: Box<[u8]>,
}

/// The parts of a Lua state the runner uses.
struct State {
    lua: Lua,
    /// Hidden table the `redis` library wrappers read: `raw` (the per-run call function),
    /// `resp` (2 or 3), `repl`.
    hooks: Table,
    /// The `redis` table (`call`/`pcall` are set for each run).
    redis: Table,
    /// `function(f) return xpcall(f, handler) end`.
    runner: Function,
    /// `function(f, keys, args) return xpcall(function() return f(keys, args) end, handler) end`
    /// (Redis 7 functions get KEYS and ARGV as arguments).
    run_fn: Function,
    /// The real global table (the scripts see a read-only proxy of it).
    globals: Table,
    /// The environment scripts run in.
    env: Table,
    /// The SCRIPT KILL check is installed (the EVAL state installs it once).
    kill_hook: std::cell::Cell<bool>,
    /// Field names every run sets and reads, made once (a `&str` key is hashed and interned
    /// again on every use).
    names: Names,
}

/// Interned field names of [`State::hooks`] and [`State::redis`].
struct Names {
    resp: mlua::LuaString,
    repl: mlua::LuaString,
    call: mlua::LuaString,
}

impl Names {
    fn new(lua: &Lua) -> mlua::Result<Names> {
        Ok(Names {
            resp: lua.create_string("resp")?,
            repl: lua.create_string("repl")?,
            call: lua.create_string("call")?,
        })
    }
}

/// What other connections may know about a running script without the node lock (the
/// script holds it): when it becomes "busy" for them, whether SCRIPT KILL asked it to stop,
/// whether it has written (then SCRIPT KILL refuses, as in Redis), and for a function what
/// FUNCTION STATS shows.
#[derive(Debug, Default)]
pub struct ScriptWatch {
    /// Wall-clock ms from which other clients get BUSY (start + `busy-reply-threshold`);
    /// 0 while no script runs.
    busy_at_ms: AtomicI64,
    /// SCRIPT KILL (or the node stopping) asked the script to stop.
    kill: AtomicBool,
    /// The script has written: SCRIPT KILL answers UNKILLABLE.
    wrote: AtomicBool,
    /// What runs is a function (FCALL), not an EVAL script: FUNCTION KILL stops it.
    function: AtomicBool,
    /// The running function, for FUNCTION STATS while it runs.
    running: std::sync::Mutex<Option<RunningFunction>>,
    /// Wall-clock ms at which the running script next tries to leave its runtime worker
    /// ([`crate::command::scripting::leave_worker`]); 0 while no script runs.
    leave_at_ms: AtomicI64,
}

/// A function being run, as FUNCTION STATS reports it.
#[derive(Debug, Clone)]
pub struct RunningFunction {
    /// The function's name.
    pub name: String,
    /// The FCALL/FCALL_RO command line.
    pub argv: Vec<Vec<u8>>,
    /// Wall-clock start (ms).
    pub started_ms: i64,
    /// Libraries and functions loaded when it started.
    pub counts: (usize, usize),
}

/// The error a killed script's caller gets (Redis appends where the script was).
const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";
/// A script running this long (ms) moves off the runtime's worker thread.
const LEAVE_WORKER_AFTER_MS: i64 = 5;
/// How often (ms) a long script retries leaving the worker.
const LEAVE_WORKER_RETRY_MS: i64 = 100;
/// How often (in Lua VM instructions) a running script checks for SCRIPT KILL.
const KILL_CHECK_INSTRUCTIONS: u32 = 10_000;
/// BUSY while an EVAL script runs.
const BUSY_SCRIPT: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// BUSY while a function runs.
const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

impl ScriptWatch {
    /// Whether a script has run past `busy-reply-threshold` at `now_ms`.
    pub fn busy(&self, now_ms: i64) -> bool {
        let at = self.busy_at_ms.load(Ordering::Acquire);
        at != 0 && now_ms >= at
    }

    /// The BUSY error other commands get while this script or function runs.
    pub fn busy_error(&self) -> &'static str {
        if self.function.load(Ordering::Acquire) {
            BUSY_FUNCTION
        } else {
            BUSY_SCRIPT
        }
    }

    /// SCRIPT KILL (`function` false) or FUNCTION KILL (`function` true) from another
    /// connection while a script is busy: `Ok` once the script is asked to stop, else Redis's
    /// NOTBUSY / UNKILLABLE / BUSY error (each KILL stops only its own kind).
    pub fn request_kill(&self, function: bool) -> Result<(), &'static str> {
        if self.busy_at_ms.load(Ordering::Acquire) == 0 {
            return Err("NOTBUSY No scripts in execution right now.");
        }
        if self.wrote.load(Ordering::Acquire) {
            return Err(
                "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
            );
        }
        if self.function.load(Ordering::Acquire) != function {
            return Err(self.busy_error());
        }
        self.kill.store(true, Ordering::Release);
        Ok(())
    }

    /// The function running now, if any (FUNCTION STATS).
    pub fn running_function(&self) -> Option<RunningFunction> {
        self.running.lock().ok().and_then(|r| r.clone())
    }

    /// Records the function about to run (cleared when the run ends).
    pub(crate) fn set_running(&self, r: Option<RunningFunction>) {
        if let Ok(mut cur) = self.running.lock() {
            *cur = r;
        }
    }

    /// The node is stopping: whatever the script did, it stops at its next check (a script
    /// looping forever must not keep a stopped node's thread).
    pub fn force_kill(&self) {
        self.kill.store(true, Ordering::Release);
    }

    fn begin(&self, busy_after_ms: i64, function: bool) {
        self.kill.store(false, Ordering::Release);
        self.wrote.store(false, Ordering::Release);
        self.function.store(function, Ordering::Release);
        let now = crate::engine::wall_ms();
        let at = now.saturating_add(busy_after_ms).max(1);
        self.busy_at_ms.store(at, Ordering::Release);
        self.leave_at_ms
            .store(now.saturating_add(LEAVE_WORKER_AFTER_MS), Ordering::Relaxed);
    }

    /// From the kill check: a script running for a while leaves the runtime's worker thread
    /// (retried now and then, in case a hand-off did not happen).
    fn maybe_leave_worker(&self) {
        let at = self.leave_at_ms.load(Ordering::Relaxed);
        if at == 0 {
            return;
        }
        let now = crate::engine::wall_ms();
        if now >= at {
            self.leave_at_ms
                .store(now.saturating_add(LEAVE_WORKER_RETRY_MS), Ordering::Relaxed);
            crate::command::scripting::leave_worker();
        }
    }

    fn end(&self) {
        self.busy_at_ms.store(0, Ordering::Release);
        self.leave_at_ms.store(0, Ordering::Relaxed);
        self.kill.store(false, Ordering::Release);
        self.set_running(None);
    }
}

/// The node's scripting state: one Lua state (created on first use, dropped by SCRIPT FLUSH)
/// and the scripts compiled in it.
pub struct Scripts {
    state: Option<State>,
    cache: HashMap<String, Script>,
    /// Memory taken by cached script bodies (INFO `used_memory_scripts_eval`).
    pub bodies_bytes: usize,
    /// A script is running (MONITOR shows its commands as coming from `lua`).
    pub running: bool,
    /// `math.random`'s state: one sequence per node, which goes on from script to script and
    /// survives SCRIPT FLUSH, as in Redis 7.0.
    rand: u64,
    /// Shared with the node's connections (BUSY, SCRIPT KILL while a script runs).
    pub watch: Arc<ScriptWatch>,
    /// Redis 7 functions (FUNCTION LOAD, FCALL): their own Lua state and libraries.
    pub functions: functions::Functions,
}

impl Default for Scripts {
    fn default() -> Scripts {
        Scripts {
            state: None,
            cache: HashMap::new(),
            bodies_bytes: 0,
            running: false,
            rand: libs::RAND_INIT,
            watch: Arc::default(),
            functions: functions::Functions::default(),
        }
    }
}

impl std::fmt::Debug for Scripts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scripts")
            .field("cached", &self.cache.len())
            .finish()
    }
}

/// Lowercase hex SHA-1 of `body` (script names; `redis.sha1hex`).
pub fn sha1hex(body: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, body);
    let mut out = String::with_capacity(40);
    for b in d.as_ref() {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
    out
}

/// The flags of a script body (its shebang line's), without copying the body.
pub fn shebang_flags(body: &[u8]) -> Result<ScriptFlags, String> {
    if !body.starts_with(b"#!") {
        return Ok(ScriptFlags::default());
    }
    parse_shebang(body).map(|(f, _)| f)
}

/// Reads a `#!` first line; returns the flags and the body with the shebang commented out
/// (so line numbers stay the same).
pub fn parse_shebang(body: &[u8]) -> Result<(ScriptFlags, Vec<u8>), String> {
    if !body.starts_with(b"#!") {
        return Ok((ScriptFlags::default(), body.to_vec()));
    }
    let end = body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
    let line = String::from_utf8_lossy(&body[..end]).into_owned();
    let mut parts = line[2..].split(' ').filter(|p| !p.is_empty());
    if parts.next() != Some("lua") {
        return Err(format!("ERR Unexpected engine in script shebang: {line}"));
    }
    let mut f = ScriptFlags {
        shebang: true,
        ..Default::default()
    };
    for opt in parts {
        let Some(list) = opt.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {opt}"));
        };
        for flag in list.split(',').filter(|s| !s.is_empty()) {
            match flag {
                "no-writes" => f.no_writes = true,
                "allow-oom" => f.allow_oom = true,
                "allow-stale" => f.allow_stale = true,
                "no-cluster" => f.no_cluster = true,
                "allow-cross-slot-keys" => f.cross_slot = true,
                _ => return Err(format!("ERR Unexpected flag in script shebang: {flag}")),
            }
        }
    }
    let mut out = b"--".to_vec();
    out.extend_from_slice(&body[2..]);
    Ok((f, out))
}

/// Lua code setting the `redis` library constants, the read-only environment and the runner.
/// Receives the globals table and the error handler. (The `redis` functions are written in
/// Rust: C functions keep the caller's frame in a tail call, so an error raised by
/// `return redis.call(...)` still knows the script's line, as in Redis.)
const PRELUDE: &str = r#"
local G, handler, error_text = ...
local error, tostring, rawget, xpcall = error, tostring, rawget, xpcall
local lua_pcall = pcall
-- Errors the redis library raises reach the script's pcall as their text, as in Redis.
local function fix(ok, ...)
  if ok then return ok, ... end
  return ok, error_text((...))
end
G.pcall = function(...) return fix(lua_pcall(...)) end
local redis = G.redis
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
local env = setmetatable({}, {
  __index = function(_, k)
    local v = rawget(G, k)
    if v == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
    end
    return v
  end,
  __newindex = function() error('Attempt to modify a readonly table', 2) end,
  __metatable = false,
})
G._G = env
local function run(f) return xpcall(f, handler) end
local function run_fn(f, k, a) return xpcall(function() return f(k, a) end, handler) end
return run, env, run_fn
"#;

/// Creates a Lua state with the libraries scripts may use.
fn new_state(version: &str, version_num: u32) -> mlua::Result<State> {
    let lua = Lua::new_with(
        StdLib::TABLE | StdLib::STRING | StdLib::MATH,
        LuaOptions::default(),
    )?;
    let g = lua.globals();
    for name in ["loadfile", "dofile", "require", "module", "newproxy"] {
        g.raw_set(name, Value::Nil)?;
    }
    let redis = lua.create_table()?;
    redis.set("REDIS_VERSION", version)?;
    redis.set("REDIS_VERSION_NUM", version_num)?;
    redis.set("sha1hex", lua.create_function(libs::sha1hex_fn)?)?;
    redis.set("log", lua.create_function(libs::log)?)?;
    // Kept for scripts written for older Redis: effects replication is always on (true), and
    // there is no Lua debugger (breakpoint answers false, debug does nothing).
    redis.set("replicate_commands", lua.create_function(|_, ()| Ok(true))?)?;
    redis.set("breakpoint", lua.create_function(|_, ()| Ok(false))?)?;
    redis.set("debug", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    let hooks = lua.create_table()?;
    libs::install_redis_fns(&lua, &redis, &hooks)?;
    install_call_wrappers(&lua, &redis, &hooks)?;
    g.raw_set("redis", redis)?;
    libs::install(&lua, &g)?;
    let handler = lua.create_function(error_handler)?;
    let (runner, env, run_fn): (Function, Table, Function) = lua
        .load(PRELUDE)
        .set_name("=prelude")
        .call((g.clone(), handler, lua.create_function(libs::error_text)?))?;
    Ok(State {
        hooks,
        redis: g.raw_get("redis")?,
        runner,
        run_fn,
        globals: g,
        env,
        kill_hook: std::cell::Cell::new(false),
        names: Names::new(&lua)?,
        lua,
    })
}

/// The hidden marker `redis.acl_check_cmd` passes to the run's call function (scripts cannot
/// get hold of it, so they cannot ask for an ACL check through `redis.call`).
const ACL_MARK: &str = "acl_mark";

/// `redis.pcall` and `redis.acl_check_cmd`, made once per state: both go through the run's one
/// scoped function (`hooks.call`, also `redis.call`), so a run creates one Rust callback, not
/// three. `pcall` turns the error `call` raises for an error reply back into the `{err=...}`
/// table.
fn install_call_wrappers(lua: &Lua, redis: &Table, hooks: &Table) -> mlua::Result<()> {
    let mark = lua.create_table()?;
    hooks.raw_set(ACL_MARK, mark.clone())?;
    let h = hooks.clone();
    let pcall = lua.create_function(move |lua, args: MultiValue| {
        let call: Function = h.raw_get("call")?;
        match call.call::<Value>(args) {
            Ok(v) => Ok(v),
            Err(e) => match e.downcast_ref::<libs::Raised>() {
                Some(r) => Ok(err_table(lua, &r.0)?.0),
                None => Err(e),
            },
        }
    })?;
    redis.raw_set("pcall", pcall)?;
    let h = hooks.clone();
    let acl = lua.create_function(move |_, mut args: MultiValue| {
        let call: Function = h.raw_get("call")?;
        args.push_front(Value::Table(mark.clone()));
        call.call::<bool>(args)
    })?;
    redis.raw_set("acl_check_cmd", acl)
}

/// The xpcall handler: turns any error into an `{err=...}` table that also carries where in
/// the user's script it happened (`source`, `line`), as Redis reports it.
fn error_handler(lua: &Lua, e: Value) -> mlua::Result<Table> {
    let at = user_line(lua);
    let line = at.map(|(_, l)| l);
    let src = at.map_or(USER_SCRIPT, |(s, _)| s);
    let raised = match &e {
        Value::Error(err) => err.downcast_ref::<libs::Raised>().map(|r| r.0.clone()),
        _ => None,
    };
    let t = match e {
        Value::Table(t) => t,
        _ if raised.is_some() => {
            let t = lua.create_table()?;
            t.raw_set("err", raised.unwrap_or_default())?;
            t
        }
        other => {
            let msg = match &other {
                Value::String(s) => s.to_string_lossy(),
                Value::Nil => "nil".to_string(),
                // A library function written in Rust failed: Lua's C libraries prefix the
                // caller's position, so the message reads the same.
                Value::Error(err) => {
                    let inner = root_message(err);
                    match line {
                        Some(l) => format!("{}:{l}: {inner}", &src[1..]),
                        None => inner,
                    }
                }
                v => lua
                    .coerce_string(v.clone())
                    .ok()
                    .flatten()
                    .map(|s| s.to_string_lossy())
                    .unwrap_or_else(|| v.type_name().to_string()),
            };
            let t = lua.create_table()?;
            t.raw_set("err", format!("ERR {msg}"))?;
            t
        }
    };
    if let Some(l) = line {
        t.raw_set("source", src)?;
        t.raw_set("line", l)?;
    }
    Ok(t)
}

/// Chunk name of EVAL scripts (errors say `user_script:<line>`).
const USER_SCRIPT: &str = "@user_script";
/// Chunk name of function libraries (errors say `user_function:<line>`).
const USER_FUNCTION: &str = "@user_function";

/// The chunk name and current line of the innermost user code (script or function library)
/// on the stack.
fn user_line(lua: &Lua) -> Option<(&'static str, i64)> {
    for level in 0..64 {
        let found = lua.inspect_stack(level, |d| {
            let src = d.source();
            let name = match src.source.as_deref() {
                Some(USER_SCRIPT) => USER_SCRIPT,
                Some(USER_FUNCTION) => USER_FUNCTION,
                _ => return None,
            };
            Some((name, d.current_line()))
        })?;
        if let Some((name, line)) = found {
            return Some((name, line.map_or(-1, |l| l as i64)));
        }
    }
    None
}

/// The message of the error a Rust callback returned, without mlua's wrapping.
pub(crate) fn root_message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::CallbackError { cause, .. } => root_message(cause),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::WithContext { cause, .. } => root_message(cause),
        other => other.to_string(),
    }
}

/// What a script run needs besides the engine and the client.
pub struct Invocation<'a> {
    /// The script's SHA-1 (lowercase hex).
    pub sha: &'a str,
    /// KEYS.
    pub keys: Vec<&'a [u8]>,
    /// ARGV.
    pub args: Vec<&'a [u8]>,
    /// EVAL_RO/EVALSHA_RO or a `no-writes` script.
    pub read_only: bool,
    /// In cluster mode the script may touch keys of several slots (`allow-cross-slot-keys`,
    /// or a script without a shebang, as Redis 7.0 allows legacy scripts).
    pub cross_slot: bool,
}

impl Scripts {
    fn state(&mut self, version: &str, version_num: u32) -> Result<&State, String> {
        if self.state.is_none() {
            let st = new_state(version, version_num).map_err(|e| format!("ERR {e}"))?;
            self.state = Some(st);
        }
        self.state
            .as_ref()
            .ok_or_else(|| "ERR no Lua state".to_string())
    }

    /// Whether a script with this SHA-1 is cached (`sha` in any case).
    pub fn exists(&self, sha: &str) -> bool {
        self.cached(sha).is_some()
    }

    /// The cached script named `sha` in any case (no copy when it is lowercase already).
    fn cached(&self, sha: &str) -> Option<&Script> {
        if sha.bytes().any(|b| b.is_ascii_uppercase()) {
            self.cache.get(&sha.to_ascii_lowercase())
        } else {
            self.cache.get(sha)
        }
    }

    /// The flags of a cached script.
    pub fn flags(&self, sha: &str) -> Option<ScriptFlags> {
        self.cached(sha).map(|s| s.flags)
    }

    /// The source of a cached script, as it was loaded.
    pub fn body(&self, sha: &str) -> Option<&[u8]> {
        self.cached(sha).map(|s| &s.body[..])
    }

    /// Compiles and caches `body` (unless cached); returns its SHA-1.
    pub fn load(&mut self, body: &[u8], version: &str, version_num: u32) -> Result<String, String> {
        let sha = sha1hex(body);
        if self.cache.contains_key(&sha) {
            return Ok(sha);
        }
        let (flags, code) = parse_shebang(body)?;
        let st = self.state(version, version_num)?;
        let func = st
            .lua
            .load(&code[..])
            .set_name("@user_script")
            .set_environment(st.env.clone())
            .into_function()
            .map_err(|e| {
                let msg = match &e {
                    mlua::Error::SyntaxError { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                format!("ERR Error compiling script (new function): {msg}")
            })?;
        self.bodies_bytes += body.len();
        let body = body.into();
        self.cache.insert(sha.clone(), Script { func, flags, body });
        Ok(sha)
    }

    /// SCRIPT FLUSH: forgets every script and starts a fresh Lua state.
    pub fn flush(&mut self) {
        self.cache.clear();
        self.state = None;
        self.bodies_bytes = 0;
    }

    /// Number of cached scripts (INFO `number_of_cached_scripts`).
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// Whether no script is cached.
    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }
}

/// Runs the cached script `inv.sha` for `client`, writing its reply (or error) to `out`.
/// The script must have been loaded ([`Scripts::load`]).
pub fn run_script(
    eng: &mut Engine,
    client: &mut Client,
    out: &mut Reply,
    inv: &Invocation<'_>,
) -> Result<(), String> {
    let Some(func) = eng.scripts.cache.get(inv.sha).map(|s| s.func.clone()) else {
        return Err(NOSCRIPT_MSG.to_string());
    };
    let Some(st) = eng.scripts.state.take() else {
        return Err(NOSCRIPT_MSG.to_string());
    };
    let res = run_prepared(eng, client, out, &st, func, inv, false);
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
) -> Result<(), String> {
    let Some(st) = eng.scripts.functions.state.take() else {
        return Err("ERR Function not found".to_string());
    };
    let res = run_prepared(eng, client, out, &st, func, inv, true);
    // FUNCTION commands are refused from inside, so this state is still the current one.
    eng.scripts.functions.state = Some(st);
    res
}

/// The part of a run common to scripts and functions: the caller's state saved and restored,
/// the BUSY/kill watch, the result converted to the caller's reply.
fn run_prepared(
    eng: &mut Engine,
    client: &mut Client,
    out: &mut Reply,
    st: &State,
    func: Function,
    inv: &Invocation<'_>,
    function: bool,
) -> Result<(), String> {
    let saved = (
        client.db,
        client.reply_mode,
        client.in_exec,
        client.last_cmd,
    );
    client.reply_mode = ReplyMode::On;
    client.in_exec = true;
    eng.scripts.running = true;
    let watch = eng.scripts.watch.clone();
    let busy_after = eng.cfg.get_i64("busy-reply-threshold").unwrap_or(5000);
    watch.begin(busy_after, function);
    let res = run_in_state(st, eng, client, func, inv, function);
    let killed = watch.kill.load(Ordering::Acquire);
    watch.end();
    if function {
        // The functions' state uses hooks of its own (FUNCTION LOAD's time limit); the EVAL
        // state keeps its kill check installed between runs (installing costs every call).
        st.lua.remove_hook();
    }
    eng.scripts.running = false;
    (
        client.db,
        client.reply_mode,
        client.in_exec,
        client.last_cmd,
    ) = saved;
    match res {
        Ok((v, lua_resp3)) if !killed => {
            convert::lua_to_reply(&v, out, lua_resp3, 0);
            Ok(())
        }
        // The kill error as Redis words it (without Lua's position prefix); a script that
        // caught it with pcall still ends killed.
        Err(msg) if killed && msg.contains(KILLED) => {
            Err(msg[msg.find(KILLED).unwrap_or(0)..].to_string())
        }
        Ok(_) => Err(format!("{KILLED} script: {}.", inv.sha)),
        Err(msg) => Err(msg),
    }
}

fn run_in_state(
    st: &State,
    eng: &mut Engine,
    client: &mut Client,
    func: Function,
    inv: &Invocation<'_>,
    function: bool,
) -> Result<(Value, bool), String> {
    let lua = &st.lua;
    let rand = eng.scripts.rand;
    let setup = || -> mlua::Result<(Table, Table)> {
        let keys = string_sequence(lua, &inv.keys)?;
        let args = string_sequence(lua, &inv.args)?;
        // Scripts read KEYS/ARGV globals; functions get them as arguments.
        if !function {
            st.globals.raw_set("KEYS", keys.clone())?;
            st.globals.raw_set("ARGV", args.clone())?;
        }
        st.hooks.raw_set(&st.names.resp, 2)?;
        st.hooks.raw_set(&st.names.repl, libs::REPL_ALL)?;
        // Updated in place: inserting app data allocates.
        match lua.app_data_mut::<libs::Rand>() {
            Some(mut r) => r.0 = rand,
            None => {
                lua.set_app_data(libs::Rand(rand));
            }
        }
        Ok((keys, args))
    };
    let (keys, args) = setup().map_err(|e| format!("ERR {e}"))?;
    if function || !st.kill_hook.get() {
        set_kill_hook(lua, eng.scripts.watch.clone())?;
        st.kill_hook.set(!function);
    }
    let cell = std::cell::RefCell::new((eng, client));
    let dirty_at_start = cell.borrow().0.dirty();
    // Cluster mode: the slot the script works in (its first declared key's, else the first
    // key it touches).
    let slot = std::cell::Cell::new(inv.keys.first().map(|k| crate::cluster::key_slot(k)));
    let rules = CallRules {
        read_only: inv.read_only,
        cross_slot: inv.cross_slot,
        slot: &slot,
    };
    let call_with = |lua: &Lua, args: MultiValue| {
        let resp3 = st.hooks.raw_get::<i64>(&st.names.resp).unwrap_or(2) == 3;
        let repl = st
            .hooks
            .raw_get::<i64>(&st.names.repl)
            .unwrap_or(libs::REPL_ALL);
        let mut guard = cell.borrow_mut();
        let (eng, client) = &mut *guard;
        // Once the script has written, its later commands are not refused for memory: a
        // script stopped halfway would leave a partial write (Redis' rule).
        if eng.dirty() != dirty_at_start {
            client.no_evict = true;
        }
        let r = script_call(lua, eng, client, args, &rules, (resp3, repl));
        if eng.dirty() != dirty_at_start {
            eng.scripts.watch.wrote.store(true, Ordering::Release);
        }
        r
    };
    let mark: Table = st.hooks.raw_get(ACL_MARK).map_err(|e| format!("ERR {e}"))?;
    let result = lua.scope(|scope| {
        let call = scope.create_function(|lua, args: MultiValue| {
            if let Some(Value::Table(t)) = args.front()
                && *t == mark
            {
                let mut args = args;
                args.pop_front();
                let guard = cell.borrow();
                return Ok(Value::Boolean(acl_check(&*guard.0, &*guard.1, &args)?));
            }
            let (v, bad) = call_with(lua, args)?;
            if bad && let Value::Table(t) = &v {
                let msg: String = t.raw_get::<mlua::LuaString>("err")?.to_string_lossy();
                return Err(mlua::Error::external(libs::Raised(msg)));
            }
            Ok(v)
        })?;
        let n = &st.names;
        st.redis.raw_set(&n.call, &call)?;
        st.hooks.raw_set(&n.call, call)?;
        let r: (bool, Value) = if function {
            st.run_fn.call((func, keys, args))?
        } else {
            st.runner.call(func)?
        };
        st.redis.raw_set(&n.call, Value::Nil)?;
        st.hooks.raw_set(&n.call, Value::Nil)?;
        Ok(r)
    });
    let lua_resp3 = st.hooks.raw_get::<i64>(&st.names.resp).unwrap_or(2) == 3;
    if let Some(r) = lua.app_data_ref::<libs::Rand>() {
        cell.borrow_mut().0.scripts.rand = r.0;
    }
    match result {
        Ok((true, v)) => Ok((v, lua_resp3)),
        Ok((false, Value::Table(t))) => Err(script_error(&t, inv.sha)),
        Ok((false, other)) => Err(format!("ERR {other:?}")),
        Err(e) => Err(format!("ERR {e}")),
    }
}

/// A Lua array of byte strings (KEYS, ARGV), built without copying each one first.
fn string_sequence(lua: &Lua, items: &[&[u8]]) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.iter().enumerate() {
        t.raw_set(i + 1, lua.create_string(item)?)?;
    }
    Ok(t)
}

/// Makes the running script check for SCRIPT KILL (or FUNCTION KILL) every few thousand
/// instructions, and leave the runtime's worker once it has run for a while.
fn set_kill_hook(lua: &Lua, watch: Arc<ScriptWatch>) -> Result<(), String> {
    lua.set_hook(
        mlua::HookTriggers::new().every_nth_instruction(KILL_CHECK_INSTRUCTIONS),
        move |_, _| {
            watch.maybe_leave_worker();
            if watch.kill.load(Ordering::Acquire) {
                Err(mlua::Error::runtime(KILLED))
            } else {
                Ok(mlua::VmState::Continue)
            }
        },
    )
    .map_err(|e| format!("ERR {e}"))
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

fn err_table(lua: &Lua, msg: &str) -> mlua::Result<(Value, bool)> {
    let t = lua.create_table()?;
    t.raw_set("err", msg)?;
    Ok((Value::Table(t), true))
}

/// One `redis.call`/`redis.pcall`: returns the converted reply and whether it is an error.
/// `mode` is the script's protocol (`redis.setresp`) and replication flags (`redis.set_repl`).
fn script_call(
    lua: &Lua,
    eng: &mut Engine,
    client: &mut Client,
    args: MultiValue,
    rules: &CallRules<'_>,
    mode: (bool, i64),
) -> mlua::Result<(Value, bool)> {
    let (resp3, repl) = mode;
    let argv = match lua_argv(&args) {
        Ok(a) => a,
        Err(msg) => return err_table(lua, msg),
    };
    let argv = argv.as_argv();
    if let Err(msg) = check_call(eng, client, &argv, rules) {
        return err_table(lua, msg);
    }
    let mut reply = Reply {
        buf: Vec::new(),
        resp3,
    };
    // The command's effects queue up for the script's MULTI/EXEC unit (the caller is marked
    // as inside a transaction); without REPL_REPLICA (`redis.set_repl`) they are dropped from
    // it, so replicas never see them.
    let queued = eng.repl.txn.len();
    crate::command::dispatch::dispatch(eng, client, &mut reply, &argv);
    if repl & libs::REPL_REPLICA == 0 {
        eng.repl.txn.truncate(queued);
    }
    let mut pos = 0;
    let v = convert::reply_to_lua(lua, &reply.buf, &mut pos)?;
    let is_err = reply.buf.first() == Some(&b'-');
    Ok((v, is_err))
}

/// A `redis.call`-style argument list as a command line; `Err` is Redis' message.
fn lua_argv(args: &MultiValue) -> Result<OwnedArgv, &'static str> {
    if args.is_empty() {
        return Err("ERR Please specify at least one argument for this redis lib call");
    }
    let mut argv = OwnedArgv::default();
    for a in args.iter() {
        match a {
            Value::String(s) => argv.push(&s.as_bytes()),
            Value::Integer(n) => argv.push(n.to_string().as_bytes()),
            Value::Number(n) => argv.push(convert::number_arg(*n).as_bytes()),
            _ => return Err("ERR Lua redis lib command arguments must be strings or integers"),
        }
    }
    Ok(argv)
}

/// `redis.acl_check_cmd(command, args...)`: whether the script's user may run that command
/// line (its command, keys and channels), without running it.
fn acl_check(eng: &Engine, client: &Client, args: &MultiValue) -> mlua::Result<bool> {
    let raised = |m: &str| mlua::Error::external(libs::Raised(m.to_string()));
    let argv = lua_argv(args).map_err(raised)?;
    let argv = argv.as_argv();
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

/// What a script's commands are checked against besides the command table.
struct CallRules<'a> {
    read_only: bool,
    cross_slot: bool,
    slot: &'a std::cell::Cell<Option<u16>>,
}

/// The script-specific refusals before a command runs, in Redis' order.
fn check_call(
    eng: &Engine,
    client: &Client,
    argv: &crate::command::Argv<'_>,
    rules: &CallRules<'_>,
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
    if spec.has(flags::NOSCRIPT) {
        return Err("ERR This Redis command is not allowed from script");
    }
    if rules.read_only && spec.has(flags::WRITE) {
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
    rules: &CallRules<'_>,
) -> Result<(), &'static str> {
    let positions = spec.key_positions(argv);
    for &p in &positions {
        let slot = crate::cluster::key_slot(argv.get(p));
        if !rules.cross_slot {
            match rules.slot.get() {
                None => rules.slot.set(Some(slot)),
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
