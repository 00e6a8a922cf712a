//! `infinite-jazz play`: the band on its own clock, into JACK, a MIDI port, or the built-in
//! synth, until Ctrl+C or `--bars N`.

mod jack_out;
mod midi_in;
mod midi_port;
mod synth_out;

use crate::options::{GenerationArgs, LlmArgs};
use anyhow::{anyhow, Context, Result};
use clap::{Args, ValueEnum};
use infinite_jazz_engine::listen::{player_in_take, Listen, PlayerNote, PlayerPart};
use infinite_jazz_engine::meter::BandMeter;
use infinite_jazz_engine::midi_file::write_smf_with_player;
use infinite_jazz_engine::player_capture::player_capture;
use infinite_jazz_engine::player_through::PlayerInput;
use infinite_jazz_engine::section::{Instrument, Section};
use infinite_jazz_engine::sequencer::prepared::SectionOrigin;
use infinite_jazz_engine::sequencer::{
    BarGrid, Clock, LiveSettings, MidiEvent, Sequencer, SequencerStats,
};
use infinite_jazz_engine::take::truncate_bars;
use infinite_jazz_engine::take::{write_take, write_take_with_player, TakeInfo};
use infinite_jazz_engine::timing::RuntimeConfig;
use infinite_jazz_engine::tracker::write_document;
use infinite_jazz_engine::worker::{
    SectionSource, SectionWorker, SettingsChanged, SettingsFeed, WorkerCommand, WorkerSettings,
    MAX_DEPTH,
};
use infinite_jazz_files::write_bytes_atomically;
use infinite_jazz_llm::source::{model_source, SharedStats};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputBackend {
    /// The built-in General MIDI SoundFont synth on the default audio device.
    Synth,
    /// A JACK MIDI output port (frame-accurate).
    Jack,
    /// A hardware MIDI output port (ALSA, CoreMIDI, WinMM).
    Hardware,
    /// A virtual MIDI output port a DAW can record from (ALSA, CoreMIDI).
    Virtual,
}

#[derive(Args, Debug)]
pub struct PlayArgs {
    /// Where the MIDI goes (default: the built-in synth).
    #[arg(long, value_enum)]
    pub backend: Option<OutputBackend>,
    /// Hardware MIDI port: its index or part of its name (see --list-ports).
    #[arg(long)]
    pub port: Option<String>,
    /// List the MIDI output ports and exit.
    #[arg(long)]
    pub list_ports: bool,
    /// JACK port(s) to connect the output to on start, e.g. "fluidsynth:midi_00".
    #[arg(long)]
    pub connect: Vec<String>,
    /// With --backend jack: play while JACK's transport rolls, at its position.
    #[arg(long)]
    pub follow_jack_transport: bool,
    /// Name of the JACK client or MIDI port.
    #[arg(long, default_value = "infinite-jazz")]
    pub client_name: String,
    /// SoundFont for the synth backend (default: the system's General MIDI font).
    #[arg(long)]
    pub soundfont: Option<PathBuf>,
    /// Stop after this many bars (default: play until Ctrl+C).
    #[arg(long)]
    pub bars: Option<usize>,
    /// Sections kept ready ahead of the playhead (1-16).
    #[arg(long, default_value_t = 4)]
    pub buffer: usize,
    /// Instruments to mute: bass, drums, piano, sax (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub mute: Vec<String>,
    /// Save what was played: each section's tracker text, the whole take, and a MIDI file.
    #[arg(long)]
    pub save_output: bool,
    /// Folder for --save-output (default: ./infinite-jazz-session).
    #[arg(long)]
    pub output_dir: Option<PathBuf>,
    /// Play with the band: a MIDI input whose notes pass through to the output and that the
    /// band hears. With --backend jack, a JACK port to connect from (e.g. "a2j:Keystation");
    /// otherwise a MIDI input port's index or part of its name (see --list-ports).
    #[arg(long)]
    pub midi_in: Option<String>,
    /// How the band listens to --midi-in: off (the notes only pass through), accompany,
    /// trade (4-bar turns, you first; trade2, trade8) or chords.
    #[arg(long, default_value = "off")]
    pub listen: String,
    /// The channel the player's notes go out on (1-16).
    #[arg(long, default_value_t = 4)]
    pub player_channel: u8,
    #[command(flatten)]
    pub generation: GenerationArgs,
    #[command(flatten)]
    pub llm: LlmArgs,
}

