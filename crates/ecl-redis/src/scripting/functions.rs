//! Redis 7 functions: libraries of Lua functions loaded with FUNCTION LOAD and called with
//! FCALL, kept in a Lua state of their own (SCRIPT FLUSH does not touch them).
//!
//! Place in the flow: the FUNCTION/FCALL handlers (`command/functions.rs`) call
//! [`Functions::load`], [`Functions::delete`] and friends under the node lock; FCALL finds a
//! function with [`Functions::get`] and runs it through the same runner as EVAL
//! (`command::script_run::run_function`). A library is loaded by running its code once with a restricted
//! environment in which only `redis.register_function`, `redis.log` and the version constants
//! exist (Redis 7.0's load-time rules); the functions it registered then run with the normal
//! read-only globals. Libraries are kept as their source code, which is what FUNCTION DUMP,
//! RDB files and full resynchronizations carry.

use super::{ScriptFlags, State, libs, new_state};
use mlua::{Function, Lua, MultiValue, Table, Value};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// How long a library's load-time code may run (Redis' FUNCTION LOAD timeout).
const LOAD_TIMEOUT: Duration = Duration::from_millis(500);
/// The error for a library or function name with other characters than `[A-Za-z0-9_]`
/// (Redis 7.0 uses this text for function names too).
const BAD_NAME: &str = "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// One registered function.
#[derive(Debug, Clone)]
pub struct FunctionDef {
    /// Its name as registered (FCALL finds it in any case).
    pub name: String,
    /// `description` given to `redis.register_function`.
    pub description: Option<Vec<u8>>,
    /// Its flags (functions always apply them strictly, like scripts with a shebang).
    pub flags: ScriptFlags,
    func: Function,
}

/// One library: its code and the functions it registered.
#[derive(Debug, Clone)]
pub struct Library {
    /// The name from its `#!lua name=` line.
    pub name: String,
    /// The whole source, shebang included.
    pub code: Vec<u8>,
    /// Functions in registration order.
    pub functions: Vec<FunctionDef>,
}

/// Helpers of the functions' Lua state besides the common [`State`].
struct Extra {
    /// `switch(t)`: globals resolve in `t` (the load-time API) or, with nil, in the real ones.
    switch: Function,
    /// The environment library code and its functions run in.
    env: Table,
    /// The `redis` table library code sees while it loads.
    load_redis: Table,
    /// The globals library code sees while it loads (`redis` only).
    load_globals: Table,
    /// `register_function` outside FUNCTION LOAD (a function that kept the load-time `redis`
    /// table calls it): Redis' error.
    not_loading: Function,
}

/// The node's libraries and their Lua state.
#[derive(Default)]
pub struct Functions {
    /// The functions' Lua state (taken out while a function runs, like the EVAL state).
    pub(crate) state: Option<Box<State>>,
    extra: Option<Extra>,
    /// Libraries by name (FUNCTION LIST shows them in this order).
    libs: BTreeMap<String, Library>,
    /// Lowercase function name -> library name.
    by_name: HashMap<String, String>,
}

impl std::fmt::Debug for Functions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Functions")
            .field("libraries", &self.libs.len())
            .finish()
    }
}

/// A library name or function name is `[A-Za-z0-9_]+`.
fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The `#!<engine> name=<lib>` first line: the library name, or Redis' error.
fn metadata(code: &[u8]) -> Result<String, String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&b| b == b'\n') else {
        return Err("ERR Invalid library metadata".into());
    };
    // Redis splits the whole line as redis-cli splits a command line (quotes allowed), so
    // the engine is what follows "#!" in the first word: `#! name=x` names the engine ''.
    let Some(words) = split_args(&code[..end]) else {
        return Err("ERR Invalid library metadata".into());
    };
    let mut parts = words
        .iter()
        .map(|w| String::from_utf8_lossy(w).into_owned());
    let first = parts.next().unwrap_or_default();
    let engine = first.get(2..).unwrap_or("").to_string();
    let mut name = None;
    for part in parts {
        let part = part.as_str();
        match part.strip_prefix("name=") {
            Some(_) if name.is_some() => {
                return Err(
                    "ERR Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            Some(n) => name = Some(n.to_string()),
            None => return Err(format!("ERR Invalid metadata value given: {part}")),
        }
    }
    let Some(name) = name else {
        return Err("ERR Library name was not given".into());
    };
    if !valid_name(&name) {
        return Err(BAD_NAME.into());
    }
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("ERR Engine '{engine}' not found"));
    }
    Ok(name)
}

