//! The worker's commands as the editor uses them: regenerate drops what was queued.

use infinite_jazz_engine::sequencer::{Clock, LiveSettings, Sequencer, SequencerStats};
use infinite_jazz_engine::worker::{
    section_queues, start_band, SectionWorker, SettingsChanged, SettingsFeed, WorkerCommand,
    WorkerSettings,
};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The built-in band with a queue `depth` sections deep, once the queue is full.
fn full_band(depth: usize) -> (Arc<SequencerStats>, Sequencer, SectionWorker) {
    let settings = WorkerSettings {
        config: Default::default(),
        depth,
        composer: Default::default(),
        listen: Default::default(),
    };
    let stats = Arc::new(SequencerStats::default());
    let (sequencer, worker) =
        start_band(stats.clone(), SettingsFeed::fixed(settings), None).expect("band");
    let status = worker.status().clone();
    wait_until("a full queue", || {
        status.queued.load(Ordering::Relaxed) == depth
    });
    (stats, sequencer, worker)
}

/// Asks for new music and waits until the new generation fills the queue again.
fn regenerate(worker: &SectionWorker, stats: &SequencerStats, depth: usize) {
    worker.send(WorkerCommand::Regenerate);
    wait_until("a new generation", || {
        stats.generation.load(Ordering::Relaxed) == 1
    });
    wait_until("a refilled queue", || {
        worker.status().queued.load(Ordering::Relaxed) == depth
    });
}

/// One block of `frames` samples from `beat`, its events dropped.
fn play_block(sequencer: &mut Sequencer, beat: f64, bps: f64, frames: usize) {
    sequencer.process(
        Clock::rolling(beat, bps),
        frames,
        &LiveSettings::default(),
        |_| {},
    );
}

#[test]
fn regenerate_drops_the_queued_sections_and_fills_again() {
    let (stats, mut sequencer, worker) = full_band(4);
    let status = worker.status().clone();
    let before: Vec<_> = status.upcoming.lock().expect("upcoming").clone();
    assert_eq!(before.len(), 4, "the editor sees what is coming");

    regenerate(&worker, &stats, 4);
    let after: Vec<_> = status.upcoming.lock().expect("upcoming").clone();
    assert_eq!(after.len(), 4);
    assert_ne!(after[0], before[0], "new music is coming");

    // The sequencer skips the four stale sections and plays the new ones.
    let bps = 120.0 / 60.0 / 48_000.0;
    play_block(&mut sequencer, 0.0, bps, 256);
    assert_eq!(stats.stale_dropped.load(Ordering::Relaxed), 4);
    assert_eq!(stats.sections_played.load(Ordering::Relaxed), 1);
    assert_eq!(stats.underruns.load(Ordering::Relaxed), 0);
}

/// The archive holds what the sequencer played, in the order it played it: not the sections
/// still waiting in the queue, nor those a "regenerate" dropped.
#[test]
fn the_archive_is_what_was_heard_in_order() {
    let (stats, mut sequencer, worker) = full_band(16);
    let status = worker.status().clone();
    // What is queued, in order: the first three of these will be played.
    let upcoming: Vec<_> = status.upcoming.lock().expect("upcoming").clone();
    regenerate(&worker, &stats, 16);
    let fresh: Vec<_> = status.upcoming.lock().expect("upcoming").clone();
    // Three 2-bar sections (24 beats), block by block.
    let bps = 120.0 / 60.0 / 48_000.0;
    let mut beat = 0.0;
    while beat + 512.0 * bps < 24.0 {
        play_block(&mut sequencer, beat, bps, 512);
        beat += 512.0 * bps;
    }
    wait_until("the archive", || status.history().len() >= 3);
    std::thread::sleep(Duration::from_millis(50));
    let history: Vec<_> = status.history().into_iter().map(|a| a.section).collect();
    let heard: Vec<_> = status
        .take_history()
        .into_iter()
        .map(|a| a.section)
        .collect();
    assert_eq!(heard.len(), 3, "only the sections played are archived");
    assert_eq!(heard[..], fresh[..3], "in the order they were played");
    assert!(
        upcoming.iter().all(|s| !heard.contains(s)),
        "no dropped section"
    );
    assert_eq!(history, heard, "exports see the same");
    assert!(status.history().is_empty(), "what was taken out is gone");
}

/// The worker reads its settings again only when their owner says they changed, and then at
/// once: a deeper queue is filled after the signal, not before.
#[test]
fn settings_reach_the_worker_when_signalled() {
    let settings = Arc::new(std::sync::Mutex::new(WorkerSettings {
        config: Default::default(),
        depth: 2,
        composer: Default::default(),
        listen: Default::default(),
    }));
    let changed = Arc::new(SettingsChanged::default());
    let (worker_queues, _queues) = section_queues();
    let stats = Arc::new(SequencerStats::default());
    let reader = settings.clone();
    let feed = SettingsFeed::new(changed.clone(), move || {
        reader.lock().expect("settings").clone()
    });
    let worker = SectionWorker::spawn(worker_queues, stats, feed).expect("worker");
    let status = worker.status().clone();
    wait_until("a queue of two", || {
        status.queued.load(Ordering::Relaxed) == 2
    });

    settings.lock().expect("settings").depth = 6;
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        status.queued.load(Ordering::Relaxed),
        2,
        "unsignalled changes are not read"
    );
    changed.notify();
    wait_until("a queue of six", || {
        status.queued.load(Ordering::Relaxed) == 6
    });
    assert_eq!(status.depth.load(Ordering::Relaxed), 6);
}