/// What an output's real-time side owns: the sequencer and the settings it plays with.
pub struct BandOutput {
    pub sequencer: Sequencer,
    pub live: LiveSettings,
    pub config: RuntimeConfig,
    /// The meter the music is in (`--meter`, or a JACK timebase master's), which the worker
    /// writes in.
    pub meter: Arc<BandMeter>,
    /// Tells the worker that the meter changed.
    pub settings_changed: Arc<SettingsChanged>,
    /// The player's notes (--midi-in): passed through, heard by the band when it listens.
    pub player: PlayerInput,
    /// The player's output channel, 0-based.
    pub player_channel: u8,
    /// The length of a bar of the music in force, in beats.
    pub bar_beats: f64,
}

impl BandOutput {
    /// Beats per sample (or per tick of a clock) at `rate` per second, at the session's tempo.
    pub fn beats_per_sample(&self, rate: f64) -> f64 {
        self.config.tempo_bpm() / 60.0 / rate
    }

    /// Plays on `grid` from the next block on, and has the worker write in its meter. No
    /// allocation: callable on the real-time thread.
    pub fn follow_bars(&mut self, grid: BarGrid) {
        self.meter.follow(grid.meter, &self.settings_changed);
        self.sequencer.set_bar_grid(grid);
        self.bar_beats = grid.meter.quarters_per_bar();
    }

    /// Plays one block with the player's events pushed to `self.player.through` since
    /// [`BandOutput::begin_block`], interleaved in time order. No allocation.
    pub fn play_block(&mut self, clock: Clock, frames: usize, emit: impl FnMut(MidiEvent) -> bool) {
        self.player.play_block(
            &mut self.sequencer,
            clock,
            frames,
            &self.live,
            self.bar_beats,
            emit,
        );
    }

    /// Starts a block: the player's events of the block are pushed after this.
    pub fn begin_block(&mut self) {
        self.player.through.begin_block(self.player_channel);
    }
}

/// The engine running for a session: the worker thread and the sequencer the output drives.
pub struct Band {
    pub output: BandOutput,
    pub stats: Arc<SequencerStats>,
    pub worker: SectionWorker,
    pub llm_stats: Option<SharedStats>,
    pub model_name: String,
}

fn instrument_by_name(name: &str) -> Option<Instrument> {
    Instrument::ALL
        .into_iter()
        .find(|i| i.header().eq_ignore_ascii_case(name.trim()))
}

fn start_band(args: &PlayArgs) -> Result<Band> {
    let config = args.generation.config()?;
    let composer = args.generation.composer_settings()?;
    if !(1..=MAX_DEPTH).contains(&args.buffer) {
        return Err(anyhow!("--buffer must be between 1 and {MAX_DEPTH}"));
    }
    let mut live = LiveSettings {
        swing: config.swing(),
        ..LiveSettings::default()
    };
    for instrument in Instrument::ALL {
        live.channels[instrument.index()] = config.channel(instrument);
    }
    for name in &args.mute {
        let i = instrument_by_name(name).ok_or_else(|| {
            anyhow!("unknown instrument {name:?} in --mute (bass, drums, piano, sax)")
        })?;
        live.muted[i.index()] = true;
    }
    let listen: Listen = args.listen.parse().map_err(|e| anyhow!("--listen: {e}"))?;
    if !(1..=16).contains(&args.player_channel) {
        return Err(anyhow!("--player-channel must be between 1 and 16"));
    }
    if listen != Listen::Off && args.midi_in.is_none() {
        return Err(anyhow!(
            "--listen needs a player: name a MIDI input with --midi-in"
        ));
    }
    let settings = WorkerSettings {
        config: config.clone(),
        depth: args.buffer,
        composer: composer.clone(),
        listen,
    };
    let llm = args.llm.settings(composer.seed)?;
    let mut llm_stats = None;
    let mut model_name = "builtin".to_string();
    let source: Option<Box<dyn SectionSource>> = match llm {
        Some(s) => {
            model_name = s.model.clone();
            model_source(s, &composer)?.map(|source| {
                llm_stats = Some(source.stats());
                Box::new(source) as Box<dyn SectionSource>
            })
        }
        None => None,
    };
    let stats = Arc::new(SequencerStats::default());
    let meter = Arc::new(BandMeter::default());
    let settings_changed = Arc::new(SettingsChanged::default());
    let feed = {
        let meter = meter.clone();
        SettingsFeed::new(settings_changed.clone(), move || {
            let mut settings = settings.clone();
            if let Some(m) = meter.get() {
                settings.config = settings.config.with_meter(m);
            }
            settings
        })
    };
    let (sequencer, worker) =
        infinite_jazz_engine::worker::start_band(stats.clone(), feed, source)?;
    let mut player = PlayerInput::default();
    player.listen = listen;
    if listen != Listen::Off {
        let (capture, heard) = player_capture();
        player.capture = Some(capture);
        worker.send(WorkerCommand::HearPlayer(Box::new(heard)));
    }
    // With the built-in composer the first sections are ready in milliseconds; with a model
    // the fallback plays until its answers arrive.
    let deadline = Instant::now() + Duration::from_millis(300);
    while worker.status().queued.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    let bar_beats = config.meter().quarters_per_bar();
    let mut output = BandOutput {
        sequencer,
        live,
        config,
        meter,
        settings_changed,
        player,
        player_channel: args.player_channel - 1,
        bar_beats,
    };
    // Bars of `--meter` from the first beat, until a JACK timebase master says otherwise.
    output.follow_bars(BarGrid {
        meter: output.config.meter(),
        origin: 0.0,
    });
    Ok(Band {
        output,
        stats,
        worker,
        llm_stats,
        model_name,
    })
}

