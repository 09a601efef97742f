//! The documentation works as written: `README.md` and the book in `docs/src/`.
//!
//! **Shell snippets are run.** Every fenced block whose info string is `sh` or `bash` is a
//! snippet. The snippets of one page run in order in one `bash` process (so a variable set
//! in one block is seen by the next), under `set -Eeuo pipefail`, each page with:
//!
//! - a server of its own, started in this process (`portcullis::server::spawn`) on a fresh
//!   SQLite database: the snippets are written against `http://localhost:8080`, and every
//!   `localhost:8080` in them is rewritten to the server's `localhost:PORT` (its public URL);
//! - a fresh temporary directory as the working directory, holding the server's
//!   `portcullis.db` and its `mail/` folder (where the server writes its `.eml` files, as
//!   `./mail` of `cargo run --release` does);
//! - `portcullis` (this build's binary) first on `PATH`, and the server's `PORTCULLIS_*`
//!   settings in the environment (database, mail folder, public URL, bcrypt cost 4, no per-IP
//!   rate limit, a GitHub sign-in provider), so `portcullis user create` works on the
//!   server's database; `HOME` and `TMPDIR` inside the temporary directory (so `mktemp` files
//!   go away with it), `LC_ALL=C`, no other variable;
//! - a limit of 60 s for the whole page.
//!
//! A failure names the page, the block (its number and line) and the failing command, and
//! shows bash's stdout and stderr. `PORTCULLIS_DOCS_OUTPUT=1 cargo test --test docs --
//! --nocapture` prints every page's output, failed or not.
//!
//! **Blocks that cannot run in a test** — `cargo run --release`, `cargo test`, starting a
//! server, `just …`, setting up PostgreSQL, the environment of a server — are written as
//! ` ```sh,no-run ` (or ` ```console ` for a transcript) and are not run; so are blocks in any
//! other language (`rust,ignore`, `python`, `js`, `toml`, `json`, …). An info string such as
//! `shell` or `sh,norun` is an error, so no block goes unrun by a typo.
//! `docs/src/contributing.md` says the same for writers.
//!
//! The snippets need `bash`, `curl` and `openssl`. When one is missing the snippet test
//! fails under `CI=true`, and otherwise passes with a loud SKIPPED banner on stderr.
//!
//! **Links resolve.** Every relative link and image in `README.md` and `docs/src/**/*.md`
//! points to a file of the repository (and, for a `#fragment` into a Markdown file, to one of
//! its headings); there are no links to other sites (`http://localhost…` aside);
//! `docs/src/SUMMARY.md` lists every chapter.
//!
//! **The HTTP reference is complete.** Every method and path of the server's
//! `/api/openapi.json` has its heading in `docs/src/reference/http.md`, and every heading
//! there names a route of the document.

#[path = "docs/markdown.rs"]
mod markdown;
#[path = "docs/runner.rs"]
mod runner;
#[path = "support/skipped.rs"]
mod skipped;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use runner::{Kind, Sandbox, Snippet};

/// The repository's root.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `README.md` and every Markdown file under `docs/src/`, as paths relative to the root,
/// sorted.
fn pages() -> Vec<String> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|ext| ext == "md") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&root().join("docs/src"), &mut found);
    let mut pages: Vec<String> = found
        .into_iter()
        .map(|path| path.strip_prefix(root()).expect("under the root").to_string_lossy().into_owned())
        .collect();
    pages.sort();
    pages.insert(0, "README.md".to_owned());
    pages
}

fn read(page: &str) -> String {
    std::fs::read_to_string(root().join(page)).unwrap_or_else(|error| panic!("cannot read {page}: {error}"))
}

/// The runnable blocks of `page`; `Err` lists its blocks with a bad info string.
fn snippets(page: &str, markdown: &str) -> Result<Vec<Snippet>, Vec<String>> {
    let mut snippets = Vec::new();
    let mut errors = Vec::new();
    for block in markdown::fenced_blocks(markdown) {
        match runner::kind(&block.info) {
            Ok(Kind::Run) => snippets.push(Snippet { number: snippets.len() + 1, block }),
            Ok(Kind::Skip) => {}
            Err(error) => errors.push(format!("{page}:{}: {error}", block.line)),
        }
    }
    if errors.is_empty() { Ok(snippets) } else { Err(errors) }
}

