//! Helpers shared by the integration tests that drive `cargo xtask build` for real.

#![allow(dead_code)]

#[path = "../../src/gate.rs"]
pub mod gate;
#[path = "../../src/paths.rs"]
pub mod paths;

use std::{
    fs,
    path::{Path, PathBuf},
};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The provisioned toolchain record, or None (SKIPPED) unless CI requires it.
pub fn toolchain() -> Option<serde_json::Value> {
    // The cache `cargo xtask` resolves with no `--cache-dir`, by the same code.
    let cache = paths::ToolCache::standard(None);
    match fs::read_to_string(cache.root.join("toolchain.json")) {
        Ok(t) => Some(serde_json::from_str(&t).unwrap()),
        Err(_) => {
            gate::skip(
                gate::Need::Toolchain,
                "no toolchain installed (run `cargo xtask toolchain install`)",
            );
            None
        }
    }
}

pub fn line_of<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line `{prefix}…` in:\n{text}"))
}

pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            fs::copy(e.path(), &target).unwrap();
        }
    }
}
