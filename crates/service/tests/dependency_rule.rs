//! The dependency rule, checked on the real dependency graph (`cargo tree`): the HTTP crate
//! knows only the application and the domain; the composition root pulls in no web
//! framework; the application has no adapter crate under it.

use std::path::Path;
use std::process::Command;

/// Every package in the normal (non-dev, non-build) dependency tree of `package`.
fn dependencies_of(package: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let output = Command::new(cargo)
        .current_dir(workspace)
        .args(["tree", "--offline", "-e", "normal", "--prefix", "none", "--format", "{p}", "-p", package])
        .output()
        .expect("cargo tree runs");
    assert!(output.status.success(), "cargo tree -p {package}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

fn assert_absent(package: &str, forbidden: &[&str]) {
    let tree = dependencies_of(package);
    assert!(tree.iter().any(|name| name == package), "the tree of {package} names it: {tree:?}");
    for name in forbidden {
        assert!(!tree.iter().any(|dependency| dependency == name), "{package} must not depend on {name}");
    }
}

#[test]
fn the_http_crate_knows_only_the_application_and_the_domain() {
    assert_absent("portcullis-api", &["portcullis-infrastructure", "portcullis-service", "diesel", "r2d2", "lettre"]);
}

#[test]
fn no_file_of_the_http_crate_names_the_infrastructure_or_the_container() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../api");
    let mut pending = vec![root];
    let mut files = 0;
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs" || ext == "toml") {
                files += 1;
                let text = std::fs::read_to_string(&path).expect("text");
                // shaku comes in under the application (its handlers are components), but the
                // HTTP crate never uses the container itself.
                for name in ["portcullis_infrastructure", "portcullis-infrastructure", "shaku"] {
                    assert!(!text.contains(name), "{} names {name}", path.display());
                }
            }
        }
    }
    assert!(files > 10, "the HTTP crate's files were read");
}

#[test]
fn the_composition_root_pulls_in_no_web_framework() {
    assert_absent("portcullis-service", &["actix-web", "actix-http", "hyper", "axum", "portcullis-api"]);
}

#[test]
fn the_application_has_no_adapter_under_it() {
    assert_absent(
        "portcullis-application",
        &["portcullis-infrastructure", "diesel", "r2d2", "actix-web", "jsonwebtoken", "lettre", "reqwest"],
    );
}

#[test]
fn the_token_checks_and_the_verifier_carry_no_server_parts() {
    let server_parts = ["portcullis-domain", "portcullis-application", "portcullis-infrastructure", "diesel", "bcrypt"];
    assert_absent("portcullis-jwt", &[&server_parts[..], &["actix-web", "reqwest", "tokio"]].concat());
    assert_absent("portcullis-verifier", &server_parts);
}
