//! One version everywhere: `maxk --version` is the workspace version (which every crate, the
//! Python wheel and `maxk.__version__` take from `[workspace.package]`), and so are the newest
//! release of CHANGELOG.md and the `version` of CITATION.cff. `tests/python/test_release.py`
//! checks the installed wheel's side.

use std::path::Path;

use common::{maxk, ok};

mod common;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn repo_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn maxk_version_is_the_workspace_version() {
    let out = maxk(&["--version"]);
    ok(&out);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("maxk {VERSION}"));
}

#[test]
fn changelog_newest_release_is_the_workspace_version() {
    let changelog = repo_file("CHANGELOG.md");
    let newest = changelog
        .lines()
        .filter_map(|l| l.strip_prefix("## ["))
        .filter_map(|l| l.split(']').next())
        .find(|v| *v != "Unreleased");
    assert_eq!(newest, Some(VERSION), "CHANGELOG.md's newest release vs Cargo.toml's workspace version");
}

#[test]
fn citation_version_is_the_workspace_version() {
    let citation = repo_file("CITATION.cff");
    let version =
        citation.lines().find_map(|l| l.strip_prefix("version:")).map(|v| v.trim().trim_matches('"'));
    assert_eq!(version, Some(VERSION), "CITATION.cff's version vs Cargo.toml's workspace version");
}
