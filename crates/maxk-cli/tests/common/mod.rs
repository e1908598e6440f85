//! Helpers shared by the CLI's end-to-end tests: run the built `maxk` binary and check what it
//! wrote.

// Each test file compiles this module on its own and uses only some of the helpers.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `maxk args...` with `stdin` as its standard input and collects its output.
///
/// The input is written from its own thread while the output is read, so a large input cannot
/// deadlock on full pipes. maxk may stop reading early (it stops at the first bad line, which
/// is what several tests check): a broken pipe while writing is therefore not a failure, any
/// other write error is.
pub fn maxk_with_stdin(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_maxk"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("maxk binary runs");
    let mut pipe = child.stdin.take().expect("stdin is piped");
    let input = stdin.to_owned();
    let writer = std::thread::spawn(move || match pipe.write_all(input.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("writing maxk's stdin: {e}"),
        _ => {}
    });
    let out = child.wait_with_output().expect("maxk exits");
    writer.join().expect("the stdin writer does not panic");
    out
}

/// Runs `maxk args...` with empty standard input.
pub fn maxk(args: &[&str]) -> Output {
    maxk_with_stdin(args, "")
}

/// Asserts that the run succeeded, showing its output otherwise.
pub fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Asserts that every `dir/name` exists and is not empty.
pub fn assert_files<S: AsRef<Path>>(dir: &Path, names: &[S]) {
    for name in names {
        let path = dir.join(name);
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "{} missing or empty", path.display());
    }
}
