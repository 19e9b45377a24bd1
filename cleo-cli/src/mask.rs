//! Streaming secret masking for `cleo exec`: every occurrence of a secret value (and
//! of each line of a multi-line value) in a byte stream becomes `***`.
//!
//! The stream arrives in arbitrary chunks (whatever the child's `write`s and the pipe
//! make of them), so a value may be split across chunks. The masker holds back only
//! the shortest tail of what it has seen that could still grow into a value, and
//! forwards everything before it at once: ordinary output is never delayed.
//!
//! Occurrences that overlap are masked as their union, not leftmost-longest one at a
//! time: with values `aaaaXYZ` and `XYZbbbbbbbb`, the text `aaaaXYZbbbbbbbb` must not
//! come out as `***bbbbbbbb`, which would print most of the second value.

use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use cleo_core::{Error, ErrorKind, Result, Zeroizing};

/// What a masked occurrence is replaced with.
pub const REPLACEMENT: &[u8] = b"***";

/// Values (or lines) shorter than this are not masked: masking every `abc` or `1`
/// would mangle ordinary output and hide nothing worth hiding. `cleo exec --help`
/// says so.
pub const MIN_LEN: usize = 4;

/// Up to this many bytes of patterns, the masker compiles a DFA (a few hundred bytes
/// of table per pattern byte); beyond, a smaller, slower automaton.
const DFA_MAX_PATTERN_BYTES: usize = 64 * 1024;

/// The compiled set of byte strings to mask, shared by the stdout and stderr maskers.
pub struct Patterns {
    /// `None` when nothing is long enough to mask: output passes through as is.
    /// The automaton holds its own (non-zeroized) copy of the patterns' bytes; that
    /// lives as long as the value itself is needed, and aho-corasick cannot wipe it.
    automaton: Option<AhoCorasick>,
    /// Sorted and deduplicated, for the "could this tail still grow into a pattern"
    /// question, answered by binary search.
    sorted: Vec<Zeroizing<Vec<u8>>>,
    /// Which bytes start some pattern: most positions of ordinary output are ruled
    /// out as the start of a held-back tail by one lookup.
    first_bytes: [bool; 256],
    longest: usize,
}

impl Patterns {
    /// The patterns for these secret values: each value, and each line of a
    /// multi-line value (split on `\n`, a trailing `\r` removed, so CRLF text and a
    /// value printed line by line are both caught), skipping any shorter than
    /// [`MIN_LEN`].
    pub fn new<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Result<Patterns> {
        let mut sorted: Vec<Zeroizing<Vec<u8>>> = Vec::new();
        for value in values {
            // A value read from a file often ends in a newline; masked with it, the
            // line break after each occurrence would go too and lines would merge.
            let end = value
                .iter()
                .rposition(|&b| b != b'\n' && b != b'\r')
                .map_or(0, |i| i + 1);
            let value = &value[..end];
            let lines = value
                .split(|&b| b == b'\n')
                .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
            for candidate in std::iter::once(value).chain(lines) {
                if candidate.len() >= MIN_LEN {
                    sorted.push(Zeroizing::new(candidate.to_vec()));
                }
            }
        }
        sorted.sort_unstable_by(|a, b| a.as_slice().cmp(b.as_slice()));
        sorted.dedup_by(|a, b| a.as_slice() == b.as_slice());
        let mut first_bytes = [false; 256];
        for p in &sorted {
            first_bytes[usize::from(p[0])] = true;
        }
        let longest = sorted.iter().map(|p| p.len()).max().unwrap_or(0);
        let automaton = if sorted.is_empty() {
            None
        } else {
            // Standard semantics, because only it reports overlapping occurrences,
            // which are merged into one masked span (see the module docs).
            let mut builder = AhoCorasickBuilder::new();
            builder.match_kind(MatchKind::Standard);
            // A DFA without prefilter: on log text the prefilter's "rare" bytes
            // (`-`, digits) are everywhere, and stopping at each cost 3.3x the
            // instructions and twice the time (benches/python/test_bench_exec.py).
            // A DFA's size grows with the patterns' total length, so past a bound
            // (a large keystore, say) aho-corasick picks its own automaton.
            let total: usize = sorted.iter().map(|p| p.len()).sum();
            if total <= DFA_MAX_PATTERN_BYTES {
                builder.kind(Some(AhoCorasickKind::DFA)).prefilter(false);
            }
            let built = builder
                .build(sorted.iter().map(|p| p.as_slice()))
                // The error names a size limit, never a pattern.
                .map_err(|e| {
                    Error::new(ErrorKind::Unexpected, "cannot build the output masker")
                        .with_source(e)
                })?;
            Some(built)
        };
        Ok(Patterns {
            automaton,
            sorted,
            first_bytes,
            longest,
        })
    }

