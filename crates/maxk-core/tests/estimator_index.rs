//! The estimator index of docs/MATH.md ("Estimators in one basis") against the registry: one
//! row per `Estimator::ALL` id and no other; every fast kernel and reference twin it names is a
//! `fn` of maxk-core's sources (found by name anywhere under `src/`, so moving a function to
//! another file keeps the index true), every test a `fn` under `tests/`; and the source column
//! cites what the registry's docs cite (crates/maxk-core/src/estimator.rs): the registry table's
//! source text verbatim, and the same arXiv ids and equation numbers as the estimator's row,
//! description and variant docs.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use maxk_core::Estimator;

/// The columns the index must have, in this order after `id`.
const COLUMNS: [&str; 9] = [
    "id",
    "A_i",
    "sum over group",
    "PG-unbiased (factor c)",
    "valid K",
    "source (paper, eq.)",
    "fast kernel",
    "reference twin",
    "tests",
];

/// One row of the index.
#[derive(Debug)]
struct Row {
    id: String,
    source: String,
    kernels: Vec<String>,
    twins: Vec<String>,
    tests: Vec<String>,
}

/// The cells of a Markdown table line (`\|` is a literal bar inside a cell).
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    let mut out = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => out.last_mut().unwrap().push(chars.next().unwrap()),
            '|' => out.push(String::new()),
            _ => out.last_mut().unwrap().push(c),
        }
    }
    out.into_iter().map(|c| c.trim().to_string()).collect()
}

/// A cell that lists code names: `` `a`, `b::c` `` (nothing else).
fn names(cell: &str, errors: &mut Vec<String>, what: &str) -> Vec<String> {
    let parts: Vec<&str> = cell.split(", ").collect();
    let mut out = Vec::new();
    for p in parts {
        match p.strip_prefix('`').and_then(|p| p.strip_suffix('`')) {
            Some(name) if !name.is_empty() && !name.contains('`') => out.push(name.to_string()),
            _ => errors.push(format!("{what}: {p:?} is not a `name` (cell {cell:?})")),
        }
    }
    out
}

/// The index table of a MATH.md text: the table whose header is [`COLUMNS`].
fn parse_index(math: &str, errors: &mut Vec<String>) -> Vec<Row> {
    let lines: Vec<&str> = math.lines().collect();
    let Some(head) = lines.iter().position(|l| l.starts_with('|') && cells(l) == COLUMNS) else {
        errors.push(format!("no table with the columns {COLUMNS:?} in docs/MATH.md"));
        return Vec::new();
    };
    let mut rows = Vec::new();
    for (i, line) in lines.iter().enumerate().skip(head + 2).take_while(|(_, l)| l.starts_with('|')) {
        let c = cells(line);
        if c.len() != COLUMNS.len() {
            errors.push(format!(
                "docs/MATH.md line {}: {} cells, expected {}",
                i + 1,
                c.len(),
                COLUMNS.len()
            ));
            continue;
        }
        let id = c[0].clone();
        rows.push(Row {
            kernels: names(&c[6], errors, &format!("{id} fast kernel")),
            twins: names(&c[7], errors, &format!("{id} reference twin")),
            tests: names(&c[8], errors, &format!("{id} tests")),
            source: c[5].clone(),
            id,
        });
    }
    rows
}

/// Every `.rs` file under `dir`, concatenated.
fn rust_text(dir: &Path) -> String {
    let mut text = String::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("cannot read {}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                text.push_str(&fs::read_to_string(&path).unwrap());
                text.push('\n');
            }
        }
    }
    text
}

/// Whether `text` defines a function called like the last segment of `name` (`a::b` -> `b`).
fn defines(text: &str, name: &str) -> bool {
    let f = name.rsplit("::").next().unwrap_or(name);
    text.contains(&format!("fn {f}(")) || text.contains(&format!("fn {f}<"))
}

/// The arXiv ids (`arXiv 2505.15201`) and equation numbers (`eq. 19`) cited in `text`.
fn citations(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (marker, tag) in [("arXiv ", "arXiv"), ("eq. ", "eq.")] {
        for (at, _) in text.match_indices(marker) {
            let rest = &text[at + marker.len()..];
            let num: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
            let num = num.trim_end_matches('.');
            if !num.is_empty() {
                out.insert(format!("{tag} {num}"));
            }
        }
    }
    out
}

/// What the registry says about `est`'s source: the source cell of its row in the table of
/// `Estimator`'s docs, and all the text that may cite a paper (that row, the variant's doc
/// comment, `description()`).
fn registry_source(registry: &str, est: Estimator) -> (Option<String>, String) {
    let row = registry
        .lines()
        .map(|l| l.trim_start().trim_start_matches("///").trim())
        .find(|l| l.starts_with('|') && cells(l).first().map(String::as_str) == Some(&format!("`{est}`")));
    let cell = row.map(|r| cells(r).last().cloned().unwrap_or_default());
    let variant = format!("    {est:?},");
    let lines: Vec<&str> = registry.lines().collect();
    let docs = lines
        .iter()
        .position(|l| *l == variant)
        .map(|at| {
            let start =
                lines[..at].iter().rposition(|l| !l.trim_start().starts_with("///")).map_or(0, |p| p + 1);
            lines[start..at].join("\n")
        })
        .unwrap_or_default();
    (cell, format!("{}\n{docs}\n{}", row.unwrap_or(""), est.description()))
}

