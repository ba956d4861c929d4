//! Tests of the series and the engine on `tests/fixtures/lean4-mini`, our stand-in for the lean4
//! v4.28.0 tree (the real one cannot be downloaded where tests run; see its README). The last two
//! tests compile the patched fixture with the provisioned emcc for wasm64 and run the task
//! emulation in Node; they print SKIPPED without the toolchain, and fail instead where it is
//! required (`crate::gate`).

use std::{
    fs,
    path::{Path, PathBuf},
};

use super::*;
use crate::layout::Layout;
use crate::{
    paths::project_root,
    runner::{self, Step},
    symtab::tests::toolchain_and_dir,
    toolchain::Toolchain,
    util::test_dir,
};

/// A tree of unknown commit (not fetched: the tests hand the folder over themselves).
fn lean(dir: &Path) -> LeanSource<'_> {
    static PINS: std::sync::OnceLock<Pins> = std::sync::OnceLock::new();
    LeanSource {
        dir,
        commit: None,
        pin: &PINS.get_or_init(|| Pins::load().unwrap()).lean,
    }
}

fn fixture() -> PathBuf {
    project_root().join("tests/fixtures/lean4-mini")
}

fn series() -> Vec<Patch> {
    load_series(&default_series_dir()).unwrap()
}

/// A writable copy of the fixture, for tests that change it.
fn fixture_copy(name: &str) -> PathBuf {
    let dir = test_dir(name).join("lean4");
    util::copy_tree(&fixture(), &dir);
    dir
}

