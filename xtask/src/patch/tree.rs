//! The part of a lean4 source tree that the wasm build compiles, copied into the build directory.

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{bail, ensure, Context, Result};
use sha2::{Digest, Sha256};

/// Folders of `src/` the wasm64 runtime build compiles or includes. Everything else in lean4
/// (stage0, the Lean sources, tests, docs, nix) is not copied: it is large and the build does not
/// read it.
pub const COPIED_DIRS: &[&str] = &[
    "src/runtime",
    "src/kernel",
    "src/library",
    "src/util",
    "src/initialize",
    "src/include",
];

/// Single files directly in `src/` are copied too when they are headers or CMake templates
/// (`CMakeLists.txt`, `version.h.in`, `config.h.in`, `githash.h.in`, `stdlib_flags.h`, ...):
/// the version lines and the templates generate our headers, and some runtime files include
/// the top-level headers.
fn is_copied_top_level_file(name: &str) -> bool {
    name == "CMakeLists.txt" || name.ends_with(".h") || name.ends_with(".in")
}

/// Checks that `src` looks like a lean4 source tree before anything else reads it.
pub fn check_lean_tree(src: &Path) -> Result<()> {
    ensure!(
        src.is_dir(),
        "{} is not a directory\n  fix: pass --lean-src with the root of a lean4 checkout or release tarball",
        src.display()
    );
    let missing: Vec<&str> = COPIED_DIRS
        .iter()
        .copied()
        .filter(|d| !src.join(d).is_dir())
        .collect();
    ensure!(
        missing.is_empty(),
        "{} does not look like a lean4 source tree: missing {}\n  \
         fix: pass --lean-src with the folder that holds `src/runtime` (the repository root, not `src/`)",
        src.display(),
        missing.join(", ")
    );
    ensure!(
        src.join("src/CMakeLists.txt").is_file(),
        "{}: missing src/CMakeLists.txt (its LEAN_VERSION_* lines make version.h)",
        src.display()
    );
    Ok(())
}

/// Copies the build-relevant part of `src` into `dest` (which must exist and be empty).
/// Symbolic links are refused: a link could make the copy read outside the source tree.
pub fn copy_build_subset(src: &Path, dest: &Path) -> Result<Vec<PathBuf>> {
    let mut copied = Vec::new();
    for dir in COPIED_DIRS {
        copy_dir(&src.join(dir), &dest.join(dir), &mut copied)?;
    }
    for entry in sorted_entries(&src.join("src"))? {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ty = entry
            .file_type()
            .with_context(|| format!("cannot stat {}", entry.path().display()))?;
        if ty.is_file() && is_copied_top_level_file(&name) {
            let to = dest.join("src").join(&name);
            fs::copy(entry.path(), &to).with_context(|| {
                format!("cannot copy {} to {}", entry.path().display(), to.display())
            })?;
            copied.push(to);
        }
    }
    Ok(copied)
}

fn copy_dir(from: &Path, to: &Path, copied: &mut Vec<PathBuf>) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in sorted_entries(from)? {
        let path = entry.path();
        let ty = entry
            .file_type()
            .with_context(|| format!("cannot stat {}", path.display()))?;
        let target = to.join(entry.file_name());
        if ty.is_symlink() {
            bail!(
                "{} is a symbolic link; the lean4 tree must contain plain files only\n  \
                 fix: use a real checkout or an extracted release tarball",
                path.display()
            );
        } else if ty.is_dir() {
            copy_dir(&path, &target, copied)?;
        } else if ty.is_file() {
            fs::copy(&path, &target).with_context(|| {
                format!("cannot copy {} to {}", path.display(), target.display())
            })?;
            copied.push(target);
        }
    }
    Ok(())
}

/// The entries of `dir`, sorted by name.
fn sorted_entries(dir: &Path) -> Result<Vec<fs::DirEntry>> {
    let mut entries = fs::read_dir(dir)
        .and_then(|d| d.collect::<std::io::Result<Vec<_>>>())
        .with_context(|| format!("cannot read {}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    Ok(entries)
}

/// The files of the build copy that exist in `src` (relative `/`-separated paths, sorted).
pub fn build_files(src: &Path) -> Result<Vec<String>> {
    let mut files = Vec::new();
    for dir in COPIED_DIRS {
        list_files(src, &src.join(dir), &mut files)?;
    }
    for entry in sorted_entries(&src.join("src"))? {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_file() && is_copied_top_level_file(&name) {
            files.push(format!("src/{name}"));
        }
    }
    files.sort();
    Ok(files)
}

fn list_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    for entry in sorted_entries(dir)? {
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            list_files(root, &path, out)?;
        } else {
            out.push(
                path.strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    Ok(())
}

#[allow(dead_code)] // used by tests (here and in fetch) to prove a tree was left untouched
/// A digest of every file under `root` (relative path, type and content), for tests that prove a
/// user's tree was left byte-identical.
pub fn hash_tree(root: &Path) -> Result<String> {
    let mut hasher = Sha256::new();
    hash_dir(root, root, &mut hasher)?;
    Ok(crate::util::hex(&hasher.finalize()))
}

fn hash_dir(root: &Path, dir: &Path, hasher: &mut Sha256) -> Result<()> {
    for entry in sorted_entries(dir)? {
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let meta = fs::symlink_metadata(&path)?;
        if meta.is_dir() {
            hasher.update(format!("d {rel}\n"));
            hash_dir(root, &path, hasher)?;
        } else if meta.file_type().is_symlink() {
            hasher.update(format!("l {rel} {}\n", fs::read_link(&path)?.display()));
        } else {
            let bytes =
                fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            hasher.update(format!("f {rel} {}\n", bytes.len()));
            hasher.update(&bytes);
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                hasher.update(format!("m {:o}\n", meta.permissions().mode()));
            }
            hasher.update(format!("t {:?}\n", meta.modified().ok()));
        }
    }
    Ok(())
}
