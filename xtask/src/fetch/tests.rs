//! Tests of fetching with real archives built here, real files and (for the unreachable URL) the
//! real curl. Every test has its own scratch directory holding the lock file, the download cache,
//! the build directory and both config files: nothing touches the real `pins.lock`, the user's
//! cache or the network (the only URL ever tried is a closed port on loopback).
//!
//! The archives stand in for GitHub release tarballs: one top-level folder, a pax global header
//! carrying the commit (as `git archive` writes it), files, an executable, a symbolic link and a
//! hard link.

use std::{
    collections::BTreeMap,
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use tar::EntryType::{Char, Fifo};

use super::{artifact::test_tar::Tgz, *};
use crate::{
    pins::Source,
    runner,
    util::{self, assert_contains},
};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
/// A closed port on loopback: connecting fails at once, and no other host is ever contacted.
const UNREACHABLE: &str = "http://127.0.0.1:9/demo-{version}.tar.gz";

// ---------------------------------------------------------------- helpers

/// The release tarball of the `demo` source, laid out as GitHub serves one.
fn demo_tarball() -> Vec<u8> {
    Tgz::new()
        .global_commit(COMMIT)
        .dir("demo-1.0/")
        .file("demo-1.0/README.md", "demo source\n")
        .dir("demo-1.0/src/")
        .file("demo-1.0/src/main.c", "int main(void) { return 0; }\n")
        .exe("demo-1.0/build.sh", "#!/bin/sh\necho build\n")
        .symlink("demo-1.0/src/alias.c", "main.c")
        .symlink("demo-1.0/docs-readme", "src/../README.md")
        .hardlink("demo-1.0/copy.c", "demo-1.0/src/main.c")
        .gz()
}

/// A scratch area with every place fetching uses, and the real pins plus a `demo` source.
struct Scratch {
    root: PathBuf,
    places: Places,
    pins: Pins,
}

impl Scratch {
    fn new(name: &str) -> Scratch {
        let root = util::test_dir(&format!("fetch-{name}"));
        let places = Places {
            lock_file: root.join("pins.lock"),
            downloads: root.join("cache/downloads"),
            extractions: root.join("build/sources"),
            logs: root.join("build/logs"),
            repo_config: root.join("repo/xlean.local.toml"),
            user_config: root.join("cache/local-sources.toml"),
            source_trees: None,
        };
        let mut pins = Pins::load().unwrap();
        pins.sources.insert(
            "demo".into(),
            Source {
                version: Some("1.0".into()),
                url: UNREACHABLE.into(),
            },
        );
        Scratch { root, places, pins }
    }

    /// The `demo` source as a `.tar.xz`.
    fn xz(mut self) -> Scratch {
        let demo = self.pins.sources.get_mut("demo").unwrap();
        demo.url = UNREACHABLE.replace(".tar.gz", ".tar.xz");
        self
    }

    fn mirror_with(&self, artifact: &str, bytes: &[u8]) -> PathBuf {
        let mirror = self.root.join("mirror");
        fs::create_dir_all(&mirror).unwrap();
        fs::write(mirror.join(artifact), bytes).unwrap();
        mirror
    }

    fn fetch(&self, name: &str, opts: &SourceOptions) -> Result<FetchedSource> {
        Fetcher::new(&self.pins, opts, self.places.clone())?.source_dir(name)
    }

    fn lock(&self) -> BTreeMap<String, String> {
        Lock::load_from(&self.places.lock_file).unwrap().sha256
    }

    fn pin(&self, artifact: &str, sha256: &str) {
        let mut lock = Lock::load_from(&self.places.lock_file).unwrap();
        lock.sha256.insert(artifact.into(), sha256.into());
        lock.save_to(&self.places.lock_file).unwrap();
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
        p
    }

    /// Nothing of a failed fetch may remain: no extraction, no stamp, no cached or partial file.
    fn assert_nothing_left(&self, artifact: &str, extraction: &str) {
        let dest = self.places.extractions.join(extraction);
        assert!(!dest.exists(), "{} exists", dest.display());
        assert!(
            !util::partial_path(&dest).exists(),
            "a partial extraction remains"
        );
        assert!(!dest
            .with_file_name(format!("{extraction}.stamp.json"))
            .exists());
        let cached = self.places.downloads.join(artifact);
        assert!(!cached.exists(), "{} was cached", cached.display());
        assert!(
            !util::partial_path(&cached).exists(),
            "a partial download remains"
        );
    }
}

fn offline() -> SourceOptions {
    SourceOptions {
        offline: true,
        ..Default::default()
    }
}

fn offline_with_mirror(mirror: &Path) -> SourceOptions {
    let mirror = Some(mirror.to_path_buf());
    SourceOptions {
        mirror,
        ..offline()
    }
}

fn local(name: &str, dir: impl Into<PathBuf>) -> LocalSource {
    let (name, dir) = (name.into(), dir.into());
    LocalSource { name, dir }
}

fn lean_src(dir: &Path) -> SourceOptions {
    let lean_src = Some(dir.to_path_buf());
    SourceOptions {
        lean_src,
        ..Default::default()
    }
}

/// Where the archive of `f` came from.
fn obtained(f: &FetchedSource) -> &Obtained {
    match &f.origin {
        Origin::Archive { obtained, .. } => obtained,
        other => panic!("{}: not an archive: {other:?}", f.name),
    }
}

fn err_text(r: Result<FetchedSource>) -> String {
    format!("{:#}", r.expect_err("expected an error"))
}

/// Every file, folder and link under `dir` with its content hash (or link target), mode and
/// mtime: two equal snapshots mean nothing was written.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    use std::os::unix::fs::MetadataExt;
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let meta = fs::symlink_metadata(&d).unwrap();
        out.insert(
            d.clone(),
            format!("dir {:o} {}", meta.mode(), meta.mtime_nsec()),
        );
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            let what = if m.file_type().is_symlink() {
                format!("link {}", fs::read_link(&p).unwrap().display())
            } else if m.is_dir() {
                stack.push(p.clone());
                continue;
            } else {
                format!("file {}", util::sha256_file(&p).unwrap())
            };
            out.insert(
                p,
                format!("{what} {:o} {}.{}", m.mode(), m.mtime(), m.mtime_nsec()),
            );
        }
    }
    out
}

