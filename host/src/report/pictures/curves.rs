//! Learning curves: training loss, training and evaluation accuracy per epoch.

use anyhow::Result;
use plotters::prelude::*;

use super::{svg_error, FONT};
use crate::train::EpochMetrics;

/// Learning curves as SVG: training loss on the left; training and `eval_name`
/// (`test` or `validation`) accuracy on the right, one point per epoch.
pub fn curves_svg(history: &[EpochMetrics], eval_name: &str) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (960, 400)).into_drawing_area();
        root.fill(&WHITE).map_err(svg_error)?;
        let (left, right) = root.split_horizontally(480);
        let epochs = history.len() as u32;
        let x_range = 0u32..epochs + 1;
        let x_labels = (epochs as usize + 1).min(11);

        let max_loss = history
            .iter()
            .map(|m| m.train_loss)
            .fold(0.0f64, f64::max)
            .max(1e-3)
            * 1.1;
        let mut chart = ChartBuilder::on(&left)
            .caption("training loss", (FONT, 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(x_range.clone(), 0f64..max_loss)
            .map_err(svg_error)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("cross-entropy")
            .x_labels(x_labels)
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(svg_error)?;
        let loss: Vec<(u32, f64)> = history
            .iter()
            .map(|m| (m.epoch as u32, m.train_loss))
            .collect();
        draw_series(&mut chart, &loss, RED, "train loss")?;

        let percent = |a: f64| a * 100.0;
        let lowest = history
            .iter()
            .flat_map(|m| [m.train_accuracy, m.eval_accuracy])
            .map(percent)
            .fold(100.0f64, f64::min);
        let y_min = ((lowest - 1.0) / 5.0).floor().max(0.0) * 5.0;
        let mut chart = ChartBuilder::on(&right)
            .caption("accuracy (%)", (FONT, 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(x_range, y_min..100.0)
            .map_err(svg_error)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("% correct")
            .x_labels(x_labels)
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(svg_error)?;
        let train: Vec<(u32, f64)> = history
            .iter()
            .map(|m| (m.epoch as u32, percent(m.train_accuracy)))
            .collect();
        let eval: Vec<(u32, f64)> = history
            .iter()
            .map(|m| (m.epoch as u32, percent(m.eval_accuracy)))
            .collect();
        draw_series(&mut chart, &train, RED, "train")?;
        draw_series(&mut chart, &eval, BLUE, eval_name)?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font((FONT, 15))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()
            .map_err(svg_error)?;
        root.present().map_err(svg_error)?;
    }
    Ok(svg)
}

type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordu32, plotters::coord::types::RangedCoordf64>,
>;

fn draw_series(
    chart: &mut Chart<'_, '_>,
    points: &[(u32, f64)],
    color: RGBColor,
    label: &str,
) -> Result<()> {
    chart
        .draw_series(LineSeries::new(
            points.iter().copied(),
            color.stroke_width(2),
        ))
        .map_err(svg_error)?
        .label(label)
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    chart
        .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
        .map_err(svg_error)?;
    Ok(())
}
