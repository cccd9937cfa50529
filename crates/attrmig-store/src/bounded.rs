//! What the state tables keep of values they don't control: the old and new values of a
//! cross-check's mismatches, a rejected row's old value, a database's error message.
//!
//! A report is for people and log systems: it names every mismatching key in full (a key
//! identifies the row), but shows at most [`VALUE_BYTES`] of each value, and says where
//! it cut one and how to tell two cut values apart: `…[cut: 4096 of 102400 bytes shown,
//! sha256 1f2e3d4c5b6a7988]`. The whole stored report is at most [`REPORT_BYTES`]. Keys
//! are not cut; a key's own index already bounds it in the application database.

use sha2::{Digest, Sha256};

/// How much of a value or error a report keeps.
pub const VALUE_BYTES: usize = 4096;
/// Values up to this long are kept whole: the marker would cost about as much as the
/// bytes it replaces, and a value cut once is not cut again.
const KEPT_WHOLE_UP_TO: usize = VALUE_BYTES + 128;
/// The most a cross-check run stores of its mismatches, as JSON.
pub const REPORT_BYTES: usize = 1 << 20;

/// `text`, or its first [`VALUE_BYTES`] (at a character boundary) and a marker saying how
/// long it was and giving its digest.
pub fn cut(text: String) -> String {
    if text.len() <= KEPT_WHOLE_UP_TO {
        return text;
    }
    let mut end = VALUE_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let digest: String = Sha256::digest(text.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "{}…[cut: {end} of {} bytes shown, sha256 {digest}]",
        &text[..end],
        text.len()
    )
}

/// A stored value split into what was kept and [`cut`]'s marker, if it was cut: for
/// showing the value quoted and the marker outside the quotes. A value that only looks
/// as if it ended in a marker (its kept part is not the length the marker says) is whole.
pub fn split_cut(stored: &str) -> (&str, Option<&str>) {
    let Some(at) = stored.rfind("…[cut: ") else {
        return (stored, None);
    };
    let (kept, marker) = stored.split_at(at);
    let shown = marker
        .strip_prefix("…[cut: ")
        .and_then(|m| m.split_once(" of "))
        .and_then(|(n, _)| n.parse::<usize>().ok());
    if shown == Some(kept.len()) && marker.ends_with(']') {
        (kept, Some(marker))
    } else {
        (stored, None)
    }
}

/// [`cut`] for an optional value.
pub fn cut_opt(text: Option<String>) -> Option<String> {
    text.map(cut)
}

/// The key of a row in the tables keyed by an application key (data issues, the step-9
/// fingerprint): SHA-256 of the key's UTF-8 bytes, lowercase hex. Keys are unbounded, and
/// no backend indexes unbounded text (PostgreSQL's B-tree holds about 2.7 KB an entry,
/// InnoDB 3 KB); the hash is fixed-size and exact where MySQL's default collation
/// would fold 'a' and 'A' together.
pub fn key_hash(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_value_splits_into_its_part_and_the_marker() {
        let long = "é".repeat(3000);
        let once = cut(long.clone());
        let (kept, marker) = split_cut(&once);
        assert!(
            long.starts_with(kept) && kept.len() == 4096,
            "{}",
            kept.len()
        );
        assert!(
            marker
                .unwrap()
                .starts_with("…[cut: 4096 of 6000 bytes shown, sha256 ")
        );
        assert_eq!(split_cut("short"), ("short", None));
        let lookalike = "x…[cut: 9 of 10 bytes shown, sha256 00]";
        assert_eq!(split_cut(lookalike), (lookalike, None));
    }

    #[test]
    fn short_values_are_kept_whole() {
        assert_eq!(cut("name 4".into()), "name 4");
        let edge = "x".repeat(KEPT_WHOLE_UP_TO);
        assert_eq!(cut(edge.clone()), edge);
    }

    #[test]
    fn long_values_are_cut_visibly_once() {
        let long = "0123456789".repeat(10_240);
        let once = cut(long.clone());
        assert!(once.starts_with(&long[..VALUE_BYTES]));
        assert!(
            once[VALUE_BYTES..].starts_with("…[cut: 4096 of 102400 bytes shown, sha256 "),
            "{}",
            &once[VALUE_BYTES..]
        );
        assert!(once.len() < KEPT_WHOLE_UP_TO);
        assert_eq!(cut(once.clone()), once, "a cut value is not cut again");
        // Two values alike in their first 4 KB are told apart by the digest.
        let mut other = long.clone();
        other.push('!');
        assert_ne!(cut(other), once);
    }

    #[test]
    fn cuts_fall_on_character_boundaries() {
        let wide = "é".repeat(5_000); // 2 bytes each
        let cut = cut(wide);
        assert!(cut.starts_with(&"é".repeat(2048)));
        assert!(cut.contains("[cut: 4096 of 10000 bytes shown"), "{cut}");
        let odd = format!("x{}", "é".repeat(5_000));
        assert!(super::cut(odd).contains("[cut: 4095 of 10001 bytes shown"));
    }

    #[test]
    fn key_hashes_are_sha256_hex() {
        assert_eq!(
            key_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
