//! Every integration test of maxk-core in one test binary (`autotests = false` in Cargo.toml):
//! one link instead of one per file, which shortens the cold build of `scripts/test.sh`. Each
//! file under `tests/` is a module here; [`every_test_file_is_a_module`] fails when a new
//! file is not, so that no test is silently left out.

mod edges;
mod errors;
mod estimator_index;
mod extremes;
mod fast_vs_reference;
mod fuzz;
mod majority;
mod mixture;
mod multi_objective;
mod properties;
mod small_groups;
mod stress;
mod unbiasedness;

/// Every `tests/*.rs` file is declared as a module of this binary.
#[test]
fn every_test_file_is_a_module() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let this = include_str!("main.rs");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else { continue };
        if path.extension().is_some_and(|e| e == "rs") && stem != "main" {
            assert!(
                this.contains(&format!("\nmod {stem};\n")),
                "tests/{stem}.rs is not a module of tests/main.rs"
            );
        }
    }
}
