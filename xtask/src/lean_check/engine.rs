//! Checking the modules of one package with one Lean host: import order, at most two at a time,
//! a cache keyed by content so an unchanged module is not run again.
//!
//! Every module is run as `lean --json -R <root> -o … -i … -c … <file>` in the package root with
//! `LEAN_PATH=<cache>/out`, where the `.olean` files of the modules it imports were put when they
//! passed. Nothing is kept from a run that did not pass.
//!
//! Cache layout: `<build>/lean-check/<host>/<package>/`
//! - `results/<Module>.json`: the key, the outcome, the messages, the time, the outputs' sha256;
//! - `out/<Dir/Module>.{olean,olean.private,olean.server,ilean,ir,c}`: what passing runs wrote
//!   (the `LEAN_PATH` root for the modules that import them);
//! - `tmp/<Module>/`: one run's outputs until it ends.
//!
//! The key of a module is the sha256 of: the cache format, the host (kind and full version line),
//! the arguments, the module's name and text, and the keys of the modules of ours it imports.

use std::{
    collections::{BTreeMap, HashMap},
    ffi::OsString,
    fs,
    io::Write as _,
    path::{Path, PathBuf},
    process::Command,
    sync::mpsc,
    time::Instant,
};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::{
    messages::{self, Message, Severity},
    package::{Module, Package},
};
use crate::{
    runner::fmt_secs,
    toolchain::lean_host::{HostKind, LeanHost},
    util,
};

/// Bumped when the cache's meaning changes; old entries then miss.
const CACHE_FORMAT: &str = "xlean lean-check cache 2";

/// The files `lean -o X.olean -i X.ilean -c X.c` leaves (the split `.olean` parts and `.ir` come
/// with `-o`).
const OUTPUT_EXTS: &[&str] = &["olean", "olean.private", "olean.server", "ilean", "ir", "c"];

#[derive(Debug, Clone)]
pub struct Options {
    /// Modules run at the same time (1 or 2).
    pub jobs: usize,
    /// `<build>/lean-check`.
    pub cache_root: PathBuf,
    /// Where each run's full output goes (`<module>.log`).
    pub log_dir: PathBuf,
    /// Run every module even when its cached result is current.
    pub no_cache: bool,
    /// The folder paths are shown relative to (the repository root).
    pub display_base: PathBuf,
}

/// What checking a module came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum Outcome {
    /// Elaborated and type-checked with no error (code generated).
    Passed,
    /// At least one error that is not a code-generation gap of the host.
    Failed,
    /// Its only errors are the checker host's code-generation gaps: elaboration and type checking
    /// went through, code generation could not be checked. Neither a pass nor a failure.
    NotCheckable,
    /// Not run: a module of ours that it imports did not pass.
    NotChecked(String),
    /// The host itself failed (crash, no output): says nothing about the module.
    HostError(String),
}

#[derive(Debug, Clone)]
pub struct ModuleResult {
    pub name: String,
    pub outcome: Outcome,
    pub messages: Vec<Message>,
    /// The time the check took (for a cached result: the time it took when it ran).
    pub seconds: f64,
    pub cached: bool,
    /// The C file this host generated, for a module that passed.
    #[cfg_attr(not(test), allow(dead_code))] // the tests check that `lean -c` wrote it
    pub c_file: Option<PathBuf>,
    /// For a module that is not checkable with this host: an `.olean` was made without the code
    /// the host cannot generate (a second run in a `noncomputable section`), so the modules that
    /// import it can still be checked. `None` when there was no need (nothing imports it).
    pub olean_without_code: Option<bool>,
    pub log: Option<PathBuf>,
}

impl ModuleResult {
    fn not_run(name: &str, outcome: Outcome) -> ModuleResult {
        ModuleResult {
            name: name.to_string(),
            outcome,
            messages: Vec::new(),
            seconds: 0.0,
            cached: false,
            c_file: None,
            olean_without_code: None,
            log: None,
        }
    }

    /// Whether the modules importing this one can be checked: it passed, or its `.olean` was
    /// made without the code the host cannot generate.
    pub fn importable(&self) -> bool {
        self.outcome == Outcome::Passed
            || (self.outcome == Outcome::NotCheckable && self.olean_without_code == Some(true))
    }