/// MIDI bytes of an event.
pub fn midi_bytes(event: &MidiEvent) -> [u8; 3] {
    match *event {
        MidiEvent::NoteOn {
            channel,
            key,
            velocity,
            ..
        } => [0x90 | (channel & 0x0F), key & 0x7F, velocity & 0x7F],
        MidiEvent::NoteOff { channel, key, .. } => [0x80 | (channel & 0x0F), key & 0x7F, 64],
        MidiEvent::AllNotesOff { channel, .. } => [0xB0 | (channel & 0x0F), 123, 0],
    }
}

/// Shared between the output and the main thread.
#[derive(Default)]
pub struct Control {
    /// `--bars` as beats: the music stops there by itself.
    pub limit_beats: Option<f64>,
    /// Set once the output is wired up (JACK connections made): the music starts then, so
    /// its first notes reach the connected ports.
    pub started: AtomicBool,
    /// Ctrl+C or the bar limit: the output releases every note and stops.
    pub stop: AtomicBool,
    /// The output has sent its last events.
    pub done: AtomicBool,
}

impl Control {
    /// Whether a block starting at `beat` should stop the music: asked to, or past the limit.
    pub fn stopping_at(&self, beat: f64) -> bool {
        self.stop.load(Ordering::Relaxed) || self.past_limit(beat)
    }

    /// Whether `beat` is at or past the `--bars` limit.
    pub fn past_limit(&self, beat: f64) -> bool {
        self.limit_beats.is_some_and(|limit| beat >= limit)
    }

    /// The sequencer's clock for a block starting at `beat`.
    pub fn clock(&self, beat: f64, beats_per_sample: f64) -> Clock {
        if self.stopping_at(beat) {
            Clock::Stopped
        } else {
            Clock::Rolling {
                start_beat: beat,
                beats_per_sample,
            }
        }
    }
}

/// The status line, refreshed in place on a terminal.
fn status_line(
    band_stats: &SequencerStats,
    worker: &SectionWorker,
    llm: Option<&SharedStats>,
    bar_beats: f64,
) -> String {
    let beat = band_stats.position_beats().max(0.0);
    let bar = (beat / bar_beats).floor() as u64 + 1;
    let beat_in_bar = (beat % bar_beats).floor() as u64 + 1;
    let status = worker.status();
    let source = match band_stats.playing_origin.load(Ordering::Relaxed) {
        0 => "model/primary",
        1 => "built-in (fallback)",
        2 => "reserve",
        _ => "-",
    };
    let mut line = format!(
        "bar {bar:>4} beat {beat_in_bar} | ahead {}/{} | playing {source} | underruns {}",
        status.queued.load(Ordering::Relaxed),
        status.depth.load(Ordering::Relaxed),
        band_stats.underruns.load(Ordering::Relaxed),
    );
    if let Some(llm) = llm.and_then(|s| s.lock().ok().map(|s| s.clone())) {
        if let Some(ms) = llm.last_latency_ms {
            line.push_str(&format!(" | model {ms} ms"));
        }
        if let Some(e) = llm.last_error {
            line.push_str(&format!(" | {e}"));
        }
    }
    line
}

