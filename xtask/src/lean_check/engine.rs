//! Checking the modules of one package with one Lean host: import order, at most two at a time,
//! a cache keyed by content so an unchanged module is not run again.
//!
//! Every module is run as `lean --json -R <root> -o … -i … -c … <file>` in the package root with
//! `LEAN_PATH=<cache>/out`, where the `.olean` files of the modules it imports were put when they
//! passed. Nothing is kept from a run that did not pass.
//!
//! Cache layout: `<build>/lean-check/<host>/<package>/` (each run's full output goes to
//! `<build>/logs/lean-check/<module>.log`)
//! - `results/<Module>.json`: the key, the outcome, the messages, the time, the outputs' sha256;
//! - `out/<Dir/Module>.{olean,olean.private,olean.server,ilean,ir,c}`: what passing runs wrote
//!   (the `LEAN_PATH` root for the modules that import them);
//! - `tmp/<Module>/`: one run's outputs until it ends.
//!
//! The key of a module is the sha256 of: the cache format, the host (kind and full version line),
//! the arguments, the module's name and text, and the keys of the modules of ours it imports.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    ffi::OsStr,
    fs,
    io::Write as _,
    path::{Path, PathBuf},
    sync::mpsc,
    time::Instant,
};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::{
    messages::{self, Message, Severity},
    package::{Module, Package},
    Settings,
};
use crate::{
    runner::{self, fmt_secs},
    toolchain::lean_host::{HostKind, LeanHost},
    util,
};

/// Bumped when the cache's meaning changes; old entries then miss.
const CACHE_FORMAT: &str = "xlean lean-check cache 2";

/// The files `lean -o X.olean -i X.ilean -c X.c` leaves (the split `.olean` parts and `.ir` come
/// with `-o`).
const OUTPUT_EXTS: &[&str] = &["olean", "olean.private", "olean.server", "ilean", "ir", "c"];

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
    /// The module's wall time: from the start of its first `lean` run to the end of its last
    /// (a check and a run without code may overlap). For a cached result: that of the run then.
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
    logs: PathBuf,
}

impl Layout {
    fn new(settings: &Settings, host: &LeanHost, pkg: &Package) -> Layout {
        let host_dir = format!(
            "{}-{}",
            host_name(host),
            &util::sha256_bytes(host.cache_id().as_bytes())[..12]
        );
        let pkg_name = (pkg.root.file_name()).map_or("root".into(), |n| n.to_string_lossy());
        let pkg_dir = format!(
            "{pkg_name}-{}",
            &util::sha256_bytes(pkg.root.to_string_lossy().as_bytes())[..12]
        );
        let base = (settings.build_dir.join("lean-check").join(host_dir)).join(pkg_dir);
        Layout {
            results: base.join("results"),
            out: base.join("out"),
            tmp: base.join("tmp"),
            logs: settings.build_dir.join("logs/lean-check"),
        }
    }

    fn result_file(&self, module: &str) -> PathBuf {
        self.results.join(format!("{module}.json"))
    }
}

/// `official` or `checker`.
pub fn host_name(host: &LeanHost) -> &'static str {
    match host.kind() {
        HostKind::Official => "official",
        HostKind::Checker => "checker",
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
    let imports: String = (import_keys.iter())
        .map(|(name, key)| format!("import: {name} {key}\n"))
        .collect();
    let s = format!(
        "{CACHE_FORMAT}\n{}\nargs: {} {} -R -o -i -c\nmodule: {} ({})\n{imports}text:\n{}",
        host.cache_id(),
        LEAN_ARGS.join(" "),
        options.join(" "),
        m.name,
        m.rel_path,
        m.text
    );
    util::sha256_bytes(s.as_bytes())
}

