//! Bounded property test of the parsers alone: random and mutated byte strings (fixed seed,
//! a few thousand cases) go through `text::parse` and `binary::parse`. No input may panic;
//! a request never claims more bytes than the buffer holds nor zero bytes; "need more" never
//! asks for fewer bytes than are there or for more than the limits allow; and a request
//! parsed from a prefix is the same when more bytes follow. These are the seeds of fuzz
//! targets.

use super::{Limits, Parsed, ProtocolError, Request, binary, text};
use crate::test_rng::Rng;

/// Pieces of valid requests the generator recombines.
const SEEDS: &[&[u8]] = &[
    b"set k 0 0 5\r\nhello\r\n",
    b"cas k 1 2 3 4 noreply\r\nabc\r\n",
    b"get a b c\r\n",
    b"gats 10 a b\r\n",
    b"incr k 5\r\n",
    b"touch k 10\r\n",
    b"delete k 0 noreply\r\n",
    b"flush_all 10\r\n",
    b"stats cachedump 1 0\r\n",
    b"verbosity 1\r\n",
    b"mg k v c f t s k O1 q N30 R5 T1 E9\r\n",
    b"ms a2V5 3 b T10 F5 MA N5 I C1\r\nabc\r\n",
    b"md k q I T30 x C9\r\n",
    b"ma k MD D5 J10 N0 v\r\n",
    b"me k b\r\n",
    b"mn\r\n",
    b"config get cluster\r\n",
];

/// A text input: seeds concatenated, then a few random byte edits.
fn text_case(rng: &mut Rng) -> Vec<u8> {
    let mut input = Vec::new();
    for _ in 0..1 + rng.below(3) {
        input.extend_from_slice(SEEDS[rng.below(SEEDS.len())]);
    }
    mutate(rng, &mut input, b" \r\n0-+kvbTNM\xff");
    input
}

/// A binary input: a header with random fields (body kept small), random body bytes.
fn binary_case(rng: &mut Rng) -> Vec<u8> {
    let mut input = vec![binary::REQ_MAGIC];
    for _ in 0..23 + rng.below(60) {
        input.push(rng.next() as u8);
    }
    input[1] %= 0x30;
    input[2] = 0;
    input[8] = 0;
    input[9] = 0;
    input[10] = rng.below(2) as u8;
    mutate(rng, &mut input, b"\x00\x80\xff");
    input
}

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, alphabet: &[u8]) {
    for _ in 0..rng.below(4) {
        if input.is_empty() {
            return;
        }
        let at = rng.below(input.len());
        match rng.below(3) {
            0 => input[at] = alphabet[rng.below(alphabet.len())],
            1 => {
                input.remove(at);
            }
            _ => input.insert(at, rng.next() as u8),
        }
    }
}

type Parser = for<'a> fn(&'a [u8], &Limits) -> Result<Parsed<Request<'a>>, ProtocolError>;

/// Checks the invariants of one parse of `buf`; returns the bytes a request took.
fn check(parse: Parser, buf: &[u8], limits: &Limits) -> Option<usize> {
    match parse(buf, limits) {
        Ok(Parsed::Done {
            consumed, discard, ..
        }) => {
            assert!(consumed > 0 && consumed <= buf.len(), "{buf:?}");
            // A refused data block or binary body: at most what its length field can say.
            assert!(discard <= u32::MAX as usize, "{buf:?}");
            Some(consumed)
        }
        Ok(Parsed::NeedMore { want }) => {
            assert!(want == 0 || want > buf.len(), "{buf:?} wants {want}");
            // The line (or header) it has, plus a value the limits allow.
            let most = buf.len() + limits.max_item_size + 1024;
            assert!(want <= most, "{buf:?} wants {want}");
            None
        }
        Err(_) => None,
    }
}

#[test]
fn parsers_never_panic_and_stay_bounded() {
    let limits = Limits {
        max_item_size: 4096,
        cas_disabled: false,
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..4000u32 {
        let (parse, input): (Parser, Vec<u8>) = if round % 3 == 0 {
            (binary::parse, binary_case(&mut rng))
        } else {
            (text::parse, text_case(&mut rng))
        };
        // Walk the buffer request by request, as a connection would.
        let mut at = 0;
        while at < input.len() {
            let Some(n) = check(parse, &input[at..], &limits) else {
                break;
            };
            // The same request comes out of exactly its own bytes.
            assert_eq!(check(parse, &input[at..at + n], &limits), Some(n));
            at += n;
        }
        // And every prefix of the input is handled without panicking.
        let cut = rng.below(input.len() + 1);
        check(parse, &input[..cut], &limits);
    }
}
