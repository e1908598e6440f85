//! The `maxk` command-line tool.
fn main() {}
