//! ElastiCache IAM authentication tokens: checking the password an IAM-mode user sends with
//! `AUTH <user> <token>` (or `HELLO … AUTH`).
//!
//! A token is a SigV4 presigned request, printed without its scheme:
//! `<cache>/?Action=connect&User=<userId>&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=…
//! &X-Amz-Date=…&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=…` (service
//! `elasticache`, method GET, host = the replication group id). [`validate`] checks what
//! ElastiCache checks that an emulator can: the action, the user, the cache, the region of the
//! credential scope, the lifetime (at most 15 minutes, not expired) and the signature, recomputed
//! with the secret [`IamCredentials`] knows for the token's access key. IAM policies
//! (`elasticache:Connect`) are not evaluated.
//!
//! Place in the flow: the supervisor builds one [`checker`] per IAM user of a node and hands it
//! to the engine as the user's password check; the engine answers WRONGPASS when it says no.

use std::collections::BTreeMap;
use std::sync::Arc;

use ring::{digest, hmac};

/// Longest lifetime a token may state (`X-Amz-Expires`), in seconds: 15 minutes.
pub const MAX_EXPIRES_SECS: i64 = 900;

/// Clock difference tolerated between the signer and the emulator, in seconds.
pub const CLOCK_SKEW_SECS: i64 = 60;

/// The SigV4 service name of ElastiCache.
const SERVICE: &str = "elasticache";

/// The secret of the dummy credentials local test setups use (`AWS_SECRET_ACCESS_KEY=test`).
const DUMMY_SECRET: &str = "test";

/// Which secret the emulator expects behind an access key id.
#[derive(Clone, PartialEq, Eq)]
pub enum IamCredentials {
    /// No pairs configured: the dummy credentials of local testing are accepted, i.e. the
    /// secret `test` for any access key id, or a secret equal to the access key id itself
    /// (`test`/`test`, `testing`/`testing`, `123456789012`/`test`).
    Dummy,
    /// Only these pairs (access key id → secret access key).
    Listed(BTreeMap<String, String>),
}

impl std::fmt::Debug for IamCredentials {
    /// Access key ids only: secrets stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IamCredentials::Dummy => f.write_str("Dummy"),
            IamCredentials::Listed(pairs) => f
                .debug_tuple("Listed")
                .field(&pairs.keys().collect::<Vec<_>>())
                .finish(),
        }
    }
}

impl std::str::FromStr for IamCredentials {
    type Err = String;

    /// `KEY:SECRET[,KEY:SECRET…]`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut pairs = BTreeMap::new();
        for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, secret) = pair
                .split_once(':')
                .ok_or_else(|| "expected KEY:SECRET[,KEY:SECRET...]".to_string())?;
            if key.is_empty() || secret.is_empty() {
                return Err("access key id and secret must not be empty".to_string());
            }
            pairs.insert(key.to_string(), secret.to_string());
        }
        if pairs.is_empty() {
            return Err("expected at least one KEY:SECRET pair".to_string());
        }
        Ok(IamCredentials::Listed(pairs))
    }
}

impl IamCredentials {
    /// The secrets a token signed with `access_key_id` may have been signed with.
    fn secrets_for<'a>(&'a self, access_key_id: &'a str) -> Vec<&'a str> {
        match self {
            IamCredentials::Dummy if access_key_id == DUMMY_SECRET => vec![DUMMY_SECRET],
            IamCredentials::Dummy => vec![DUMMY_SECRET, access_key_id],
            IamCredentials::Listed(pairs) => pairs
                .get(access_key_id)
                .map(String::as_str)
                .into_iter()
                .collect(),
        }
    }
}

/// What a token must name to open a connection as one IAM user of one cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IamTarget {
    /// The replication group id the node belongs to (the token's host).
    pub cache_name: String,
    /// The group's region (the token's credential scope).
    pub region: String,
    /// The user id (equal to the user name for IAM users; the token's `User`).
    pub user_id: String,
    /// The cache is a serverless cache (`cache_name` is its name): its tokens carry
    /// `ResourceType=ServerlessCache`, which node-based caches' tokens must not.
    pub serverless: bool,
}

