# Portcullis tasks. `just --list` shows them.

# Serve on http://localhost:8080 (SQLite portcullis.db unless PORTCULLIS_DATABASE_URL says otherwise).
run:
    cargo run --release

# The whole suite: unit tests and the end-to-end tests on SQLite and PostgreSQL.
test:
    cargo test

# Only the PostgreSQL end-to-end tests (PORTCULLIS_TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres).
test-pg:
    cargo test --test api postgres

# Formatting and lints, as CI runs them.
lint:
    cargo fmt --check
    cargo clippy --all-targets -- -D warnings

# Format the code.
fmt:
    cargo fmt

# Hot paths next to a bare actix-web route, on SQLite and PostgreSQL, as ratios (needs wrk).
bench:
    scripts/bench.sh

# Run the worked examples: embedding, extending the domain, a verifier-protected service.
examples:
    cargo run --example embed
    cargo run --example extend_domain
    cargo run --example protected_service

# Everything CI runs.
ci:
    bash .ci/run