/// Splits a line into words as redis-server's `sdssplitargs` does (the inline protocol's
/// splitter: quotes and escapes); `None` for an unbalanced quote.
fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let (mut bytes, mut ranges) = (Vec::new(), Vec::new());
    crate::resp::decode::split_inline(line, &mut bytes, &mut ranges).ok()?;
    Some(ranges.iter().map(|&(a, b)| bytes[a..b].to_vec()).collect())
}

/// Lua code making the environment of library code: globals resolve in the table last given
/// to `switch` (the load-time API while a library loads, else the real globals).
const ENV: &str = r#"
local G, error, tostring, rawget, setmetatable = ...
local current = G
local function strict(t)
  return setmetatable(t, {
    __index = function(_, k)
      local v = rawget(t, k)
      if v == nil then
        error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
      end
      return v
    end,
    __newindex = function() error('Attempt to modify a readonly table', 2) end,
    __metatable = false,
  })
end
local env = setmetatable({}, {
  __index = function(_, k)
    local v = rawget(current, k)
    if v == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
    end
    return v
  end,
  __newindex = function() error('Attempt to modify a readonly table', 2) end,
  __metatable = false,
})
local function switch(t) current = t or G end
return env, switch, strict
"#;

/// Creates the functions' Lua state and its load-time API tables.
fn new_function_state(version: &str, version_num: u32) -> mlua::Result<(State, Extra)> {
    let st = new_state(version, version_num)?;
    // Functions have no legacy or debugger entry points in their `redis` table.
    for k in ["replicate_commands", "breakpoint", "debug"] {
        st.redis.raw_set(k, Value::Nil)?;
    }
    let lua = &st.lua;
    let g = &st.globals;
    let (env, switch, strict): (Table, Function, Function) =
        lua.load(ENV).set_name("=functions").call((
            g.clone(),
            g.raw_get::<Function>("error")?,
            g.raw_get::<Function>("tostring")?,
            g.raw_get::<Function>("rawget")?,
            g.raw_get::<Function>("setmetatable")?,
        ))?;
    // The load-time `redis`: logging and versions, and register_function (set per load).
    let load_redis = lua.create_table()?;
    for k in [
        "log",
        "LOG_DEBUG",
        "LOG_VERBOSE",
        "LOG_NOTICE",
        "LOG_WARNING",
    ] {
        load_redis.raw_set(k, st.redis.raw_get::<Value>(k)?)?;
    }
    load_redis.raw_set("REDIS_VERSION", version)?;
    load_redis.raw_set("REDIS_VERSION_NUM", version_num)?;
    let not_loading = lua.create_function(|_, _: MultiValue| -> mlua::Result<()> {
        raise("ERR redis.register_function can only be called on FUNCTION LOAD command")
    })?;
    load_redis.raw_set("register_function", not_loading.clone())?;
    let load_globals = lua.create_table()?;
    let load_redis: Table = strict.call(load_redis)?;
    load_globals.raw_set("redis", load_redis.clone())?;
    let load_globals: Table = strict.call(load_globals)?;
    Ok((
        st,
        Extra {
            switch,
            env,
            load_redis,
            load_globals,
            not_loading,
        },
    ))
}

/// A function registered while a library loads.
struct Registered {
    name: String,
    description: Option<Vec<u8>>,
    flags: ScriptFlags,
    func: Function,
}

fn raise<T>(msg: &str) -> mlua::Result<T> {
    Err(libs::Raised::error(msg, false))
}

