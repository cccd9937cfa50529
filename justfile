# attrmig's tasks. `just ci` is what CI runs (.ci/run calls the same commands).

# Walk a sandbox SQLite project through all ten steps.
demo:
    cargo run --release -- demo

# The test command (SQLite always; PostgreSQL/MariaDB when ATTRMIG_TEST_*_URL are set).
test:
    cargo test --workspace

# Tests with MySQL/MariaDB support compiled in (needs libmariadb-dev).
test-all:
    cargo test --workspace --all-features

# Throughput and memory of sync and cross-check vs single statements (1M and 10M rows).
bench:
    cargo bench --bench tools

# What CI runs: install, start servers, fmt, clippy, tests with every feature, check.
ci:
    .ci/run
