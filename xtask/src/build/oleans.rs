//! Which .olean files go into the module, and staging them for `--embed-file`.
//!
//! The prior art copied 2,060 files one by one during configure (73 s). Here they are hard
//! links (a copy only across file systems), made once and kept while their inputs are
//! unchanged.

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
};

use anyhow::{ensure, Context, Result};

use crate::stamp;
use crate::{
    prefix::{self, Bundle},
    util,
};

/// Every kind of file the pinned Lean reads for an import: the module data split by
/// visibility (`.olean`, `.olean.server`, `.olean.private`) and the IR the interpreter runs.
pub const SUFFIXES: &[&str] = &[".olean", ".olean.server", ".olean.private", ".ir"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Embed {
    /// Init only (the prelude every cell imports); the smallest module
    Init,
    /// Init, Std and Lean (lets cells `import Lean`; a much larger module)
    All,
}

impl Embed {
    pub fn name(self) -> &'static str {
        match self {
            Embed::Init => "init",
            Embed::All => "all",
        }
    }

    fn roots(self) -> &'static [&'static str] {
        match self {
            Embed::Init => &["Init"],
            Embed::All => &["Init", "Std", "Lean"],
        }
    }
}

/// The kernel's own modules that notebooks import (lean-wasm/XLean/Display.lean: the session
/// imports it when its .olean is on the search path). Embedded with every `--embed` choice.
pub const KERNEL_IMPORTABLE: &[&str] = &["XLean/Display"];

/// The files of `lib` (a `lib/lean` tree) that `embed` puts into the module, sorted.
pub fn select(lib: &Path, embed: Embed) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for module in KERNEL_IMPORTABLE {
        for suffix in SUFFIXES {
            let file = lib.join(format!("{module}{suffix}"));
            if file.is_file() {
                files.push(file);
            }
        }
    }
    for root in embed.roots() {
        files.extend(select_root(lib, root)?);
    }
    files.sort();
    ensure!(
        files
            .iter()
            .any(|f| f.to_string_lossy().ends_with("Init.olean")),
        "{} has no Init.olean: not a lib/lean tree of the pinned Lean",
        lib.display()
    );
    Ok(files)
}

/// One tree that `--bundles` ships beside the module instead of embedding it, and the other
/// bundled trees its modules import (the glue loads those first).
#[derive(Debug)]
pub struct BundledRoot {
    pub root: &'static str,
    pub needs: &'static [&'static str],
}

/// The trees that `--bundles` ships. Init stays embedded, so it is never a need. Lean's modules
/// import Std's (`Lean.Data.…` builds on `Std.Data.…`); Std imports only Init.
pub const BUNDLED_ROOTS: &[BundledRoot] = &[
    BundledRoot {
        root: "Std",
        needs: &[],
    },
    BundledRoot {
        root: "Lean",
        needs: &["Std"],
    },
];

/// The files of one stdlib tree (`Init.olean` … next to the `Init/` folder, and everything under
/// it), sorted; empty when absent.
pub fn select_root(lib: &Path, root: &str) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for suffix in SUFFIXES {
        let top = lib.join(format!("{root}{suffix}"));
        if top.is_file() {
            files.push(top);
        }
    }
    let dir = lib.join(root);
    if dir.is_dir() {
        files.extend(stamp::files_under(&dir, SUFFIXES)?);
    }
    files.sort();
    Ok(files)
}