fn have(tool: &str) -> bool {
    runner::cmd(tool).arg("--version").read().is_ok()
}

/// `git ARGS` in `dir` as a test user (no signing); its stdout, trimmed.
fn run_git(dir: &Path, args: &[&str]) -> String {
    runner::cmd("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .cwd(dir)
        .read()
        .unwrap_or_else(|e| panic!("{e:#}"))
        .trim()
        .to_string()
}

// ---------------------------------------------------------------- archives

#[test]
fn a_mirror_archive_is_extracted_recorded_then_verified() {
    let s = Scratch::new("mirror");
    let tarball = demo_tarball();
    let sha = util::sha256_bytes(&tarball);
    let mirror = s.mirror_with("demo-1.0.tar.gz", &tarball);
    let opts = offline_with_mirror(&mirror);

    // First fetch: nothing pinned, so the hash is recorded (after a clean extraction).
    let f = s.fetch("demo", &opts).unwrap();
    let dest = s.places.extractions.join("demo-1.0");
    assert_eq!(f.dir, dest);
    assert_eq!(s.lock().get("demo-1.0.tar.gz"), Some(&sha));
    let origin = Origin::Archive {
        url: "http://127.0.0.1:9/demo-1.0.tar.gz".into(),
        artifact: "demo-1.0.tar.gz".into(),
        sha256: sha.clone(),
        commit: Some(COMMIT.into()),
        obtained: Obtained::Mirror { dir: mirror },
    };
    assert_eq!(f.origin, origin);
    // The top-level folder is stripped; contents, modes and links are right.
    let read = |p: &str| fs::read_to_string(dest.join(p)).unwrap();
    let main_c = "int main(void) { return 0; }\n";
    assert_eq!(read("README.md"), "demo source\n");
    assert_eq!(read("src/alias.c"), main_c);
    assert_eq!(
        fs::read_link(dest.join("src/alias.c")).unwrap(),
        Path::new("main.c")
    );
    assert_eq!(read("docs-readme"), "demo source\n");
    let copy = fs::symlink_metadata(dest.join("copy.c")).unwrap();
    assert!(copy.file_type().is_file(), "a hard link: a plain copy");
    assert_eq!(read("copy.c"), main_c);
    let mode = |p: &str| fs::metadata(dest.join(p)).unwrap().permissions().mode() & 0o111;
    assert_ne!(mode("build.sh"), 0, "the executable bit is kept");
    assert_eq!(mode("README.md"), 0);
    assert!(!dest.join("pax_global_header").exists());
    // The download is in the cache under its artifact name, checked, with no partial left.
    let cached = s.places.downloads.join("demo-1.0.tar.gz");
    assert_eq!(util::sha256_file(&cached).unwrap(), sha);
    assert!(!util::partial_path(&cached).exists());

    // Second fetch: the extraction of the pinned archive is reused as it is.
    fs::write(dest.join("marker"), "kept").unwrap();
    let again = s.fetch("demo", &opts).unwrap();
    assert_eq!(obtained(&again), &Obtained::AlreadyExtracted);
    assert_eq!(again.commit(), Some(COMMIT));
    assert!(dest.join("marker").exists());

    // Without the extraction and without any mirror: the cached file is verified and used.
    util::remove_any(&dest).unwrap();
    let from_cache = s.fetch("demo", &offline()).unwrap();
    assert_eq!(obtained(&from_cache), &Obtained::Cache);
    assert!(dest.join("src/main.c").is_file());
    assert!(!dest.join("marker").exists(), "a fresh extraction");
    assert!(
        from_cache.summary().contains(&sha),
        "{}",
        from_cache.summary()
    );
    // Provenance serialises for build stamps.
    let json = serde_json::to_value(&from_cache).unwrap();
    assert_eq!(json["origin"]["kind"], "archive");
    assert_eq!(json["origin"]["obtained"]["from"], "cache");
    assert_eq!(json["origin"]["sha256"], sha.as_str());
    assert_eq!(json["origin"]["commit"], COMMIT);
}

#[test]
fn a_tampered_archive_is_refused_and_the_cache_is_not_poisoned() {
    let s = Scratch::new("tampered");
    let good = demo_tarball();
    let good_sha = util::sha256_bytes(&good);
    s.pin("demo-1.0.tar.gz", &good_sha);
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x55;
    let bad_sha = util::sha256_bytes(&bad);
    let mirror = s.mirror_with("demo-1.0.tar.gz", &bad);

    let err = err_text(s.fetch("demo", &offline_with_mirror(&mirror)));
    let why = "is not the pinned file";
    let mismatch = "sha256 mismatch for demo-1.0.tar.gz";
    assert_contains(&err, &[mismatch, &good_sha, &bad_sha, why]);
    s.assert_nothing_left("demo-1.0.tar.gz", "demo-1.0");
    assert_eq!(
        s.lock().get("demo-1.0.tar.gz"),
        Some(&good_sha),
        "the pin is unchanged"
    );

    // The real file then goes through as usual.
    let mirror = s.mirror_with("demo-1.0.tar.gz", &good);
    let f = s.fetch("demo", &offline_with_mirror(&mirror)).unwrap();
    assert!(f.dir.join("src/main.c").is_file());
}

#[test]
fn a_truncated_archive_is_a_clear_error_and_is_not_recorded() {
    let good = demo_tarball();
    // Cut in the middle of the compressed data, and just before the end (inside the gzip
    // trailer, after the whole tar stream: only the trailer check can see that one).
    for (label, cut) in [("half", good.len() / 2), ("trailer", good.len() - 4)] {
        let s = Scratch::new(&format!("truncated-{label}"));
        let mirror = s.mirror_with("demo-1.0.tar.gz", &good[..cut]);
        let err = err_text(s.fetch("demo", &offline_with_mirror(&mirror)));
        assert!(
            err.contains("demo-1.0.tar.gz"),
            "{label}: names the tarball: {err}"
        );
        assert!(
            err.contains("truncated") || err.contains("corrupt"),
            "{label}: says what is wrong: {err}"
        );
        s.assert_nothing_left("demo-1.0.tar.gz", "demo-1.0");
        assert!(
            s.lock().is_empty(),
            "{label}: a broken archive is never recorded"
        );
    }
}

#[test]
fn an_unreachable_url_names_the_url_and_the_flags() {
    let mut s = Scratch::new("unreachable");
    s.pins.sources.get_mut("lean4").unwrap().url = "http://127.0.0.1:9/{version}.tar.gz".into();
    let err = err_text(s.fetch("demo", &SourceOptions::default()));
    assert_contains(
        &err,
        &[
            "cannot download demo 1.0 from http://127.0.0.1:9/demo-1.0.tar.gz",
            "--source demo=DIR",
            "--mirror DIR",
            "demo = \"DIR\"",
        ],
    );
    if have("curl") {
        assert!(err.contains("curl"), "curl's own message is kept: {err}");
    } else {
        println!("SKIPPED (in part): curl is not installed, so only the error text was checked (install curl)");
    }
    s.assert_nothing_left("demo-1.0.tar.gz", "demo-1.0");

    let err = err_text(s.fetch("lean4", &SourceOptions::default()));
    let tag = s.pins.lean.tag.clone();
    let (url, mirror_file) = (
        format!("http://127.0.0.1:9/{tag}.tar.gz"),
        format!("lean4-{tag}.tar.gz"),
    );
    assert_contains(
        &err,
        &[&url, "--lean-src DIR", "--source lean4=DIR", &mirror_file],
    );
}

#[test]
fn offline_never_touches_the_network() {
    let s = Scratch::new("offline");
    let err = err_text(s.fetch("demo", &offline()));
    assert_contains(
        &err,
        &[
            "--offline",
            "http://127.0.0.1:9/demo-1.0.tar.gz",
            "--source demo=DIR",
            "--mirror DIR",
        ],
    );
    assert!(!s.places.logs.exists(), "no download step ran");
    s.assert_nothing_left("demo-1.0.tar.gz", "demo-1.0");

    // A mirror without the file is searched, and said so.
    let mirror = s.mirror_with("other-1.0.tar.gz", b"x");
    let err = err_text(s.fetch("demo", &offline_with_mirror(&mirror)));
    assert!(
        err.contains(&format!("not in the mirror(s) {}", mirror.display())),
        "{err}"
    );
}

#[test]
fn a_leftover_partial_and_a_bad_cached_file_are_never_trusted() {
    let s = Scratch::new("leftovers");
    let good = demo_tarball();
    s.pin("demo-1.0.tar.gz", &util::sha256_bytes(&good));
    let mirror = s.mirror_with("demo-1.0.tar.gz", &good);
    let cached = s.places.downloads.join("demo-1.0.tar.gz");
    fs::create_dir_all(&s.places.downloads).unwrap();
    fs::write(util::partial_path(&cached), b"half of something").unwrap();
    fs::write(&cached, b"not the archive").unwrap();
    let f = s.fetch("demo", &offline_with_mirror(&mirror)).unwrap();
    assert_eq!(obtained(&f), &Obtained::Mirror { dir: mirror });
    assert_eq!(fs::read(&cached).unwrap(), good);
    assert!(!util::partial_path(&cached).exists());
}

#[test]
fn a_lean4_archive_of_another_commit_is_refused() {
    let mut s = Scratch::new("lean4-commit");
    s.pins.sources.get_mut("lean4").unwrap().url = "http://127.0.0.1:9/{version}.tar.gz".into();
    let tag = s.pins.lean.tag.clone();
    let artifact = format!("lean4-{tag}.tar.gz");
    let tree = |commit: &str| {
        Tgz::new()
            .global_commit(commit)
            .dir("lean4-x/")
            .file("lean4-x/src/CMakeLists.txt", "set(LEAN_VERSION_MAJOR 4)\n")
            .file(
                "lean4-x/src/runtime/object.cpp",
                "// stands in for lean4's runtime\n",
            )
            .gz()
    };
    let mirror = s.mirror_with(&artifact, &tree(COMMIT));
    let err = err_text(s.fetch("lean4", &offline_with_mirror(&mirror)));
    assert!(err.contains(&format!("made from commit {COMMIT}")), "{err}");
    assert!(err.contains(&s.pins.lean.commit), "{err}");
    s.assert_nothing_left(&artifact, &format!("lean4-{tag}"));
    assert!(s.lock().is_empty());

    let pinned_commit = s.pins.lean.commit.clone();
    let mirror = s.mirror_with(&artifact, &tree(&pinned_commit));
    let f = s.fetch("lean4", &offline_with_mirror(&mirror)).unwrap();
    assert_eq!(f.commit(), Some(pinned_commit.as_str()));
    assert!(f.dir.join("src/CMakeLists.txt").is_file());
}

#[test]
fn archives_that_escape_are_refused() {
    let base = || Tgz::new().dir("demo-1.0/").file("demo-1.0/ok.txt", "ok");
    // (label, archive, the entry named, why)
    let cases = [
        (
            "dotdot",
            base().file("demo-1.0/../evil", "x"),
            "demo-1.0/../evil",
            "`..` component",
        ),
        (
            "absolute",
            base().file("/tmp/evil", "x"),
            "/tmp/evil",
            "absolute",
        ),
        (
            "symlink-absolute",
            base().symlink("demo-1.0/etc", "/etc"),
            "demo-1.0/etc",
            "absolute path `/etc`",
        ),
        (
            "symlink-up",
            base().symlink("demo-1.0/up", "../../outside"),
            "demo-1.0/up",
            "points outside",
        ),
        // Each link looks inside on its own; together they climb out.
        (
            "symlink-chain",
            base()
                .dir("demo-1.0/d/")
                .symlink("demo-1.0/d/here", ".")
                .symlink("demo-1.0/x", "d/here/../.."),
            "demo-1.0/x",
            "resolves outside",
        ),
        (
            "through-symlink",
            base()
                .dir("demo-1.0/sub/")
                .symlink("demo-1.0/link", "sub")
                .file("demo-1.0/link/file", "x"),
            "demo-1.0/link/file",
            "is a symbolic link",
        ),
        (
            "hardlink-outside",
            base().hardlink("demo-1.0/h", "../outside"),
            "demo-1.0/h",
            "`..` component",
        ),
        (
            "hardlink-absolute",
            base().hardlink("demo-1.0/h", "/etc/passwd"),
            "demo-1.0/h",
            "absolute",
        ),
        (
            "hardlink-other-top",
            base().hardlink("demo-1.0/h", "elsewhere/file"),
            "demo-1.0/h",
            "top-level folder",
        ),
        (
            "device",
            base().raw("demo-1.0/tty", Char, None, b"", 0o600),
            "demo-1.0/tty",
            "device file",
        ),
        (
            "fifo",
            base().raw("demo-1.0/pipe", Fifo, None, b"", 0o600),
            "demo-1.0/pipe",
            "FIFO",
        ),
        (
            "two-tops",
            base().file("other/file", "x"),
            "other/file",
            "top-level folder `demo-1.0`",
        ),
    ];
    for (label, tarball, entry, why) in cases {
        let s = Scratch::new(&format!("escape-{label}"));
        let mirror = s.mirror_with("demo-1.0.tar.gz", &tarball.gz());
        let err = err_text(s.fetch("demo", &offline_with_mirror(&mirror)));
        assert!(
            err.contains("demo-1.0.tar.gz"),
            "{label}: names the tarball: {err}"
        );
        assert!(
            err.contains(&format!("entry `{entry}`")),
            "{label}: names the entry: {err}"
        );
        assert!(err.contains(why), "{label}: says why ({why}): {err}");
        s.assert_nothing_left("demo-1.0.tar.gz", "demo-1.0");
        assert!(s.lock().is_empty(), "{label}: never recorded");
        assert!(!s.root.join("outside").exists() && !s.root.join("evil").exists());
        assert!(!s.places.extractions.join("evil").exists());
    }
}

// ---------------------------------------------------------------- local copies

#[test]
fn local_copies_are_used_as_is_and_left_byte_identical() {
    let s = Scratch::new("local");
    let copies = s.root.join("copies");
    let mut opts = SourceOptions::default();
    let names: Vec<String> = s.pins.source_names().map(str::to_string).collect();
    for name in &names {
        let dir = copies.join(name);
        fs::create_dir_all(dir.join("src")).unwrap();
        if let Some(marker) = layout_marker(name) {
            fs::create_dir_all(dir.join(marker)).unwrap();
        }
        fs::write(dir.join("src/file.cpp"), format!("// {name}\n")).unwrap();
        fs::write(dir.join("README"), "read me\n").unwrap();
        std::os::unix::fs::symlink("src/file.cpp", dir.join("link.cpp")).unwrap();
        let ro = dir.join("read-only.h");
        fs::write(&ro, "const\n").unwrap();
        fs::set_permissions(&ro, fs::Permissions::from_mode(0o444)).unwrap();
        if name == "lean4" {
            opts.lean_src = Some(dir);
        } else {
            opts.sources.push(local(name, dir));
        }
    }
    let git_commit = if have("git") {
        let lean = copies.join("lean4");
        let git = |args: &[&str]| run_git(&lean, args);
        git(&["init", "-q"]);
        git(&["add", "-A"]);
        git(&["commit", "-q", "-m", "local"]);
        Some(git(&["rev-parse", "HEAD"]))
    } else {
        println!("SKIPPED (in part): git is not installed, so the commit of a local checkout is not checked (install git)");
        None
    };

    let before = snapshot(&copies);
    let fetched = fetch_all(&s.pins, &[], &opts, &s.places).unwrap();
    let after = snapshot(&copies);
    assert_eq!(before, after, "a local copy must never be modified");
    assert_eq!(fetched.len(), names.len());
    for f in &fetched {
        assert_eq!(f.dir, fs::canonicalize(copies.join(&f.name)).unwrap());
        assert!(f.is_local());
        let Origin::Local { set_by, commit, .. } = &f.origin else {
            panic!("{:?}", f.origin)
        };
        let (flag, wanted_commit) = match f.name.as_str() {
            "lean4" => ("--lean-src", &git_commit),
            _ => ("--source", &None),
        };
        assert!(set_by.starts_with(flag), "{set_by}");
        assert_eq!(commit, wanted_commit, "{}", f.name);
    }
    assert!(!s.places.extractions.exists(), "nothing extracted");
    assert!(!s.places.downloads.exists(), "nothing downloaded");
}

#[test]
fn a_missing_or_conflicting_local_copy_is_named() {
    let s = Scratch::new("local-errors");
    let missing = s.root.join("no-such-dir");
    let err = err_text(s.fetch("lean4", &lean_src(&missing)));
    let does_not_exist = format!("the directory {} does not exist", missing.display());
    assert_contains(&err, &["--lean-src", &does_not_exist]);

    // The folder inside the tree instead of its top.
    let tree = s.root.join("lean4");
    fs::create_dir_all(tree.join("src/runtime")).unwrap();
    let err = err_text(s.fetch("lean4", &lean_src(&tree.join("src"))));
    assert_contains(
        &err,
        &[
            "does not look like a lean4 source tree: it has no folder src/runtime/",
            "fix: name the top folder",
        ],
    );
    assert_eq!(
        s.fetch("lean4", &lean_src(&tree)).unwrap().dir,
        fs::canonicalize(&tree).unwrap()
    );

    let a = s.root.join("a");
    let b = s.root.join("b");
    fs::create_dir_all(&a).unwrap();
    fs::create_dir_all(&b).unwrap();
    let opts = SourceOptions {
        sources: vec![local("lean4", b)],
        ..lean_src(&a)
    };
    let err = err_text(s.fetch("lean4", &opts));
    assert!(err.contains("two local copies of lean4"), "{err}");

    let opts = SourceOptions {
        sources: vec![local("nope", a)],
        ..Default::default()
    };
    let err = err_text(s.fetch("lean4", &opts));
    assert_contains(&err, &["no source named `nope`", "xeus"]);
}

#[test]
fn config_files_follow_precedence_and_resolve_relative_paths() {
    let s = Scratch::new("config");
    let mk = |rel: &str| {
        let d = s.root.join(rel);
        fs::create_dir_all(&d).unwrap();
        let name = d.file_name().unwrap().to_str().unwrap();
        if let Some(marker) = layout_marker(name) {
            fs::create_dir_all(d.join(marker)).unwrap();
        }
        fs::canonicalize(d).unwrap()
    };
    let user_xeus = mk("cache/copies/xeus");
    let repo_xeus = mk("repo/copies/xeus");
    let flag_xeus = mk("flag/xeus");
    let user_lite = mk("cache/copies/xeus-lite");
    s.write(
        "cache/local-sources.toml",
        "mirror = \"mirror\"\n[sources]\nxeus = \"copies/xeus\"\nxeus-lite = \"copies/xeus-lite\"\nxtl = \"gone\"\n",
    );
    s.write(
        "repo/xlean.local.toml",
        "[sources]\nxeus = \"copies/xeus\"\n",
    );
    let local_of = |f: &FetchedSource| match &f.origin {
        Origin::Local { set_by, .. } => (f.dir.clone(), set_by.clone()),
        other => panic!("{other:?}"),
    };

    // The flag wins over both files.
    let opts = SourceOptions {
        sources: vec![local("xeus", flag_xeus.clone())],
        ..Default::default()
    };
    let (dir, by) = local_of(&s.fetch("xeus", &opts).unwrap());
    assert_eq!(dir, flag_xeus);
    assert!(by.starts_with("--source xeus="), "{by}");

    // The repo file wins over the user file; its relative path is relative to its own folder.
    let (dir, by) = local_of(&s.fetch("xeus", &SourceOptions::default()).unwrap());
    assert_eq!(dir, repo_xeus);
    assert_eq!(by, s.places.repo_config.display().to_string());

    // The user file's entries apply where nothing higher sets the source (an unknown source
    // name there, here `xtl`, only warns: other clones may pin it).
    let (dir, by) = local_of(&s.fetch("xeus-lite", &SourceOptions::default()).unwrap());
    assert_eq!(dir, user_lite);
    assert_eq!(by, s.places.user_config.display().to_string());
    fs::remove_file(&s.places.repo_config).unwrap();
    let (dir, _) = local_of(&s.fetch("xeus", &SourceOptions::default()).unwrap());
    assert_eq!(dir, user_xeus);

    // The user file's mirror (relative to the cache folder) is used for an archive.
    let tarball = demo_tarball();
    let mirror = mk("cache/mirror");
    fs::write(mirror.join("demo-1.0.tar.gz"), &tarball).unwrap();
    let f = s.fetch("demo", &offline()).unwrap();
    assert_eq!(
        obtained(&f),
        &Obtained::Mirror {
            dir: mirror.clone()
        }
    );

    // A local copy, even from the lowest layer, beats every mirror.
    s.write(
        "cache/local-sources.toml",
        "mirror = \"mirror\"\n[sources]\ndemo = \"copies/xeus\"\n",
    );
    let f = s.fetch("demo", &offline_with_mirror(&mirror)).unwrap();
    assert_eq!(local_of(&f).0, user_xeus);
}

#[test]
fn config_file_mistakes_are_named() {
    let s = Scratch::new("config-errors");
    let fetch_err = || err_text(s.fetch("xeus", &offline()));

    s.write("repo/xlean.local.toml", "lean-src = \"x\"\n");
    let err = fetch_err();
    // The file, the unknown key, the format.
    assert_contains(
        &err,
        &[
            "xlean.local.toml is not a valid local-sources file",
            "lean-src",
            "[sources]",
        ],
    );

    s.write("repo/xlean.local.toml", "[sources]\nxtl = \"x\"\n");
    let err = fetch_err();
    assert!(
        err.contains("[sources].xtl: pins.toml has no source named `xtl`"),
        "{err}"
    );

    s.write(
        "repo/xlean.local.toml",
        "[sources]\nxeus = \"../missing/xeus\"\n",
    );
    let err = fetch_err();
    let expected = s.root.join("repo/../missing/xeus");
    let does_not_exist = format!("the directory {} does not exist", expected.display());
    assert_contains(&err, &[&does_not_exist, "set by", "xlean.local.toml"]);

    s.write("repo/xlean.local.toml", "mirror = \"no-mirror\"\n");
    let err = fetch_err();
    assert_contains(&err, &["no-mirror does not exist", "the mirror set by"]);

    s.write("repo/xlean.local.toml", "mirror = \"\"\n");
    let err = fetch_err();
    assert_contains(&err, &["key `mirror`", "the path is empty"]);
}

#[test]
fn the_source_flags_parse() {
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        sources: SourceOptions,
    }
    use clap::Parser;
    let args =
        "t --lean-src lean --source xeus=../xeus --source xeus-lite=/x=y --mirror m --offline";
    let cli = Cli::try_parse_from(args.split(' ')).unwrap();
    assert_eq!(cli.sources.lean_src, Some(PathBuf::from("lean")));
    assert_eq!(
        cli.sources.sources,
        vec![local("xeus", "../xeus"), local("xeus-lite", "/x=y")]
    );
    assert_eq!(cli.sources.mirror, Some(PathBuf::from("m")));
    assert!(cli.sources.offline);
    let err = Cli::try_parse_from(["t", "--source", "xeus"])
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("expected NAME=DIR"), "{err}");
}