    /// Errors in the code (not the host's code-generation gaps).
    pub fn errors(&self) -> impl Iterator<Item = &Message> {
        self.messages
            .iter()
            .filter(|m| m.severity == Severity::Error && !m.gap)
    }
    /// The host's code-generation gaps.
    pub fn gaps(&self) -> impl Iterator<Item = &Message> {
        self.messages.iter().filter(|m| m.gap)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    /// In check order.
    pub results: Vec<ModuleResult>,
    /// How many Lean processes were started.
    pub runs: usize,
}

/// The cached record of one run.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CacheEntry {
    key: String,
    outcome: Outcome,
    messages: Vec<Message>,
    seconds: f64,
    /// Output file (relative to `out/`) → sha256, for a module that passed (or whose `.olean`
    /// was made without code).
    outputs: BTreeMap<String, String>,
    #[serde(default)]
    olean_without_code: Option<bool>,
    host: String,
}

struct Layout {
    results: PathBuf,
    out: PathBuf,
    tmp: PathBuf,
}

impl Layout {
    fn new(opts: &Options, host: &LeanHost, pkg: &Package) -> Layout {
        let host_dir = format!(
            "{}-{}",
            match host.kind() {
                HostKind::Official => "official",
                HostKind::Checker => "checker",
            },
            &util::sha256_bytes(host.cache_id().as_bytes())[..12]
        );
        let pkg_name = pkg
            .root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "root".into());
        let pkg_dir = format!(
            "{pkg_name}-{}",
            &util::sha256_bytes(pkg.root.to_string_lossy().as_bytes())[..12]
        );
        let base = opts.cache_root.join(host_dir).join(pkg_dir);
        Layout {
            results: base.join("results"),
            out: base.join("out"),
            tmp: base.join("tmp"),
        }
    }

    fn result_file(&self, module: &str) -> PathBuf {
        self.results.join(format!("{module}.json"))
    }
}

/// The arguments every run gets (besides the file and its output paths); part of the key.
const LEAN_ARGS: &[&str] = &["--json"];

fn cache_key(
    host: &LeanHost,
    m: &Module,
    options: &[String],
    import_keys: &[(String, String)],
) -> String {
    let mut s = String::new();
    s.push_str(CACHE_FORMAT);
    s.push('\n');
    s.push_str(&host.cache_id());
    s.push('\n');
    s.push_str(&format!(
        "args: {} {} -R -o -i -c\n",
        LEAN_ARGS.join(" "),
        options.join(" ")
    ));
    s.push_str(&format!("module: {} ({})\n", m.name, m.rel_path));
    for (name, key) in import_keys {
        s.push_str(&format!("import: {name} {key}\n"));
    }
    s.push_str("text:\n");
    s.push_str(&m.text);
    util::sha256_bytes(s.as_bytes())
}

/// Shows `path` relative to `base` when it is inside it.
pub fn display_path(base: &Path, path: &Path) -> String {
    match path.strip_prefix(base) {
        Ok(rel) => rel.display().to_string(),
        Err(_) => path.display().to_string(),
    }
}

/// What a finished run sends back to the scheduler.
struct RunDone {
    name: String,
    result: Result<(ModuleResult, Option<CacheEntry>)>,
}

