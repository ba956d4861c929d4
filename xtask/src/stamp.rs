//! Stages and their stamps: the one way the xtask skips work whose inputs did not change.
//!
//! A stamp is a JSON map from input name to fingerprint (a hash, a version, a flag string),
//! stored at `<stamps dir>/<stage>.json` and written only after the stage succeeded. A stage
//! reruns when any input differs from its stamp or any declared output is missing; the first
//! difference is the reason `--explain` prints and the [`StageRun`] records.
//!
//! [`Stages`] runs the stages of `build` (stamps in `build/stamps/<profile>`) and of `kernel`
//! (`build/stamps/kernel`), into one record. This module sits below both: it uses only `util`
//! and `runner`, so `build` and `kernel` import it and it imports neither.

use std::{
    collections::BTreeMap,
    fs,
    io::Read,
    path::{Path, PathBuf},
    time::{Instant, UNIX_EPOCH},
};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::{runner, util};

/// The inputs of one stage, by name.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Inputs(pub BTreeMap<String, String>);

impl Inputs {
    pub fn new() -> Inputs {
        Inputs::default()
    }

    pub fn add(&mut self, name: &str, value: impl Into<String>) -> &mut Inputs {
        self.0.insert(name.to_string(), value.into());
        self
    }

    /// A hash of every input: what a dependent stage puts into its own inputs.
    pub fn key(&self) -> String {
        util::sha256_bytes(
            serde_json::to_string(&self.0)
                .unwrap_or_default()
                .as_bytes(),
        )
    }
}

/// What one stage did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StageRun {
    pub name: String,
    /// `None`: up to date (or, for what is not stamped work, used as found). `Some(reason)`: it
    /// ran, because of this.
    pub ran_because: Option<String>,
    pub secs: f64,
}

/// Runs stages whose stamps live in one directory, recording each into a shared list.
pub struct Stages<'a> {
    stamps: PathBuf,
    explain: bool,
    runs: &'a mut Vec<StageRun>,
    /// Where this runner's own runs start in `runs`.
    first: usize,
}

impl<'a> Stages<'a> {
    /// `explain`: say for each stage why it runs, or that it is up to date (`--explain`).
    pub fn new(stamps: PathBuf, explain: bool, runs: &'a mut Vec<StageRun>) -> Stages<'a> {
        let first = runs.len();
        Stages {
            stamps,
            explain,
            runs,
            first,
        }
    }

    /// A runner with its stamps in another directory (the kernel's), recording into the same
    /// list with the same `--explain`.
    pub fn in_dir(&mut self, stamps: PathBuf) -> Stages<'_> {
        Stages::new(stamps, self.explain, self.runs)
    }

    /// The stages this runner ran (those that were up to date left out).
    pub fn ran(&self) -> Vec<String> {
        self.runs[self.first..]
            .iter()
            .filter(|r| r.ran_because.is_some())
            .map(|r| r.name.clone())
            .collect()
    }

    /// Records what a step that is not stamped work used (`toolchain`, `sources`), so that
    /// `--explain` and the report cover the whole pipeline.
    pub fn used(&mut self, name: &str, what: &str) {
        if self.explain {
            runner::note(&format!("{name}: {what}"));
        }
        self.runs.push(StageRun {
            name: name.to_string(),
            ran_because: None,
            secs: 0.0,
        });
    }

    /// Runs `work` unless the stage's stamp matches `inputs` and `outputs` exist. Stage names
    /// are unique per stamps directory (the name is the stamp's file name).
    pub fn stage(
        &mut self,
        name: &str,
        inputs: &Inputs,
        outputs: &[PathBuf],
        work: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        let stamp = self.stamps.join(format!("{name}.json"));
        let reason = stale_because(&stamp, inputs, outputs);
        if self.explain {
            runner::note(&match &reason {
                None => format!("{name}: up to date"),
                Some(reason) => format!("{name}: runs because {reason}"),
            });
        }
        let start = Instant::now();
        if reason.is_some() {
            runner::heading(&format!("stage {name}"));
            // Forgotten before the outputs change; written only after the work succeeded.
            util::remove_any(&stamp)?;
            work().with_context(|| format!("stage `{name}` failed"))?;
            util::write_if_changed(&stamp, serde_json::to_string_pretty(inputs)?.as_bytes())?;
            let secs = start.elapsed().as_secs_f64();
            runner::note(&format!("stage {name} done ({})", runner::fmt_secs(secs)));
        }
        let secs = start.elapsed().as_secs_f64();
        self.runs.push(StageRun {
            name: name.to_string(),
            ran_because: reason,
            secs,
        });
        Ok(())
    }
}

