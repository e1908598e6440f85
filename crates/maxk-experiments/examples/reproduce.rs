//! `maxk reproduce` on the built-in defaults without the CLI (which links the trainer):
//! `cargo run --release -p maxk-experiments --example reproduce -- OUT_DIR`. The CLI passes the
//! same `Config::default()` to the same `run`, so the numbers are the same.

use maxk_experiments::{Config, RunOptions, run};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args().nth(1).ok_or("usage: reproduce OUT_DIR")?;
    let summary =
        run(&Config::default(), &RunOptions { out: out.clone().into(), only: None, progress: false })?;
    let total: f64 = summary.seconds.iter().map(|s| s.1).sum();
    println!("wrote {} files to {out} in {total:.1} s", summary.files.len());
    for c in &summary.claims {
        println!("{:<22} {:?}", c.id, c.verdict);
    }
    Ok(())
}
