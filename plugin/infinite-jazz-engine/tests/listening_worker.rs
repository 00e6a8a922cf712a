//! A listening band with a model as its source, driven in real time (1-bar sections at 240 BPM,
//! 10 ms blocks): the model is asked with the player's part, its answer plays when it comes in
//! time, and the built-in composer answers the bars it would miss.

use infinite_jazz_engine::listen::Listen;
use infinite_jazz_engine::player_capture::player_capture;
use infinite_jazz_engine::section::Section;
use infinite_jazz_engine::sequencer::prepared::SectionOrigin;
use infinite_jazz_engine::sequencer::{Clock, LiveSettings, SequencerStats};
use infinite_jazz_engine::timing::RuntimeConfig;
use infinite_jazz_engine::worker::{
    start_band, BuiltinSource, SectionRequest, SectionSource, SettingsFeed, SourceError,
    WorkerCommand, WorkerSettings,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TEMPO: f64 = 240.0;
const RATE: f64 = 48_000.0;
const BLOCK: usize = 480;

/// A model that takes `delay` to answer, and counts the requests that carried the player's
/// notes.
struct SlowModel {
    delay: Duration,
    inner: BuiltinSource,
    heard_player: Arc<AtomicUsize>,
}

impl SectionSource for SlowModel {
    fn name(&self) -> String {
        "slow model".into()
    }

    fn next_section(&mut self, request: &SectionRequest) -> Result<Section, SourceError> {
        std::thread::sleep(self.delay);
        if request
            .listening
            .is_some_and(|l| l.mode == Listen::Accompany && !l.player.notes().is_empty())
        {
            self.heard_player.fetch_add(1, Ordering::Relaxed);
        }
        let plain = SectionRequest {
            listening: None,
            ..*request
        };
        self.inner.next_section(&plain)
    }
}

/// Plays `seconds` with a model answering after `delay`, the player striking a note every
/// beat; returns the origins of the sections heard, the bars the built-in composer answered
/// and the model's requests that carried the player.
fn jam(delay: Duration, seconds: f64) -> (Vec<SectionOrigin>, u64, usize) {
    let config = RuntimeConfig::default()
        .with_tempo(TEMPO)
        .with_bars_per_section(1);
    let settings = WorkerSettings {
        config: config.clone(),
        depth: 2,
        composer: Default::default(),
        listen: Listen::Accompany,
    };
    let heard_player = Arc::new(AtomicUsize::new(0));
    let model = SlowModel {
        delay,
        inner: BuiltinSource::new(&Default::default()),
        heard_player: heard_player.clone(),
    };
    let stats = Arc::new(SequencerStats::default());
    let (mut sequencer, worker) = start_band(
        stats.clone(),
        SettingsFeed::fixed(settings),
        Some(Box::new(model)),
    )
    .expect("band");
    let (mut capture, heard) = player_capture();
    worker.send(WorkerCommand::HearPlayer(Box::new(heard)));
    let bps = TEMPO / 60.0 / RATE;
    let live = LiveSettings::default();
    let started = Instant::now();
    let blocks = (seconds * RATE / BLOCK as f64) as usize;
    for block in 0..blocks {
        let beat = (block * BLOCK) as f64 * bps;
        if (beat.fract()) < BLOCK as f64 * bps {
            capture.push(beat, 60 + (beat as u8 % 12), 90);
            capture.push(beat + 0.5, 60 + (beat as u8 % 12), 0);
        }
        sequencer.process(
            Clock::Rolling {
                start_beat: beat,
                beats_per_sample: bps,
            },
            BLOCK,
            &live,
            |_| {},
        );
        // Real time: the worker sees the playhead move as it would in a host.
        let due = started + Duration::from_secs_f64(((block + 1) * BLOCK) as f64 / RATE);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    std::thread::sleep(Duration::from_millis(50));
    let origins = worker
        .status()
        .take_history()
        .into_iter()
        .map(|a| a.origin)
        .collect();
    let late = worker.status().late_answers.load(Ordering::Relaxed);
    drop(worker);
    (origins, late, heard_player.load(Ordering::Relaxed))
}

#[test]
fn a_model_in_time_plays_and_is_asked_with_the_player() {
    let (origins, late, heard_player) = jam(Duration::from_millis(30), 5.0);
    eprintln!("in time: {origins:?}, {late} built-in answers");
    let from_model = origins
        .iter()
        .filter(|o| **o == SectionOrigin::Primary)
        .count();
    assert!(
        from_model * 3 >= origins.len() * 2,
        "{from_model} of {} bars from the model: {origins:?}",
        origins.len()
    );
    assert!(
        heard_player > 0,
        "the model was told what the player played"
    );
}

#[test]
fn a_late_model_is_answered_for_by_the_built_in_composer() {
    let (origins, late, _) = jam(Duration::from_millis(2500), 4.0);
    eprintln!("late: {origins:?}, {late} built-in answers");
    assert!(
        origins.iter().all(|o| *o != SectionOrigin::Primary),
        "a late answer never plays: {origins:?}"
    );
    assert!(
        late as usize + 1 >= origins.len(),
        "{late} bars answered by the built-in composer of {}",
        origins.len()
    );
}