#[test]
fn the_commit_of_a_git_checkout_is_read_without_git() {
    if !have("git") {
        println!("SKIPPED: git is not installed (install git to check reading .git directly)");
        return;
    }
    let s = Scratch::new("git");
    let repo = s.root.join("repo");
    fs::create_dir_all(&repo).unwrap();
    let git = run_git;
    let head = |dir: &Path| Some(git(dir, &["rev-parse", "HEAD"]));
    assert_eq!(git::head_commit(&repo), None, "not a checkout");
    git(&repo, &["init", "-q", "-b", "main"]);
    assert_eq!(git::head_commit(&repo), None, "unborn branch");
    fs::write(repo.join("a"), "1").unwrap();
    git(&repo, &["add", "a"]);
    git(&repo, &["commit", "-q", "-m", "one"]);
    assert_eq!(git::head_commit(&repo), head(&repo), "loose ref");
    git(&repo, &["pack-refs", "--all"]);
    assert!(!repo.join(".git/refs/heads/main").exists());
    assert_eq!(git::head_commit(&repo), head(&repo), "packed ref");
    let wt = s.root.join("wt");
    git(
        &repo,
        &["worktree", "add", "-q", "-b", "side", wt.to_str().unwrap()],
    );
    fs::write(wt.join("b"), "2").unwrap();
    git(&wt, &["add", "b"]);
    git(&wt, &["commit", "-q", "-m", "two"]);
    assert_eq!(git::head_commit(&wt), head(&wt), "linked worktree");
    assert_ne!(git::head_commit(&repo), head(&wt));
    git(&repo, &["checkout", "-q", "--detach"]);
    assert_eq!(git::head_commit(&repo), head(&repo), "detached");
}

