//! Progress bars on stderr (hidden when stderr is not a terminal, or when disabled).

use indicatif::{ProgressBar, ProgressStyle};

/// A thread-safe counter of finished jobs, drawn as a bar.
#[derive(Debug, Clone)]
pub struct Progress(ProgressBar);

impl Progress {
    /// A bar of `total` jobs titled `label`; `show = false` draws nothing.
    pub fn new(label: &str, total: u64, show: bool) -> Progress {
        if !show {
            return Progress(ProgressBar::hidden());
        }
        let bar = ProgressBar::new(total);
        let style = ProgressStyle::with_template(
            "{msg:>18} [{bar:40.cyan/blue}] {pos}/{len} jobs, {elapsed} (eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(label.to_string());
        Progress(bar)
    }

    /// One more job done.
    pub fn inc(&self) {
        self.0.inc(1);
    }

    /// Leaves the finished bar on screen.
    pub fn finish(&self) {
        self.0.finish();
    }
}
