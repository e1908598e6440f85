//! The CLI contract of `maxk advantages`, `maxk estimate` and `maxk estimators`: JSON Lines in
//! and out, full f64 precision, `line N: <reason>` on the first bad line, exit status 2.

use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};

use common::maxk_with_stdin as maxk;
use maxk_core::{Estimator, Scale, Spec, advantages, max_at_k};

mod common;

fn lines(out: &Output) -> Vec<Vec<f64>> {
    String::from_utf8(out.stdout.clone()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

const GROUPS: &str =
    "[0.1, 0.9, 0.4, 0.4, 0.0, 0.7]\n[1, 0, 0, 1]\n[0.333333333333333314829616256247, 2e-300, -5]\n";

#[test]
fn advantages_round_trip_full_precision_for_every_estimator_and_scale() {
    let groups: Vec<Vec<f64>> = GROUPS.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for est in Estimator::ALL.into_iter().filter(|e| !e.needs_binary()) {
        for scale in Scale::ALL {
            let out =
                maxk(&["advantages", "--estimator", est.id(), "-k", "2", "--scale", scale.id()], GROUPS);
            assert!(out.status.success(), "{est}: {}", String::from_utf8_lossy(&out.stderr));
            let got = lines(&out);
            assert_eq!(got.len(), groups.len());
            for (g, r) in groups.iter().enumerate() {
                // Bit-exact: the CLI must print the shortest representation that round-trips.
                assert_eq!(
                    got[g],
                    advantages(r, Spec::new(est, 2).with_scale(scale)).unwrap(),
                    "{est} {scale}"
                );
            }
        }
    }
}

#[test]
fn first_bad_line_stops_with_its_number() {
    let input = "[0, 1, 0.5]\n[0, 1, \"x\"]\n[1, 2, 3]\n";
    let out = maxk(&["advantages", "-e", "maxpo", "-k", "1"], input);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(lines(&out).len(), 1, "only the good line before the bad one is written");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: line 2: expected a JSON array of finite numbers"), "{err}");

    let out = maxk(&["advantages", "-e", "maxpo", "-k", "3"], "[0, 1, 2, 3]\n[0, 1, 2]\n");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(lines(&out).len(), 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 2: k = 3 is out of range for maxpo with group size 3 (needs 1 <= k <= N - 1)"),
        "{err}"
    );

    let out = maxk(&["advantages", "-e", "maxpo", "-k", "1"], "[0, 1]\n\n[1, 0]\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2: empty line"));

    let out = maxk(&["advantages", "-e", "nope", "-k", "1"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown estimator \"nope\""));
}

#[test]
fn estimate_prints_rho_per_line() {
    let out = maxk(&["estimate", "-k", "2"], GROUPS);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let got: Vec<f64> = text.lines().map(|l| l.parse().unwrap()).collect();
    let want: Vec<f64> =
        GROUPS.lines().map(|l| max_at_k(&serde_json::from_str::<Vec<f64>>(l).unwrap(), 2).unwrap()).collect();
    assert_eq!(got, want);
}

#[test]
fn files_in_and_out() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (input, output) = (dir.join("in.jsonl"), dir.join("out.jsonl"));
    std::fs::write(&input, GROUPS).unwrap();
    let out = maxk(
        &[
            "advantages",
            "-e",
            "canonical",
            "-k",
            "2",
            "-i",
            input.to_str().unwrap(),
            "-o",
            output.to_str().unwrap(),
        ],
        "",
    );
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&output).unwrap().lines().count(), 3);
    let out = maxk(&["advantages", "-e", "maxpo", "-k", "2", "-i", "/nonexistent/x.jsonl"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open input file /nonexistent/x.jsonl"));
}

/// `--output FILE` is all or nothing: a bad line leaves an existing FILE as it was (and creates
/// none where there was none), with no temporary file left behind; success replaces FILE.
#[test]
fn failed_run_leaves_the_output_file_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let output = dir.join("out.jsonl");
    let out_arg = output.to_str().unwrap();
    std::fs::write(&output, "the user's old output\n").unwrap();
    let bad = "[0, 1, 0.5]\n[1, 2, 3]\n[1, \"x\"]\n";
    let out = maxk(&["advantages", "-e", "maxpo", "-k", "1", "-o", out_arg], bad);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 3: "),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&output).unwrap(), "the user's old output\n");
    let names = |d: &std::path::Path| -> Vec<String> {
        std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
    };
    assert_eq!(names(dir), ["out.jsonl"], "a temporary file was left behind");

    let fresh = dir.join("fresh.jsonl");
    let out = maxk(&["estimate", "-k", "1", "-o", fresh.to_str().unwrap()], "[1, 2]\n[]\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(!fresh.exists(), "a failed run created its output file");

    let out = maxk(&["advantages", "-e", "maxpo", "-k", "1", "-o", out_arg], GROUPS);
    common::ok(&out);
    assert_eq!(std::fs::read_to_string(&output).unwrap().lines().count(), 3);
    assert_eq!(names(dir), ["out.jsonl"]);
}

/// `maxk advantages ... | head -1`: once the reader is gone the run ends quietly with status 0.
#[test]
fn broken_pipe_ends_quietly() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_maxk"))
        .args(["advantages", "-e", "maxpo", "-k", "2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Far more output than a pipe buffers; the writer stops when maxk stops reading.
    let feeder = std::thread::spawn(move || {
        for _ in 0..200_000 {
            if stdin.write_all(b"[0.1, 0.9, 0.4, 0.4, 0.0, 0.7]\n").is_err() {
                break;
            }
        }
    });
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap(); // then drop: closed
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    assert!(first.starts_with('['), "{first}");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");

    // The same for the registry listing.
    let mut child = Command::new(env!("CARGO_BIN_EXE_maxk"))
        .args(["estimators"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
}

/// Where the true advantage is not representable the line is an error naming the cause, never
/// a JSON null; where only an intermediate overflowed the answer is finite.
#[test]
fn extreme_rewards_are_finite_or_a_line_error() {
    let out = maxk(
        &["advantages", "--estimator", "maxpo", "-k", "1"],
        "[1.7976931348623157e308,-1.7976931348623157e308]\n",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: line 1: the maxpo advantage at index 0 is not representable as f64"),
        "{err}"
    );

    let out = maxk(&["advantages", "--estimator", "grpo", "-k", "1"], "[1e200, 3e200, 0]\n");
    common::ok(&out);
    let got = &lines(&out)[0];
    let want = [-0.2182178902359924, 1.091089451179962, -0.8728715609439696];
    assert!(got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-12), "{got:?}");

    for est in
        ["rloo", "dr-grpo", "pkpo", "best-minus-second", "maxpo", "ei", "canonical", "pkpo-loo", "pkpo-loo1"]
    {
        let out = maxk(&["advantages", "-e", est, "-k", "1", "--scale", "pg"], "[1e308, -5e307, 0, 9e307]\n");
        common::ok(&out);
        assert!(lines(&out)[0].iter().all(|x| x.is_finite()), "{est}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("null"), "{est}");
    }
}

#[test]
fn estimators_lists_every_id_with_its_properties() {
    let out = maxk(&["estimators"], "");
    common::ok(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    let header = text.lines().next().unwrap();
    for column in ["id", "centered", "pg-unbiased", "valid k", "min N", "description"] {
        assert!(header.contains(column), "{header}");
    }
    for est in Estimator::ALL {
        let line = text.lines().find(|l| l.split_whitespace().next() == Some(est.id())).unwrap();
        assert!(line.contains(est.description()) && line.contains(est.k_range().requirement()), "{line}");
    }

    let out = maxk(&["estimators", "--json"], "");
    common::ok(&out);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), Estimator::ALL.len());
    for (row, est) in rows.iter().zip(Estimator::ALL) {
        assert_eq!(row["id"], est.id());
        assert_eq!(row["centered"], est.is_centered());
        assert_eq!(row["pg_unbiased"], est.is_unbiased());
        assert_eq!(row["pg_factor"], est.pg_factor_formula());
        assert_eq!(row["uses_k"], est.uses_k());
        assert_eq!(row["valid_k"], est.k_range().requirement());
        assert_eq!(row["min_group_size"], est.min_group_size());
        assert_eq!(row["description"], est.description());
    }
}

/// Without the default features the trainer and experiment subcommands say how to get them.
#[cfg(not(feature = "lm"))]
#[test]
fn left_out_subcommands_name_their_feature() {
    let out = maxk(&["lm", "reproduce", "--preset", "tiny"], "");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`maxk lm` is not in this build: it needs the cargo feature `lm`"), "{err}");
}

#[cfg(not(feature = "experiments"))]
#[test]
fn left_out_experiments_name_their_feature() {
    for sub in ["reproduce", "bandit", "maze"] {
        let out = maxk(&[sub, "--quick"], "");
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("needs the cargo feature `experiments`"), "{sub}: {err}");
    }
}

// ---- Edges (issue 29): a byte order mark, trailing blank lines, errors that point at the
// right line and column, `--output` on what is not a plain file, a closed stderr.

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_all_equal_group_is_left_unscaled_by_std() {
    let out = maxk(&["advantages", "-e", "pkpo", "-k", "1", "--scale", "std"], "[0.7,0.7,0.7]\n");
    common::ok(&out);
    assert_eq!(lines(&out), [[0.7 / 3.0; 3]]);
    let out = maxk(&["advantages", "-e", "grpo", "-k", "1"], "[0.7,0.7,0.7]\n[5]\n");
    common::ok(&out);
    assert_eq!(lines(&out), [vec![0.0; 3], vec![0.0]]);
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let out = maxk(&["advantages", "-e", "maxpo", "-k", "1"], "\u{feff}[0, 1]\n[1, 0]\n");
    common::ok(&out);
    assert_eq!(lines(&out), [[-1.0, 1.0], [1.0, -1.0]]);
}

#[test]
fn trailing_blank_lines_are_ignored_but_not_blank_lines_before_a_group() {
    let out = maxk(&["advantages", "-e", "maxpo", "-k", "1"], "[0, 1]\n\n \r\n");
    common::ok(&out);
    assert_eq!(lines(&out).len(), 1);
    let out = maxk(&["estimate", "-k", "1"], "[0, 1]\n\n\n[1, 2]\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("error: line 2: empty line"), "{}", stderr(&out));
}

#[test]
fn json_errors_name_the_line_and_column_not_serdes_line_one() {
    let out = maxk(&["advantages", "-e", "maxpo", "-k", "1"], "[0, 1]\n[0, \"x\"]\n");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.starts_with("error: line 2: expected a JSON array of finite numbers"), "{err}");
    assert!(err.ends_with("invalid type: string \"x\", expected f64 (column 7)\n"), "{err}");
    assert!(!err.contains("line 1"), "{err}");
    let out = maxk(&["multi-advantages", "-k", "1"], "[[0, 1], [1, 0]]\n[[0, 1], [1, x]]\n");
    let err = stderr(&out);
    assert!(err.starts_with("error: line 2: expected a JSON array of D-arrays"), "{err}");
    assert!(!err.contains("line 1"), "{err}");
}

#[test]
fn nested_errors_are_printed_once() {
    let out = maxk(&["multi-advantages", "-k", "1", "-w", "1,1"], "[]\n");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), "error: line 1: axis 0: group is empty\n");
}

