//! `cargo xtask build` without `--lean-c`: the lake stage makes Lean's output with the official
//! Lean of the pin, then every later stage builds from it, with the real emcmake/emcc/Node.
//!
//! Stand-ins (we wrote them; the official Lean v4.28.0 toolchain cannot be installed here):
//! - `tests/fixtures/lean-host` for the toolchain (`bin/lean`, `bin/lake` answer what the stage
//!   asks; `lib/lean` for its stdlib tree), put first on PATH;
//! - `tests/fixtures/lean4-mini` for the lean4 source (its `src/**/*.lean` are the stdlib).
//!
//! The kernel module is left out (`--no-kernel`): its own tests are in build_fixture.rs, and
//! this one is about where Lean's output comes from.

// An integration test drives the built xtask from outside, as a user does: it cannot reach
// the binary's `runner`, so it starts its processes itself.
#![allow(clippy::disallowed_methods)]

mod common;

use std::{
    ffi::OsString,
    fs,
    path::PathBuf,
    process::{Command, Output, Stdio},
    time::SystemTime,
};

use common::{copy_tree, line_of, root, toolchain};

struct LakeBuild {
    lean_src: PathBuf,
    build_dir: PathBuf,
    elan_home: PathBuf,
    node: PathBuf,
}

impl LakeBuild {
    fn run(&self, env: &[(&str, &str)]) -> Output {
        let mut path = OsString::from(root().join("tests/fixtures/lean-host/bin"));
        path.push(":");
        path.push(std::env::var_os("PATH").unwrap_or_default());
        let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
        c.arg("--build-dir")
            .arg(&self.build_dir)
            .arg("build")
            .arg("--lean-src")
            .arg(&self.lean_src)
            .args(["--no-kernel", "-j", "2", "--explain"])
            .env("PATH", path)
            // No elan toolchain may be found: only the fixture `lean` on PATH.
            .env("ELAN_HOME", &self.elan_home)
            .env("CI", "1")
            .stdin(Stdio::null());
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        eprintln!(
            "--- build stderr ---\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn probe(&self, words: &[&str]) -> String {
        let out = Command::new(&self.node)
            .arg(self.build_dir.join("prefix/bin/xlean-probe.js"))
            .args(words)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    fn lean_out(&self) -> PathBuf {
        self.build_dir.join("lean-out")
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn without_lean_c_the_lake_stage_makes_the_lean_output_with_the_pinned_lean() {
    let Some(tc) = toolchain() else { return };
    let work = root().join("target/xtask-tests/lake-stage");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(work.join("elan")).unwrap();
    copy_tree(
        &root().join("tests/fixtures/lean4-mini"),
        &work.join("lean4"),
    );
    let b = LakeBuild {
        lean_src: work.join("lean4"),
        build_dir: work.join("build"),
        elan_home: work.join("elan"),
        node: PathBuf::from(tc["node"].as_str().unwrap()),
    };

    refuses_another_lean_version(&b);
    let made_before = a_failing_module_stops_the_stage(&b);
    the_next_build_goes_on_from_there(&b, made_before);
    every_module_is_compiled_and_linked(&b);
    nothing_changed_is_up_to_date(&b);
    an_edited_stdlib_source_runs_lake_again(&b);
}

/// (1) A `lean` of another version is refused, by name, before anything is built.
fn refuses_another_lean_version(b: &LakeBuild) {
    let out = b.run(&[("XLEAN_FAKE_LEAN_VERSION", "4.27.0")]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("no official Lean v4.28.0"), "{err}");
    assert!(
        err.contains("refused:") && err.contains("says `Lean (version 4.27.0"),
        "{err}"
    );
    assert!(err.contains("--lean-c DIR"), "{err}");
    assert!(!b.build_dir.join("stamps").exists(), "a stage ran");
}

/// (2) A module that fails stops the stage with its error; the modules made so far are kept.
/// Returns when the one made first (Init/Prelude.c) was made.
fn a_failing_module_stops_the_stage(b: &LakeBuild) -> SystemTime {
    let out = b.run(&[("XLEAN_FAKE_LEAN_FAIL", "Init/Data/Fixture.lean")]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("`lean -c` failed on Init/Data/Fixture.lean"),
        "{err}"
    );
    assert!(
        err.contains("Init/Data/Fixture.lean:1:0: error: planted failure"),
        "{err}"
    );
    assert!(!b.lean_out().join("lean-version.txt").exists());
    assert!(!b.lean_out().join("c/Init/Data/Fixture.c").exists());
    let prelude_c = b.lean_out().join("c/Init/Prelude.c");
    fs::metadata(prelude_c).unwrap().modified().unwrap()
}

/// (3) The next build goes on from there, then builds everything from the generated output.
fn the_next_build_goes_on_from_there(b: &LakeBuild, made_before: SystemTime) {
    let prelude_c = b.lean_out().join("c/Init/Prelude.c");
    let out = b.run(&[]);
    assert!(out.status.success(), "the build failed");
    let err = stderr(&out);
    assert!(err.contains("lake: runs because"), "{err}");
    assert!(err.contains("already made"), "{err}");
    assert_eq!(
        fs::metadata(&prelude_c).unwrap().modified().unwrap(),
        made_before,
        "a module made before the failure was made again"
    );
    let version = fs::read_to_string(b.lean_out().join("lean-version.txt")).unwrap();
    assert!(version.starts_with("Lean (version 4.28.0,"), "{version}");
    for c in [
        "Init.c",
        "Init/Data/Fixture.c",
        "Std.c",
        "Lean.c",
        "XLean.c",
        "XLean/Display.c",
    ] {
        assert!(b.lean_out().join("c").join(c).is_file(), "no {c}");
    }
    // lib/lean: the toolchain's tree, linked, and the kernel package's .olean files.
    let lib = b.lean_out().join("lib/lean");
    assert_eq!(
        fs::read(lib.join("Init/Prelude.olean")).unwrap(),
        fs::read(root().join("tests/fixtures/lean-host/lib/lean/Init/Prelude.olean")).unwrap()
    );
    assert!(lib.join("XLean/Display.olean").is_file());
    // The repository's package folder is never written to (lake ran in a copy).
    assert!(!root().join("lean-wasm/.lake").exists());
}

/// Every generated module was compiled and linked: the probe calls the stdlib's and the
/// kernel package's C through the symbol table, and reads the embedded files.
fn every_module_is_compiled_and_linked(b: &LakeBuild) {
    let answers = b.probe(&[
        "call2:l_Init_Prelude_fixture:4:2",
        "call2:l_Init_Data_Fixture_fixture:1:3",
        "call2:l_XLean_Display_fixture:7:0",
        "read:/lib/lean/XLean/Display.olean",
    ]);
    assert_eq!(
        line_of(&answers, "call2 l_Init_Prelude_fixture "),
        "call2 l_Init_Prelude_fixture 42"
    );
    assert_eq!(
        line_of(&answers, "call2 l_Init_Data_Fixture_fixture "),
        "call2 l_Init_Data_Fixture_fixture 13"
    );
    assert_eq!(
        line_of(&answers, "call2 l_XLean_Display_fixture "),
        "call2 l_XLean_Display_fixture 70"
    );
    assert!(!line_of(&answers, "read /lib/lean/XLean/Display.olean ").ends_with("missing"));
}

/// (4) Nothing changed: up to date, the lake stage included.
fn nothing_changed_is_up_to_date(b: &LakeBuild) {
    let out = b.run(&[]);
    assert!(out.status.success());
    let err = stderr(&out);
    assert!(err.contains("lake: up to date"), "{err}");
    assert!(err.contains("up to date ("), "{err}");
}

/// (5) An edited stdlib source makes the lake stage run again, and the build goes through.
fn an_edited_stdlib_source_runs_lake_again(b: &LakeBuild) {
    let std = b.lean_src.join("src/Std.lean");
    let mut text = fs::read_to_string(&std).unwrap();
    text.push_str("-- edited\n");
    std::thread::sleep(std::time::Duration::from_millis(20));
    fs::write(&std, text).unwrap();
    let out = b.run(&[]);
    assert!(out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("lake: runs because input `stdlib sources` changed"),
        "{err}"
    );
    let stamp = fs::read_to_string(b.build_dir.join("stamps/release/lake.json")).unwrap();
    assert!(stamp.contains("kernel package"), "{stamp}");
}
