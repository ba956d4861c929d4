//! The pinned-artifact service: every file of the download cache (`<cache>/downloads`) comes in
//! one way. It lands in `<artifact>.partial` (a release archive by curl or from a mirror, an npm
//! package by `npm pack`, a Debian package by `apt-get download`), is checked against its
//! sha256 in `pins.lock` (or, with nothing pinned, has its hash recorded there on its first
//! download), and only then is moved into the cache. A cached file is checked too. Tarballs are
//! unpacked by the one safe unpacker ([`super::extract`]); `.deb` files by `dpkg -x`. Where a
//! release archive comes from (mirror, network) is download.rs's business.

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{ensure, Context, Result};

pub(crate) use super::extract::Shape;
use super::extract::{self, Extracted};
use crate::{
    paths::ToolCache,
    pins::Lock,
    runner::{self, Step},
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

/// A file of the download cache in hand: the cached copy, or one obtained now that waits in
/// `<artifact>.partial` until [`Candidate::admit`] moves it into the cache.
#[derive(Debug)]
pub(crate) struct Candidate {
    /// The file to read.
    pub file: PathBuf,
    /// The sha256 pinned in `pins.lock`, which the file was checked against; `None` if nothing
    /// was pinned (its hash is recorded when it is admitted).
    pub pinned: Option<String>,
    /// `<artifact>.partial` for a file obtained now: the file itself, or the folder it was made in.
    partial: Option<PathBuf>,
    artifact: String,
    store: Store,
}

impl Store {
    /// The download cache of `cache`, checked against the repository's `pins.lock`.
    pub fn standard(cache: &ToolCache) -> Store {
        Store {
            downloads: cache.downloads(),
            lock: Lock::path(),
        }
    }

    /// The sha256 `pins.lock` pins for `artifact`, if any.
    pub fn pinned(&self, artifact: &str) -> Result<Option<String>> {
        Ok(Lock::load_from(&self.lock)?.sha256.get(artifact).cloned())
    }

    /// The cached `artifact`, unless it does not match its pin: then it is removed, to be
    /// obtained again. A leftover `.partial` of an interrupted run is never trusted: removed.
    pub fn cached(&self, artifact: &str, pinned: Option<&str>) -> Result<Option<Candidate>> {
        let file = self.downloads.join(artifact);
        util::remove_any(&util::partial_path(&file))?;
        if !file.is_file() {
            return Ok(None);
        }
        if let Some(expected) = pinned {
            let actual = util::sha256_file(&file)?;
            if actual != expected {
                runner::warn(&format!(
                    "the cached {} does not match pins.lock (pinned {expected}, cached {actual}): \
                     removing it and fetching it again",
                    file.display()
                ));
                util::remove_any(&file)?;
                return Ok(None);
            }
        }
        Ok(Some(self.candidate(artifact, file, pinned, None)))
    }

    /// `artifact` obtained now by `make`, which is given `<artifact>.partial` and returns the
    /// file it made: that path itself, or a file in a folder it made there. Not yet checked
    /// ([`Candidate::verify`]); a failure leaves nothing behind.
    pub fn receive(
        &self,
        artifact: &str,
        pinned: Option<&str>,
        make: impl FnOnce(&Path) -> Result<PathBuf>,
    ) -> Result<Candidate> {
        let partial = util::partial_path(&self.downloads.join(artifact));
        util::remove_any(&partial)?;
        fs::create_dir_all(&self.downloads)
            .with_context(|| format!("cannot create {}", self.downloads.display()))?;
        match make(&partial) {
            Ok(file) => Ok(self.candidate(artifact, file, pinned, Some(partial))),
            Err(e) => {
                util::remove_any(&partial)?;
                Err(e)
            }
        }
    }

    fn candidate(
        &self,
        artifact: &str,
        file: PathBuf,
        pinned: Option<&str>,
        partial: Option<PathBuf>,
    ) -> Candidate {
        let (pinned, store) = (pinned.map(str::to_string), self.clone());
        let artifact = artifact.into();
        Candidate {
            file,
            pinned,
            partial,
            artifact,
            store,
        }
    }

    /// `<downloads>/artifact`: the cached file, or one `make` obtains into `<artifact>.partial`
    /// ([`Store::receive`]), checked against its pin or recorded, then cached.
    fn obtain(
        &self,
        artifact: &str,
        make: impl FnOnce(&Path) -> Result<PathBuf>,
    ) -> Result<PathBuf> {
        let pinned = self.pinned(artifact)?;
        let candidate = match self.cached(artifact, pinned.as_deref())? {
            Some(cached) => cached,
            None => self.receive(artifact, pinned.as_deref(), make)?.verify()?,
        };
        candidate.admit()
    }
}

impl Candidate {
    /// Checks a file obtained now against its pin; on a mismatch it is removed, so a bad file
    /// never reaches the cache.
    pub fn verify(self) -> Result<Candidate> {
        if self.pinned.is_none() || self.partial.is_none() {
            return Ok(self);
        }
        if let Err(e) = Lock::verify_or_record(&self.store.lock, &self.artifact, &self.file) {
            self.discard()?;
            return Err(e);
        }
        Ok(self)
    }

    /// Records the hash of a file nothing pinned (its first download), and moves a file
    /// obtained now into the cache. Returns the cached file.
    pub fn admit(self) -> Result<PathBuf> {
        if self.pinned.is_none() {
            Lock::verify_or_record(&self.store.lock, &self.artifact, &self.file)?;
        }
        let dest = self.store.downloads.join(&self.artifact);
        if let Some(partial) = &self.partial {
            fs::rename(&self.file, &dest).with_context(|| {
                format!("cannot move {} to {}", self.file.display(), dest.display())
            })?;
            util::remove_any(partial)?;
        }
        Ok(dest)
    }

    /// Drops a file found unusable: one obtained now, or a cached one that was never checked
    /// (nothing pinned). A cached file matching its pin stays: the fault is elsewhere.
    pub fn discard(&self) -> Result<()> {
        if self.partial.is_some() || self.pinned.is_none() {
            util::remove_any(&self.file)?;
        }
        match &self.partial {
            Some(partial) => util::remove_any(partial),
            None => Ok(()),
        }
    }
}

/// `npm pack NAME@VERSION` into `<downloads>/npm/`, hash-checked against pins.lock. `npm` is the
/// toolchain's npm (never the first on PATH), as a step with no arguments yet.
pub(crate) fn npm_pack(store: &Store, npm: Step, name: &str, version: &str) -> Result<PathBuf> {
    let artifact = format!(
        "{}-{version}.tgz",
        name.trim_start_matches('@').replace('/', "-")
    );
    let store = Store {
        downloads: store.downloads.join("npm"),
        lock: store.lock.clone(),
    };
    store.obtain(&artifact, |staging| {
        fs::create_dir_all(staging)
            .with_context(|| format!("cannot create {}", staging.display()))?;
        npm.args(["pack", "--silent", &format!("{name}@{version}")])
            .cwd(staging)
            .run()?;
        made(staging, &artifact, "npm pack")
    })
}

/// The file a tool was to leave in `staging`.
fn made(staging: &Path, artifact: &str, tool: &str) -> Result<PathBuf> {
    let file = staging.join(artifact);
    ensure!(file.exists(), "{tool} did not produce {}", file.display());
    Ok(file)
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

/// `apt-get download PACKAGE=VERSION` into the download cache of `cache`, hash-checked.
/// Nothing is installed.
pub fn apt_download(cache: &ToolCache, deb: &Deb) -> Result<PathBuf> {
    let artifact = deb.file_name();
    Store::standard(cache).obtain(&artifact, |staging| {
        fs::create_dir_all(staging)
            .with_context(|| format!("cannot create {}", staging.display()))?;
        let suite = deb.suite.map(|suite| private_apt(cache, suite));
        let mut opts = suite.transpose()?.unwrap_or_default();
        if util::is_root() {
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
        made(staging, &artifact, "apt-get download")
    })
}

/// apt options for a configuration of its own in `<cache>/apt-<suite>` that knows only `suite`.
fn private_apt(cache: &ToolCache, suite: &str) -> Result<Vec<String>> {
    let apt = cache.root.join(format!("apt-{suite}"));
    fs::create_dir_all(apt.join("lists/partial"))
        .with_context(|| format!("cannot create {}", apt.display()))?;
    let sources = apt.join("sources.list");
    let list = format!(
        "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian {suite} main\n"
    );
    util::write_if_changed(&sources, list.as_bytes())?;
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

/// Tarballs built entry by entry, for the tests of the unpacker.
#[cfg(test)]
pub(crate) mod test_tar {
    use std::io::Write;

    use tar::EntryType::{self, *};

    /// A gzip-compressed tar built entry by entry, with raw names (so that hostile names, which the
    /// `tar` crate's own builder refuses to write, can be written too).
    pub struct Tgz(pub tar::Builder<Vec<u8>>);

    impl Tgz {
        pub fn new() -> Tgz {
            Tgz(tar::Builder::new(Vec::new()))
        }

        pub fn raw(
            mut self,
            name: &str,
            kind: EntryType,
            link: Option<&str>,
            data: &[u8],
            mode: u32,
        ) -> Tgz {
            let mut h = tar::Header::new_gnu();
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_entry_type(kind);
            h.set_size(data.len() as u64);
            h.set_mode(mode);
            h.set_mtime(1_700_000_000);
            if let Some(l) = link {
                h.set_link_name_literal(l).unwrap();
            }
            h.set_cksum();
            self.0.append(&h, data).unwrap();
            self
        }

        pub fn global_commit(self, commit: &str) -> Tgz {
            let record = format!("comment={commit}\n");
            let record = format!("{} {record}", record.len() + 3); // "NN " prefix counts itself
            let record = record.as_bytes();
            self.raw("pax_global_header", XGlobalHeader, None, record, 0o666)
        }
        pub fn dir(self, name: &str) -> Tgz {
            self.raw(name, Directory, None, b"", 0o755)
        }
        pub fn file(self, name: &str, data: &str) -> Tgz {
            self.raw(name, Regular, None, data.as_bytes(), 0o644)
        }
        pub fn exe(self, name: &str, data: &str) -> Tgz {
            self.raw(name, Regular, None, data.as_bytes(), 0o755)
        }
        pub fn symlink(self, name: &str, target: &str) -> Tgz {
            self.raw(name, Symlink, Some(target), b"", 0o777)
        }
        pub fn hardlink(self, name: &str, target: &str) -> Tgz {
            self.raw(name, Link, Some(target), b"", 0o644)
        }

        pub fn gz(self) -> Vec<u8> {
            let tar = self.0.into_inner().unwrap();
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(&tar).unwrap();
            gz.finish().unwrap()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(name: &str) -> Store {
        let dir = util::test_dir(name);
        Store {
            lock: dir.join("pins.lock"),
            downloads: dir,
        }
    }

    fn make(bytes: &'static [u8]) -> impl FnOnce(&Path) -> Result<PathBuf> {
        move |partial| {
            fs::write(partial, bytes)?;
            Ok(partial.to_path_buf())
        }
    }

    #[test]
    fn a_cached_file_that_does_not_match_its_pin_is_obtained_again() {
        let store = store("artifact-cached-mismatch");
        let right = util::sha256_bytes(b"right");
        let lock = format!("[sha256]\n\"x-1.tgz\" = \"{right}\"\n");
        fs::write(&store.lock, lock).unwrap();
        let cached = store.downloads.join("x-1.tgz");
        fs::write(&cached, b"not it").unwrap();
        // Obtained again, it is still not the pinned file: refused, nothing is cached.
        let err = store.obtain("x-1.tgz", make(b"still not it")).unwrap_err();
        util::assert_contains(&format!("{err:#}"), &["sha256 mismatch for x-1.tgz"]);
        assert!(!cached.exists() && !util::partial_path(&cached).exists());
        // The pinned file is cached.
        fs::write(&cached, b"not it").unwrap();
        assert_eq!(store.obtain("x-1.tgz", make(b"right")).unwrap(), cached);
        assert_eq!(fs::read(&cached).unwrap(), b"right");
    }

    #[test]
    fn a_made_file_enters_the_cache_only_after_its_hash_is_recorded() {
        let store = store("artifact-made");
        let got = store
            .obtain("y-1.tgz", |staging| {
                fs::create_dir_all(staging)?;
                let f = staging.join("y-1.tgz");
                fs::write(&f, b"bytes").unwrap();
                Ok(f)
            })
            .unwrap();
        assert_eq!(got, store.downloads.join("y-1.tgz"));
        assert!(!store.downloads.join("y-1.tgz.partial").exists());
        let text = fs::read_to_string(&store.lock).unwrap();
        assert!(text.contains(&util::sha256_file(&got).unwrap()), "{text}");
        // A failure leaves nothing in the cache.
        let err = store
            .obtain("z-1.tgz", |_| anyhow::bail!("no network"))
            .unwrap_err();
        assert!(err.to_string().contains("no network"));
        assert!(!store.downloads.join("z-1.tgz").exists());
    }

    #[test]
    fn a_discarded_file_leaves_the_cache_as_it_was() {
        let store = store("artifact-discard");
        let pinned = util::sha256_bytes(b"good");
        // Obtained now: dropped with its partial file.
        let c = store.receive("a-1.tgz", Some(&pinned), make(b"good"));
        let c = c.unwrap().verify().unwrap();
        c.discard().unwrap();
        assert!(!c.file.exists());
        // Cached and matching its pin: kept (the fault is elsewhere).
        fs::write(store.downloads.join("a-1.tgz"), b"good").unwrap();
        let c = store.cached("a-1.tgz", Some(&pinned)).unwrap().unwrap();
        c.discard().unwrap();
        assert!(c.file.exists());
        // Cached, never checked: dropped.
        let c = store.cached("a-1.tgz", None).unwrap().unwrap();
        c.discard().unwrap();
        assert!(!c.file.exists());
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
