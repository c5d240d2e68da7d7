//! Dotted engine version comparison (`7.1.0` > `6.2.6`, `1.6.22` > `1.6.6`), used for
//! "newest version" defaults and the no-downgrade rule of ModifyCacheCluster.

use std::cmp::Ordering;

/// The numeric components of a dotted version; non-numeric parts (`x`) count as 0.
pub fn parse_version(v: &str) -> Vec<u64> {
    v.split('.')
        .map(|p| p.trim().parse::<u64>().unwrap_or(0))
        .collect()
}

/// Orders two dotted versions component by component; missing components count as 0.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (a, b) = (parse_version(a), parse_version(b));
    let n = a.len().max(b.len());
    for i in 0..n {
        let (x, y) = (
            a.get(i).copied().unwrap_or(0),
            b.get(i).copied().unwrap_or(0),
        );
        match x.cmp(&y) {
            Ordering::Equal => continue,
            other => return other,
        }
    }
    Ordering::Equal
}
