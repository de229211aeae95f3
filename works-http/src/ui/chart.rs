//! The history chart of the dashboard: inline SVG drawn on the server, no JavaScript.
//! Only numbers and fixed words go into it, so it needs no escaping; colours are SVG
//! presentation attributes, which the strict CSP allows (no inline styles).

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use works_core::{HealthState, MetricHistory};

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 36.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 10.0;
/// The strip of health answers under the plot.
const BAND: f64 = 14.0;
const BOTTOM: f64 = 22.0;

fn colour(state: HealthState) -> &'static str {
    match state {
        HealthState::Healthy => "#2e7d32",
        HealthState::Degraded => "#ef8c00",
        HealthState::Critical => "#c62828",
    }
}

/// The chart of `history`: current issues and nodes online as lines, the health answer
/// as a coloured strip. None when there is nothing to draw.
pub(crate) fn history_svg(history: &MetricHistory) -> Option<String> {
    if history.samples.is_empty() {
        return None;
    }
    let span = (history.to - history.from).num_milliseconds().max(1) as f64;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BAND - BOTTOM - 4.0;
    let x = |at: DateTime<Utc>| LEFT + plot_w * ((at - history.from).num_milliseconds() as f64 / span).clamp(0.0, 1.0);
    let online = |s: &works_core::MetricSample| s.counts.nodes.get("online").copied().unwrap_or(0);
    let max = history.samples.iter().map(|s| s.counts.issues.max(online(s))).max().unwrap_or(0).max(1) as f64;
    let y = |v: u64| TOP + plot_h - plot_h * (v as f64 / max);
    let gap = (history.sample_every_secs * 2 * 1000) as f64 / span * plot_w;

    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="history-chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" aria-labelledby="history-title" xmlns="http://www.w3.org/2000/svg">"#
    );
    svg.push_str(r#"<title id="history-title">Current issues and nodes online over time, with the health answer as a coloured strip</title>"#);
    // Axes and gridlines.
    let _ = write!(svg, r##"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{:.1}" stroke="#8888" />"##, TOP + plot_h);
    let _ = write!(svg, r##"<line x1="{LEFT}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#8888" />"##, TOP + plot_h, WIDTH - RIGHT);
    let _ = write!(svg, r#"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end" fill="currentColor">{}</text>"#, LEFT - 4.0, TOP + 8.0, max as u64);
    let _ = write!(svg, r#"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end" fill="currentColor">0</text>"#, LEFT - 4.0, TOP + plot_h);
    // The answer strip: each sample holds until the next (or for two intervals at most).
    let band_y = TOP + plot_h + 4.0;
    for (i, s) in history.samples.iter().enumerate() {
        let start = x(s.at);
        let end = history.samples.get(i + 1).map(|n| x(n.at)).unwrap_or(WIDTH - RIGHT).min(start + gap).max(start + 1.0);
        let _ = write!(
            svg,
            r#"<rect x="{start:.1}" y="{band_y:.1}" width="{:.1}" height="{BAND}" fill="{}"><title>{}</title></rect>"#,
            end - start,
            colour(s.state),
            s.state.label()
        );
    }
    // The lines: a break where samples are missing for more than two intervals.
    for (class, stroke, value) in [
        ("issues", "#c62828", (|s: &works_core::MetricSample| s.counts.issues) as fn(&works_core::MetricSample) -> u64),
        ("online", "#1565c0", online as fn(&works_core::MetricSample) -> u64),
    ] {
        let mut segment: Vec<String> = Vec::new();
        let mut last: Option<f64> = None;
        let flush = |segment: &mut Vec<String>, svg: &mut String| {
            if segment.len() == 1 {
                let _ = write!(svg, r#"<circle class="line-{class}" cx="{}" r="2" fill="{stroke}" />"#, segment[0].replace(',', "\" cy=\""));
            } else if segment.len() > 1 {
                let _ = write!(svg, r#"<polyline class="line-{class}" fill="none" stroke="{stroke}" stroke-width="1.5" points="{}" />"#, segment.join(" "));
            }
            segment.clear();
        };
        for s in &history.samples {
            let px = x(s.at);
            if last.is_some_and(|l| px - l > gap) {
                flush(&mut segment, &mut svg);
            }
            segment.push(format!("{px:.1},{:.1}", y(value(s))));
            last = Some(px);
        }
        flush(&mut segment, &mut svg);
    }
    let label_y = HEIGHT - 4.0;
    let _ = write!(svg, r#"<text x="{LEFT}" y="{label_y}" font-size="10" fill="currentColor">{}</text>"#, history.from.format("%Y-%m-%d %H:%M UTC"));
    let _ = write!(
        svg,
        r#"<text x="{:.1}" y="{label_y}" font-size="10" text-anchor="end" fill="currentColor">{}</text>"#,
        WIDTH - RIGHT,
        history.to.format("%Y-%m-%d %H:%M UTC")
    );
    svg.push_str("</svg>");
    Some(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use works_core::{FleetCounts, MetricSample};

    fn sample(at: DateTime<Utc>, state: HealthState, issues: u64, online: u64) -> MetricSample {
        let mut counts = FleetCounts { issues, ..Default::default() };
        counts.nodes.insert("online".into(), online);
        MetricSample { at, state, counts }
    }

    #[test]
    fn draws_lines_and_the_answer_strip_without_scripts() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap();
        let samples = vec![
            sample(t0 + Duration::minutes(1), HealthState::Healthy, 0, 3),
            sample(t0 + Duration::minutes(2), HealthState::Degraded, 2, 2),
            sample(t0 + Duration::minutes(3), HealthState::Critical, 4, 0),
            // A gap of more than two intervals breaks the lines.
            sample(t0 + Duration::minutes(30), HealthState::Healthy, 0, 3),
        ];
        let h = MetricHistory { from: t0, to: t0 + Duration::hours(1), sample_every_secs: 60, retention_days: 7, samples };
        let svg = history_svg(&h).unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect").count(), 4);
        assert!(svg.contains(colour(HealthState::Critical)) && svg.contains(colour(HealthState::Degraded)));
        assert_eq!(svg.matches("<polyline class=\"line-issues\"").count(), 1, "{svg}");
        assert_eq!(svg.matches("<circle class=\"line-issues\"").count(), 1, "{svg}");
        // The highest value sits at the top of the plot.
        assert!(svg.contains(&format!(",{TOP:.1}")), "{svg}");
        assert!(!svg.contains("<script") && !svg.contains("style="));
        let empty = MetricHistory { samples: vec![], ..h };
        assert_eq!(history_svg(&empty), None);
    }
}
