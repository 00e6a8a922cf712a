//! The cost of one `process()` call of Infini Loop: the trigger, the loop player crossing
//! seams and clips, the fades, the gain and the spectrum tap (the editor open). Stereo blocks
//! at 48 kHz; the real-time budget of a block is `samples / 48000` seconds.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use infini_loop::{InfiniLoopParams, LoopBlock, LoopCore, LoopLink, SpectrumTap};
use infini_loop_engine::clip::Clip;
use infini_loop_engine::looper::{looper, BeatClock, LoopGrid, PreparedLoop};
use std::hint::black_box;
use std::sync::Arc;

const SAMPLE_RATE: f32 = 48_000.0;

/// Two seconds of a chord, looped over 1.5 s: seams every 72 000 samples.
fn chord_loop() -> PreparedLoop {
    let frames = 2 * SAMPLE_RATE as usize;
    let channel: Vec<f32> = (0..frames)
        .map(|i| {
            let t = i as f32 / SAMPLE_RATE;
            [220.0f32, 277.2, 329.6]
                .iter()
                .map(|f| 0.2 * (std::f32::consts::TAU * f * t).sin())
                .sum()
        })
        .collect();
    PreparedLoop {
        clip: Arc::new(Clip {
            sample_rate: SAMPLE_RATE as u32,
            channels: vec![channel.clone(), channel],
        }),
        start: 12_000,
        end: 84_000,
        label: "chord".into(),
        id: 1,
        // Locked to the host (Sync = Stretch, the default): 1.5 s is three beats at 120 BPM.
        grid: Some(LoopGrid {
            bpm: 120.0,
            beats: 3.0,
        }),
    }
}

fn bench_process(c: &mut Criterion) {
    let params = Arc::new(InfiniLoopParams::default());
    // A host sets the smoothers to the parameters' values on activation; so does the bench.
    params.gain.smoothed.reset(params.gain.value());
    let link = LoopLink::default();
    let (player, mut queue, mut returned) = looper(params.looper_settings(SAMPLE_RATE), 4);
    let (tap, _spectrum) = SpectrumTap::new();
    let mut core = LoopCore::new(player, SAMPLE_RATE, Some(tap));
    // The audio is shared: queuing another repeat of it costs a box, not a copy.
    let chord = chord_loop();
    let mut group = c.benchmark_group("loop_process");
    for samples in [64usize, 512] {
        let mut left = vec![0f32; samples];
        let mut right = vec![0f32; samples];
        let mut beat = 0.0;
        let bps = 120.0 / 60.0 / f64::from(SAMPLE_RATE);
        group.throughput(Throughput::Elements(samples as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(samples),
            &samples,
            |b, &samples| {
                b.iter(|| {
                    // Keep a clip waiting so the player also crosses from clip to clip.
                    if queue.slots() > 2 {
                        let _ = queue.push(Box::new(chord.clone()));
                    }
                    while returned.pop().is_ok() {}
                    let block = LoopBlock {
                        transport_playing: true,
                        clock: Some(BeatClock::at(beat, bps)),
                        tempo: Some(120.0),
                    };
                    let mut channels: [&mut [f32]; 2] = [&mut left, &mut right];
                    core.run(block, &params, &link, &mut channels, true);
                    black_box(&channels);
                    beat += samples as f64 * bps;
                })
            },
        );
        assert!(
            left.iter().any(|s| *s != 0.0),
            "the loops played during the bench"
        );
    }
    group.finish();
}

criterion_group!(benches, bench_process);
criterion_main!(benches);
