//! ElastiCache auto discovery: the cluster's configuration version and node list, and the
//! byte-exact `config get cluster` / legacy `get AmazonElastiCache:cluster` replies.
//!
//! Place in the flow: the supervisor owns one [`ClusterDiscovery`] per Memcached cluster and
//! calls [`ClusterDiscovery::set_nodes`] whenever membership changes; every node of the
//! cluster and the cluster's [`crate::ConfigEndpoint`] hold the same `Arc` and render the
//! reply from it when a client asks (`execute::text`).
//!
//! Body format (reference section 6): the version line `"<n>\n"`, then the nodes as
//! `host|ip|port` separated by single spaces and ended by `"\n"`; the reply frames it as
//! `CONFIG cluster 0 <len>\r\n<body>\r\nEND\r\n`, `<len>` counting both `\n`.

use std::net::SocketAddr;
use std::sync::{Mutex, RwLock, Weak};

use crate::DiscoveryNode;
use crate::node::NodeShared;

/// The legacy key pre-1.4.14 clients read the same body from.
pub const LEGACY_KEY: &[u8] = b"AmazonElastiCache:cluster";

/// Auto discovery state shared by every node of one cluster and its configuration endpoint.
#[derive(Debug)]
pub struct ClusterDiscovery {
    state: RwLock<State>,
    /// Running nodes of this cluster, so the configuration endpoint can serve a node's data
    /// (as the real endpoint, a DNS alias of a node, does).
    members: Mutex<Vec<(SocketAddr, Weak<NodeShared>)>>,
}

#[derive(Debug, Clone)]
struct State {
    version: u64,
    nodes: Vec<DiscoveryNode>,
}

impl Default for ClusterDiscovery {
    fn default() -> Self {
        ClusterDiscovery::new()
    }
}

impl ClusterDiscovery {
    /// A new cluster's discovery: configuration version 1, no nodes yet.
    pub fn new() -> ClusterDiscovery {
        ClusterDiscovery::with_version(1)
    }

    /// Discovery restored from persisted state: `version` as it was, no nodes yet.
    pub fn with_version(version: u64) -> ClusterDiscovery {
        ClusterDiscovery {
            state: RwLock::new(State {
                version,
                nodes: Vec::new(),
            }),
            members: Mutex::new(Vec::new()),
        }
    }

    /// Replaces the node list. A node is identified by its host name and port (in ports
    /// mode every node shares one advertised host name and differs by port). The version
    /// grows by one per node added or removed; a node whose IP changed counts as one change,
    /// since clients must notice it too. Nodes are kept sorted by host name, then port.
    /// Returns the new version.
    pub fn set_nodes(&self, mut nodes: Vec<DiscoveryNode>) -> u64 {
        let same =
            |a: &DiscoveryNode, b: &DiscoveryNode| a.hostname == b.hostname && a.port == b.port;
        nodes.sort_by(|a, b| a.hostname.cmp(&b.hostname).then(a.port.cmp(&b.port)));
        nodes.dedup_by(|a, b| same(a, b));
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        let old = &state.nodes;
        let mut changes = 0u64;
        for n in &nodes {
            match old.iter().find(|o| same(o, n)) {
                None => changes += 1,
                Some(o) if o.ip != n.ip => changes += 1,
                Some(_) => {}
            }
        }
        changes += old
            .iter()
            .filter(|o| !nodes.iter().any(|n| same(n, o)))
            .count() as u64;
        state.version += changes;
        state.nodes = nodes;
        state.version
    }

    /// Current configuration version.
    pub fn version(&self) -> u64 {
        self.state.read().unwrap_or_else(|p| p.into_inner()).version
    }

    /// Current node list, sorted by host name, then port.
    pub fn nodes(&self) -> Vec<DiscoveryNode> {
        self.state
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .nodes
            .clone()
    }

    /// The two-line body: `"<version>\n<host|ip|port ...>\n"`.
    pub fn body(&self) -> String {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        let list: Vec<String> = state
            .nodes
            .iter()
            .map(|n| format!("{}|{}|{}", n.hostname, n.ip, n.port))
            .collect();
        format!("{}\n{}\n", state.version, list.join(" "))
    }

