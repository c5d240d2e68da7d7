//! LATENCY GRAPH's text chart of one latency event.
//!
//! Place in the flow: `command::latency` renders a [`super::monitor::Event`] with [`render`].
//! The layout is Redis's, as redis-server 7.0.15 prints it: a title line with the samples'
//! highest and lowest latency and the event's all-time high, a rule of 80 dashes, then the
//! samples, oldest first, as 80-column chunks of four rows. Each sample's latency, relative
//! to the lowest and highest shown, picks one of twelve levels: a row and one of `_`, `o`,
//! `#` in it, with `|` below down to the bottom row. A blank row follows, then each sample's
//! age (`12s`, `5m`, `2h`, `1d`) written downwards, one character per line.

use super::monitor::Event;

/// Rows of a chart.
const ROWS: usize = 4;
/// Samples per chunk.
const COLUMNS: usize = 80;
/// The marks of a row's levels, lowest first, and the fill below a mark.
const MARKS: [u8; 3] = [b'_', b'o', b'#'];
const FILL: u8 = b'|';

/// The chart of event `name` at `now_s` (Unix seconds).
pub fn render(name: &str, ev: &Event, now_s: i64) -> String {
    let values: Vec<u64> = ev.samples.iter().map(|s| s.1).collect();
    let low = values.iter().copied().min().unwrap_or(0);
    let high = values.iter().copied().max().unwrap_or(0);
    let mut out = format!(
        "{name} - high {high} ms, low {low} ms (all time high {} ms)\n{}\n",
        ev.max,
        "-".repeat(COLUMNS)
    );
    let samples: Vec<(usize, String)> = ev
        .samples
        .iter()
        .map(|&(t, ms)| (level(ms, low, high), age_label(now_s - t)))
        .collect();
    for chunk in samples.chunks(COLUMNS) {
        render_chunk(&mut out, chunk);
    }
    out
}

/// Which of the chart's `ROWS * 3` levels `ms` reaches between `low` and `high`.
fn level(ms: u64, low: u64, high: u64) -> usize {
    let levels = ROWS * MARKS.len();
    if high == low {
        return 0;
    }
    let relative = (ms - low) as f64 / (high - low) as f64;
    ((relative * levels as f64) as usize).min(levels - 1)
}

/// How long ago a sample was taken, in its largest whole unit.
fn age_label(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// Rows from the top, a blank row, then the labels downwards.
fn render_chunk(out: &mut String, chunk: &[(usize, String)]) {
    let mut line = Vec::with_capacity(chunk.len());
    for row in (0..ROWS).rev() {
        line.clear();
        for (level, _) in chunk {
            let (at, mark) = (level / MARKS.len(), level % MARKS.len());
            line.push(match at {
                a if a == row => MARKS[mark],
                a if a > row => FILL,
                _ => b' ',
            });
        }
        push_line(out, &line);
    }
    push_line(out, &vec![b' '; chunk.len()]);
    let longest = chunk.iter().map(|(_, l)| l.len()).max().unwrap_or(0);
    for i in 0..longest {
        line.clear();
        line.extend(
            chunk
                .iter()
                .map(|(_, l)| *l.as_bytes().get(i).unwrap_or(&b' ')),
        );
        push_line(out, &line);
    }
}

fn push_line(out: &mut String, line: &[u8]) {
    out.push_str(&String::from_utf8_lossy(line));
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(samples: &[(i64, u64)]) -> Event {
        Event {
            samples: samples.iter().copied().collect(),
            max: samples.iter().map(|s| s.1).max().unwrap_or(0),
        }
    }

    #[test]
    fn charts_read_as_redis_server_prints_them() {
        // redis-server 7.0.15's LATENCY GRAPH command after DEBUG SLEEPs of 5, 10, 20 and 3 ms
        // a second apart, read 21 s after the last.
        let ev = event(&[(100, 5), (101, 10), (102, 20), (103, 3)]);
        let chart = render("command", &ev, 124);
        let expected = format!(
            "command - high 20 ms, low 3 ms (all time high 20 ms)\n{}\n  # \n  | \n o| \no||_\n    \n2222\n4321\nssss\n",
            "-".repeat(80)
        );
        assert_eq!(chart, expected);
        // One value: the bottom mark.
        let one = render("command", &event(&[(10, 4)]), 10);
        assert!(one.ends_with("-\n \n \n \n_\n \n0\ns\n"), "{one:?}");
        // 4, 4 and 5 ms.
        let three = render("command", &event(&[(8, 4), (9, 4), (10, 5)]), 10);
        assert!(
            three.ends_with("  #\n  |\n  |\n__|\n   \n210\nsss\n"),
            "{three:?}"
        );
    }

    #[test]
    fn ages_use_the_largest_whole_unit() {
        assert_eq!(age_label(59), "59s");
        assert_eq!(age_label(60), "1m");
        assert_eq!(age_label(7_199), "1h");
        assert_eq!(age_label(200_000), "2d");
    }
}
