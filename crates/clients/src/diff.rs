//! A small unified line diff, to show what an install changes.

const CONTEXT: usize = 2;
// Beyond this many cells the middle is shown as removed and added whole.
const MAX_CELLS: usize = 4_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Same,
    Del,
    Add,
}

/// The unified diff from `old` to `new` (empty when they are equal).
pub fn unified(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    if old == new {
        return String::new();
    }
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let ops = line_ops(&a, &b);
    let mut out = format!("--- {old_name}\n+++ {new_name}\n");
    // Group the operations into hunks with CONTEXT lines around each change.
    let changed: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, (op, _, _))| *op != Op::Same)
        .map(|(i, _)| i)
        .collect();
    let mut i = 0;
    while i < changed.len() {
        let start = changed[i].saturating_sub(CONTEXT);
        let mut end = changed[i] + CONTEXT + 1;
        while i + 1 < changed.len() && changed[i + 1] <= end + CONTEXT {
            i += 1;
            end = changed[i] + CONTEXT + 1;
        }
        let end = end.min(ops.len());
        let hunk = &ops[start..end];
        let old_start = hunk.iter().find_map(|&(_, ai, _)| ai).unwrap_or(0);
        let new_start = hunk.iter().find_map(|&(_, _, bi)| bi).unwrap_or(0);
        let old_len = hunk.iter().filter(|(op, _, _)| *op != Op::Add).count();
        let new_len = hunk.iter().filter(|(op, _, _)| *op != Op::Del).count();
        out.push_str(&format!(
            "@@ -{},{old_len} +{},{new_len} @@\n",
            old_start + 1,
            new_start + 1
        ));
        for &(op, ai, bi) in hunk {
            let (mark, line) = match op {
                Op::Same => (' ', ai.map(|i| a[i])),
                Op::Del => ('-', ai.map(|i| a[i])),
                Op::Add => ('+', bi.map(|i| b[i])),
            };
            out.push(mark);
            out.push_str(line.unwrap_or(""));
            out.push('\n');
        }
        i += 1;
    }
    out
}

/// Each line of the edit script, with its index in `a` and/or `b`.
fn line_ops(a: &[&str], b: &[&str]) -> Vec<(Op, Option<usize>, Option<usize>)> {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (am, bm) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let mut ops: Vec<(Op, Option<usize>, Option<usize>)> =
        (0..prefix).map(|i| (Op::Same, Some(i), Some(i))).collect();
    if am.len().saturating_mul(bm.len()) > MAX_CELLS {
        ops.extend((0..am.len()).map(|i| (Op::Del, Some(prefix + i), None)));
        ops.extend((0..bm.len()).map(|j| (Op::Add, None, Some(prefix + j))));
    } else {
        // Longest common subsequence, filled from the end.
        let (n, m) = (am.len(), bm.len());
        let mut lcs = vec![0u32; (n + 1) * (m + 1)];
        let at = |i: usize, j: usize| i * (m + 1) + j;
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                lcs[at(i, j)] = if am[i] == bm[j] {
                    lcs[at(i + 1, j + 1)] + 1
                } else {
                    lcs[at(i + 1, j)].max(lcs[at(i, j + 1)])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n || j < m {
            if i < n && j < m && am[i] == bm[j] {
                ops.push((Op::Same, Some(prefix + i), Some(prefix + j)));
                i += 1;
                j += 1;
            } else if i < n && (j == m || lcs[at(i + 1, j)] >= lcs[at(i, j + 1)]) {
                // Deletions before additions, as diff(1) shows them.
                ops.push((Op::Del, Some(prefix + i), None));
                i += 1;
            } else {
                ops.push((Op::Add, None, Some(prefix + j)));
                j += 1;
            }
        }
    }
    let (a_tail, b_tail) = (a.len() - suffix, b.len() - suffix);
    ops.extend((0..suffix).map(|k| (Op::Same, Some(a_tail + k), Some(b_tail + k))));
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_changed_lines_with_context() {
        let old = "a\nb\nc\nd\ne\nf\ng\n";
        let new = "a\nb\nc\nD\ne\nf\ng\nh\n";
        let diff = unified(old, new, "old", "new");
        assert_eq!(
            diff,
            "--- old\n+++ new\n@@ -2,6 +2,7 @@\n b\n c\n-d\n+D\n e\n f\n g\n+h\n"
        );
        assert_eq!(unified(old, old, "x", "y"), "");
    }

    #[test]
    fn separate_hunks_for_distant_changes() {
        let old: String = (0..20).map(|i| format!("{i}\n")).collect();
        let new: String = (0..20)
            .map(|i| match i {
                2 => "two\n".to_owned(),
                17 => "seventeen\n".to_owned(),
                i => format!("{i}\n"),
            })
            .collect();
        let diff = unified(&old, &new, "o", "n");
        assert_eq!(diff.matches("@@ ").count(), 2, "{diff}");
    }
}
