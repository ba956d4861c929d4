//! Pinned files that are not source archives: npm packages (`npm pack`) and Debian packages
//! (`apt-get download`). Each is obtained into the download cache through `<artifact>.partial/`,
//! hash-checked against `pins.lock` (or its hash recorded on the first download) before it
//! enters the cache, and unpacked by the one safe unpacker ([`super::extract`]); `.deb` files by
//! `dpkg -x`. Release archives from a URL go through [`super::Fetcher`] (download.rs), which
//! keeps the same rules.

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{ensure, Context, Result};

pub(crate) use super::extract::Shape;
use super::extract::{self, Extracted};
use crate::{
    paths,
    pins::Lock,
    runner::Step,
    toolchain::{is_root, node::Npm},
    util,
};

/// Where obtained files are kept and whose hashes they are checked against.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    /// The download cache (`<cache>/downloads`).
    pub downloads: PathBuf,
    /// `pins.lock`.
    pub lock: PathBuf,
}

impl Store {
    pub fn standard() -> Store {
        Store {
            downloads: paths::downloads_dir(),
            lock: Lock::path(),
        }
    }
}

/// `dir/artifact`, made by `make` when it is not cached: `make` gets an empty staging folder
/// (`<artifact>.partial/`) and returns the file it produced there, which is hash-checked before
/// it is moved into the cache. A cached file is hash-checked too.
fn obtain(
    dir: &Path,
    lock: &Path,
    artifact: &str,
    make: impl FnOnce(&Path) -> Result<PathBuf>,
) -> Result<PathBuf> {
    let dest = dir.join(artifact);
    if dest.exists() {
        Lock::verify_or_record(lock, artifact, &dest)?;
        return Ok(dest);
    }
    let staging = util::partial_path(&dest);
    util::remove_any(&staging)?;
    fs::create_dir_all(&staging).with_context(|| format!("cannot create {}", staging.display()))?;
    let file = make(&staging)?;
    // Hash-check before the file enters the cache.
    Lock::verify_or_record(lock, artifact, &file)?;
    fs::rename(&file, &dest)
        .with_context(|| format!("cannot move {} to {}", file.display(), dest.display()))?;
    util::remove_any(&staging)?;
    Ok(dest)
}

/// `npm pack NAME@VERSION` with the toolchain's npm (never the first on PATH) into
/// `<downloads>/npm/`, hash-checked against pins.lock.
pub fn npm_pack(npm: &Npm, name: &str, version: &str) -> Result<PathBuf> {
    npm_pack_in(&Store::standard(), npm, name, version)
}

pub(crate) fn npm_pack_in(store: &Store, npm: &Npm, name: &str, version: &str) -> Result<PathBuf> {
    let artifact = format!(
        "{}-{version}.tgz",
        name.trim_start_matches('@').replace('/', "-")
    );
    obtain(
        &store.downloads.join("npm"),
        &store.lock,
        &artifact,
        |staging| {
            Step::new(format!("npm-pack-{name}"), &npm.node)
                .arg(&npm.cli)
                .args(["pack", "--silent", &format!("{name}@{version}")])
                .cwd(staging)
                .run()?;
            let file = staging.join(&artifact);
            ensure!(file.exists(), "npm pack did not produce {}", file.display());
            Ok(file)
        },
    )
}

/// A Debian package of an exact version.
#[derive(Debug, Clone)]
pub(crate) struct Deb<'a> {
    pub package: &'a str,
    /// The Debian version (`3.11.2-2`, `1:2.0-1`).
    pub version: &'a str,
    /// `all`, `amd64`…: the last part of the file name.
    pub arch: &'a str,
    /// Download from this suite of deb.debian.org with a private apt configuration in
    /// `<cache>/apt-<suite>` (the system's apt sources are not touched); `None`: the system's
    /// sources.
    pub suite: Option<&'a str>,
}

impl Deb<'_> {
    /// The file name `apt-get download` gives it (an epoch's `:` is written `%3a`).
    pub fn file_name(&self) -> String {
        format!(
            "{}_{}_{}.deb",
            self.package,
            self.version.replace(':', "%3a"),
            self.arch
        )
    }
}

/// `apt-get download PACKAGE=VERSION` into the download cache, hash-checked. Nothing is
/// installed.
pub fn apt_download(deb: &Deb) -> Result<PathBuf> {
    let store = Store::standard();
    let artifact = deb.file_name();
    obtain(&store.downloads, &store.lock, &artifact, |staging| {
        let mut opts = match deb.suite {
            Some(suite) => private_apt(suite)?,
            None => Vec::new(),
        };
        if is_root() {
            // As root, apt drops privileges to `_apt`, which cannot write into the user's cache.
            opts.push("-oAPT::Sandbox::User=root".to_string());
        }
        if let Some(suite) = deb.suite {
            Step::new(format!("apt-{suite}-update"), "apt-get")
                .args(&opts)
                .arg("update")
                .run()?;
        }
        Step::new(format!("apt-download-{}", deb.package), "apt-get")
            .args(&opts)
            .arg("download")
            .arg(format!("{}={}", deb.package, deb.version))
            .cwd(staging)
            .run()?;
        let file = staging.join(&artifact);
        ensure!(
            file.exists(),
            "apt-get download did not produce {}",
            file.display()
        );
        Ok(file)
    })
}

