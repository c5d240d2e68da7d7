//! Validation of user-supplied identifiers and values, with AWS's rules: identifiers are
//! stored lower-cased and looked up case-insensitively; cluster and replication group ids start
//! with a letter, use letters, digits and hyphens, and never end with or double a hyphen. Checks
//! against the catalogue and the region's records are in [`checks`].
//!
//! Place in the flow: handlers call these first, before any state lookup. Each function
//! returns the normalised value (identifiers lower-cased, windows lower-cased) or the message
//! of the `InvalidParameterValue` error the handler raises. Messages follow AWS's wording
//! where it is known.

use crate::state::Tag;

pub mod checks;

/// Maximum tags per resource.
pub const MAX_TAGS: usize = 50;

/// Shared rule of AWS identifiers: ASCII letters, digits and hyphens, first a letter, no
/// trailing hyphen, no two consecutive hyphens.
fn check_identifier(param: &str, raw: &str, max: usize) -> Result<String, String> {
    let id = raw.trim().to_ascii_lowercase();
    if id.is_empty() {
        return Err(format!(
            "The parameter {param} must be provided and must not be blank."
        ));
    }
    if id.len() > max {
        return Err(format!(
            "The parameter {param} is not a valid identifier. Identifiers must contain from 1 to {max} characters."
        ));
    }
    let valid = id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && id.as_bytes()[0].is_ascii_lowercase()
        && !id.ends_with('-')
        && !id.contains("--");
    if !valid {
        return Err(format!(
            "The parameter {param} is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens."
        ));
    }
    Ok(id)
}

/// `CacheClusterId`: 1–50 characters, identifier rules; returned lower-cased.
pub fn cluster_id(raw: &str) -> Result<String, String> {
    check_identifier("CacheClusterId", raw, 50)
}

/// `ReplicationGroupId`: 1–40 characters, identifier rules; returned lower-cased.
pub fn replication_group_id(raw: &str) -> Result<String, String> {
    check_identifier("ReplicationGroupId", raw, 40)
}

/// `ServerlessCacheName` (`max` 40) and the serverless snapshot names (`max` 255), named
/// `param` in messages: identifier rules; returned lower-cased.
pub fn serverless_name(param: &str, raw: &str, max: usize) -> Result<String, String> {
    check_identifier(param, raw, max)
}

/// `SnapshotName` (also `TargetSnapshotName`, `FinalSnapshotIdentifier`): 1–255 characters,
/// identifier rules; returned lower-cased.
pub fn snapshot_name(raw: &str) -> Result<String, String> {
    check_identifier("SnapshotName", raw, 255)
}

/// `CacheParameterGroupName` of a group being created: 1–255, identifier rules.
pub fn parameter_group_name(raw: &str) -> Result<String, String> {
    check_identifier("CacheParameterGroupName", raw, 255)
}

/// `CacheSubnetGroupName` of a group being created: 1–255, identifier rules (AWS answers
/// "The parameter CacheSubnetGroupName is not a valid identifier…" for `my_group`).
pub fn subnet_group_name(raw: &str) -> Result<String, String> {
    check_identifier("CacheSubnetGroupName", raw, 255)
}

/// `CacheSecurityGroupName` of a group being created: ≤ 255 letters, digits or hyphens, not
/// `Default`.
pub fn security_group_name(raw: &str) -> Result<String, String> {
    let name = raw.trim().to_ascii_lowercase();
    if name == "default" {
        return Err("The security group name 'Default' is reserved.".to_string());
    }
    if name.is_empty()
        || name.len() > 255
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(format!(
            "Invalid cache security group name: {raw}. The name must contain no more than 255 alphanumeric characters."
        ));
    }
    Ok(name)
}

/// `AuthToken`: 16–128 printable ASCII characters; the only special characters allowed are
/// `! & # $ ^ < > -`.
pub fn auth_token(token: &str) -> Result<(), String> {
    let ok_len = (16..=128).contains(&token.len());
    let ok_chars = token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"!&#$^<>-".contains(&b));
    if ok_len && ok_chars {
        Ok(())
    } else {
        Err("Invalid AuthToken provided.".to_string())
    }
}

