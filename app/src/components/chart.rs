//! A line chart as SVG: axes with units, one line per series, the alarm threshold as a dashed
//! line. Server-rendered (readable without JavaScript); the `LiveRegions` island shows the values
//! at the nearest point in time under the mouse, from the `data-*` the chart carries.

use crate::model::Chart;
use leptos::prelude::*;

pub const W: f64 = 560.0;
pub const H: f64 = 190.0;
pub const LEFT: f64 = 52.0;
pub const RIGHT: f64 = 10.0;
pub const TOP: f64 = 10.0;
pub const BOTTOM: f64 = 24.0;

/// A value with at most 3 significant decimals, short units.
pub fn fmt_value(v: f64) -> String {
    let a = v.abs();
    if a >= 1_000_000.0 {
        format!("{:.1}M", v / 1_000_000.0)
    } else if a >= 10_000.0 {
        format!("{:.1}k", v / 1000.0)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

use crate::model::time::hhmm;

/// The scales of a chart: time and value ranges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub t0: i64,
    pub t1: i64,
    pub vmax: f64,
}

impl Scale {
    pub fn of(chart: &Chart) -> Option<Scale> {
        let points = chart.series.iter().flat_map(|s| s.points.iter());
        let t0 = points.clone().map(|p| p.0).min()?;
        let t1 = points.clone().map(|p| p.0).max()?;
        let vmax = points.map(|p| p.1).fold(chart.threshold.unwrap_or(0.0), f64::max);
        let vmax = if vmax <= 0.0 { 1.0 } else { vmax * 1.1 };
        Some(Scale {
            t0,
            t1: t1.max(t0 + 1),
            vmax,
        })
    }
    pub fn x(&self, t: i64) -> f64 {
        LEFT + (t - self.t0) as f64 / (self.t1 - self.t0) as f64 * (W - LEFT - RIGHT)
    }
    pub fn y(&self, v: f64) -> f64 {
        TOP + (1.0 - v / self.vmax) * (H - TOP - BOTTOM)
    }
    pub fn t_at(&self, x: f64) -> i64 {
        self.t0 + (((x - LEFT) / (W - LEFT - RIGHT)).clamp(0.0, 1.0) * (self.t1 - self.t0) as f64) as i64
    }
}

/// `marks`: deployments (time, what) drawn as dashed vertical lines where they fall in range.
#[component]
pub fn LineChart(chart: Chart, #[prop(optional)] marks: Vec<(i64, String)>) -> impl IntoView {
    let title = chart.title.clone();
    let unit = chart.unit.clone();
    let Some(scale) = Scale::of(&chart) else {
        let note = chart
            .note
            .clone()
            .unwrap_or_else(|| "no data points in this range".into());
        return view! {
            <figure class="chart" data-testid="chart">
                <figcaption>{title}" "<span class="muted">{format!("({unit})")}</span></figcaption>
                <p class="chart-empty">{note}</p>
            </figure>
        }
        .into_any();
    };
    let long = scale.t1 - scale.t0 > 24 * 3_600_000;
    let ticks = (0..=4)
        .map(|i| {
            let v = scale.vmax * f64::from(i) / 4.0;
            let y = scale.y(v);
            view! {
                <line x1=LEFT x2=W - RIGHT y1=y y2=y class="grid-line"></line>
                <text x=LEFT - 4.0 y=y + 4.0 class="tick" text-anchor="end">{fmt_value(v)}</text>
            }
        })
        .collect_view();
    let lines = chart
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let d = s
                .points
                .iter()
                .enumerate()
                .map(|(j, (t, v))| {
                    format!(
                        "{}{:.1},{:.1}",
                        if j == 0 { "M" } else { "L" },
                        scale.x(*t),
                        scale.y(*v)
                    )
                })
                .collect::<String>();
            // The points for the hover readout, finite values only (as drawn).
            let points = s
                .points
                .iter()
                .filter(|(_, v)| v.is_finite())
                .map(|(t, v)| format!("{t},{v}"))
                .collect::<Vec<_>>()
                .join(" ");
            view! { <path d=d class=format!("series s{}", i % 4) data-label=s.label.clone() data-points=points></path> }
        })
        .collect_view();
    let threshold = chart.threshold.map(|t| {
        let y = scale.y(t);
        view! {
            <line x1=LEFT x2=W - RIGHT y1=y y2=y class="threshold" data-testid="threshold"></line>
            <text x=W - RIGHT y=y - 3.0 class="threshold-label" text-anchor="end">{format!("alarm {}", fmt_value(t))}</text>
        }
    });
    let legend = chart
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let last = s.points.last().map(|p| fmt_value(p.1)).unwrap_or_else(|| "-".into());
            view! { <span class=format!("legend s{}", i % 4)>{format!("{} {last}", s.label)}</span> }
        })
        .collect_view();
    let note = chart.note.clone();
    let marks = marks
        .into_iter()
        .filter(|(t, _)| (scale.t0..=scale.t1).contains(t))
        .map(|(t, what)| {
            let x = scale.x(t);
            view! {
                <line x1=x x2=x y1=TOP y2=H - BOTTOM class="deploy-mark" data-testid="deploy-mark">
                    <title>{format!("{} {what}", hhmm(t, long))}</title>
                </line>
            }
        })
        .collect_view();
    view! {
        <figure class="chart" data-testid="chart">
            <figcaption>{title}" "<span class="muted">{format!("({unit})")}</span></figcaption>
            <svg
                viewBox=format!("0 0 {W} {H}")
                width=W
                height=H
                role="img"
                data-hover=""
                data-t0=scale.t0
                data-t1=scale.t1
                data-long=if long { "1" } else { "0" }
            >
                {ticks}
                <line x1=LEFT x2=LEFT y1=TOP y2=H - BOTTOM class="axis"></line>
                <line x1=LEFT x2=W - RIGHT y1=H - BOTTOM y2=H - BOTTOM class="axis"></line>
                <text x=LEFT y=H - 6.0 class="tick">{hhmm(scale.t0, long)}</text>
                <text x=W - RIGHT y=H - 6.0 class="tick" text-anchor="end">{hhmm(scale.t1, long)}</text>
                {marks}
                {lines}
                {threshold}
            </svg>
            <div class="legend-row">{legend}</div>
            {note.map(|n| view! { <p class="muted">{n}</p> })}
        </figure>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Series;

    #[test]
    fn scales_fit_the_data_and_the_threshold() -> Result<(), &'static str> {
        let chart = Chart {
            title: "t".into(),
            unit: "ms".into(),
            series: vec![Series {
                label: "p95".into(),
                key: None,
                points: vec![(0, 100.0), (60_000, 300.0)],
            }],
            threshold: Some(500.0),
            note: None,
            totals: vec![],
        };
        let s = Scale::of(&chart).ok_or("scale")?;
        assert_eq!((s.t0, s.t1), (0, 60_000));
        assert!((s.vmax - 550.0).abs() < 1e-9, "room above the threshold line");
        assert_eq!(s.x(0), LEFT);
        assert_eq!(s.x(60_000), W - RIGHT);
        assert_eq!(s.y(0.0), H - BOTTOM);
        assert_eq!(s.t_at(LEFT - 20.0), 0);
        assert_eq!(fmt_value(1234.0), "1234");
        assert_eq!(fmt_value(0.123), "0.12");
        assert_eq!(fmt_value(25_000.0), "25.0k");
        let empty = Chart {
            series: vec![],
            ..chart
        };
        assert!(Scale::of(&empty).is_none());
        Ok(())
    }
}
