//! Lua scripting: the node's Lua 5.1 state, the script cache by SHA-1, and running one script
//! with `redis.call` going through the same dispatcher as clients.
//!
//! Place in the flow: `EVAL`/`EVALSHA`/`SCRIPT` handlers (`command/scripting.rs`) call
//! `command::script_run::run_script` while the connection holds the node lock, so a script is atomic. The Lua
//! state lives in the engine ([`Scripts`]) and is taken out while a script runs, so the
//! `redis.call` callback can borrow the engine and the calling client mutably; each call is
//! checked (script rules: unknown command, arity, `noscript`, read-only scripts) and then
//! handed to [`crate::command::dispatch::dispatch`] with the caller's client marked as inside
//! a transaction: ACL, OOM, keyspace notifications, statistics apply as for any command, and
//! the writes reach replicas wrapped in MULTI/EXEC (not the EVAL). The reply bytes are then
//! converted to Lua values ([`convert`]).

pub mod argerror;
pub mod convert;
pub mod functions;
pub mod json;
pub mod json_decode;
pub mod libs;
pub mod msgpack;

use mlua::{Function, Lua, LuaOptions, MultiValue, StdLib, Table, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU64, Ordering};

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
pub(crate) struct Script {
    /// Where the compiled function is in [`State::scripts`] (a run passes this number to the
    /// Lua runner, which costs less than passing the function).
    pub(crate) index: i64,
    pub(crate) flags: ScriptFlags,
    /// The source as loaded (SCRIPT SHOW, Valkey 8.0).
    pub(crate) body: Box<[u8]>,
}

/// The parts of a Lua state the runner uses.
pub(crate) struct State {
    pub(crate) lua: Lua,
    /// The `redis` table (`call` is set for each run).
    pub(crate) redis: Table,
    /// `function(f) return xpcall(f, handler) end` (a library's load-time code).
    pub(crate) protect: Function,
    /// `function(call, index, nkeys, nargs, keys and args...)`: sets KEYS, ARGV and
    /// `redis.call` for the run, then `xpcall(scripts[index], handler)` (see [`PRELUDE`]).
    pub(crate) run_script: Function,
    /// The same for Redis 7 functions, which get KEYS and ARGV as arguments:
    /// `xpcall(function() return f(keys, args) end, handler)`.
    pub(crate) run_fn: Function,
    /// The real global table (the scripts see a read-only proxy of it).
    pub(crate) globals: Table,
    /// The environment scripts run in.
    pub(crate) env: Table,
    /// The compiled EVAL scripts by [`Script::index`] (the runner's `fns`).
    pub(crate) scripts: Table,
    /// The marker `redis.acl_check_cmd` passes to the run's call function.
    pub(crate) acl_mark: Table,
    /// The SCRIPT KILL check is installed (the EVAL state installs it once).
    pub(crate) kill_hook: std::cell::Cell<bool>,
    /// This state's one `redis.call` function and the slot it reaches the engine through,
    /// made at its first run by `command::script_run` (the slot's type names the engine,
    /// which this module does not).
    pub(crate) call: std::cell::OnceCell<(Function, Arc<dyn std::any::Any + Send + Sync>)>,
    /// What the run and the `redis` library functions share without a Lua table: the
    /// protocol (`redis.setresp`), the replication flags (`redis.set_repl`) and `math.random`'s
    /// state.
    pub(crate) modes: Arc<RunModes>,
}

/// The per-run settings the `redis` library changes, read by the runner's `redis.call`
/// without a Lua API call (atomics only because a Lua state must be `Send`; one thread uses
/// them at a time, under the node lock).
#[derive(Debug)]
pub(crate) struct RunModes {
    /// 2 or 3 (`redis.setresp`).
    resp: AtomicU8,
    /// `redis.set_repl` flags.
    repl: AtomicU8,
    /// `math.random`'s lrand48 state, lent by the node for the run.
    rand: AtomicU64,
}

impl Default for RunModes {
    fn default() -> RunModes {
        RunModes {
            resp: AtomicU8::new(2),
            repl: AtomicU8::new(libs::REPL_ALL as u8),
            rand: AtomicU64::new(libs::RAND_INIT),
        }
    }
}

impl RunModes {
    /// A run starts in RESP2, replicating everything, with the node's random sequence.
    pub(crate) fn begin(&self, rand: u64) {
        self.resp.store(2, Ordering::Relaxed);
        self.repl.store(libs::REPL_ALL as u8, Ordering::Relaxed);
        self.rand.store(rand, Ordering::Relaxed);
    }

