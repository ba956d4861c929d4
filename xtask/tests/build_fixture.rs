//! The whole `cargo xtask build` pipeline on fixtures, with the real emcmake/emcc/wasm-ld/Node.
//!
//! Stand-ins (we wrote both; GitHub and the official Lean toolchain cannot be reached here):
//! - `tests/fixtures/lean4-mini` for the lean4 v4.28.0 source tree (patched and compiled as the
//!   runtime library),
//! - `tests/fixtures/lean-out` for the output of the pinned Lean (`--lean-c`: C for
//!   Init/Std/Lean and the kernel's modules, and the lib/lean tree of .olean files).
//!
//! One test, run in order, because every step builds on the previous build directory.

// An integration test drives the built xtask from outside, as a user does: it cannot reach
// the binary's `runner`, so it starts its processes itself.
#![allow(clippy::disallowed_methods)]

mod common;

use common::{copy_tree, line_of, root, toolchain};
use std::{
    fs,
    path::PathBuf,
    process::{Command, Output, Stdio},
    thread,
    time::{Duration, Instant},
};

struct Fixture {
    work: PathBuf,
    lean_out: PathBuf,
    build_dir: PathBuf,
    node: PathBuf,
}

impl Fixture {
    fn build_command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
        c.arg("build")
            .arg("--lean-src")
            .arg(root().join("tests/fixtures/lean4-mini"))
            .arg("--lean-c")
            .arg(&self.lean_out)
            .arg("--build-dir")
            .arg(&self.build_dir)
            .args(["-j", "2", "--explain"])
            .env("CI", "1")
            .stdin(Stdio::null());
        c
    }

    fn build(&self) -> Output {
        let out = self.build_command().output().unwrap();
        eprintln!(
            "--- build stderr ---\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn probe(&self, words: &[&str]) -> String {
        let js = self.build_dir.join("prefix/bin/xlean-probe.js");
        let out = Command::new(&self.node)
            .arg(&js)
            .args(words)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success() || words.iter().any(|w| w.starts_with("read:")),
            "probe failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

impl Fixture {
    /// The installed kernel: kernel.json names it by an absolute path without extension, and in
    /// Node (driven as the JupyterLite worker drives it) a cell reaches the fixture's Lean C
    /// (`eval 5 3` = 8 * 5 + 3 through XLean, Lean and Std) after `xlean_init` found the
    /// embedded Init at /lib/lean; `\to` completes to `→` (the shell's abbreviation table).
    fn check_kernel(&self) {
        let prefix = self.build_dir.join("prefix");
        let spec: serde_json::Value = serde_json::from_str(
            &fs::read_to_string(prefix.join("share/jupyter/kernels/xlean/kernel.json")).unwrap(),
        )
        .unwrap();
        let argv0 = PathBuf::from(spec["argv"][0].as_str().unwrap());
        assert!(argv0.is_absolute(), "{argv0:?}");
        assert_eq!(argv0, prefix.join("bin/xlean"));
        assert_eq!(spec["metadata"]["xlean"]["backend"], "lean");
        assert!(prefix
            .join("share/jupyter/kernels/xlean/logo-64x64.png")
            .is_file());
        let harness = root().join("lean-wasm/tests/kernel-harness.mjs");
        let script = format!(
            "import {{ KernelSession, loadModule }} from {harness:?};\n\
             const k = new KernelSession(await loadModule({{ module: {js:?} }}));\n\
             const info = k.request('kernel_info_request', {{}}).reply.content;\n\
             console.log('version ' + info.language_info.version);\n\
             for (const cell of ['eval 5 3', 'print hello', 'nonsense']) {{\n\
               const r = k.execute(cell);\n\
               const texts = r.outputs.map((o) => o.content.text ?? o.content.data?.['text/plain'] ?? o.content.evalue);\n\
               console.log(cell + ' => ' + r.reply.content.status + ' ' + JSON.stringify(texts));\n\
             }}\n\
             const c = k.request('complete_request', {{ code: 'p \\\\to', cursor_pos: 5 }}).reply.content;\n\
             console.log('abbreviation ' + JSON.stringify(c.matches));\n",
            js = format!("{}.js", argv0.display()),
        );
        let stdout = self.node_script(&script);
        assert_eq!(line_of(&stdout, "version "), "version 4.28.0-fixture");
        assert_eq!(
            line_of(&stdout, "eval 5 3 => "),
            r#"eval 5 3 => ok ["1:0: info: 43\n"]"#
        );
        assert_eq!(
            line_of(&stdout, "print hello => "),
            r#"print hello => ok ["hello\n"]"#
        );
        assert!(
            line_of(&stdout, "nonsense => ").starts_with("nonsense => error "),
            "{stdout}"
        );
        // The build compiled the generated abbreviation table into the shell.
        assert_eq!(line_of(&stdout, "abbreviation "), r#"abbreviation ["→"]"#);
    }
}

impl Fixture {
    /// Runs an ES module script with the provisioned Node; returns its stdout (fails the test
    /// when the script fails).
    fn node_script(&self, script: &str) -> String {
        let out = Command::new(&self.node)
            .args(["--input-type=module", "-e", script])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "the kernel did not run: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

fn prefix_has_kernel(fx: &Fixture) -> bool {
    fx.build_dir.join("prefix/bin/xlean.js").is_file()
}

impl Fixture {
    /// The installed bundles: listed under names that carry their content's hash, and unpacked
    /// by the kernel's JS glue into /lib/lean, byte for byte, once a cell imports from them
    /// (before that only Init, which is embedded, is there).
    fn check_bundles(&self) {
        let bin = self.build_dir.join("prefix/bin");
        let list: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(bin.join("xlean-bundles.json")).unwrap())
                .unwrap();
        let files: Vec<&str> = list["bundles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["file"].as_str().unwrap())
            .collect();
        assert_eq!(files.len(), 2, "{list}");
        for (f, root) in files.iter().zip(["std", "lean"]) {
            let hash = f
                .strip_prefix(&format!("xlean-{root}."))
                .and_then(|r| r.strip_suffix(".tar.gz"));
            assert!(hash.is_some_and(|h| h.len() == 16), "bundle name {f}");
            assert!(bin.join(f).is_file(), "no {f} in the prefix");
        }
        let harness = root().join("lean-wasm/tests/kernel-harness.mjs");
        let script = format!(
            "import {{ loadModule, KernelSession }} from {harness:?};\n\
             const M = await loadModule({{ module: {js:?} }});\n\
             console.log('before ' + M.FS.analyzePath('/lib/lean/Std/Fixture.olean').exists);\n\
             await new KernelSession(M).executeAsync('import Std\\nimport Lean');\n\
             for (const f of ['Std/Fixture.olean', 'Lean/Fixture.olean', 'Init/Prelude.olean'])\n\
               console.log(f + ' ' + Buffer.from(M.FS.readFile('/lib/lean/' + f)).toString('hex'));\n",
            js = bin.join("xlean.js").display().to_string(),
        );
        let stdout = self.node_script(&script);
        assert_eq!(
            line_of(&stdout, "before "),
            "before false",
            "unpacked before any import"
        );
        for f in [
            "Std/Fixture.olean",
            "Lean/Fixture.olean",
            "Init/Prelude.olean",
        ] {
            let want: String = fs::read(self.lean_out.join("lib/lean").join(f))
                .unwrap()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(line_of(&stdout, &format!("{f} ")), format!("{f} {want}"));
        }
    }
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

#[test]
fn the_fixture_pipeline_builds_incrementally_and_safely() {
    let Some(tc) = toolchain() else { return };
    let work = root().join("target/xtask-tests/build-fixture");
    let _ = fs::remove_dir_all(&work);
    let lean_out = work.join("lean-out");
    copy_tree(&root().join("tests/fixtures/lean-out"), &lean_out);
    let fx = Fixture {
        build_dir: work.join("build"),
        lean_out,
        node: PathBuf::from(tc["node"].as_str().unwrap()),
        work,
    };

    let out = cold_build(&fx);
    the_module_resolves_symbols_and_reads_the_embedded_tree(&fx);
    the_kernel_module_links_when_the_xeus_sources_are_here(&fx, &out);
    bundles_come_with_the_flag_and_go_without_it(&fx);
    a_second_build_is_a_no_op(&fx);
    touching_one_c_file_recompiles_that_file_only(&fx);
    a_killed_build_leaves_the_install_usable(&fx);
    an_abi_mismatch_stops_the_build_before_the_link(&fx);
}

/// (1) A cold build runs every stage and installs the probe module (and the kernel module when
/// the xeus sources are available).
fn cold_build(fx: &Fixture) -> Output {
    let t = Instant::now();
    let out = fx.build();
    assert!(out.status.success(), "cold build failed");
    eprintln!("cold build: {:.1} s", t.elapsed().as_secs_f64());
    out
}

/// (2) The module: the symbol table resolves the fixture's functions (by calling them), keeps
/// data, leaves out names without a Lean prefix, and the embedded tree is readable.
fn the_module_resolves_symbols_and_reads_the_embedded_tree(fx: &Fixture) {
    let answers = fx.probe(&[
        "call2:l_Fixture_add:2:3",
        "call2:l_Fixture_add___boxed:20:22",
        "call2:l_Std_Fixture_quadruple:3:0",
        "call2:l_XLean_Repl_eval:1:2",
        "lookup:l_Fixture_answer",
        "lookup:initialize_Init_Prelude",
        "lookup:fixture_helper_not_exported",
        "lookup:no_such_symbol",
        "read:/lib/lean/Init/Prelude.olean",
        "read:/lib/lean/Std/Fixture.olean",
        "read:/lib/lean/XLean/Display.olean",
        "read:/lib/lean/XLean/Repl.olean",
        "pow:2:100",
        "pow:7:40",
    ]);
    // The runtime's bignums: mini-gmp compiled for wasm64, with 64-bit limbs like the official
    // x86_64 GMP whose layout the .olean files use.
    for (base, exp) in [(2u128, 100u32), (7, 40)] {
        assert_eq!(
            line_of(&answers, &format!("pow {base} {exp} ")),
            format!("pow {base} {exp} {} 64", base.pow(exp))
        );
    }
    for (line, want) in [
        ("call2 l_Fixture_add ", "call2 l_Fixture_add 5"),
        (
            "call2 l_Fixture_add___boxed ",
            "call2 l_Fixture_add___boxed 42",
        ),
        (
            "call2 l_Std_Fixture_quadruple ",
            "call2 l_Std_Fixture_quadruple 12",
        ),
        ("call2 l_XLean_Repl_eval ", "call2 l_XLean_Repl_eval 10"),
        (
            "lookup fixture_helper_not_exported ",
            "lookup fixture_helper_not_exported null",
        ),
        ("lookup no_such_symbol ", "lookup no_such_symbol null"),
        // Only Init is embedded by default, and of the kernel's modules the one notebooks import.
        (
            "read /lib/lean/Std/Fixture.olean ",
            "read /lib/lean/Std/Fixture.olean missing",
        ),
        (
            "read /lib/lean/XLean/Repl.olean ",
            "read /lib/lean/XLean/Repl.olean missing",
        ),
    ] {
        assert_eq!(line_of(&answers, line), want);
    }
    for data in ["l_Fixture_answer", "initialize_Init_Prelude"] {
        assert_ne!(
            line_of(&answers, &format!("lookup {data} ")),
            format!("lookup {data} null")
        );
    }
    for olean in ["Init/Prelude", "XLean/Display"] {
        let bytes = fs::read(fx.lean_out.join(format!("lib/lean/{olean}.olean"))).unwrap();
        assert_eq!(
            line_of(&answers, &format!("read /lib/lean/{olean}.olean ")),
            format!(
                "read /lib/lean/{olean}.olean {} {:016x}",
                bytes.len(),
                fnv1a64(&bytes)
            )
        );
    }
}

/// (2b) The kernel module, linked with the Lean libraries (the real backend over the fixture's
/// `XLean` exports, tests/fixtures/lean-out/c/XLean.c), when the xeus sources are here.
fn the_kernel_module_links_when_the_xeus_sources_are_here(fx: &Fixture, cold: &Output) {
    let stderr = String::from_utf8_lossy(&cold.stderr).to_string();
    if let Some(skip) = stderr
        .lines()
        .find(|l| l.starts_with("SKIPPED: the kernel module"))
    {
        eprintln!("{skip}");
    } else {
        fx.check_kernel();
    }
}

/// (2c) `--bundles`: Std and Lean beside the module, unpacked into /lib/lean when the kernel
/// starts; a later build without the flag installs without them again.
fn bundles_come_with_the_flag_and_go_without_it(fx: &Fixture) {
    if prefix_has_kernel(fx) {
        let out = fx.build_command().arg("--bundles").output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        fx.check_bundles();
        assert!(fx.build().status.success());
        assert!(!fx.build_dir.join("prefix/bin/xlean-bundles.json").exists());
    }
}

/// (3) A second build is a no-op.
fn a_second_build_is_a_no_op(fx: &Fixture) {
    let t = Instant::now();
    let out = fx.build();
    let secs = t.elapsed().as_secs_f64();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("up to date"), "{stderr}");
    assert!(
        !stderr.contains("runs because"),
        "a no-op build ran a stage: {stderr}"
    );
    eprintln!("no-op build: {secs:.2} s");
}

/// (4) Touching one C file recompiles that file only.
fn touching_one_c_file_recompiles_that_file_only(fx: &Fixture) {
    thread::sleep(Duration::from_millis(20));
    let std_c = fx.lean_out.join("c/Std/Fixture.c");
    let mut text = fs::read_to_string(&std_c).unwrap();
    text.push_str("\n// touched\n");
    fs::write(&std_c, text).unwrap();
    let out = fx.build();
    assert!(out.status.success());
    let log = fs::read_to_string(fx.build_dir.join("logs/cmake-build-libraries.log")).unwrap();
    let compiled: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("Building C") || l.contains("Building CXX"))
        .collect();
    assert_eq!(
        compiled.len(),
        1,
        "expected one recompiled file: {compiled:?}"
    );
    assert!(compiled[0].contains("Std/Fixture.c"), "{compiled:?}");
}

/// (5) A build killed mid-way leaves the previous install usable, and the next build finishes.
fn a_killed_build_leaves_the_install_usable(fx: &Fixture) {
    let before = fs::read_link(fx.build_dir.join("prefix")).unwrap();
    thread::sleep(Duration::from_millis(20));
    let init_c = fx.lean_out.join("c/Init/Prelude.c");
    let text = fs::read_to_string(&init_c)
        .unwrap()
        .replace("return a + b;", "return a + b + 100;");
    fs::write(&init_c, text).unwrap();
    let started = fx.build_dir.join("logs/cmake-build-libraries.log");
    fs::remove_file(&started).unwrap();
    let mut cmd = fx.build_command();
    // Its own process group, so that the kill takes the compilers it started too.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !started.exists() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    assert!(
        started.exists(),
        "the build never reached the libraries stage"
    );
    let killed = Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{}", child.id())])
        .status()
        .unwrap();
    assert!(killed.success(), "kill failed");
    let status = child.wait().unwrap();
    assert!(!status.success(), "the build finished before it was killed");
    assert_eq!(
        fs::read_link(fx.build_dir.join("prefix")).unwrap(),
        before,
        "the prefix moved"
    );
    let answers = fx.probe(&["call2:l_Fixture_add:2:3"]);
    assert_eq!(
        line_of(&answers, "call2 l_Fixture_add "),
        "call2 l_Fixture_add 5",
        "the old install changed"
    );
    let out = fx.build();
    assert!(out.status.success(), "the build after a kill failed");
    let answers = fx.probe(&["call2:l_Fixture_add:2:3"]);
    assert_eq!(
        line_of(&answers, "call2 l_Fixture_add "),
        "call2 l_Fixture_add 105"
    );
}

/// (6) An ABI mismatch stops the build before the link, showing both signatures; the
/// install stays as it was.
fn an_abi_mismatch_stops_the_build_before_the_link(fx: &Fixture) {
    thread::sleep(Duration::from_millis(20));
    let lean_c = fx.lean_out.join("c/Lean/Fixture.c");
    let text = fs::read_to_string(&lean_c)
        .unwrap()
        .replace(
            "uint64_t l_Std_Fixture_quadruple(uint64_t a, uint64_t unused);",
            "uint64_t l_Std_Fixture_quadruple(uint64_t a);",
        )
        .replace(
            "return l_Std_Fixture_quadruple(a, unused) * 2;",
            "(void)unused;\n  return l_Std_Fixture_quadruple(a) * 2;",
        );
    fs::write(&lean_c, text).unwrap();
    let out = fx.build();
    assert!(!out.status.success(), "a planted ABI mismatch was linked");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("l_Std_Fixture_quadruple"), "{stderr}");
    assert!(
        stderr.contains("(i64) -> i64") && stderr.contains("(i64, i64) -> i64"),
        "{stderr}"
    );
    let answers = fx.probe(&["call2:l_Fixture_add:2:3"]);
    assert_eq!(
        line_of(&answers, "call2 l_Fixture_add "),
        "call2 l_Fixture_add 105"
    );
    let _ = fx.work;
}
