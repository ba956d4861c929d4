//! `cargo xtask abi-check`: every function called across objects must have the type of its
//! definition.
//!
//! Lean's compiler erases the IO world token, so the C it emits and the C++ runtime can disagree
//! on a function's parameters or return type. wasm-ld only warns about such a mismatch (and
//! links a stub that traps when called), so the module fails at run time, far from the cause.
//! This check reads the wasm types of every object before the final link and fails on:
//! - a directly called, undefined function whose type differs from its definition's (the
//!   definition the linker takes: the first strong one, else the first weak one);
//! - two definitions of one name with different types.
//!
//! Fixes stay explicit patches to the sources; this check makes sure none is missing.

use std::{collections::HashMap, fmt, path::PathBuf};

use anyhow::{bail, Result};

use crate::symtab::inputs::{self, Member, Skipped};

#[cfg(test)]
mod tests;
mod wasm;

pub use wasm::Signature;

#[derive(clap::Args)]
pub struct Args {
    /// The wasm archives (.a) and objects (.o) of the link
    #[arg(required = true, value_name = "OBJECT_OR_ARCHIVE")]
    inputs: Vec<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let report = check(&args.inputs)?;
    for s in &report.skipped {
        crate::runner::warn(&format!("skipped {} ({})", s.place, s.what));
    }
    print!("{report}");
    if !report.mismatches.is_empty() {
        bail!(
            "{} function signature mismatch(es): the module would trap when they are called\n  \
             fix: patch the declaration or the definition so that both have the same type",
            report.mismatches.len()
        );
    }
    Ok(())
}

/// What kind of disagreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MismatchKind {
    /// A call to an undefined function with another type than its definition.
    Call,
    /// Two definitions of one name with different types.
    Definition,
}

/// One name whose types disagree: the definition the linker takes, and a different signature
/// with every place it appears in.
#[derive(Debug, Clone)]
pub struct Mismatch {
    pub name: String,
    pub kind: MismatchKind,
    pub defined: Signature,
    pub defined_in: String,
    pub other: Signature,
    pub other_in: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Report {
    pub objects: usize,
    /// Names with at least one definition.
    pub defined: usize,
    /// Direct calls to a function defined in another object, compared with that definition.
    pub calls_checked: usize,
    pub mismatches: Vec<Mismatch>,
    pub skipped: Vec<Skipped>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 5;
        let places = |v: &[String]| {
            let mut s = v[..v.len().min(SHOWN)].join(", ");
            if v.len() > SHOWN {
                s.push_str(&format!(" and {} more", v.len() - SHOWN));
            }
            s
        };
        let (title, verb) = match self.kind {
            MismatchKind::Call => ("function signature mismatch", "called as "),
            MismatchKind::Definition => ("conflicting definitions", "defined as"),
        };
        writeln!(f, "{title}: {}", self.name)?;
        writeln!(f, "  {verb} {}  in {}", self.other, places(&self.other_in))?;
        writeln!(f, "  defined as {}  in {}", self.defined, self.defined_in)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for m in &self.mismatches {
            write!(f, "{m}")?;
        }
        writeln!(
            f,
            "abi-check: {} wasm objects, {} functions defined, {} cross-object calls checked: {}",
            self.objects,
            self.defined,
            self.calls_checked,
            match self.mismatches.len() {
                0 => "no mismatch".to_string(),
                n => format!("{n} mismatch(es)"),
            }
        )
    }
}

/// Reads every object of `inputs` and compares the types of calls and definitions.
pub fn check(inputs: &[PathBuf]) -> Result<Report> {
    let files = inputs::read_inputs(inputs)?;
    let (members, skipped) = inputs::all_members(&files)?;
    let read = inputs::par_map(&members, |m: &Member<'_>| {
        wasm::function_symbols(m.data).map_err(|e| {
            anyhow::anyhow!(
                "{}: cannot read its wasm types: {e:#}\n  fix: rebuild it (the file may be \
                 truncated or damaged)",
                m.place
            )
        })
    });

    struct Def {
        signature: Signature,
        weak: bool,
        member: usize,
    }
    let mut definitions: HashMap<&str, Vec<Def>> = HashMap::new();
    let mut calls: HashMap<&str, Vec<(Signature, usize)>> = HashMap::new();
    for (member, symbols) in read.into_iter().enumerate() {
        for s in symbols? {
            if s.defined {
                definitions.entry(s.name).or_default().push(Def {
                    signature: s.signature,
                    weak: s.weak,
                    member,
                });
            } else {
                calls.entry(s.name).or_default().push((s.signature, member));
            }
        }
    }

    let place = |i: usize| members[i].place.to_string();
    let mut report = Report {
        objects: members.len(),
        defined: definitions.len(),
        skipped,
        ..Report::default()
    };
    for (name, defs) in &definitions {
        let chosen = defs.iter().find(|d| !d.weak).unwrap_or(&defs[0]);
        // Every other signature, with the places that use it, in input order.
        let mut others: Vec<(MismatchKind, Signature, Vec<String>)> = Vec::new();
        let mut note = |kind, signature: &Signature, where_: String| {
            if signature == &chosen.signature {
                return;
            }
            match others
                .iter_mut()
                .find(|(k, s, _)| *k == kind && s == signature)
            {
                Some((_, _, places)) => places.push(where_),
                None => others.push((kind, signature.clone(), vec![where_])),
            }
        };
        for d in defs {
            let weak = if d.weak { " (weak)" } else { "" };
            note(
                MismatchKind::Definition,
                &d.signature,
                format!("{}{weak}", place(d.member)),
            );
        }
        if let Some(uses) = calls.get(name) {
            report.calls_checked += uses.len();
            for (signature, member) in uses {
                note(MismatchKind::Call, signature, place(*member));
            }
        }
        for (kind, signature, places) in others {
            report.mismatches.push(Mismatch {
                name: name.to_string(),
                kind,
                defined: chosen.signature.clone(),
                defined_in: place(chosen.member),
                other: signature,
                other_in: places,
            });
        }
    }
    report.mismatches.sort_by(|a, b| {
        (a.name.as_str(), a.kind == MismatchKind::Definition)
            .cmp(&(b.name.as_str(), b.kind == MismatchKind::Definition))
            .then_with(|| a.other_in.cmp(&b.other_in))
    });
    Ok(report)
}
