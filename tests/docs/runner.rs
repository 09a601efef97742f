//! Running one page's shell snippets: a fresh directory, a Portcullis server on it (in this
//! process), and one `bash` running every runnable block of the page in order.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::TcpListener;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use portcullis::config::Config;
use portcullis::server::RunningServer;

use super::markdown::Block;

/// How long one page's snippets may take together.
pub const PAGE_TIMEOUT: Duration = Duration::from_secs(60);

/// What the snippets are written against; rewritten to the test server's host and port.
pub const DOCUMENTED_HOST: &str = "localhost:8080";

/// The programs the snippets use.
pub const TOOLS: [&str; 3] = ["bash", "curl", "openssl"];

/// How much of a script's stdout and stderr a failure message shows (the end of each).
const OUTPUT_SHOWN: usize = 12 * 1024;

/// What a block's info string says to do with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `sh` or `bash`: run by the test.
    Run,
    /// Anything else (`sh,no-run`, `console`, `rust,ignore`, `json`, …): not run.
    Skip,
}

/// Sorts a block by its info string. `Err` for an info string that looks like a shell
/// snippet but says neither `sh`/`bash` (run) nor `sh,no-run`/`bash,no-run`/`console` (not
/// run), so a block never goes unrun by a typo.
pub fn kind(info: &str) -> Result<Kind, String> {
    let mut words = info.split([',', ' ']).map(str::trim).filter(|word| !word.is_empty());
    let language = words.next().unwrap_or_default();
    let attributes: Vec<&str> = words.collect();
    match language {
        "sh" | "bash" => match attributes.as_slice() {
            [] => Ok(Kind::Run),
            ["no-run"] => Ok(Kind::Skip),
            _ => Err(format!("```{info}: a shell block is `sh` (run by tests/docs.rs) or `sh,no-run` (not run)")),
        },
        "shell" | "zsh" | "shell-session" | "shellsession" | "sh-session" => {
            Err(format!("```{info}: write `sh` (run by tests/docs.rs), `sh,no-run` or `console` (not run) instead"))
        }
        _ => Ok(Kind::Skip),
    }
}

/// One runnable block of a page.
#[derive(Clone, Debug)]
pub struct Snippet {
    /// Its number among the page's runnable blocks, from 1.
    pub number: usize,
    /// The block.
    pub block: Block,
}

/// Whether the tools the snippets need are here. `Err` names the missing ones.
pub fn missing_tools() -> Result<(), Vec<&'static str>> {
    let missing: Vec<&str> = TOOLS
        .iter()
        .copied()
        .filter(|tool| {
            let flag = if *tool == "openssl" { "version" } else { "--version" };
            !Command::new(tool)
                .arg(flag)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        })
        .collect();
    if missing.is_empty() { Ok(()) } else { Err(missing) }
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value.eq_ignore_ascii_case("true"))
}

/// `false` (with a loud warning) when a tool is missing and `CI` is not `true`; under
/// `CI=true` a missing tool fails the test.
pub fn tools_present() -> bool {
    let Err(missing) = missing_tools() else { return true };
    let missing = missing.join(", ");
    if in_ci() {
        panic!(
            "the documentation's shell snippets need {missing}, which cannot be run, and CI=true: these tests \
             must run. Install it (apt-get install bash curl openssl)."
        );
    }
    crate::skipped::skipped(
        "the shell tools of the snippets",
        &format!("{missing} missing"),
        "Install them: apt-get install bash curl openssl.",
    );
    false
}

/// A page's own directory: `work/` (the scripts' working directory, with the SQLite file
/// and `mail/`), `bin/` (`portcullis`), `home/` and `tmp/`. Removed when dropped unless kept.
pub struct Sandbox {
    root: PathBuf,
    keep: bool,
}

