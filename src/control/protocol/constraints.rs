//! The model's value constraints: string enums, lengths, patterns and list sizes.
//!
//! Called by `query` while decoding a request. botocore only checks `min` client-side and the
//! Go SDK checks nothing, so the service must enforce the rest; doing it here, from the model,
//! keeps every operation consistent. Violations are `InvalidParameterValue` (400), naming the
//! parameter by its query key.

use crate::control::api::ShapeKind;
use crate::control::error::ApiError;

use super::form::truncate;

/// Checks a decoded string against its shape's enum, length and pattern.
pub fn check_string(kind: &ShapeKind, path: &str, value: &str) -> Result<(), ApiError> {
    let ShapeKind::String {
        enum_values,
        min,
        max,
        pattern,
    } = kind
    else {
        return Ok(());
    };
    if !enum_values.is_empty() && !enum_values.contains(&value) {
        return Err(ApiError::invalid_parameter_value(format!(
            "Invalid value '{}' for parameter {path}. Valid values: {}.",
            truncate(value, 128),
            enum_values.join(", ")
        )));
    }
    let len = i64::try_from(value.chars().count()).unwrap_or(i64::MAX);
    if min.is_some_and(|m| len < m) || max.is_some_and(|m| len > m) {
        return Err(ApiError::invalid_parameter_value(format!(
            "The parameter {path} must be {} characters long.",
            bounds_text(*min, *max)
        )));
    }
    if let Some(pattern) = pattern
        && matches_pattern(pattern, value) == Some(false)
    {
        return Err(ApiError::invalid_parameter_value(format!(
            "Invalid value '{}' for parameter {path}: it must match the pattern {pattern}.",
            truncate(value, 128)
        )));
    }
    Ok(())
}

/// Checks the number of items of a decoded list against its shape's `min` / `max`.
pub fn check_list_len(kind: &ShapeKind, path: &str, len: usize) -> Result<(), ApiError> {
    let ShapeKind::List { min, max, .. } = kind else {
        return Ok(());
    };
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    if min.is_some_and(|m| len < m) || max.is_some_and(|m| len > m) {
        return Err(ApiError::invalid_parameter_value(format!(
            "The parameter {path} must contain {} items.",
            bounds_text(*min, *max)
        )));
    }
    Ok(())
}

fn bounds_text(min: Option<i64>, max: Option<i64>) -> String {
    match (min, max) {
        (Some(a), Some(b)) => format!("between {a} and {b}"),
        (Some(a), None) => format!("at least {a}"),
        (None, Some(b)) => format!("at most {b}"),
        (None, None) => "any number of".to_string(),
    }
}

/// Evaluates the handful of regular expressions the ElastiCache model uses, matched against
/// the whole value (the patterns describe whole identifiers). `None` for a pattern this
/// function does not know, which is then not enforced rather than guessed at; the unit test
/// below fails if the model gains a pattern not handled here.
pub fn matches_pattern(pattern: &str, value: &str) -> Option<bool> {
    let mut chars = value.chars();
    Some(match pattern {
        // At least one non-whitespace character.
        r".*\S.*" => value.chars().any(|c| !c.is_whitespace()),
        r"\d+" => !value.is_empty() && value.chars().all(|c| c.is_ascii_digit()),
        "[a-zA-Z]*" => value.chars().all(|c| c.is_ascii_alphabetic()),
        r"[a-zA-Z][a-zA-Z0-9\-]*" => {
            chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::api::model::SHAPES;
    use crate::control::error::ErrorCode;

    #[test]
    fn every_model_pattern_is_understood() {
        for shape in &SHAPES {
            if let ShapeKind::String {
                pattern: Some(p), ..
            } = shape.kind
            {
                assert!(
                    matches_pattern(p, "x").is_some(),
                    "pattern {p} of {} not handled",
                    shape.name
                );
            }
        }
    }

    #[test]
    fn patterns_match_whole_values() {
        assert_eq!(matches_pattern(r".*\S.*", "  a "), Some(true));
        assert_eq!(matches_pattern(r".*\S.*", "   "), Some(false));
        assert_eq!(matches_pattern(r"\d+", "0012"), Some(true));
        assert_eq!(matches_pattern(r"\d+", "12a"), Some(false));
        assert_eq!(matches_pattern("[a-zA-Z]*", "redis"), Some(true));
        assert_eq!(matches_pattern("[a-zA-Z]*", "redis7"), Some(false));
        assert_eq!(
            matches_pattern(r"[a-zA-Z][a-zA-Z0-9\-]*", "user-1"),
            Some(true)
        );
        assert_eq!(
            matches_pattern(r"[a-zA-Z][a-zA-Z0-9\-]*", "1user"),
            Some(false)
        );
        assert_eq!(matches_pattern(r"[a-zA-Z][a-zA-Z0-9\-]*", ""), Some(false));
        assert_eq!(matches_pattern("[0-9]+", "1"), None);
    }

    #[test]
    fn strings_and_lists_are_bounded() {
        let kind = ShapeKind::String {
            enum_values: &["a", "b"],
            min: None,
            max: None,
            pattern: None,
        };
        assert!(check_string(&kind, "X", "a").is_ok());
        let err = check_string(&kind, "X", "A").unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidParameterValue);
        assert!(err.message().contains("Valid values: a, b"));
        let kind = ShapeKind::String {
            enum_values: &[],
            min: Some(1),
            max: Some(4),
            pattern: Some(r"\d+"),
        };
        assert!(check_string(&kind, "X", "").is_err());
        assert!(check_string(&kind, "X", "12345").is_err());
        assert!(check_string(&kind, "X", "12a").is_err());
        assert!(check_string(&kind, "X", "1234").is_ok());
        let list = ShapeKind::List {
            member: crate::control::api::ShapeId(0),
            item_name: None,
            flattened: false,
            min: Some(1),
            max: Some(2),
        };
        assert!(check_list_len(&list, "L", 0).is_err());
        assert!(check_list_len(&list, "L", 3).is_err());
        assert!(check_list_len(&list, "L", 2).is_ok());
    }
}
