//! Integration tests of the control plane: a real emulator on an ephemeral port, driven with
//! real HTTP requests in the Query protocol (form-encoded POST, XML answers), and real TCP
//! connections to the endpoints the API reports.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::api::{Answer, call, start};
use tokio::net::TcpStream;

/// Polls DescribeCacheClusters until the cluster reports `want` (bounded).
async fn wait_status(addr: SocketAddr, id: &str, want: &str) -> Answer {
    for _ in 0..400 {
        let a = call(
            addr,
            "DescribeCacheClusters",
            &[("CacheClusterId", id), ("ShowCacheNodeInfo", "true")],
        )
        .await;
        if a.get("CacheClusterStatus").as_deref() == Some(want) {
            return a;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("cluster {id} never reached {want}");
}

/// Polls until Describe answers CacheClusterNotFound (bounded).
async fn wait_gone(addr: SocketAddr, id: &str) {
    for _ in 0..400 {
        let a = call(addr, "DescribeCacheClusters", &[("CacheClusterId", id)]).await;
        if a.code().as_deref() == Some("CacheClusterNotFound") {
            assert_eq!(a.status, 404);
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("cluster {id} was never removed");
}

#[tokio::test]
async fn redis_cluster_lifecycle_reports_reachable_nodes() {
    let srv = start().await;
    let addr = srv.local_addr();
    let a = call(
        addr,
        "CreateCacheCluster",
        &[
            ("CacheClusterId", "My-Redis"),
            ("Engine", "redis"),
            ("CacheNodeType", "cache.t3.micro"),
            ("EngineVersion", "7.1"),
            ("Tags.Tag.1.Key", "env"),
            ("Tags.Tag.1.Value", "dev"),
        ],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.get("CacheClusterId").as_deref(), Some("my-redis"));
    assert_eq!(a.get("CacheClusterStatus").as_deref(), Some("creating"));
    assert_eq!(a.get("EngineVersion").as_deref(), Some("7.1.0"));
    assert_eq!(
        a.get("CacheParameterGroupName").as_deref(),
        Some("default.redis7")
    );
    let arn = a.get("ARN").expect("ARN");
    assert_eq!(
        arn,
        "arn:aws:elasticache:us-east-1:000000000000:cluster:my-redis"
    );

    let dup = call(
        addr,
        "CreateCacheCluster",
        &[
            ("CacheClusterId", "my-redis"),
            ("Engine", "redis"),
            ("CacheNodeType", "cache.t3.micro"),
        ],
    )
    .await;
    assert_eq!(
        (dup.status, dup.code().as_deref()),
        (400, Some("CacheClusterAlreadyExists"))
    );

    let d = wait_status(addr, "my-redis", "available").await;
    assert_eq!(d.get("CacheNodeId").as_deref(), Some("0001"));
    assert!(
        d.get("CustomerAvailabilityZone")
            .is_some_and(|z| z.starts_with("us-east-1"))
    );
    let address = d.get("Address").expect("node address");
    let port: u16 = d
        .get("Port")
        .and_then(|p| p.parse().ok())
        .expect("node port");
    let node: SocketAddr = format!("{address}:{port}")
        .parse()
        .expect("node socket address");
    TcpStream::connect(node)
        .await
        .expect("node endpoint accepts connections");

    let tags = call(addr, "ListTagsForResource", &[("ResourceName", &arn)]).await;
    assert_eq!(tags.all("Key"), vec!["env"]);

    let events = call(
        addr,
        "DescribeEvents",
        &[
            ("SourceType", "cache-cluster"),
            ("SourceIdentifier", "my-redis"),
        ],
    )
    .await;
    assert!(
        events
            .all("Message")
            .iter()
            .any(|m| m == "Cache cluster created"),
        "{}",
        events.body
    );

    let reboot = call(
        addr,
        "RebootCacheCluster",
        &[
            ("CacheClusterId", "my-redis"),
            ("CacheNodeIdsToReboot.CacheNodeId.1", "0001"),
        ],
    )
    .await;
    assert_eq!(
        reboot.get("CacheClusterStatus").as_deref(),
        Some("rebooting cluster nodes")
    );
    wait_status(addr, "my-redis", "available").await;

    let del = call(
        addr,
        "DeleteCacheCluster",
        &[("CacheClusterId", "my-redis")],
    )
    .await;
    assert_eq!(del.get("CacheClusterStatus").as_deref(), Some("deleting"));
    wait_gone(addr, "my-redis").await;
    assert!(
        TcpStream::connect(node).await.is_err(),
        "node socket closed after delete"
    );
    let tags = call(addr, "ListTagsForResource", &[("ResourceName", &arn)]).await;
    assert_eq!(tags.code().as_deref(), Some("CacheClusterNotFound"));
    srv.shutdown().await;
}

#[tokio::test]
async fn memcached_cluster_scales_with_configuration_endpoint() {
    let srv = start().await;
    let addr = srv.local_addr();
    let a = call(
        addr,
        "CreateCacheCluster",
        &[
            ("CacheClusterId", "mc"),
            ("Engine", "memcached"),
            ("CacheNodeType", "cache.t3.small"),
            ("NumCacheNodes", "3"),
            ("AZMode", "cross-az"),
        ],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.get("PreferredAvailabilityZone").as_deref(),
        Some("Multiple")
    );
    let d = wait_status(addr, "mc", "available").await;
    assert_eq!(d.all("CacheNodeId"), vec!["0001", "0002", "0003"]);
    assert_eq!(d.get("EngineVersion").as_deref(), Some("1.6.22"));
    assert!(d.body.contains("<ConfigurationEndpoint>"), "{}", d.body);
    assert!(d.all("Port").iter().all(|p| p == "11211"));

    let bad = call(
        addr,
        "ModifyCacheCluster",
        &[("CacheClusterId", "mc"), ("NumCacheNodes", "2")],
    )
    .await;
    assert_eq!(bad.code().as_deref(), Some("InvalidParameterValue"));
    let m = call(
        addr,
        "ModifyCacheCluster",
        &[
            ("CacheClusterId", "mc"),
            ("NumCacheNodes", "2"),
            ("CacheNodeIdsToRemove.CacheNodeId.1", "0003"),
            ("ApplyImmediately", "true"),
        ],
    )
    .await;
    assert_eq!(m.status, 200, "{}", m.body);
    assert_eq!(m.get("CacheClusterStatus").as_deref(), Some("modifying"));
    let d = wait_status(addr, "mc", "available").await;
    assert_eq!(d.all("CacheNodeId"), vec!["0001", "0002"]);
    let m = call(
        addr,
        "ModifyCacheCluster",
        &[
            ("CacheClusterId", "mc"),
            ("NumCacheNodes", "4"),
            ("ApplyImmediately", "true"),
        ],
    )
    .await;
    assert_eq!(m.status, 200, "{}", m.body);
    let d = wait_status(addr, "mc", "available").await;
    assert_eq!(d.all("CacheNodeId"), vec!["0001", "0002", "0003", "0004"]);
    let too_many = call(
        addr,
        "ModifyCacheCluster",
        &[("CacheClusterId", "mc"), ("NumCacheNodes", "41")],
    )
    .await;
    assert_eq!(
        too_many.code().as_deref(),
        Some("NodeQuotaForClusterExceeded")
    );
    call(addr, "DeleteCacheCluster", &[("CacheClusterId", "mc")]).await;
    wait_gone(addr, "mc").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn create_validation_uses_aws_codes() {
    let srv = start().await;
    let addr = srv.local_addr();
    type Case<'a> = (&'a [(&'a str, &'a str)], u16, &'a str);
    let cases: &[Case] = &[
        (
            &[
                ("CacheClusterId", "1bad"),
                ("Engine", "redis"),
                ("CacheNodeType", "cache.t3.micro"),
            ],
            400,
            "InvalidParameterValue",
        ),
        (
            &[
                ("CacheClusterId", "ok"),
                ("Engine", "nosql"),
                ("CacheNodeType", "cache.t3.micro"),
            ],
            400,
            "InvalidParameterValue",
        ),
        (
            &[
                ("CacheClusterId", "ok"),
                ("Engine", "redis"),
                ("CacheNodeType", "cache.x9.huge"),
            ],
            400,
            "InvalidParameterValue",
        ),
        (
            &[
                ("CacheClusterId", "ok"),
                ("Engine", "redis"),
                ("CacheNodeType", "cache.t3.micro"),
                ("NumCacheNodes", "2"),
            ],
            400,
            "InvalidParameterValue",
        ),
        (
            &[
                ("CacheClusterId", "ok"),
                ("Engine", "memcached"),
                ("CacheNodeType", "cache.t3.micro"),
                ("NumCacheNodes", "41"),
            ],
            400,
            "NodeQuotaForClusterExceeded",
        ),
        (
            &[
                ("CacheClusterId", "ok"),
                ("Engine", "redis"),
                ("CacheNodeType", "cache.t3.micro"),
                ("CacheParameterGroupName", "nope"),
            ],
            404,
            "CacheParameterGroupNotFound",
        ),
        (
            &[
                ("CacheClusterId", "ok"),
                ("Engine", "redis"),
                ("CacheNodeType", "cache.t3.micro"),
                ("CacheParameterGroupName", "default.redis7.cluster.on"),
            ],
            400,
            "InvalidParameterCombination",
        ),
        (
            &[
                ("CacheClusterId", "ok"),
                ("Engine", "redis"),
                ("CacheNodeType", "cache.t3.micro"),
                ("EngineVersion", "6.2"),
                ("CacheParameterGroupName", "default.redis7"),
            ],
            400,
            "InvalidParameterCombination",
        ),
        (
            &[
                ("CacheClusterId", "ok"),
                ("Engine", "redis"),
                ("CacheNodeType", "cache.t3.micro"),
                ("CacheSubnetGroupName", "nope"),
            ],
            400,
            "CacheSubnetGroupNotFoundFault",
        ),
        (
            &[
                ("CacheClusterId", "ok"),
                ("Engine", "redis"),
                ("CacheNodeType", "cache.t3.micro"),
                ("AuthToken", "abcdefghijklmnopq"),
            ],
            400,
            "InvalidParameterValue",
        ),
        (
            &[
                ("CacheClusterId", "ok"),
                ("Engine", "redis"),
                ("CacheNodeType", "cache.t3.micro"),
                ("Tags.Tag.1.Key", "aws:x"),
                ("Tags.Tag.1.Value", "1"),
            ],
            400,
            "InvalidParameterValue",
        ),
        (
            &[
                ("CacheClusterId", "ok"),
                ("ReplicationGroupId", "rg"),
                ("Engine", "redis"),
            ],
            404,
            "ReplicationGroupNotFoundFault",
        ),
    ];
    for (params, status, code) in cases {
        let a = call(addr, "CreateCacheCluster", params).await;
        assert_eq!(
            (a.status, a.code().as_deref()),
            (*status, Some(*code)),
            "{params:?}: {}",
            a.body
        );
    }
    let missing = call(addr, "DescribeCacheClusters", &[("CacheClusterId", "Nope")]).await;
    assert_eq!(
        (missing.status, missing.code().as_deref()),
        (404, Some("CacheClusterNotFound"))
    );
    assert_eq!(
        missing.get("Message").as_deref(),
        Some("CacheCluster not found: nope")
    );
    let bad_page = call(addr, "DescribeCacheClusters", &[("MaxRecords", "10")]).await;
    assert_eq!(bad_page.code().as_deref(), Some("InvalidParameterValue"));
    srv.shutdown().await;
}

#[tokio::test]
async fn parameter_groups_track_user_values() {
    let srv = start().await;
    let addr = srv.local_addr();
    let a = call(
        addr,
        "CreateCacheParameterGroup",
        &[
            ("CacheParameterGroupName", "My-Params"),
            ("CacheParameterGroupFamily", "redis7"),
            ("Description", "mine"),
        ],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.get("CacheParameterGroupName").as_deref(),
        Some("my-params")
    );
    let m = call(
        addr,
        "ModifyCacheParameterGroup",
        &[
            ("CacheParameterGroupName", "my-params"),
            (
                "ParameterNameValues.ParameterNameValue.1.ParameterName",
                "maxmemory-policy",
            ),
            (
                "ParameterNameValues.ParameterNameValue.1.ParameterValue",
                "allkeys-lru",
            ),
        ],
    )
    .await;
    assert_eq!(m.status, 200, "{}", m.body);
    let user = call(
        addr,
        "DescribeCacheParameters",
        &[("CacheParameterGroupName", "my-params"), ("Source", "user")],
    )
    .await;
    assert_eq!(user.all("ParameterName"), vec!["maxmemory-policy"]);
    assert_eq!(user.get("ParameterValue").as_deref(), Some("allkeys-lru"));
    let all = call(
        addr,
        "DescribeCacheParameters",
        &[("CacheParameterGroupName", "my-params")],
    )
    .await;
    assert!(all.all("ParameterName").len() > 50);
    assert!(all.body.contains("<CacheNodeTypeSpecificParameters>"));

    for (name, value, code) in [
        ("maxmemory-policy", "sometimes", "InvalidParameterValue"),
        ("no-such-parameter", "1", "InvalidParameterValue"),
        ("maxmemory", "1", "InvalidParameterValue"),
    ] {
        let bad = call(
            addr,
            "ModifyCacheParameterGroup",
            &[
                ("CacheParameterGroupName", "my-params"),
                (
                    "ParameterNameValues.ParameterNameValue.1.ParameterName",
                    name,
                ),
                (
                    "ParameterNameValues.ParameterNameValue.1.ParameterValue",
                    value,
                ),
            ],
        )
        .await;
        assert_eq!(bad.code().as_deref(), Some(code), "{name}");
    }
    let default = call(
        addr,
        "ModifyCacheParameterGroup",
        &[
            ("CacheParameterGroupName", "default.redis7"),
            (
                "ParameterNameValues.ParameterNameValue.1.ParameterName",
                "timeout",
            ),
            (
                "ParameterNameValues.ParameterNameValue.1.ParameterValue",
                "30",
            ),
        ],
    )
    .await;
    assert_eq!(default.code().as_deref(), Some("InvalidParameterValue"));

    // In use by a cluster: cannot be deleted.
    let c = call(
        addr,
        "CreateCacheCluster",
        &[
            ("CacheClusterId", "pg-user"),
            ("Engine", "redis"),
            ("CacheNodeType", "cache.t3.micro"),
            ("CacheParameterGroupName", "my-params"),
        ],
    )
    .await;
    assert_eq!(c.status, 200, "{}", c.body);
    wait_status(addr, "pg-user", "available").await;
    let del = call(
        addr,
        "DeleteCacheParameterGroup",
        &[("CacheParameterGroupName", "my-params")],
    )
    .await;
    assert_eq!(
        del.code().as_deref(),
        Some("InvalidCacheParameterGroupState")
    );
    // A requires-reboot change marks the cluster pending-reboot until it reboots.
    call(
        addr,
        "ModifyCacheParameterGroup",
        &[
            ("CacheParameterGroupName", "my-params"),
            (
                "ParameterNameValues.ParameterNameValue.1.ParameterName",
                "databases",
            ),
            (
                "ParameterNameValues.ParameterNameValue.1.ParameterValue",
                "32",
            ),
        ],
    )
    .await;
    let d = call(
        addr,
        "DescribeCacheClusters",
        &[("CacheClusterId", "pg-user"), ("ShowCacheNodeInfo", "true")],
    )
    .await;
    assert_eq!(
        d.get("ParameterApplyStatus").as_deref(),
        Some("pending-reboot")
    );
    call(
        addr,
        "RebootCacheCluster",
        &[
            ("CacheClusterId", "pg-user"),
            ("CacheNodeIdsToReboot.CacheNodeId.1", "0001"),
        ],
    )
    .await;
    let d = wait_status(addr, "pg-user", "available").await;
    assert_eq!(d.get("ParameterApplyStatus").as_deref(), Some("in-sync"));
    call(addr, "DeleteCacheCluster", &[("CacheClusterId", "pg-user")]).await;
    wait_gone(addr, "pg-user").await;

    let reset = call(
        addr,
        "ResetCacheParameterGroup",
        &[
            ("CacheParameterGroupName", "my-params"),
            ("ResetAllParameters", "true"),
        ],
    )
    .await;
    assert_eq!(reset.status, 200, "{}", reset.body);
    let user = call(
        addr,
        "DescribeCacheParameters",
        &[("CacheParameterGroupName", "my-params"), ("Source", "user")],
    )
    .await;
    assert!(user.all("ParameterName").is_empty());
    let del = call(
        addr,
        "DeleteCacheParameterGroup",
        &[("CacheParameterGroupName", "my-params")],
    )
    .await;
    assert_eq!(del.status, 200, "{}", del.body);
    let gone = call(
        addr,
        "DescribeCacheParameterGroups",
        &[("CacheParameterGroupName", "my-params")],
    )
    .await;
    assert_eq!(
        (gone.status, gone.code().as_deref()),
        (404, Some("CacheParameterGroupNotFound"))
    );

    let defaults = call(
        addr,
        "DescribeEngineDefaultParameters",
        &[
            ("CacheParameterGroupFamily", "memcached1.6"),
            ("MaxRecords", "20"),
        ],
    )
    .await;
    assert!(defaults.body.contains("<EngineDefaults>"));
    assert_eq!(
        defaults.all("ParameterName").len(),
        20 + 2,
        "20 parameters plus the node-type specific ones"
    );
    assert!(defaults.get("Marker").is_some());
    srv.shutdown().await;
}

#[tokio::test]
async fn subnet_security_groups_tags_and_catalog() {
    let srv = start().await;
    let addr = srv.local_addr();
    let a = call(
        addr,
        "CreateCacheSubnetGroup",
        &[
            ("CacheSubnetGroupName", "Sub"),
            ("CacheSubnetGroupDescription", "d"),
            ("SubnetIds.SubnetIdentifier.1", "subnet-1"),
            ("SubnetIds.SubnetIdentifier.2", "subnet-2"),
        ],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.get("VpcId").is_some_and(|v| v.starts_with("vpc-")));
    assert_eq!(a.all("Name"), vec!["us-east-1a", "us-east-1b"]);
    let bad = call(
        addr,
        "CreateCacheSubnetGroup",
        &[
            ("CacheSubnetGroupName", "x"),
            ("CacheSubnetGroupDescription", "d"),
            ("SubnetIds.SubnetIdentifier.1", "nope"),
        ],
    )
    .await;
    assert_eq!(bad.code().as_deref(), Some("InvalidSubnet"));
    let missing = call(
        addr,
        "DeleteCacheSubnetGroup",
        &[("CacheSubnetGroupName", "nope")],
    )
    .await;
    assert_eq!(
        (missing.status, missing.code().as_deref()),
        (400, Some("CacheSubnetGroupNotFoundFault"))
    );
    let default = call(
        addr,
        "DeleteCacheSubnetGroup",
        &[("CacheSubnetGroupName", "default")],
    )
    .await;
    assert_eq!(default.code().as_deref(), Some("CacheSubnetGroupInUse"));

    let arn = "arn:aws:elasticache:us-east-1:000000000000:subnetgroup:sub";
    let t = call(
        addr,
        "AddTagsToResource",
        &[
            ("ResourceName", arn),
            ("Tags.Tag.1.Key", "a"),
            ("Tags.Tag.1.Value", "1"),
            ("Tags.Tag.2.Key", "b"),
            ("Tags.Tag.2.Value", "2"),
        ],
    )
    .await;
    assert_eq!(t.all("Key"), vec!["a", "b"]);
    let t = call(
        addr,
        "RemoveTagsFromResource",
        &[("ResourceName", arn), ("TagKeys.member.1", "a")],
    )
    .await;
    assert_eq!(t.all("Key"), vec!["b"]);
    let t = call(
        addr,
        "RemoveTagsFromResource",
        &[("ResourceName", arn), ("TagKeys.member.1", "zzz")],
    )
    .await;
    assert_eq!((t.status, t.code().as_deref()), (404, Some("TagNotFound")));
    let t = call(
        addr,
        "ListTagsForResource",
        &[("ResourceName", "arn:aws:nope")],
    )
    .await;
    assert_eq!(t.code().as_deref(), Some("InvalidARN"));
    let mut many: Vec<(String, String)> = Vec::new();
    for i in 1..=50 {
        many.push((format!("Tags.Tag.{i}.Key"), format!("k{i}")));
        many.push((format!("Tags.Tag.{i}.Value"), "v".to_string()));
    }
    let mut params: Vec<(&str, &str)> = vec![("ResourceName", arn)];
    params.extend(many.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let t = call(addr, "AddTagsToResource", &params).await;
    assert_eq!(t.code().as_deref(), Some("TagQuotaPerResourceExceeded"));
    let del = call(
        addr,
        "DeleteCacheSubnetGroup",
        &[("CacheSubnetGroupName", "sub")],
    )
    .await;
    assert_eq!(del.status, 200);

    let sg = call(
        addr,
        "CreateCacheSecurityGroup",
        &[("CacheSecurityGroupName", "sg1"), ("Description", "d")],
    )
    .await;
    assert_eq!(sg.status, 200, "{}", sg.body);
    let auth = call(
        addr,
        "AuthorizeCacheSecurityGroupIngress",
        &[
            ("CacheSecurityGroupName", "sg1"),
            ("EC2SecurityGroupName", "web"),
            ("EC2SecurityGroupOwnerId", "123456789012"),
        ],
    )
    .await;
    assert_eq!(auth.get("Status").as_deref(), Some("authorized"));
    let again = call(
        addr,
        "AuthorizeCacheSecurityGroupIngress",
        &[
            ("CacheSecurityGroupName", "sg1"),
            ("EC2SecurityGroupName", "web"),
            ("EC2SecurityGroupOwnerId", "123456789012"),
        ],
    )
    .await;
    assert_eq!(again.code().as_deref(), Some("AuthorizationAlreadyExists"));
    let revoke = call(
        addr,
        "RevokeCacheSecurityGroupIngress",
        &[
            ("CacheSecurityGroupName", "sg1"),
            ("EC2SecurityGroupName", "web"),
            ("EC2SecurityGroupOwnerId", "123456789012"),
        ],
    )
    .await;
    assert_eq!(revoke.status, 200);
    let revoke = call(
        addr,
        "RevokeCacheSecurityGroupIngress",
        &[
            ("CacheSecurityGroupName", "sg1"),
            ("EC2SecurityGroupName", "web"),
            ("EC2SecurityGroupOwnerId", "123456789012"),
        ],
    )
    .await;
    assert_eq!(revoke.code().as_deref(), Some("AuthorizationNotFound"));

    // Engine versions: filters and a paginated walk that ends without a marker.
    let v = call(
        addr,
        "DescribeCacheEngineVersions",
        &[("Engine", "redis"), ("DefaultOnly", "true")],
    )
    .await;
    assert_eq!(v.all("EngineVersion"), vec!["7.1"]);
    let mut marker: Option<String> = None;
    let mut seen = 0;
    for _ in 0..10 {
        let mut p = vec![("MaxRecords", "20")];
        if let Some(m) = &marker {
            p.push(("Marker", m.as_str()));
        }
        let page = call(addr, "DescribeCacheEngineVersions", &p).await;
        seen += page.all("CacheEngineVersion").len();
        match page.get("Marker") {
            Some(m) => marker = Some(m),
            None => break,
        }
    }
    assert!(seen > 20);
    assert_eq!(
        seen,
        call(addr, "DescribeCacheEngineVersions", &[])
            .await
            .all("CacheEngineVersion")
            .len()
    );
    srv.shutdown().await;
}

/// `INFO <section>` of a node, through the `redis` crate.
async fn info(node: &str, section: &str) -> String {
    let client = redis::Client::open(format!("redis://{node}/")).expect("redis url");
    let mut con = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect to node");
    redis::cmd("INFO")
        .arg(section)
        .query_async::<String>(&mut con)
        .await
        .expect("INFO")
}

fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines().find_map(|l| {
        l.strip_prefix(&format!("{field}:"))
            .map(|v| v.trim().to_string())
    })
}

#[tokio::test]
async fn redis_nodes_run_what_the_api_reports() {
    let srv = start().await;
    let addr = srv.local_addr();
    call(
        addr,
        "CreateCacheParameterGroup",
        &[
            ("CacheParameterGroupName", "lru"),
            ("CacheParameterGroupFamily", "redis6.x"),
            ("Description", "d"),
        ],
    )
    .await;
    let a = call(
        addr,
        "CreateCacheCluster",
        &[
            ("CacheClusterId", "real"),
            ("Engine", "redis"),
            ("EngineVersion", "6.2"),
            ("CacheNodeType", "cache.t3.micro"),
            ("CacheParameterGroupName", "lru"),
        ],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let d = wait_status(addr, "real", "available").await;
    let node = format!(
        "{}:{}",
        d.get("Address").expect("address"),
        d.get("Port").expect("port")
    );
    let server = info(&node, "server").await;
    assert_eq!(
        info_field(&server, "redis_version").as_deref(),
        Some("6.2.6")
    );
    let memory = info(&node, "memory").await;
    // t3.micro: 512 MiB less the default 25 % reserved memory.
    assert_eq!(
        info_field(&memory, "maxmemory").as_deref(),
        Some("402653184")
    );
    assert_eq!(
        info_field(&memory, "maxmemory_policy").as_deref(),
        Some("volatile-lru")
    );

    // An immediate parameter reaches the running node.
    let m = call(
        addr,
        "ModifyCacheParameterGroup",
        &[
            ("CacheParameterGroupName", "lru"),
            (
                "ParameterNameValues.ParameterNameValue.1.ParameterName",
                "maxmemory-policy",
            ),
            (
                "ParameterNameValues.ParameterNameValue.1.ParameterValue",
                "allkeys-lru",
            ),
        ],
    )
    .await;
    assert_eq!(m.status, 200, "{}", m.body);
    let memory = info(&node, "memory").await;
    assert_eq!(
        info_field(&memory, "maxmemory_policy").as_deref(),
        Some("allkeys-lru")
    );

    // A larger node type means more memory, on the same engine version.
    let m = call(
        addr,
        "ModifyCacheCluster",
        &[
            ("CacheClusterId", "real"),
            ("CacheNodeType", "cache.t3.small"),
            ("ApplyImmediately", "true"),
        ],
    )
    .await;
    assert_eq!(m.get("CacheClusterStatus").as_deref(), Some("modifying"));
    assert_eq!(
        m.get("CacheNodeType").as_deref(),
        Some("cache.t3.micro"),
        "old type until the change is done"
    );
    let d = wait_status(addr, "real", "available").await;
    assert_eq!(d.get("CacheNodeType").as_deref(), Some("cache.t3.small"));
    let node = format!(
        "{}:{}",
        d.get("Address").expect("address"),
        d.get("Port").expect("port")
    );
    let memory = info(&node, "memory").await;
    assert_eq!(
        info_field(&memory, "maxmemory").as_deref(),
        Some((1471026299u64 * 75 / 100).to_string().as_str())
    );
    assert_eq!(
        info_field(&memory, "maxmemory_policy").as_deref(),
        Some("allkeys-lru")
    );
    call(addr, "DeleteCacheCluster", &[("CacheClusterId", "real")]).await;
    wait_gone(addr, "real").await;
    srv.shutdown().await;
}

/// The shared client's XML reader (tests/common/api.rs): leaves unescaped, sections and nested
/// elements in document order, an empty element as empty text.
#[test]
fn answer_reader_reads_leaves_sections_and_nested_elements() {
    let a = Answer {
        status: 200,
        body: "<R><G><Id>a&amp;b</Id><M><Id>m1</Id></M><M><Id>m2</Id></M></G><E/><Id>z</Id></R>"
            .to_string(),
    };
    assert_eq!(a.all("Id"), vec!["a&b", "m1", "m2", "z"]);
    assert_eq!(a.get("E"), Some(String::new()));
    assert_eq!(a.get("Missing"), None);
    let members = a.section("G").sections("M");
    assert_eq!(members.len(), 2);
    assert_eq!(members[1].get("Id").as_deref(), Some("m2"));
    assert_eq!(a.get("M").as_deref(), Some("<Id>m1</Id>"));
}

/// Sends one RESP command on `s` and returns the first reply chunk as text.
async fn resp(s: &mut TcpStream, args: &[&str]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut b = format!("*{}\r\n", args.len());
    for a in args {
        b.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(b.as_bytes()).await.expect("write");
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.expect("read");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn a_node_broken_by_a_panic_shows_until_rebooted() {
    let srv = start().await;
    let addr = srv.local_addr();
    let a = call(
        addr,
        "CreateCacheCluster",
        &[
            ("CacheClusterId", "fragile"),
            ("Engine", "redis"),
            ("CacheNodeType", "cache.t3.micro"),
        ],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let d = wait_status(addr, "fragile", "available").await;
    assert_eq!(d.get("CacheNodeStatus").as_deref(), Some("available"));
    let (host, port) = d.endpoint("Endpoint");
    let node = format!("{host}:{port}");
    let mut s = TcpStream::connect(&node).await.expect("node accepts");
    // The test build's hidden fault-injection command panics halfway through a write.
    let r = resp(&mut s, &["ECL.FAULT", "PANIC-MID-MSET", "a", "1", "b", "2"]).await;
    assert!(r.starts_with("-ERR command panicked"), "{r}");

    let d = call(
        addr,
        "DescribeCacheClusters",
        &[("CacheClusterId", "fragile"), ("ShowCacheNodeInfo", "true")],
    )
    .await;
    assert_eq!(d.get("CacheNodeStatus").as_deref(), Some("rebooting"));

    call(
        addr,
        "RebootCacheCluster",
        &[
            ("CacheClusterId", "fragile"),
            ("CacheNodeIdsToReboot.CacheNodeId.1", "0001"),
        ],
    )
    .await;
    let d = wait_status(addr, "fragile", "available").await;
    assert_eq!(d.get("CacheNodeStatus").as_deref(), Some("available"));
    let mut s = TcpStream::connect(&node)
        .await
        .expect("rebooted node accepts");
    assert_eq!(resp(&mut s, &["GET", "a"]).await, "$-1\r\n");
    srv.shutdown().await;
}