fn replace_in(path: &Path, from: &str, to: &str) {
    let text = fs::read_to_string(path).unwrap();
    assert_eq!(
        text.matches(from).count(),
        1,
        "{from:?} in {}",
        path.display()
    );
    fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn committed_patch_files_are_canonical_and_complete() {
    let series = series();
    assert!(series.len() >= 12, "{} patches", series.len());
    for p in &series {
        let text = fs::read_to_string(&p.path).unwrap();
        assert_eq!(
            series::render(p),
            text,
            "{} is not in canonical form (render it with series::render)",
            p.path.display()
        );
    }
    // Every name the prior art lists is covered by some edit.
    let all: String = series
        .iter()
        .flat_map(|p| p.edits.iter().map(|e| e.replace.clone()))
        .collect();
    for needle in [
        "st_task_get",
        "frexpf",
        "wasm_lookup_symbol",
        "std::size_t operator()(name const & n)",
        "T * release()",
        "lean_uv_tcp_wait_readable",
        "lean_uv_tcp_try_accept",
        "lean_uv_tcp_cancel_recv",
        "lean_uv_udp_wait_readable",
        "lean_uv_udp_cancel_recv",
        "uint8_t lean_uv_event_loop_alive()",
        "lean_uv_os_get_group(uint64_t",
        "lean_uv_dns_get_info(b_obj_arg name, b_obj_arg service, uint8_t family)",
        "uint8 lean_kernel_diag_is_enabled",
        "uint8_t lean_io_cancel_token_is_set",
        "uint8_t llvm_is_declaration",
        "defined(LEAN_EMSCRIPTEN) // xlean (patch 040)",
    ] {
        assert!(all.contains(needle), "no patch makes `{needle}`");
    }
}

#[test]
fn check_reports_every_patch_as_applies_and_leaves_the_source_untouched() {
    let before = tree::hash_tree(&fixture()).unwrap();
    let report = check_lean_source(&fixture(), &series()).unwrap();
    for (name, status) in &report {
        assert_eq!(*status, Status::Applies, "{name}: {status:?}");
    }
    assert_eq!(report.len(), series().len());
    assert_eq!(tree::hash_tree(&fixture()).unwrap(), before);
}

#[test]
fn patching_the_fixture_copies_patches_and_generates_headers() {
    let before = tree::hash_tree(&fixture()).unwrap();
    let out = test_dir("patch-apply").join("lean4-patched");
    let done = patch_lean_source(&lean(&fixture()), &out, &series()).unwrap();
    assert_eq!(done.applied, series().len());
    assert_eq!(done.already_applied, 0);
    // The user's tree is byte-identical (contents, modes and modification times).
    assert_eq!(tree::hash_tree(&fixture()).unwrap(), before);

    // Only the build folders and the top-level src files are copied.
    assert!(out.join("src/runtime/object.cpp").is_file());
    assert!(out.join("src/include/lean/lean.h").is_file());
    assert!(out.join("src/CMakeLists.txt").is_file());
    assert!(!out.join("README.md").exists());
    assert!(!util::partial_path(&out).exists());

    let object = fs::read_to_string(out.join("src/runtime/object.cpp")).unwrap();
    assert!(object.contains("static object * st_task_get(lean_task_object * t)"));
    assert!(!object.contains("lean_always_assert(g_task_manager)"));
    let interp = fs::read_to_string(out.join("src/library/ir_interpreter.cpp")).unwrap();
    assert!(interp.contains("return wasm_lookup_symbol(sym);"));

    let pins = Pins::load().unwrap();
    let version = fs::read_to_string(out.join("src/include/lean/version.h")).unwrap();
    util::assert_contains(
        &version,
        &[
            "#define LEAN_PLATFORM_TARGET \"wasm64-unknown-emscripten\"",
            "#define LEAN_VERSION_STRING \"4.28.0\"",
            "#define LEAN_VERSION_IS_RELEASE 1",
        ],
    );
    assert!(version
        .contains("#define LEAN_MANUAL_ROOT \"https://lean-lang.org/doc/reference/4.28.0/\""));
    assert!(!version.contains('@'), "{version}");
    let config = fs::read_to_string(out.join("src/include/lean/config.h")).unwrap();
    assert!(config.contains("#define LEAN_IS_STAGE0 0"), "{config}");
    assert!(
        !config.contains("LEAN_MIMALLOC") && !config.contains("LEAN_SMALL_ALLOCATOR"),
        "{config}"
    );
    let githash = fs::read_to_string(out.join("src/githash.h")).unwrap();
    assert!(
        githash.contains(&format!("#define LEAN_GITHASH \"{}\"", pins.lean.commit)),
        "{githash}"
    );

    let manifest = read_complete_manifest(&out).unwrap();
    assert_eq!(manifest.lean_version, "4.28.0");
    assert_eq!(manifest.githash_from, "pins.toml");
    assert_eq!(manifest.series.len(), series().len());

    // The patched copy: every patch is "already applied", and patching it again changes nothing.
    for (name, status) in check_lean_source(&out, &series()).unwrap() {
        assert_eq!(status, Status::AlreadyApplied, "{name}");
    }
}

#[test]
fn a_drifted_anchor_stops_with_patch_file_expected_and_closest_text() {
    let src = fixture_copy("patch-drift");
    // Upstream "moved" the text: the hash functor of names now returns uint32_t.
    replace_in(
        &src.join("src/util/name.h"),
        "struct name_hash_fn { unsigned operator()",
        "struct name_hash_fn { uint32_t operator()",
    );
    let out = src.parent().unwrap().join("out");
    // A previous good copy must survive the failed run.
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join("previous"), "good").unwrap();

    let err = patch_lean_source(&lean(&src), &out, &series()).unwrap_err();
    let msg = format!("{err:#}");
    util::assert_contains(
        &msg,
        &[
            "patch 060-hash-functors-size-t: src/util/name.h, edit 1",
            "the expected text was not found",
            "| struct name_hash_fn { unsigned operator()(name const & n) const { return n.hash(); } };",
            "closest text found (line 21, ",
            "| struct name_hash_fn { uint32_t operator()(name const & n) const { return n.hash(); } };",
            "nothing was written",
        ],
    );
    assert_eq!(fs::read_to_string(out.join("previous")).unwrap(), "good");
    assert!(!util::partial_path(&out).exists());

    // --check names it "drifted" and the others still "applies".
    let report = check_lean_source(&src, &series()).unwrap();
    for (name, status) in &report {
        let want = if name == "060-hash-functors-size-t" {
            "drifted"
        } else {
            "applies"
        };
        assert_eq!(status.label(), want, "{name}");
    }

    // An anchor that became ambiguous is drift too, with both lines named.
    let src2 = fixture_copy("patch-ambiguous");
    replace_in(
        &src2.join("src/runtime/io.cpp"),
        "char* appPath = reinterpret_cast<char*>(EM_ASM_INT({",
        "char* val = reinterpret_cast<char*>(EM_ASM_INT({",
    );
    let err = patch_lean_source(&lean(&src2), &src2.parent().unwrap().join("out"), &series())
        .unwrap_err();
    let msg = format!("{err:#}");
    util::assert_contains(
        &msg,
        &[
            "patch 120-em-asm-pointer-width: src/runtime/io.cpp, edit 1",
            "occurs 2 times (lines ",
        ],
    );
}

