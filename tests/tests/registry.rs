//! The host's registry used in-process, as the benchmarks do: a plugin asked for by many
//! threads at once is initialised once.
// Test code: a failed step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Barrier};

use talaria::approvals::Approvals;
use talaria::cli::ApprovalMode;
use talaria::plugins::Registry;
use talaria_tests::TestHome;

#[test]
fn a_plugin_is_initialised_once_however_many_threads_ask_at_once() {
    let home = TestHome::new();
    let folder = home.plugin_folder(
        &home.dir.path().join("word-tools"),
        "tests/fixtures/word-tools",
        "talaria-fixture-word-tools",
        |m| m,
    );
    // This test process is the only user of these variables (nextest runs each test in
    // a process of its own).
    std::env::set_var("TALARIA_HOME", home.root());
    std::env::set_var("TALARIA_PLUGIN_PATH", &folder);
    std::env::remove_var("TALARIA_LOG");
    let app = talaria::app::App::new(None).unwrap();
    talaria::logging::init(&app.profile);
    let registry = Registry::open(&app, Arc::new(Approvals::new(ApprovalMode::Deny))).unwrap();

    const THREADS: usize = 8;
    let start = Barrier::new(THREADS);
    let loaded: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    registry.plugin("word-tools").unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        loaded.iter().all(|p| Arc::ptr_eq(p, &loaded[0])),
        "one instance for everybody"
    );
    // word-tools logs "word-tools ready" from its init.
    let log =
        std::fs::read_to_string(app.profile.logs_dir().join(talaria::logging::LOG_FILE)).unwrap();
    assert_eq!(log.matches("word-tools ready").count(), 1, "{log}");
}
