//! The worker's commands as the editor uses them: regenerate drops what was queued.

use infinite_jazz_engine::sequencer::{Clock, LiveSettings, Sequencer, SequencerStats};
use infinite_jazz_engine::worker::{
    reserve_section, section_queues, SectionWorker, WorkerCommand, WorkerSettings,
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

#[test]
fn regenerate_drops_the_queued_sections_and_fills_again() {
    let settings = WorkerSettings {
        config: Default::default(),
        depth: 4,
        composer: Default::default(),
    };
    let (worker_queues, queues) = section_queues();
    let stats = Arc::new(SequencerStats::default());
    let mut sequencer = Sequencer::new(queues, stats.clone(), reserve_section(&settings));
    let reader = settings.clone();
    let worker = SectionWorker::spawn(
        worker_queues,
        stats.clone(),
        Box::new(move || reader.clone()),
    )
    .expect("worker");
    let status = worker.status().clone();
    wait_until("a full queue", || {
        status.queued.load(Ordering::Relaxed) == 4
    });
    let before: Vec<_> = status.upcoming.lock().expect("upcoming").clone();
    assert_eq!(before.len(), 4, "the editor sees what is coming");

    worker.send(WorkerCommand::Regenerate);
    wait_until("a new generation", || {
        stats.generation.load(Ordering::Relaxed) == 1
    });
    wait_until("a refilled queue", || {
        status.queued.load(Ordering::Relaxed) == 4
    });
    let after: Vec<_> = status.upcoming.lock().expect("upcoming").clone();
    assert_eq!(after.len(), 4);
    assert_ne!(after[0], before[0], "new music is coming");

    // The sequencer skips the four stale sections and plays the new ones.
    let bps = 120.0 / 60.0 / 48_000.0;
    sequencer.process(
        Clock::Rolling {
            start_beat: 0.0,
            beats_per_sample: bps,
        },
        256,
        &LiveSettings::default(),
        |_| {},
    );
    assert_eq!(stats.stale_dropped.load(Ordering::Relaxed), 4);
    assert_eq!(stats.sections_played.load(Ordering::Relaxed), 1);
    assert_eq!(stats.underruns.load(Ordering::Relaxed), 0);
}

/// The archive holds what the sequencer played, in the order it played it: not the sections
/// still waiting in the queue, nor those a "regenerate" dropped.
#[test]
fn the_archive_is_what_was_heard_in_order() {
    let settings = WorkerSettings {
        config: Default::default(),
        depth: 16,
        composer: Default::default(),
    };
    let (worker_queues, queues) = section_queues();
    let stats = Arc::new(SequencerStats::default());
    let mut sequencer = Sequencer::new(queues, stats.clone(), reserve_section(&settings));
    let reader = settings.clone();
    let worker = SectionWorker::spawn(
        worker_queues,
        stats.clone(),
        Box::new(move || reader.clone()),
    )
    .expect("worker");
    let (archive_tx, archive) = crossbeam_channel::unbounded();
    worker.send(WorkerCommand::Archive(archive_tx));
    let status = worker.status().clone();
    wait_until("a full queue", || {
        status.queued.load(Ordering::Relaxed) == 16
    });
    // What is queued, in order: the first three of these will be played.
    let upcoming: Vec<_> = status.upcoming.lock().expect("upcoming").clone();
    worker.send(WorkerCommand::Regenerate);
    wait_until("a new generation", || {
        stats.generation.load(Ordering::Relaxed) == 1
    });
    wait_until("a refilled queue", || {
        status.queued.load(Ordering::Relaxed) == 16
    });
    let fresh: Vec<_> = status.upcoming.lock().expect("upcoming").clone();
    // Three 2-bar sections (24 beats), block by block.
    let bps = 120.0 / 60.0 / 48_000.0;
    let mut beat = 0.0;
    while beat + 512.0 * bps < 24.0 {
        sequencer.process(
            Clock::Rolling {
                start_beat: beat,
                beats_per_sample: bps,
            },
            512,
            &LiveSettings::default(),
            |_| {},
        );
        beat += 512.0 * bps;
    }
    wait_until("the archive", || archive.len() >= 3);
    std::thread::sleep(Duration::from_millis(50));
    let heard: Vec<_> = archive.try_iter().map(|a| a.section).collect();
    assert_eq!(heard.len(), 3, "only the sections played are archived");
    assert_eq!(heard[..], fresh[..3], "in the order they were played");
    assert!(
        upcoming.iter().all(|s| !heard.contains(s)),
        "no dropped section"
    );
    let history: Vec<_> = status
        .history
        .lock()
        .expect("history")
        .iter()
        .map(|a| a.section.clone())
        .collect();
    assert_eq!(history, heard, "exports see the same");
}