#[test]
fn a_draft_copy_is_written_but_marked_incomplete() {
    let src = fixture_copy("patch-draft");
    replace_in(
        &src.join("src/runtime/thread.h"),
        "    unique_lock(T const &) {}\n",
        "    explicit unique_lock(T const &) {}\n",
    );
    let out = src.parent().unwrap().join("draft");
    let done = patch_lean_source_with(&lean(&src), &out, &series(), Mode::Draft).unwrap();
    assert!(!done.manifest.complete);
    assert_eq!(
        done.manifest.skipped,
        vec!["070-single-thread-unique-lock".to_string()]
    );
    let err = read_complete_manifest(&out).unwrap_err();
    assert!(format!("{err:#}").contains("--draft copy"), "{err:#}");
}

#[test]
fn a_git_checkout_puts_its_own_commit_into_githash_h() {
    if runner::cmd("git").arg("--version").read().is_err() {
        eprintln!("SKIPPED: git is not installed (install git to run this test)");
        return;
    }
    let src = fixture_copy("patch-git");
    // Pretend this is another version: only a checkout's own commit can name it.
    replace_in(
        &src.join("src/CMakeLists.txt"),
        "set(LEAN_VERSION_MINOR 28",
        "set(LEAN_VERSION_MINOR 29",
    );
    let git = |args: &str| runner::cmd("git").args(args.split(' ')).cwd(&src).read();
    git("init -q").unwrap();
    git("add -A").unwrap();
    git("-c user.name=t -c user.email=t@t commit -qm fixture").unwrap();
    let head = git("rev-parse HEAD").unwrap();
    let out = src.parent().unwrap().join("out");
    // The commit is the one fetch read from the checkout (without running git).
    let pins = Pins::load().unwrap();
    let opts = crate::fetch::SourceOptions {
        lean_src: Some(src.clone()),
        ..Default::default()
    };
    let fetched = crate::fetch::source_dir(
        &pins,
        "lean4",
        &opts,
        &Layout::new(
            &src.parent().unwrap().join("build"),
            crate::paths::ToolCache::standard(None),
        ),
    )
    .unwrap();
    let done = patch_lean_source(&LeanSource::new(&fetched, &pins), &out, &series()).unwrap();
    assert_eq!(done.manifest.githash, head.trim());
    assert_eq!(done.manifest.githash_from, "fetch");
    assert_eq!(done.manifest.lean_version, "4.29.0");

    // Without git, a tree whose version is not the pinned tag is refused.
    fs::remove_dir_all(src.join(".git")).unwrap();
    let err = patch_lean_source(&lean(&src), &out, &series()).unwrap_err();
    assert!(
        format!("{err:#}").contains("pins.toml pins v4.28.0"),
        "{err:#}"
    );
}

