//! Address allocation for endpoints: which socket address an endpoint binds, and what the API
//! reports for it.
//!
//! Place in the flow: [`super::Supervisor`] asks the [`Allocator`] for a [`Reservation`] before it
//! starts an engine (or binds a cluster-level endpoint), tries to bind it, and either keeps it for
//! the endpoint's whole life (reboots included) or gives it back and asks for the next one when
//! something outside the emulator already holds that address.
//!
//! Two modes (see docs/architecture.md, "Addresses and ports"):
//! - **loopback**: every endpoint gets its own loopback IP, counting up from the configured base
//!   (`127.0.1.1`, `127.0.1.2`, … never `.0` or `.255`, wrapping into the next /24), and binds the
//!   port the user asked for, so the API reports the requested port truthfully.
//! - **ports**: every endpoint gets its own port from a range on one host (macOS, containers), and
//!   the API reports the advertised host name.
//!
//! An address held by a live endpoint is never handed to another; the lowest free one is handed
//! out first, so the same sequence of creations gives the same addresses from run to run.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::Mutex;

use super::{Endpoint, SupervisorError};
use crate::config::{Addressing, Config, PortRange};

/// How many loopback addresses a single allocation scans before giving up. Bounds the work when
/// the 127/8 network is exhausted or bound by other programs.
const MAX_LOOPBACK_SCAN: u32 = 1 << 20;

/// An address handed out by the allocator: where to bind, and what to report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    /// Socket address the endpoint's listener binds.
    pub bind: SocketAddr,
    /// What the API reports. In loopback mode with requested port 0 the port is only known after
    /// binding; [`Reservation::bound`] fixes it.
    pub endpoint: Endpoint,
}

impl Reservation {
    /// The endpoint to report once the listener is bound at `local`: the requested port 0 means
    /// "any", so the actual port is reported then.
    pub fn bound(&self, local: SocketAddr) -> Endpoint {
        let mut endpoint = self.endpoint.clone();
        if endpoint.port == 0 {
            endpoint.port = local.port();
        }
        endpoint
    }
}

/// Mode-specific state of the allocator.
#[derive(Debug)]
enum Mode {
    Loopback {
        base: IpAddr,
        live: BTreeSet<IpAddr>,
    },
    Ports {
        bind_ip: IpAddr,
        advertised: String,
        reported_ip: IpAddr,
        range: PortRange,
        live: BTreeSet<u16>,
    },
}

/// Hands out endpoint addresses; see the module documentation.
#[derive(Debug)]
pub struct Allocator {
    mode: Mutex<Mode>,
}

impl Allocator {
    /// Builds the allocator for the configured addressing mode.
    pub fn new(config: &Config) -> Allocator {
        let mode = match config.addressing {
            Addressing::Loopback => Mode::Loopback {
                base: config.loopback_base,
                live: BTreeSet::new(),
            },
            Addressing::Ports => {
                let advertised = config.advertised_host();
                let bind_ip = config.listen.ip();
                Mode::Ports {
                    reported_ip: reported_ip(bind_ip, &advertised),
                    bind_ip,
                    advertised,
                    range: config.port_range,
                    live: BTreeSet::new(),
                }
            }
        };
        Allocator {
            mode: Mutex::new(mode),
        }
    }

