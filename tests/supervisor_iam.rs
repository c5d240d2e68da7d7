//! IAM users through the supervisor and a real Redis node: a `NodeUser` with an IAM target
//! authenticates with a SigV4 presigned token signed by a pair `--iam-credentials` lists, and
//! only with that (tokens signed with another secret, for another user, or expired get
//! WRONGPASS), both for users a node starts with and users set live.
//!
//! The tokens are signed here from AWS's SigV4 documentation (presigned GET, service
//! `elasticache`); `src/auth/iam_tests.rs` checks the validation against botocore's output.

mod common;

use elasticache_local::supervisor::{Endpoint, IamTarget, NodeUser, Supervisor};
use ring::{digest, hmac};

const KEY: &str = "AKIAIAMTEST";
const SECRET: &str = "iam-secret-1";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac_sha256(key: &[u8], data: &str) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    hmac::sign(&key, data.as_bytes()).as_ref().to_vec()
}

/// An IAM auth token for `user` on `cache` in us-east-1, signed `age_secs` ago.
fn token(cache: &str, user: &str, key: &str, secret: &str, age_secs: i64) -> String {
    let when = time::OffsetDateTime::now_utc() - time::Duration::seconds(age_secs);
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let amz_date = when.format(format).expect("formattable date");
    let date = &amz_date[..8];
    let scope = format!("{date}/us-east-1/elasticache/aws4_request");
    // Already in canonical order and encoding (names sorted, `/` as %2F).
    let query = format!(
        "Action=connect&User={user}&X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential={key}%2F{}&X-Amz-Date={amz_date}&X-Amz-Expires=900\
         &X-Amz-SignedHeaders=host",
        scope.replace('/', "%2F")
    );
    let canonical = format!("GET\n/\n{query}\nhost:{cache}\n\nhost\nUNSIGNED-PAYLOAD");
    let hashed = hex(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref());
    let to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashed}");
    let mut k = format!("AWS4{secret}").into_bytes();
    for part in [date, "us-east-1", "elasticache", "aws4_request"] {
        k = hmac_sha256(&k, part);
    }
    let signature = hex(&hmac_sha256(&k, &to_sign));
    format!("{cache}/?{query}&X-Amz-Signature={signature}")
}

fn iam_user(name: &str, cache: &str) -> NodeUser {
    NodeUser {
        name: name.to_string(),
        enabled: true,
        passwords: Vec::new(),
        nopass: false,
        access: "on ~* +@all".to_string(),
        iam: Some(IamTarget {
            cache_name: cache.to_string(),
            region: "us-east-1".to_string(),
            user_id: name.to_string(),
            serverless: false,
        }),
    }
}

/// The node's answer to `AUTH user token`: `OK` or the error text.
async fn auth(e: &Endpoint, user: &str, token: &str) -> String {
    let url = format!("redis://{}:{}/", e.ip, e.port);
    let Ok(mut con) = redis::Client::open(url)
        .expect("valid url")
        .get_multiplexed_async_connection()
        .await
    else {
        panic!("cannot connect")
    };
    let reply: redis::RedisResult<String> = redis::cmd("AUTH")
        .arg(user)
        .arg(token)
        .query_async(&mut con)
        .await;
    match reply {
        Ok(ok) => ok,
        Err(err) => err.to_string(),
    }
}

#[tokio::test]
async fn iam_users_authenticate_with_tokens_of_listed_credentials() {
    let pairs = format!("{KEY}:{SECRET}");
    let config = common::loopback_config("127.0.121.1", &["--iam-credentials", &pairs]);
    let sup = Supervisor::new(&config);
    let mut spec = common::redis_spec("acct/us-east-1/grp-001/0001", 6379, &[]);
    spec.users = Some(vec![iam_user("alice", "grp")]);
    let key = spec.key.clone();
    let Ok(endpoint) = sup.start_node(spec).await else {
        panic!("start failed")
    };

    assert_eq!(
        auth(&endpoint, "alice", &token("grp", "alice", KEY, SECRET, 0)).await,
        "OK"
    );
    let refused = [
        token("grp", "alice", KEY, "another-secret", 0),
        token("grp", "alice", "test", "test", 0),
        token("grp", "bob", KEY, SECRET, 0),
        token("other", "alice", KEY, SECRET, 0),
        token("grp", "alice", KEY, SECRET, 1200),
        "grp".to_string(),
    ];
    for t in &refused {
        let answer = auth(&endpoint, "alice", t).await;
        assert!(answer.contains("WRONGPASS"), "{t}: {answer}");
    }

    // Users set live get their token check too.
    let live = vec![iam_user("alice", "grp"), iam_user("bob", "grp")];
    assert!(sup.set_users(&[key], Some(live)).await.is_ok());
    assert_eq!(
        auth(&endpoint, "bob", &token("grp", "bob", KEY, SECRET, 0)).await,
        "OK"
    );
    let answer = auth(&endpoint, "bob", &token("grp", "alice", KEY, SECRET, 0)).await;
    assert!(answer.contains("WRONGPASS"), "{answer}");
    sup.shutdown_all().await;
}
