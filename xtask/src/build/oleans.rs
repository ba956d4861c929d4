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

use super::stamp;
use crate::util;

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
        // `Init.olean` next to the `Init/` folder, and everything under it.
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

/// Links `files` (under `lib`) into `dest` (made afresh) and writes `manifest` (the list with
/// sizes), which the link depends on.
pub fn stage(lib: &Path, files: &[PathBuf], dest: &Path, manifest: &Path) -> Result<()> {
    let mut listing = String::new();
    util::make_dir_atomically(dest, |partial| {
        for f in files {
            let rel = f
                .strip_prefix(lib)
                .context("an .olean outside its lib/lean tree")?;
            let to = partial.join(rel);
            if let Some(parent) = to.parent() {
                fs::create_dir_all(parent)?;
            }
            if fs::hard_link(f, &to).is_err() {
                fs::copy(f, &to)
                    .with_context(|| format!("cannot copy {} to {}", f.display(), to.display()))?;
            }
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
