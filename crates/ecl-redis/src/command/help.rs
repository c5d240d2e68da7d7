//! The HELP reply every container command gives (`CONFIG HELP`, `CLIENT HELP`, …): a header
//! line, the container's lines, and the trailer Redis adds.
//!
//! Place in the flow: a leaf of the command families.

use super::Ctx;

/// Writes a HELP reply: a header line, the given lines, and the trailer Redis adds.
pub fn help(ctx: &mut Ctx<'_>, container: &str, lines: &[&str]) {
    ctx.out.array(lines.len() + 3);
    ctx.out.simple(&format!(
        "{container} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for l in lines {
        ctx.out.simple(l);
    }
    ctx.out.simple("HELP");
    ctx.out.simple("    Print this help.");
}
