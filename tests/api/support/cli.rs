//! Running the `portcullis` binary against a test database.

use std::io::Write;
use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};

use super::database::TestDatabase;

/// A `portcullis` command with a clean `PORTCULLIS_*` environment pointing at `database`
/// (bcrypt cost 4, mail in the temp dir), run in the test's temp dir so no stray
/// `portcullis.toml` is read.
pub fn command(database: &TestDatabase, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PORTCULLIS_") {
            command.env_remove(key);
        }
    }
    command
        .args(args)
        .current_dir(database.dir())
        .env("PORTCULLIS_DATABASE_URL", database.url())
        .env("PORTCULLIS_BCRYPT_COST", "4")
        .env("PORTCULLIS_MAIL_DIR", database.mail_dir())
        .env("PORTCULLIS_RATE_LIMIT_PER_MINUTE", "0")
        .env("PORTCULLIS_LOG", "warn");
    command
}

/// Runs `command` to completion off the async threads, writing `stdin` to it.
pub async fn run(mut command: Command, stdin: &str) -> Output {
    let stdin = stdin.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the portcullis binary starts");
        if let Some(mut input) = child.stdin.take() {
            let _ = input.write_all(stdin.as_bytes());
        }
        child.wait_with_output().expect("the portcullis binary finishes")
    })
    .await
    .expect("the blocking task finishes")
}

/// Describes an `Output` for assertion messages.
pub fn describe(output: &Output) -> String {
    use std::os::unix::process::ExitStatusExt;
    let status = match (output.status.code(), output.status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(11)) => "killed by signal 11 (SIGSEGV)".to_owned(),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => "no exit status".to_owned(),
    };
    format!(
        "{status}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("can bind a free port").local_addr().expect("has an address").port()
}

/// A child process killed (by its own id) and reaped when dropped.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Makes `root@example.com` (password [`PASSWORD`](super::PASSWORD)) an admin with
/// `portcullis user create --admin`, as an operator's first step.
pub async fn make_admin(database: &TestDatabase) {
    let output = run(
        command(database, &["user", "create", "--email", "root@example.com", "--name", "Root", "--admin"]),
        &format!("{}\n", super::PASSWORD),
    )
    .await;
    assert!(output.status.success(), "portcullis user create --admin: {}", describe(&output));
}

/// A `portcullis serve` process of the drills, killed with SIGKILL when dropped (or by
/// [`ServerProcess::kill`]): a crash, not a stop.
pub struct ServerProcess {
    child: KillOnDrop,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl ServerProcess {
    /// Starts `portcullis serve` on `database` with the drills' environment plus `env`, and
    /// waits (at most 30 s) until `/health/ready` answers 200.
    pub async fn start(database: &TestDatabase, env: &[(&str, String)]) -> Self {
        let mut server = Self::spawn(database, env);
        server.wait_until_ready().await;
        server
    }

    /// Starts `portcullis serve` as [`ServerProcess::start`] does, without waiting for it.
    pub fn spawn(database: &TestDatabase, env: &[(&str, String)]) -> Self {
        let port = free_port();
        let mut command = command(database, &["serve"]);
        command
            .env("PORTCULLIS_BIND", format!("127.0.0.1:{port}"))
            .env("PORTCULLIS_PUBLIC_URL", format!("http://localhost:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let child = KillOnDrop(command.spawn().expect("portcullis starts"));
        Self { child, url: format!("http://127.0.0.1:{port}") }
    }

    /// Waits (at most 30 s) until `/health/ready` answers 200; panics with the process's
    /// stderr when it exits first.
    pub async fn wait_until_ready(&mut self) {
        let client = reqwest::Client::builder().no_proxy().build().expect("client");
        let started = std::time::Instant::now();
        loop {
            let ready = client.get(format!("{}/health/ready", self.url)).send().await;
            if ready.is_ok_and(|response| response.status() == 200) {
                return;
            }
            if let Ok(Some(status)) = self.child.0.try_wait() {
                let mut stderr = String::new();
                if let Some(mut pipe) = self.child.0.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                }
                panic!("portcullis serve exited early with {status}: {stderr}");
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(30), "portcullis serve is ready within 30 s");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Kills the process with SIGKILL (no graceful stop, nothing flushed) and reaps it.
    pub fn kill(self) {
        drop(self.child);
    }
}
