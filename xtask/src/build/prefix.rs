//! The install prefix, switched over atomically.
//!
//! `<prefix>` is a symbolic link to `<prefix>.d/<n>`, a complete install. A new install is made
//! in `<prefix>.d/<n+1>.partial`, renamed, and only then does the link move (a new link renamed
//! over the old one: one atomic step). A failed or interrupted build therefore leaves the last
//! good prefix in place. Paths inside the prefix (kernel.json's argv) name `<prefix>` itself,
//! which stays valid across installs.
//!
//! What goes where inside a prefix, and the kernel spec's format, are crate::prefix's.

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{bail, Context, Result};

use crate::{
    prefix::{KernelSpec, BIN_DIR, CONDA_HISTORY},
    util,
};

fn versions_dir(prefix: &Path) -> PathBuf {
    let mut name = prefix.file_name().unwrap_or_default().to_os_string();
    name.push(".d");
    prefix.with_file_name(name)
}

/// Installs `modules` (each `.js` with its `.wasm` beside it) into a new prefix, with the kernel
/// spec when `kernel` is given (the modules then include `xlean.js`), and switches `prefix` to it.
// Without extra files: what tests and the site's tests install.
#[cfg_attr(not(test), allow(dead_code))]
pub fn install(prefix: &Path, modules: &[PathBuf], kernel: Option<&KernelSpec>) -> Result<()> {
    install_with(prefix, modules, &[], kernel)
}

/// [`install`], with more files for `bin/` next to the modules (the `--bundles` archives).
pub fn install_with(
    prefix: &Path,
    modules: &[PathBuf],
    bin_files: &[PathBuf],
    kernel: Option<&KernelSpec>,
) -> Result<()> {
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
        let bin = dir.join(BIN_DIR);
        fs::create_dir_all(&bin)?;
        for file in bin_files {
            let to = bin.join(file.file_name().unwrap());
            fs::copy(file, &to)
                .with_context(|| format!("cannot copy {} into the prefix", file.display()))?;
        }
        for m in modules {
            for file in [m.clone(), m.with_extension("wasm")] {
                let to = bin.join(file.file_name().unwrap());
                fs::copy(&file, &to)
                    .with_context(|| format!("cannot copy {} into the prefix", file.display()))?;
            }
        }
        if let Some(kernel) = kernel {
            kernel.write(dir, prefix)?;
        }
        let history = dir.join(CONDA_HISTORY);
        fs::create_dir_all(history.parent().unwrap())?;
        fs::write(history, "")?;
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
    use crate::prefix::{read_kernel, Backend, KERNEL_SPEC_DIR, LOGOS};

    /// `dir/<name>.js` holding `js`, with a `.wasm` beside it.
    fn write_module(dir: &Path, name: &str, js: &str) -> PathBuf {
        let path = dir.join(format!("{name}.js"));
        fs::write(&path, js).unwrap();
        fs::write(dir.join(format!("{name}.wasm")), "wasm").unwrap();
        path
    }

    #[test]
    fn a_new_install_replaces_the_old_one_and_refuses_a_real_directory() {
        let dir = util::test_dir("prefix");
        let module = write_module(&dir, "m", "one");
        let prefix = dir.join("prefix");
        install(&prefix, std::slice::from_ref(&module), None).unwrap();
        assert_eq!(fs::read_to_string(prefix.join("bin/m.js")).unwrap(), "one");
        assert!(prefix.join("conda-meta/history").exists());
        fs::write(&module, "two").unwrap();
        install(&prefix, std::slice::from_ref(&module), None).unwrap();
        assert_eq!(fs::read_to_string(prefix.join("bin/m.js")).unwrap(), "two");
        assert_eq!(fs::read_dir(versions_dir(&prefix)).unwrap().count(), 1);

        // A failing install (a module that does not exist) leaves the last good one.
        let err = install(&prefix, &[dir.join("missing.js")], None);
        assert!(err.is_err());
        assert_eq!(fs::read_to_string(prefix.join("bin/m.js")).unwrap(), "two");

        let real = dir.join("real");
        fs::create_dir_all(&real).unwrap();
        let msg = format!(
            "{:#}",
            install(&real, std::slice::from_ref(&module), None).unwrap_err()
        );
        assert!(msg.contains("is not an xlean prefix link"), "{msg}");
        let dotted = format!(
            "{:#}",
            install(&dir.join(".hidden"), &[module], None).unwrap_err()
        );
        assert!(dotted.contains("starting with a dot"), "{dotted}");
    }

    #[test]
    fn a_kernel_install_has_an_absolute_argv_without_extension_and_its_logos() {
        let dir = util::test_dir("prefix-kernel");
        let module = write_module(&dir, "xlean", "js");
        let prefix = dir.join("kernel-prefix");
        let spec = KernelSpec {
            backend: Backend::Test,
            lean_version: "4.28.0".into(),
        };
        install(&prefix, &[module], Some(&spec)).unwrap();
        // Read as every reader reads it: argv[0] absolute, without extension, its module there.
        let k = read_kernel(&prefix).unwrap();
        assert!(Path::new(&k.argv0).is_absolute(), "{}", k.argv0);
        assert_eq!(k.argv0, prefix.join("bin/xlean").display().to_string());
        assert!(k.js.is_file() && k.wasm.is_file());
        assert_eq!(k.backend, Backend::Test);
        assert!(
            k.display_name.contains("test backend"),
            "{}",
            k.display_name
        );
        let spec_dir = prefix.join(KERNEL_SPEC_DIR);
        for logo in LOGOS {
            assert!(spec_dir.join(logo).is_file(), "{logo}");
        }
        assert_eq!(
            fs::read(spec_dir.join("logo-64x64.png")).unwrap()[..8],
            *b"\x89PNG\r\n\x1a\n"
        );
        assert_eq!(fs::read(prefix.join("conda-meta/history")).unwrap(), b"");

        // A kernel spec without its module is refused, and the last install stays.
        let other = write_module(&dir, "other", "x");
        let msg = format!("{:#}", install(&prefix, &[other], Some(&spec)).unwrap_err());
        assert!(msg.contains("bin/xlean.js"), "{msg}");
        assert!(prefix.join("bin/xlean.js").is_file());
    }
}
