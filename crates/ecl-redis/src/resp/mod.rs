//! RESP codec of our own: request decoding ([`decode`]) and reply encoding ([`reply`]).
//!
//! Place in the flow: a connection ([`crate::conn`]) feeds raw socket bytes to a [`Decoder`],
//! which yields one command at a time as argument offsets (no copies for multibulk requests);
//! handlers write replies into one [`Reply`] buffer per batch, in RESP2 or RESP3 as the client
//! negotiated with `HELLO`.

pub mod decode;
pub mod reply;

pub use decode::{Decoder, Limits};
pub use reply::Reply;