/// Runs one page's snippets against a server of its own; `Err` is the failure message.
async fn run_page(page: String, snippets: Vec<Snippet>) -> Result<std::time::Duration, String> {
    let sandbox = Sandbox::new();
    let (server, settings) = runner::start_server(&sandbox.work()).await;
    let host = format!("localhost:{}", server.addr().port());
    let script = runner::script(&page, &snippets, &host);
    let (mut sandbox, run) = tokio::task::spawn_blocking(move || {
        let run = runner::run_script(&sandbox, &script, &settings);
        (sandbox, run)
    })
    .await
    .expect("the script's thread finishes");
    server.stop().await;
    if std::env::var_os("PORTCULLIS_DOCS_OUTPUT").is_some() {
        eprintln!("===== {page}: {}\n{}\n----- stderr -----\n{}", run.describe_status(), run.stdout, run.stderr);
    }
    if run.succeeded() {
        return Ok(run.elapsed);
    }
    let block = run.last_block().and_then(|number| snippets.iter().find(|snippet| snippet.number == number));
    let location = match block {
        Some(snippet) => format!(
            "block {} of {} (the ```{} block at line {})",
            snippet.number,
            snippets.len(),
            snippet.block.info,
            snippet.block.line
        ),
        None => "before its first block".to_owned(),
    };
    let source = block.map(|snippet| snippet.block.text.clone()).unwrap_or_default();
    let kept = sandbox.keep().display().to_string();
    Err(format!(
        "{page}: {location} failed: {status}\n\
         --- the block (localhost:8080 is {host} in the test) ---\n{source}\
         --- bash's stdout (the end) ---\n{stdout}\n\
         --- bash's stderr (the end) ---\n{stderr}\n\
         --- the page's directory is kept: {kept}",
        status = run.describe_status(),
        stdout = runner::tail(&run.stdout),
        stderr = runner::tail(&run.stderr),
    ))
}

/// Every `sh`/`bash` block of every page runs, page by page, against a fresh server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_snippets_run_as_written() {
    let mut problems = Vec::new();
    let mut runnable = Vec::new();
    for page in pages() {
        match snippets(&page, &read(&page)) {
            Ok(snippets) if snippets.is_empty() => {}
            Ok(snippets) => runnable.push((page, snippets)),
            Err(errors) => problems.extend(errors),
        }
    }
    assert!(problems.is_empty(), "blocks with an info string the docs test does not know:\n{}", problems.join("\n"));
    assert!(!runnable.is_empty(), "the documentation has shell snippets to run");
    if !runner::tools_present() {
        return;
    }
    // A few pages at a time: each has its own server, and most of the time waits on curl.
    let permits = Arc::new(tokio::sync::Semaphore::new(4));
    let started = Instant::now();
    let mut runs = Vec::new();
    for (page, snippets) in runnable {
        let permits = Arc::clone(&permits);
        let name = page.clone();
        let count = snippets.len();
        runs.push((
            name,
            count,
            tokio::spawn(async move {
                let _permit = permits.acquire_owned().await.expect("the semaphore stays open");
                run_page(page, snippets).await
            }),
        ));
    }
    let mut failures = Vec::new();
    let mut summary = Vec::new();
    for (page, count, run) in runs {
        match run.await {
            Ok(Ok(elapsed)) => summary.push(format!("  {page}: {count} blocks, {:.1} s", elapsed.as_secs_f64())),
            Ok(Err(failure)) => failures.push(failure),
            Err(error) => failures.push(format!("{page}: the test task failed: {error}")),
        }
    }
    eprintln!("documentation snippets, {:.1} s in all:\n{}", started.elapsed().as_secs_f64(), summary.join("\n"));
    assert!(failures.is_empty(), "{} page(s) failed:\n\n{}", failures.len(), failures.join("\n\n"));
}

