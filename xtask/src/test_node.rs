//! `cargo xtask test-node`: the installed kernel (`<prefix>/bin/xlean.js`) in Node, driven the
//! way the JupyterLite worker drives it, with the provisioned Node and its built-in test runner.
//!
//! Which suite runs depends on the backend the prefix's kernel.json names:
//! - `lean`: lean-wasm/tests/lean-answers.test.mjs, real Lean answers (`#check Nat`, `#eval`,
//!   definitions across cells, errors with line:col, `IO.println`, `import`, completion);
//! - `test` (built with `--backend test`, no Lean inside): lean-wasm/tests/kernel.test.mjs, the
//!   kernel shell's own suite, and the output says that no Lean answer was checked.
//!
//! Then lean-wasm/tests/timings.mjs prints start-up and command timings as a benchmark.

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{bail, ensure, Context, Result};

use crate::{
    build::{prefix::KERNEL_SPEC_DIR, Backend},
    kernel::{self, NodeTestSummary},
    paths, runner,
    toolchain::{self, Toolchain},
};

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// The install prefix whose kernel is tested [default: <build>/prefix]
    #[arg(long, value_name = "DIR")]
    pub prefix: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let tc = match Toolchain::load() {
        Ok(tc) => tc,
        Err(_) => {
            toolchain::install_default()?;
            Toolchain::load()?
        }
    };
    let prefix = args
        .prefix
        .as_deref()
        .map(paths::absolute)
        .unwrap_or_else(|| paths::build_dir().join("prefix"));
    let summary = test_prefix(&tc, &prefix)?;
    summary.ensure_passed()?;
    eprintln!(
        "test-node: {} passed, {} skipped",
        summary.passed, summary.skipped
    );
    Ok(())
}

/// The kernel a prefix holds, as its kernel.json describes it.
#[derive(Debug, Clone)]
pub struct InstalledKernel {
    /// `<argv[0]>.js` (its `.wasm` beside it).
    pub module_js: PathBuf,
    pub backend: Backend,
}

/// Reads `<prefix>/share/jupyter/kernels/xlean/kernel.json` and checks that the module it names
/// is there.
pub fn installed_kernel(prefix: &Path) -> Result<InstalledKernel> {
    let spec_path = prefix.join(KERNEL_SPEC_DIR).join("kernel.json");
    let text = fs::read_to_string(&spec_path).with_context(|| {
        format!(
            "no kernel installed in {} (cannot read {})\n  fix: run `cargo xtask build` (with the \
             xeus sources available; `--backend test` where the kernel's Lean output is not), or \
             pass the prefix with --prefix",
            prefix.display(),
            spec_path.display()
        )
    })?;
    let spec: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON", spec_path.display()))?;
    let argv0 = spec["argv"][0]
        .as_str()
        .with_context(|| format!("{}: no argv[0]", spec_path.display()))?;
    ensure!(
        Path::new(argv0).is_absolute(),
        "{}: argv[0] `{argv0}` is not an absolute path (JupyterLite drops such a kernel)\n  fix: \
         reinstall with `cargo xtask build`",
        spec_path.display()
    );
    let backend = match spec["metadata"]["xlean"]["backend"].as_str() {
        Some("lean") => Backend::Lean,
        Some("test") => Backend::Test,
        other => bail!(
            "{}: metadata.xlean.backend is {other:?}, not \"lean\" or \"test\"\n  fix: reinstall \
             with `cargo xtask build`",
            spec_path.display()
        ),
    };
    let module_js = PathBuf::from(format!("{argv0}.js"));
    for file in [module_js.clone(), module_js.with_extension("wasm")] {
        ensure!(
            file.is_file(),
            "{} names {}, which is missing\n  fix: reinstall with `cargo xtask build`",
            spec_path.display(),
            file.display()
        );
    }
    Ok(InstalledKernel { module_js, backend })
}

