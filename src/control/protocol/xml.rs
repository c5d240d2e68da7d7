//! XML encoding: a handler's JSON output → the query-protocol response document.
//!
//! Last step of a request (`api::dispatch` → here → `control::http`). [`encode_success`] walks
//! the operation's output shape over the JSON value produced from the typed output and writes
//! `<{Op}Response xmlns=…><{Op}Result>…</{Op}Result><ResponseMetadata>…` (no Result element
//! for operations without output). Element names and list item names come from the model;
//! absent members are omitted. [`encode_error`] writes `<ErrorResponse>`.

use quick_xml::Writer;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use serde_json::Value;

use crate::control::api::{OperationDef, ShapeId, ShapeKind, Timestamp};
use crate::control::error::ApiError;

use super::XML_NAMESPACE;

type XmlWriter = Writer<Vec<u8>>;

/// Encodes a successful response of `op` whose output (JSON, as produced from the typed
/// output; `Null` for operations without output) is `output`.
pub fn encode_success(
    op: &OperationDef,
    output: &Value,
    request_id: &str,
) -> Result<String, ApiError> {
    let mut w = Writer::new(Vec::with_capacity(1024));
    let root = format!("{}Response", op.name);
    let mut start = BytesStart::new(root.as_str());
    start.push_attribute(("xmlns", XML_NAMESPACE));
    event(&mut w, Event::Start(start))?;
    if let (Some(shape), Some(wrapper)) = (op.output, op.result_wrapper) {
        open(&mut w, wrapper)?;
        members(&mut w, shape, output)?;
        close(&mut w, wrapper)?;
    }
    open(&mut w, "ResponseMetadata")?;
    text_element(&mut w, "RequestId", request_id)?;
    close(&mut w, "ResponseMetadata")?;
    close(&mut w, &root)?;
    finish(w)
}

/// Encodes an error response: `<ErrorResponse><Error><Type/><Code/><Message/></Error>
/// <RequestId/></ErrorResponse>`. The HTTP status to send with it is `err.http_status()`.
pub fn encode_error(err: &ApiError, request_id: &str) -> String {
    let render = || -> Result<String, ApiError> {
        let mut w = Writer::new(Vec::with_capacity(512));
        let mut start = BytesStart::new("ErrorResponse");
        start.push_attribute(("xmlns", XML_NAMESPACE));
        event(&mut w, Event::Start(start))?;
        open(&mut w, "Error")?;
        text_element(&mut w, "Type", err.fault_type())?;
        text_element(&mut w, "Code", err.wire_code())?;
        text_element(&mut w, "Message", err.message())?;
        close(&mut w, "Error")?;
        text_element(&mut w, "RequestId", request_id)?;
        close(&mut w, "ErrorResponse")?;
        finish(w)
    };
    // Writing into a Vec cannot fail; keep a correct document even if it somehow did.
    render().unwrap_or_else(|_| {
        format!(
            "<ErrorResponse xmlns=\"{XML_NAMESPACE}\"><Error><Type>Receiver</Type><Code>InternalFailure</Code>\
             <Message>error rendering failed</Message></Error><RequestId></RequestId></ErrorResponse>"
        )
    })
}

/// Writes the members of structure `shape` present in `value` (an object), in model order.
fn members(w: &mut XmlWriter, shape: ShapeId, value: &Value) -> Result<(), ApiError> {
    let ShapeKind::Structure { members, .. } = &shape.get().kind else {
        return Err(ApiError::internal_failure(format!(
            "{} is not a structure",
            shape.get().name
        )));
    };
    let Some(object) = value.as_object() else {
        return Ok(());
    };
    for member in *members {
        match object.get(member.name) {
            None | Some(Value::Null) => {}
            Some(v) => {
                element(w, member.wire_name(), member.shape, v)?;
                // See `Shape::location_name`: botocore and Smithy SDKs disagree on this
                // element's name, and each ignores the element it does not expect.
                if let Some(alt) = member.alternate_wire_name() {
                    element(w, alt, member.shape, v)?;
                }
            }
        }
    }
    Ok(())
}

/// Writes `<name>…</name>` for `value` of shape `shape`.
fn element(w: &mut XmlWriter, name: &str, shape: ShapeId, value: &Value) -> Result<(), ApiError> {
    match &shape.get().kind {
        ShapeKind::Structure { .. } => {
            open(w, name)?;
            members(w, shape, value)?;
            close(w, name)
        }
        ShapeKind::List {
            member,
            item_name,
            flattened,
            ..
        } => {
            let items = value.as_array().map(Vec::as_slice).unwrap_or_default();
            if *flattened {
                for item in items {
                    element(w, name, *member, item)?;
                }
                return Ok(());
            }
            let item_name = item_name.unwrap_or("member");
            open(w, name)?;
            for item in items.iter().filter(|v| !v.is_null()) {
                element(w, item_name, *member, item)?;
            }
            close(w, name)
        }
        ShapeKind::Timestamp => {
            let text = scalar_text(value);
            // Re-render through Timestamp so every timestamp has AWS's millisecond form.
            let text = Timestamp::parse(&text).map_or(text, |t| t.to_string());
            text_element(w, name, &text)
        }
        ShapeKind::Boolean => {
            let text = match value {
                Value::Bool(b) => b.to_string(),
                other => scalar_text(other),
            };
            text_element(w, name, &text)
        }
        ShapeKind::String { .. } | ShapeKind::Integer | ShapeKind::Long | ShapeKind::Double => {
            text_element(w, name, &scalar_text(value))
        }
    }
}

/// Text of a scalar JSON value: strings as is, numbers in their shortest decimal form.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (None, Some(u), _) => u.to_string(),
            (None, None, Some(f)) => f.to_string(),
            _ => n.to_string(),
        },
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

fn text_element(w: &mut XmlWriter, name: &str, text: &str) -> Result<(), ApiError> {
    open(w, name)?;
    let clean = xml_safe(text);
    event(w, Event::Text(BytesText::new(&clean)))?;
    close(w, name)
}

/// XML 1.0 cannot carry most control characters even escaped; parsers reject the whole
/// document. Replace them so one odd tag value cannot break a Describe call.
fn xml_safe(text: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}');
    if text.chars().any(bad) {
        text.chars()
            .map(|c| if bad(c) { '\u{fffd}' } else { c })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}

fn open(w: &mut XmlWriter, name: &str) -> Result<(), ApiError> {
    event(w, Event::Start(BytesStart::new(name)))
}

fn close(w: &mut XmlWriter, name: &str) -> Result<(), ApiError> {
    event(w, Event::End(BytesEnd::new(name)))
}

fn event(w: &mut XmlWriter, e: Event<'_>) -> Result<(), ApiError> {
    w.write_event(e)
        .map_err(|err| ApiError::internal_failure(format!("XML writing failed: {err}")))
}

fn finish(w: XmlWriter) -> Result<String, ApiError> {
    String::from_utf8(w.into_inner())
        .map_err(|err| ApiError::internal_failure(format!("XML output is not UTF-8: {err}")))
}

#[cfg(test)]
#[path = "xml_tests.rs"]
mod tests;