/// Why the stage whose stamp is at `path` must run, or `None` when it need not: compares
/// `inputs` with the stamp and checks that every output exists.
fn stale_because(path: &Path, inputs: &Inputs, outputs: &[PathBuf]) -> Option<String> {
    let Some(old) = fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<Inputs>(&t).ok())
    else {
        return Some("no stamp (first run, or the last run failed)".into());
    };
    for (name, value) in &inputs.0 {
        match old.0.get(name) {
            None => return Some(format!("new input `{name}`")),
            Some(v) if v != value => {
                return Some(format!(
                    "input `{name}` changed ({} → {})",
                    short(v),
                    short(value)
                ))
            }
            Some(_) => {}
        }
    }
    if let Some(name) = old.0.keys().find(|k| !inputs.0.contains_key(*k)) {
        return Some(format!("input `{name}` is gone"));
    }
    let missing = outputs.iter().find(|o| !o.exists())?;
    Some(format!("output {} is missing", missing.display()))
}

fn short(v: &str) -> String {
    if v.len() > 24 {
        format!(
            "{}…",
            &v[..v.char_indices().nth(20).map_or(v.len(), |(i, _)| i)]
        )
    } else {
        v.to_string()
    }
}

/// A fingerprint of many files from their metadata only (relative path, size, mtime): cheap
/// enough to run over thousands of files on every build, which is what keeps a no-op build
/// under a second. Editing a file changes its mtime; a file added or removed changes the list.
pub fn metadata_fingerprint(root: &Path, files: &[PathBuf]) -> Result<String> {
    let mut hasher = Sha256::new();
    for f in files {
        let meta = fs::metadata(f).with_context(|| format!("cannot stat {}", f.display()))?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let rel = f.strip_prefix(root).unwrap_or(f);
        hasher.update(rel.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update(meta.len().to_le_bytes());
        hasher.update(mtime.to_le_bytes());
    }
    Ok(format!(
        "{} files {}",
        files.len(),
        &util::hex(&hasher.finalize())[..16]
    ))
}

/// A fingerprint of file contents (for small inputs whose mtime is not to be trusted, such as
/// our own patch files and CMake lists, which git checkouts re-date).
pub fn content_fingerprint(files: &[PathBuf]) -> Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = Vec::new();
    for f in files {
        buf.clear();
        fs::File::open(f)
            .and_then(|mut file| file.read_to_end(&mut buf))
            .with_context(|| format!("cannot read {}", f.display()))?;
        hasher.update(
            f.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .as_bytes(),
        );
        hasher.update((buf.len() as u64).to_le_bytes());
        hasher.update(&buf);
    }
    Ok(util::hex(&hasher.finalize())[..16].to_string())
}

