//! LATENCY's subcommands: the latency monitor's events (LATEST, HISTORY, GRAPH, RESET, DOCTOR) and
//! the per-command run-time distributions (HISTOGRAM).
//!
//! Place in the flow: the server family's `latency` container points here; the figures come
//! from [`crate::latency`], which the dispatcher fills after each command.

use super::flags::*;
use super::{AclCategories, Argv, Cmd, CommandSpec, Ctx, Release::Redis, acl};
use crate::errors::CmdResult;
use crate::latency::LatencyHistogram;

const ADM: AclCategories = AclCategories::all_of(&[acl::ADMIN, acl::SLOW, acl::DANGEROUS]);

/// LATENCY's subcommands.
pub const SUBCOMMANDS: &[CommandSpec] = &[
    Cmd::new("latest", latest)
        .arity(2)
        .flags(&[ADMIN, NOSCRIPT, LOADING, STALE])
        .acl(&[ADM])
        .since(Redis(2, 8, 13))
        .group("server")
        .doc("Returns the latest latency samples for all events."),
    Cmd::new("history", history)
        .arity(3)
        .flags(&[ADMIN, NOSCRIPT, LOADING, STALE])
        .acl(&[ADM])
        .since(Redis(2, 8, 13))
        .group("server")
        .doc("Returns timestamp-latency samples for an event."),
    Cmd::new("reset", reset)
        .arity(-2)
        .flags(&[ADMIN, NOSCRIPT, LOADING, STALE])
        .acl(&[ADM])
        .since(Redis(2, 8, 13))
        .group("server")
        .doc("Resets the latency data for one or more events."),
    Cmd::new("doctor", doctor)
        .arity(2)
        .flags(&[ADMIN, NOSCRIPT, LOADING, STALE])
        .acl(&[ADM])
        .since(Redis(2, 8, 13))
        .group("server")
        .doc("Returns a human-readable latency analysis report."),
    Cmd::new("graph", graph)
        .arity(3)
        .flags(&[ADMIN, NOSCRIPT, LOADING, STALE])
        .acl(&[ADM])
        .since(Redis(2, 8, 13))
        .group("server")
        .doc("Returns a latency graph for an event."),
    Cmd::new("histogram", histogram)
        .arity(-2)
        .flags(&[ADMIN, NOSCRIPT, LOADING, STALE])
        .acl(&[ADM])
        .since(Redis(7, 0, 0))
        .group("server")
        .doc("Returns the cumulative distribution of latencies of a subset or all commands."),
    Cmd::new("help", help)
        .arity(2)
        .flags(&[LOADING, STALE])
        .acl(&[acl::SLOW])
        .since(Redis(2, 8, 13))
        .group("server")
        .doc("Returns helpful text about the different subcommands."),
];

/// LATENCY LATEST: per event, its name, the newest sample's time and latency, and the largest.
fn latest(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    let rows: Vec<(String, (i64, u64), u64)> = ctx
        .eng
        .latency
        .events()
        .filter_map(|(name, ev)| Some((name.to_string(), ev.latest()?, ev.max)))
        .collect();
    ctx.out.array(rows.len());
    for (name, (t, ms), max) in rows {
        ctx.out.array(4);
        ctx.out.bulk(name.as_bytes());
        ctx.out.int(t);
        ctx.out.int(ms as i64);
        ctx.out.int(max as i64);
    }
    Ok(())
}

/// LATENCY HISTORY event: the event's samples, oldest first, as (time, latency) pairs.
fn history(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let samples: Vec<(i64, u64)> = ctx
        .eng
        .latency
        .event(&argv.str(2))
        .map(|ev| ev.samples.iter().copied().collect())
        .unwrap_or_default();
    ctx.out.array(samples.len());
    for (t, ms) in samples {
        ctx.out.array(2);
        ctx.out.int(t);
        ctx.out.int(ms as i64);
    }
    Ok(())
}

/// LATENCY GRAPH event: the event's samples as a text chart.
fn graph(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let name = argv.str(2);
    let now_s = ctx.eng.now_ms() / 1000;
    let Some(ev) = ctx.eng.latency.event(&name) else {
        return Err(format!("ERR No samples available for event '{name}'").into());
    };
    let chart = crate::latency::graph::render(&name, ev, now_s);
    ctx.out.verbatim("txt", chart.as_bytes());
    Ok(())
}

fn reset(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let names: Vec<String> = argv
        .iter_from(2)
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .collect();
    let n = ctx.eng.latency.reset(&names);
    ctx.out.int(n as i64);
    Ok(())
}

fn doctor(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    let text = if ctx.eng.latency.is_empty() {
        "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep a little more.\n"
    } else {
        "Dave, I have observed latency spikes in this Redis instance. See LATENCY LATEST for details.\n"
    };
    ctx.out.verbatim("txt", text.as_bytes());
    Ok(())
}

/// LATENCY HISTOGRAM [command ...]: each named command's run-time distribution (a container
/// names all its subcommands; unknown names and commands never run are left out), or every
/// command's when none is named.
fn histogram(ctx: &mut Ctx<'_>, argv: &Argv<'_>) -> CmdResult {
    let eng = &*ctx.eng;
    let recorded = |id: usize| {
        let h = eng.stats.cmd.get(id)?.latency.as_deref()?;
        Some((eng.table.entries[id].full_name.clone(), h.clone()))
    };
    let mut shown: Vec<(String, LatencyHistogram)> = Vec::new();
    if argv.len() == 2 {
        shown.extend((0..eng.table.entries.len()).filter_map(recorded));
    }
    for name in argv.iter_from(2) {
        let Some(id) = eng.table.lookup_full(name) else {
            continue;
        };
        shown.extend(recorded(id));
        let mut subs: Vec<usize> = eng.table.entries[id].subs.values().copied().collect();
        subs.sort_unstable();
        shown.extend(subs.into_iter().filter_map(recorded));
    }
    ctx.out.map(shown.len());
    for (name, h) in shown {
        ctx.out.bulk(name.as_bytes());
        ctx.out.map(2);
        ctx.out.bulk(b"calls");
        ctx.out.int(h.total() as i64);
        ctx.out.bulk(b"histogram_usec");
        let points = h.cumulative_usec();
        ctx.out.map(points.len());
        for (usec, count) in points {
            ctx.out.int(usec as i64);
            ctx.out.int(count as i64);
        }
    }
    Ok(())
}

fn help(ctx: &mut Ctx<'_>, _: &Argv<'_>) -> CmdResult {
    super::help::help(
        ctx,
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return a text chart of the <event> class's samples.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes (all of them when none is named).",
            "HISTOGRAM [<command> ...]",
            "    Return the cumulative distribution of run times of the named commands (of every",
            "    command when none is named).",
        ],
    );
    Ok(())
}
