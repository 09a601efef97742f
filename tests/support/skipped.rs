//! Tests that cannot run their real part (PostgreSQL, Chromium, the OpenID Connect provider,
//! the shell tools of the docs' snippets) outside CI: the first such test of each part prints
//! a loud banner, and when the test binary exits it prints how many tests passed without
//! running, straight to stderr (the harness captures `eprintln!` inside tests), so a person
//! running `cargo test` sees it under the totals. Under `CI=true` the callers fail instead.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Mutex, Once, PoisonError};

/// Skipped tests so far, by the part they lacked.
static SKIPS: Mutex<BTreeMap<&'static str, usize>> = Mutex::new(BTreeMap::new());

/// Registers [`print_summary`] to run at exit, once.
static SUMMARY: Once = Once::new();

/// Records that one test returns without running because `part` cannot run here (`reason`);
/// `advice` says how to get it. The first skip of each part prints a banner.
pub fn skipped(part: &'static str, reason: &str, advice: &str) {
    let first = {
        let mut skips = SKIPS.lock().unwrap_or_else(PoisonError::into_inner);
        let count = skips.entry(part).or_insert(0);
        *count += 1;
        *count == 1
    };
    SUMMARY.call_once(|| {
        // SAFETY: `print_summary` is a plain `extern "C" fn()` that touches only statics.
        unsafe {
            libc::atexit(print_summary);
        }
    });
    if first {
        let rule = "!".repeat(72);
        let _ = writeln!(
            std::io::stderr(),
            "\n{rule}\n!! WARNING: {part} cannot run here ({reason}).\n\
             !! Every test that needs it is SKIPPED (it passes without running).\n\
             !! {advice}\n!! With CI=true these tests fail instead.\n{rule}\n"
        );
    }
    eprintln!("SKIPPED: {part} cannot run here ({reason})");
}

/// At exit: how many tests of this binary were skipped, by part.
extern "C" fn print_summary() {
    let skips = SKIPS.lock().unwrap_or_else(PoisonError::into_inner);
    let total: usize = skips.values().sum();
    if total == 0 {
        return;
    }
    let rule = "!".repeat(72);
    let mut summary = format!(
        "\n{rule}\n!! {total} test{} above counted as passed but were SKIPPED (they did not run):\n",
        if total == 1 { "" } else { "s" }
    );
    for (part, count) in skips.iter() {
        summary.push_str(&format!("!!   {count} without {part}\n"));
    }
    summary.push_str(&format!("!! The warnings above say how to run them.\n{rule}\n"));
    let _ = std::io::stderr().write_all(summary.as_bytes());
}
