//! Amazon Resource Names of ElastiCache resources: built for every resource the API reports,
//! parsed for the tag operations (which name their resource by ARN).
//!
//! Format: `arn:<partition>:elasticache:<region>:<account>:<type>:<id>` (global datastores
//! have an empty region; they cannot be tagged).

use crate::state::ResourceKind;

/// The partition of a region (`aws`, `aws-cn`, `aws-us-gov`).
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The ARN of a resource.
pub fn build(region: &str, account: &str, kind: ResourceKind, id: &str) -> String {
    format!(
        "arn:{}:elasticache:{region}:{account}:{}:{id}",
        partition(region),
        kind.arn_type()
    )
}

/// A parsed ElastiCache ARN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedArn {
    /// Region segment.
    pub region: String,
    /// Account segment.
    pub account: String,
    /// Resource kind.
    pub kind: ResourceKind,
    /// Resource id (lower-cased where the kind's ids are case-insensitive).
    pub id: String,
}

/// Parses an ARN naming a taggable ElastiCache resource; the error is the `InvalidARN` message.
pub fn parse(arn: &str) -> Result<ParsedArn, String> {
    let invalid = || format!("ARN {arn} is invalid.");
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    let [prefix, partition, service, region, account, kind, id] = parts.as_slice() else {
        return Err(invalid());
    };
    if *prefix != "arn"
        || !matches!(*partition, "aws" | "aws-cn" | "aws-us-gov")
        || *service != "elasticache"
        || region.is_empty()
        || account.len() != 12
        || !account.bytes().all(|b| b.is_ascii_digit())
        || id.is_empty()
    {
        return Err(invalid());
    }
    let kind = ResourceKind::from_arn_type(kind).ok_or_else(invalid)?;
    // Users and user groups keep their case; every other identifier is stored lower-cased.
    let id = match kind {
        ResourceKind::User | ResourceKind::UserGroup => id.to_string(),
        _ => id.to_ascii_lowercase(),
    };
    Ok(ParsedArn {
        region: region.to_string(),
        account: account.to_string(),
        kind,
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_parses() {
        let a = build(
            "us-east-1",
            "000000000000",
            ResourceKind::Cluster,
            "my-redis",
        );
        assert_eq!(
            a,
            "arn:aws:elasticache:us-east-1:000000000000:cluster:my-redis"
        );
        let p = parse(&a).expect("valid");
        assert_eq!(p.kind, ResourceKind::Cluster);
        assert_eq!(p.id, "my-redis");
        assert_eq!(
            build("cn-north-1", "1", ResourceKind::User, "u"),
            "arn:aws-cn:elasticache:cn-north-1:1:user:u"
        );
        let pg = parse("arn:aws:elasticache:us-east-1:000000000000:parametergroup:default.redis7")
            .expect("pg");
        assert_eq!(pg.id, "default.redis7");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "nope",
            "arn:aws:s3:us-east-1:000000000000:cluster:x",
            "arn:aws:elasticache:us-east-1:000000000000:widget:x",
            "arn:aws:elasticache:us-east-1:0000:cluster:x",
            "arn:aws:elasticache::000000000000:globalreplicationgroup:x",
            "arn:aws:elasticache:us-east-1:000000000000:cluster:",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