const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn minutes_of(hhmm: &str) -> Option<u32> {
    let (h, m) = hhmm.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// `PreferredMaintenanceWindow` `ddd:hh24:mi-ddd:hh24:mi`, at least 60 minutes; returned
/// lower-cased (as AWS reports it).
pub fn maintenance_window(raw: &str) -> Result<String, String> {
    let w = raw.trim().to_ascii_lowercase();
    let err = || {
        format!(
            "Invalid maintenance window: {raw}. The format is ddd:hh24:mi-ddd:hh24:mi (UTC), at least 60 minutes."
        )
    };
    let (a, b) = w.split_once('-').ok_or_else(err)?;
    let point = |s: &str| -> Option<u32> {
        let (day, time) = s.split_once(':')?;
        let d = DAYS.iter().position(|x| *x == day)? as u32;
        Some(d * 1440 + minutes_of(time)?)
    };
    let (start, end) = (point(a).ok_or_else(err)?, point(b).ok_or_else(err)?);
    let span = (end + 7 * 1440 - start) % (7 * 1440);
    if span < 60 {
        return Err(format!(
            "The maintenance window must be at least 60 minutes: {raw}"
        ));
    }
    Ok(w)
}

/// `SnapshotWindow` `hh24:mi-hh24:mi`, at least 60 minutes.
pub fn snapshot_window(raw: &str) -> Result<String, String> {
    let w = raw.trim().to_string();
    let err = || {
        format!(
            "Invalid snapshot window: {raw}. The format is hh24:mi-hh24:mi (UTC), at least 60 minutes."
        )
    };
    let (a, b) = w.split_once('-').ok_or_else(err)?;
    let (start, end) = (
        minutes_of(a).ok_or_else(err)?,
        minutes_of(b).ok_or_else(err)?,
    );
    if (end + 1440 - start) % 1440 < 60 {
        return Err(format!(
            "The snapshot window must be at least 60 minutes: {raw}"
        ));
    }
    Ok(w)
}

/// Whether two windows overlap: the maintenance (`ddd:hh24:mi-ddd:hh24:mi`) and the daily
/// snapshot window (`hh24:mi-hh24:mi`) must not, says AWS.
pub fn windows_overlap(maintenance: &str, snapshot: &str) -> bool {
    let parse_m = |s: &str| -> Option<(u32, u32)> {
        let (a, b) = s.split_once('-')?;
        let p = |x: &str| -> Option<u32> {
            let (d, t) = x.split_once(':')?;
            Some(DAYS.iter().position(|y| *y == d)? as u32 * 1440 + minutes_of(t)?)
        };
        Some((p(a)?, p(b)?))
    };
    let parse_s = |s: &str| -> Option<(u32, u32)> {
        let (a, b) = s.split_once('-')?;
        Some((minutes_of(a)?, minutes_of(b)?))
    };
    let (Some((ms, me)), Some((ss, se))) = (parse_m(maintenance), parse_s(snapshot)) else {
        return false;
    };
    let week = 7 * 1440;
    let mlen = (me + week - ms) % week;
    let slen = (se + 1440 - ss) % 1440;
    (0..7).any(|day| {
        let s0 = day * 1440 + ss;
        // Two intervals on a circle of one week overlap if either start lies in the other.
        let inside = |p: u32, start: u32, len: u32| (p + week - start) % week < len;
        inside(s0, ms, mlen) || inside(ms, s0, slen)
    })
}

/// `SnapshotRetentionLimit`: 0–35 days.
pub fn snapshot_retention(limit: i32) -> Result<i32, String> {
    if (0..=35).contains(&limit) {
        Ok(limit)
    } else {
        Err(format!(
            "Invalid snapshot retention limit {limit}. The value must be between 0 and 35."
        ))
    }
}

/// Tags of a create or AddTagsToResource request: key 1–128 characters, value ≤ 256, the
/// `aws:` prefix reserved.
pub fn tags(tags: &[Tag]) -> Result<(), String> {
    for t in tags {
        if t.key.is_empty() || t.key.chars().count() > 128 {
            return Err(format!(
                "Invalid tag key: {}. Tag keys must be between 1 and 128 characters.",
                t.key
            ));
        }
        if t.value.chars().count() > 256 {
            return Err(format!(
                "Invalid tag value for key {}. Tag values must be at most 256 characters.",
                t.key
            ));
        }
        if t.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(format!(
                "Invalid tag key: {}. Tag keys may not start with 'aws:'.",
                t.key
            ));
        }
    }
    Ok(())
}

/// `UserId` / `UserGroupId`: the model's pattern `[a-zA-Z][a-zA-Z0-9-]*`, at most 120
/// characters; returned lower-cased (AWS stores these ids in lower case).
pub fn rbac_id(param: &str, raw: &str) -> Result<String, String> {
    let id = raw.trim().to_ascii_lowercase();
    let valid = id.len() <= 120
        && id.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        Ok(id)
    } else {
        Err(format!(
            "The parameter {param} must begin with a letter and contain only ASCII letters, digits, and hyphens."
        ))
    }
}

/// User and user group `Engine`: `redis` or `valkey` (any case); returned lower-cased.
pub fn rbac_engine(raw: &str) -> Result<String, String> {
    let engine = raw.trim().to_ascii_lowercase();
    match engine.as_str() {
        "redis" | "valkey" => Ok(engine),
        _ => Err(format!(
            "Invalid value for Engine: {raw}. Valid values are redis and valkey."
        )),
    }
}

/// A user password: 16–128 printable ASCII characters, none of `,` `"` `/` `@`.
pub fn user_password(password: &str) -> Result<(), String> {
    let ok_len = (16..=128).contains(&password.len());
    let ok_chars = password
        .bytes()
        .all(|b| b.is_ascii_graphic() && !b",\"/@".contains(&b));
    if ok_len && ok_chars {
        Ok(())
    } else {
        Err("Passwords length must be between 16-128 characters, and may not contain the characters , \" / @.".to_string())
    }
}

