//! The one integration test binary: a module per area.

mod check_template;
mod cli;
mod layering;
// The emulator, its seeding and the demo world are behind the `dev` feature (scripts/test and
// CI enable it; CI also counts that these tests ran).
#[cfg(feature = "dev")]
mod e2e;
mod no_delete;
mod template;

use std::path::{Path, PathBuf};

/// Every `.rs` file below `dir` (relative to the crate root), subdirectories included, sorted:
/// the source scans of `layering` and `no_delete` read the same tree.
pub fn rust_sources(dir: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join(dir), &mut files);
    files.sort();
    files
}
