//! `cargo xtask lint-workflows`: the GitHub Actions workflows (`.github/workflows/*.yml`) checked
//! against GitHub's workflow schema here, where they cannot run.
//!
//! The linter is npm `@action-validator/cli`: a small script that needs, at run time, the
//! validator itself (`@action-validator/core`, a wasm build, declared only as a peer dependency)
//! and `chalk`. All three are pinned in pins.toml [npm], obtained with `npm pack`, hash-checked
//! against pins.lock and laid out as a `node_modules` tree in `<cache>/action-validator-<version>/`
//! (so that the CLI's imports resolve without `npm install`); it runs with the toolchain's Node.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::{
    fetch::artifact,
    paths::{self, ToolCache},
    pins::Pins,
    runner,
    toolchain::Toolchain,
    util,
};

/// The CLI first: its version names the install folder.
const PACKAGES: [&str; 3] = ["@action-validator/cli", "@action-validator/core", "chalk"];

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args, cache: &ToolCache) -> Result<()> {
    let tc = Toolchain::load(cache)?;
    let linter = Linter::ensure(&tc, &Pins::load()?)?;
    let results = linter.lint_all(&workflow_files(&paths::project_root())?);
    let failed: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    for e in &failed {
        eprintln!("{e}");
    }
    if !failed.is_empty() {
        bail!("{} workflow(s) failed the lint", failed.len());
    }
    Ok(())
}

/// The workflows of the repository at `root`, sorted.
pub fn workflow_files(root: &Path) -> Result<Vec<PathBuf>> {
    let dir = root.join(".github/workflows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    Ok(files)
}

/// The installed linter: the toolchain's Node and the CLI script.
pub struct Linter {
    node: PathBuf,
    cli: PathBuf,
}

impl Linter {
    /// Finds the pinned packages in the tool cache, or packs and lays them out there.
    pub fn ensure(tc: &Toolchain, pins: &Pins) -> Result<Linter> {
        let versions: Vec<&str> = PACKAGES
            .iter()
            .map(|p| pins.npm_version(p))
            .collect::<Result<_>>()?;
        let root = tc
            .cache
            .root
            .join(format!("action-validator-{}", versions[0]));
        let modules = |dir: &Path| dir.join("node_modules");
        let pinned = |dir: &Path| {
            PACKAGES.iter().zip(&versions).all(|(p, v)| {
                artifact::npm_package_version(&modules(dir).join(p)).as_deref() == Some(*v)
            })
        };
        if !pinned(&root) {
            let tgzs: Vec<PathBuf> = PACKAGES
                .iter()
                .zip(&versions)
                .map(|(p, v)| tc.npm.pack(&tc.cache, p, v))
                .collect::<Result<_>>()?;
            util::make_dir_atomically(&root, |dir| {
                for (p, tgz) in PACKAGES.iter().zip(&tgzs) {
                    artifact::unpack_npm(tgz, &modules(dir).join(p))?;
                }
                anyhow::ensure!(
                    pinned(dir),
                    "{} does not hold the pinned packages",
                    dir.display()
                );
                Ok(())
            })?;
            runner::note(&format!(
                "action-validator installed into {}",
                root.display()
            ));
        }
        Ok(Linter {
            node: tc.node.clone(),
            cli: modules(&root).join(PACKAGES[0]).join("cli.mjs"),
        })
    }

    /// One result per file: `Err` holds the message that names the file and what is wrong.
    pub fn lint_all(&self, files: &[PathBuf]) -> Vec<Result<(), String>> {
        files.iter().map(|f| self.lint(f)).collect()
    }

    fn lint(&self, file: &Path) -> Result<(), String> {
        let step = runner::cmd(&self.node).arg(&self.cli).arg(file);
        let command = step.command_line();
        let out = step.output().map_err(|e| format!("{e:#}"))?;
        if out.status.success() {
            eprintln!("    ok: {}", file.display());
            return Ok(());
        }
        let text = String::from_utf8_lossy(&out.stderr);
        let problems = serde_json::from_str(&text)
            .map(|json| problems(&json, 1))
            .unwrap_or_else(|_| format!("  {}", text.trim()));
        Err(format!(
            "{}: not a valid GitHub workflow ({})\n{problems}\n  command: {command}\n  \
             fix: correct the file (the schema is GitHub's workflow syntax: \
             https://docs.github.com/actions/reference/workflow-syntax-for-github-actions)",
            file.display(),
            out.status
        ))
    }
}

/// The validator's JSON report as indented lines: `path: title (detail)`, alternatives nested.
fn problems(json: &serde_json::Value, depth: usize) -> String {
    let mut lines = Vec::new();
    let errors = json["errors"].as_array().into_iter().flatten();
    for e in errors {
        let detail = e["detail"]
            .as_str()
            .map_or(String::new(), |d| format!(" ({d})"));
        lines.push(format!(
            "{}{}: {}{detail}",
            "  ".repeat(depth),
            e["path"].as_str().filter(|p| !p.is_empty()).unwrap_or("/"),
            e["title"].as_str().unwrap_or("?")
        ));
        for state in e["states"].as_array().into_iter().flatten() {
            lines.push(problems(state, depth + 1));
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Installed once for all tests (two installs at once would share one `.partial` folder).
    fn linter() -> Option<&'static Linter> {
        static LINTER: std::sync::OnceLock<Option<Linter>> = std::sync::OnceLock::new();
        LINTER
            .get_or_init(|| {
                let tc = crate::toolchain::for_tests()?;
                Some(Linter::ensure(&tc, &Pins::load().unwrap()).unwrap())
            })
            .as_ref()
    }

    /// The real linter on the repository's workflows: the suite `ci` runs.
    #[test]
    fn the_repository_workflows_pass_the_linter() {
        let Some(linter) = linter() else { return };
        let files = workflow_files(&paths::project_root()).unwrap();
        let names: Vec<_> = files.iter().map(|f| f.file_name().unwrap()).collect();
        assert_eq!(names, ["acceptance.yml", "ci.yml"]);
        for r in linter.lint_all(&files) {
            r.unwrap();
        }
    }

    #[test]
    fn a_planted_error_fails_with_the_file_named() {
        let Some(linter) = linter() else { return };
        let dir = util::test_dir("workflow-lint");
        let bad = dir.join("bad.yml");
        let text = "name: bad\non: [push]\nbogus: 1\njobs:\n  a:\n    steps:\n      - run: echo\n";
        std::fs::write(&bad, text).unwrap();
        let good = dir.join("good.yml");
        std::fs::write(
            &good,
            text.replace("bogus: 1\n", "")
                .replace("    steps", "    runs-on: ubuntu-latest\n    steps"),
        )
        .unwrap();
        let results = linter.lint_all(&[bad.clone(), good]);
        let err = results[0].as_ref().unwrap_err();
        util::assert_contains(
            err,
            &[
                &format!("{}: not a valid GitHub workflow", bad.display()),
                "Additional property 'bogus' is not allowed",
                "/jobs/a/runs-on: This property is required",
                "fix: correct the file",
            ],
        );
        assert!(results[1].is_ok(), "{results:?}");
    }
}