/// An access string: not blank, and none of the rules ElastiCache manages itself (passwords
/// come from the API, so `>pw`, `<pw`, `#hash`, `!hash`, `nopass`, `resetpass` and `reset`
/// are refused).
pub fn access_string(raw: &str) -> Result<(), String> {
    if raw.trim().is_empty() {
        return Err("The parameter AccessString must be provided and must not be blank.".into());
    }
    for rule in raw.split_ascii_whitespace() {
        let lower = rule.to_ascii_lowercase();
        let managed = rule.starts_with(['>', '<', '#', '!'])
            || ["nopass", "resetpass", "reset"].contains(&lower.as_str());
        if managed {
            return Err(format!(
                "Access string rule {rule} is not allowed: passwords are set with the Passwords parameter."
            ));
        }
    }
    Ok(())
}

/// `Port`: a TCP port.
pub fn port(port: i32) -> Result<u16, String> {
    u16::try_from(port)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("Invalid port {port}. The port must be between 1 and 65535."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_ids_follow_aws_rules() {
        assert_eq!(cluster_id("My-Redis"), Ok("my-redis".to_string()));
        assert!(cluster_id("").is_err());
        assert!(cluster_id("1abc").is_err());
        assert!(cluster_id("abc-").is_err());
        assert!(cluster_id("a--b").is_err());
        assert!(cluster_id("a_b").is_err());
        assert!(cluster_id(&"a".repeat(50)).is_ok());
        assert!(cluster_id(&"a".repeat(51)).is_err());
    }

    #[test]
    fn group_names() {
        assert_eq!(parameter_group_name("My-Params"), Ok("my-params".into()));
        assert!(parameter_group_name("my.params").is_err());
        assert_eq!(subnet_group_name("Sub-1"), Ok("sub-1".into()));
        assert!(subnet_group_name("a b").is_err());
        assert!(subnet_group_name("my_group").is_err());
        assert!(subnet_group_name("1group").is_err());
        assert!(security_group_name("Default").is_err());
        assert!(security_group_name("mysg").is_ok());
    }

    #[test]
    fn rbac_values() {
        assert_eq!(rbac_id("UserId", "Alice-1"), Ok("alice-1".into()));
        assert!(rbac_id("UserId", "1alice").is_err());
        assert!(rbac_id("UserId", "al_ice").is_err());
        assert!(rbac_id("UserId", "").is_err());
        assert_eq!(rbac_engine("Valkey"), Ok("valkey".into()));
        assert!(rbac_engine("memcached").is_err());
        assert!(user_password("abcdefghijklmnop").is_ok());
        assert!(user_password("abcdefghijklmno").is_err());
        assert!(user_password("abcdefghijklmnop@").is_err());
        assert!(user_password(&"a".repeat(129)).is_err());
        assert!(access_string("on ~app:* +get").is_ok());
        assert!(access_string("on >secret ~* +@all").is_err());
        assert!(access_string("on nopass ~* +@all").is_err());
        assert!(access_string("  ").is_err());
    }

    #[test]
    fn auth_tokens() {
        assert!(auth_token("abcdefghijklmnop").is_ok());
        assert!(auth_token("short").is_err());
        assert!(auth_token("abcdefghijklmnop@").is_err());
        assert!(auth_token("abcdefgh!&#$^<>-ij").is_ok());
        assert!(auth_token(&"a".repeat(129)).is_err());
    }

    #[test]
    fn windows() {
        assert_eq!(
            maintenance_window("Sun:05:00-Sun:06:00"),
            Ok("sun:05:00-sun:06:00".into())
        );
        assert!(maintenance_window("sun:05:00-sun:05:30").is_err());
        assert!(maintenance_window("sat:23:30-sun:00:30").is_ok());
        assert!(maintenance_window("xyz:05:00-sun:06:00").is_err());
        assert!(snapshot_window("05:00-06:00").is_ok());
        assert!(snapshot_window("23:30-00:30").is_ok());
        assert!(snapshot_window("05:00-05:59").is_err());
        assert!(snapshot_window("5:00-6:00").is_err());
        assert!(windows_overlap("sun:05:00-sun:06:00", "05:30-06:30"));
        assert!(!windows_overlap("sun:05:00-sun:06:00", "07:00-08:00"));
        assert!(windows_overlap("sat:23:30-sun:00:30", "00:00-01:00"));
    }

    #[test]
    fn tags_and_numbers() {
        let t = |k: &str, v: &str| Tag {
            key: k.into(),
            value: v.into(),
        };
        assert!(tags(&[t("env", "dev")]).is_ok());
        assert!(tags(&[t("aws:x", "1")]).is_err());
        assert!(tags(&[t("AWS:x", "1")]).is_err());
        assert!(tags(&[t("", "1")]).is_err());
        assert!(tags(&[t("k", &"v".repeat(257))]).is_err());
        assert!(snapshot_retention(35).is_ok());
        assert!(snapshot_retention(36).is_err());
        assert_eq!(port(6379), Ok(6379));
        assert!(port(0).is_err());
        assert!(port(70000).is_err());
    }
}
