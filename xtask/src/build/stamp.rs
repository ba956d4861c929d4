//! Stage stamps: what a stage's last successful run saw.
//!
//! A stamp is a JSON map from input name to fingerprint (a hash, a version, a flag string),
//! stored at `build/stamps/<stage>.json` and written only after the stage succeeded. A stage
//! reruns when any input differs from its stamp or any declared output is missing; the first
//! difference is the reason `--explain` prints.

use std::{
    collections::BTreeMap,
    fs,
    io::Read,
    path::{Path, PathBuf},
    time::UNIX_EPOCH,
};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::util;

/// The inputs of one stage, by name.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Inputs(pub BTreeMap<String, String>);

impl Inputs {
    pub fn new() -> Inputs {
        Inputs::default()
    }

    pub fn add(&mut self, name: &str, value: impl Into<String>) -> &mut Inputs {
        self.0.insert(name.to_string(), value.into());
        self
    }
}

/// Why a stage must run, or that it need not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    UpToDate,
    Stale(String),
}

pub struct Stamp {
    path: PathBuf,
}

impl Stamp {
    pub fn new(stamps_dir: &Path, stage: &str) -> Stamp {
        Stamp {
            path: stamps_dir.join(format!("{stage}.json")),
        }
    }

    /// Compares `inputs` with the stamp and checks that every output exists.
    pub fn freshness(&self, inputs: &Inputs, outputs: &[PathBuf]) -> Freshness {
        let old: Inputs = match fs::read_to_string(&self.path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
        {
            Some(old) => old,
            None => return Freshness::Stale("no stamp (first run, or the last run failed)".into()),
        };
        for (name, value) in &inputs.0 {
            match old.0.get(name) {
                None => return Freshness::Stale(format!("new input `{name}`")),
                Some(v) if v != value => {
                    return Freshness::Stale(format!(
                        "input `{name}` changed ({} → {})",
                        short(v),
                        short(value)
                    ))
                }
                Some(_) => {}
            }
        }
        if let Some(name) = old.0.keys().find(|k| !inputs.0.contains_key(*k)) {
            return Freshness::Stale(format!("input `{name}` is gone"));
        }
        if let Some(missing) = outputs.iter().find(|o| !o.exists()) {
            return Freshness::Stale(format!("output {} is missing", missing.display()));
        }
        Freshness::UpToDate
    }

    /// Records a successful run.
    pub fn write(&self, inputs: &Inputs) -> Result<()> {
        let text = serde_json::to_string_pretty(inputs)?;
        util::write_if_changed(&self.path, text.as_bytes())?;
        Ok(())
    }

    /// Forgets the last run (the stage's outputs are about to change).
    pub fn clear(&self) -> Result<()> {
        util::remove_any(&self.path)
    }
}

fn short(v: &str) -> String {
    if v.len() > 24 {
        format!(
            "{}…",
            &v[..v.char_indices().nth(20).map_or(v.len(), |(i, _)| i)]
        )
    } else {
        v.to_string()
    }
}

/// A fingerprint of many files from their metadata only (relative path, size, mtime): cheap
/// enough to run over thousands of files on every build, which is what keeps a no-op build
/// under a second. Editing a file changes its mtime; a file added or removed changes the list.
pub fn metadata_fingerprint(root: &Path, files: &[PathBuf]) -> Result<String> {
    let mut hasher = Sha256::new();
    for f in files {
        let meta = fs::metadata(f).with_context(|| format!("cannot stat {}", f.display()))?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let rel = f.strip_prefix(root).unwrap_or(f);
        hasher.update(rel.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update(meta.len().to_le_bytes());
        hasher.update(mtime.to_le_bytes());
    }
    Ok(format!(
        "{} files {}",
        files.len(),
        &util::hex(&hasher.finalize())[..16]
    ))
}

/// A fingerprint of file contents (for small inputs whose mtime is not to be trusted, such as
/// our own patch files and CMake lists, which git checkouts re-date).
pub fn content_fingerprint(files: &[PathBuf]) -> Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = Vec::new();
    for f in files {
        buf.clear();
        fs::File::open(f)
            .and_then(|mut file| file.read_to_end(&mut buf))
            .with_context(|| format!("cannot read {}", f.display()))?;
        hasher.update(
            f.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .as_bytes(),
        );
        hasher.update((buf.len() as u64).to_le_bytes());
        hasher.update(&buf);
    }
    Ok(util::hex(&hasher.finalize())[..16].to_string())
}

/// Every file under `dir` whose name ends with one of `suffixes`, sorted (deterministic).
pub fn files_under(dir: &Path, suffixes: &[&str]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = fs::read_dir(&d).with_context(|| format!("cannot read {}", d.display()))?;
        for e in entries {
            let e = e?;
            let p = e.path();
            let ty = e.file_type()?;
            if ty.is_dir() {
                stack.push(p);
            } else if suffixes.iter().any(|s| p.to_string_lossy().ends_with(s)) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::test_dir;

    #[test]
    fn a_stamp_says_why_a_stage_reruns() {
        let dir = test_dir("stamp");
        let stamp = Stamp::new(&dir, "configure");
        let out = dir.join("out.txt");
        let mut inputs = Inputs::new();
        inputs.add("flags", "-O2").add("toolchain", "abc");
        assert!(
            matches!(stamp.freshness(&inputs, &[]), Freshness::Stale(r) if r.contains("no stamp"))
        );
        stamp.write(&inputs).unwrap();
        assert!(
            matches!(stamp.freshness(&inputs, std::slice::from_ref(&out)), Freshness::Stale(r) if r.contains("out.txt is missing"))
        );
        fs::write(&out, "x").unwrap();
        assert_eq!(
            stamp.freshness(&inputs, std::slice::from_ref(&out)),
            Freshness::UpToDate
        );
        let mut changed = inputs.clone();
        changed.add("flags", "-O0");
        assert_eq!(
            stamp.freshness(&changed, std::slice::from_ref(&out)),
            Freshness::Stale("input `flags` changed (-O2 → -O0)".into())
        );
        let mut more = inputs.clone();
        more.add("new", "1");
        assert!(
            matches!(stamp.freshness(&more, &[]), Freshness::Stale(r) if r.contains("new input `new`"))
        );
    }

    #[test]
    fn the_metadata_fingerprint_sees_edits_and_new_files() {
        let dir = test_dir("fingerprint");
        fs::write(dir.join("a.c"), "int a;").unwrap();
        let files = files_under(&dir, &[".c"]).unwrap();
        let one = metadata_fingerprint(&dir, &files).unwrap();
        assert_eq!(one, metadata_fingerprint(&dir, &files).unwrap());
        std::thread::sleep(std::time::Duration::from_millis(10));
        fs::write(dir.join("a.c"), "int a; ").unwrap();
        assert_ne!(one, metadata_fingerprint(&dir, &files).unwrap());
        fs::write(dir.join("b.c"), "int b;").unwrap();
        let files2 = files_under(&dir, &[".c"]).unwrap();
        assert_eq!(files2.len(), 2);
    }
}
