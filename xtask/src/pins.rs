//! `pins.toml` (every version) and `pins.lock` (the sha256 of every download).
//!
//! Both files live at the repository root. `pins.toml` is edited by people; `pins.lock` is written
//! by the xtask when a file is downloaded for the first time and verified on every later use.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};

use crate::{paths, util};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pins {
    pub lean: Lean,
    pub emscripten: Emscripten,
    pub node: Node,
    pub python: BTreeMap<String, String>,
    pub npm: BTreeMap<String, String>,
    pub sources: BTreeMap<String, Source>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lean {
    pub tag: String,
    pub commit: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Emscripten {
    pub version: String,
    pub llvm_major: u32,
    pub binaryen: String,
    pub acorn: String,
    pub debian_package: String,
    pub debian_suite: String,
    pub emsdk_git: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Node {
    pub min_major: u32,
    pub wheel: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Absent only for `lean4`, whose version is `[lean].tag`.
    pub version: Option<String>,
    pub url: String,
}

/// A source with its version resolved and its download named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedSource {
    pub name: String,
    pub version: String,
    pub url: String,
    /// The file name used in the download cache, in a mirror directory and as the key in
    /// `pins.lock`, e.g. `lean4-v4.28.0.tar.gz`.
    pub artifact: String,
}

impl Pins {
    /// Loads `pins.toml` from the repository root and checks it against `lean-wasm/lean-toolchain`.
    pub fn load() -> Result<Pins> {
        let root = paths::project_root();
        Pins::load_from(
            &root.join("pins.toml"),
            &root.join("lean-wasm/lean-toolchain"),
        )
    }

    pub fn load_from(pins_file: &Path, lean_toolchain_file: &Path) -> Result<Pins> {
        let text = fs::read_to_string(pins_file)
            .with_context(|| format!("cannot read the pin file {}", pins_file.display()))?;
        let pins: Pins = toml::from_str(&text)
            .with_context(|| format!("{} is not a valid pin file", pins_file.display()))?;
        pins.validate(pins_file)?;

        let toolchain = fs::read_to_string(lean_toolchain_file).with_context(|| {
            format!(
                "cannot read {} (it names the Lean toolchain for elan)",
                lean_toolchain_file.display()
            )
        })?;
        let expected = pins.lean_toolchain();
        ensure!(
            toolchain.trim() == expected,
            "{} says `{}` but {} pins [lean].tag = \"{}\"\n  fix: write `{}` into {}",
            lean_toolchain_file.display(),
            toolchain.trim(),
            pins_file.display(),
            pins.lean.tag,
            expected,
            lean_toolchain_file.display()
        );
        Ok(pins)
    }

    fn validate(&self, file: &Path) -> Result<()> {
        let f = file.display();
        ensure!(
            self.lean.tag.starts_with('v'),
            "{f}: [lean].tag = \"{}\" must be a lean4 release tag such as \"v4.28.0\"",
            self.lean.tag
        );
        ensure!(
            is_hex(&self.lean.commit, 40),
            "{f}: [lean].commit must be a 40-digit hex commit id, found \"{}\"",
            self.lean.commit
        );
        for (name, source) in &self.sources {
            ensure!(
                source.url.contains("{version}"),
                "{f}: [sources.{name}].url must contain `{{version}}`"
            );
            match (name.as_str(), &source.version) {
                ("lean4", Some(_)) => {
                    bail!("{f}: [sources.lean4] must not have a version: it is [lean].tag")
                }
                (n, None) if n != "lean4" => bail!("{f}: missing key `version` in [sources.{n}]"),
                _ => {}
            }
        }
        ensure!(
            self.sources.contains_key("lean4"),
            "{f}: missing table [sources.lean4]"
        );
        for (table, map) in [("python", &self.python), ("npm", &self.npm)] {
            for (name, version) in map {
                ensure!(!version.trim().is_empty(), "{f}: [{table}].{name} is empty");
            }
        }
        Ok(())
    }

    /// What `lean-wasm/lean-toolchain` must contain.
    pub fn lean_toolchain(&self) -> String {
        format!("leanprover/lean4:{}", self.lean.tag)
    }

    pub fn source(&self, name: &str) -> Result<ResolvedSource> {
        let Some(source) = self.sources.get(name) else {
            let known: Vec<_> = self.sources.keys().map(String::as_str).collect();
            bail!(
                "no source named `{name}` in pins.toml (known: {})",
                known.join(", ")
            );
        };
        let version = match &source.version {
            Some(v) => v.clone(),
            None => self.lean.tag.clone(),
        };
        let url = source.url.replace("{version}", &version);
        let ext = ["zip", "tar.xz"]
            .into_iter()
            .find(|ext| url.ends_with(&format!(".{ext}")))
            .unwrap_or("tar.gz");
        Ok(ResolvedSource {
            name: name.to_string(),
            artifact: format!("{name}-{version}.{ext}"),
            version,
            url,
        })
    }

    pub fn source_names(&self) -> impl Iterator<Item = &str> {
        self.sources.keys().map(String::as_str)
    }

    pub fn npm_version(&self, package: &str) -> Result<&str> {
        self.npm
            .get(package)
            .map(String::as_str)
            .with_context(|| format!("pins.toml has no [npm].{package}"))
    }
}

pub(crate) fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// `pins.lock`: artifact file name → sha256, sorted, written atomically.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    #[serde(default)]
    pub sha256: BTreeMap<String, String>,
}

/// What `Lock::verify_or_record` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// The hash matched the pinned one.
    Matched,
    /// No hash was pinned: this one was recorded in the lock file.
    Recorded,
}