impl Sandbox {
    /// Makes the directories.
    pub fn new() -> Self {
        let root = std::env::temp_dir().join(format!("portcullis-docs-{}", uuid::Uuid::new_v4().simple()));
        for dir in ["work/mail", "bin", "home", "tmp"] {
            std::fs::create_dir_all(root.join(dir)).expect("the sandbox's directories can be made");
        }
        let root = root.canonicalize().expect("the sandbox has an absolute path");
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_portcullis"), root.join("bin/portcullis"))
            .expect("portcullis can be linked into the sandbox's bin/");
        Self { root, keep: false }
    }

    /// The scripts' working directory.
    pub fn work(&self) -> PathBuf {
        self.root.join("work")
    }

    /// Keeps the directory after the test, for a look at what the snippets left.
    pub fn keep(&mut self) -> &Path {
        self.keep = true;
        &self.root
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("can bind a free port").local_addr().expect("has an address").port()
}

/// The `PORTCULLIS_*` settings of a page's server, which the scripts get too (so that
/// `portcullis user create` works on the server's database): SQLite in `work/`, mail in
/// `work/mail`, `http://localhost:PORT`, bcrypt cost 4, no per-IP rate limit, and a GitHub
/// sign-in provider (which needs no network until someone signs in with it).
pub fn settings(work: &Path, port: u16) -> BTreeMap<String, String> {
    [
        ("PORTCULLIS_DATABASE_URL", format!("sqlite://{}", work.join("portcullis.db").display())),
        ("PORTCULLIS_BIND", format!("127.0.0.1:{port}")),
        ("PORTCULLIS_PUBLIC_URL", format!("http://localhost:{port}")),
        ("PORTCULLIS_MAIL_DIR", work.join("mail").display().to_string()),
        ("PORTCULLIS_BCRYPT_COST", "4".to_owned()),
        ("PORTCULLIS_RATE_LIMIT_PER_MINUTE", "0".to_owned()),
        ("PORTCULLIS_DB_POOL_SIZE", "4".to_owned()),
        ("PORTCULLIS_LOG", "warn".to_owned()),
        ("PORTCULLIS_PROVIDERS", "github".to_owned()),
        ("PORTCULLIS_PROVIDER_GITHUB_CLIENT_ID", "docs-test-client".to_owned()),
        ("PORTCULLIS_PROVIDER_GITHUB_CLIENT_SECRET", "docs-test-secret".to_owned()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect()
}

/// Starts a server on `work`, on a port chosen up front (its public URL must name it).
/// Returns it with its settings.
pub async fn start_server(work: &Path) -> (RunningServer, BTreeMap<String, String>) {
    let mut last_error = None;
    for _ in 0..5 {
        let settings = settings(work, free_port());
        let config = Config::from_sources(None, &settings)
            .unwrap_or_else(|error| panic!("the docs test's settings are a valid configuration: {error}"));
        match portcullis::server::spawn(config).await {
            Ok(server) => return (server, settings),
            // Another test may have taken the port in between: try another.
            Err(error) => last_error = Some(error),
        }
    }
    panic!("the docs test's server did not start: {:#}", last_error.expect("an error"));
}

/// How a page's script ended.
pub struct ScriptRun {
    /// Its exit status; `None` when it was killed for taking longer than [`PAGE_TIMEOUT`].
    pub status: Option<ExitStatus>,
    /// What it wrote to stdout.
    pub stdout: String,
    /// What it wrote to stderr.
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
}

impl ScriptRun {
    /// Whether every block ran to the end.
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|status| status.success())
    }

    /// "exit code 22", "killed by signal 9", "timed out after 60 s".
    pub fn describe_status(&self) -> String {
        match self.status {
            None => format!("timed out after {} s", PAGE_TIMEOUT.as_secs()),
            Some(status) => match (status.code(), status.signal()) {
                (Some(code), _) => format!("exit code {code}"),
                (None, Some(signal)) => format!("killed by signal {signal}"),
                (None, None) => "no exit status".to_owned(),
            },
        }
    }

    /// The number of the block that was running when the script stopped (the last marker
    /// the script wrote to stderr).
    pub fn last_block(&self) -> Option<usize> {
        self.stderr.lines().rev().find_map(|line| line.strip_prefix(MARKER)?.split_whitespace().next()?.parse().ok())
    }
}

/// What the script writes to stderr before each block: `MARKER<number> (<page>:<line>)`.
const MARKER: &str = "==> docs block ";

/// The page's script: strict mode, a note of the failing command, then each block after a
/// marker, with [`DOCUMENTED_HOST`] turned into `host`.
pub fn script(page: &str, snippets: &[Snippet], host: &str) -> String {
    let mut script = String::from(
        "set -Eeuo pipefail\n\
         trap 'echo \"==> failed (exit $?): $BASH_COMMAND\" >&2' ERR\n",
    );
    for snippet in snippets {
        script.push_str(&format!("echo '{MARKER}{} ({page}:{})' >&2\n", snippet.number, snippet.block.line));
        script.push_str(&snippet.block.text.replace(DOCUMENTED_HOST, host));
    }
    script
}

fn read_all(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Kills the process group `pgid` (the script and whatever it started), by its id, with
/// bash's own `kill` (bash is needed anyway).
fn kill_group(pgid: u32) {
    let _ = Command::new("bash")
        .args(["-c", "kill -KILL -- \"-$0\"", &pgid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Runs `script` with `bash` in `sandbox`'s `work/`, with a clean environment: `PATH` with
/// `portcullis` first, `HOME` and `TMPDIR` inside the sandbox, `LC_ALL=C`, and `settings`.
/// Blocking; kills the script (and what it started) after [`PAGE_TIMEOUT`].
pub fn run_script(sandbox: &Sandbox, script: &str, settings: &BTreeMap<String, String>) -> ScriptRun {
    let root = &sandbox.root;
    let path = match std::env::var_os("PATH") {
        Some(path) => {
            let mut dirs = vec![root.join("bin")];
            dirs.extend(std::env::split_paths(&path));
            std::env::join_paths(dirs).expect("PATH can be joined")
        }
        None => root.join("bin:/usr/local/bin:/usr/bin:/bin").into_os_string(),
    };
    let started = Instant::now();
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(sandbox.work())
        .env_clear()
        .env("PATH", path)
        .env("HOME", root.join("home"))
        .env("TMPDIR", root.join("tmp"))
        .env("LC_ALL", "C")
        .envs(settings)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("bash starts");
    let pgid = child.id();
    let stdout = read_all(child.stdout.take().expect("stdout is piped"));
    let stderr = read_all(child.stderr.take().expect("stderr is piped"));
    let status = loop {
        match child.try_wait().expect("the script can be waited for") {
            Some(status) => break Some(status),
            None if started.elapsed() > PAGE_TIMEOUT => {
                kill_group(pgid);
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let elapsed = started.elapsed();
    // Anything a snippet left running in the background would hold the pipes open.
    kill_group(pgid);
    ScriptRun { status, stdout: stdout.join().unwrap_or_default(), stderr: stderr.join().unwrap_or_default(), elapsed }
}

/// The end of `text`, at most [`OUTPUT_SHOWN`] bytes.
pub fn tail(text: &str) -> &str {
    if text.len() <= OUTPUT_SHOWN {
        return text;
    }
    let mut start = text.len() - OUTPUT_SHOWN;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_strings() {
        assert_eq!(kind("sh"), Ok(Kind::Run));
        assert_eq!(kind("bash"), Ok(Kind::Run));
        assert_eq!(kind("sh,no-run"), Ok(Kind::Skip));
        assert_eq!(kind("console"), Ok(Kind::Skip));
        assert_eq!(kind("rust,ignore"), Ok(Kind::Skip));
        assert_eq!(kind(""), Ok(Kind::Skip));
        assert!(kind("sh,norun").is_err());
        assert!(kind("shell").is_err());
    }
}