/// Runs the suite for the prefix's backend, then the timings. Returns the counts; an error when
/// the kernel is missing or node could not run.
pub fn test_prefix(tc: &Toolchain, prefix: &Path) -> Result<NodeTestSummary> {
    let kernel = installed_kernel(prefix)?;
    let tests = paths::project_root().join("lean-wasm/tests");
    let (file, var) = match kernel.backend {
        Backend::Lean => {
            runner::note(&format!(
                "backend: lean ({}): checking real Lean answers",
                kernel.module_js.display()
            ));
            (kernel::LEAN_ANSWERS_SUITE, "XLEAN_LEAN_KERNEL")
        }
        Backend::Test => {
            runner::note(&format!(
                "backend: TEST ({}): this kernel has no Lean inside (built with --backend test), \
                 so the kernel shell's own suite runs against it and NO Lean answer is checked; \
                 lean-answers.test.mjs needs a kernel built from the pinned Lean's output",
                kernel.module_js.display()
            ));
            ("kernel.test.mjs", "XLEAN_TEST_MODULE")
        }
    };
    let summary = kernel::run_node_test_files(
        tc,
        "test-node",
        &[tests.join(file)],
        &[(var, &kernel.module_js)],
        &paths::logs_dir(),
    )?;
    eprintln!(
        "test-node ({} backend): {} passed, {} failed, {} skipped{}",
        kernel.backend.name(),
        summary.passed,
        summary.failed,
        summary.skipped,
        summary
            .log
            .as_deref()
            .map_or(String::new(), |l| format!(" (log: {})", l.display()))
    );
    if summary.failed == 0 {
        print_timings(tc, &kernel)?;
    }
    Ok(summary)
}

/// lean-wasm/tests/timings.mjs, printed as a small table.
fn print_timings(tc: &Toolchain, kernel: &InstalledKernel) -> Result<()> {
    let script = paths::project_root().join("lean-wasm/tests/timings.mjs");
    let out = tc
        .step("test-node-timings", &tc.node)
        .arg(&script)
        .arg(&kernel.module_js)
        .arg(kernel.backend.name())
        .capture()?;
    let figures = parse_timings(&out.output);
    ensure!(
        !figures.is_empty(),
        "{} printed no timings",
        script.display()
    );
    println!(
        "timings of {} ({} backend, Node):",
        kernel.module_js.display(),
        kernel.backend.name()
    );
    for (name, ms) in figures {
        println!("  {name:<22} {ms:>10.1} ms");
    }
    Ok(())
}

/// The `timing <name> <ms>` lines of timings.mjs.
fn parse_timings(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter_map(|l| {
            let mut words = l.strip_prefix("timing ")?.split_whitespace();
            let name = words.next()?.to_string();
            let ms = words.next()?.parse().ok()?;
            Some((name, ms))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util;

    #[test]
    fn timing_lines_are_read_and_other_lines_ignored() {
        let text =
            "xlean: something\ntiming module-load 12.5\ntiming kernel-start 3.0\ntiming bad x\n";
        assert_eq!(
            parse_timings(text),
            vec![
                ("module-load".to_string(), 12.5),
                ("kernel-start".to_string(), 3.0)
            ]
        );
    }

    #[test]
    fn a_prefix_without_a_proper_kernel_is_refused_with_the_fix() {
        let dir = util::test_dir("test-node-prefix");
        let msg = format!("{:#}", installed_kernel(&dir).unwrap_err());
        assert!(
            msg.contains("no kernel installed") && msg.contains("cargo xtask build"),
            "{msg}"
        );

        let spec_dir = dir.join(KERNEL_SPEC_DIR);
        fs::create_dir_all(&spec_dir).unwrap();
        let write = |argv0: &str, backend: &str| {
            let json = serde_json::json!({
                "argv": [argv0], "metadata": {"xlean": {"backend": backend}}
            });
            fs::write(spec_dir.join("kernel.json"), json.to_string()).unwrap();
        };
        write("bin/xlean", "test");
        let msg = format!("{:#}", installed_kernel(&dir).unwrap_err());
        assert!(msg.contains("not an absolute path"), "{msg}");

        let argv0 = dir.join("bin/xlean").display().to_string();
        write(&argv0, "python");
        let msg = format!("{:#}", installed_kernel(&dir).unwrap_err());
        assert!(msg.contains("metadata.xlean.backend"), "{msg}");

        write(&argv0, "test");
        let msg = format!("{:#}", installed_kernel(&dir).unwrap_err());
        assert!(msg.contains("xlean.js, which is missing"), "{msg}");

        fs::create_dir_all(dir.join("bin")).unwrap();
        fs::write(dir.join("bin/xlean.js"), "").unwrap();
        fs::write(dir.join("bin/xlean.wasm"), "").unwrap();
        let k = installed_kernel(&dir).unwrap();
        assert_eq!(k.backend, Backend::Test);
        assert_eq!(k.module_js, dir.join("bin/xlean.js"));
    }
}
