//! Medians and spreads for the benchmarks, and how their reports write them.

#[derive(Clone, Copy, Debug)]
pub struct Stats {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Stats {
    /// `None` for no samples.
    pub fn of(mut xs: Vec<f64>) -> Option<Stats> {
        if xs.is_empty() {
            return None;
        }
        xs.sort_by(f64::total_cmp);
        let n = xs.len();
        let median = if n % 2 == 1 {
            xs[n / 2]
        } else {
            (xs[n / 2 - 1] + xs[n / 2]) / 2.0
        };
        Some(Stats {
            median,
            min: xs[0],
            max: xs[n - 1],
        })
    }
}

/// "4.12 (3.90–4.30)": a median and its spread, scaled by `unit`; "—" without samples.
pub fn spread(s: impl Into<Option<Stats>>, unit: f64, decimals: usize) -> String {
    let Some(s) = s.into() else {
        return "—".into();
    };
    let f = |x: f64| format!("{:.*}", decimals, x / unit);
    format!("{} ({}–{})", f(s.median), f(s.min), f(s.max))
}

/// "1.23× (1.20–1.30)": a ratio and its spread; "—" without samples.
pub fn ratio(s: impl Into<Option<Stats>>) -> String {
    match s.into() {
        Some(s) => format!("{:.2}× ({:.2}–{:.2})", s.median, s.min, s.max),
        None => "—".into(),
    }
}
