//! Infini Loop's loop search on real music (`cargo xtask real-music` fetches the set; `cargo
//! xtask test` does so before this tier). For every clip, what a musician would accept:
//!
//! - a loop of at least two bars, a whole number of bars at the tempo heard or at twice it
//!   (tempo estimates make octave errors);
//! - when the clip holds a loop whose seam cannot be heard (by our own measure, searched for
//!   exhaustively over the beat grid), an inaudible loop at least as long as the longest such;
//! - when it holds none (music that never repeats itself), a seam no more than 2 dB worse than
//!   the best the grid has, and a level step no more than 1 dB past the best's (1.5 dB at
//!   least).

use infini_loop_engine::analysis::{analyze, AnalysisOptions};
use integration_tests::real_music::{clips, grid_search, sources_dir, SeamMeasure, SeamMeter};

fn worse(m: SeamMeasure) -> f64 {
    m.spectrum_db.max(m.before_db)
}

#[test]
fn every_real_clip_loops_as_long_as_its_seams_allow() {
    let clips = clips(&sources_dir()).unwrap_or_else(|e| panic!("{e}"));
    assert!(clips.len() >= 16, "the set has {} clips", clips.len());
    let meter = SeamMeter::default();
    let mut failures = Vec::new();
    for real in &clips {
        let label = &real.label;
        let report = match analyze(&real.clip, &AnalysisOptions::default()) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{label}: {e}"));
                continue;
            }
        };
        let (Some(best), Some(bpm)) = (report.best(), report.bpm) else {
            failures.push(format!("{label}: no loop or no tempo"));
            continue;
        };
        let x = &real.clip.channels[0];
        let beats =
            (best.end - best.start) as f64 / (60.0 / bpm * f64::from(real.clip.sample_rate));
        // Two bars, at twice the tempo when the estimate is that slow.
        let fewest = if bpm < 80.0 { 4.0 } else { 8.0 };
        // Whole to within the tempo estimate's precision (0.4 %).
        let off_grid = (beats - 2.0 * (beats / 2.0).round()).abs();
        if beats < fewest - 0.1 || off_grid > (0.1f64).max(0.004 * beats) {
            failures.push(format!(
                "{label}: {beats:.2} beats at {bpm:.1} BPM is not two or more whole bars"
            ));
        }
        let Some(seam) = meter.seam(x, best.start, best.end) else {
            failures.push(format!(
                "{label}: the loop leaves no room to measure its seam"
            ));
            continue;
        };
        let (min_beats, step) = if bpm < 80.0 { (4, 2) } else { (8, 4) };
        let (grid_best, grid_longest) = grid_search(x, bpm, report.beat_offset, min_beats, step);
        let seconds = |a: usize, b: usize| (b - a) as f64 / f64::from(real.clip.sample_rate);
        match grid_longest {
            Some(longest) => {
                if !seam.inaudible() {
                    failures.push(format!(
                        "{label}: the seam can be heard ({seam:?}) though the clip has an \
                         inaudible loop of {:.2} s",
                        seconds(longest.start, longest.end)
                    ));
                }
                let (chosen, wanted) = (
                    seconds(best.start, best.end),
                    seconds(longest.start, longest.end),
                );
                if chosen < wanted - 0.05 {
                    failures.push(format!(
                        "{label}: a loop of {chosen:.2} s where {wanted:.2} s loops inaudibly"
                    ));
                }
            }
            None => {
                let Some(grid_best) = grid_best else {
                    failures.push(format!("{label}: nothing on the beat grid to compare with"));
                    continue;
                };
                let level_allowed = (grid_best.seam.level_db.abs() + 1.0).max(1.5);
                if worse(seam) > worse(grid_best.seam) + 2.0 || seam.level_db.abs() > level_allowed
                {
                    failures.push(format!(
                        "{label}: seam {seam:?}, the grid's best {:?}",
                        grid_best.seam
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
