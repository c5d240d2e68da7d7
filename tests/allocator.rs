//! Address allocation through the supervisor, with real sockets: loopback mode (own 127.x
//! address, requested port), ports mode (own port, advertised host), stability, no reuse while an
//! address is live, release, and skipping addresses other programs hold.

use std::net::{IpAddr, SocketAddr, TcpListener};

use clap::Parser;
use elasticache_local::config::Config;
use elasticache_local::supervisor::{Endpoint, Supervisor};

fn config(args: &[&str]) -> Config {
    let mut all = vec!["elasticache-local", "--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    Config::parse_from(all)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

/// A port below the Linux ephemeral range, at or after `from`, that is free on `host` right now.
/// Each test searches its own stretch so tests running in parallel do not collide.
fn free_port(host: &str, from: u16) -> u16 {
    for port in from..from + 100 {
        if TcpListener::bind((host, port)).is_ok() {
            return port;
        }
    }
    0
}

fn bindable(endpoint: &Endpoint) -> bool {
    TcpListener::bind(SocketAddr::new(endpoint.ip, endpoint.port)).is_ok()
}

#[test]
fn loopback_mode_gives_each_endpoint_its_own_address_on_the_requested_port() {
    let port = free_port("127.0.71.1", 24000);
    let sup = Supervisor::new(&config(&[
        "--addressing",
        "loopback",
        "--loopback-base",
        "127.0.71.1",
    ]));
    let a = sup.allocate_endpoint(port);
    let b = sup.allocate_endpoint(port);
    let c = sup.allocate_endpoint(port);
    let (Ok(a), Ok(b), Ok(c)) = (a, b, c) else {
        panic!("allocation failed")
    };
    assert_eq!(a.ip, ip("127.0.71.1"));
    assert_eq!(b.ip, ip("127.0.71.2"));
    assert_eq!(c.ip, ip("127.0.71.3"));
    for e in [&a, &b, &c] {
        assert_eq!(e.port, port, "the requested port is reported");
        assert_eq!(
            e.address,
            e.ip.to_string(),
            "loopback mode reports the IP itself"
        );
        assert!(bindable(e), "{e:?} is a real, free socket address");
    }
    assert_eq!(sup.counts().cluster_endpoints, 3);
}

#[test]
fn released_addresses_are_reused_only_after_release() {
    let port = free_port("127.0.72.1", 24100);
    let sup = Supervisor::new(&config(&[
        "--addressing",
        "loopback",
        "--loopback-base",
        "127.0.72.1",
    ]));
    let first: Vec<Endpoint> = (0..3)
        .filter_map(|_| sup.allocate_endpoint(port).ok())
        .collect();
    assert_eq!(first.len(), 3);
    sup.release_endpoint(&first[1]);
    let again = sup.allocate_endpoint(port).ok();
    assert_eq!(
        again.as_ref().map(|e| e.ip),
        Some(first[1].ip),
        "lowest free address first"
    );
    let next = sup.allocate_endpoint(port).ok();
    assert_eq!(
        next.map(|e| e.ip),
        Some(ip("127.0.72.4")),
        "live addresses are never handed out twice"
    );
}

#[test]
fn loopback_addresses_skip_the_broadcast_octet_and_wrap_into_the_next_24() {
    let port = free_port("127.0.73.254", 24200);
    let sup = Supervisor::new(&config(&[
        "--addressing",
        "loopback",
        "--loopback-base",
        "127.0.73.254",
    ]));
    let a = sup.allocate_endpoint(port).ok().map(|e| e.ip);
    let b = sup.allocate_endpoint(port).ok().map(|e| e.ip);
    assert_eq!(a, Some(ip("127.0.73.254")));
    assert_eq!(b, Some(ip("127.0.74.1")));
}

#[test]
fn an_address_another_program_holds_is_skipped() {
    let port = free_port("127.0.75.1", 24300);
    let squatter = TcpListener::bind(("127.0.75.1", port));
    assert!(squatter.is_ok());
    let sup = Supervisor::new(&config(&[
        "--addressing",
        "loopback",
        "--loopback-base",
        "127.0.75.1",
    ]));
    let e = sup.allocate_endpoint(port).ok();
    assert_eq!(
        e.as_ref().map(|e| (e.ip, e.port)),
        Some((ip("127.0.75.2"), port))
    );
    drop(squatter);
}

#[test]
fn ports_mode_hands_out_ports_from_the_range_with_the_advertised_host() {
    let first = free_port("127.0.0.1", 24400);
    let range = format!("{first}-{}", first + 2);
    let sup = Supervisor::new(&config(&[
        "--addressing",
        "ports",
        "--port-range",
        &range,
        "--advertised-host",
        "cache.internal",
    ]));
    let got: Vec<Endpoint> = (0..3)
        .filter_map(|_| sup.allocate_endpoint(6379).ok())
        .collect();
    let ports: Vec<u16> = got.iter().map(|e| e.port).collect();
    let in_range = ports.iter().all(|p| (first..=first + 2).contains(p));
    assert!(in_range, "{ports:?} within {range}");
    let mut distinct = ports.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "no port handed out twice: {ports:?}");
    assert!(got.iter().all(|e| e.address == "cache.internal"));
    assert!(
        got.iter().all(|e| e.ip == ip("127.0.0.1")),
        "the bound IP is the listen host"
    );

    // The range is exhausted until one endpoint is released.
    assert!(sup.allocate_endpoint(6379).is_err());
    sup.release_endpoint(&got[0]);
    assert_eq!(
        sup.allocate_endpoint(6379).ok().map(|e| e.port),
        Some(got[0].port)
    );
}

#[test]
fn ports_mode_skips_a_port_another_program_holds() {
    let first = free_port("127.0.0.1", 24500);
    let squatter = TcpListener::bind(("127.0.0.1", first));
    assert!(squatter.is_ok());
    let range = format!("{first}-{}", first + 5);
    let sup = Supervisor::new(&config(&["--addressing", "ports", "--port-range", &range]));
    let e = sup.allocate_endpoint(11211).ok();
    let port = e.as_ref().map(|e| e.port).unwrap_or(first);
    assert_ne!(port, first);
    assert_eq!(
        e.map(|e| e.address),
        Some("127.0.0.1".to_string()),
        "advertised host defaults to the listen host"
    );
    drop(squatter);
}

#[test]
fn a_port_taken_on_every_address_falls_back_to_an_ephemeral_port() {
    // Another server listening on 0.0.0.0:<port> (a local redis-server on 6379, say) blocks that
    // port on all of 127/8; endpoints still get an address, with the port actually bound.
    let port = free_port("0.0.0.0", 24800);
    let squatter = TcpListener::bind(("0.0.0.0", port));
    assert!(squatter.is_ok());
    let sup = Supervisor::new(&config(&[
        "--addressing",
        "loopback",
        "--loopback-base",
        "127.0.76.1",
    ]));
    let e = sup.allocate_endpoint(port);
    let Ok(e) = e else {
        panic!("no fallback: {e:?}")
    };
    assert_ne!(e.port, port);
    assert_ne!(e.port, 0, "the bound port is reported");
    assert!(e.address.starts_with("127.0.76."), "{e:?}");
    drop(squatter);
}