/// Writes one gzip'd tar per root of [`BUNDLED_ROOTS`] that has files (paths relative to `lib`, so
/// they unpack into /lib/lean) and the list [`prefix::BUNDLE_LIST`] into `dest` (made afresh).
/// The archives are byte-for-byte reproducible: sorted entries, no dates, no owners. Each is named
/// after its content, `xlean-<root>.<hash>.tar.gz`, so that a browser may cache it for good: a
/// rebuild that changes it changes its name, and the list (revalidated) names the new one.
/// Returns the files written.
pub fn write_bundles(lib: &Path, dest: &Path) -> Result<Vec<PathBuf>> {
    let mut list = Vec::new();
    util::make_dir_atomically(dest, |partial| {
        for bundled in BUNDLED_ROOTS {
            let files = select_root(lib, bundled.root)?;
            if files.is_empty() {
                continue;
            }
            let unnamed = partial.join("bundle.partial");
            let raw = write_tar_gz(lib, &files, &unnamed)?;
            let name = bundle_name(bundled.root, &util::sha256_file(&unnamed)?);
            fs::rename(&unnamed, partial.join(&name))?;
            list.push(Bundle {
                file: name,
                into: "/lib/lean".into(),
                files: files.len(),
                bytes: raw,
                provides: vec![bundled.root.into()],
                needs: bundled.needs.iter().map(|n| n.to_string()).collect(),
            });
        }
        prefix::write_bundle_list(partial, &list)
    })?;
    let mut written: Vec<PathBuf> = fs::read_dir(dest)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    written.sort();
    Ok(written)
}

/// `xlean-std.<the first 16 hex digits of the archive's sha256>.tar.gz`: enough digits for the
/// server's rule for content-hashed names (docs/lite.md, "Serving").
fn bundle_name(root: &str, sha256: &str) -> String {
    format!("xlean-{}.{}.tar.gz", root.to_lowercase(), &sha256[..16])
}

/// A reproducible `.tar.gz` of `files` (under `lib`); returns the bytes before compression.
fn write_tar_gz(lib: &Path, files: &[PathBuf], to: &Path) -> Result<u64> {
    let out = fs::File::create(to).with_context(|| format!("cannot create {}", to.display()))?;
    let gz =
        flate2::write::GzEncoder::new(std::io::BufWriter::new(out), flate2::Compression::new(6));
    let (gz, raw) = write_tar(lib, files, gz, to)?;
    gz.finish()?
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()?;
    Ok(raw)
}

/// A reproducible tar of `files` (under `lib`, paths relative to it) into `out`, for the file
/// `to` (named in errors): sorted as given, no dates, no owners. Returns `out` and the bytes of
/// the files.
pub fn write_tar<W: std::io::Write>(
    lib: &Path,
    files: &[PathBuf],
    out: W,
    to: &Path,
) -> Result<(W, u64)> {
    let mut tar = tar::Builder::new(out);
    let mut raw = 0;
    for f in files {
        let rel = f
            .strip_prefix(lib)
            .context("an .olean outside its lib/lean tree")?;
        let data = fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, rel, data.as_slice())
            .with_context(|| format!("cannot add {} to {}", rel.display(), to.display()))?;
        raw += data.len() as u64;
    }
    let out = tar
        .into_inner()
        .with_context(|| format!("cannot finish {}", to.display()))?;
    Ok((out, raw))
}