/// Every file under `dir` whose name ends with one of `suffixes`, sorted (deterministic); `.git`
/// is left out (a checkout's history is not its content).
pub fn files_under(dir: &Path, suffixes: &[&str]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = fs::read_dir(&d).with_context(|| format!("cannot read {}", d.display()))?;
        for e in entries {
            let e = e?;
            let p = e.path();
            let ty = e.file_type()?;
            if ty.is_dir() {
                if e.file_name() != ".git" {
                    stack.push(p);
                }
            } else if suffixes.iter().any(|s| p.to_string_lossy().ends_with(s)) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::test_dir;

    #[test]
    fn a_stamp_says_why_a_stage_reruns() {
        let dir = test_dir("stamp");
        let stamp = dir.join("configure.json");
        let out = dir.join("out.txt");
        let outs = std::slice::from_ref(&out);
        let mut inputs = Inputs::new();
        inputs.add("flags", "-O2").add("toolchain", "abc");
        assert!(stale_because(&stamp, &inputs, &[])
            .unwrap()
            .contains("no stamp"));
        fs::write(&stamp, serde_json::to_string(&inputs).unwrap()).unwrap();
        let reason = stale_because(&stamp, &inputs, outs).unwrap();
        assert!(reason.contains("out.txt is missing"), "{reason}");
        fs::write(&out, "x").unwrap();
        assert_eq!(stale_because(&stamp, &inputs, outs), None);
        let mut changed = inputs.clone();
        changed.add("flags", "-O0");
        assert_ne!(changed.key(), inputs.key(), "dependents see the change");
        assert_eq!(
            stale_because(&stamp, &changed, outs).as_deref(),
            Some("input `flags` changed (-O2 → -O0)")
        );
        let mut more = inputs.clone();
        more.add("new", "1");
        assert_eq!(
            stale_because(&stamp, &more, &[]).as_deref(),
            Some("new input `new`")
        );
    }

    /// What the stages in `dir` ran (name and reason) when `source` has this value; the second
    /// stage lives in another stamps directory, as the kernel's do under the build's runner.
    fn run_twice_nested(dir: &Path, source: &str) -> (Vec<StageRun>, Vec<String>) {
        let mut runs = Vec::new();
        let mut run = Stages::new(dir.join("build"), true, &mut runs);
        let mut inputs = Inputs::new();
        inputs.add("source", source);
        let out = dir.join("xeus.a");
        let mut kernel = run.in_dir(dir.join("kernel"));
        kernel
            .stage("xeus", &inputs, std::slice::from_ref(&out), || {
                fs::write(&out, source).map_err(Into::into)
            })
            .unwrap();
        let kernel_ran = kernel.ran();
        let mut after = Inputs::new();
        after.add("xeus", inputs.key());
        run.stage("configure", &after, &[], || Ok(())).unwrap();
        (runs, kernel_ran)
    }

    #[test]
    fn stages_in_two_stamp_folders_report_into_one_list_with_their_reasons() {
        let dir = test_dir("stages");
        let (runs, ran) = run_twice_nested(&dir, "6.0.5");
        assert_eq!(ran, vec!["xeus".to_string()]);
        assert_eq!(runs.len(), 2);
        assert!(runs
            .iter()
            .all(|r| r.ran_because.as_deref().unwrap().contains("no stamp")));
        assert!(
            dir.join("kernel/xeus.json").is_file() && dir.join("build/configure.json").is_file()
        );

        let (runs, ran) = run_twice_nested(&dir, "6.0.5");
        assert!(
            ran.is_empty() && runs.iter().all(|r| r.ran_because.is_none()),
            "{runs:?}"
        );

        // A changed input reruns the stage, says why, and reruns its dependent through its key.
        let (runs, ran) = run_twice_nested(&dir, "6.0.6");
        assert_eq!(ran, vec!["xeus".to_string()]);
        assert_eq!(
            runs[0].ran_because.as_deref(),
            Some("input `source` changed (6.0.5 → 6.0.6)")
        );
        assert!(runs[1]
            .ran_because
            .as_deref()
            .unwrap()
            .starts_with("input `xeus` changed"));

        // A failed stage leaves no stamp: it runs again next time.
        let mut list = Vec::new();
        let mut run = Stages::new(dir.join("kernel"), false, &mut list);
        let inputs = Inputs::new();
        let err = run
            .stage("xeus", &inputs, &[], || anyhow::bail!("no compiler"))
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("stage `xeus` failed: no compiler"),
            "{err:#}"
        );
        assert!(!dir.join("kernel/xeus.json").exists());
    }

    #[test]
    fn the_metadata_fingerprint_sees_edits_and_new_files() {
        let dir = test_dir("fingerprint");
        fs::write(dir.join("a.c"), "int a;").unwrap();
        let files = files_under(&dir, &[".c"]).unwrap();
        let one = metadata_fingerprint(&dir, &files).unwrap();
        assert_eq!(one, metadata_fingerprint(&dir, &files).unwrap());
        std::thread::sleep(std::time::Duration::from_millis(10));
        fs::write(dir.join("a.c"), "int a; ").unwrap();
        assert_ne!(one, metadata_fingerprint(&dir, &files).unwrap());
        fs::write(dir.join("b.c"), "int b;").unwrap();
        let files2 = files_under(&dir, &[".c"]).unwrap();
        assert_eq!(files2.len(), 2);
        // A checkout's history is not its content.
        fs::create_dir_all(dir.join(".git")).unwrap();
        fs::write(dir.join(".git/x.c"), "ref").unwrap();
        assert_eq!(files_under(&dir, &[".c"]).unwrap(), files2);
    }

    #[test]
    fn a_content_fingerprint_ignores_dates_but_not_bytes() {
        let dir = test_dir("content-fingerprint");
        fs::create_dir_all(dir.join("sub")).unwrap();
        fs::write(dir.join("sub/a.c"), "int a;").unwrap();
        let fingerprint = || content_fingerprint(&files_under(&dir, &[""]).unwrap()).unwrap();
        let first = fingerprint();
        // Rewritten with the same bytes (a new mtime, as a git checkout gives): same fingerprint.
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(dir.join("sub/a.c"), "int a;").unwrap();
        assert_eq!(fingerprint(), first);
        fs::write(dir.join("sub/a.c"), "int b;").unwrap();
        assert_ne!(fingerprint(), first);
    }
}