/// Why a token was refused (logged; the client only sees WRONGPASS, as on AWS).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not a presigned request of the expected shape; the text names what is wrong.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// `Action` is not `connect`.
    #[error("the token's Action is not connect")]
    WrongAction,
    /// `User` names another user.
    #[error("the token is for another user")]
    WrongUser,
    /// The host names another cache, or the token is for a serverless cache.
    #[error("the token is for another cache")]
    WrongCache,
    /// The credential scope names another region or service.
    #[error("the token's credential scope is for another region or service")]
    WrongScope,
    /// `X-Amz-Expires` above 15 minutes.
    #[error("the token's lifetime exceeds 900 seconds")]
    TooLong,
    /// Signed too long ago.
    #[error("the token has expired")]
    Expired,
    /// Signed in the future.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// No secret known for the access key id.
    #[error("unknown access key id")]
    UnknownAccessKey,
    /// The signature does not match the request and the known secret.
    #[error("signature mismatch")]
    BadSignature,
}

/// The parts of a token the checks need.
struct Token {
    host: String,
    params: Vec<(String, String)>,
}

impl Token {
    /// The single value of a query parameter.
    fn get(&self, name: &'static str) -> Result<&str, Refusal> {
        let mut values = self.params.iter().filter(|(k, _)| k == name);
        match (values.next(), values.next()) {
            (Some((_, v)), None) => Ok(v),
            (None, _) => Err(Refusal::Malformed(name)),
            (Some(_), Some(_)) => Err(Refusal::Malformed("repeated parameter")),
        }
    }
}

fn parse(token: &[u8]) -> Result<Token, Refusal> {
    let raw = std::str::from_utf8(token).map_err(|_| Refusal::Malformed("not UTF-8"))?;
    let (host, query) = raw
        .split_once("/?")
        .ok_or(Refusal::Malformed("expected <cache>/?<query>"))?;
    if host.is_empty() || host.contains(['/', ':', '@']) {
        return Err(Refusal::Malformed("host"));
    }
    let params = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    Ok(Token {
        // SigV4 signs the host lower-cased; cache names are lower case anyway.
        host: host.to_ascii_lowercase(),
        params,
    })
}

/// Checks `token` as ElastiCache would for a connection as `target.user_id` to
/// `target.cache_name`, at `now` (Unix seconds).
pub fn validate(
    token: &[u8],
    target: &IamTarget,
    creds: &IamCredentials,
    now: i64,
) -> Result<(), Refusal> {
    let t = parse(token)?;
    if !t.get("Action")?.eq_ignore_ascii_case("connect") {
        return Err(Refusal::WrongAction);
    }
    if t.get("User")? != target.user_id {
        return Err(Refusal::WrongUser);
    }
    // A serverless token names its kind of cache; a node-based cache's token names none.
    let serverless_token = match t.get("ResourceType") {
        Ok("ServerlessCache") => true,
        Ok(_) => return Err(Refusal::WrongCache),
        Err(_) => false,
    };
    if t.host != target.cache_name.to_ascii_lowercase() || serverless_token != target.serverless {
        return Err(Refusal::WrongCache);
    }
    if t.get("X-Amz-Algorithm")? != "AWS4-HMAC-SHA256" {
        return Err(Refusal::Malformed("X-Amz-Algorithm"));
    }
    if t.get("X-Amz-SignedHeaders")? != "host" {
        return Err(Refusal::Malformed("X-Amz-SignedHeaders"));
    }
    let scope = Scope::parse(t.get("X-Amz-Credential")?)?;
    if scope.region != target.region || scope.service != SERVICE {
        return Err(Refusal::WrongScope);
    }
    let amz_date = t.get("X-Amz-Date")?;
    let signed_at = parse_amz_date(amz_date)?;
    if !amz_date.starts_with(scope.date) {
        return Err(Refusal::Malformed("X-Amz-Date and credential date differ"));
    }
    check_lifetime(t.get("X-Amz-Expires")?, signed_at, now)?;
    check_signature(&t, &scope, amz_date, creds)
}

/// `X-Amz-Expires` within 15 minutes, and `now` inside the token's lifetime.
fn check_lifetime(expires: &str, signed_at: i64, now: i64) -> Result<(), Refusal> {
    let expires: i64 = expires
        .parse()
        .map_err(|_| Refusal::Malformed("X-Amz-Expires"))?;
    if expires < 1 {
        return Err(Refusal::Malformed("X-Amz-Expires"));
    }
    if expires > MAX_EXPIRES_SECS {
        return Err(Refusal::TooLong);
    }
    if signed_at > now + CLOCK_SKEW_SECS {
        return Err(Refusal::NotYetValid);
    }
    if signed_at + expires + CLOCK_SKEW_SECS < now {
        return Err(Refusal::Expired);
    }
    Ok(())
}