/// A string argument as Lua's `tostring` would coerce it (numbers too), else `None`.
fn lua_text(lua: &Lua, v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(_) | Value::Integer(_) | Value::Number(_) => lua
            .coerce_string(v.clone())
            .ok()
            .flatten()
            .map(|s| s.as_bytes().to_vec()),
        _ => None,
    }
}

/// Parses `redis.register_function`'s arguments (`name, callback` or one named-argument table).
fn registration(lua: &Lua, args: MultiValue) -> mlua::Result<Registered> {
    let mut r = Registered {
        name: String::new(),
        description: None,
        flags: ScriptFlags {
            shebang: true,
            ..Default::default()
        },
        func: lua.create_function(|_, ()| Ok(()))?,
    };
    match args.len() {
        1 => {
            let Some(Value::Table(t)) = args.front() else {
                return raise(
                    "ERR calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).",
                );
            };
            named_registration(lua, t, &mut r)?;
        }
        2 => {
            let Some(name) = lua_text(lua, &args[0]) else {
                return raise("ERR first argument to redis.register_function must be a string");
            };
            let Value::Function(f) = &args[1] else {
                return raise("ERR second argument to redis.register_function must be a function");
            };
            r.name = String::from_utf8_lossy(&name).into_owned();
            r.func = f.clone();
        }
        _ => return raise("ERR wrong number of arguments to redis.register_function"),
    }
    if !valid_name(&r.name) {
        return raise(BAD_NAME);
    }
    Ok(r)
}

/// The table form: `function_name`, `callback`, `flags`, `description`.
fn named_registration(lua: &Lua, t: &Table, r: &mut Registered) -> mlua::Result<()> {
    let (mut name, mut func) = (None, None);
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, v) = pair?;
        let key = match &k {
            Value::String(s) => s.to_string_lossy(),
            _ => return raise("ERR unknown argument given to redis.register_function"),
        };
        match key.as_str() {
            "function_name" => match lua_text(lua, &v) {
                Some(n) => name = Some(String::from_utf8_lossy(&n).into_owned()),
                None => {
                    return raise(
                        "ERR function_name argument given to redis.register_function must be a string",
                    );
                }
            },
            "description" => match lua_text(lua, &v) {
                Some(d) => r.description = Some(d),
                None => {
                    return raise(
                        "ERR description argument given to redis.register_function must be a string",
                    );
                }
            },
            "callback" => match v {
                Value::Function(f) => func = Some(f),
                _ => {
                    return raise(
                        "ERR callback argument given to redis.register_function must be a function",
                    );
                }
            },
            "flags" => {
                let Value::Table(flags) = v else {
                    return raise(
                        "ERR flags argument to redis.register_function must be a table representing function flags",
                    );
                };
                read_flags(&flags, &mut r.flags)?;
            }
            _ => return raise("ERR unknown argument given to redis.register_function"),
        }
    }
    let Some(name) = name else {
        return raise("ERR redis.register_function must get a function name argument");
    };
    let Some(func) = func else {
        return raise("ERR redis.register_function must get a callback argument");
    };
    r.name = name;
    r.func = func;
    Ok(())
}

fn read_flags(flags: &Table, f: &mut ScriptFlags) -> mlua::Result<()> {
    for v in flags.clone().sequence_values::<Value>() {
        let name = match v? {
            Value::String(s) => s.to_string_lossy(),
            _ => return raise("ERR unknown flag given"),
        };
        match name.as_str() {
            "no-writes" => f.no_writes = true,
            "allow-oom" => f.allow_oom = true,
            "allow-stale" => f.allow_stale = true,
            "no-cluster" => f.no_cluster = true,
            "allow-cross-slot-keys" => f.cross_slot = true,
            _ => return raise("ERR unknown flag given"),
        }
    }
    Ok(())
}