/// Links `files` (under `lib`) into `dest` (made afresh) and writes `manifest` (the list with
/// sizes), which the link depends on.
pub fn stage(lib: &Path, files: &[PathBuf], dest: &Path, manifest: &Path) -> Result<()> {
    let mut listing = String::new();
    util::make_dir_atomically(dest, |partial| {
        for f in files {
            let rel = f
                .strip_prefix(lib)
                .context("an .olean outside its lib/lean tree")?;
            util::link_or_copy(f, &partial.join(rel))?;
            let _ = writeln!(listing, "{} {}", fs::metadata(f)?.len(), rel.display());
        }
        Ok(())
    })?;
    util::write_if_changed(manifest, listing.as_bytes())?;
    crate::runner::note(&format!(
        "staged {} files for /lib/lean in {}",
        files.len(),
        dest.display()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn init_selection_takes_every_kind_and_nothing_else() {
        let lib = crate::paths::project_root().join("tests/fixtures/lean-out/lib/lean");
        let init = select(&lib, Embed::Init).unwrap();
        let names: Vec<String> = init
            .iter()
            .map(|f| f.strip_prefix(&lib).unwrap().display().to_string())
            .collect();
        assert!(names.contains(&"Init.olean".to_string()));
        assert!(names.contains(&"Init/Prelude.olean.server".to_string()));
        assert!(names.contains(&"Init/Prelude.ir".to_string()));
        // Init, and of the kernel's modules only the one notebooks import.
        assert!(names.contains(&"XLean/Display.olean".to_string()));
        assert!(names.contains(&"XLean/Display.ir".to_string()));
        assert!(
            names
                .iter()
                .all(|n| n.starts_with("Init") || n.starts_with("XLean/Display.")),
            "{names:?}"
        );
        let all = select(&lib, Embed::All).unwrap();
        assert!(all.iter().any(|f| f.ends_with("Std/Fixture.olean")));
        assert!(!all.iter().any(|f| f.ends_with("XLean/Repl.olean")));
    }

    #[test]
    fn bundles_are_reproducible_tarballs_of_std_and_lean_with_their_list() {
        let lib = crate::paths::project_root().join("tests/fixtures/lean-out/lib/lean");
        let dir = util::test_dir("oleans-bundles");
        let first = write_bundles(&lib, &dir.join("a")).unwrap();
        let second = write_bundles(&lib, &dir.join("b")).unwrap();
        let names: Vec<String> = first
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into())
            .collect();
        // Named after their content.
        let hashed = |root: &str| {
            let file = first
                .iter()
                .find(|p| p.to_string_lossy().contains(&format!("xlean-{root}.")))
                .unwrap();
            bundle_name(root, &util::sha256_file(file).unwrap())
        };
        let (std_name, lean_name) = (hashed("std"), hashed("lean"));
        assert_eq!(names, ["xlean-bundles.json", &lean_name, &std_name]);
        assert!(std_name.ends_with(".tar.gz") && std_name.len() == "xlean-std..tar.gz".len() + 16);
        for (a, b) in first.iter().zip(&second) {
            assert_eq!(
                fs::read(a).unwrap(),
                fs::read(b).unwrap(),
                "{}",
                a.display()
            );
        }
        // The Std bundle holds exactly Std's files, by their paths under lib/lean.
        let gz = fs::File::open(dir.join("a").join(&std_name)).unwrap();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(gz));
        let mut inside = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().display().to_string();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
            assert_eq!(data, fs::read(lib.join(&path)).unwrap(), "{path}");
            inside.push(path);
        }
        assert_eq!(inside, ["Std/Fixture.olean", "Std.olean"]);
        let list: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(dir.join("a/xlean-bundles.json")).unwrap())
                .unwrap();
        assert_eq!(list["bundles"][0]["file"], std_name.as_str());
        assert_eq!(list["bundles"][0]["files"], 2);
        // What the glue needs to load a bundle only when a cell imports from it.
        assert_eq!(list["bundles"][0]["provides"], json!(["Std"]));
        assert_eq!(list["bundles"][0]["needs"], json!([]));
        assert_eq!(list["bundles"][1]["file"], lean_name.as_str());
        assert_eq!(list["bundles"][1]["provides"], json!(["Lean"]));
        assert_eq!(list["bundles"][1]["needs"], json!(["Std"]));
    }

    #[test]
    fn staging_links_and_lists() {
        let lib = crate::paths::project_root().join("tests/fixtures/lean-out/lib/lean");
        let dir = util::test_dir("oleans-stage");
        let files = select(&lib, Embed::Init).unwrap();
        stage(
            &lib,
            &files,
            &dir.join("lib/lean"),
            &dir.join("manifest.txt"),
        )
        .unwrap();
        let copied = fs::read(dir.join("lib/lean/Init/Prelude.olean")).unwrap();
        assert_eq!(copied, fs::read(lib.join("Init/Prelude.olean")).unwrap());
        let manifest = fs::read_to_string(dir.join("manifest.txt")).unwrap();
        assert_eq!(manifest.lines().count(), files.len());
    }
}
