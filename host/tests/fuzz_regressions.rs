//! Inputs found by `cargo fuzz` (see FUZZING.md), replayed through the same
//! checks the fuzz targets run (`common/fuzz_checks.rs`), plus the committed
//! seed corpora of `fuzz/corpus/`.
//!
//! A crash input is kept as `tests/fuzz-regressions/<target>/<name>` next to
//! the fix; this test fails if any of them panics again.

#[path = "common/fuzz_checks.rs"]
mod fuzz_checks;

use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The files of `dir`, sorted; none if it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.extension().is_none_or(|e| e != "md"))
        .collect();
    files.sort();
    files
}

/// Runs `check` on every regression input and seed of `target`; returns how
/// many seeds there were.
fn replay(target: &str, check: fn(&[u8])) -> usize {
    let regressions = files(&Path::new(ROOT).join("tests/fuzz-regressions").join(target));
    let seeds = files(&Path::new(ROOT).join("../fuzz/corpus").join(target));
    for path in regressions.iter().chain(&seeds) {
        let bytes = std::fs::read(path).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&bytes));
        assert!(outcome.is_ok(), "{} fails its fuzz check", path.display());
    }
    seeds.len()
}

#[test]
fn idx() {
    assert!(replay("idx", fuzz_checks::idx) >= 2, "seed corpus missing");
}

#[test]
fn csv() {
    assert!(replay("csv", fuzz_checks::csv) >= 2, "seed corpus missing");
}

#[test]
fn csv_options() {
    assert!(
        replay("csv_options", fuzz_checks::csv_options) >= 2,
        "seed corpus missing"
    );
}

#[test]
fn checkpoint() {
    assert!(
        replay("checkpoint", fuzz_checks::checkpoint) >= 2,
        "seed corpus missing"
    );
}

#[test]
fn picture() {
    assert!(
        replay("picture", fuzz_checks::picture) >= 3,
        "seed corpus missing"
    );
}
