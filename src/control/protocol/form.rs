//! Form parsing: `application/x-www-form-urlencoded` bytes → a tree of dotted keys.
//!
//! First step of decoding a request (`control::http` → here → `query`). Query-protocol keys are
//! dotted paths (`Tags.Tag.1.Key`); splitting them once into a tree lets the decoder walk the
//! input shape and look members up by name. Every dimension is bounded by [`Limits`] so that a
//! hostile body cannot make the decoder allocate or recurse without bound.

use std::collections::BTreeMap;

use crate::control::error::ApiError;

/// Bounds applied while parsing a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted body (and query string), in bytes.
    pub max_body_bytes: usize,
    /// Largest number of `key=value` pairs.
    pub max_params: usize,
    /// Longest key, in bytes.
    pub max_key_bytes: usize,
    /// Most dot-separated segments in one key (bounds the tree depth).
    pub max_key_segments: usize,
    /// Largest list index (`Name.member.N`).
    pub max_list_index: u32,
}

impl Default for Limits {
    /// 1 MiB bodies and 10,000 parameters comfortably exceed what any ElastiCache call needs
    /// (the largest real requests are parameter-group modifications of a few hundred keys).
    fn default() -> Self {
        Limits {
            max_body_bytes: 1024 * 1024,
            max_params: 10_000,
            max_key_bytes: 512,
            max_key_segments: 16,
            max_list_index: 1_000,
        }
    }
}

/// One node of the key tree: the value of the key that ends here (if any) and the children
/// keyed by the next segment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    /// Value of the key ending at this node.
    pub value: Option<String>,
    /// Children by next key segment.
    pub children: BTreeMap<String, Params>,
}

impl Params {
    /// Builds the tree from decoded pairs. When a key repeats, the first value wins (what a
    /// query-string reader that stops at the first match does).
    pub fn from_pairs<I>(pairs: I, limits: &Limits) -> Result<Params, ApiError>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let mut root = Params::default();
        for (count, (key, value)) in pairs.into_iter().enumerate() {
            if count >= limits.max_params {
                return Err(ApiError::invalid_query_parameter(format!(
                    "The request has more than {} parameters.",
                    limits.max_params
                )));
            }
            if key.len() > limits.max_key_bytes {
                return Err(ApiError::invalid_query_parameter(format!(
                    "The parameter name {}... is longer than {} bytes.",
                    truncate(&key, 64),
                    limits.max_key_bytes
                )));
            }
            if key.split('.').count() > limits.max_key_segments {
                return Err(ApiError::invalid_query_parameter(format!(
                    "The parameter name {} is nested more than {} levels deep.",
                    truncate(&key, 64),
                    limits.max_key_segments
                )));
            }
            let mut node = &mut root;
            for segment in key.split('.') {
                node = node.children.entry(segment.to_string()).or_default();
            }
            if node.value.is_none() {
                node.value = Some(value);
            }
        }
        Ok(root)
    }

    /// The child for `segment`, if any.
    pub fn child(&self, segment: &str) -> Option<&Params> {
        self.children.get(segment)
    }

    /// The value of a top-level key such as `Action` or `Version`.
    pub fn top_value(&self, key: &str) -> Option<&str> {
        self.children.get(key).and_then(|n| n.value.as_deref())
    }
}

/// Parses a form body (or a query string) into pairs, `+` meaning space, invalid UTF-8
/// replaced, after checking the size bound.
pub fn parse_pairs(bytes: &[u8], limits: &Limits) -> Result<Vec<(String, String)>, ApiError> {
    if bytes.len() > limits.max_body_bytes {
        return Err(body_too_large(limits));
    }
    let mut pairs = Vec::new();
    for (key, value) in form_urlencoded::parse(bytes) {
        if pairs.len() >= limits.max_params {
            return Err(ApiError::invalid_query_parameter(format!(
                "The request has more than {} parameters.",
                limits.max_params
            )));
        }
        pairs.push((key.into_owned(), value.into_owned()));
    }
    Ok(pairs)
}

/// Parses a form body (or a query string) straight into a key tree.
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Params, ApiError> {
    Params::from_pairs(parse_pairs(bytes, limits)?, limits)
}

/// The error for a request body above [`Limits::max_body_bytes`].
pub fn body_too_large(limits: &Limits) -> ApiError {
    ApiError::request_entity_too_large(format!(
        "The request body exceeds the maximum size of {} bytes.",
        limits.max_body_bytes
    ))
}

/// At most `max` characters of `s`, for quoting untrusted input in messages.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::error::ErrorCode;

    #[test]
    fn builds_a_tree_with_plus_as_space_and_first_value_winning() {
        let p = parse(
            b"Action=X&Tags.Tag.1.Key=a+b&Tags.Tag.1.Key=c&D=%C3%A9%26",
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(p.top_value("Action"), Some("X"));
        let key = &p
            .child("Tags")
            .unwrap()
            .child("Tag")
            .unwrap()
            .child("1")
            .unwrap();
        assert_eq!(key.child("Key").unwrap().value.as_deref(), Some("a b"));
        assert_eq!(p.top_value("D"), Some("é&"));
    }

    #[test]
    fn enforces_every_limit() {
        let limits = Limits {
            max_body_bytes: 64,
            max_params: 3,
            max_key_bytes: 10,
            max_key_segments: 3,
            max_list_index: 5,
        };
        let too_big = vec![b'a'; 65];
        assert_eq!(
            parse(&too_big, &limits).unwrap_err().code(),
            ErrorCode::RequestEntityTooLarge
        );
        assert_eq!(
            parse(b"a=1&b=2&c=3&d=4", &limits).unwrap_err().code(),
            ErrorCode::InvalidQueryParameter
        );
        assert_eq!(
            parse(b"abcdefghijk=1", &limits).unwrap_err().code(),
            ErrorCode::InvalidQueryParameter
        );
        assert_eq!(
            parse(b"a.b.c.d=1", &limits).unwrap_err().code(),
            ErrorCode::InvalidQueryParameter
        );
        assert!(parse(b"a.b.c=1", &limits).is_ok());
    }

    #[test]
    fn garbage_never_panics() {
        let limits = Limits::default();
        let samples: [&[u8]; 8] = [
            b"",
            b"&&&",
            b"=",
            b"%",
            b"%zz=%",
            b"\xff\xfe=\x00",
            b"a..b=1&.=2&..=",
            b"a=b=c",
        ];
        for s in samples {
            let _ = parse(s, &limits);
        }
    }
}
