//! Loop-point analysis of a 30 s, 32 kHz mono clip (what MusicGPT writes), release build.
//! Target: under 100 ms on one core. Also the bounds for hostile files: ten minutes at 48 kHz
//! and 30 s at 384 kHz (only the first 120 s are analysed, at no more than 48 kHz).

use criterion::{criterion_group, criterion_main, Criterion};
use infini_loop_engine::analysis::{analyze, AnalysisOptions};
use infini_loop_engine::clip::Clip;
use infini_loop_engine::stretch::stretch_to_frames;
use std::hint::black_box;

/// A two-bar groove at 118 BPM with a bass line and noise hats, tiled over `seconds`.
fn groove(rate: u32, seconds: usize) -> Clip {
    let beat = (60.0 / 118.0 * f64::from(rate)) as usize;
    let period = beat * 8;
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    };
    let one: Vec<f32> = (0..period)
        .map(|i| {
            let b = i / beat;
            let t = (i % beat) as f32 / rate as f32;
            let bass = 55.0 * [1.0f32, 1.2, 1.5, 1.33, 1.0, 0.89, 1.12, 1.5][b];
            0.5 * (std::f32::consts::TAU * 50.0 * t).sin()
                * (-t * 20.0).exp()
                * ((b % 2 == 0) as u8 as f32)
                + 0.1 * noise() * (-t * 40.0).exp()
                + 0.3 * (std::f32::consts::TAU * bass * t).sin()
        })
        .collect();
    let samples = (0..rate as usize * seconds)
        .map(|i| one[i % period])
        .collect();
    Clip {
        sample_rate: rate,
        channels: vec![samples],
    }
}

fn bench(c: &mut Criterion) {
    let options = AnalysisOptions::default();
    let clip = groove(32_000, 30);
    c.bench_function("analyze 30 s at 32 kHz mono", |b| {
        b.iter(|| analyze(black_box(&clip), &options))
    });
    let mut bounds = c.benchmark_group("bounds");
    bounds.sample_size(10);
    for (rate, seconds) in [(48_000, 600), (384_000, 30)] {
        let clip = groove(rate, seconds);
        bounds.bench_function(format!("analyze {seconds} s at {rate} Hz mono"), |b| {
            b.iter(|| analyze(black_box(&clip), &options))
        });
    }
    bounds.finish();
    // Stretching a whole 30 s clip at 48 kHz stereo to 120 BPM's bars from 97 BPM's, as the
    // worker does when the host's tempo is not the clip's (target: under a second).
    let mono = groove(48_000, 30);
    let stereo = Clip {
        sample_rate: 48_000,
        channels: vec![mono.channels[0].clone(), mono.channels[0].clone()],
    };
    let frames = (stereo.frames() as f64 * 97.0 / 120.0) as usize;
    let mut stretch = c.benchmark_group("stretch");
    stretch.sample_size(10);
    stretch.bench_function("stretch 30 s at 48 kHz stereo by 0.81", |b| {
        b.iter(|| stretch_to_frames(black_box(&stereo), frames))
    });
    stretch.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
