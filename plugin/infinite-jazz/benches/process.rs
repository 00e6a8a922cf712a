//! The cost of one `process()` call: the clock, the parameters and the sequencer, with the
//! section worker feeding the queue from its own thread as in a host. Blocks at 48 kHz with all
//! four instruments playing; the real-time budget of a block is `samples / 48000` seconds.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use infinite_jazz::{HostTime, InfiniteJazzParams, ProcessCore};
use infinite_jazz_engine::meter::Meter;
use infinite_jazz_engine::sequencer::SequencerStats;
use infinite_jazz_engine::worker::start_band;
use std::hint::black_box;
use std::sync::Arc;

const SAMPLE_RATE: f64 = 48_000.0;

fn bench_process(c: &mut Criterion) {
    let params = Arc::new(InfiniteJazzParams::default());
    let stats = Arc::new(SequencerStats::default());
    let (sequencer, _worker) =
        start_band(stats.clone(), params.settings_feed(), None).expect("worker starts");
    let mut core = ProcessCore::new(sequencer);
    let mut group = c.benchmark_group("process");
    for samples in [64usize, 512] {
        group.throughput(Throughput::Elements(samples as u64));
        let bps = 120.0 / 60.0 / SAMPLE_RATE;
        let mut beat = 0.0;
        let mut events = 0u64;
        group.bench_with_input(
            BenchmarkId::from_parameter(samples),
            &samples,
            |b, &samples| {
                b.iter(|| {
                    let time = HostTime {
                        sample_rate: SAMPLE_RATE as f32,
                        playing: true,
                        tempo: Some(120.0),
                        pos_beats: Some(beat),
                        // As a DAW reports its bars: 4/4, the current bar's start and number.
                        meter: Some(Meter::COMMON),
                        bar_start: Some((beat / 4.0).floor() * 4.0),
                        bar_number: Some((beat / 4.0).floor() as i32),
                    };
                    core.run(&time, &params, samples, |e| {
                        events += 1;
                        black_box(e);
                        true
                    });
                    beat += samples as f64 * bps;
                })
            },
        );
        assert!(events > 0, "the band played during the bench");
    }
    group.finish();
    let underruns = stats.underruns.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!(
        "sections played: {}, underruns: {underruns}",
        stats
            .sections_played
            .load(std::sync::atomic::Ordering::Relaxed)
    );
}

criterion_group!(benches, bench_process);
criterion_main!(benches);