    /// The full reply to `config get cluster`.
    pub fn config_reply(&self) -> Vec<u8> {
        let body = self.body();
        format!("CONFIG cluster 0 {}\r\n{}\r\nEND\r\n", body.len(), body).into_bytes()
    }

    /// The `VALUE` block answering `get AmazonElastiCache:cluster` (without the final `END`).
    pub(crate) fn legacy_value(&self, out: &mut Vec<u8>) {
        let body = self.body();
        out.extend_from_slice(
            format!(
                "VALUE AmazonElastiCache:cluster 0 {}\r\n{}\r\n",
                body.len(),
                body
            )
            .as_bytes(),
        );
    }

    /// Registers a running node of the cluster (called by `MemcachedNode::start`).
    pub(crate) fn register(&self, addr: SocketAddr, node: Weak<NodeShared>) {
        let mut members = self.members.lock().unwrap_or_else(|p| p.into_inner());
        members.retain(|(a, w)| *a != addr && w.strong_count() > 0);
        members.push((addr, node));
    }

    /// The running node the configuration endpoint resolves to: the first listed node (by
    /// host name) that runs in this process, else any running member.
    pub(crate) fn resolve(&self) -> Option<std::sync::Arc<NodeShared>> {
        let nodes = self.nodes();
        let members = self.members.lock().unwrap_or_else(|p| p.into_inner());
        let live = |addr: &SocketAddr| {
            members
                .iter()
                .filter(|(a, _)| a == addr)
                .filter_map(|(_, w)| w.upgrade())
                .find(|n| n.is_running())
        };
        for n in &nodes {
            let found = members
                .iter()
                .filter(|(a, _)| a.port() == n.port && (a.ip() == n.ip || a.ip().is_unspecified()))
                .find_map(|(a, _)| live(a));
            if found.is_some() {
                return found;
            }
        }
        members
            .iter()
            .filter_map(|(_, w)| w.upgrade())
            .find(|n| n.is_running())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn node(host: &str, ip: [u8; 4], port: u16) -> DiscoveryNode {
        DiscoveryNode {
            hostname: host.to_string(),
            ip: IpAddr::from(ip),
            port,
        }
    }

    #[test]
    fn documented_example_is_byte_exact() {
        let d = ClusterDiscovery::with_version(10);
        d.set_nodes(vec![
            node(
                "myCluster.pc4ldq.0002.use1.cache.amazonaws.com",
                [10, 80, 249, 27],
                11211,
            ),
            node(
                "myCluster.pc4ldq.0001.use1.cache.amazonaws.com",
                [10, 82, 235, 120],
                11211,
            ),
        ]);
        assert_eq!(d.version(), 12);
        let expected = "CONFIG cluster 0 136\r\n12\nmyCluster.pc4ldq.0001.use1.cache.amazonaws.com|10.82.235.120|11211 myCluster.pc4ldq.0002.use1.cache.amazonaws.com|10.80.249.27|11211\n\r\nEND\r\n";
        assert_eq!(String::from_utf8_lossy(&d.config_reply()), expected);
    }

    #[test]
    fn version_counts_each_added_or_removed_node() {
        let d = ClusterDiscovery::new();
        assert_eq!(d.version(), 1);
        let a = node("a", [127, 0, 0, 2], 11211);
        let b = node("b", [127, 0, 0, 3], 11211);
        let c = node("c", [127, 0, 0, 4], 11211);
        assert_eq!(d.set_nodes(vec![b.clone(), a.clone()]), 3);
        assert_eq!(d.set_nodes(vec![a.clone(), b.clone()]), 3);
        assert_eq!(d.set_nodes(vec![a.clone(), c.clone()]), 5);
        assert_eq!(d.set_nodes(vec![]), 7);
        assert_eq!(d.body(), "7\n\n");
    }

    #[test]
    fn nodes_sharing_a_host_name_are_told_apart_by_port() {
        let d = ClusterDiscovery::new();
        let a = node("localhost", [127, 0, 0, 1], 24601);
        let b = node("localhost", [127, 0, 0, 1], 24600);
        assert_eq!(d.set_nodes(vec![a.clone(), b.clone()]), 3);
        assert_eq!(
            d.body(),
            "3\nlocalhost|127.0.0.1|24600 localhost|127.0.0.1|24601\n"
        );
        assert_eq!(d.set_nodes(vec![a]), 4);
    }
}