#[test]
fn regenerate_rebases_the_series_onto_a_tree_edited_by_hand() {
    // Identity: regenerating from (pristine, patched) gives a series that reproduces the patched
    // files; it may choose different (smaller) anchors, so compare behaviour, not text.
    let out = test_dir("patch-regen-id").join("patched");
    patch_lean_source(&lean(&fixture()), &out, &series()).unwrap();
    let regenerated = regenerate::regenerate_series(&fixture(), &out, &series(), None).unwrap();
    assert_eq!(regenerated.len(), series().len());
    for (name, status) in check_lean_source(&fixture(), &regenerated).unwrap() {
        assert_eq!(status, Status::Applies, "{name}");
    }

    // A new "tag" where one anchor drifted: draft, fix by hand, regenerate, and the series applies.
    let newtag = fixture_copy("patch-regen-new");
    replace_in(
        &newtag.join("src/kernel/level.h"),
        "struct level_hash { unsigned operator()(level const & n) const { return n.hash(); } };",
        "struct level_hash { unsigned operator()(level const & n) const noexcept { return n.hash(); } };",
    );
    let draft = newtag.parent().unwrap().join("draft");
    let done = patch_lean_source_with(&lean(&newtag), &draft, &series(), Mode::Draft).unwrap();
    assert_eq!(
        done.manifest.skipped,
        vec!["060-hash-functors-size-t".to_string()]
    );
    // The maintainer redoes patch 060 in the draft (all of its edits, since the patch was skipped).
    let edits_060 = &series()
        .into_iter()
        .find(|p| p.name == "060-hash-functors-size-t")
        .unwrap()
        .edits;
    for e in edits_060 {
        let path = draft.join(&e.file);
        let anchor = if e.file == "src/kernel/level.h" {
            "struct level_hash { unsigned operator()(level const & n) const noexcept { return n.hash(); } };\n".to_string()
        } else {
            e.anchor.clone()
        };
        let replace = if e.file == "src/kernel/level.h" {
            "struct level_hash { std::size_t operator()(level const & n) const noexcept { return n.hash(); } }; // xlean (patch 060)\n".to_string()
        } else {
            e.replace.clone()
        };
        replace_in(&path, &anchor, &replace);
    }
    let regenerated = regenerate::regenerate_series(
        &newtag,
        &draft,
        &series(),
        Some("leanprover/lean4 v9.9.9 (test)"),
    )
    .unwrap();
    for (name, status) in check_lean_source(&newtag, &regenerated).unwrap() {
        assert_eq!(status, Status::Applies, "{name}");
    }
    let p060 = regenerated
        .iter()
        .find(|p| p.name == "060-hash-functors-size-t")
        .unwrap();
    assert!(
        p060.edits.iter().any(|e| e.anchor.contains("noexcept")),
        "{:?}",
        p060.edits
    );
    assert_eq!(
        p060.header.written_against,
        "leanprover/lean4 v9.9.9 (test)\n"
    );
    assert_eq!(p060.header.why, series()[5].header.why);

    // A change no patch owns (here in a file no patch touches) is refused.
    let stray = newtag.parent().unwrap().join("draft");
    let init = stray.join("src/initialize/init.cpp");
    let before = fs::read_to_string(&init).unwrap();
    fs::write(
        &init,
        before.replace("no patch edits it", "a stray edit nobody owns"),
    )
    .unwrap();
    let err = regenerate::regenerate_series(&newtag, &stray, &series(), None).err();
    if let Some(err) = err {
        assert!(
            format!("{err:#}").contains("belongs to no patch"),
            "{err:#}"
        );
    } else {
        panic!("a stray edit was accepted");
    }
}

// ------------------------------------------------------------------------------------------------
// With the real toolchain: compile for wasm64, run in Node.

fn stubs() -> PathBuf {
    project_root().join("stubs")
}

