use std::fs;

use super::{
    deps::{deb_upstream_version, madison_versions, upstream_of},
    link::{build_test_kernel_in, check_module, module_facts},
    node_tests::run_node_tests,
    sources::{header_version, kernel_sources_with},
    SOURCES_MISSING,
};
use crate::{
    fetch::{LocalSource, Places, SourceOptions},
    layout::Layout,
    pins::Pins,
    stamp::Stages,
    util,
};

// ---------------------------------------------------------------------------------------------
// Pure tests

/// A fake source tree with the folder `fetch` checks (stands in for a checkout of xeus /
/// xeus-lite / nlohmann_json, which cannot be fetched here).
fn fake_tree(root: &std::path::Path, name: &str, marker: &str) {
    let dir = root.join(name);
    fs::create_dir_all(dir.join(marker)).unwrap();
    fs::write(dir.join("CMakeLists.txt"), "project(x)\n").unwrap();
}

/// Every place `fetch` reads or writes, inside the test's directory.
fn test_places(dir: &std::path::Path) -> Places {
    Places {
        lock_file: dir.join("pins.lock"),
        downloads: dir.join("downloads"),
        extractions: dir.join("sources"),
        logs: dir.join("logs"),
        repo_config: dir.join("xlean.local.toml"),
        user_config: dir.join("local-sources.toml"),
        source_trees: None,
    }
}

fn offline() -> SourceOptions {
    SourceOptions {
        offline: true,
        ..SourceOptions::default()
    }
}

#[test]
fn sources_are_local_copies_or_none_when_they_cannot_be_had() {
    let dir = util::test_dir("kernel-sources");
    let pins = Pins::load().unwrap();
    fake_tree(&dir, "x6", "include/xeus");
    fake_tree(&dir, "xl5", "include/xeus-lite");
    fake_tree(&dir, "json", "include/nlohmann");
    let config = dir.join("local-sources.toml");
    let sources = |opts: &SourceOptions| kernel_sources_with(&pins, opts, test_places(&dir));

    // Nothing local, nothing cached, no network: the suite skips.
    assert_eq!(sources(&offline()).unwrap(), None);
    // Only xeus: still nothing to build.
    fs::write(&config, "[sources]\nxeus = \"x6\"\n").unwrap();
    assert_eq!(sources(&offline()).unwrap(), None);

    fs::write(&config, "[sources]\nxeus = \"x6\"\nxeus-lite = \"xl5\"\n").unwrap();
    let s = sources(&offline()).unwrap().unwrap();
    assert_eq!(s.xeus.dir, fs::canonicalize(dir.join("x6")).unwrap());
    assert_eq!(s.xeus_lite.dir, fs::canonicalize(dir.join("xl5")).unwrap());
    assert_eq!(s.xeus.version, pins.source("xeus").unwrap().version);
    assert!(
        s.xeus.provenance.contains("local-sources.toml"),
        "{}",
        s.xeus.provenance
    );
    assert_eq!(s.nlohmann_json, None, "no tree: Debian's package is used");

    // A flag wins over the file; a local nlohmann_json tree is used when there is one.
    fake_tree(&dir, "other", "include/xeus");
    let opts = SourceOptions {
        sources: vec![
            LocalSource {
                name: "xeus".into(),
                dir: dir.join("other"),
            },
            LocalSource {
                name: "nlohmann_json".into(),
                dir: dir.join("json"),
            },
        ],
        ..offline()
    };
    let s = sources(&opts).unwrap().unwrap();
    assert_eq!(s.xeus.dir, fs::canonicalize(dir.join("other")).unwrap());
    assert_eq!(
        s.nlohmann_json.unwrap().dir,
        fs::canonicalize(dir.join("json")).unwrap()
    );
}

#[test]
fn a_wrong_local_copy_is_an_error_not_a_skip() {
    let dir = util::test_dir("kernel-sources-bad");
    let pins = Pins::load().unwrap();
    fake_tree(&dir, "xl5", "include/xeus-lite");
    // A missing folder, and xeus-lite where xeus belongs.
    for (xeus, want) in [
        ("missing", "the local copy of xeus"),
        ("xl5", "does not look like a xeus source tree"),
    ] {
        let config = format!("[sources]\nxeus = \"{xeus}\"\nxeus-lite = \"xl5\"\n");
        fs::write(dir.join("local-sources.toml"), config).unwrap();
        let err = format!(
            "{:#}",
            kernel_sources_with(&pins, &offline(), test_places(&dir)).unwrap_err()
        );
        assert!(err.contains(want), "xeus = {xeus}: {err}");
    }
}

#[test]
fn the_skip_message_says_how_to_provide_the_sources() {
    assert!(SOURCES_MISSING.starts_with("xeus/xeus-lite sources not available"));
    assert!(SOURCES_MISSING.contains("--source xeus=DIR --source xeus-lite=DIR"));
    assert!(SOURCES_MISSING.contains("<cache>/local-sources.toml"));
}

#[test]
fn versions_are_read_from_headers() {
    let text = "#define XEUS_VERSION_MAJOR 6\n#define XEUS_VERSION_MINOR 0\n#define XEUS_VERSION_PATCH 5\n\
                #define XEUS_BINARY_CURRENT 12\n";
    assert_eq!(
        header_version(text, "XEUS_VERSION_").as_deref(),
        Some("6.0.5")
    );
    assert_eq!(header_version("#define X 1", "XEUS_VERSION_"), None);
}