/// The names of `f`'s flags as FUNCTION LIST shows them.
pub fn flag_names(f: &ScriptFlags) -> Vec<&'static str> {
    [
        (f.no_writes, "no-writes"),
        (f.allow_oom, "allow-oom"),
        (f.allow_stale, "allow-stale"),
        (f.no_cluster, "no-cluster"),
        (f.cross_slot, "allow-cross-slot-keys"),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, n)| n)
    .collect()
}

/// How FUNCTION RESTORE merges the payload's libraries with the existing ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestorePolicy {
    /// Drop every existing library first.
    Flush,
    /// Add them; a library of the same name is an error.
    Append,
    /// Add them, replacing libraries of the same name.
    Replace,
}

impl Functions {
    fn ensure_state(&mut self, version: &str, version_num: u32) -> Result<(), String> {
        if self.state.is_none() {
            let (st, extra) =
                new_function_state(version, version_num).map_err(|e| format!("ERR {e}"))?;
            self.state = Some(Box::new(st));
            self.extra = Some(extra);
        }
        Ok(())
    }

    /// Compiles `code` and runs its load-time part, returning the library (not yet added).
    /// The load-time part is limited to 500 ms however the library arrives (FUNCTION LOAD,
    /// RESTORE, an RDB file): nothing may hold the node longer while it loads.
    fn compile(
        &mut self,
        code: &[u8],
        name: String,
        version: (&str, u32),
    ) -> Result<Library, String> {
        self.ensure_state(version.0, version.1)?;
        let (Some(st), Some(extra)) = (self.state.as_ref(), self.extra.as_ref()) else {
            return Err("ERR no Lua state".into());
        };
        let mut body = b"--".to_vec();
        body.extend_from_slice(&code[2..]);
        let chunk = st
            .lua
            .load(&body[..])
            .set_name(super::USER_FUNCTION)
            .set_mode(mlua::chunk::ChunkMode::Text)
            .set_environment(extra.env.clone())
            .into_function()
            .map_err(|e| {
                let msg = match &e {
                    mlua::Error::SyntaxError { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                format!("ERR Error compiling function: {msg}")
            })?;
        let registered = run_load(st, extra, chunk)?;
        let mut functions: Vec<FunctionDef> = Vec::new();
        for r in registered {
            // Within a library names are told apart by case (FCALL's lookup is not).
            if functions.iter().any(|f| f.name == r.name) {
                return Err(
                    "ERR Error registering functions: ERR Function already exists in the library"
                        .into(),
                );
            }
            functions.push(FunctionDef {
                name: r.name,
                description: r.description,
                flags: r.flags,
                func: r.func,
            });
        }
        if functions.is_empty() {
            return Err("ERR No functions registered".into());
        }
        Ok(Library {
            name,
            code: code.to_vec(),
            functions,
        })
    }

    /// FUNCTION LOAD: adds (or with `replace`, replaces) the library `code` defines; returns
    /// its name.
    pub fn load(
        &mut self,
        code: &[u8],
        replace: bool,
        version: (&str, u32),
    ) -> Result<String, String> {
        let name = metadata(code)?;
        if !replace && self.libs.contains_key(&name) {
            return Err(format!("ERR Library '{name}' already exists"));
        }
        let lib = self.compile(code, name.clone(), version)?;
        self.check_collisions(&lib, &[&name])?;
        self.remove(&name);
        self.insert(lib);
        Ok(name)
    }

    /// A function of `lib` already registered by another library than those in `except`.
    fn check_collisions(&self, lib: &Library, except: &[&str]) -> Result<(), String> {
        for f in &lib.functions {
            if let Some(owner) = self.by_name.get(&f.name.to_ascii_lowercase())
                && !except.contains(&owner.as_str())
            {
                return Err(format!("ERR Function {} already exists", f.name));
            }
        }
        Ok(())
    }

    fn insert(&mut self, lib: Library) {
        for f in &lib.functions {
            self.by_name
                .insert(f.name.to_ascii_lowercase(), lib.name.clone());
        }
        self.libs.insert(lib.name.clone(), lib);
    }

    fn remove(&mut self, name: &str) -> Option<Library> {
        let lib = self.libs.remove(name)?;
        for f in &lib.functions {
            self.by_name.remove(&f.name.to_ascii_lowercase());
        }
        Some(lib)
    }

    /// FUNCTION DELETE.
    pub fn delete(&mut self, name: &str) -> Result<(), String> {
        self.remove(name)
            .map(|_| ())
            .ok_or_else(|| "ERR Library not found".to_string())
    }

    /// FUNCTION FLUSH: every library goes, and the Lua state with them.
    pub fn flush(&mut self) {
        self.libs.clear();
        self.by_name.clear();
        self.state = None;
        self.extra = None;
    }

    /// The function called `name` (any case): its callback and flags.
    pub fn get(&self, name: &str) -> Option<(Function, ScriptFlags, String)> {
        let lib = self.by_name.get(&name.to_ascii_lowercase())?;
        let f = self
            .libs
            .get(lib)?
            .functions
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))?;
        Some((f.func.clone(), f.flags, f.name.clone()))
    }

