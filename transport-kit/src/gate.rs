//! What the user sees of a retried answer: the text already shown is not shown again.

use talaria_sdk::Event;

use crate::call::Call;

/// Keeps a retried response from repeating text the user has already seen: deltas are
/// held back while the new answer retraces the old one, then flow again past it.
#[derive(Debug, Default)]
pub struct ReplayGate {
    /// Text shown so far over all attempts of this call.
    shown: String,
    /// Text of the current attempt.
    current: String,
    /// The current attempt said something else than what was shown: stop comparing.
    diverged: bool,
}

/// What to do with a text delta.
#[derive(Debug, Clone, PartialEq)]
pub enum Gate {
    /// Show this text.
    Show(String),
    /// The retried answer differs from the one shown: say so, then show this text.
    Restart(String),
    Hold,
}

impl ReplayGate {
    /// A new attempt begins.
    pub fn restart(&mut self) {
        self.current.clear();
        self.diverged = false;
    }

    pub fn delta(&mut self, delta: &str) -> Gate {
        self.current.push_str(delta);
        if self.diverged {
            self.shown.push_str(delta);
            return Gate::Show(delta.to_owned());
        }
        if self.shown.starts_with(self.current.as_str()) {
            return Gate::Hold;
        }
        if self.current.starts_with(self.shown.as_str()) {
            let fresh = self.current[self.shown.len()..].to_owned();
            self.shown = self.current.clone();
            return Gate::Show(fresh);
        }
        self.diverged = true;
        self.shown = self.current.clone();
        Gate::Restart(self.current.clone())
    }
}

/// The text and reasoning gates of one call, emitting what passes them.
#[derive(Debug, Default)]
pub struct Gates {
    text: ReplayGate,
    reasoning: ReplayGate,
}

impl Gates {
    /// A new attempt begins.
    pub fn restart(&mut self) {
        self.text.restart();
        self.reasoning.restart();
    }

    /// A text delta of the current attempt: shown unless it repeats what was shown.
    pub fn text<C: Call + ?Sized>(&mut self, call: &C, delta: &str) {
        match self.text.delta(delta) {
            Gate::Show(text) if !text.is_empty() => call.emit(&Event::TextDelta { delta: text }),
            Gate::Restart(text) => {
                call.emit(&Event::Warning {
                    message: "The connection dropped mid-answer; the retried answer differs and starts over here.".into(),
                });
                call.emit(&Event::TextDelta { delta: text });
            }
            _ => {}
        }
    }

    /// A reasoning delta of the current attempt.
    pub fn reasoning<C: Call + ?Sized>(&mut self, call: &C, delta: &str) {
        match self.reasoning.delta(delta) {
            Gate::Show(text) | Gate::Restart(text) if !text.is_empty() => {
                call.emit(&Event::ReasoningDelta { delta: text })
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_does_not_repeat_text_already_shown() {
        let mut g = ReplayGate::default();
        assert_eq!(g.delta("Hello "), Gate::Show("Hello ".into()));
        assert_eq!(g.delta("wor"), Gate::Show("wor".into()));
        g.restart();
        assert_eq!(g.delta("Hel"), Gate::Hold);
        assert_eq!(g.delta("lo wo"), Gate::Hold);
        assert_eq!(g.delta("rld!"), Gate::Show("ld!".into()));
        g.restart();
        assert_eq!(g.delta("Hi"), Gate::Restart("Hi".into()));
        assert_eq!(g.delta(" there"), Gate::Show(" there".into()));
    }
}