impl Lock {
    pub fn path() -> PathBuf {
        paths::project_root().join("pins.lock")
    }

    pub fn load_from(path: &Path) -> Result<Lock> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Lock::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let lock: Lock = toml::from_str(&text)
            .with_context(|| format!("{} is not a valid lock file", path.display()))?;
        for (artifact, hash) in &lock.sha256 {
            ensure!(
                is_hex(hash, 64),
                "{}: [sha256].\"{artifact}\" = \"{hash}\" is not a sha256 (64 lowercase hex digits)\n  \
                 fix: delete that line; the next download records the right hash",
                path.display()
            );
        }
        Ok(lock)
    }

    pub fn save_to(&self, path: &Path) -> Result<()> {
        let mut text = String::from(
            "# sha256 of every file the xtask downloads, keyed by file name.\n\
             # Written by the xtask on first download, verified on every later use. Commit it.\n",
        );
        text.push_str(&toml::to_string(self).context("serialising pins.lock")?);
        util::write_if_changed(path, text.as_bytes())?;
        Ok(())
    }

    /// Verifies `file` (the download of `artifact`) against the lock at `lock_path`, or records its
    /// hash there when none is pinned yet. A mismatch is an error that names both hashes.
    pub fn verify_or_record(lock_path: &Path, artifact: &str, file: &Path) -> Result<Verified> {
        let actual = util::sha256_file(file)?;
        let mut lock = Lock::load_from(lock_path)?;
        match lock.sha256.get(artifact) {
            Some(expected) if *expected == actual => Ok(Verified::Matched),
            Some(expected) => bail!(
                "sha256 mismatch for {artifact} ({})\n  pinned in {}: {expected}\n  downloaded:   {actual}\n  \
                 The file is corrupt, truncated or not the pinned release. It was not used.\n  \
                 fix: delete it and fetch again; if upstream really re-published it, review the change \
                 and delete the line for {artifact} from {}",
                file.display(),
                lock_path.display(),
                lock_path.display()
            ),
            None => {
                lock.sha256.insert(artifact.to_string(), actual);
                lock.save_to(lock_path)?;
                crate::runner::note(&format!(
                    "recorded the sha256 of {artifact} in {} (first download): commit it",
                    lock_path.display()
                ));
                Ok(Verified::Recorded)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, text).unwrap();
        p
    }

    /// lean-toolchain as it agrees with the repository's pins.toml.
    const PINNED_TOOLCHAIN: &str = "leanprover/lean4:v4.28.0\n";

    fn real_pins_text() -> String {
        fs::read_to_string(paths::project_root().join("pins.toml")).unwrap()
    }

    #[test]
    fn the_repository_pin_file_loads() {
        let pins = Pins::load().unwrap();
        assert!(pins.lean.tag.starts_with("v4."));
        let lean = pins.source("lean4").unwrap();
        assert_eq!(lean.version, pins.lean.tag);
        assert!(lean.url.ends_with(&format!("{}.tar.gz", pins.lean.tag)));
        assert_eq!(lean.artifact, format!("lean4-{}.tar.gz", pins.lean.tag));
        assert!(pins
            .source("xeus")
            .unwrap()
            .url
            .contains(&pins.sources["xeus"].version.clone().unwrap()));
    }

    #[test]
    fn a_bad_pin_file_or_lean_toolchain_is_named_with_the_fix() {
        let real = real_pins_text();
        // (label, pins.toml, lean-toolchain, what the error must say)
        let cases: [(&str, &str, &str, &[&str]); 4] = [
            (
                "malformed",
                "[lean\ntag = 1",
                PINNED_TOOLCHAIN,
                &["pins.toml is not a valid pin file"],
            ),
            (
                "missing-key",
                &real.replace("llvm-major = 19\n", ""),
                PINNED_TOOLCHAIN,
                &["missing field `llvm-major`", "pins.toml"],
            ),
            (
                "missing-version",
                &real.replace("version = \"6.0.5\"\n", ""),
                PINNED_TOOLCHAIN,
                &["missing key `version` in [sources.xeus]"],
            ),
            (
                "disagree",
                &real,
                "leanprover/lean4:v4.27.0\n",
                &[
                    "lean-toolchain says `leanprover/lean4:v4.27.0`",
                    "fix: write `leanprover/lean4:v4.28.0`",
                ],
            ),
        ];
        for (label, pins_text, toolchain, want) in cases {
            let dir = util::test_dir(&format!("pins-{label}"));
            let pins = write(&dir, "pins.toml", pins_text);
            let tc = write(&dir, "lean-toolchain", toolchain);
            let err = format!("{:#}", Pins::load_from(&pins, &tc).unwrap_err());
            assert!(
                want.iter().all(|w| err.contains(w)),
                "{label}: {want:?} in {err}"
            );
        }
    }

    #[test]
    fn a_bad_hash_in_the_lock_is_named() {
        let dir = util::test_dir("pins-badhash");
        let lock = write(&dir, "pins.lock", "[sha256]\n\"x-1.tar.gz\" = \"abc\"\n");
        let err = format!("{:#}", Lock::load_from(&lock).unwrap_err());
        util::assert_contains(
            &err,
            &["pins.lock: [sha256].\"x-1.tar.gz\"", "not a sha256"],
        );
    }

    #[test]
    fn lock_records_then_verifies_then_rejects_tampering() {
        let dir = util::test_dir("pins-lock");
        let lock = dir.join("pins.lock");
        let file = write(&dir, "a-1.tar.gz", "payload");
        assert_eq!(
            Lock::verify_or_record(&lock, "a-1.tar.gz", &file).unwrap(),
            Verified::Recorded
        );
        assert_eq!(
            Lock::verify_or_record(&lock, "a-1.tar.gz", &file).unwrap(),
            Verified::Matched
        );
        fs::write(&file, "payload, tampered").unwrap();
        let err = format!(
            "{:#}",
            Lock::verify_or_record(&lock, "a-1.tar.gz", &file).unwrap_err()
        );
        assert!(err.contains("sha256 mismatch for a-1.tar.gz"), "{err}");
        // The lock still holds the original hash.
        let l = Lock::load_from(&lock).unwrap();
        assert_eq!(l.sha256["a-1.tar.gz"], util::sha256_bytes(b"payload"));
    }
}
