//! The fuzz targets on any toolchain: random mutations of each target's corpus
//! (`fuzz/corpus/NAME/`) under a time budget, every panic caught and its input kept
//! in `fuzz/artifacts/NAME/`.
//!
//! ```text
//! fuzz-stable TARGET|all SECONDS    fuzz for SECONDS (each target, for `all`)
//! fuzz-stable TARGET --run FILE...  run the given inputs once (a crash found earlier)
//! fuzz-stable --list                the target names
//! ```
//!
//! Prints one line per target: `TARGET execs=N secs=S crashes=C unique=U slow=H`;
//! exits 1 when anything crashed.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use talaria_fuzz_targets::mutate::mutate;
use talaria_fuzz_targets::{target, Target, TARGETS};

/// An input taking longer than this is a hang to report.
const SLOW: Duration = Duration::from_secs(1);

fn fuzz_dir() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).join("fuzz")
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || {
        eprintln!("usage: fuzz-stable TARGET|all SECONDS | TARGET --run FILE... | --list");
        ExitCode::from(2)
    };
    // The panic message goes into the report, not onto the terminal each time.
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| {
                info.payload()
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
            })
            .unwrap_or_default();
        LAST_PANIC.with(|p| *p.borrow_mut() = format!("{place}: {message}"));
    }));
    match args.as_slice() {
        [list] if list == "--list" => {
            for (name, _) in TARGETS {
                println!("{name}");
            }
            ExitCode::SUCCESS
        }
        [name, run, files @ ..] if run == "--run" => {
            let Some(t) = target(name) else {
                return usage();
            };
            let mut failed = false;
            for file in files {
                let data = match std::fs::read(file) {
                    Ok(data) => data,
                    Err(e) => {
                        eprintln!("cannot read {file}: {e}");
                        return ExitCode::from(2);
                    }
                };
                match run_one(t, &data) {
                    Ok(_) => println!("{file}: ok"),
                    Err(why) => {
                        failed = true;
                        println!("{file}: CRASH {why}");
                    }
                }
            }
            if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        [name, secs] => {
            let Ok(secs) = secs.parse::<u64>() else {
                return usage();
            };
            let budget = Duration::from_secs(secs);
            let chosen: Vec<(&str, Target)> = if name == "all" {
                TARGETS.to_vec()
            } else {
                match target(name) {
                    Some(t) => vec![(name.as_str(), t)],
                    None => return usage(),
                }
            };
            let mut crashed = false;
            for (name, t) in chosen {
                crashed |= fuzz(name, t, budget) > 0;
            }
            if crashed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        _ => usage(),
    }
}

thread_local! {
    static LAST_PANIC: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Runs one input: how long it took, or the panic.
fn run_one(t: Target, data: &[u8]) -> Result<Duration, String> {
    let start = Instant::now();
    match catch_unwind(AssertUnwindSafe(|| t(data))) {
        Ok(()) => Ok(start.elapsed()),
        Err(_) => Err(LAST_PANIC.with(|p| p.borrow().clone())),
    }
}

/// The corpus of a target: every file of its folder (an empty input when none).
fn corpus(name: &str) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(fuzz_dir().join("corpus").join(name))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read(e.path()).ok())
        .collect();
    if out.is_empty() {
        out.push(Vec::new());
    }
    out
}

/// Keeps an input that crashed or hung under a name made of its hash.
fn keep(name: &str, kind: &str, data: &[u8]) -> PathBuf {
    // FNV-1a: a stable name, so the same input is kept once.
    let hash = data.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    });
    let dir = fuzz_dir().join("artifacts").join(name);
    let path = dir.join(format!("{kind}-{hash:016x}"));
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(&path, data);
    }
    path
}

/// Fuzzes one target for `budget`; prints its line and returns the crashes.
fn fuzz(name: &str, t: Target, budget: Duration) -> u64 {
    let seed = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut pool = corpus(name);
    let seeds = pool.len();
    let (mut execs, mut crashes, mut slow) = (0_u64, 0_u64, 0_u64);
    let mut unique: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut slowest = Duration::ZERO;
    let start = Instant::now();
    let mut i = 0;
    while start.elapsed() < budget {
        // The seeds first, as they are; then mutants of the pool.
        let input = if i < seeds {
            pool[i].clone()
        } else {
            let a = rng.usize(0..pool.len());
            let b = rng.usize(0..pool.len());
            mutate(&mut rng, &pool[a], &pool[b])
        };
        i += 1;
        execs += 1;
        match run_one(t, &input) {
            Ok(took) => {
                slowest = slowest.max(took);
                if took > SLOW {
                    slow += 1;
                    let path = keep(name, "slow", &input);
                    println!("{name}: slow input ({took:?}) kept as {}", path.display());
                }
                // Drift: some mutants become seeds, so mutations stack up.
                if i > seeds && pool.len() < 4096 && rng.u8(..) == 0 {
                    pool.push(input);
                }
            }
            Err(why) => {
                crashes += 1;
                let key = why.lines().next().unwrap_or_default().to_owned();
                if let std::collections::btree_map::Entry::Vacant(entry) = unique.entry(key) {
                    let path = keep(name, "crash", &input);
                    println!("{name}: CRASH kept as {}\n  {why}", path.display());
                    entry.insert(path);
                }
            }
        }
    }
    println!(
        "{name} execs={execs} secs={} crashes={crashes} unique={} slow={slow} slowest_ms={} seed={seed}",
        start.elapsed().as_secs(),
        unique.len(),
        slowest.as_millis()
    );
    crashes
}