    /// `redis.setresp(3)` was called.
    pub(crate) fn resp3(&self) -> bool {
        self.resp.load(Ordering::Relaxed) == 3
    }

    pub(crate) fn set_resp(&self, v: u8) {
        self.resp.store(v, Ordering::Relaxed);
    }

    /// `redis.set_repl` flags.
    pub(crate) fn repl(&self) -> i64 {
        i64::from(self.repl.load(Ordering::Relaxed))
    }

    pub(crate) fn set_repl(&self, v: u8) {
        self.repl.store(v, Ordering::Relaxed);
    }

    /// `math.random`'s state.
    pub(crate) fn rand(&self) -> u64 {
        self.rand.load(Ordering::Relaxed)
    }

    pub(crate) fn set_rand(&self, v: u64) {
        self.rand.store(v, Ordering::Relaxed);
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
    pub(crate) busy_at_ms: AtomicI64,
    /// SCRIPT KILL (or the node stopping) asked the script to stop.
    pub(crate) kill: AtomicBool,
    /// The script has written: SCRIPT KILL answers UNKILLABLE.
    pub(crate) wrote: AtomicBool,
    /// What runs is a function (FCALL), not an EVAL script: FUNCTION KILL stops it.
    pub(crate) function: AtomicBool,
    /// The running function, for FUNCTION STATS while it runs.
    pub(crate) running: std::sync::Mutex<Option<RunningFunction>>,
    /// Wall-clock ms at which the running script next tries to leave its runtime worker
    /// ([`leave_worker`]); 0 while no script runs.
    pub(crate) leave_at_ms: AtomicI64,
    /// What accepting a connection while the script runs needs and cannot read without the
    /// lock, as the script's start saw it (no command that changes it runs in a script).
    /// Stored before `busy_at_ms` (release), read after it (acquire).
    maxclients: std::sync::atomic::AtomicUsize,
}

/// The node's limits when a script started: a connection accepted while it is busy is
/// checked against them (see `node::max_clients`).
#[derive(Debug, Default, Clone, Copy)]
pub struct NodeAtStart {
    /// `maxclients`.
    pub maxclients: usize,
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
pub(crate) const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";
/// A script running this long (ms) moves off the runtime's worker thread.
pub(crate) const LEAVE_WORKER_AFTER_MS: i64 = 5;
/// How often (ms) a long script retries leaving the worker.
pub(crate) const LEAVE_WORKER_RETRY_MS: i64 = 100;
/// How often (in Lua VM instructions) a running script checks for SCRIPT KILL.
pub(crate) const KILL_CHECK_INSTRUCTIONS: u32 = 10_000;
/// BUSY while an EVAL script runs.
pub(crate) const BUSY_SCRIPT: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// BUSY while a function runs.
pub(crate) const BUSY_FUNCTION: &str =
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

    /// The node's limits as the running script's start saw them (`None` while no script
    /// runs).
    pub fn node_at_start(&self) -> Option<NodeAtStart> {
        if self.busy_at_ms.load(Ordering::Acquire) == 0 {
            return None;
        }
        Some(NodeAtStart {
            maxclients: self.maxclients.load(Ordering::Relaxed),
        })
    }

    pub(crate) fn begin(&self, busy_after_ms: i64, function: bool, node: NodeAtStart) {
        self.maxclients.store(node.maxclients, Ordering::Relaxed);
        self.kill.store(false, Ordering::Release);
        self.wrote.store(false, Ordering::Release);
        self.function.store(function, Ordering::Release);
        let now = crate::clock::wall_ms();
        let at = now.saturating_add(busy_after_ms).max(1);
        self.busy_at_ms.store(at, Ordering::Release);
        self.leave_at_ms
            .store(now.saturating_add(LEAVE_WORKER_AFTER_MS), Ordering::Relaxed);
    }

    /// From the kill check: a script running for a while leaves the runtime's worker thread
    /// (retried now and then, in case a hand-off did not happen).
    pub(crate) fn maybe_leave_worker(&self) {
        let at = self.leave_at_ms.load(Ordering::Relaxed);
        if at == 0 {
            return;
        }
        let now = crate::clock::wall_ms();
        if now >= at {
            self.leave_at_ms
                .store(now.saturating_add(LEAVE_WORKER_RETRY_MS), Ordering::Relaxed);
            leave_worker();
        }
    }

