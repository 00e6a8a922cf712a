//! Sections are asked for ahead of time. With a model faster than real time the queue never
//! empties; with one three times slower than real time the built-in fallback fills every gap
//! and the music never stops. Runs in real time against a loopback server that takes a fixed
//! time per answer, and reports the queue depth over time.

use infinite_jazz_engine::composer::ComposerSettings;
use infinite_jazz_engine::sequencer::{Clock, LiveSettings, MidiEvent, Sequencer, SequencerStats};
use infinite_jazz_engine::timing::RuntimeConfig;
use infinite_jazz_engine::worker::{
    reserve_section, section_queues, SectionWorker, SettingsFeed, WorkerSettings,
};
use infinite_jazz_llm::{Backend, LlmSettings, ModelSource};
use integration_tests::http_server::{good_answer, openai_answer, Reply, TestServer};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SAMPLE_RATE: f64 = 48_000.0;
/// One bar of 4/4 at 240 BPM: a section lasts one second.
const TEMPO: f64 = 240.0;

struct Report {
    /// (seconds, sections queued) sampled every 250 ms.
    depth: Vec<(f64, usize)>,
    underruns: u64,
    primary_sections: u64,
    /// Note-ons per one-second bar.
    notes_per_bar: Vec<usize>,
}

fn run(response_time: Duration, seconds: f64, wait_for_first: bool) -> Report {
    let answer = openai_answer(
        &good_answer("C2")
            .lines()
            .enumerate()
            .filter(|(i, _)| {
                // Keep 16 steps per block: one bar.
                let block = i / 33;
                let line = i % 33;
                line == 0 || line <= 16 || block > 3
            })
            .map(|(_, l)| l)
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let server = TestServer::start(move |_, _| {
        Reply::Delayed(response_time, Box::new(Reply::json(200, answer.clone())))
    });
    let config = RuntimeConfig::default()
        .with_bars_per_section(1)
        .with_tempo(TEMPO);
    let settings = WorkerSettings {
        config: config.clone(),
        depth: 4,
        composer: ComposerSettings::default(),
        listen: Default::default(),
    };
    let (worker_queues, queues) = section_queues();
    let stats = Arc::new(SequencerStats::default());
    let mut sequencer = Sequencer::new(queues, stats.clone(), reserve_section(&settings));
    let mut llm = LlmSettings::new(Backend::OpenAi);
    llm.base_url = server.url();
    llm.stream = false;
    llm.timeouts.stall = Duration::from_secs(10);
    let source = Box::new(ModelSource::new(llm).expect("source"));
    let worker = SectionWorker::spawn_with_source(
        worker_queues,
        stats.clone(),
        SettingsFeed::fixed(settings.clone()),
        Some(source),
    )
    .expect("worker");
    if wait_for_first {
        // As in a host: the plugin is activated, then the user presses play.
        let deadline = Instant::now() + Duration::from_secs(5);
        while worker.status().queued.load(Ordering::Relaxed) < 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let live = LiveSettings {
        swing: config.swing(),
        ..Default::default()
    };
    let bps = TEMPO / 60.0 / SAMPLE_RATE;
    let block = 480usize;
    let start = Instant::now();
    let mut processed = 0usize;
    let mut beat = 0.0;
    let mut notes_per_bar = vec![0usize; seconds as usize + 1];
    let mut depth = Vec::new();
    let mut next_sample = 0.0;
    while start.elapsed().as_secs_f64() < seconds {
        // Keep up with the wall clock, like an audio callback.
        let due = (start.elapsed().as_secs_f64() * SAMPLE_RATE) as usize;
        while processed + block <= due {
            sequencer.process(
                Clock::Rolling {
                    start_beat: beat,
                    beats_per_sample: bps,
                },
                block,
                &live,
                |e| {
                    if let MidiEvent::NoteOn { sample, .. } = e {
                        let at = beat + f64::from(sample) * bps;
                        if let Some(n) = notes_per_bar.get_mut((at / 4.0) as usize) {
                            *n += 1;
                        }
                    }
                },
            );
            processed += block;
            beat += block as f64 * bps;
        }
        if start.elapsed().as_secs_f64() >= next_sample {
            depth.push((next_sample, worker.status().queued.load(Ordering::Relaxed)));
            next_sample += 0.25;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    notes_per_bar.truncate(seconds as usize);
    drop(worker);
    Report {
        depth,
        underruns: stats.underruns.load(Ordering::Relaxed),
        primary_sections: stats.sections_played.load(Ordering::Relaxed),
        notes_per_bar,
    }
}

fn print(name: &str, r: &Report) {
    let series: Vec<String> = r
        .depth
        .iter()
        .map(|(t, d)| format!("{t:.2}s:{d}"))
        .collect();
    eprintln!(
        "{name}: underruns {}, model sections played {}, notes per bar {:?}\n  queue depth {}",
        r.underruns,
        r.primary_sections,
        r.notes_per_bar,
        series.join(" ")
    );
}

#[test]
fn a_model_three_times_slower_than_real_time_never_stops_the_music() {
    let report = run(Duration::from_secs(3), 7.0, false);
    print("3x slower than real time", &report);
    assert!(report.underruns >= 3, "the fallback had to play");
    assert!(
        report.primary_sections >= 1,
        "the model's sections still play when they arrive"
    );
    assert!(
        report.underruns + report.primary_sections >= 6,
        "a section for every second"
    );
    for (bar, notes) in report.notes_per_bar.iter().enumerate() {
        assert!(*notes >= 4, "bar {bar} has {notes} notes");
    }
    assert!(
        report.depth.iter().all(|(_, d)| *d <= 1),
        "a slow model never builds a queue"
    );
}

#[test]
fn a_model_faster_than_real_time_keeps_the_queue_filled() {
    let report = run(Duration::from_millis(150), 5.0, true);
    print("0.15 s per 1 s section", &report);
    assert_eq!(report.underruns, 0, "no gap once the first section is in");
    assert!(report.primary_sections >= 5);
    let late = report.depth.iter().filter(|(t, _)| *t >= 1.0);
    assert!(
        late.clone().all(|(_, d)| *d >= 2),
        "the queue stays ahead: {:?}",
        report.depth
    );
    for (bar, notes) in report.notes_per_bar.iter().enumerate() {
        assert!(*notes >= 4, "bar {bar} has {notes} notes");
    }
}
