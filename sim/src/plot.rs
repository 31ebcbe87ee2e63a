//! SVG plots of a report: delivery ratio over time, the latency CDF, and store occupancy over
//! time.
//!
//! Drawn with `plotters`' SVG backend alone: text is written as SVG `<text>` elements and
//! measured with plotters' built-in estimate, so no font files, fontconfig or bitmap codecs are
//! needed, and the same report always gives the same bytes.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::metrics::Report;

/// A plot that could not be drawn or written.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct PlotError {
    /// The file being written.
    pub file: String,
    /// What went wrong.
    pub message: String,
}

/// Width and height of every plot, in SVG pixels.
const SIZE: (u32, u32) = (720, 450);

/// Writes `delivery.svg`, `latency_cdf.svg` and `occupancy.svg` into `dir` and returns their
/// paths. A plot without data (no messages, no deliveries) is drawn with empty axes, so a
/// directory of results always has the same files.
pub fn write_all(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let title = &report.run.scenario;
    let delivery: Vec<(f64, f64)> = report
        .samples
        .iter()
        .filter(|s| s.created > 0)
        .map(|s| (s.time / 3600.0, s.delivered as f64 / s.created as f64))
        .collect();
    let cdf: Vec<(f64, f64)> = {
        let n = report.latencies.len() as f64;
        report
            .latencies
            .iter()
            .enumerate()
            .map(|(i, l)| (l / 60.0, (i + 1) as f64 / n))
            .collect()
    };
    let total: Vec<(f64, f64)> = report
        .samples
        .iter()
        .map(|s| (s.time / 3600.0, s.stored_bytes as f64 / 1e6))
        .collect();
    let fullest: Vec<(f64, f64)> = report
        .samples
        .iter()
        .map(|s| (s.time / 3600.0, s.max_host_bytes as f64 / 1e6))
        .collect();
    let hours = report.run.sim_time / 3600.0;
    let plots = [
        Chart {
            file: "delivery.svg",
            caption: format!("{title}: delivery ratio over time"),
            x: "simulated time (h)",
            y: "delivered / created (cumulative)",
            x_max: hours,
            y_max: 1.0,
            series: vec![("delivery ratio", delivery, BLUE)],
        },
        Chart {
            file: "latency_cdf.svg",
            caption: format!("{title}: delivery latency CDF"),
            x: "latency (min)",
            y: "fraction of deliveries",
            x_max: cdf.last().map_or(1.0, |p| p.0),
            y_max: 1.0,
            series: vec![("latency", cdf, BLUE)],
        },
        Chart {
            file: "occupancy.svg",
            caption: format!("{title}: store occupancy"),
            x: "simulated time (h)",
            y: "stored (MB)",
            x_max: hours,
            y_max: total.iter().map(|p| p.1).fold(0.0, f64::max),
            series: vec![("all hosts", total, BLUE), ("fullest host", fullest, RED)],
        },
    ];
    plots.iter().map(|c| c.draw(dir)).collect()
}

/// One line of a chart: its legend, its points, its colour.
type Line = (&'static str, Vec<(f64, f64)>, RGBColor);

/// One line chart.
struct Chart {
    file: &'static str,
    caption: String,
    x: &'static str,
    y: &'static str,
    x_max: f64,
    y_max: f64,
    series: Vec<Line>,
}

impl Chart {
    fn draw(&self, dir: &Path) -> Result<PathBuf, PlotError> {
        let path = dir.join(self.file);
        let fail = |e: &dyn std::fmt::Display| PlotError {
            file: path.display().to_string(),
            message: e.to_string(),
        };
        // Axes need a range of positive width even when there is nothing to show.
        let x_max = if self.x_max > 0.0 { self.x_max } else { 1.0 };
        let y_max = if self.y_max > 0.0 {
            self.y_max * 1.05
        } else {
            1.0
        };
        {
            let root = SVGBackend::new(&path, SIZE).into_drawing_area();
            root.fill(&WHITE).map_err(|e| fail(&e))?;
            let mut chart = ChartBuilder::on(&root)
                .caption(&self.caption, ("sans-serif", 18))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d(0.0..x_max, 0.0..y_max)
                .map_err(|e| fail(&e))?;
            chart
                .configure_mesh()
                .x_desc(self.x)
                .y_desc(self.y)
                .draw()
                .map_err(|e| fail(&e))?;
            for (label, points, color) in &self.series {
                let color = *color;
                chart
                    .draw_series(LineSeries::new(points.iter().copied(), color))
                    .map_err(|e| fail(&e))?
                    .label(*label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
            }
            chart
                .configure_series_labels()
                .background_style(WHITE)
                .border_style(BLACK)
                .position(SeriesLabelPosition::LowerRight)
                .draw()
                .map_err(|e| fail(&e))?;
            root.present().map_err(|e| fail(&e))?;
        }
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Metrics, RunInfo, Sample};

    fn report(deliveries: &[f64]) -> Report {
        let mut m = Metrics::default();
        for (i, l) in deliveries.iter().enumerate() {
            m.creation(2);
            m.delivery(*l, 1, 2);
            m.sample(Sample {
                time: 600.0 * i as f64,
                stored_bundles: i as u64,
                stored_bytes: 1000 * i as u64,
                max_host_bytes: 400 * i as u64,
                created: i as u64 + 1,
                delivered: i as u64,
            });
        }
        m.report(RunInfo {
            tool: "t".into(),
            scenario: "plots".into(),
            seed: 1,
            hosts: 2,
            sim_time: 3600.0,
            warmup: 0.0,
            events: 1,
            trace_hash: "0".into(),
        })
    }

    #[test]
    fn three_svg_plots_are_written_with_their_titles_and_lines() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_all(&report(&[30.0, 90.0, 60.0, 300.0]), dir.path()).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["delivery.svg", "latency_cdf.svg", "occupancy.svg"]);
        let cdf = std::fs::read_to_string(&files[1]).unwrap();
        assert!(cdf.starts_with("<svg"), "{}", &cdf[..40]);
        assert!(cdf.contains("plots: delivery latency CDF"));
        assert!(cdf.contains("<polyline"), "the CDF is drawn as a line");
        let occupancy = std::fs::read_to_string(&files[2]).unwrap();
        assert!(occupancy.contains("fullest host"));
    }

    #[test]
    fn a_report_without_data_still_gets_its_plots() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_all(&report(&[]), dir.path()).unwrap();
        assert_eq!(files.len(), 3);
        assert!(files.iter().all(|f| f.exists()));
    }
}
