//! The loop search on real music (`integration_tests::real_music`): per clip, the loop chosen,
//! its seam by our own measure, the analysis time, and what an exhaustive search of the beat
//! grid by that measure finds (the best seam there is, the longest inaudible loop).
//!
//! `cargo xtask real-music && cargo bench -p integration-tests --bench real_music`

use infini_loop_engine::analysis::{analyze, AnalysisOptions};
use integration_tests::real_music::{clips_or_exit, grid_search, SeamMeter, RATE};
use std::time::Instant;

fn main() {
    let clips = clips_or_exit();
    let meter = SeamMeter::default();
    // The clips as files, for PyMusicLooper (compare/compare_real_music.py).
    if let Some(dir) = std::env::var_os("REAL_MUSIC_WRITE") {
        let dir = std::path::PathBuf::from(dir);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            eprintln!("{}: {e}", dir.display());
            std::process::exit(1);
        }
        for real in &clips {
            integration_tests::write_mono_wav(
                &dir.join(format!("{}.wav", real.label)),
                RATE,
                real.clip.channels[0].iter().copied(),
            );
        }
    }
    // PyMusicLooper's loops of the same clips, when given: measured the same way.
    let theirs: Option<serde_json::Value> = std::env::var_os("PYMUSICLOOPER_JSON")
        .and_then(|p| std::fs::read(p).ok())
        .and_then(|b| serde_json::from_slice(&b).ok());
    if let Some(theirs) = &theirs {
        println!("PyMusicLooper:\n");
        println!("| clip | loop | share of clip | spectrum after / before | level | time |");
        println!("| --- | --- | --- | --- | --- | --- |");
        for real in &clips {
            let x = &real.clip.channels[0];
            let found = &theirs[&real.label];
            let (Some(start), Some(end)) = (found[0].as_u64(), found[1].as_u64()) else {
                println!("| {} | no loop |", real.label);
                continue;
            };
            let (start, end) = (start as usize, end as usize);
            let seconds = (end.saturating_sub(start)) as f64 / f64::from(RATE);
            match meter.seam(x, start, end) {
                Some(seam) => println!(
                    "| {} | {seconds:.2} s | {:.0} % | {:.1} / {:.1} dB | {:+.1} dB | {:.0} ms |",
                    real.label,
                    100.0 * seconds / real.clip.seconds(),
                    seam.spectrum_db,
                    seam.before_db,
                    seam.level_db,
                    found[2].as_f64().unwrap_or(f64::NAN) * 1000.0
                ),
                None => println!(
                    "| {} | {seconds:.2} s | too near an edge to measure |",
                    real.label
                ),
            }
        }
        println!("\ninfini-loop:\n");
    }
    println!("| clip | tempo | loop | bars | share of clip | spectrum after / before | level | waveform | analysis | best seam on the grid | longest inaudible on the grid |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let secs = |frames: usize| frames as f64 / f64::from(RATE);
    for real in clips.iter() {
        let started = Instant::now();
        let report = analyze(&real.clip, &AnalysisOptions::default());
        let took = started.elapsed();
        let label = &real.label;
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