/// `em++`/`emcc` for wasm64 with the flags of the runtime build.
fn em(tc: &Toolchain, cxx: bool, tree: &Path) -> Step {
    let mut c = tc.cmd(if cxx { tc.empp() } else { tc.emcc() }).args([
        "-sMEMORY64",
        "-fwasm-exceptions",
        "-O1",
        "-DLEAN_EMSCRIPTEN",
        "-DLEAN_EXPORTING",
        "-DNDEBUG",
    ]);
    if cxx {
        c = c.arg("-std=c++20");
    }
    c.arg("-I")
        .arg(stubs())
        .arg("-I")
        .arg(tree.join("src/include"))
        .arg("-I")
        .arg(tree.join("src"))
}

fn run(c: Step, what: &str) -> std::process::Output {
    c.output().unwrap_or_else(|e| panic!("{what}: {e:#}"))
}

/// [`run`], which must succeed: else the panic shows its stderr.
fn run_ok(c: Step, what: &str) {
    let out = run(c, what);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what} failed:\n{stderr}");
}

fn sources(tree: &Path) -> Vec<PathBuf> {
    let files = tree::build_files(tree).unwrap().into_iter();
    files
        .filter(|f| f.ends_with(".cpp"))
        .map(|f| tree.join(f))
        .collect()
}

/// A copy of the fixture with generated headers but no patch (what upstream gives the build).
fn unpatched_with_headers(dir: &Path) -> PathBuf {
    let out = dir.join("unpatched");
    fs::create_dir_all(&out).unwrap();
    tree::copy_build_subset(&fixture(), &out).unwrap();
    let mut t = engine::Tree::new(&out);
    let cmake = fs::read_to_string(out.join("src/CMakeLists.txt")).unwrap();
    let inputs = headers::HeaderInputs {
        version: headers::parse_cmake_version(&cmake).unwrap(),
        githash: "0".repeat(40),
    };
    for (file, text) in headers::generate(&mut t, &inputs).unwrap() {
        fs::write(out.join(file), text).unwrap();
    }
    out
}

#[test]
fn the_patched_fixture_compiles_for_wasm64_and_the_unpatched_one_does_not() {
    let Some((tc, dir)) = toolchain_and_dir("patch-emcc") else {
        return;
    };
    let patched = dir.join("patched");
    patch_lean_source(&lean(&fixture()), &patched, &series()).unwrap();
    let objs = dir.join("objs");
    fs::create_dir_all(&objs).unwrap();

    // Every C++ file of the patched copy, and the libuv stubs.
    let c = em(&tc, true, &patched)
        .cwd(&objs)
        .arg("-c")
        .args(sources(&patched));
    run_ok(c, "em++ of the patched fixture");
    let c = em(&tc, false, &patched)
        .cwd(&objs)
        .arg("-c")
        .arg(stubs().join("uv_stubs.c"));
    run_ok(c, "emcc uv_stubs.c");
    for obj in [
        "object.o",
        "io.o",
        "tcp.o",
        "uv_stubs.o",
        "ir_interpreter.o",
    ] {
        let bytes = fs::read(objs.join(obj)).unwrap();
        assert_eq!(&bytes[..4], b"\0asm", "{obj} is not a wasm object");
    }

    // The same files without the patches fail where upstream's do (our reproduction of them).
    let unpatched = unpatched_with_headers(&dir);
    for (file, why) in [
        ("src/runtime/uv/event_loop.cpp", "lean_uv_event_loop_alive"),
        ("src/runtime/uv/system.cpp", "lean_uv_os_get_group"),
        ("src/runtime/uv/dns.cpp", "lean_uv_dns_get_info"),
        ("src/runtime/mutex.cpp", "unique_lock"),
    ] {
        let c = em(&tc, true, &unpatched)
            .cwd(&objs)
            .arg("-c")
            .arg(unpatched.join(file))
            .arg("-o")
            .arg("unpatched.o");
        let out = run(c, file);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{file} compiled without its patch");
        assert!(stderr.contains(why), "{file}: {stderr}");
    }
}