    /// The flags of the function called `name` (any case).
    pub fn flags(&self, name: &[u8]) -> Option<ScriptFlags> {
        let name = std::str::from_utf8(name).ok()?;
        let lib = self.by_name.get(&name.to_ascii_lowercase())?;
        let mut functions = self.libs.get(lib)?.functions.iter();
        functions
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .map(|f| f.flags)
    }

    /// Libraries by name.
    pub fn libraries(&self) -> impl Iterator<Item = &Library> {
        self.libs.values()
    }

    /// `(libraries, functions)` loaded (FUNCTION STATS).
    pub fn counts(&self) -> (usize, usize) {
        let functions = self.libs.values().map(|l| l.functions.len()).sum();
        (self.libs.len(), functions)
    }

    /// The libraries' source code (FUNCTION DUMP, RDB files, full resynchronization).
    pub fn codes(&self) -> Vec<Vec<u8>> {
        self.libs.values().map(|l| l.code.clone()).collect()
    }

    /// Whether a library of `codes` (library sources) has the name of one loaded here.
    pub fn any_named_in(&self, codes: &[Vec<u8>]) -> bool {
        codes
            .iter()
            .filter_map(|c| metadata(c).ok())
            .any(|name| self.libs.contains_key(&name))
    }

    /// FUNCTION RESTORE (and loading an RDB file or a primary's copy): loads every library of
    /// `codes` and merges them by `policy`. Nothing changes on any error.
    pub fn restore(
        &mut self,
        codes: &[Vec<u8>],
        policy: RestorePolicy,
        version: (&str, u32),
    ) -> Result<(), String> {
        let mut new: Vec<Library> = Vec::new();
        for code in codes {
            let name = metadata(code)?;
            if new.iter().any(|l| l.name == name) {
                return Err(format!("ERR Library '{name}' already exists"));
            }
            let lib = self.compile(code, name, version)?;
            for f in &lib.functions {
                let clash = new
                    .iter()
                    .flat_map(|l| l.functions.iter())
                    .any(|g| g.name.eq_ignore_ascii_case(&f.name));
                if clash {
                    return Err(format!("ERR Function {} already exists", f.name));
                }
            }
            new.push(lib);
        }
        if policy == RestorePolicy::Flush {
            self.libs.clear();
            self.by_name.clear();
        }
        let names: Vec<String> = new.iter().map(|l| l.name.clone()).collect();
        let replaced: Vec<&str> = match policy {
            RestorePolicy::Replace => names.iter().map(String::as_str).collect(),
            _ => Vec::new(),
        };
        for lib in &new {
            if policy == RestorePolicy::Append && self.libs.contains_key(&lib.name) {
                return Err(format!("ERR Library {} already exists", lib.name));
            }
            self.check_collisions(lib, &replaced)?;
        }
        for lib in new {
            self.remove(&lib.name);
            self.insert(lib);
        }
        Ok(())
    }
}

