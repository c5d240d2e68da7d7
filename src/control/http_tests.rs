//! Tests of the HTTP entry over a real socket with a raw HTTP/1.1 client.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::control::api::{CacheCluster, DescribeCacheClustersInput, DescribeCacheClustersOutput};

/// Echoes the context into the response so tests can see account and region.
struct EchoApi;

impl ElastiCacheApi for EchoApi {
    async fn describe_cache_clusters(
        &self,
        ctx: &RequestContext,
        input: DescribeCacheClustersInput,
    ) -> Result<DescribeCacheClustersOutput, ApiError> {
        Ok(DescribeCacheClustersOutput {
            marker: Some(format!("{}/{}", ctx.account, ctx.region)),
            cache_clusters: Some(vec![CacheCluster {
                cache_cluster_id: input.cache_cluster_id,
                ..Default::default()
            }]),
        })
    }

    async fn reboot_cache_cluster(
        &self,
        _ctx: &RequestContext,
        _input: crate::control::api::RebootCacheClusterInput,
    ) -> Result<crate::control::api::RebootCacheClusterOutput, ApiError> {
        panic!("handler bug");
    }
}

struct Reply {
    status: u16,
    head: String,
    body: String,
}

async fn serve(limits: Limits) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router_with_limits(Arc::new(EchoApi), ContextDefaults::default(), limits);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

async fn send(
    addr: std::net::SocketAddr,
    method: &str,
    target: &str,
    extra: &str,
    body: &str,
) -> Reply {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Reply {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_string(),
    }
}

/// `body` with the model's `Version` appended (after `Action`, as SDKs send it), unless empty.
fn with_version(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!("{body}&Version=2015-02-02")
    }
}