pub fn run(args: &PlayArgs) -> Result<()> {
    let backend = args.backend.unwrap_or(OutputBackend::Synth);
    if args.list_ports {
        midi_port::list_ports(&args.client_name)?;
        return midi_in::list_inputs(&args.client_name);
    }
    let bar_beats = args.generation.config()?.meter().quarters_per_bar();
    let control = Arc::new(Control {
        limit_beats: args.bars.map(|b| b as f64 * bar_beats),
        ..Control::default()
    });
    {
        let control = control.clone();
        ctrlc::set_handler(move || control.stop.store(true, Ordering::SeqCst))
            .context("cannot install the Ctrl+C handler")?;
    }
    let band = start_band(args)?;
    let stats = band.stats.clone();
    let llm_stats = band.llm_stats.clone();
    let status = band.worker.status().clone();
    let config = band.output.config.clone();
    let model_name = band.model_name.clone();
    let worker_and_runner = match backend {
        OutputBackend::Jack => jack_out::start(band, args, control.clone())?,
        OutputBackend::Hardware | OutputBackend::Virtual => midi_port::start(
            band,
            args,
            backend == OutputBackend::Virtual,
            control.clone(),
        )?,
        OutputBackend::Synth => synth_out::start(band, args, control.clone())?,
    };
    let (worker, running) = worker_and_runner;
    let terminal = std::io::stderr().is_terminal();
    // The worker's archive holds the last sections heard: taking them out as they come keeps
    // the whole session.
    let mut heard = Vec::new();
    while !control.done.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
        if args.save_output {
            heard.extend(status.take_history());
        }
        if terminal {
            eprint!(
                "\r{:<100}",
                status_line(&stats, &worker, llm_stats.as_ref(), bar_beats)
            );
            let _ = std::io::stderr().flush();
        }
    }
    if terminal {
        eprintln!();
    }
    let report = running.finish()?;
    eprintln!("{report}");
    let underruns = stats.underruns.load(Ordering::Relaxed);
    eprintln!(
        "played {} sections from the source, {underruns} fallback sections",
        stats.sections_played.load(Ordering::Relaxed)
    );
    drop(worker);
    if args.save_output {
        heard.extend(status.take_history());
        let mut sections: Vec<(Section, SectionOrigin, f64)> = heard
            .into_iter()
            .map(|a| (a.section, a.origin, a.start_beat))
            .collect();
        // A section placed at the very end of `--bars` was not heard; one cut by it, in part.
        if let Some(bars) = args.bars {
            let mut left = bars;
            sections.retain_mut(|(section, _, _)| {
                let length = section.bars();
                if left == 0 {
                    return false;
                }
                if length > left {
                    truncate_bars(section, left);
                }
                left = left.saturating_sub(length);
                true
            });
        }
        let played: Vec<PlayerNote> = status
            .player_take
            .lock()
            .map(|t| t.iter().copied().collect())
            .unwrap_or_default();
        let player = (!played.is_empty()).then(|| {
            let spans: Vec<(f64, f64)> = sections
                .iter()
                .map(|(s, _, start)| (*start, s.length_beats()))
                .collect();
            (player_in_take(&spans, &played), args.player_channel - 1)
        });
        save_session(args, &config, &model_name, &sections, player)?;
    }
    Ok(())
}

fn save_session(
    args: &PlayArgs,
    config: &RuntimeConfig,
    model: &str,
    sections: &[(Section, SectionOrigin, f64)],
    player: Option<(PlayerPart, u8)>,
) -> Result<()> {
    let dir = args
        .output_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("infinite-jazz-session"));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut info = TakeInfo::from_config(config);
    info.seed = Some(args.generation.seed);
    info.model = model.to_string();
    info.prompt = args.llm.prompt.clone().unwrap_or_default();
    for (i, (section, origin, _)) in sections.iter().enumerate() {
        let mut meta = info.metadata();
        let source = match origin {
            SectionOrigin::Primary if model != "builtin" => "model",
            _ => "builtin",
        };
        meta.push(("source".into(), source.into()));
        let path = dir.join(format!("section_{:03}.txt", i + 1));
        let document = write_document(&meta, std::slice::from_ref(section));
        write_bytes_atomically(&path, document.as_bytes())?;
    }
    let all: Vec<Section> = sections.iter().map(|(s, _, _)| s.clone()).collect();
    let take = match &player {
        Some((part, _)) => write_take_with_player(&info, &all, part),
        None => write_take(&info, &all),
    };
    write_bytes_atomically(&dir.join("take.txt"), take.as_bytes())?;
    let player = player.as_ref().map(|(part, channel)| (part, *channel));
    write_bytes_atomically(
        &dir.join("take.mid"),
        &write_smf_with_player(&all, config, player)?,
    )?;
    eprintln!("saved {} sections in {}", sections.len(), dir.display());
    Ok(())
}

/// A running output: `finish` waits for it to end and says how it went.
pub trait Running {
    fn finish(self: Box<Self>) -> Result<String>;
}