#[test]
fn an_archive_made_by_git_archive_extracts_to_the_committed_tree() {
    // GitHub makes its release tarballs with `git archive`; this is the same tool on a repository
    // written here: long paths (pax headers), a symbolic link, an executable, the commit comment.
    if !have("git") {
        println!("SKIPPED: git is not installed (install git to check real `git archive` output)");
        return;
    }
    let s = Scratch::new("git-archive");
    let repo = s.root.join("upstream");
    let long_dir = "a-folder-name-that-is-long-enough/to-push-the-whole-path/past-the-hundred-bytes-of-a-ustar-name-field";
    s.write(
        &format!("upstream/{long_dir}/deep-file-with-a-long-name.txt"),
        "deep\n",
    );
    s.write("upstream/README", "top\n");
    let tool = s.write("upstream/bin/tool.sh", "#!/bin/sh\n");
    fs::set_permissions(tool, fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("../README", repo.join("bin/readme-link")).unwrap();
    let git = |args: &[&str]| run_git(&repo, args);
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "release"]);
    let head = git(&["rev-parse", "HEAD"]);
    let mirror = s.root.join("mirror");
    fs::create_dir_all(&mirror).unwrap();
    let out = mirror.join("demo-1.0.tar.gz");
    git(&[
        "archive",
        "--format=tar.gz",
        "--prefix=demo-1.0/",
        "-o",
        out.to_str().unwrap(),
        "HEAD",
    ]);

    let f = s.fetch("demo", &offline_with_mirror(&mirror)).unwrap();
    assert_eq!(f.commit(), Some(head.as_str()));
    let mut committed: Vec<String> = git(&["ls-files"]).lines().map(str::to_string).collect();
    committed.sort();
    let mut extracted: Vec<String> = snapshot(&f.dir)
        .into_iter()
        .filter(|(_, what)| !what.starts_with("dir "))
        .map(|(p, _)| {
            p.strip_prefix(&f.dir)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    extracted.sort();
    assert_eq!(committed, extracted);
    for path in &committed {
        let (a, b) = (repo.join(path), f.dir.join(path));
        if fs::symlink_metadata(&a).unwrap().file_type().is_symlink() {
            assert_eq!(
                fs::read_link(&a).unwrap(),
                fs::read_link(&b).unwrap(),
                "{path}"
            );
        } else {
            assert_eq!(fs::read(&a).unwrap(), fs::read(&b).unwrap(), "{path}");
        }
    }
    assert_eq!(
        fs::read_to_string(f.dir.join("bin/readme-link")).unwrap(),
        "top\n"
    );
}

#[test]
fn a_tilde_means_the_home_folder() {
    let home = PathBuf::from(std::env::var_os("HOME").expect("HOME is set for tests"));
    for (path, expanded) in [
        ("~/src/x", home.join("src/x")),
        ("~", home.clone()),
        ("a/~/b", "a/~/b".into()),
        ("~user/b", "~user/b".into()),
    ] {
        let got = settings::expand_home(Path::new(path)).unwrap();
        assert_eq!(got, expanded, "{path}");
    }
}

/// Debian's source packages are `.tar.xz` (the mini-gmp pin): extracted under the same rules,
/// and a truncated or corrupt one is refused by name without being recorded.
#[test]
fn a_tar_xz_archive_is_extracted_and_a_truncated_one_refused() {
    let tar = {
        let t = Tgz::new()
            .dir("demo-1.0/")
            .file("demo-1.0/mini-gmp/mini-gmp.c", "int mpz;\n")
            .file("demo-1.0/README", "xz demo\n");
        t.0.into_inner().unwrap()
    };
    let mut xz = Vec::new();
    lzma_rs::xz_compress(&mut std::io::Cursor::new(&tar), &mut xz).unwrap();

    let s = Scratch::new("xz").xz();
    let mirror = s.mirror_with("demo-1.0.tar.xz", &xz);
    let f = s.fetch("demo", &offline_with_mirror(&mirror)).unwrap();
    assert_eq!(
        fs::read_to_string(f.dir.join("mini-gmp/mini-gmp.c")).unwrap(),
        "int mpz;\n"
    );
    assert_eq!(
        s.lock().get("demo-1.0.tar.xz"),
        Some(&util::sha256_bytes(&xz))
    );

    for (label, cut) in [("half", xz.len() / 2), ("end", xz.len() - 4)] {
        let s = Scratch::new(&format!("xz-{label}")).xz();
        let mirror = s.mirror_with("demo-1.0.tar.xz", &xz[..cut]);
        let err = err_text(s.fetch("demo", &offline_with_mirror(&mirror)));
        assert_contains(&err, &["demo-1.0.tar.xz", "corrupt or truncated"]);
        s.assert_nothing_left("demo-1.0.tar.xz", "demo-1.0");
        assert!(s.lock().is_empty(), "{label}: never recorded");
    }
}

#[test]
fn a_folder_of_source_trees_gives_the_pinned_versions_only() {
    let s = Scratch::new("source-trees");
    let trees = s.root.join("trees");
    let xeus = format!("xeus-{}", s.pins.source("xeus").unwrap().version);
    for dir in [xeus.as_str(), "xeus-lite-0.0.1", "demo-1.0", "unrelated"] {
        fs::create_dir_all(trees.join(dir)).unwrap();
    }
    let found = settings::source_trees(&s.pins, Some(&trees)).unwrap();
    let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
    // xeus-lite is there at another version than the pin: not a local copy of the pinned one.
    assert_eq!(names, ["demo", "xeus"]);
    assert_eq!(found[1].1, crate::paths::absolute(&trees.join(&xeus)));
    assert!(settings::source_trees(&s.pins, None).unwrap().is_empty());
    let missing = settings::source_trees(&s.pins, Some(&s.root.join("none"))).unwrap_err();
    let text = format!("{missing:#}");
    assert!(
        text.contains("XLEAN_SOURCE_TREES") && text.contains("does not exist"),
        "{text}"
    );
}
