//! The loop search on real music (`integration_tests::real_music`): per clip, the loop chosen,
//! its seam by our own measure, the analysis time, and what an exhaustive search of the beat
//! grid by that measure finds (the best seam there is, the longest inaudible loop).
//!
//! `cargo xtask real-music && cargo bench -p integration-tests --bench real_music`

use infini_loop_engine::analysis::{analyze, AnalysisOptions};
use integration_tests::real_music::{clips, grid_search, sources_dir, SeamMeter, RATE};
use std::time::Instant;

fn main() {
    let clips = match clips(&sources_dir()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let meter = SeamMeter::default();
    println!("| clip | tempo | loop | bars | share of clip | spectrum after / before | level | waveform | analysis | best seam on the grid | longest inaudible on the grid |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let secs = |frames: usize| frames as f64 / f64::from(RATE);
    for real in clips {
        let started = Instant::now();
        let report = analyze(&real.clip, &AnalysisOptions::default());
        let took = started.elapsed();
        let label = real.label;
        let report = match report {
            Ok(r) => r,
            Err(e) => {
                println!("| {label} | {e} |");
                continue;
            }
        };
        let Some(best) = report.best() else {
            println!("| {label} | no loop |");
            continue;
        };
        let x = &real.clip.channels[0];
        let seconds = secs(best.end - best.start);
        let bars = report.bpm.map(|bpm| seconds * bpm / 60.0 / 4.0);
        let Some(seam) = meter.seam(x, best.start, best.end) else {
            println!("| {label} | the loop ends too near the clip's end to measure |");
            continue;
        };
        let grid = report.bpm.map(|bpm| {
            let (min_beats, step) = if bpm < 80.0 { (4, 2) } else { (8, 4) };
            grid_search(x, bpm, report.beat_offset, min_beats, step)
        });
        let (grid_best, grid_longest) = grid.unwrap_or((None, None));
        println!(
            "| {label} | {} | {seconds:.2} s | {} | {:.0} % | {:.1} / {:.1} dB | {:+.1} dB | {:.1} dB | {} ms | {} | {} |",
            report.bpm.map_or("–".into(), |b| format!("{b:.1}")),
            bars.map_or("–".into(), |b| format!("{b:.2}")),
            100.0 * seconds / real.clip.seconds(),
            seam.spectrum_db,
            seam.before_db,
            seam.level_db,
            seam.waveform_db,
            took.as_millis(),
            grid_best.map_or("–".into(), |g| format!(
                "{:.1} / {:.1} dB",
                g.seam.spectrum_db, g.seam.before_db
            )),
            grid_longest.map_or("none".into(), |g| format!("{:.2} s", secs(g.end - g.start))),
        );
    }
}