/// Runs a library's load-time code with the load API as its globals and collects what it
/// registered. Errors read as Redis words them (`ERR Error registering functions: ...`).
fn run_load(st: &State, extra: &Extra, chunk: Function) -> Result<Vec<Registered>, String> {
    let lua = &st.lua;
    let found = RefCell::new(Vec::new());
    let started = Instant::now();
    lua.set_hook(
        mlua::HookTriggers::new().every_nth_instruction(super::KILL_CHECK_INSTRUCTIONS),
        move |lua, _| {
            if started.elapsed() > LOAD_TIMEOUT {
                // Every later line raises it too, so a pcall loop cannot outlast it (Redis
                // does the same); the hook goes as soon as the load code returns.
                let _ = lua.set_hook(mlua::HookTriggers::new().every_line(), |_, _| {
                    raise("ERR FUNCTION LOAD timeout")
                });
                raise("ERR FUNCTION LOAD timeout")
            } else {
                Ok(mlua::VmState::Continue)
            }
        },
    )
    .map_err(|e| format!("ERR {e}"))?;
    let result = lua.scope(|scope| {
        let reg = scope.create_function(|lua, args: MultiValue| {
            let r = registration(lua, args)?;
            found.borrow_mut().push(r);
            Ok(())
        })?;
        extra.load_redis.raw_set("register_function", reg)?;
        extra.switch.call::<()>(extra.load_globals.clone())?;
        let r: mlua::Result<(bool, Value)> = st.protect.call(chunk);
        lua.remove_hook();
        extra.switch.call::<()>(Value::Nil)?;
        extra
            .load_redis
            .raw_set("register_function", extra.not_loading.clone())?;
        r
    });
    lua.remove_hook();
    match result {
        Ok((true, _)) => Ok(found.into_inner()),
        Ok((false, Value::Table(t))) => {
            let msg = t
                .raw_get::<Option<String>>("err")
                .ok()
                .flatten()
                .unwrap_or_else(|| "ERR unknown error".into());
            Err(format!("ERR Error registering functions: {msg}"))
        }
        Ok((false, other)) => Err(format!("ERR Error registering functions: {other:?}")),
        Err(e) => Err(format!("ERR Error registering functions: ERR {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_errors_in_redis_order() {
        assert_eq!(
            metadata(b"return 1").unwrap_err(),
            "ERR Missing library metadata"
        );
        assert_eq!(
            metadata(b"#!lua name=x").unwrap_err(),
            "ERR Invalid library metadata"
        );
        assert_eq!(
            metadata(b"#!lua\n").unwrap_err(),
            "ERR Library name was not given"
        );
        assert_eq!(metadata(b"#!lua   name=a \n").unwrap(), "a");
        assert_eq!(
            metadata(b"#!foo name=a-b\n").unwrap_err(),
            BAD_NAME,
            "the name is checked before the engine"
        );
        assert_eq!(
            metadata(b"#!foo name=a\n").unwrap_err(),
            "ERR Engine 'foo' not found"
        );
        assert_eq!(
            metadata(b"#! name=test\n").unwrap_err(),
            "ERR Engine '' not found"
        );
        assert_eq!(metadata(b"#!lua name=\"foo\"\n").unwrap(), "foo");
        assert_eq!(
            metadata(b"#!lua name=\"foo\n").unwrap_err(),
            "ERR Invalid library metadata"
        );
    }

    #[test]
    fn words_split_as_redis_cli_splits_them() {
        let w = |s: &str| split_args(s.as_bytes());
        let v = |x: &[&str]| Some(x.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>());
        assert_eq!(w("  a  b\tc "), v(&["a", "b", "c"]));
        assert_eq!(w(r#"k="a b" 'it\'s'"#), v(&["k=a b", "it's"]));
        assert_eq!(w(r#""\x41\n\"""#), v(&["A\n\""]));
        assert_eq!(w(r#""a"b"#), None, "a closing quote ends the word");
        assert_eq!(w("'open"), None);
        assert_eq!(w(""), v(&[]));
    }
}