/// `<access key id>/<yyyymmdd>/<region>/<service>/aws4_request`.
struct Scope<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
}

impl<'a> Scope<'a> {
    fn parse(credential: &'a str) -> Result<Scope<'a>, Refusal> {
        let parts: Vec<&str> = credential.split('/').collect();
        match parts.as_slice() {
            [key, date, region, service, "aws4_request"] if !key.is_empty() && date.len() == 8 => {
                Ok(Scope {
                    access_key_id: key,
                    date,
                    region,
                    service,
                })
            }
            _ => Err(Refusal::Malformed("X-Amz-Credential")),
        }
    }

    /// `<date>/<region>/<service>/aws4_request`, the scope line of the string to sign.
    fn line(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

/// `yyyymmddThhmmssZ` as Unix seconds.
fn parse_amz_date(s: &str) -> Result<i64, Refusal> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(s, format)
        .map(|d| d.assume_utc().unix_timestamp())
        .map_err(|_| Refusal::Malformed("X-Amz-Date"))
}

/// Recomputes the signature with every secret known for the access key, over the two payload
/// forms presigners use (`UNSIGNED-PAYLOAD`: botocore, the AWS SDKs' presigners; the hash of
/// the empty body: generic SigV4 libraries signing a GET).
fn check_signature(
    t: &Token,
    scope: &Scope<'_>,
    amz_date: &str,
    creds: &IamCredentials,
) -> Result<(), Refusal> {
    let signature = decode_hex(t.get("X-Amz-Signature")?)?;
    let secrets = creds.secrets_for(scope.access_key_id);
    if secrets.is_empty() {
        return Err(Refusal::UnknownAccessKey);
    }
    let query = canonical_query(&t.params);
    let empty_hash = hex(digest::digest(&digest::SHA256, b"").as_ref());
    for payload in ["UNSIGNED-PAYLOAD", empty_hash.as_str()] {
        let canonical = format!("GET\n/\n{query}\nhost:{}\n\nhost\n{payload}", t.host);
        let hashed = hex(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref());
        let to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{}\n{hashed}", scope.line());
        for secret in &secrets {
            let key = hmac::Key::new(hmac::HMAC_SHA256, &signing_key(secret, scope));
            // Constant-time comparison.
            if hmac::verify(&key, to_sign.as_bytes(), &signature).is_ok() {
                return Ok(());
            }
        }
    }
    Err(Refusal::BadSignature)
}

/// The SigV4 signing key: HMAC chain over date, region, service and `aws4_request`.
fn signing_key(secret: &str, scope: &Scope<'_>) -> Vec<u8> {
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in [scope.date, scope.region, scope.service, "aws4_request"] {
        let k = hmac::Key::new(hmac::HMAC_SHA256, &key);
        key = hmac::sign(&k, part.as_bytes()).as_ref().to_vec();
    }
    key
}

/// The canonical query string: every parameter but the signature, names and values
/// URI-encoded as SigV4 says, sorted by name then value.
fn canonical_query(params: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "X-Amz-Signature")
        .map(|(k, v)| (uri_encode(k), uri_encode(v)))
        .collect();
    encoded.sort();
    encoded
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// SigV4 URI encoding: unreserved characters as they are, every other byte `%XX` (upper hex).
fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(s: &str) -> Result<Vec<u8>, Refusal> {
    let bad = || Refusal::Malformed("X-Amz-Signature");
    if s.len() != 64 {
        return Err(bad());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(bad)
        })
        .collect()
}

/// The password check of one IAM user: [`validate`] against the current time, the refusal
/// logged (the client only sees WRONGPASS).
pub fn checker(
    target: IamTarget,
    creds: Arc<IamCredentials>,
) -> impl Fn(&[u8]) -> bool + Send + Sync + 'static {
    move |token: &[u8]| {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        match validate(token, &target, &creds, now) {
            Ok(()) => true,
            Err(reason) => {
                tracing::info!(user = %target.user_id, cache = %target.cache_name, %reason, "IAM authentication token refused");
                false
            }
        }
    }
}

#[cfg(test)]
#[path = "iam_tests.rs"]
mod tests;
