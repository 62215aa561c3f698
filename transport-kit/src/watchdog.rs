//! The two stream watchdogs (reference §8): time to the first event, and the longest
//! silence between events once the stream has started.

use std::time::Duration;

use tokio::time::Instant;

use crate::classify::Problem;

#[derive(Debug)]
pub struct Watchdog {
    first: Duration,
    idle: Duration,
    deadline: Instant,
    started: bool,
}

impl Watchdog {
    /// Arms the first-event timer; call when the request is sent.
    pub fn start(first: Duration, idle: Duration) -> Self {
        Watchdog {
            first,
            idle,
            deadline: far(Instant::now(), first),
            started: false,
        }
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// An event arrived: from now on only the idle gap counts.
    pub fn alive(&mut self) {
        self.started = true;
        self.deadline = far(Instant::now(), self.idle);
    }

    /// The problem to report when the deadline passes.
    pub fn tripped(&self) -> Problem {
        if self.started {
            Problem::IdleTimeout(self.idle)
        } else {
            Problem::FirstByteTimeout(self.first)
        }
    }
}

/// `now + d`, saturating: a "disabled" watchdog is a very long one.
fn far(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(365 * 86_400))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_event_switches_to_the_idle_limit() {
        let mut w = Watchdog::start(Duration::from_secs(120), Duration::from_secs(300));
        assert_eq!(
            w.tripped(),
            Problem::FirstByteTimeout(Duration::from_secs(120))
        );
        let before = w.deadline();
        w.alive();
        assert!(w.deadline() > before);
        assert_eq!(w.tripped(), Problem::IdleTimeout(Duration::from_secs(300)));
        let huge = Watchdog::start(Duration::MAX, Duration::MAX);
        assert!(huge.deadline() > Instant::now());
    }
}
