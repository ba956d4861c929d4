//! An end-to-end check of the provisioned toolchain through the step runner: compile a small
//! C++ program for wasm64 with native exceptions and an embedded file, run it under the
//! provisioned Node, and read back what it printed.

use std::{fs, path::Path, time::SystemTime};

use anyhow::{ensure, Result};

use super::Toolchain;
use crate::{paths, util};

/// Builds and runs the smoke program in `dir`; returns its output.
pub fn run(tc: &Toolchain, dir: &Path) -> Result<String> {
    let source = paths::project_root().join("tests/fixtures/smoke/smoke.cpp");
    let stage = dir.join("stage");
    util::remove_any(&stage)?;
    fs::create_dir_all(&stage)?;
    // A fresh token each run: the program can only print it by reading the embedded file.
    let token = format!(
        "token-{}",
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)?
            .as_nanos()
    );
    fs::write(stage.join("smoke.txt"), format!("{token}\n"))?;
    let js = dir.join("smoke.js");
    tc.step("smoke-compile", tc.empp())
        .args(super::WASM64_FLAGS.split(' '))
        .args(["-O1", "-sALLOW_MEMORY_GROWTH=1"])
        .arg(&source)
        .arg("-o")
        .arg(&js)
        .arg("--embed-file")
        .arg(format!("{}@/lib/lean", stage.display()))
        .log_dir(dir)
        .run()?;
    let run = tc.step("smoke-run", &tc.node).arg(&js).log_dir(dir);
    let output = run.capture()?.output;
    for expected in [
        "pointer-size 8",
        "caught thrown-in-wasm64",
        &format!("embedded {token}"),
    ] {
        ensure!(
            output.lines().any(|l| l == expected),
            "the wasm64 smoke program did not print `{expected}`; it printed:\n{output}\n  log: {}",
            dir.join("smoke-run.log").display()
        );
    }
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wasm64_with_exceptions_and_embedded_files_runs_under_node() {
        let Some(tc) = crate::toolchain::for_tests() else {
            return;
        };
        let dir = util::test_dir("toolchain-smoke");
        let output = run(&tc, &dir).unwrap();
        assert!(output.contains("pointer-size 8"), "{output}");
    }
}