/// `eprintln!` panics (exit 101) when stderr is closed; the error must still exit with 2.
#[test]
fn a_closed_stderr_does_not_panic() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_maxk"))
        .args(["advantages", "-e", "maxpo", "-k", "1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end of stderr before maxk writes its error.
    drop(child.stderr.take());
    child.stdin.take().unwrap().write_all(b"[NaN]\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{:?}", out.status);
}

#[cfg(unix)]
#[test]
fn output_through_a_symlink_writes_its_target_and_keeps_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("real.jsonl");
    let link = dir.path().join("link.jsonl");
    std::fs::write(&target, "old\n").unwrap();
    std::os::unix::fs::symlink("real.jsonl", &link).unwrap();
    let out = maxk(&["advantages", "-e", "maxpo", "-k", "1", "-o", link.to_str().unwrap()], "[0, 1]\n");
    common::ok(&out);
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link was replaced");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "[-1.0,1.0]\n");
    // A dangling link: the file it names is created (atomically, beside it).
    let dangling = dir.path().join("dangling.jsonl");
    std::os::unix::fs::symlink("new.jsonl", &dangling).unwrap();
    common::ok(&maxk(&["estimate", "-k", "1", "-o", dangling.to_str().unwrap()], "[2, 4]\n"));
    assert!(std::fs::symlink_metadata(&dangling).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_to_string(dir.path().join("new.jsonl")).unwrap(), "3.0\n");
    // A link to a device is written through: /dev/null stays a device and the link a link.
    let null = dir.path().join("null");
    std::os::unix::fs::symlink("/dev/null", &null).unwrap();
    common::ok(&maxk(&["estimate", "-k", "1", "-o", null.to_str().unwrap()], "[2, 4]\n"));
    assert!(std::fs::symlink_metadata(&null).unwrap().file_type().is_symlink(), "the link was replaced");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 5, "no temporary file is left: {leftovers:?}");
}

