//! How late the player's last note may be and still shape the band's next bar, with the
//! built-in composer, measured in real time: a band following chords at 120 BPM (10 ms blocks,
//! as a host would run it), the player striking a new chord a little earlier before each bar
//! line, and the bass's downbeat telling whether the bar heard it.
//!
//! `cargo bench -p infinite-jazz-engine --bench answer_latency`

use infinite_jazz_engine::listen::Listen;
use infinite_jazz_engine::player_capture::player_capture;
use infinite_jazz_engine::sequencer::{Clock, LiveSettings, MidiEvent, SequencerStats};
use infinite_jazz_engine::timing::RuntimeConfig;
use infinite_jazz_engine::worker::{start_band, SettingsFeed, WorkerCommand, WorkerSettings};
use std::sync::Arc;
use std::time::{Duration, Instant};

const RATE: f64 = 48_000.0;
const BLOCK: usize = 480;

fn main() {
    let tempo = 120.0;
    let config = RuntimeConfig::default().with_tempo(tempo);
    let settings = WorkerSettings {
        config,
        depth: 4,
        composer: Default::default(),
        listen: Listen::FollowChords,
    };
    let stats = Arc::new(SequencerStats::default());
    let (mut sequencer, worker) =
        start_band(stats, SettingsFeed::fixed(settings), None).expect("band");
    let (mut capture, heard) = player_capture();
    worker.send(WorkerCommand::HearPlayer(Box::new(heard)));
    // Before bar k (from bar 2), a chord struck `leads[k]` beats ahead of its bar line, each
    // lead tried on several bars; roots walk round the cycle of fourths so every bar differs.
    let leads = [0.5, 0.4, 0.3, 0.25, 0.2, 0.15, 0.1, 0.05, 0.0];
    let tries = 3;
    let bars = 2 + leads.len() * tries;
    let chord = |bar: usize| {
        let root = (bar * 5 % 12) as u8;
        [48 + root, 52 + root, 55 + root, 58 + root]
    };
    let mut strikes: Vec<(f64, f64, usize)> = (2..bars)
        .map(|bar| {
            let lead = leads[(bar - 2) % leads.len()];
            (bar as f64 * 4.0 - lead, lead, bar)
        })
        .collect();
    strikes.reverse();
    let bps = tempo / 60.0 / RATE;
    let live = LiveSettings::default();
    let mut downbeats: Vec<(usize, u8)> = Vec::new();
    let mut sounding: Option<usize> = None;
    let started = Instant::now();
    let blocks = (bars as f64 * 4.0 / (BLOCK as f64 * bps)) as usize;
    for block in 0..blocks {
        let start = (block * BLOCK) as f64 * bps;
        let end = start + BLOCK as f64 * bps;
        while let Some((at, _, bar)) = strikes.last().copied() {
            if at >= end {
                break;
            }
            strikes.pop();
            if let Some(old) = sounding.replace(bar) {
                for key in chord(old) {
                    capture.push(at, key, 0);
                }
            }
            for key in chord(bar) {
                capture.push(at, key, 80);
            }
        }
        sequencer.process(
            Clock::Rolling {
                start_beat: start,
                beats_per_sample: bps,
            },
            BLOCK,
            &live,
            |event| {
                if let MidiEvent::NoteOn {
                    sample,
                    channel: 0,
                    key,
                    ..
                } = event
                {
                    let beat = start + f64::from(sample) * bps;
                    if (beat / 4.0 - (beat / 4.0).round()).abs() < 1e-6 {
                        downbeats.push(((beat / 4.0).round() as usize, key % 12));
                    }
                }
            },
        );
        let due = started + Duration::from_secs_f64(((block + 1) * BLOCK) as f64 / RATE);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    println!("a chord struck this long before the bar line leads that bar (built-in composer, {tempo} BPM):");
    for (i, lead) in leads.iter().enumerate() {
        let followed = (0..tries)
            .map(|t| 2 + i + t * leads.len())
            .filter(|bar| {
                let root = (bar * 5 % 12) as u8;
                downbeats.iter().any(|(b, pc)| b == bar && *pc == root)
            })
            .count();
        println!(
            "  {lead:.2} beats ({:>3.0} ms): {followed} of {tries} bars",
            lead * 60_000.0 / tempo
        );
    }
}