    /// How many patterns there are (after splitting lines and dropping short ones).
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// The most bytes a masker ever holds back between chunks.
    pub fn max_hold(&self) -> usize {
        self.longest.saturating_sub(1)
    }

    /// Whether `s` is a proper prefix of some pattern (could still grow into one).
    fn is_proper_prefix(&self, s: &[u8]) -> bool {
        // The patterns starting with `s` form a run beginning at its lower bound;
        // if the first of the run is `s` itself, the next one (if any) is longer.
        let at = self.sorted.partition_point(|p| p.as_slice() < s);
        self.sorted[at..]
            .iter()
            .take(2)
            .any(|p| p.len() > s.len() && p.starts_with(s))
    }

    /// The smallest `i` such that `buf[i..]` is a proper prefix of some pattern, or
    /// `buf.len()`: everything before it is final whatever bytes come next.
    ///
    /// Cost: one binary search for each of the last `max_hold` positions whose byte
    /// starts a pattern, each comparison stopping at the first differing byte. For
    /// real values that is near linear; a long periodic value (`abcabc...` of many
    /// kilobytes) makes the comparisons long and the search quadratic in its length.
    fn hold_from(&self, buf: &[u8]) -> usize {
        let from = buf.len().saturating_sub(self.max_hold());
        (from..buf.len())
            .find(|&i| self.first_bytes[usize::from(buf[i])] && self.is_proper_prefix(&buf[i..]))
            .unwrap_or(buf.len())
    }
}

/// Masks one stream. Feed it chunks with [`Masker::push`] and end with
/// [`Masker::finish`]; the concatenated output equals the input with each span
/// covered by secret occurrences replaced by `***`, byte for byte elsewhere.
pub struct Masker {
    patterns: Arc<Patterns>,
    /// Bytes seen but not yet emitted (or kept as context, see `covered`). It may
    /// hold the start of a secret, hence zeroized; it only grows in place, see
    /// [`extend_zeroizing`].
    pending: Zeroizing<Vec<u8>>,
    /// How many leading bytes of `pending` are already emitted as part of the last
    /// `***`. They are kept because an occurrence starting among them may extend
    /// past them, and must then widen that mask rather than leak.
    covered: usize,
}

impl Masker {
    /// A masker for one stream.
    pub fn new(patterns: Arc<Patterns>) -> Masker {
        Masker {
            patterns,
            pending: Zeroizing::new(Vec::new()),
            covered: 0,
        }
    }

    /// Takes the next chunk of the stream and appends to `out` all the output that
    /// no later bytes can change.
    pub fn push(&mut self, chunk: &[u8], out: &mut Zeroizing<Vec<u8>>) {
        if self.patterns.automaton.is_none() {
            extend_zeroizing(out, chunk);
            return;
        }
        extend_zeroizing(&mut self.pending, chunk);
        self.process(false, out);
    }

    /// Ends the stream: appends the rest (a held-back tail that never became a
    /// secret is emitted as it was).
    pub fn finish(&mut self, out: &mut Zeroizing<Vec<u8>>) {
        self.process(true, out);
    }