    pub(crate) fn end(&self) {
        self.busy_at_ms.store(0, Ordering::Release);
        self.leave_at_ms.store(0, Ordering::Relaxed);
        self.kill.store(false, Ordering::Release);
        self.set_running(None);
    }
}

/// The script cache's hasher: FNV-1a. Its keys are SHA-1 digests in hex, evenly spread
/// already, and EVALSHA looks one up per call (SipHash costs several times more on 40 bytes).
pub(crate) type ShaHash = std::hash::BuildHasherDefault<Fnv>;

/// FNV-1a, 64 bits.
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The node's scripting state: one Lua state (created on first use, dropped by SCRIPT FLUSH)
/// and the scripts compiled in it.
pub struct Scripts {
    pub(crate) state: Option<Box<State>>,
    pub(crate) cache: HashMap<String, Script, ShaHash>,
    /// Memory taken by cached script bodies (INFO `used_memory_scripts_eval`).
    pub bodies_bytes: usize,
    /// A script is running (MONITOR shows its commands as coming from `lua`).
    pub running: bool,
    /// `math.random`'s state: one sequence per node, which goes on from script to script and
    /// survives SCRIPT FLUSH, as in Redis 7.0.
    pub(crate) rand: u64,
    /// Shared with the node's connections (BUSY, SCRIPT KILL while a script runs).
    pub watch: Arc<ScriptWatch>,
    /// Another connection's commands run now, between two steps of a busy script
    /// (`engine::visits`): only commands allowed while busy run, the others get BUSY.
    pub visiting: bool,
    /// Redis 7 functions (FUNCTION LOAD, FCALL): their own Lua state and libraries.
    pub functions: functions::Functions,
    /// The running script's KEYS, when its caller tracks keys (client-side caching): a
    /// read-only command the script calls makes the caller track these, not the keys the
    /// command names, as Redis does.
    pub declared_keys: Vec<Vec<u8>>,
}

impl Default for Scripts {
    fn default() -> Scripts {
        Scripts {
            state: None,
            cache: HashMap::default(),
            bodies_bytes: 0,
            running: false,
            rand: libs::RAND_INIT,
            watch: Arc::default(),
            visiting: false,
            declared_keys: Vec::new(),
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

/// Lua code setting the `redis` library constants, the read-only environment and the runners.
/// Receives the globals table, the error handler and the hidden hooks table. The runners set
/// up a run in Lua (KEYS and ARGV built from the call's arguments, `redis.call` installed and
/// removed), so a run costs one call from Rust into Lua. (The `redis` functions are written in
/// Rust: C functions keep the caller's frame in a tail call, so an error raised by
/// `return redis.call(...)` still knows the script's line, as in Redis.)
pub(crate) const PRELUDE: &str = r#"
local G, handler, error_text, hooks, fns = ...
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
-- Scripts see an empty read-only table whose reads fall through to the globals (a table
-- __index: no function call per global read); reading a global that does not exist raises,
-- from the globals' own metatable, the error Redis raises.
local function nonexistent(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end
setmetatable(G, { __index = nonexistent, __metatable = false })
local function refuse() error('Attempt to modify a readonly table', 2) end
-- The libraries (string, math, table, cjson, bit, struct, cmsgpack, redis, ...) are read-only
-- too, as in Redis 7: scripts see a proxy that reads through to the table (the runners below
-- still write `redis.call` into the real one). `real` maps each proxy to its table, so that
-- rawset refuses it and pairs and getmetatable see what they see on redis-server.
local real = {}
local function readonly(t)
  local proxy = setmetatable({}, { __index = t, __newindex = refuse, __metatable = false })
  real[proxy] = t
  return proxy
end
for name, lib in next, G do
  if type(lib) == 'table' and lib ~= G then G[name] = readonly(lib) end
end
local lua_rawset, lua_pairs = rawset, pairs
local lua_getmetatable, lua_setmetatable = getmetatable, setmetatable
G.rawset = function(t, k, v)
  if real[t] then error('Attempt to modify a readonly table', 0) end
  return lua_rawset(t, k, v)
end
G.pairs = function(t) return lua_pairs(real[t] or t) end
-- String methods ("x"):rep(2) read the string library through the same proxy. The strings'
-- metatable is shared by every script, so scripts see it read-only, as in Redis 7, and so is
-- the globals' one; the libraries show none.
local string_meta = lua_getmetatable('')
if string_meta then string_meta.__index = G.string end
local string_meta_view = string_meta and readonly(string_meta)
local globals_meta_view = readonly({ __index = nonexistent })
G.getmetatable = function(t)
  if real[t] == G then return globals_meta_view end
  if real[t] then return nil end
  if type(t) == 'string' then return string_meta_view end
  return lua_getmetatable(t)
end
-- Redis' read-only tables refuse a new metatable with this message, without a position.
G.setmetatable = function(t, m)
  if real[t] then error('Attempt to modify a readonly table', 0) end
  return lua_setmetatable(t, m)
end
local env = readonly(G)
G._G = env
local function protect(f) return xpcall(f, handler) end
-- KEYS and ARGV from a run's arguments: `nk` keys, then `na` arguments. A negative `nk` means
-- the two tables come made (a run with more arguments than a call may pass).
local function split(nk, na, ...)
  if nk < 0 then return ... end
  if na == 0 then return {...}, {} end
  if nk == 0 then return {}, {...} end
  local all, k, a = {...}, {}, {}
  for i = 1, nk do k[i] = all[i] end
  for i = 1, na do a[i] = all[nk + i] end
  return k, a
end
-- The run's call function stays in `redis.call` after the run: no Lua code runs in this
-- state between runs, and the next run replaces it.
local function run_script(call, i, nk, na, ...)
  if na == 0 and nk >= 0 then
    G.KEYS, G.ARGV = {...}, {}
  else
    G.KEYS, G.ARGV = split(nk, na, ...)
  end
  redis.call, hooks.call = call, call
  return xpcall(fns[i], handler)
end
local function run_fn(call, f, nk, na, ...)
  local k, a = split(nk, na, ...)
  redis.call, hooks.call = call, call
  return xpcall(function() return f(k, a) end, handler)
end
return protect, env, run_script, run_fn
"#;

/// Creates a Lua state with the libraries scripts may use.
pub(crate) fn new_state(version: &str, version_num: u32) -> mlua::Result<State> {
    let lua = Lua::new_with(
        StdLib::TABLE | StdLib::STRING | StdLib::MATH,
        LuaOptions::default(),
    )?;
    let g = lua.globals();
    // redis-server 7.0.15 offers scripts neither these nor print, getfenv and setfenv.
    for name in [
        "loadfile", "dofile", "require", "module", "newproxy", "print", "getfenv", "setfenv",
    ] {
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
    let modes = Arc::new(RunModes::default());
    libs::install_redis_fns(&lua, &redis, &modes)?;
    let acl_mark = install_call_wrappers(&lua, &redis, &hooks)?;
    let scripts = lua.create_table()?;
    g.raw_set("redis", redis.clone())?;
    libs::install(&lua, &g, &modes)?;
    let handler = lua.create_function(error_handler)?;
    let (protect, env, run_script, run_fn): (Function, Table, Function, Function) =
        lua.load(PRELUDE).set_name("=prelude").call((
            g.clone(),
            handler,
            lua.create_function(libs::error_text)?,
            hooks,
            scripts.clone(),
        ))?;
    Ok(State {
        redis,
        protect,
        run_script,
        run_fn,
        globals: g,
        env,
        scripts,
        acl_mark,
        kill_hook: std::cell::Cell::new(false),
        call: std::cell::OnceCell::new(),
        modes,
        lua,
    })
}

/// `redis.pcall` and `redis.acl_check_cmd`, made once per state: both go through the state's
/// one call function (`hooks.call`, also `redis.call`, see [`State::call`]). `pcall` turns the error `call` raises for an error reply back into the `{err=...}`
/// table. Returns the hidden marker `redis.acl_check_cmd` passes to the call function
/// (scripts cannot get hold of it, so they cannot ask for an ACL check through `redis.call`).
pub(crate) fn install_call_wrappers(
    lua: &Lua,
    redis: &Table,
    hooks: &Table,
) -> mlua::Result<Table> {
    let mark = lua.create_table()?;
    let h = hooks.clone();
    let pcall = lua.create_function(move |lua, args: MultiValue| {
        let call: Function = h.raw_get("call")?;
        match call.call::<Value>(args) {
            Ok(v) => Ok(v),
            Err(e) => match libs::raised_message(&e) {
                Some((msg, counted)) => {
                    let t = err_table(lua, &msg)?.0;
                    if counted && let Value::Table(t) = &t {
                        t.raw_set(convert::COUNTED_MARK, true)?;
                    }
                    Ok(t)
                }
                None => Err(e),
            },
        }
    })?;
    redis.raw_set("pcall", pcall)?;
    let h = hooks.clone();
    let m = mark.clone();
    let acl = lua.create_function(move |_, mut args: MultiValue| {
        let call: Function = h.raw_get("call")?;
        args.push_front(Value::Table(m.clone()));
        call.call::<bool>(args)
    })?;
    redis.raw_set("acl_check_cmd", acl)?;
    Ok(mark)
}

/// The xpcall handler: turns any error into an `{err=...}` table that also carries where in
/// the user's script it happened (`source`, `line`), as Redis reports it.
pub(crate) fn error_handler(lua: &Lua, e: Value) -> mlua::Result<Table> {
    let at = user_line(lua);
    let line = at.map(|(_, l)| l);
    let src = at.map_or(USER_SCRIPT, |(s, _)| s);
    let raised = match &e {
        Value::Error(err) => libs::raised_message(err),
        _ => None,
    };
    let t = match e {
        Value::Table(t) => t,
        _ if raised.is_some() => {
            let (msg, counted) = raised.unwrap_or_default();
            let t = lua.create_table()?;
            t.raw_set("err", msg)?;
            if counted {
                t.raw_set(convert::COUNTED_MARK, true)?;
            }
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
pub(crate) const USER_SCRIPT: &str = "@user_script";
/// Chunk name of function libraries (errors say `user_function:<line>`).
pub(crate) const USER_FUNCTION: &str = "@user_function";

/// The chunk name and current line of the innermost user code (script or function library)
/// on the stack.
pub(crate) fn user_line(lua: &Lua) -> Option<(&'static str, i64)> {
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

impl Scripts {
    pub(crate) fn state(&mut self, version: &str, version_num: u32) -> Result<&State, String> {
        if self.state.is_none() {
            let st = new_state(version, version_num).map_err(|e| format!("ERR {e}"))?;
            self.state = Some(Box::new(st));
        }
        self.state
            .as_deref()
            .ok_or_else(|| "ERR no Lua state".to_string())
    }

    /// Whether a script with this SHA-1 is cached (`sha` in any case).
    pub fn exists(&self, sha: &str) -> bool {
        self.cached(sha).is_some()
    }

    /// The cached script named `sha` in any case (no copy when it is lowercase already).
    pub(crate) fn cached(&self, sha: &str) -> Option<&Script> {
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

    /// The flags and the runner's index of a cached script (`sha` in lowercase).
    pub fn lookup(&self, sha: &str) -> Option<(ScriptFlags, i64)> {
        self.cache.get(sha).map(|s| (s.flags, s.index))
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
        // Scripts leave the cache only all at once (SCRIPT FLUSH, with a new Lua state).
        if code.first() == Some(&0x1b) {
            // What redis-server's text-only Lua says of a chunk starting with the bytecode
            // signature (see `libs::base`): its lexer meets ESC first, on line 1.
            return Err(
                "ERR Error compiling script (new function): user_script:1: unexpected symbol near 'char(27)'"
                    .to_string(),
            );
        }
        let index = self.cache.len() as i64 + 1;
        let st = self.state(version, version_num)?;
        let func = st
            .lua
            .load(&code[..])
            .set_name("@user_script")
            .set_mode(mlua::chunk::ChunkMode::Text)
            .set_environment(st.env.clone())
            .into_function()
            .map_err(|e| {
                let msg = match &e {
                    mlua::Error::SyntaxError { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                format!("ERR Error compiling script (new function): {msg}")
            })?;
        st.scripts
            .raw_set(index, func)
            .map_err(|e| format!("ERR {e}"))?;
        self.bodies_bytes += body.len();
        let body = body.into();
        self.cache
            .insert(sha.clone(), Script { index, flags, body });
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

/// Called from a long-running script's kill check: on a multi-thread runtime, hands this
/// worker's other tasks (every other node, the API) to a new worker thread, so the script
/// keeps this thread to itself. The hand-off happens while the short pause below lasts (the
/// new thread must take the worker before the pause ends, or the worker stays here and the
/// caller tries again later). Elsewhere (current-thread runtime, no runtime) does nothing.
pub(crate) fn leave_worker() {
    use tokio::runtime::{Handle, RuntimeFlavor};
    if let Ok(h) = Handle::try_current()
        && h.runtime_flavor() == RuntimeFlavor::MultiThread
    {
        tokio::task::block_in_place(|| std::thread::sleep(std::time::Duration::from_millis(1)));
    }
}

pub(crate) fn err_table(lua: &Lua, msg: &str) -> mlua::Result<(Value, bool)> {
    let t = lua.create_table()?;
    t.raw_set("err", msg)?;
    Ok((Value::Table(t), true))
}

/// `REDIS_VERSION` and `REDIS_VERSION_NUM` of a packed Redis-compatible version.
pub fn lua_version_of(c: u32) -> (String, u32) {
    let (maj, min, patch) = (c / 10_000, c / 100 % 100, c % 100);
    (
        format!("{maj}.{min}.{patch}"),
        (maj << 16) | (min << 8) | patch,
    )
}