    /// Reserves the lowest free address for an endpoint that asked for `requested_port`, skipping
    /// the addresses in `skip` (ones that failed to bind during this allocation).
    pub fn reserve(
        &self,
        requested_port: u16,
        skip: &[SocketAddr],
    ) -> Result<Reservation, SupervisorError> {
        let mut mode = self.lock();
        match &mut *mode {
            Mode::Loopback { base, live } => {
                let mut candidate = Some(*base);
                let mut scanned = 0u32;
                while let Some(ip) = candidate {
                    if scanned >= MAX_LOOPBACK_SCAN {
                        break;
                    }
                    scanned += 1;
                    let bind = SocketAddr::new(ip, requested_port);
                    if !live.contains(&ip) && !skip.contains(&bind) {
                        live.insert(ip);
                        return Ok(Reservation {
                            bind,
                            endpoint: Endpoint {
                                address: ip.to_string(),
                                ip,
                                port: requested_port,
                            },
                        });
                    }
                    candidate = next_loopback(ip);
                }
                Err(SupervisorError::Bind(format!(
                    "no free loopback address from {base} (on macOS, use --addressing ports)"
                )))
            }
            Mode::Ports {
                bind_ip,
                advertised,
                reported_ip,
                range,
                live,
            } => {
                for port in range.first..=range.last {
                    let bind = SocketAddr::new(*bind_ip, port);
                    if !live.contains(&port) && !skip.contains(&bind) {
                        live.insert(port);
                        return Ok(Reservation {
                            bind,
                            endpoint: Endpoint {
                                address: advertised.clone(),
                                ip: *reported_ip,
                                port,
                            },
                        });
                    }
                }
                Err(SupervisorError::Bind(format!(
                    "every port of --port-range {range} is in use"
                )))
            }
        }
    }

    /// Reserves exactly the address an endpoint had in an earlier run (restart with
    /// `--data-dir`), so it comes back where clients knew it: the same loopback IP and port, or
    /// the same port of the range. `None` when that address is held now or no longer fits the
    /// configuration (another mode, a port outside the range); the caller then takes a new one.
    pub fn reserve_exact(&self, previous: &Endpoint) -> Option<Reservation> {
        let mut mode = self.lock();
        match &mut *mode {
            Mode::Loopback { live, .. } => {
                let ip = previous.ip;
                if !ip.is_loopback() || previous.address != ip.to_string() || !live.insert(ip) {
                    return None;
                }
                Some(Reservation {
                    bind: SocketAddr::new(ip, previous.port),
                    endpoint: previous.clone(),
                })
            }
            Mode::Ports {
                bind_ip,
                advertised,
                reported_ip,
                range,
                live,
            } => {
                let port = previous.port;
                if !(range.first..=range.last).contains(&port) || !live.insert(port) {
                    return None;
                }
                Some(Reservation {
                    bind: SocketAddr::new(*bind_ip, port),
                    endpoint: Endpoint {
                        address: advertised.clone(),
                        ip: *reported_ip,
                        port,
                    },
                })
            }
        }
    }

    /// Gives an address back (the endpoint stopped, or its bind failed). Releasing an address
    /// that is not reserved does nothing.
    pub fn release(&self, bind: SocketAddr) {
        let mut mode = self.lock();
        match &mut *mode {
            Mode::Loopback { live, .. } => {
                live.remove(&bind.ip());
            }
            Mode::Ports { live, .. } => {
                live.remove(&bind.port());
            }
        }
    }

    /// The names a TLS certificate for the endpoint bound at `bind` must cover: its own address
    /// in `loopback` mode; the advertised host, the address it stands for and the bind address
    /// in `ports` mode (where every endpoint shares them).
    pub fn certificate_names(&self, bind: SocketAddr) -> Vec<String> {
        match &*self.lock() {
            Mode::Loopback { .. } => vec![bind.ip().to_string()],
            Mode::Ports {
                advertised,
                reported_ip,
                ..
            } => {
                let mut names = vec![advertised.clone(), reported_ip.to_string()];
                if !bind.ip().is_unspecified() {
                    names.push(bind.ip().to_string());
                }
                names
            }
        }
    }