#[cfg(unix)]
#[test]
fn output_to_a_fifo_is_written_through() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(made.success());
    // The reader opens the FIFO first; it sees maxk's lines as soon as maxk opens it.
    let reader_path = fifo.clone();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::fs::File::open(reader_path).unwrap().read_to_string(&mut text).unwrap();
        text
    });
    let out = maxk(&["estimate", "-k", "1", "-o", fifo.to_str().unwrap()], "[2, 4]\n[1]\n");
    common::ok(&out);
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo(), "the FIFO was replaced by a file");
    assert_eq!(reader.join().unwrap(), "3.0\n1.0\n");
}

#[test]
fn output_to_a_directory_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    // maxk stops before it reads its input: give it none.
    let out = maxk(&["estimate", "-k", "1", "-o", dir.path().to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is a directory"), "{}", stderr(&out));
}

/// Lines long enough that the workspace is readied while they are parsed (a radix-sorted
/// group): the same bits as the library, whatever the guess from the line's commas (a flat
/// array, then one whose string holds extra commas), and a bad long line is still its own
/// error with its column.
#[test]
fn long_lines_give_the_library_bits_and_their_errors() {
    let n = 40_000;
    let rewards: Vec<f64> = (0..n).map(|i| ((i * 7919) % 10007) as f64 / 10007.0).collect();
    let line = serde_json::to_string(&rewards).unwrap();
    for est in [Estimator::Maxpo, Estimator::PkpoLoo1, Estimator::DrGrpo] {
        let out = maxk(&["advantages", "-e", est.id(), "-k", "8"], &format!("{line}\n{line}\n"));
        assert!(out.status.success(), "{est}: {}", stderr(&out));
        let expect = advantages(&rewards, Spec::new(est, 8)).unwrap();
        assert_eq!(lines(&out), vec![expect.clone(), expect], "{est}");
    }
    // Far more commas than rewards: readied for the wrong size, then refused by the parser.
    let bad = format!("[0.5, [{}0]]", "0, ".repeat(n));
    let out = maxk(&["advantages", "-e", "maxpo", "-k", "8"], &format!("{line}\n{bad}\n"));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.starts_with("error: line 2: expected a JSON array of finite numbers"), "{err}");
    assert!(err.ends_with("invalid type: sequence, expected f64 (column 6)\n"), "{err}");
}
