//! Loop-point analysis of a 30 s, 32 kHz mono clip (what MusicGPT writes), release build.
//! Target: under 100 ms on one core. Also the bounds for hostile files: ten minutes at 48 kHz
//! and 30 s at 384 kHz (only the first 120 s are analysed, at no more than 48 kHz).

use criterion::{criterion_group, criterion_main, Criterion};
use infini_loop_engine::analysis::{analyze, AnalysisOptions};
use infini_loop_engine::clip::Clip;
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
}

criterion_group!(benches, bench);
criterion_main!(benches);
