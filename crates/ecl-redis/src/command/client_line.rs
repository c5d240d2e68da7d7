//! One `CLIENT LIST` / `CLIENT INFO` line: the fields Redis 7 prints for a client.
//!
//! Place in the flow: a leaf of the command families; CLIENT LIST / INFO
//! (`command::connection`) and ACL LOG's `client-info` (`command::aclcmd`) print it.

use super::{Ctx, v};

/// One CLIENT LIST line for client `id`.
pub fn client_line(ctx: &Ctx<'_>, id: u64) -> String {
    let Some(c) = ctx.eng.clients.map.get(&id) else {
        return String::new();
    };
    let now = ctx.now;
    let mut flags = String::new();
    if c.subs.0 + c.subs.1 + c.subs.2 > 0 {
        flags.push('P');
    }
    if c.blocked {
        flags.push('b');
    }
    if c.multi >= 0 {
        flags.push('x');
    }
    if c.monitor {
        flags.push('O');
    }
    if c.no_evict {
        flags.push('e');
    }
    if let Some(t) = ctx.eng.tracking.clients.get(&id) {
        flags.push('t');
        if t.bcast {
            flags.push('B');
        }
    }
    if flags.is_empty() {
        flags.push('N');
    }
    let ver = ctx.version();
    let mut s = format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={}",
        id,
        c.addr,
        c.laddr,
        7 + id,
        c.name,
        (now - c.created_ms).max(0) / 1000,
        (now - c.last_ms).max(0) / 1000,
        flags,
        c.db,
        c.subs.0,
        c.subs.1
    );
    if ver >= v(7, 0, 0) {
        s.push_str(&format!(" ssub={}", c.subs.2));
    }
    // omem: every output byte not yet written (replies and queued messages).
    let omem = c.pending.load(std::sync::atomic::Ordering::Relaxed) as u64;
    // The running command's client shows its batch's input (as redis-server shows the query
    // buffer holding the command), the others what their last batch left.
    let (qbuf, qbuf_free) = if id == ctx.client.id {
        ctx.client.query_buf
    } else {
        c.query_buf
    };
    s.push_str(&format!(
        " multi={} qbuf={qbuf} qbuf-free={qbuf_free} argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem={omem} tot-mem={} events=r cmd={} user={} redir=-1 resp={}",
        c.multi,
        c.memory_with((qbuf, qbuf_free)),
        if id == ctx.client.id { ctx.eng.table.entries[ctx.cmd_id].full_name.as_str() } else { c.last_cmd.as_str() },
        c.user,
        c.resp
    ));
    if ver >= v(7, 2, 0) {
        s.push_str(&format!(" lib-name={} lib-ver={}", c.lib_name, c.lib_ver));
    }
    s
}