    fn process(&mut self, eof: bool, out: &mut Zeroizing<Vec<u8>>) {
        let Some(automaton) = &self.patterns.automaton else {
            return;
        };
        let buf = self.pending.as_slice();
        let hold = if eof {
            buf.len()
        } else {
            self.patterns.hold_from(buf)
        };
        // Every occurrence that starts before `hold` is complete within `buf` (else
        // its start would be a proper prefix, so `hold` would be at or before it).
        let mut spans: Vec<(usize, usize)> = automaton
            .find_overlapping_iter(buf)
            .filter(|m| m.start() < hold)
            .map(|m| (m.start(), m.end()))
            .collect();
        spans.sort_unstable();
        // `done` is always 0 or the end of the last mask emitted, so a span starting
        // before it overlaps that mask.
        let mut done = self.covered;
        for (start, end) in spans {
            if end <= done {
                continue;
            }
            if start < done {
                done = end;
                continue;
            }
            extend_zeroizing(out, &buf[done..start]);
            extend_zeroizing(out, REPLACEMENT);
            done = end;
        }
        if done < hold {
            extend_zeroizing(out, &buf[done..hold]);
            done = hold;
        }
        self.covered = done - hold;
        // Shifts in place: no reallocation leaves a copy behind.
        self.pending.drain(..hold);
    }
}

