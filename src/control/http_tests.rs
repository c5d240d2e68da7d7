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
        "Action=DescribeCacheClusters",
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
        let r = send(addr, "POST", "/", "", body).await;
        assert_eq!(r.status, status, "{body}: {}", r.body);
        assert!(r.body.contains(code), "{body}: {}", r.body);
        assert!(r.body.starts_with("<ErrorResponse"), "{}", r.body);
    }
    let big = format!("Action=DescribeCacheClusters&Marker={}", "x".repeat(300));
    let r = send(addr, "POST", "/", "", &big).await;
    assert_eq!(r.status, 400);
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
