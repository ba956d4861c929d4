//! Small file-system helpers shared by every command.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

/// Whether this process runs as root (`id -u` says 0).
pub fn is_root() -> bool {
    crate::runner::cmd("id")
        .arg("-u")
        .read()
        .is_ok_and(|u| u.trim() == "0")
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = fs::File::open(path)
        .with_context(|| format!("cannot open {} to hash it", path.display()))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).with_context(|| format!("reading {}", path.display()))?;
    Ok(hex(&hasher.finalize()))
}

pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `contents` to `path` through a temporary file and a rename, so a reader never sees a
/// half-written file, and only when the contents differ (an unchanged file keeps its mtime, so
/// nothing that depends on it rebuilds). Returns whether the file was written.
pub fn write_if_changed(path: &Path, contents: &[u8]) -> Result<bool> {
    if let Ok(old) = fs::read(path) {
        if old == contents {
            return Ok(false);
        }
    }
    write_atomic(path, contents)?;
    Ok(true)
}

/// Writes `path` through a temporary sibling file and a rename.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let dir = path.parent().context("a file path without a parent")?;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = partial_path(path);
    let mut f =
        fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    f.write_all(contents)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.sync_all().ok();
    drop(f);
    fs::rename(&tmp, path)
        .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))
}

/// The temporary name used while `path` is being made: `<name>.partial`. A leftover one (after a
/// crash or Ctrl-C) is never trusted and is removed before the next attempt.
pub fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

/// Removes a file or a directory tree if it exists.
pub fn remove_any(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            fs::remove_dir_all(path).with_context(|| format!("cannot remove {}", path.display()))
        }
        Ok(_) => fs::remove_file(path).with_context(|| format!("cannot remove {}", path.display())),
        Err(_) => Ok(()),
    }
}

/// Hard-links `from` to `to` (creating `to`'s folder), or copies it where a link cannot be made
/// (another file system).
pub fn link_or_copy(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    if fs::hard_link(from, to).is_err() {
        fs::copy(from, to)
            .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    }
    Ok(())
}

/// Makes a directory `final_dir` by filling `<final_dir>.partial` with `fill` and renaming it
/// into place only when `fill` succeeded. A leftover partial directory is removed first.
pub fn make_dir_atomically(final_dir: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let partial = partial_path(final_dir);
    remove_any(&partial)?;
    fs::create_dir_all(&partial).with_context(|| format!("cannot create {}", partial.display()))?;
    if let Err(e) = fill(&partial) {
        // Nothing half-made is left behind (a later run would remove it anyway).
        let _ = remove_any(&partial);
        return Err(e);
    }
    remove_any(final_dir)?;
    fs::rename(&partial, final_dir).with_context(|| {
        format!(
            "cannot rename {} to {}",
            partial.display(),
            final_dir.display()
        )
    })
}

/// A fresh, empty directory for a test, under the target directory (never the user's cache).
#[cfg(test)]
pub fn test_dir(name: &str) -> PathBuf {
    let dir = crate::paths::project_root()
        .join("target/xtask-tests")
        .join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `text` to `path`, creating its folder (tests only: panics on failure).
#[cfg(test)]
pub fn write_file(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

/// Copies the tree `from` to `to` (tests only: panics on failure).
#[cfg(test)]
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else {
            fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Asserts that `text` holds each of `want`, and shows the text when one is not there.
#[cfg(test)]
#[track_caller]
pub fn assert_contains(text: &str, want: &[&str]) {
    for w in want {
        assert!(text.contains(w), "{w:?} is not in:\n{text}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_if_changed_keeps_an_unchanged_file() {
        let dir = test_dir("util-write");
        let p = dir.join("a.txt");
        assert!(write_if_changed(&p, b"one").unwrap());
        assert!(!write_if_changed(&p, b"one").unwrap());
        assert!(write_if_changed(&p, b"two").unwrap());
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert!(!partial_path(&p).exists());
    }

    #[test]
    fn make_dir_atomically_leaves_nothing_on_failure() {
        let dir = test_dir("util-atomic");
        let target = dir.join("tool");
        let err = make_dir_atomically(&target, |d| {
            fs::write(d.join("half"), "x")?;
            anyhow::bail!("interrupted")
        });
        assert!(err.is_err());
        assert!(!target.exists());
        assert!(!partial_path(&target).exists());
        make_dir_atomically(&target, |d| Ok(fs::write(d.join("whole"), "x")?)).unwrap();
        assert!(target.join("whole").exists());
        assert!(!partial_path(&target).exists());
    }

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256_bytes(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
