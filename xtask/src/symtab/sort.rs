//! Sorting symbol names by bytes (the order `strcmp` sees).
//!
//! Lean's names share long prefixes (`l_Lean_Elab_Term_...`), so a comparison sort spends most
//! of its time comparing the same prefix again and again (it was the largest cost of the whole
//! generator at 81k symbols). A multikey quicksort (Bentley and Sedgewick's three-way radix
//! quicksort) looks at each part of a shared prefix about once per partition level instead; it
//! partitions on 8 bytes at a time (big-endian, so word order is byte order), which makes a
//! shared prefix of 16 bytes cost 2 passes rather than 16. Names never contain NUL (the reader
//! rejects them), so padding with zeros past the end sorts a shorter name first, as `strcmp`
//! does. Past a depth limit (absurdly long shared prefixes) it hands over to the standard sort,
//! so the recursion stays shallow whatever the input.

/// Sorts `items` by `key(item)` compared as bytes, like `sort_unstable_by(|a, b| key(a).cmp(key(b)))`.
pub fn sort_by_bytes<T, F>(items: &mut [T], key: F)
where
    F: Fn(&T) -> &[u8] + Copy,
{
    multikey(items, key, 0);
}

const SMALL: usize = 16;
const MAX_DEPTH: usize = 256;

/// The 8 bytes of `s` from `depth`, big-endian, zero-padded past its end.
#[inline]
fn word_at(s: &[u8], depth: usize) -> u64 {
    match s.get(depth..depth + 8) {
        Some(w) => u64::from_be_bytes(w.try_into().unwrap()),
        None => {
            let mut w = [0u8; 8];
            let tail = s.get(depth..).unwrap_or_default();
            w[..tail.len()].copy_from_slice(tail);
            u64::from_be_bytes(w)
        }
    }
}

fn multikey<T, F>(mut items: &mut [T], key: F, mut depth: usize)
where
    F: Fn(&T) -> &[u8] + Copy,
{
    loop {
        if items.len() <= SMALL || depth >= MAX_DEPTH {
            // All items share their first `depth` bytes: compare only what follows.
            items.sort_unstable_by(|a, b| {
                let (a, b) = (key(a), key(b));
                a.get(depth..)
                    .unwrap_or_default()
                    .cmp(b.get(depth..).unwrap_or_default())
            });
            return;
        }
        // Pivot: median of three words at `depth`.
        let n = items.len();
        let (x, y, z) = (
            word_at(key(&items[0]), depth),
            word_at(key(&items[n / 2]), depth),
            word_at(key(&items[n - 1]), depth),
        );
        let pivot = x.max(y).min(x.min(y).max(z));
        // Dutch national flag partition: [< pivot | == pivot | > pivot].
        let (mut lt, mut i, mut gt) = (0, 0, n);
        while i < gt {
            let b = word_at(key(&items[i]), depth);
            if b < pivot {
                items.swap(lt, i);
                lt += 1;
                i += 1;
            } else if b > pivot {
                gt -= 1;
                items.swap(i, gt);
            } else {
                i += 1;
            }
        }
        let (low, rest) = items.split_at_mut(lt);
        let (equal, high) = rest.split_at_mut(gt - lt);
        multikey(low, key, depth);
        multikey(high, key, depth);
        // The equal part continues on the next word (a loop, not a recursion: the common
        // case of long shared prefixes costs no stack). If the word ends in a zero byte, the
        // strings ended within it (no name contains NUL): they are all equal.
        if pivot & 0xff == 0 {
            return;
        }
        items = equal;
        depth += 8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(mut names: Vec<Vec<u8>>) {
        let mut want = names.clone();
        want.sort();
        sort_by_bytes(&mut names, |n| n.as_slice());
        assert_eq!(names, want);
    }

    #[test]
    fn sorts_like_the_standard_byte_order() {
        check(vec![]);
        check(vec![b"a".to_vec()]);
        // Lengths around the 8-byte words.
        check(
            (0..40)
                .map(|i| b"abcdefghijklmnopq"[..(i * 7) % 18].to_vec())
                .collect(),
        );
        check(
            [
                "b", "a", "", "ab", "a", "abc", "ab\u{e9}", "B", "_Z", "l_", "l",
            ]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect(),
        );
        // Lean-like names: long shared prefixes, many of them, with duplicates and bytes >= 0x80.
        let mut seed: u64 = 42;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize
        };
        let parts = [
            "Lean", "Elab", "Term", "Meta", "x", "\u{3b1}", "___boxed", "_",
        ];
        let names: Vec<Vec<u8>> = (0..20000)
            .map(|_| {
                let mut s = String::from("l_");
                for _ in 0..(next() % 9) {
                    s.push_str(parts[next() % parts.len()]);
                }
                s.into_bytes()
            })
            .collect();
        check(names);
        // Shared prefixes longer than the depth limit.
        let long = "y".repeat(MAX_DEPTH + 10);
        check(
            (0..100)
                .map(|i| format!("{long}{}", 99 - i).into_bytes())
                .collect(),
        );
    }
}