/// Appends to a zeroizing buffer without leaving an unwiped copy behind: `Vec`'s own
/// growth frees the old allocation as is, so grow by hand into a fresh buffer and
/// let the old one be wiped on drop.
pub fn extend_zeroizing(buf: &mut Zeroizing<Vec<u8>>, data: &[u8]) {
    let needed = buf.len() + data.len();
    if needed > buf.capacity() {
        let mut bigger = Zeroizing::new(Vec::with_capacity(needed.max(buf.capacity() * 2)));
        bigger.extend_from_slice(buf);
        *buf = bigger;
    }
    buf.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(values: &[&[u8]]) -> Arc<Patterns> {
        Arc::new(Patterns::new(values.iter().copied()).unwrap())
    }

    /// Runs `chunks` through a fresh masker; returns the output and, for each
    /// chunk, what was emitted right after it.
    fn run(values: &[&[u8]], chunks: &[&[u8]]) -> (Vec<u8>, Vec<Vec<u8>>) {
        let mut m = Masker::new(patterns(values));
        let mut all = Vec::new();
        let mut each = Vec::new();
        for chunk in chunks {
            let mut out = Zeroizing::new(Vec::new());
            m.push(chunk, &mut out);
            all.extend_from_slice(&out);
            each.push(out.to_vec());
        }
        let mut out = Zeroizing::new(Vec::new());
        m.finish(&mut out);
        all.extend_from_slice(&out);
        (all, each)
    }

    fn masked(values: &[&[u8]], chunks: &[&[u8]]) -> Vec<u8> {
        run(values, chunks).0
    }

    #[test]
    fn a_value_is_masked_in_one_chunk() {
        assert_eq!(
            masked(&[b"hunter22"], &[b"pw=hunter22; again hunter22\n"]),
            b"pw=***; again ***\n"
        );
    }

    #[test]
    fn a_value_split_at_every_byte_is_masked() {
        let secret: &[u8] = b"s3cr3t-t0ken-value";
        let text = [b"<<".as_slice(), secret, b">>\n"].concat();
        for cut in 0..=text.len() {
            let (a, b) = text.split_at(cut);
            assert_eq!(masked(&[secret], &[a, b]), b"<<***>>\n", "cut at {cut}");
        }
    }

    #[test]
    fn a_value_fed_one_byte_at_a_time_is_masked() {
        let secret: &[u8] = b"one-byte-writes";
        let text = [b"x".as_slice(), secret, b"y", secret].concat();
        let chunks: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(masked(&[secret], &chunks), b"x***y***");
    }

    #[test]
    fn ordinary_output_is_forwarded_without_delay() {
        let (_, each) = run(&[b"secret-value"], &[b"hello\n", b"world s", b"x\n"]);
        assert_eq!(each[0], b"hello\n");
        // "s" could start the secret: held until the next byte rules it out.
        assert_eq!(each[1], b"world ");
        assert_eq!(each[2], b"sx\n");
    }

    #[test]
    fn a_value_that_is_a_prefix_of_another_masks_the_longer_one_whole() {
        let values: &[&[u8]] = &[b"abcd", b"abcdef"];
        assert_eq!(
            masked(values, &[b"1 abcdef 2 abcd 3\n"]),
            b"1 *** 2 *** 3\n"
        );
        // The longer one split right after the shorter one is complete.
        assert_eq!(masked(values, &[b"1 abcd", b"ef 2\n"]), b"1 *** 2\n");
        // ...and the shorter one alone at a chunk end, then something else.
        assert_eq!(masked(values, &[b"1 abcd", b"eX\n"]), b"1 ***eX\n");
        assert_eq!(masked(values, &[b"1 abcd"]), b"1 ***");
    }

    #[test]
    fn overlapping_values_are_masked_as_their_union() {
        let values: &[&[u8]] = &[b"aaaaXYZ", b"XYZbbbbbbbb"];
        assert_eq!(masked(values, &[b"[aaaaXYZbbbbbbbb]"]), b"[***]");
        for cut in 0..=17 {
            let text = b"[aaaaXYZbbbbbbbb]";
            let (a, b) = text.split_at(cut);
            assert_eq!(masked(values, &[a, b]), b"[***]", "cut at {cut}");
        }
        // One value with itself: "abab" twice overlapping.
        assert_eq!(masked(&[b"abab"], &[b"-ababab-"]), b"-***-");
        // Adjacent but not overlapping: one mask each.
        assert_eq!(masked(values, &[b"aaaaXYZXYZbbbbbbbb"]), b"******");
    }

    #[test]
    fn each_line_of_a_multi_line_value_is_masked() {
        let pem: &[u8] = b"-----BEGIN TEST KEY-----\r\nMIIBVQIBADANBgkqhkiG\r\n9w0BAQEFAASCAT8wggE7\r\n-----END TEST KEY-----\r\n";
        // Printed line by line, each with its own write and a plain LF.
        let chunks: &[&[u8]] = &[
            b"-----BEGIN TEST KEY-----\n",
            b"MIIBVQIBADANBgkqhkiG\n",
            b"9w0BAQEFAASCAT8wggE7\n",
            b"-----END TEST KEY-----\n",
        ];
        assert_eq!(masked(&[pem], chunks), b"***\n***\n***\n***\n");
        // Printed whole: one mask, not four; the value's final line break stays.
        assert_eq!(masked(&[pem], &[b"key: ", pem, b"end"]), b"key: ***\r\nend");
        // One line quoted inside other text.
        assert_eq!(
            masked(&[pem], &[b"got '9w0BAQEFAASCAT8wggE7' from it"]),
            b"got '***' from it"
        );
    }

    #[test]
    fn values_and_lines_shorter_than_four_bytes_are_not_masked() {
        assert_eq!(masked(&[b"abc"], &[b"abc abcabc\n"]), b"abc abcabc\n");
        // The 3-byte line of a multi-line value stays; the long line and the whole are masked.
        assert_eq!(
            masked(
                &[b"xyz\nlonger-line"],
                &[b"xyz|longer-line|xyz\nlonger-line"]
            ),
            b"xyz|***|***"
        );
        assert_eq!(patterns(&[b"abc", b"", b"\n\n"]).len(), 0);
    }

    #[test]
    fn binary_non_secret_bytes_pass_byte_exact() {
        // Every byte value, pseudo-random bytes, and partial prefixes of the secret.
        let mut data: Vec<u8> = (0..=255u8).collect();
        let mut x: u32 = 0x9e37_79b9;
        for _ in 0..8192 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            data.push(x.to_le_bytes()[0]);
        }
        data.extend_from_slice(b"\0\xffsec\xff\0secr\r\nsecre");
        let secret: &[u8] = b"secret\x00\xff";
        assert!(!data.windows(secret.len()).any(|w| w == secret));
        for size in [1, 7, 64, 4096, data.len()] {
            let chunks: Vec<&[u8]> = data.chunks(size).collect();
            assert_eq!(masked(&[secret], &chunks), data, "chunk size {size}");
        }
    }

    #[test]
    fn a_chunk_ending_in_a_prefix_is_emitted_once_it_goes_elsewhere() {
        let secret: &[u8] = b"tok-123456";
        let (all, each) = run(&[secret], &[b"a tok-12", b"34 and more\n", b"tok-"]);
        assert_eq!(each[0], b"a ");
        assert_eq!(each[1], b"tok-1234 and more\n");
        // Held to the end of the stream, then emitted exactly.
        assert_eq!(each[2], b"");
        assert_eq!(all, b"a tok-1234 and more\ntok-");
    }

    #[test]
    fn nothing_to_mask_passes_through() {
        let (all, each) = run(&[b"ab"], &[b"ab\n", b"\0\x01"]);
        assert_eq!(each[0], b"ab\n");
        assert_eq!(all, b"ab\n\0\x01");
    }

    /// The whole-input answer, by brute force: every occurrence of every pattern,
    /// overlapping ones merged, each merged span one `***`.
    fn reference_mask(p: &Patterns, text: &[u8]) -> Vec<u8> {
        let mut spans = Vec::new();
        for start in 0..text.len() {
            for pat in &p.sorted {
                if text[start..].starts_with(pat) {
                    spans.push((start, start + pat.len()));
                }
            }
        }
        spans.sort_unstable();
        let mut out = Vec::new();
        let mut done = 0;
        let mut in_mask = false;
        for (start, end) in spans {
            if in_mask && start < done {
                done = done.max(end);
                continue;
            }
            if end <= done {
                continue;
            }
            out.extend_from_slice(&text[done..start]);
            out.extend_from_slice(REPLACEMENT);
            done = end;
            in_mask = true;
        }
        out.extend_from_slice(&text[done..]);
        out
    }

    #[test]
    fn streaming_equals_whole_input_masking_for_random_input_and_chunking() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            usize::try_from(x % n).unwrap()
        };
        // A tiny alphabet makes prefixes, repeats and overlaps frequent.
        let alphabet = b"abc\n";
        for round in 0..3000 {
            let values: Vec<Vec<u8>> = (0..1 + next(3))
                .map(|_| (0..2 + next(8)).map(|_| alphabet[next(4)]).collect())
                .collect();
            let p = patterns(&values.iter().map(|v| v.as_slice()).collect::<Vec<_>>());
            let text: Vec<u8> = (0..next(60)).map(|_| alphabet[next(4)]).collect();
            let mut chunks = Vec::new();
            let mut rest = text.as_slice();
            while !rest.is_empty() {
                let (a, b) = rest.split_at((1 + next(6)).min(rest.len()));
                chunks.push(a);
                rest = b;
            }
            let mut m = Masker::new(Arc::clone(&p));
            let mut out = Zeroizing::new(Vec::new());
            for chunk in &chunks {
                m.push(chunk, &mut out);
            }
            m.finish(&mut out);
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&reference_mask(&p, &text)),
                "round {round}: values {values:?}, chunks {chunks:?}"
            );
        }
    }

    #[test]
    fn the_held_tail_never_exceeds_the_longest_pattern() {
        let secret: &[u8] = b"aaaaaaab";
        let p = patterns(&[secret]);
        let mut m = Masker::new(Arc::clone(&p));
        let mut out = Zeroizing::new(Vec::new());
        for _ in 0..100 {
            m.push(b"a", &mut out);
            assert!(m.pending.len() <= p.max_hold());
        }
        m.push(b"b", &mut out);
        m.finish(&mut out);
        assert_eq!(
            out.as_slice(),
            [&[b'a'; 93][..], b"***"].concat().as_slice()
        );
    }

    #[test]
    fn a_value_past_the_dfa_bound_is_masked_by_the_other_automaton() {
        // Base64-like and not periodic, as a real key is (a periodic value is the
        // hold-back search's slow case: see `hold_from`).
        let mut x: u32 = 12345;
        let big: Vec<u8> = (0..100_000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                    [(x >> 16) as usize % 64]
            })
            .collect();
        assert!(big.len() > DFA_MAX_PATTERN_BYTES);
        let text = [b"before ".as_slice(), &big, b" after"].concat();
        let chunks: Vec<&[u8]> = text.chunks(4096).collect();
        assert_eq!(masked(&[&big], &chunks), b"before *** after");
    }

    #[test]
    fn a_trailing_newline_of_a_value_is_not_masked() {
        let got = masked(
            &[b"canary-NLfile42\n"],
            &[b"A canary-NLfile42\nB canary-NLfile42\r\nC\n"],
        );
        assert_eq!(got, b"A ***\nB ***\r\nC\n");
        let pem: &[u8] = b"-----BEGIN K-----\nsecretline1\n-----END K-----\n";
        assert_eq!(masked(&[pem], &[pem]), b"***\n");
    }
}
