//! Query decoding: the key tree of a request → a JSON value shaped like the operation's input.
//!
//! Second step of decoding (`form` → here → `api::dispatch`). The decoder walks the input shape
//! from the model; for each member it looks up the member's query name in the key tree:
//! structures nest (`Parent.Child`), lists are `Name.<item>.N` (item = the list member's
//! `locationName`, or `member`) with indices collected and sorted numerically, `Name=` with no
//! index is an empty list, and scalars are typed. JSON keys are model member names, which is
//! what the generated structs' serde names expect.

use serde_json::{Map, Number, Value};

use crate::control::api::{OperationDef, ShapeId, ShapeKind, Timestamp};
use crate::control::error::ApiError;

use super::constraints;
use super::form::{Limits, Params, truncate};

/// `Version` value of a request without one, as AWS names it in its answer.
const NO_VERSION: &str = "NO_VERSION_SPECIFIED";

/// Refuses a request whose `Version` is not the model's, as AWS's Query services do (checked
/// before the action): `InvalidAction` "Could not find operation {action} for version {v}",
/// `NO_VERSION_SPECIFIED` standing for an absent one.
pub fn check_version(action: &str, params: &Params) -> Result<(), ApiError> {
    match params.top_value("Version") {
        Some(super::API_VERSION) => Ok(()),
        other => Err(unknown_operation(action, other.unwrap_or(NO_VERSION))),
    }
}

/// AWS's answer for an action the service does not have at `version`.
pub fn unknown_operation(action: &str, version: &str) -> ApiError {
    ApiError::invalid_action(format!(
        "Could not find operation {} for version {}",
        truncate(action, 128),
        truncate(version, 64)
    ))
}

/// Decodes the parameters of `op` from `params` (the whole request's key tree; `Action`,
/// `Version` and keys the input shape does not name are ignored, as AWS does).
pub fn decode_input(
    op: &OperationDef,
    params: &Params,
    limits: &Limits,
) -> Result<Value, ApiError> {
    let decoder = Decoder { limits };
    decoder.structure(op.input, params, "")
}

struct Decoder<'a> {
    limits: &'a Limits,
}

/// `Parent.Child`, or `Child` at the top level.
fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

impl Decoder<'_> {
    fn structure(&self, shape: ShapeId, node: &Params, path: &str) -> Result<Value, ApiError> {
        let ShapeKind::Structure { members, .. } = &shape.get().kind else {
            return Err(ApiError::internal_failure(format!(
                "{path}: not a structure shape"
            )));
        };
        let mut out = Map::new();
        for member in *members {
            let key = join(path, member.wire_name());
            let child = node
                .child(member.wire_name())
                .or_else(|| member.alternate_wire_name().and_then(|alt| node.child(alt)));
            match child {
                Some(child) => {
                    if let Some(v) = self.value(member.shape, child, &key)? {
                        out.insert(member.name.to_string(), v);
                    } else if member.required {
                        return Err(ApiError::missing_parameter_named(&key));
                    }
                }
                None if member.required => return Err(ApiError::missing_parameter_named(&key)),
                None => {}
            }
        }
        Ok(Value::Object(out))
    }

    /// Decodes one member; `None` when the key exists only as a prefix that does not form a
    /// value of this shape (treated as absent).
    fn value(&self, shape: ShapeId, node: &Params, path: &str) -> Result<Option<Value>, ApiError> {
        let kind = &shape.get().kind;
        match kind {
            ShapeKind::Structure { .. } => self.structure(shape, node, path).map(Some),
            ShapeKind::List {
                member,
                item_name,
                flattened,
                ..
            } => {
                let items = if *flattened {
                    Some(node)
                } else {
                    // The model's item name; `member` is accepted too, as the generic default.
                    node.child(item_name.unwrap_or("member"))
                        .or_else(|| node.child("member"))
                };
                let Some(items) = items else {
                    // `Name=` (present, no index): botocore's encoding of an empty list.
                    return if node.value.is_some() {
                        constraints::check_list_len(kind, path, 0)?;
                        Ok(Some(Value::Array(Vec::new())))
                    } else {
                        Ok(None)
                    };
                };
                let item_prefix = if *flattened {
                    path.to_string()
                } else {
                    join(path, item_name.unwrap_or("member"))
                };
                let mut indexed = Vec::with_capacity(items.children.len());
                for (index, child) in &items.children {
                    let n = self.list_index(index, &item_prefix)?;
                    indexed.push((n, child));
                }
                indexed.sort_by_key(|(n, _)| *n);
                let mut out = Vec::with_capacity(indexed.len());
                for (n, child) in indexed {
                    let key = format!("{item_prefix}.{n}");
                    match self.value(*member, child, &key)? {
                        Some(v) => out.push(v),
                        None => return Err(ApiError::missing_parameter_named(&key)),
                    }
                }
                constraints::check_list_len(kind, path, out.len())?;
                Ok(Some(Value::Array(out)))
            }
            scalar => match &node.value {
                Some(text) => self.scalar(scalar, text, path).map(Some),
                None => Ok(None),
            },
        }
    }

    fn list_index(&self, index: &str, prefix: &str) -> Result<u32, ApiError> {
        match index.parse::<u32>() {
            Ok(n)
                if n >= 1
                    && n <= self.limits.max_list_index
                    && index.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Ok(n)
            }
            _ => Err(ApiError::invalid_query_parameter(format!(
                "Invalid list index in parameter {prefix}.{}: indices are integers from 1 to {}.",
                truncate(index, 32),
                self.limits.max_list_index
            ))),
        }
    }

    fn scalar(&self, kind: &ShapeKind, text: &str, path: &str) -> Result<Value, ApiError> {
        let invalid = |expected: &str| {
            ApiError::invalid_parameter_value(format!(
                "Invalid value '{}' for parameter {path}: expected {expected}.",
                truncate(text, 128)
            ))
        };
        Ok(match kind {
            ShapeKind::String { .. } => {
                constraints::check_string(kind, path, text)?;
                Value::String(text.to_string())
            }
            ShapeKind::Integer => {
                let n: i32 = text.trim().parse().map_err(|_| invalid("an integer"))?;
                Value::Number(n.into())
            }
            ShapeKind::Long => {
                let n: i64 = text.trim().parse().map_err(|_| invalid("an integer"))?;
                Value::Number(n.into())
            }
            ShapeKind::Boolean => {
                let t = text.trim();
                if t.eq_ignore_ascii_case("true") {
                    Value::Bool(true)
                } else if t.eq_ignore_ascii_case("false") {
                    Value::Bool(false)
                } else {
                    return Err(invalid("a boolean (true or false)"));
                }
            }
            ShapeKind::Double => {
                let f: f64 = text.trim().parse().map_err(|_| invalid("a number"))?;
                Value::Number(Number::from_f64(f).ok_or_else(|| invalid("a finite number"))?)
            }
            ShapeKind::Timestamp => {
                let t = Timestamp::parse(text)
                    .ok_or_else(|| invalid("an ISO-8601 timestamp such as 2024-01-02T03:04:05Z"))?;
                Value::String(t.to_string())
            }
            ShapeKind::Structure { .. } | ShapeKind::List { .. } => {
                return Err(ApiError::internal_failure(format!(
                    "{path}: not a scalar shape"
                )));
            }
        })
    }
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "query_fuzz.rs"]
mod fuzz;
