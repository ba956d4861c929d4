//! The install prefix, switched over atomically.
//!
//! `<prefix>` is a symbolic link to `<prefix>.d/<n>`, a complete install. A new install is made
//! in `<prefix>.d/<n+1>.partial`, renamed, and only then does the link move (a new link renamed
//! over the old one: one atomic step). A failed or interrupted build therefore leaves the last
//! good prefix in place. Paths inside the prefix (kernel.json's argv) name `<prefix>` itself,
//! which stays valid across installs.

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{bail, Context, Result};

use crate::util;

fn versions_dir(prefix: &Path) -> PathBuf {
    let mut name = prefix.file_name().unwrap_or_default().to_os_string();
    name.push(".d");
    prefix.with_file_name(name)
}

/// Installs `modules` (each `.js` with its `.wasm` beside it) into a new prefix and switches
/// `prefix` to it.
pub fn install(prefix: &Path, modules: &[PathBuf]) -> Result<()> {
    match fs::symlink_metadata(prefix) {
        Ok(m) if !m.file_type().is_symlink() => bail!(
            "{} exists and is not an xlean prefix link (xlean installs into a link it manages)\n  \
             fix: remove it, or pass another --prefix",
            prefix.display()
        ),
        _ => {}
    }
    if prefix
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
    {
        bail!(
            "--prefix {}: a name starting with a dot vanishes from static hosts such as GitHub Pages\n  \
             fix: choose a name without a leading dot",
            prefix.display()
        );
    }
    let versions = versions_dir(prefix);
    fs::create_dir_all(&versions)
        .with_context(|| format!("cannot create {}", versions.display()))?;
    let current = fs::read_link(prefix).ok();
    let next = (1..)
        .map(|n| versions.join(n.to_string()))
        .find(|p| !p.exists() && Some(p) != current.as_ref())
        .unwrap();

    util::make_dir_atomically(&next, |dir| {
        let bin = dir.join("bin");
        fs::create_dir_all(&bin)?;
        for m in modules {
            for file in [m.clone(), m.with_extension("wasm")] {
                let to = bin.join(file.file_name().unwrap());
                fs::copy(&file, &to)
                    .with_context(|| format!("cannot copy {} into the prefix", file.display()))?;
            }
        }
        // JupyterLite's xeus add-on expects a conda-like prefix.
        fs::create_dir_all(dir.join("conda-meta"))?;
        fs::write(dir.join("conda-meta/history"), "")?;
        Ok(())
    })?;

    // Switch: a fresh link renamed over the old one.
    let tmp_link = util::partial_path(prefix);
    util::remove_any(&tmp_link)?;
    std::os::unix::fs::symlink(&next, &tmp_link)
        .with_context(|| format!("cannot create the link {}", tmp_link.display()))?;
    fs::rename(&tmp_link, prefix)
        .with_context(|| format!("cannot switch {} to the new install", prefix.display()))?;

    // Older installs are no longer reachable.
    for entry in fs::read_dir(&versions)? {
        let p = entry?.path();
        if p != next {
            util::remove_any(&p)?;
        }
    }
    crate::runner::note(&format!(
        "installed into {} (-> {})",
        prefix.display(),
        next.display()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_install_replaces_the_old_one_and_refuses_a_real_directory() {
        let dir = util::test_dir("prefix");
        let module = dir.join("m.js");
        fs::write(&module, "one").unwrap();
        fs::write(dir.join("m.wasm"), "wasm").unwrap();
        let prefix = dir.join("prefix");
        install(&prefix, &[module.clone()]).unwrap();
        assert_eq!(fs::read_to_string(prefix.join("bin/m.js")).unwrap(), "one");
        assert!(prefix.join("conda-meta/history").exists());
        fs::write(&module, "two").unwrap();
        install(&prefix, &[module.clone()]).unwrap();
        assert_eq!(fs::read_to_string(prefix.join("bin/m.js")).unwrap(), "two");
        assert_eq!(fs::read_dir(versions_dir(&prefix)).unwrap().count(), 1);

        // A failing install (a module that does not exist) leaves the last good one.
        let err = install(&prefix, &[dir.join("missing.js")]);
        assert!(err.is_err());
        assert_eq!(fs::read_to_string(prefix.join("bin/m.js")).unwrap(), "two");

        let real = dir.join("real");
        fs::create_dir_all(&real).unwrap();
        let msg = format!("{:#}", install(&real, &[module.clone()]).unwrap_err());
        assert!(msg.contains("is not an xlean prefix link"), "{msg}");
        let dotted = format!(
            "{:#}",
            install(&dir.join(".hidden"), &[module]).unwrap_err()
        );
        assert!(dotted.contains("starting with a dot"), "{dotted}");
    }
}
