//! Which node of a migration source each shard primary of the target replicates: StartMigration
//! and TestMigration pair them here from the source's layout, with AWS's requirements on the
//! source (no AUTH; the same cluster mode and number of shards as the target; for cluster mode
//! enabled, each target shard owning the same slots as one source primary).
//!
//! Place in the flow: `migration` plans the target (its shards and their slots) under the
//! region lock, asks the supervisor for the source's layout, and hands both to [`pair`]; the
//! links it answers go to the supervisor one shard primary each.

use crate::control::error::ApiError;
use crate::state::MigrationLink;
use crate::supervisor::MigrationSourceLayout;

use super::common::*;

/// The target side of a migration: the group, its cluster mode and its shards.
#[derive(Clone, Debug)]
pub struct Target {
    /// Replication group id.
    pub id: String,
    /// Whether the group runs cluster mode enabled (several shards, slots).
    pub cluster: bool,
    /// Each shard's primary node key and slot ranges (cluster mode enabled).
    pub shards: Vec<(String, Vec<(u16, u16)>)>,
}

/// Slot ranges sorted with touching or overlapping ranges merged, so that `0-100 101-200`
/// and `0-200` compare equal.
fn merged(ranges: &[(u16, u16)]) -> Vec<(u16, u16)> {
    let mut sorted = ranges.to_vec();
    sorted.sort_unstable();
    let mut out: Vec<(u16, u16)> = Vec::new();
    for (a, b) in sorted {
        match out.last_mut() {
            Some(last) if u32::from(a) <= u32::from(last.1) + 1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// Pairs every shard of `target` with the source node it replicates. `layout` is what the
/// source answered; when it could not be read a cluster mode disabled target still gets its
/// link (it fails, and ends the migration, as an unreachable source does on AWS), while a
/// cluster mode enabled target cannot be paired and is refused.
pub fn pair(
    target: &Target,
    source: &(String, u16),
    layout: Result<MigrationSourceLayout, String>,
) -> Result<Vec<MigrationLink>, ApiError> {
    let link = |node: &str, source: &(String, u16)| MigrationLink {
        node: node.to_string(),
        source: source.clone(),
    };
    let layout = match layout {
        Ok(l) => l,
        Err(e) if target.cluster => {
            return Err(invalid(format!(
                "Cannot read the cluster layout of the source {}:{}: {e}",
                source.0, source.1
            )));
        }
        Err(_) => return Ok(target.shards.iter().map(|s| link(&s.0, source)).collect()),
    };
    if layout.auth_required {
        return Err(invalid(format!(
            "The source {}:{} requires AUTH; online migration needs a source without AUTH.",
            source.0, source.1
        )));
    }
    let mode = |on: bool| if on { "enabled" } else { "disabled" };
    if layout.cluster != target.cluster {
        return Err(invalid(format!(
            "The source {}:{} runs cluster mode {} but replication group {} is cluster mode {}; the source and the target must have the same cluster mode.",
            source.0,
            source.1,
            mode(layout.cluster),
            target.id,
            mode(target.cluster)
        )));
    }
    if !target.cluster {
        return Ok(target.shards.iter().map(|s| link(&s.0, source)).collect());
    }
    if layout.primaries.len() != target.shards.len() {
        return Err(invalid(format!(
            "The number of shards of the source ({}) and of replication group {} ({}) must match.",
            layout.primaries.len(),
            target.id,
            target.shards.len()
        )));
    }
    target
        .shards
        .iter()
        .map(|(node, slots)| {
            let wanted = merged(slots);
            layout
                .primaries
                .iter()
                .find(|p| merged(&p.slots) == wanted)
                .map(|p| link(node, &p.addr))
                .ok_or_else(|| {
                    invalid(format!(
                        "No primary of the source owns the same slots as a shard of replication group {}; the slot distribution of the source and the target must match.",
                        target.id
                    ))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervisor::MigrationSourcePrimary;

    fn target(cluster: bool, shards: &[&[(u16, u16)]]) -> Target {
        Target {
            id: "rg".into(),
            cluster,
            shards: shards
                .iter()
                .enumerate()
                .map(|(i, s)| (format!("node{i}"), s.to_vec()))
                .collect(),
        }
    }

    fn layout(cluster: bool, primaries: &[(u16, &[(u16, u16)])]) -> MigrationSourceLayout {
        MigrationSourceLayout {
            auth_required: false,
            cluster,
            primaries: primaries
                .iter()
                .map(|(port, slots)| MigrationSourcePrimary {
                    addr: ("127.0.0.1".into(), *port),
                    slots: slots.to_vec(),
                })
                .collect(),
        }
    }

    fn code(r: Result<Vec<MigrationLink>, ApiError>) -> String {
        r.err()
            .map(|e| e.wire_code().to_string())
            .unwrap_or_default()
    }

    #[test]
    fn shards_pair_by_slots_and_mismatches_are_refused() {
        let src = ("127.0.0.1".to_string(), 7000);
        let cme = target(true, &[&[(0, 8191)], &[(8192, 16383)]]);
        let split: &[(u16, u16)] = &[(8192, 9000), (9001, 16383)];
        let links = pair(
            &cme,
            &src,
            Ok(layout(true, &[(7002, split), (7001, &[(0, 8191)])])),
        )
        .expect("pairs");
        let got: Vec<_> = links
            .iter()
            .map(|l| (l.node.as_str(), l.source.1))
            .collect();
        assert_eq!(got, [("node0", 7001), ("node1", 7002)]);
        // Counts, slots, cluster mode, AUTH and an unreadable source.
        let three = layout(true, &[(1, &[(0, 1)]), (2, &[(2, 3)]), (3, &[(4, 16383)])]);
        assert_eq!(code(pair(&cme, &src, Ok(three))), "InvalidParameterValue");
        let skew = layout(true, &[(1, &[(0, 8000)]), (2, &[(8001, 16383)])]);
        assert_eq!(code(pair(&cme, &src, Ok(skew))), "InvalidParameterValue");
        assert_eq!(
            code(pair(&cme, &src, Ok(layout(false, &[])))),
            "InvalidParameterValue"
        );
        assert_eq!(
            code(pair(&cme, &src, Err("down".into()))),
            "InvalidParameterValue"
        );
        let cmd = target(false, &[&[]]);
        let mut auth = layout(false, &[]);
        auth.auth_required = true;
        assert_eq!(code(pair(&cmd, &src, Ok(auth))), "InvalidParameterValue");
        let cluster_src = layout(true, &[(1, &[(0, 16383)])]);
        assert_eq!(
            code(pair(&cmd, &src, Ok(cluster_src))),
            "InvalidParameterValue"
        );
        // A cluster mode disabled target links its primary to the named endpoint, even when
        // the source cannot be read yet (the link then fails as on AWS).
        for l in [Ok(layout(false, &[])), Err("down".to_string())] {
            let links = pair(&cmd, &src, l).expect("links");
            assert_eq!(links.len(), 1);
            assert_eq!((links[0].node.as_str(), &links[0].source), ("node0", &src));
        }
        assert_eq!(
            merged(&[(5, 9), (0, 4), (20, 30), (25, 26)]),
            [(0, 9), (20, 30)]
        );
    }
}
