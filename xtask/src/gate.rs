//! Skip or fail: what a test does when this machine lacks something it needs.
//!
//! A developer's machine may lack the wasm64 toolchain, or the upstream sources that live on
//! GitHub only. A test that needs one prints `SKIPPED: <why>` and returns. CI names what its
//! machine must have in `XLEAN_REQUIRE` (`toolchain`, `sources`, comma-separated; `cargo xtask
//! ci` sets it), and there the same test fails instead. This is the one place that decides; the
//! integration tests include this file too (`#[path]`), so it uses nothing else of the crate.

/// The variable CI sets: the needs that must be met on this machine.
pub const REQUIRE_ENV: &str = "XLEAN_REQUIRE";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The provisioned wasm64 toolchain and the tools it installs (Lean checker, Chromium).
    Toolchain,
    /// The xeus and xeus-lite sources (GitHub, a mirror or local copies).
    Sources,
}

impl Need {
    pub fn word(self) -> &'static str {
        match self {
            Need::Toolchain => "toolchain",
            Need::Sources => "sources",
        }
    }
}

/// Whether this machine must meet `need` (so a test that lacks it fails).
pub fn required(need: Need) -> bool {
    std::env::var(REQUIRE_ENV).is_ok_and(|v| v.split(',').any(|w| w.trim() == need.word()))
}

/// The value of [`REQUIRE_ENV`] that requires `needs`.
#[allow(dead_code)] // not every crate that includes this file sets the variable
pub fn require_value(needs: &[Need]) -> String {
    needs.iter().map(|n| n.word()).collect::<Vec<_>>().join(",")
}

/// Says why the caller skips, or panics when this machine must meet `need`.
#[allow(dead_code)] // used by tests only
pub fn skip(need: Need, why: &str) {
    if required(need) {
        panic!("{REQUIRE_ENV} requires the {} here: {why}", need.word());
    }
    eprintln!("SKIPPED: {why}");
}
