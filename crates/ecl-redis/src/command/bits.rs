//! Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO.
//!
//! Place in the flow: argument parsing and replies over string values treated as bit arrays
//! (bit 0 is the most significant bit of byte 0, as in Redis).

use super::CommandSpec;

/// Bitmap family table.
pub const COMMANDS: &[CommandSpec] = &[];
