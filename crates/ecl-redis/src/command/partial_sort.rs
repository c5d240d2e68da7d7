//! The partial quicksort Redis uses when only a slice of a sorted result is returned
//! (GEORADIUS/GEOSEARCH with COUNT, SORT with LIMIT): Bentley and McIlroy's quicksort
//! ("Engineering a Sort Function", 1993: median of three or ninther pivot, three-way
//! partition, insertion sort below seven elements), which only descends into the parts that
//! overlap the wanted positions.
//!
//! Place in the flow: a command that sorts then keeps positions `lo..=hi` calls
//! [`partial_sort`]. The positions outside may stay unsorted. Elements that compare equal end
//! up in the order this algorithm leaves them, which is not their input order: Redis replies
//! show that order, so matching redis-server byte for byte on ties needs the same algorithm,
//! not a stable sort followed by a cut.

use std::cmp::Ordering;

/// Sorts `v` enough that positions `lo..=hi` hold, in order, what a full sort would put there.
pub fn partial_sort<T>(
    v: &mut [T],
    lo: usize,
    hi: usize,
    cmp: &mut impl FnMut(&T, &T) -> Ordering,
) {
    if v.is_empty() || lo > hi {
        return;
    }
    sort_range(v, 0, v.len(), lo, hi, cmp);
}

/// Sorts `v[start..start + len]` as far as positions `lo..=hi` (absolute) need.
fn sort_range<T>(
    v: &mut [T],
    mut start: usize,
    mut len: usize,
    lo: usize,
    hi: usize,
    cmp: &mut impl FnMut(&T, &T) -> Ordering,
) {
    loop {
        let part = &mut v[start..start + len];
        if len < 7 {
            insertion_sort(part, cmp);
            return;
        }
        // Unlike the paper's version, no switch to insertion sort after a pass that moved
        // nothing: Redis's partial sort always recurses (measured on redis-server 7.0.15).
        let (pa, pb, pc, pd) = partition(part, cmp);
        // Move the runs equal to the pivot (at both ends) to the middle.
        let r = pa.min(pb - pa);
        swap_runs(part, 0, pb - r, r);
        let r = (pd - pc).min(len - pd - 1);
        swap_runs(part, pb, len - r, r);
        // The two unsorted parts: below and above the pivot's run. Each one's result depends
        // only on its own contents, so the smaller is sorted by recursion and the larger by
        // the loop: the stack stays O(log n) whatever the pivots (Redis recurses on the lower
        // part; the order of the two does not change the outcome).
        let below = (start, pb - pa);
        let above = (start + len - (pd - pc), pd - pc);
        let (small, large) = if below.1 <= above.1 {
            (below, above)
        } else {
            (above, below)
        };
        if small.1 > 1 && overlaps(small.0, small.1, lo, hi) {
            sort_range(v, small.0, small.1, lo, hi, cmp);
        }
        if large.1 <= 1 || !overlaps(large.0, large.1, lo, hi) {
            return;
        }
        (start, len) = large;
    }
}

/// Three-way partition around a pivot chosen as the algorithm chooses it and swapped to the
/// front; returns the four cursors (equal-to-pivot runs are `0..pa` and `pd + 1..len`).
fn partition<T>(
    part: &mut [T],
    cmp: &mut impl FnMut(&T, &T) -> Ordering,
) -> (usize, usize, usize, usize) {
    let n = part.len();
    let mut pm = n / 2;
    if n > 7 {
        let (mut pl, mut pn) = (0, n - 1);
        if n > 40 {
            let d = n / 8;
            pl = median_of_three(part, pl, pl + d, pl + 2 * d, cmp);
            pm = median_of_three(part, pm - d, pm, pm + d, cmp);
            pn = median_of_three(part, pn - 2 * d, pn - d, pn, cmp);
        }
        pm = median_of_three(part, pl, pm, pn, cmp);
    }
    part.swap(0, pm);
    let (mut pa, mut pb, mut pc, mut pd) = (1, 1, n - 1, n - 1);
    loop {
        while pb <= pc {
            let order = cmp(&part[pb], &part[0]);
            if order == Ordering::Greater {
                break;
            }
            if order == Ordering::Equal {
                part.swap(pa, pb);
                pa += 1;
            }
            pb += 1;
        }
        while pb <= pc {
            let order = cmp(&part[pc], &part[0]);
            if order == Ordering::Less {
                break;
            }
            if order == Ordering::Equal {
                part.swap(pc, pd);
                pd -= 1;
            }
            pc -= 1;
        }
        if pb > pc {
            break;
        }
        part.swap(pb, pc);
        pb += 1;
        pc -= 1;
    }
    (pa, pb, pc, pd)
}

fn median_of_three<T>(
    v: &[T],
    a: usize,
    b: usize,
    c: usize,
    cmp: &mut impl FnMut(&T, &T) -> Ordering,
) -> usize {
    if cmp(&v[a], &v[b]) == Ordering::Less {
        if cmp(&v[b], &v[c]) == Ordering::Less {
            b
        } else if cmp(&v[a], &v[c]) == Ordering::Less {
            c
        } else {
            a
        }
    } else if cmp(&v[b], &v[c]) == Ordering::Greater {
        b
    } else if cmp(&v[a], &v[c]) == Ordering::Less {
        a
    } else {
        c
    }
}

fn insertion_sort<T>(v: &mut [T], cmp: &mut impl FnMut(&T, &T) -> Ordering) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && cmp(&v[j - 1], &v[j]) == Ordering::Greater {
            v.swap(j, j - 1);
            j -= 1;
        }
    }
}

/// Swaps the `n` elements at `a` with the `n` elements at `b`.
fn swap_runs<T>(v: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        v.swap(a + i, b + i);
    }
}

/// Whether positions `start..start + len` include any of `lo..=hi`.
fn overlaps(start: usize, len: usize, lo: usize, hi: usize) -> bool {
    hi >= start && lo < start + len
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inputs that make quicksort's pivots poor (organ pipe, sawtooth) stay within a small
    /// stack: the smaller part is the one sorted by recursion.
    #[test]
    fn hostile_inputs_sort_without_deep_recursion() {
        let n = 200_000usize;
        let organ: Vec<usize> = (0..n).map(|i| if i < n / 2 { i } else { n - i }).collect();
        let saw: Vec<usize> = (0..n).map(|i| i % 7).collect();
        for input in [organ, saw] {
            let mut sorted = input.clone();
            sorted.sort();
            let mut v = input;
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
                    partial_sort(&mut v, 0, n - 1, &mut |a, b| a.cmp(b));
                    v
                })
                .expect("thread")
                .join()
                .map(|v| assert_eq!(v, sorted))
                .expect("no stack overflow");
        }
    }

    /// The wanted slice is what a full sort gives there, for every size and range.
    #[test]
    fn wanted_positions_match_a_full_sort() {
        let mut seed = 7u64;
        for n in 0..120usize {
            let input: Vec<u32> = (0..n)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((seed >> 33) % 20) as u32
                })
                .collect();
            let mut sorted = input.clone();
            sorted.sort();
            for (lo, hi) in [(0, 0), (0, n / 2), (n / 3, n / 2), (0, n.saturating_sub(1))] {
                if n == 0 {
                    continue;
                }
                let mut v = input.clone();
                partial_sort(&mut v, lo, hi, &mut |a, b| a.cmp(b));
                assert_eq!(v[lo..=hi], sorted[lo..=hi], "n={n} lo={lo} hi={hi}");
            }
        }
    }
}