/// Every disagreement between the index in `math` and the registry and sources.
fn check(math: &str, registry: &str, src: &str, tests: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let rows = parse_index(math, &mut errors);
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    for est in Estimator::ALL {
        match ids.iter().filter(|id| **id == est.id()).count() {
            1 => {}
            0 => errors.push(format!("{est}: no row in the estimator index")),
            n => errors.push(format!("{est}: {n} rows in the estimator index")),
        }
    }
    for row in &rows {
        let Ok(est) = row.id.parse::<Estimator>() else {
            errors.push(format!("row {:?} is not an id of Estimator::ALL", row.id));
            continue;
        };
        for k in &row.kernels {
            if !defines(src, k) {
                errors.push(format!("{est}: fast kernel {k} is no fn under crates/maxk-core/src"));
            }
        }
        for t in &row.twins {
            if !t.starts_with("reference::") || !defines(src, t) {
                errors.push(format!("{est}: reference twin {t} is no fn of maxk_core::reference"));
            }
        }
        for t in &row.tests {
            if !defines(tests, t) {
                errors.push(format!("{est}: test {t} is no fn under crates/maxk-core/tests"));
            }
        }
        let (cell, text) = registry_source(registry, est);
        match cell {
            None => errors.push(format!("{est}: no row in the table of Estimator's docs")),
            Some(cell) if !row.source.contains(&cell) => errors
                .push(format!("{est}: source {:?} does not contain the registry's {cell:?}", row.source)),
            Some(_) => {}
        }
        let (ours, theirs) = (citations(&row.source), citations(&text));
        if ours != theirs {
            errors.push(format!("{est}: the index cites {ours:?}, the registry's docs {theirs:?}"));
        }
    }
    errors
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: PathBuf) -> String {
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The real files: docs/MATH.md, estimator.rs, maxk-core's src/ and tests/.
fn sources() -> (String, String, String, String) {
    let dir = crate_dir();
    (
        read(dir.join("../../docs/MATH.md")),
        read(dir.join("src/estimator.rs")),
        rust_text(&dir.join("src")),
        rust_text(&dir.join("tests")),
    )
}

#[test]
fn the_index_matches_the_registry_and_the_sources() {
    let (math, registry, src, tests) = sources();
    let mut errors = Vec::new();
    assert_eq!(parse_index(&math, &mut errors).len(), Estimator::ALL.len(), "{errors:?}");
    let errors = check(&math, &registry, &src, &tests);
    assert!(errors.is_empty(), "docs/MATH.md's estimator index:\n{}", errors.join("\n"));
}

/// The check itself: each kind of drift is reported, naming the estimator.
#[test]
fn the_check_reports_each_kind_of_drift() {
    let (math, registry, src, tests) = sources();
    let row_of = |id: &str| {
        math.lines()
            .find(|l| l.starts_with(&format!("| {id} |")))
            .unwrap_or_else(|| panic!("no {id} row"))
            .to_string()
    };
    let drifts: [(String, &str); 7] = [
        (math.replace(&format!("{}\n", row_of("rs-grpo")), ""), "rs-grpo: no row"),
        (math.replace(&row_of("grpo"), &format!("{}\n{}", row_of("grpo"), row_of("grpo"))), "grpo: 2 rows"),
        (math.replace("| rloo |", "| rlooo |"), "row \"rlooo\" is not an id"),
        (math.replace("`maxrl` |", "`maxrl_kernel` |"), "maxrl: fast kernel maxrl_kernel"),
        (math.replace("`reference::l2o`", "`l2o`"), "maxpo: reference twin l2o"),
        (math.replace("PKPO eq. 29", "PKPO eq. 28"), "pkpo-loo: source"),
        (math.replace("arXiv 2508.10751 (Chen", "arXiv 2508.10752 (Chen"), "passk-analytic: source"),
    ];
    for (doc, expected) in drifts {
        assert_ne!(doc, math, "the drift {expected:?} changed nothing");
        let errors = check(&doc, &registry, &src, &tests);
        assert!(errors.iter().any(|e| e.starts_with(expected)), "{expected:?} not reported: {errors:?}");
    }
    // A citation the registry lacks, kept apart from the verbatim source text.
    let doc = math.replace("| Kool et al. 2019 |", "| Kool et al. 2019 (arXiv 1904.00001) |");
    let errors = check(&doc, &registry, &src, &tests);
    assert!(errors.iter().any(|e| e.starts_with("rloo: the index cites")), "{errors:?}");
    // A test that does not exist.
    let doc = math.replace("`peers_are_centered_and_biased` |", "`peers_are_centred` |");
    let errors = check(&doc, &registry, &src, &tests);
    assert!(errors.iter().any(|e| e.starts_with("bon-mean: test peers_are_centred")), "{errors:?}");
}
