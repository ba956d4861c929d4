//! `cargo xtask bench build`: per-stage times of a cold and a no-op build of the fixture.

use anyhow::{Context, Result};

use super::{build, Report};
use crate::{layout::Layout, runner, util};

pub fn run(layout: &Layout) -> Result<()> {
    // A build directory of its own, so the benchmark never disturbs the user's build.
    let bench = layout.nested("bench-build");
    util::remove_any(&bench.root)?;
    let args = super::fixture_args(&bench, crate::prefix::Backend::Lean);
    runner::heading(
        "bench build: cold build of the fixture (tests/fixtures/lean4-mini + lean-out)",
    );
    let cold = build(&args, &bench).context("cold build")?;
    runner::heading("bench build: no-op build");
    let noop = build(&args, &bench).context("no-op build")?;
    println!("{}", table(&cold, &noop));
    Ok(())
}

fn table(cold: &Report, noop: &Report) -> String {
    let mut out = format!("{:<14} {:>10} {:>10}\n", "stage", "cold", "no-op");
    for s in &cold.stages {
        let n = noop.stages.iter().find(|x| x.name == s.name);
        let noop_cell = match n {
            Some(x) if x.ran_because.is_some() => runner::fmt_secs(x.secs),
            Some(_) => "skipped".to_string(),
            None => "-".to_string(),
        };
        out.push_str(&format!(
            "{:<14} {:>10} {:>10}\n",
            s.name,
            runner::fmt_secs(s.secs),
            noop_cell
        ));
    }
    out.push_str(&format!(
        "{:<14} {:>10} {:>10}\n",
        "total",
        runner::fmt_secs(cold.total_secs),
        format!("{:.3} s", noop.total_secs)
    ));
    out
}