/// apt options for a configuration of its own in `<cache>/apt-<suite>` that knows only `suite`.
fn private_apt(suite: &str) -> Result<Vec<String>> {
    let apt = paths::cache_dir().join(format!("apt-{suite}"));
    fs::create_dir_all(apt.join("lists/partial"))
        .with_context(|| format!("cannot create {}", apt.display()))?;
    let sources = apt.join("sources.list");
    util::write_if_changed(
        &sources,
        format!(
            "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian {suite} main\n"
        )
        .as_bytes(),
    )?;
    Ok(vec![
        format!("-oDir::Etc::sourcelist={}", sources.display()),
        "-oDir::Etc::sourceparts=/dev/null".to_string(),
        format!("-oDir::State::Lists={}", apt.join("lists").display()),
        format!("-oDir::Cache={}", apt.join("cache").display()),
    ])
}

/// `dpkg -x`: the files of a .deb into `dest`, without installing it.
pub fn unpack_deb(deb: &Path, dest: &Path) -> Result<()> {
    let name = deb.file_name().unwrap_or_default().to_string_lossy();
    let package = name.split('_').next().unwrap_or("deb");
    Step::new(format!("dpkg-x-{package}"), "dpkg")
        .arg("-x")
        .arg(deb)
        .arg(dest)
        .run()?;
    Ok(())
}

/// Unpacks the tarball `tgz` into `dest` (created if missing; it must be empty) under the rules
/// of [`super::extract`]. Errors name the file.
pub fn unpack(tgz: &Path, dest: &Path, shape: Shape) -> Result<Extracted> {
    fs::create_dir_all(dest).with_context(|| format!("cannot create {}", dest.display()))?;
    let name = tgz.file_name().unwrap_or_default().to_string_lossy();
    extract::extract_shaped(tgz, &name, dest, shape)
        .with_context(|| format!("cannot unpack {}", tgz.display()))
}

/// An npm package (`package/…`) into `dest`, without the `package/` level.
pub fn unpack_npm(tgz: &Path, dest: &Path) -> Result<Extracted> {
    unpack(tgz, dest, Shape::TOP_FOLDER)
}

/// The `version` of the unpacked npm package in `dir` (its package.json), if any.
pub fn npm_package_version(dir: &Path) -> Option<String> {
    let text = fs::read_to_string(dir.join("package.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(json["version"].as_str()?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pins::Pins;

    /// From nothing: an empty downloads folder, packed with the npm the record names (never the
    /// first on PATH), verified against the pinned hash, and unpacked.
    #[test]
    fn the_recorded_npm_packs_a_pinned_tarball_into_an_empty_cache() {
        let Some(tc) = crate::toolchain::for_tests() else {
            return;
        };
        let dir = util::test_dir("npm-pack-from-nothing");
        let store = Store {
            downloads: dir.join("downloads"),
            lock: dir.join("pins.lock"),
        };
        fs::copy(Lock::path(), &store.lock).unwrap();
        let version = Pins::load().unwrap().emscripten.acorn;
        let tgz = npm_pack_in(&store, &tc.npm, "acorn", &version).unwrap();
        assert_eq!(tgz, dir.join(format!("downloads/npm/acorn-{version}.tgz")));
        assert!(!dir
            .join(format!("downloads/npm/acorn-{version}.tgz.partial"))
            .exists());
        // Recorded hashes are verified, not rewritten: the lock file is unchanged.
        assert_eq!(
            fs::read(&store.lock).unwrap(),
            fs::read(Lock::path()).unwrap()
        );
        let unpacked = dir.join("acorn");
        let out = unpack_npm(&tgz, &unpacked).unwrap();
        assert!(unpacked.join("package.json").is_file());
        assert!(out.files > 1);
    }

    #[test]
    fn a_cached_file_that_does_not_match_its_pin_is_refused() {
        let dir = util::test_dir("artifact-cached-mismatch");
        let lock = dir.join("pins.lock");
        fs::write(
            &lock,
            format!("[sha256]\n\"x-1.tgz\" = \"{}\"\n", "0".repeat(64)),
        )
        .unwrap();
        fs::write(dir.join("x-1.tgz"), b"not it").unwrap();
        let err = obtain(&dir, &lock, "x-1.tgz", |_| unreachable!()).unwrap_err();
        assert!(
            format!("{err:#}").contains("sha256 mismatch for x-1.tgz"),
            "{err:#}"
        );
    }

    #[test]
    fn a_made_file_enters_the_cache_only_after_its_hash_is_recorded() {
        let dir = util::test_dir("artifact-made");
        let lock = dir.join("pins.lock");
        let got = obtain(&dir, &lock, "y-1.tgz", |staging| {
            let f = staging.join("y-1.tgz");
            fs::write(&f, b"bytes").unwrap();
            Ok(f)
        })
        .unwrap();
        assert_eq!(got, dir.join("y-1.tgz"));
        assert!(!dir.join("y-1.tgz.partial").exists());
        let text = fs::read_to_string(&lock).unwrap();
        assert!(text.contains(&util::sha256_file(&got).unwrap()), "{text}");
        // A failure leaves nothing in the cache.
        let err = obtain(&dir, &lock, "z-1.tgz", |_| anyhow::bail!("no network")).unwrap_err();
        assert!(err.to_string().contains("no network"));
        assert!(!dir.join("z-1.tgz").exists());
    }

    #[test]
    fn debian_file_names_escape_the_epoch() {
        let deb = Deb {
            package: "p",
            version: "1:2.0-1",
            arch: "all",
            suite: None,
        };
        assert_eq!(deb.file_name(), "p_1%3a2.0-1_all.deb");
    }
}
