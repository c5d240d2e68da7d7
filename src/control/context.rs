//! `RequestContext`: who is calling and where, for one API request.
//!
//! Built by `control::http` for each request before decoding, and handed to every handler.
//! State is partitioned by (account, region), both taken from the SigV4 credential scope:
//! `Authorization: AWS4-HMAC-SHA256 Credential=<AccessKeyId>/<date>/<region>/<service>/aws4_request, …`
//! or, for pre-signed requests, the `X-Amz-Credential` parameter. A 12-digit access key id is
//! taken as the account id (a common emulator convention that lets tests use several accounts);
//! anything else maps to the configured default account. Unsigned requests use the configured
//! default region. Signatures are not verified.

use axum::http::HeaderMap;

/// Identity and location of one API request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestContext {
    /// Request id echoed in `<RequestId>` and the `x-amzn-RequestId` header.
    pub request_id: String,
    /// 12-digit AWS account id that owns the resources touched.
    pub account: String,
    /// AWS region (from the credential scope, or the configured default).
    pub region: String,
    /// The operation name (`Action=`).
    pub action: String,
}

/// Account and region used when a request does not say (unsigned, or a non-numeric key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextDefaults {
    /// Account for access keys that are not 12-digit account ids.
    pub account: String,
    /// Region for unsigned requests.
    pub region: String,
}

impl Default for ContextDefaults {
    fn default() -> Self {
        ContextDefaults {
            account: "000000000000".to_string(),
            region: "us-east-1".to_string(),
        }
    }
}

/// The parts of a SigV4 credential scope the emulator uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialScope {
    /// Access key id (first scope element).
    pub access_key_id: String,
    /// Region (third scope element).
    pub region: String,
}

impl CredentialScope {
    /// Parses `<AccessKeyId>/<yyyymmdd>/<region>/<service>/aws4_request`.
    pub fn parse(credential: &str) -> Option<CredentialScope> {
        let mut parts = credential.trim().split('/');
        let access_key_id = parts.next()?.trim();
        let _date = parts.next()?;
        let region = parts.next()?.trim();
        let _service = parts.next()?;
        let plausible_region = !region.is_empty()
            && region.len() <= 64
            && region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if access_key_id.is_empty() || access_key_id.len() > 128 || !plausible_region {
            return None;
        }
        Some(CredentialScope {
            access_key_id: access_key_id.to_string(),
            region: region.to_string(),
        })
    }

    /// Finds the scope in an `Authorization: AWS4-HMAC-SHA256 Credential=…, …` header value.
    pub fn from_authorization(value: &str) -> Option<CredentialScope> {
        let rest = value.trim().strip_prefix("AWS4-HMAC-SHA256")?;
        rest.split(',')
            .map(str::trim)
            .find_map(|part| part.strip_prefix("Credential="))
            .and_then(CredentialScope::parse)
    }
}

/// A 12-digit access key id is the account id; anything else is the default account.
pub fn account_for_key(access_key_id: &str, defaults: &ContextDefaults) -> String {
    if access_key_id.len() == 12 && access_key_id.bytes().all(|b| b.is_ascii_digit()) {
        access_key_id.to_string()
    } else {
        defaults.account.clone()
    }
}

impl RequestContext {
    /// Builds the context of a request from its headers (`Authorization`) or its
    /// `X-Amz-Credential` parameter (pre-signed requests), falling back to `defaults`.
    pub fn from_request(
        headers: &HeaderMap,
        presigned_credential: Option<&str>,
        defaults: &ContextDefaults,
        request_id: String,
        action: String,
    ) -> RequestContext {
        let scope = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(CredentialScope::from_authorization)
            .or_else(|| presigned_credential.and_then(CredentialScope::parse));
        let (account, region) = match scope {
            Some(s) => (account_for_key(&s.access_key_id, defaults), s.region),
            None => (defaults.account.clone(), defaults.region.clone()),
        };
        RequestContext {
            request_id,
            account,
            region,
            action,
        }
    }

    /// A context for tests and internal calls (default account and region).
    pub fn for_tests(action: &str) -> RequestContext {
        let defaults = ContextDefaults::default();
        RequestContext {
            request_id: "00000000-0000-4000-8000-000000000000".to_string(),
            account: defaults.account,
            region: defaults.region,
            action: action.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(auth: Option<&str>, presigned: Option<&str>) -> RequestContext {
        let mut headers = HeaderMap::new();
        if let Some(a) = auth {
            headers.insert(axum::http::header::AUTHORIZATION, a.parse().unwrap());
        }
        let defaults = ContextDefaults {
            account: "000000000000".into(),
            region: "us-east-1".into(),
        };
        RequestContext::from_request(&headers, presigned, &defaults, "rid".into(), "X".into())
    }

    #[test]
    fn account_and_region_come_from_the_credential_scope() {
        let c = ctx(
            Some(
                "AWS4-HMAC-SHA256 Credential=123456789012/20240101/eu-west-3/elasticache/aws4_request, SignedHeaders=host, Signature=ab",
            ),
            None,
        );
        assert_eq!(
            (c.account.as_str(), c.region.as_str()),
            ("123456789012", "eu-west-3")
        );
        let c = ctx(
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20240101/ap-south-1/elasticache/aws4_request,SignedHeaders=host,Signature=ab",
            ),
            None,
        );
        assert_eq!(
            (c.account.as_str(), c.region.as_str()),
            ("000000000000", "ap-south-1")
        );
        let c = ctx(
            None,
            Some("111122223333/20240101/us-west-2/elasticache/aws4_request"),
        );
        assert_eq!(
            (c.account.as_str(), c.region.as_str()),
            ("111122223333", "us-west-2")
        );
    }

    #[test]
    fn unsigned_or_malformed_requests_use_the_defaults() {
        for auth in [
            None,
            Some("Basic abc"),
            Some("AWS4-HMAC-SHA256 Credential=x"),
            Some("AWS4-HMAC-SHA256 Credential=k/d/bad region!/s/aws4_request"),
        ] {
            let c = ctx(auth, None);
            assert_eq!(
                (c.account.as_str(), c.region.as_str()),
                ("000000000000", "us-east-1"),
                "{auth:?}"
            );
        }
    }
}