/// Shows `path` relative to `base` when it is inside it.
pub fn display_path(base: &Path, path: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// What a finished run sends back to the scheduler: the module's name and its result.
type RunDone = (String, Result<(ModuleResult, Option<CacheEntry>)>);

/// Checks `order` (from [`Package::check_order`]) and prints each module's result as it ends.
pub fn check(
    host: &LeanHost,
    pkg: &Package,
    order: &[String],
    opts: &Settings,
    print: &mut dyn FnMut(&ModuleResult),
) -> Result<Report> {
    host.prepare()?;
    let layout = Layout::new(opts, host, pkg);
    for d in [&layout.results, &layout.out, &layout.tmp, &layout.logs] {
        fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    let (tx, rx) = mpsc::channel();
    let mut scheduler = Scheduler {
        keys: cache_keys(host, pkg, order),
        imported: (order.iter())
            .flat_map(|name| pkg.modules[name].own_imports.iter().map(String::as_str))
            .collect(),
        jobs: opts.jobs.clamp(1, 2),
        host,
        pkg,
        order,
        opts,
        layout,
        done: HashMap::new(),
        running: Vec::new(),
        runs: 0,
        tx,
        rx,
    };
    loop {
        scheduler.start_what_can(print)?;
        if scheduler.done.len() == order.len() {
            return Ok(scheduler.report());
        }
        scheduler.wait_for_one(print)?;
    }
}

/// The keys of `order`'s modules: they depend only on texts, so they are made first, in import
/// order.
fn cache_keys(host: &LeanHost, pkg: &Package, order: &[String]) -> HashMap<String, String> {
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
    keys
}

/// Decides, starts and collects the modules of one check, at most `jobs` processes at a time.
struct Scheduler<'a> {
    host: &'a LeanHost,
    pkg: &'a Package,
    order: &'a [String],
    opts: &'a Settings,
    layout: Layout,
    keys: HashMap<String, String>,
    /// The modules others import in this check (only those need an `.olean` from a module that
    /// is not checkable).
    imported: HashSet<&'a str>,
    /// Processes at the same time (1 or 2).
    jobs: usize,
    done: HashMap<String, ModuleResult>,
    /// The modules running, each with the processes it may have (2 when it speculates).
    running: Vec<(String, usize)>,
    runs: usize,
    tx: mpsc::Sender<RunDone>,
    rx: mpsc::Receiver<RunDone>,
}

impl Scheduler<'_> {
    fn report(mut self) -> Report {
        let results = self
            .order
            .iter()
            .map(|n| self.done.remove(n).expect("every module has a result"))
            .collect();
        Report {
            results,
            runs: self.runs,
        }
    }

    fn busy(&self) -> usize {
        self.running.iter().map(|(_, n)| n).sum()
    }

    /// Gives every module that can have a result without a run its result, and starts the
    /// others that are ready while a slot is free; again until nothing changes.
    fn start_what_can(&mut self, print: &mut dyn FnMut(&ModuleResult)) -> Result<()> {
        let order = self.order;
        let mut progressed = true;
        while progressed {
            progressed = false;
            for name in order {
                if !self.ready(name) {
                    continue;
                }
                if let Some(r) = self.result_without_run(name) {
                    print(&r);
                    self.done.insert(name.clone(), r);
                    progressed = true;
                } else if self.busy() < self.jobs {
                    self.start(name)?;
                }
            }
        }
        if self.done.len() < order.len() && self.running.is_empty() {
            bail!("lean-check: no module can start (internal error: the order is not topological)");
        }
        Ok(())
    }

    /// Not decided, not running, and every module of ours it imports has a result.
    fn ready(&self, name: &str) -> bool {
        !self.done.contains_key(name)
            && !self.running.iter().any(|(n, _)| n == name)
            && (self.pkg.modules[name].own_imports.iter()).all(|i| self.done.contains_key(i))
    }

    /// A module's result when no run is needed: an import it cannot use, or a current cache entry.
    fn result_without_run(&self, name: &str) -> Option<ModuleResult> {
        self.unusable_import(name)
            .map(|why| ModuleResult::not_run(name, Outcome::NotChecked(why)))
            .or_else(|| self.cached(name))
    }

    /// Why a module it imports keeps it from being checked, if one does.
    fn unusable_import(&self, name: &str) -> Option<String> {
        let imports = &self.pkg.modules[name].own_imports;
        if let Some(dep) = imports.iter().find(|i| !self.done[*i].importable()) {
            return Some(format!(
                "imports {dep}, which {}",
                describe(&self.done[dep])
            ));
        }
        // The checker writes the .olean of a file that is not a `module` without its
        // definitions (only its types get through): whatever imports one would report errors
        // that are not in the code. Measured; see docs/lean-host.md.
        let checker = self.host.kind() == HostKind::Checker;
        let dep = imports
            .iter()
            .find(|i| checker && !self.pkg.modules[*i].header.is_module)?;
        Some(format!(
            "imports {dep}, which is not a `module` file: the checker host writes its .olean \
             without its definitions, so what uses them cannot be checked (make {dep} a `module` \
             with `public` declarations, or use the official Lean)"
        ))
    }

    fn cached(&self, name: &str) -> Option<ModuleResult> {
        if self.opts.no_cache {
            return None;
        }
        cached_result(&self.layout, &self.pkg.modules[name], &self.keys[name]).filter(|r| {
            // Cached before anything imported it: its `.olean` is needed now.
            !(r.outcome == Outcome::NotCheckable
                && r.olean_without_code.is_none()
                && self.imported.contains(name))
        })
    }

    /// Starts the run of `name` on a thread of its own.
    fn start(&mut self, name: &str) -> Result<()> {
        let m = &self.pkg.modules[name];
        forget(&self.layout, m)?;
        let job = self.job(m);
        crate::runner::note(&format!(
            "checking {} ({}) …",
            m.name,
            display_path(&self.opts.display_base, &m.path)
        ));
        let processes = if job.speculate { 2 } else { 1 };
        job.spawn(self.tx.clone());
        self.running.push((name.to_string(), processes));
        self.runs += 1;
        Ok(())
    }

    fn job(&self, m: &Module) -> Job {
        let imported = self.imported.contains(m.name.as_str());
        Job {
            host: self.host.clone(),
            root: self.pkg.root.clone(),
            module: m.clone(),
            options: self.pkg.options.args_for(&m.name),
            imported_by_others: imported,
            // With the checker nearly every module of ours is "not checkable" (its
            // code-generation gaps), and one that others import then needs the run without
            // code too: start it beside the check where a slot is free (the modules of a chain
            // wait for each other, so one usually is).
            speculate: imported
                && self.host.kind() == HostKind::Checker
                && self.busy() + 2 <= self.jobs,
            imports_olean_without_code: imports_without_code(self.pkg, &m.name, &self.done),
            key: self.keys[&m.name].clone(),
            out_dir: self.layout.out.clone(),
            tmp: self.layout.tmp.join(&m.name),
            log: self.layout.logs.join(format!("{}.log", m.name)),
        }
    }

    /// Waits for a run to end, records its cache entry and prints its result.
    fn wait_for_one(&mut self, print: &mut dyn FnMut(&ModuleResult)) -> Result<()> {
        let (name, result) = (self.rx.recv()).context("a check thread ended without an answer")?;
        self.running.retain(|(n, _)| n != &name);
        let (r, entry) = result?;
        if let Some(entry) = entry {
            // Recorded last: a run interrupted before this point is run again next time.
            util::write_atomic(
                &self.layout.result_file(&r.name),
                serde_json::to_string_pretty(&entry)?.as_bytes(),
            )?;
        }
        print(&r);
        self.done.insert(name, r);
        Ok(())
    }
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
    let mut stack: Vec<&str> = vec![name];
    let mut seen = HashSet::new();
    while let Some(m) = stack.pop() {
        for i in &pkg.modules[m].own_imports {
            if done
                .get(i)
                .is_some_and(|r| r.olean_without_code == Some(true))
            {
                return true;
            }
            if seen.insert(i.as_str()) {
                stack.push(i);
            }
        }
    }
    false
}