#[test]
fn debian_versions_map_to_upstream_ones() {
    assert_eq!(upstream_of("3.11.2-2"), "3.11.2");
    assert_eq!(upstream_of("1:3.11.2-2+deb12u1"), "3.11.2");
    assert_eq!(upstream_of("3.11.2"), "3.11.2");
    for (file, want) in [
        ("nlohmann-json3-dev_3.11.2-2_all.deb", Some("3.11.2")),
        ("nlohmann-json3-dev_1%3a3.11.3-1_all.deb", Some("3.11.3")),
        ("emscripten_3.1.69+dfsg-3_all.deb", None),
    ] {
        assert_eq!(deb_upstream_version(file).as_deref(), want, "{file}");
    }
    let madison = " nlohmann-json3-dev |   3.11.3-1 | http://deb.debian.org/debian trixie/main amd64 Packages\n \
                   nlohmann-json3-dev |   3.11.2-2 | http://deb.debian.org/debian bookworm/main amd64 Packages\n";
    assert_eq!(madison_versions(madison, "3.11.2"), vec!["3.11.2-2"]);
    assert!(madison_versions(madison, "3.10.0").is_empty());
}

/// A hand-assembled module: a 64-bit table and memory, and optionally an import named like
/// emscripten's JS exception helpers (what a `-fexceptions` object would bring into a link).
fn tiny_wasm64(with_invoke_import: bool) -> Vec<u8> {
    let mut m = vec![0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    m.extend([0x01, 0x04, 0x01, 0x60, 0x00, 0x00]); // type section: () -> ()
    if with_invoke_import {
        // import section: env.invoke_v, a function of type 0
        m.extend([0x02, 0x10, 0x01, 0x03, b'e', b'n', b'v', 0x08]);
        m.extend(b"invoke_v");
        m.extend([0x00, 0x00]);
    }
    m.extend([0x04, 0x04, 0x01, 0x70, 0x04, 0x01]); // table section: funcref, table64, min 1
    m.extend([0x05, 0x03, 0x01, 0x04, 0x01]); // memory section: memory64, min 1
    m
}

#[test]
fn a_module_with_js_exception_imports_is_refused() {
    let dir = util::test_dir("kernel-module-check");
    let facts = module_facts(&tiny_wasm64(true)).unwrap();
    assert!(facts.memory64 && facts.table64, "{facts:?}");
    assert_eq!(facts.js_exception_imports, vec!["invoke_v".to_string()]);
    let bad = dir.join("bad.wasm");
    fs::write(&bad, tiny_wasm64(true)).unwrap();
    let err = format!("{:#}", check_module(&bad).unwrap_err());
    assert!(err.contains("JS exception helpers (invoke_v)"), "{err}");
    let good = dir.join("good.wasm");
    fs::write(&good, tiny_wasm64(false)).unwrap();
    check_module(&good).unwrap();
    fs::write(&good, b"\0asm garbage").unwrap();
    assert!(format!("{:#}", check_module(&good).unwrap_err()).contains("cannot parse"));
}

// ---------------------------------------------------------------------------------------------
// The real thing: xeus + xeus-lite for wasm64, the test kernel, the Node tests

#[test]
fn the_test_kernel_builds_and_passes_its_node_tests() {
    let Some(tc) = crate::toolchain::for_tests() else {
        return;
    };
    let pins = Pins::load().unwrap();
    // The real build directory: the dependencies take ~35 s to build and are reused by
    // `cargo xtask` (and by the next run of this test) through their stamps.
    let _building = super::test_modules_lock();
    let layout = Layout::standard(None, None);
    let Some(sources) = super::kernel_sources(&pins, &SourceOptions::default(), &layout).unwrap()
    else {
        return crate::gate::skip(crate::gate::Need::Sources, SOURCES_MISSING);
    };
    let mut runs = Vec::new();
    let mut run = Stages::new(layout.kernel_stamps(), true, &mut runs);
    let modules = build_test_kernel_in(&tc, &pins, &sources, &layout, &mut run).unwrap();
    assert!(modules.test_backend.ends_with("kernel-test/xlean.js"));
    assert!(modules.lean_backend.ends_with("kernel-fake-lean/xlean.js"));
    for js in [&modules.test_backend, &modules.lean_backend] {
        let facts = check_module(&js.with_extension("wasm")).unwrap();
        assert!(facts.imports > 10, "{facts:?}");
    }

    // A second build finds everything up to date: the modules' configures too.
    let mut again_runs = Vec::new();
    let mut again_run = Stages::new(layout.kernel_stamps(), true, &mut again_runs);
    let again = build_test_kernel_in(&tc, &pins, &sources, &layout, &mut again_run).unwrap();
    assert_eq!(again, modules);
    assert!(again_run.ran().is_empty(), "{again_runs:?}");
    let mut deps_runs = Vec::new();
    let mut deps_run = Stages::new(layout.kernel_stamps(), true, &mut deps_runs);
    let again = super::deps::build_deps(&tc, &pins, &sources, &layout, &mut deps_run).unwrap();
    assert!(again.rebuilt.is_empty(), "rebuilt {:?}", again.rebuilt);
    let names: Vec<&str> = deps_runs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        ["nlohmann_json", "xeus", "xeus-lite", "abbreviations"]
    );
    assert!(again.abbreviations.source.is_file());
    assert!(modules.abbreviations_json.is_file());
    assert!(again.prefix.join("lib/libxeus.a").is_file());
    assert!(again.prefix.join("include/nlohmann/json.hpp").is_file());

    let summary = run_node_tests(&tc, &modules, &layout.logs).unwrap();
    let log = summary.log.clone().unwrap();
    let output = fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(summary.failed, 0, "kernel tests failed:\n{output}");
    assert_eq!(summary.skipped, 0, "{summary:?}\n{output}");
    assert!(summary.passed >= 23, "{summary:?}\n{output}");
}