/// Checks `order` (from [`Package::check_order`]) and prints each module's result as it ends.
pub fn check(
    host: &LeanHost,
    pkg: &Package,
    order: &[String],
    opts: &Options,
    print: &mut dyn FnMut(&ModuleResult),
) -> Result<Report> {
    host.prepare()?;
    let layout = Layout::new(opts, host, pkg);
    for d in [&layout.results, &layout.out, &layout.tmp] {
        fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    fs::create_dir_all(&opts.log_dir)
        .with_context(|| format!("cannot create {}", opts.log_dir.display()))?;

    // Keys first: they depend only on texts, in import order.
    let mut keys: HashMap<String, String> = HashMap::new();
    for name in order {
        let m = &pkg.modules[name];
        let mut import_keys: Vec<(String, String)> = m
            .own_imports
            .iter()
            .map(|i| (i.clone(), keys[i].clone()))
            .collect();
        import_keys.sort();
        let options = pkg.options.args_for(name);
        keys.insert(name.clone(), cache_key(host, m, &options, &import_keys));
    }

    // Which modules are imported by others in this check (only those need an `.olean` from a
    // module that is not checkable).
    let mut importers: HashMap<&str, Vec<&str>> = HashMap::new();
    for name in order {
        for i in &pkg.modules[name].own_imports {
            importers.entry(i.as_str()).or_default().push(name.as_str());
        }
    }

    let mut done: HashMap<String, ModuleResult> = HashMap::new();
    // The modules running, each with the processes it may have (2 when it speculates).
    let mut running: Vec<(String, usize)> = Vec::new();
    let busy = |running: &[(String, usize)]| running.iter().map(|(_, n)| n).sum::<usize>();
    let mut runs = 0;
    let (tx, rx) = mpsc::channel::<RunDone>();
    let jobs = opts.jobs.clamp(1, 2);

    while done.len() < order.len() {
        let mut progressed = true;
        while progressed {
            progressed = false;
            for name in order {
                if done.contains_key(name) || running.iter().any(|(n, _)| n == name) {
                    continue;
                }
                let m = &pkg.modules[name];
                if !m.own_imports.iter().all(|i| done.contains_key(i)) {
                    continue;
                }
                if let Some((dep, why)) = m.own_imports.iter().find_map(|i| {
                    let r = &done[i];
                    (!r.importable()).then(|| (i.clone(), describe(r)))
                }) {
                    let r = ModuleResult::not_run(
                        name,
                        Outcome::NotChecked(format!("imports {dep}, which {why}")),
                    );
                    print(&r);
                    done.insert(name.clone(), r);
                    progressed = true;
                    continue;
                }
                // The checker writes the .olean of a file that is not a `module` without its
                // definitions (only its types get through): whatever imports one would report
                // errors that are not in the code. Measured; see docs/lean-host.md.
                if host.kind() == HostKind::Checker {
                    if let Some(dep) = m
                        .own_imports
                        .iter()
                        .find(|i| !pkg.modules[*i].header.is_module)
                    {
                        let r = ModuleResult::not_run(
                            name,
                            Outcome::NotChecked(format!(
                                "imports {dep}, which is not a `module` file: the checker host \
                                 writes its .olean without its definitions, so what uses them \
                                 cannot be checked (make {dep} a `module` with `public` \
                                 declarations, or use the official Lean)"
                            )),
                        );
                        print(&r);
                        done.insert(name.clone(), r);
                        progressed = true;
                        continue;
                    }
                }
                let key = &keys[name];
                if !opts.no_cache {
                    if let Some(r) = cached_result(&layout, m, key).filter(|r| {
                        // Cached before anything imported it: its `.olean` is needed now.
                        !(r.outcome == Outcome::NotCheckable
                            && r.olean_without_code.is_none()
                            && importers.contains_key(name.as_str()))
                    }) {
                        print(&r);
                        done.insert(name.clone(), r);
                        progressed = true;
                        continue;
                    }
                }
                if busy(&running) < jobs {
                    forget(&layout, m)?;
                    let imported = importers.contains_key(name.as_str());
                    // With the checker nearly every module of ours is "not checkable" (its
                    // code-generation gaps), and one that others import then needs the run
                    // without code too: start it beside the check where a slot is free (the
                    // modules of a chain wait for each other, so one usually is).
                    let job_speculates =
                        imported && host.kind() == HostKind::Checker && busy(&running) + 2 <= jobs;
                    let job = Job {
                        host: host.clone(),
                        root: pkg.root.clone(),
                        module: m.clone(),
                        options: pkg.options.args_for(name),
                        imported_by_others: imported,
                        speculate: job_speculates,
                        imports_olean_without_code: imports_without_code(pkg, name, &done),
                        key: key.clone(),
                        out_dir: layout.out.clone(),
                        tmp: layout.tmp.join(&m.name),
                        log: opts.log_dir.join(format!("{}.log", m.name)),
                    };
                    crate::runner::note(&format!(
                        "checking {} ({}) …",
                        m.name,
                        display_path(&opts.display_base, &m.path)
                    ));
                    let tx = tx.clone();
                    std::thread::spawn(move || {
                        let name = job.module.name.clone();
                        // A run that could not even be made (no program, a full disk) is a host
                        // error of this module; the other runs go on.
                        let result = job.run().or_else(|e| {
                            let mut r =
                                ModuleResult::not_run(&name, Outcome::HostError(format!("{e:#}")));
                            r.log = Some(job.log.clone());
                            Ok((r, None))
                        });
                        let _ = tx.send(RunDone { name, result });
                    });
                    let processes = if job_speculates { 2 } else { 1 };
                    running.push((name.clone(), processes));
                    runs += 1;
                }
            }
        }
        if done.len() == order.len() {
            break;
        }
        if running.is_empty() {
            bail!("lean-check: no module can start (internal error: the order is not topological)");
        }
        let finished = rx
            .recv()
            .context("a check thread ended without an answer")?;
        running.retain(|(n, _)| n != &finished.name);
        let (r, entry) = finished.result?;
        if let Some(entry) = entry {
            // Recorded last: a run interrupted before this point is run again next time.
            util::write_atomic(
                &layout.result_file(&r.name),
                serde_json::to_string_pretty(&entry)?.as_bytes(),
            )?;
        }
        print(&r);
        done.insert(finished.name, r);
    }

    let results = order
        .iter()
        .map(|n| done.remove(n).expect("every module has a result"))
        .collect();
    Ok(Report { results, runs })
}

/// For "imports X, which …".
fn describe(r: &ModuleResult) -> String {
    match &r.outcome {
        Outcome::Passed => "passed".into(),
        Outcome::Failed => "failed".into(),
        Outcome::NotCheckable => "is not checkable with this host (and no .olean could be made \
                                  without its code)"
            .into(),
        Outcome::NotChecked(_) => "was not checked".into(),
        Outcome::HostError(_) => "hit a host error".into(),
    }
}

/// Whether `name` imports, directly or not, a module whose `.olean` was made without code.
fn imports_without_code(pkg: &Package, name: &str, done: &HashMap<String, ModuleResult>) -> bool {
    let mut stack: Vec<&str> = pkg.modules[name]
        .own_imports
        .iter()
        .map(String::as_str)
        .collect();
    let mut seen = std::collections::HashSet::new();
    while let Some(i) = stack.pop() {
        if !seen.insert(i) {
            continue;
        }
        if done
            .get(i)
            .is_some_and(|r| r.olean_without_code == Some(true))
        {
            return true;
        }
        stack.extend(pkg.modules[i].own_imports.iter().map(String::as_str));
    }
    false
}

/// The outputs a module may have in `out/`: (extension, path relative to `out/`, path).
fn output_paths(out: &Path, m: &Module) -> Vec<(&'static str, String, PathBuf)> {
    let stem = m.rel_path.trim_end_matches(".lean");
    OUTPUT_EXTS
        .iter()
        .map(|ext| {
            let rel = format!("{stem}.{ext}");
            let p = out.join(&rel);
            (*ext, rel, p)
        })
        .collect()
}

/// Drops what an earlier run of this module left: its result and its outputs. (So a module that
/// no longer passes never leaves an old `.olean` or `.c` behind.)
fn forget(layout: &Layout, m: &Module) -> Result<()> {
    util::remove_any(&layout.result_file(&m.name))?;
    for (_, _, p) in output_paths(&layout.out, m) {
        util::remove_any(&p)?;
    }
    Ok(())
}

fn cached_result(layout: &Layout, m: &Module, key: &str) -> Option<ModuleResult> {
    let text = fs::read_to_string(layout.result_file(&m.name)).ok()?;
    let entry: CacheEntry = serde_json::from_str(&text).ok()?;
    if entry.key != key {
        return None;
    }
    // A passing module's outputs must still be what that run wrote.
    for (rel, sha) in &entry.outputs {
        let p = layout.out.join(rel);
        if util::sha256_file(&p).ok().as_deref() != Some(sha.as_str()) {
            return None;
        }
    }
    let c_file = entry
        .outputs
        .keys()
        .find(|k| k.ends_with(".c"))
        .map(|k| layout.out.join(k));
    Some(ModuleResult {
        name: m.name.clone(),
        outcome: entry.outcome,
        messages: entry.messages,
        seconds: entry.seconds,
        cached: true,
        c_file,
        olean_without_code: entry.olean_without_code,
        log: None,
    })
}

/// One module's run, on its own thread.
#[derive(Clone)]
struct Job {
    host: LeanHost,
    root: PathBuf,
    module: Module,
    /// `-Dname=value` from the Lake configuration.
    options: Vec<String>,
    /// Other modules of this check import it (so it needs an `.olean` even when it is not
    /// checkable with this host).
    imported_by_others: bool,
    /// It imports a module whose `.olean` was made without code: "depends on X, which is
    /// 'noncomputable'" may then come from that, not from this module's code.
    imports_olean_without_code: bool,
    /// Start the run without code at once, beside the check, instead of after it (the
    /// scheduler counts this job as two processes then).
    speculate: bool,
    key: String,
    out_dir: PathBuf,
    tmp: PathBuf,
    log: PathBuf,
}

/// One `lean` process: what it printed and how it ended.
struct LeanRun {
    program: PathBuf,
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
    seconds: f64,
}

impl Job {
    /// Runs `lean --json <options> -R <root> <outputs> <file>` in `root`, logs everything to `log`.
    fn lean(
        &self,
        root: &Path,
        file: &str,
        outputs: &[(&str, PathBuf)],
        log: &Path,
    ) -> Result<LeanRun> {
        let lean = self
            .host
            .lean_command(&[&self.root, self.out_dir.parent().unwrap_or(&self.out_dir)])?;
        let mut args: Vec<OsString> = lean.args.clone();
        args.extend(LEAN_ARGS.iter().map(OsString::from));
        args.extend(self.options.iter().map(OsString::from));
        args.push("-R".into());
        args.push(root.into());
        for (flag, path) in outputs {
            args.push(flag.into());
            args.push(path.into());
        }
        args.push(file.into());

        let start = Instant::now();
        let output = Command::new(&lean.program)
            .args(&args)
            .current_dir(root)
            .envs(lean.env.iter().map(|(k, v)| (k, v)))
            .env("LEAN_PATH", &self.out_dir)
            .stdin(std::process::Stdio::null())
            .output()
            .with_context(|| {
                format!(
                    "cannot start {} to check {}\n  fix: cargo xtask doctor",
                    lean.program.display(),
                    self.module.rel_path
                )
            })?;
        let seconds = start.elapsed().as_secs_f64();
        write_log(
            log,
            &lean.program,
            &args,
            root,
            &self.out_dir,
            &output,
            seconds,
        )?;
        Ok(LeanRun {
            program: lean.program,
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            seconds,
        })
    }

    fn run(&self) -> Result<(ModuleResult, Option<CacheEntry>)> {
        let m = &self.module;
        util::remove_any(&self.tmp)?;
        let stem = m
            .rel_path
            .trim_end_matches(".lean")
            .rsplit('/')
            .next()
            .unwrap_or(&m.name)
            .to_string();
        let pass1 = self.tmp.join("check");
        fs::create_dir_all(&pass1).with_context(|| format!("cannot create {}", pass1.display()))?;
        let tmp_out = |ext: &str| pass1.join(format!("{stem}.{ext}"));
        let without_code = self.speculate.then(|| {
            let job = self.clone();
            let stem = stem.clone();
            std::thread::spawn(move || job.run_without_code(&stem))
        });

        let run = self.lean(
            &self.root,
            &m.rel_path,
            &[
                ("-o", tmp_out("olean")),
                ("-i", tmp_out("ilean")),
                ("-c", tmp_out("c")),
            ],
            &self.log,
        )?;
        let mut seconds = run.seconds;
        let mut parsed = messages::parse(&run.stdout, &run.stderr, &m.text);
        if self.host.kind() == HostKind::Checker {
            for x in &mut parsed.messages {
                x.gap = x.severity == Severity::Error
                    && (messages::is_codegen_gap(&x.text)
                        || (self.imports_olean_without_code
                            && messages::is_inherited_noncomputable(&x.text)));
            }
        }
        let errors: Vec<&Message> = parsed
            .messages
            .iter()
            .filter(|x| x.severity == Severity::Error)
            .collect();
        let real_errors = errors.iter().filter(|x| !x.gap).count();
        let outcome = if !run.status.success() && errors.is_empty() {
            let tail = &parsed.other[parsed.other.len().saturating_sub(15)..];
            Outcome::HostError(format!(
                "{} ended with {} and printed no Lean message{}",
                run.program.display(),
                run.status,
                if tail.is_empty() {
                    String::new()
                } else {
                    format!("; last lines:\n      {}", tail.join("\n      "))
                }
            ))
        } else if real_errors > 0 {
            Outcome::Failed
        } else if !errors.is_empty() {
            Outcome::NotCheckable
        } else if !tmp_out("olean").is_file() {
            Outcome::HostError(format!(
                "{} reported no error but wrote no {}",
                run.program.display(),
                tmp_out("olean").display()
            ))
        } else {
            Outcome::Passed
        };

        let mut outputs = BTreeMap::new();
        let mut c_file = None;
        let mut olean_without_code = None;
        if outcome == Outcome::Passed {
            for (ext, rel, dest) in output_paths(&self.out_dir, m) {
                if let Some(hash) = self.keep(&tmp_out(ext), &dest)? {
                    outputs.insert(rel, hash);
                    if ext == "c" {
                        c_file = Some(dest);
                    }
                }
            }
        }
        // Waited for whatever the outcome: no process is left running behind the result.
        let early = match without_code {
            Some(thread) => Some(
                thread
                    .join()
                    .map_err(|_| anyhow::anyhow!("the run without code panicked"))??,
            ),
            None => None,
        };
        if outcome == Outcome::NotCheckable && self.imported_by_others {
            let (made, secs) = match early {
                Some(done) => done,
                None => self.run_without_code(&stem)?,
            };
            if made {
                self.keep_without_code(&stem, &mut outputs)?;
            }
            olean_without_code = Some(made);
            seconds += secs;
        }
        util::remove_any(&self.tmp)?;

        let result = ModuleResult {
            name: m.name.clone(),
            outcome: outcome.clone(),
            messages: parsed.messages.clone(),
            seconds,
            cached: false,
            c_file,
            olean_without_code,
            log: Some(self.log.clone()),
        };
        let entry = match outcome {
            Outcome::HostError(_) | Outcome::NotChecked(_) => None,
            _ => Some(CacheEntry {
                key: self.key.clone(),
                outcome,
                messages: parsed.messages,
                seconds,
                outputs,
                olean_without_code,
                host: self.host.version_line().to_string(),
            }),
        };
        Ok((result, entry))
    }

    /// Moves a run's output into `out/` and returns its sha256 (`None` if the run did not write it).
    fn keep(&self, src: &Path, dest: &Path) -> Result<Option<String>> {
        if !src.is_file() {
            return Ok(None);
        }
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::rename(src, dest)
            .with_context(|| format!("cannot move {} to {}", src.display(), dest.display()))?;
        Ok(Some(util::sha256_file(dest)?))
    }

    /// The second run for a module that is not checkable with this host but is imported by
    /// others: the same text with `noncomputable section` after its header (Lean then marks a
    /// definition it cannot compile `noncomputable` instead of failing), from a copy at the same
    /// module path under `tmp/<Module>/shadow/`. Only its `.olean` parts are kept; its C never is
    /// (it lacks the code that could not be generated). Returns whether it worked, and its time.
    /// Runs the module again inside `noncomputable section`, writing only its `.olean` into
    /// `tmp/without-code/`: whether it was made, and the time it took.
    fn run_without_code(&self, stem: &str) -> Result<(bool, f64)> {
        let m = &self.module;
        let shadow_root = self.tmp.join("shadow");
        let at = m.header.end.min(m.text.len());
        let text = format!(
            "{}\nnoncomputable section\n{}",
            &m.text[..at],
            &m.text[at..]
        );
        util::write_atomic(&shadow_root.join(&m.rel_path), text.as_bytes())?;
        let pass2 = self.tmp.join("without-code");
        fs::create_dir_all(&pass2)?;
        let olean = pass2.join(format!("{stem}.olean"));
        let log = self.log.with_extension("without-code.log");
        let run = self.lean(&shadow_root, &m.rel_path, &[("-o", olean.clone())], &log)?;
        Ok((run.status.success() && olean.is_file(), run.seconds))
    }

    /// Moves the `.olean` files of [`Job::run_without_code`] into `out/`.
    fn keep_without_code(&self, stem: &str, outputs: &mut BTreeMap<String, String>) -> Result<()> {
        let m = &self.module;
        let pass2 = self.tmp.join("without-code");
        for (ext, rel, dest) in output_paths(&self.out_dir, m) {
            if !ext.starts_with("olean") {
                continue;
            }
            if let Some(hash) = self.keep(&pass2.join(format!("{stem}.{ext}")), &dest)? {
                outputs.insert(rel, hash);
            }
        }
        Ok(())
    }
}

fn write_log(
    log: &Path,
    program: &Path,
    args: &[OsString],
    cwd: &Path,
    lean_path: &Path,
    output: &std::process::Output,
    seconds: f64,
) -> Result<()> {
    let mut text = Vec::new();
    write!(
        text,
        "$ LEAN_PATH={} {}",
        lean_path.display(),
        program.display()
    )?;
    for a in args {
        write!(text, " {}", a.to_string_lossy())?;
    }
    writeln!(text, "\n# cwd: {}\n\n## stdout", cwd.display())?;
    text.extend_from_slice(&output.stdout);
    writeln!(text, "\n## stderr")?;
    text.extend_from_slice(&output.stderr);
    writeln!(text, "\n# {} after {}", output.status, fmt_secs(seconds))?;
    util::write_atomic(log, &text)
}