/// Whether `target` (a path of the repository) is a file, and when `fragment` is given and
/// the file is Markdown, whether one of its headings has that id.
fn check_target(path: &Path, fragment: Option<&str>) -> Result<(), String> {
    let canonical = path.canonicalize().map_err(|_| "no such file".to_owned())?;
    let repository = root().canonicalize().expect("the root exists");
    if !canonical.starts_with(&repository) {
        return Err("outside the repository".to_owned());
    }
    if let Some(fragment) = fragment.filter(|fragment| !fragment.is_empty())
        && canonical.extension().is_some_and(|ext| ext == "md")
    {
        let markdown = std::fs::read_to_string(&canonical).map_err(|error| error.to_string())?;
        if !markdown::heading_ids(&markdown).iter().any(|id| id == fragment) {
            return Err(format!("no heading with the id `{fragment}` there"));
        }
    }
    Ok(())
}

/// Every link of the docs resolves inside the repository, and the book's table of contents
/// lists every chapter.
#[test]
fn links_resolve_and_summary_lists_every_chapter() {
    let mut problems = Vec::new();
    for page in pages() {
        let markdown = read(&page);
        if markdown.contains("API.md") {
            problems.push(format!("{page}: names API.md, which is not in the repository"));
        }
        let dir = root().join(&page).parent().expect("a page has a directory").to_path_buf();
        for link in markdown::links(&markdown) {
            let target = link.target.as_str();
            if target.contains("://") || target.starts_with("mailto:") {
                if !(target.starts_with("http://localhost:") || target.starts_with("http://localhost/")) {
                    problems.push(format!("{page}:{}: {target}: links only inside the repository", link.line));
                }
                continue;
            }
            let (path, fragment) = match target.split_once('#') {
                Some((path, fragment)) => (path, Some(fragment)),
                None => (target, None),
            };
            let file = if path.is_empty() { root().join(&page) } else { dir.join(path) };
            if let Err(problem) = check_target(&file, fragment) {
                problems.push(format!("{page}:{}: {target}: {problem}", link.line));
            }
        }
    }

    let summary_page = "docs/src/SUMMARY.md";
    let summary_dir = root().join("docs/src");
    let listed: BTreeSet<PathBuf> = markdown::links(&read(summary_page))
        .into_iter()
        .filter_map(|link| summary_dir.join(link.target.split('#').next()?).canonicalize().ok())
        .collect();
    for page in pages().into_iter().filter(|page| page.starts_with("docs/src/") && page != summary_page) {
        let path = root().join(&page).canonicalize().expect("the page exists");
        if !listed.contains(&path) {
            problems.push(format!("{summary_page}: does not list {page}"));
        }
    }
    assert!(problems.is_empty(), "documentation links:\n{}", problems.join("\n"));
}

/// Every route of the OpenAPI document has a heading `` ### `METHOD /path` `` in the HTTP
/// reference, and every such heading is a route of the document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_reference_covers_every_openapi_route() {
    let sandbox = Sandbox::new();
    let (server, _) = runner::start_server(&sandbox.work()).await;
    let document: serde_json::Value = reqwest::get(format!("{}/api/openapi.json", server.url()))
        .await
        .expect("the OpenAPI document is served")
        .json()
        .await
        .expect("the OpenAPI document is JSON");
    server.stop().await;

    let mut routes = BTreeMap::new();
    for (path, operations) in document["paths"].as_object().expect("the document has paths") {
        for method in operations.as_object().expect("a path item is an object").keys() {
            if ["get", "put", "post", "delete", "patch", "options", "head"].contains(&method.as_str()) {
                routes.insert(format!("{} {path}", method.to_uppercase()), ());
            }
        }
    }
    assert!(routes.len() > 40, "the document lists the routes: {routes:?}");

    let reference_page = "docs/src/reference/http.md";
    let reference = read(reference_page);
    let headings: BTreeSet<String> =
        reference.lines().filter_map(|line| line.strip_prefix("### `")?.strip_suffix('`').map(str::to_owned)).collect();
    let missing: Vec<&String> = routes.keys().filter(|route| !headings.contains(*route)).collect();
    let unknown: Vec<&String> = headings.iter().filter(|heading| !routes.contains_key(*heading)).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "{reference_page} and /api/openapi.json differ.\n\
         Routes without a heading ### `METHOD /path` in the reference: {missing:#?}\n\
         Headings in the reference that are not routes of the document: {unknown:#?}"
    );
}
