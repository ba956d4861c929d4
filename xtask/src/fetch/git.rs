//! The commit a local git checkout is at, read from `.git` without running git (cheap, needs no
//! git installed, and cannot touch the checkout: `git status` for one may rewrite the index).

use std::{
    fs,
    path::{Path, PathBuf},
};

use crate::pins::is_hex;

/// The commit `dir`'s HEAD points at, when `dir` is the top of a git checkout (a plain clone,
/// a `git worktree`, or a submodule) and the answer is in loose or packed refs. `None` otherwise:
/// an unpacked release, an unborn branch, a layout we do not know. Local edits are not seen.
pub(crate) fn head_commit(dir: &Path) -> Option<String> {
    let git_dir = git_dir(dir)?;
    let head = fs::read_to_string(git_dir.join("HEAD")).ok()?;
    let head = head.trim();
    if is_hex(head, 40) {
        return Some(head.to_string()); // detached HEAD
    }
    let reference = head.strip_prefix("ref:")?.trim();
    if reference.contains("..") {
        return None;
    }
    // Branch refs of a linked worktree live in the main repository's git dir.
    let common = match fs::read_to_string(git_dir.join("commondir")) {
        Ok(c) => git_dir.join(c.trim()),
        Err(_) => git_dir.clone(),
    };
    for base in [&git_dir, &common] {
        if let Ok(text) = fs::read_to_string(base.join(reference)) {
            let id = text.trim();
            if is_hex(id, 40) {
                return Some(id.to_string());
            }
        }
    }
    let packed = fs::read_to_string(common.join("packed-refs")).ok()?;
    packed.lines().find_map(|line| {
        let (id, name) = line.split_once(' ')?;
        (name.trim() == reference && is_hex(id, 40)).then(|| id.to_string())
    })
}

/// `dir/.git` as a folder, or the folder a `.git` file (`gitdir: …`) points to.
fn git_dir(dir: &Path) -> Option<PathBuf> {
    let dot_git = dir.join(".git");
    let meta = fs::metadata(&dot_git).ok()?;
    if meta.is_dir() {
        return Some(dot_git);
    }
    let text = fs::read_to_string(&dot_git).ok()?;
    let target = text.trim().strip_prefix("gitdir:")?.trim();
    Some(dir.join(target))
}