/// The task emulation's driver (tests/fixtures/lean4-mini-driver) linked with the patched
/// runtime into `<dir>/emulation.js`.
fn link_emulation(tc: &Toolchain, dir: &Path, patched: &Path) -> PathBuf {
    let driver = project_root().join("tests/fixtures/lean4-mini-driver");
    let js = dir.join("emulation.js");
    let c = em(tc, true, patched)
        .cwd(dir)
        .arg(driver.join("emulation.cpp"))
        .args(
            ["object.cpp", "apply.cpp", "io.cpp", "platform.cpp"]
                .map(|f| patched.join("src/runtime").join(f)),
        )
        .arg("-x")
        .arg("c")
        .arg(stubs().join("uv_stubs.c"))
        .arg("-x")
        .arg("none")
        .args([
            "-sALLOW_MEMORY_GROWTH=1",
            "-sMAXIMUM_MEMORY=4096MB",
            "-sEXIT_RUNTIME=1",
            "-sENVIRONMENT=node",
            "-sEXPORTED_FUNCTIONS=_main,_malloc,_free",
            "-sEXPORTED_RUNTIME_METHODS=ENV",
        ])
        .arg("--pre-js")
        .arg(driver.join("pre.js"))
        .arg("--post-js")
        .arg(driver.join("post.js"))
        .arg("-o")
        .arg(&js);
    run_ok(c, "link emulation.js");
    js
}

#[test]
fn the_task_emulation_runs_in_node() {
    let Some((tc, dir)) = toolchain_and_dir("patch-node") else {
        return;
    };
    let patched = dir.join("patched");
    patch_lean_source(&lean(&fixture()), &patched, &series()).unwrap();
    let js = link_emulation(&tc, &dir, &patched);

    let node = |arg: &str| {
        let out = run(tc.cmd(&tc.node).arg(&js).arg(arg), arg);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (code, stdout, stderr) = node("tasks");
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("all ok"), "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");
    for name in [
        "map-before-resolve-is-deferred",
        "resolve-runs-dependents-eagerly",
        "bind-finishes-with-inner",
        "dropped-promise-resolves-to-none",
        "keep-alive-task-runs-after-last-user-left",
        "no-leaks",
        "result-of-dropped-promise-never-finishes",
    ] {
        assert!(
            stdout.contains(&format!("ok {name}\n")),
            "{name} missing:\n{stdout}"
        );
    }
    // Upstream's panic message for Promise.result! is still printed.
    assert!(
        stderr.contains("Promise.result!: promise has been dropped"),
        "{stderr}"
    );

    for (scenario, printed) in [
        ("never-resolved", "waiting"),
        ("result-of-dropped", "dropped"),
    ] {
        let (code, stdout, stderr) = node(scenario);
        assert_eq!(
            code,
            Some(1),
            "{scenario}: stdout:\n{stdout}\nstderr:\n{stderr}"
        );
        assert!(
            stdout.contains(printed) && !stdout.contains("FAIL"),
            "{scenario}: {stdout}"
        );
        assert!(
            stderr.contains("INTERNAL PANIC: Task.get: this task can never finish"),
            "{scenario}: {stderr}"
        );
    }

    let (code, stdout, stderr) = node("platform");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("target wasm64-unknown-emscripten"),
        "{stdout}"
    );
    let pins = Pins::load().unwrap();
    assert!(
        stdout.contains(&format!("version 4.28.0 {}", pins.lean.commit)),
        "{stdout}"
    );

    let (code, stdout, stderr) = node("getenv");
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("ok getenv"), "{stdout}");
    let (code, stdout, stderr) = node("getenv-high");
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    util::assert_contains(
        &stdout,
        &["probe address above 2 GiB: yes", "ok getenv-high"],
    );
}