/// The outputs a module may have in `out/`: (extension, path relative to `out/`, path).
fn output_paths(out: &Path, m: &Module) -> Vec<(&'static str, String, PathBuf)> {
    let stem = m.rel_path.trim_end_matches(".lean");
    let rel = |ext| format!("{stem}.{ext}");
    (OUTPUT_EXTS.iter())
        .map(|ext| (*ext, rel(ext), out.join(rel(ext))))
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
    // A passing module's outputs must still be what that run wrote.
    let outputs_intact = || {
        (entry.outputs.iter())
            .all(|(rel, sha)| util::sha256_file(&layout.out.join(rel)).ok().as_ref() == Some(sha))
    };
    (entry.key == key && outputs_intact()).then(|| ModuleResult {
        name: m.name.clone(),
        outcome: entry.outcome,
        messages: entry.messages,
        seconds: entry.seconds,
        cached: true,
        c_file: c_file(&layout.out, &entry.outputs),
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
}

/// What the check run of a module came to.
struct Checked {
    outcome: Outcome,
    messages: Vec<Message>,
    /// Output file (relative to `out/`) → sha256 of what was kept.
    outputs: BTreeMap<String, String>,
}

impl Job {
    /// Runs the job on a thread of its own; its result goes to `tx`.
    fn spawn(self, tx: mpsc::Sender<RunDone>) {
        std::thread::spawn(move || {
            let name = self.module.name.clone();
            // A run that could not even be made (no program, a full disk) is a host error of
            // this module; the other runs go on.
            let result = self.run().or_else(|e| {
                let mut r = ModuleResult::not_run(&name, Outcome::HostError(format!("{e:#}")));
                r.log = Some(self.log.clone());
                Ok((r, None))
            });
            let _ = tx.send((name, result));
        });
    }

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
        let step = runner::cmd(&lean.program)
            .args(&lean.args)
            .args(LEAN_ARGS)
            .args(&self.options)
            .arg("-R")
            .arg(root)
            .args(
                outputs
                    .iter()
                    .flat_map(|(flag, p)| [OsStr::new(flag), p.as_os_str()]),
            )
            .arg(file)
            .cwd(root)
            .envs(lean.env.iter().map(|(k, v)| (k, v)))
            .env("LEAN_PATH", &self.out_dir);
        let command_line = step.command_line();
        let start = Instant::now();
        let output = step.output().with_context(|| {
            format!(
                "cannot start {} to check {}\n  fix: cargo xtask doctor",
                lean.program.display(),
                self.module.rel_path
            )
        })?;
        write_log(log, &command_line, root, &output, start)?;
        Ok(LeanRun {
            program: lean.program,
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    /// The file name of the module's outputs, without extension (`Base` for `Pkg/Base.lean`).
    fn stem(&self) -> String {
        let file = self.module.rel_path.rsplit('/').next().unwrap_or_default();
        file.trim_end_matches(".lean").to_string()
    }

    fn run(&self) -> Result<(ModuleResult, Option<CacheEntry>)> {
        let start = Instant::now();
        util::remove_any(&self.tmp)?;
        let stem = self.stem();
        let without_code = self.speculate.then(|| {
            let job = self.clone();
            let stem = stem.clone();
            std::thread::spawn(move || job.run_without_code(&stem))
        });
        let mut checked = self.check_run(&stem)?;
        // Waited for whatever the outcome: no process is left running behind the result.
        let early = (without_code.map(|thread| thread.join()))
            .transpose()
            .map_err(|_| anyhow::anyhow!("the run without code panicked"))?
            .transpose()?;
        let olean_without_code =
            if checked.outcome == Outcome::NotCheckable && self.imported_by_others {
                Some(self.olean_without_code(&stem, early, &mut checked.outputs)?)
            } else {
                None
            };
        util::remove_any(&self.tmp)?;
        Ok(self.finish(checked, olean_without_code, start.elapsed().as_secs_f64()))
    }

    /// The module's own run: `lean -o -i -c` into `tmp/<Module>/check/`; what passed is kept.
    fn check_run(&self, stem: &str) -> Result<Checked> {
        let m = &self.module;
        let pass1 = self.tmp.join("check");
        fs::create_dir_all(&pass1).with_context(|| format!("cannot create {}", pass1.display()))?;
        let tmp_out = |ext: &str| pass1.join(format!("{stem}.{ext}"));
        let outputs = [("-o", "olean"), ("-i", "ilean"), ("-c", "c")].map(|(f, e)| (f, tmp_out(e)));
        let run = self.lean(&self.root, &m.rel_path, &outputs, &self.log)?;
        let mut parsed = messages::parse(&run.stdout, &run.stderr, &m.text);
        self.mark_gaps(&mut parsed.messages);
        let outcome = outcome(&run, &parsed, &tmp_out("olean"));
        let mut kept = BTreeMap::new();
        if outcome == Outcome::Passed {
            self.keep_outputs(&pass1, stem, |_| true, &mut kept)?;
        }
        Ok(Checked {
            outcome,
            messages: parsed.messages,
            outputs: kept,
        })
    }

    /// With the checker, marks the errors that are its code-generation gaps (and, below an
    /// `.olean` made without code, the "noncomputable" errors that come from it).
    fn mark_gaps(&self, messages: &mut [Message]) {
        if self.host.kind() != HostKind::Checker {
            return;
        }
        for x in messages {
            x.gap = x.severity == Severity::Error
                && (messages::is_codegen_gap(&x.text)
                    || (self.imports_olean_without_code
                        && messages::is_inherited_noncomputable(&x.text)));
        }
    }

    /// The result, and the cache entry of a run that says something about the module.
    fn finish(
        &self,
        checked: Checked,
        olean_without_code: Option<bool>,
        seconds: f64,
    ) -> (ModuleResult, Option<CacheEntry>) {
        let result = ModuleResult {
            name: self.module.name.clone(),
            outcome: checked.outcome.clone(),
            messages: checked.messages.clone(),
            seconds,
            cached: false,
            c_file: c_file(&self.out_dir, &checked.outputs),
            olean_without_code,
            log: Some(self.log.clone()),
        };
        let entry = match checked.outcome {
            Outcome::HostError(_) | Outcome::NotChecked(_) => None,
            outcome => Some(CacheEntry {
                key: self.key.clone(),
                outcome,
                messages: checked.messages,
                seconds,
                outputs: checked.outputs,
                olean_without_code,
                host: self.host.version_line().to_string(),
            }),
        };
        (result, entry)
    }

    /// Moves `from/<stem>.<ext>` into `out/` for each output extension `wanted` accepts that
    /// the run wrote, and records its sha256 in `kept`.
    fn keep_outputs(
        &self,
        from: &Path,
        stem: &str,
        wanted: fn(&str) -> bool,
        kept: &mut BTreeMap<String, String>,
    ) -> Result<()> {
        for (ext, rel, dest) in output_paths(&self.out_dir, &self.module) {
            let src = from.join(format!("{stem}.{ext}"));
            if !wanted(ext) || !src.is_file() {
                continue;
            }
            if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::rename(&src, &dest)
                .with_context(|| format!("cannot move {} to {}", src.display(), dest.display()))?;
            kept.insert(rel, util::sha256_file(&dest)?);
        }
        Ok(())
    }

    /// For a module that is not checkable but that others import: whether an `.olean` without
    /// its code was made (by the run started beside the check, or by one run now), kept in
    /// `out/` when it was.
    fn olean_without_code(
        &self,
        stem: &str,
        early: Option<bool>,
        kept: &mut BTreeMap<String, String>,
    ) -> Result<bool> {
        let made = early.map_or_else(|| self.run_without_code(stem), Ok)?;
        if made {
            let from = self.tmp.join("without-code");
            self.keep_outputs(&from, stem, |ext| ext.starts_with("olean"), kept)?;
        }
        Ok(made)
    }

    /// The second run for a module that is not checkable with this host but is imported by
    /// others: the same text with `noncomputable section` after its header (Lean then marks a
    /// definition it cannot compile `noncomputable` instead of failing), from a copy at the same
    /// module path under `tmp/<Module>/shadow/`, writing only its `.olean` into
    /// `tmp/<Module>/without-code/` (its C would lack the code that could not be generated).
    /// Returns whether it worked.
    fn run_without_code(&self, stem: &str) -> Result<bool> {
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
        Ok(run.status.success() && olean.is_file())
    }
}

/// What a check run says about the module: a host error when `lean` failed without a Lean
/// message or reported no error but wrote no `.olean`; otherwise by its errors.
fn outcome(run: &LeanRun, parsed: &messages::HostOutput, olean: &Path) -> Outcome {
    let errors: Vec<&Message> = (parsed.messages.iter())
        .filter(|x| x.severity == Severity::Error)
        .collect();
    if !run.status.success() && errors.is_empty() {
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
    } else if errors.iter().any(|x| !x.gap) {
        Outcome::Failed
    } else if !errors.is_empty() {
        Outcome::NotCheckable
    } else if !olean.is_file() {
        Outcome::HostError(format!(
            "{} reported no error but wrote no {}",
            run.program.display(),
            olean.display()
        ))
    } else {
        Outcome::Passed
    }
}

/// The C file among a module's kept outputs.
fn c_file(out: &Path, outputs: &BTreeMap<String, String>) -> Option<PathBuf> {
    outputs
        .keys()
        .find(|k| k.ends_with(".c"))
        .map(|k| out.join(k))
}

/// The per-module log: the command (with its environment), its folder, what it printed on
/// stdout and stderr, how it ended and its time (since `start`).
fn write_log(
    log: &Path,
    command_line: &str,
    cwd: &Path,
    output: &std::process::Output,
    start: Instant,
) -> Result<()> {
    let mut text = Vec::new();
    writeln!(
        text,
        "$ {command_line}\n# cwd: {}\n\n## stdout",
        cwd.display()
    )?;
    text.extend_from_slice(&output.stdout);
    writeln!(text, "\n## stderr")?;
    text.extend_from_slice(&output.stderr);
    let seconds = start.elapsed().as_secs_f64();
    writeln!(text, "\n# {} after {}", output.status, fmt_secs(seconds))?;
    util::write_atomic(log, &text)
}