#[tokio::test]
async fn post_get_and_any_path() {
    let addr = serve(Limits::default()).await;
    let auth = "Authorization: AWS4-HMAC-SHA256 Credential=123456789012/20240101/eu-west-1/elasticache/aws4_request, SignedHeaders=host, Signature=00\r\n";
    let r = send(
        addr,
        "POST",
        "/",
        auth,
        "Action=DescribeCacheClusters&Version=2015-02-02&CacheClusterId=c1",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.head.contains("content-type: text/xml"));
    assert!(r.head.contains("x-amzn-requestid: "));
    assert!(
        r.body.contains("<Marker>123456789012/eu-west-1</Marker>"),
        "{}",
        r.body
    );
    assert!(r.body.contains("<CacheClusterId>c1</CacheClusterId>"));
    let r = send(
        addr,
        "GET",
        "/?Action=DescribeCacheClusters&Version=2015-02-02",
        "",
        "",
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(
        r.body.contains("<Marker>000000000000/us-east-1</Marker>"),
        "{}",
        r.body
    );
    let r = send(
        addr,
        "POST",
        "/some/path",
        "",
        "Action=DescribeCacheClusters&Version=2015-02-02",
    )
    .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn protocol_errors() {
    let addr = serve(Limits {
        max_body_bytes: 256,
        ..Limits::default()
    })
    .await;
    let cases = [
        ("", 400, "<Code>MissingAction</Code>"),
        ("Action=NoSuchThing", 400, "<Code>InvalidAction</Code>"),
        (
            "Action=CreateCacheSubnetGroup",
            400,
            "<Code>MissingParameter</Code>",
        ),
        (
            "Action=DeleteCacheSubnetGroup&CacheSubnetGroupName=g",
            400,
            "<Code>InvalidAction</Code>",
        ),
        (
            "Action=DescribeCacheClusters&MaxRecords=many",
            400,
            "<Code>InvalidParameterValue</Code>",
        ),
        (
            "Action=RebootCacheCluster&CacheClusterId=c&CacheNodeIdsToReboot=",
            500,
            "<Code>InternalFailure</Code>",
        ),
    ];
    for (body, status, code) in cases {
        let body = with_version(body);
        let body = body.as_str();
        let r = send(addr, "POST", "/", "", body).await;
        assert_eq!(r.status, status, "{body}: {}", r.body);
        assert!(r.body.contains(code), "{body}: {}", r.body);
        assert!(r.body.starts_with("<ErrorResponse"), "{}", r.body);
    }
    let big = format!(
        "Action=DescribeCacheClusters&Version=2015-02-02&Marker={}",
        "x".repeat(300)
    );
    let r = send(addr, "POST", "/", "", &big).await;
    assert_eq!(r.status, 413);
    assert!(
        r.body.contains("<Code>RequestEntityTooLarge</Code>"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn garbage_bodies_always_get_an_xml_answer() {
    let addr = serve(Limits::default()).await;
    let many_keys: String = (0..10_001).map(|i| format!("k{i}=v&")).collect();
    let bodies = [
        "Action=CreateCacheCluster&CacheClusterId=%".to_string(),
        "Action=CreateCacheCluster&CacheClusterId=c&Tags.Tag.x.Key=k".to_string(),
        "Action=DescribeCacheClusters&MaxRecords=1e3".to_string(),
        "Action=%FF%FE&&&==".to_string(),
        format!("Action=DescribeCacheClusters&{}", "a.".repeat(40) + "b=1"),
        format!("Action=DescribeCacheClusters&{many_keys}"),
        "Action=DescribeEvents&StartTime=2024-02-30T00:00:00Z".to_string(),
    ];
    for body in bodies {
        let body = with_version(&body);
        let r = send(addr, "POST", "/", "", &body).await;
        assert_eq!(r.status, 400, "{body:.80}: {}", r.body);
        assert!(
            r.body.starts_with("<ErrorResponse"),
            "{body:.80}: {}",
            r.body
        );
        assert!(r.head.contains("x-amzn-requestid: "));
    }
}

#[tokio::test]
async fn version_must_be_the_models() {
    let addr = serve(Limits::default()).await;
    let cases = [
        (
            "Action=DescribeCacheClusters",
            "Could not find operation DescribeCacheClusters for version NO_VERSION_SPECIFIED",
        ),
        (
            "Action=DescribeCacheClusters&Version=",
            "Could not find operation DescribeCacheClusters for version </Message>",
        ),
        (
            "Action=DescribeCacheClusters&Version=2014-09-30",
            "Could not find operation DescribeCacheClusters for version 2014-09-30",
        ),
        (
            "Action=NoSuchThing&Version=2015-02-02",
            "Could not find operation NoSuchThing for version 2015-02-02",
        ),
    ];
    for (body, message) in cases {
        let r = send(addr, "POST", "/", "", body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert!(r.body.contains("<Code>InvalidAction</Code>"), "{}", r.body);
        assert!(r.body.contains(message), "{body}: {}", r.body);
    }
    // The first of two Versions counts, like every repeated parameter.
    let r = send(
        addr,
        "POST",
        "/",
        "",
        "Action=DescribeCacheClusters&Version=2015-02-02&Version=2014-09-30",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn a_body_that_is_not_a_form_is_not_read() {
    let addr = serve(Limits::default()).await;
    let body = "Action=DescribeCacheClusters&Version=2015-02-02";
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.unwrap();
    assert!(raw.starts_with("HTTP/1.1 400"), "{raw}");
    assert!(raw.contains("<Code>MissingAction</Code>"), "{raw}");
}

/// Sends a head that promises `declared` body bytes and then `sent` bytes, and reads the answer.
async fn send_partial(addr: std::net::SocketAddr, declared: usize, sent: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST / HTTP/1.1\r\nHost: x\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {declared}\r\n\r\n{sent}"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let read =
        tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_end(&mut raw)).await;
    assert!(read.is_ok(), "the server kept the connection open");
    String::from_utf8_lossy(&raw).to_string()
}

#[tokio::test]
async fn oversized_and_unfinished_bodies_are_answered_and_closed() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limits = Limits {
        max_body_bytes: 1024,
        ..Limits::default()
    };
    let app = router_with(
        Arc::new(EchoApi),
        ContextDefaults::default(),
        limits,
        std::time::Duration::from_millis(200),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    // Refused from Content-Length alone: nothing of the body needs to arrive.
    let raw = send_partial(addr, 10 * 1024 * 1024, "").await;
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    assert!(raw.contains("<Code>RequestEntityTooLarge</Code>"), "{raw}");
    assert!(
        raw.to_ascii_lowercase().contains("connection: close"),
        "{raw}"
    );
    // A body shorter than its Content-Length.
    let raw = send_partial(addr, 100, "Action=DescribeCacheClusters").await;
    assert!(raw.starts_with("HTTP/1.1 408"), "{raw}");
    assert!(raw.contains("<Code>RequestTimeout</Code>"), "{raw}");
}
