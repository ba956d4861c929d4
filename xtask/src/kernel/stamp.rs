//! Stamps: a step is skipped when the hash of its inputs is the one recorded after its last
//! successful run. The stamp is removed before a step runs and written only after it succeeded,
//! so an interrupted or failed step always runs again.

use std::{
    fs,
    path::{Path, PathBuf},
    time::UNIX_EPOCH,
};

use anyhow::{Context, Result};
use serde_json::{json, Value};

use crate::{pins::Pins, toolchain::Toolchain, util};

#[derive(Debug, Clone)]
pub struct Stamp {
    path: PathBuf,
    inputs: Value,
    key: String,
}

impl Stamp {
    /// A stamp at `path` for these inputs (any JSON: versions, flags, fingerprints).
    pub fn new(path: PathBuf, inputs: Value) -> Stamp {
        let key = util::sha256_bytes(inputs.to_string().as_bytes());
        Stamp { path, inputs, key }
    }

    /// The hash of the inputs: dependents put it into their own inputs.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether the last successful run had exactly these inputs.
    pub fn is_current(&self) -> bool {
        fs::read_to_string(&self.path)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v.get("key").and_then(Value::as_str).map(str::to_string))
            .is_some_and(|k| k == self.key)
    }

    /// Forgets the last run (before running the step again).
    pub fn invalidate(&self) -> Result<()> {
        util::remove_any(&self.path)
    }

    /// Records a successful run.
    pub fn record(&self) -> Result<()> {
        let text = serde_json::to_string_pretty(&json!({
            "key": self.key,
            "inputs": self.inputs,
        }))?;
        util::write_atomic(&self.path, text.as_bytes())
    }
}

/// The toolchain as far as it decides what a compiler produces.
pub fn toolchain_inputs(tc: &Toolchain, pins: &Pins) -> Value {
    json!({
        "emscripten": pins.emscripten.version,
        "emscripten_dir": tc.emscripten_dir,
        "llvm_bin": tc.llvm_bin,
        "cmake": tc.cmake,
    })
}

/// A fingerprint of a source tree that is cheap to compute: every file's path, size and
/// modification time (`.git` left out). An edit to a local copy changes it.
pub fn tree_fingerprint(dir: &Path) -> Result<String> {
    let mut entries = Vec::new();
    walk(dir, dir, &mut entries)?;
    entries.sort();
    Ok(util::sha256_bytes(entries.join("\n").as_bytes()))
}

/// A fingerprint of a few small files of our own, by content: every file's path and sha256.
pub fn content_fingerprint(dir: &Path) -> Result<String> {
    let mut files = Vec::new();
    walk(dir, dir, &mut files)?;
    let mut entries = Vec::new();
    for line in files {
        let rel = line.split('\t').next().unwrap_or_default().to_string();
        entries.push(format!("{rel}\t{}", util::sha256_file(&dir.join(&rel))?));
    }
    entries.sort();
    Ok(util::sha256_bytes(entries.join("\n").as_bytes()))
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_name() == ".git" {
            continue;
        }
        let meta =
            fs::metadata(&path).with_context(|| format!("cannot stat {}", path.display()))?;
        if meta.is_dir() {
            walk(root, &path, out)?;
        } else {
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            let rel = path.strip_prefix(root).unwrap_or(&path);
            out.push(format!("{}\t{}\t{mtime}", rel.display(), meta.len()));
        }
    }
    Ok(())
}