    /// Number of addresses currently reserved.
    pub fn live(&self) -> usize {
        match &*self.lock() {
            Mode::Loopback { live, .. } => live.len(),
            Mode::Ports { live, .. } => live.len(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Mode> {
        // A panic while holding this lock cannot leave the sets inconsistent (each operation is
        // a single insert or remove), so a poisoned lock is still usable.
        self.mode.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The next loopback candidate after `ip`: IPv4 counts up skipping host octets 0 and 255 and
/// stays inside the base's /8 (all of 127/8 is loopback on Linux); IPv6 counts up by one.
fn next_loopback(ip: IpAddr) -> Option<IpAddr> {
    match ip {
        IpAddr::V4(v4) => {
            let first = v4.octets()[0];
            let mut n = u32::from(v4);
            loop {
                n = n.checked_add(1)?;
                let next = Ipv4Addr::from(n);
                if next.octets()[0] != first {
                    return None;
                }
                let last = next.octets()[3];
                if last != 0 && last != 255 {
                    return Some(IpAddr::V4(next));
                }
            }
        }
        IpAddr::V6(v6) => u128::from(v6)
            .checked_add(1)
            .map(|n| IpAddr::V6(Ipv6Addr::from(n))),
    }
}

/// The IP written in the middle field of Memcached auto discovery in ports mode, where clients
/// such as dalli-elasticache insist on an IPv4: the bind address when it is specific, else the
/// advertised host when it is an IP or resolves to one, else 127.0.0.1.
fn reported_ip(bind_ip: IpAddr, advertised: &str) -> IpAddr {
    if !bind_ip.is_unspecified() {
        return bind_ip;
    }
    if let Ok(ip) = advertised.parse::<IpAddr>() {
        return ip;
    }
    // Resolution happens once, at startup; inside a container this finds the container's own
    // address on the Docker network when the advertised host is its service name.
    let resolved = (advertised, 0).to_socket_addrs().ok().and_then(|addrs| {
        let addrs: Vec<SocketAddr> = addrs.collect();
        addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or(addrs.first())
            .map(|a| a.ip())
    });
    resolved.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn loopback_counting_skips_network_and_broadcast_octets() {
        assert_eq!(next_loopback(v4("127.0.1.1")), Some(v4("127.0.1.2")));
        assert_eq!(next_loopback(v4("127.0.1.254")), Some(v4("127.0.2.1")));
        assert_eq!(next_loopback(v4("127.0.255.254")), Some(v4("127.1.0.1")));
        assert_eq!(next_loopback(v4("127.255.255.254")), None);
        assert_eq!(next_loopback(v4("::1")), Some(v4("::2")));
    }

    fn allocator(args: &[&str]) -> Allocator {
        use clap::Parser;
        let mut all = vec!["elasticache-local", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        Allocator::new(&Config::parse_from(all))
    }

    #[test]
    fn an_earlier_address_is_reserved_exactly_once_and_kept_from_new_endpoints() {
        let a = allocator(&["--addressing", "loopback", "--loopback-base", "127.0.93.1"]);
        let old = Endpoint {
            address: "127.0.93.2".to_string(),
            ip: v4("127.0.93.2"),
            port: 6379,
        };
        let pinned = a.reserve_exact(&old).map(|r| r.bind);
        assert_eq!(pinned, Some(SocketAddr::new(v4("127.0.93.2"), 6379)));
        assert!(a.reserve_exact(&old).is_none(), "held already");
        let first = a.reserve(6379, &[]).map(|r| r.bind.ip()).ok();
        let second = a.reserve(6379, &[]).map(|r| r.bind.ip()).ok();
        assert_eq!(first, Some(v4("127.0.93.1")));
        assert_eq!(
            second,
            Some(v4("127.0.93.3")),
            "the pinned address is skipped"
        );

        let p = allocator(&["--addressing", "ports", "--port-range", "21000-21009"]);
        let inside = Endpoint {
            address: "localhost".to_string(),
            ip: v4("127.0.0.1"),
            port: 21004,
        };
        assert_eq!(
            p.reserve_exact(&inside).map(|r| r.endpoint.port),
            Some(21004)
        );
        let outside = Endpoint {
            port: 6379,
            ..inside
        };
        assert!(p.reserve_exact(&outside).is_none(), "outside the range");
    }

    #[test]
    fn reported_ip_prefers_specific_bind_then_advertised_ip() {
        assert_eq!(reported_ip(v4("10.1.2.3"), "cache"), v4("10.1.2.3"));
        assert_eq!(reported_ip(v4("0.0.0.0"), "192.168.9.9"), v4("192.168.9.9"));
        assert!(reported_ip(v4("0.0.0.0"), "localhost").is_loopback());
    }
}
