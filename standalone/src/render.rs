//! `infinite-jazz render`: a take from a language model or the built-in composer, to MIDI
//! (and tracker text).

use crate::options::{GenerationArgs, LlmArgs};
use anyhow::{anyhow, Context, Result};
use clap::Args;
use infinite_jazz_engine::composer::BuiltinComposer;
use infinite_jazz_engine::composer::Listening;
use infinite_jazz_engine::listen::{Listen, PlayerPart};
use infinite_jazz_engine::midi_file::{read_player, write_smf_with_player};
use infinite_jazz_engine::section::Section;
use infinite_jazz_engine::take::{truncate_bars, write_take, TakeInfo};
use infinite_jazz_engine::tracker::write_document;
use infinite_jazz_engine::worker::{SectionRequest, SectionSource, SourceError};
use infinite_jazz_files::read_bounded;
use infinite_jazz_files::{check_outputs, check_wav_size, write_bytes_atomically};
use infinite_jazz_llm::source::model_source;
use infinite_jazz_llm::ModelSource;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct RenderArgs {
    /// Length of the take in bars.
    #[arg(long, default_value_t = 16)]
    pub bars: usize,
    /// The file to write: `.mid` for MIDI, `.wav` for audio through the SoundFont synth (the
    /// MIDI file is then written next to it too).
    #[arg(long)]
    pub out: PathBuf,
    /// General MIDI SoundFont for `.wav` output (default: the system's, e.g. Debian's
    /// fluid-soundfont-gm).
    #[arg(long)]
    pub soundfont: Option<PathBuf>,
    /// Sample rate of `.wav` output.
    #[arg(long, default_value_t = 48_000)]
    pub sample_rate: u32,
    /// Also write the take as tracker text: `<out>.txt`, or with --output-dir each section's
    /// text (with `#` metadata) and the whole take there.
    #[arg(long)]
    pub save_output: bool,
    /// Folder for the tracker text written by --save-output.
    #[arg(long)]
    pub output_dir: Option<PathBuf>,
    /// Longest the whole render may wait for a language model, in seconds (default: 60 plus
    /// four times the take's playing time); the built-in composer writes whatever is left.
    #[arg(long, value_name = "SECS")]
    pub deadline: Option<f64>,
    /// A recorded player (a MIDI file, placed by its own ticks per beat; any channel) the band
    /// answers; the output gets the player's part as a fifth track, "Player".
    #[arg(long, value_name = "FILE")]
    pub player: Option<PathBuf>,
    /// How the band listens to `--player`: accompany (the sax lays out while the player
    /// plays), trade (4-bar turns, the player first; trade2, trade8 for 2 or 8) or chords
    /// (held chords become the harmony).
    #[arg(long, default_value = "accompany")]
    pub listen: String,
    /// The player's MIDI channel in the output (1-16).
    #[arg(long, default_value_t = 4)]
    pub player_channel: u8,
    #[command(flatten)]
    pub generation: GenerationArgs,
    #[command(flatten)]
    pub llm: LlmArgs,
}

/// A player's MIDI file is read up to this size.
const MAX_PLAYER_BYTES: u64 = 16 * 1024 * 1024;

/// The player `--player` names, and how the band listens to it.
fn player_of(args: &RenderArgs) -> Result<Option<(PlayerPart, Listen)>> {
    let Some(path) = &args.player else {
        return Ok(None);
    };
    let listen: Listen = args.listen.parse().map_err(|e| anyhow!("--listen: {e}"))?;
    if !(1..=16).contains(&args.player_channel) {
        return Err(anyhow!("--player-channel must be between 1 and 16"));
    }
    let bytes =
        read_bounded(path, MAX_PLAYER_BYTES).with_context(|| format!("{}", path.display()))?;
    let player = read_player(&bytes).with_context(|| format!("{}", path.display()))?;
    Ok(Some((player, listen)))
}

/// Longest wait a rate limit may impose on an offline render before the composer steps in.
const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// Asks the model for a section, waiting out one rate limit if the deadline allows.
fn ask_model(
    model: &mut ModelSource,
    request: &SectionRequest,
    deadline: Instant,
) -> Result<Section, SourceError> {
    match model.next_section(request) {
        Err(SourceError::Failed {
            retry_after: Some(wait),
            message,
        }) if wait <= MAX_RATE_LIMIT_WAIT && Instant::now() + wait < deadline => {
            eprintln!("{message}");
            std::thread::sleep(wait);
            model.next_section(request)
        }
        other => other,
    }
}

/// Longest take `render` writes: about an hour at medium tempo.
const MAX_BARS: usize = 4096;

/// Every file a render writes, decided before any music is made, so a clash between them (or
/// with the SoundFont it reads) is refused before anything is written.
struct RenderOutputs {
    wav: Option<PathBuf>,
    midi: PathBuf,
    text: Option<PathBuf>,
    /// The folder for one text file per section, with --save-output --output-dir.
    section_dir: Option<PathBuf>,
}

impl RenderOutputs {
    fn plan(args: &RenderArgs) -> Self {
        let wav = args
            .out
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("wav"));
        let text = args.save_output.then(|| match &args.output_dir {
            Some(dir) => dir
                .join(args.out.file_stem().unwrap_or_default())
                .with_extension("txt"),
            None => args.out.with_extension("txt"),
        });
        RenderOutputs {
            wav: wav.then(|| args.out.clone()),
            midi: if wav {
                args.out.with_extension("mid")
            } else {
                args.out.clone()
            },
            text,
            section_dir: args.output_dir.clone().filter(|_| args.save_output),
        }
    }

    fn section_file(dir: &Path, index: usize) -> PathBuf {
        dir.join(format!("section_{:03}.txt", index + 1))
    }

    fn check(&self, sections: usize, soundfont: Option<&Path>) -> Result<()> {
        let section_files: Vec<PathBuf> = self
            .section_dir
            .iter()
            .flat_map(|dir| (0..sections).map(|i| Self::section_file(dir, i)))
            .collect();
        let outputs: Vec<&Path> = self
            .wav
            .iter()
            .chain(std::iter::once(&self.midi))
            .chain(self.text.iter())
            .chain(section_files.iter())
            .map(PathBuf::as_path)
            .collect();
        let inputs: Vec<&Path> = soundfont.into_iter().collect();
        Ok(check_outputs(&inputs, &outputs)?)
    }
}

pub fn run(args: &RenderArgs) -> Result<()> {
    if !(1..=MAX_BARS).contains(&args.bars) {
        return Err(anyhow!("--bars must be between 1 and {MAX_BARS}"));
    }
    let config = args.generation.config()?;
    let settings = args.generation.composer_settings()?;
    let outputs = RenderOutputs::plan(args);
    let per_section = config.bars_per_section();
    outputs.check(args.bars.div_ceil(per_section), args.soundfont.as_deref())?;
    let mut font = None;
    if let Some(wav) = &outputs.wav {
        if !(8_000..=192_000).contains(&args.sample_rate) {
            return Err(anyhow!("--sample-rate must be between 8000 and 192000"));
        }
        let beats = args.bars as f64 * config.meter().quarters_per_bar();
        let frames =
            (beats * 60.0 / config.tempo_bpm() * f64::from(args.sample_rate)).round() as u64;
        check_wav_size(frames, 2, 16).with_context(|| format!("{}", wav.display()))?;
        font = Some(crate::synth::load_soundfont(
            &crate::synth::find_soundfont(args.soundfont.as_deref())?,
        )?);
    }
    let player = player_of(args)?;
    let llm = args.llm.settings(settings.seed)?;
    let playing_secs =
        args.bars as f64 * config.meter().quarters_per_bar() * 60.0 / config.tempo_bpm();
    let deadline_secs = match args.deadline {
        Some(d) if d.is_finite() && d >= 0.0 => d,
        Some(_) => return Err(anyhow!("--deadline must be a number of seconds, 0 or more")),
        None => 60.0 + 4.0 * playing_secs,
    };
    let deadline = Instant::now() + Duration::from_secs_f64(deadline_secs.min(1e7));
    let mut composer = BuiltinComposer::new(&settings);
    let mut model = match &llm {
        Some(s) => model_source(s.clone(), &settings)?.map(|mut source| {
            source.set_deadline(Some(deadline));
            eprintln!("asking {} for each section", source.name());
            source
        }),
        None => None,
    };
    let mut sections: Vec<Section> = Vec::new();
    let mut origins = Vec::new();
    let mut bars_left = args.bars;
    let mut past_deadline = false;
    // Where the next section starts, for a player the band listens to.
    let mut start_beat = 0.0;
    while bars_left > 0 {
        // The composer moves through the form every section, so it can stand in at any point.
        let listening = player.as_ref().map(|(player, mode)| Listening {
            mode: *mode,
            player,
            start_beat,
        });
        let composed = composer
            .compose_listening(&config, listening.as_ref())
            .section;
        let recent_start = sections.len().saturating_sub(32);
        let (mut section, origin) = match model.as_mut() {
            Some(m) if Instant::now() < deadline => {
                let request = SectionRequest {
                    config: &config,
                    recent: &sections[recent_start..],
                    listening: listening.as_ref(),
                };
                match ask_model(m, &request, deadline) {
                    Ok(section) => (section, "model"),
                    Err(e) => {
                        eprintln!(
                            "section {}: {e}; the built-in composer plays it",
                            sections.len() + 1
                        );
                        (composed, "builtin")
                    }
                }
            }
            Some(_) => {
                if !past_deadline {
                    past_deadline = true;
                    eprintln!(
                        "the {deadline_secs:.0} s deadline has passed; the built-in composer \
                         writes the remaining {bars_left} bars"
                    );
                }
                (composed, "builtin")
            }
            None => (composed, "builtin"),
        };
        if bars_left < per_section {
            truncate_bars(&mut section, bars_left);
        }
        bars_left = bars_left.saturating_sub(per_section);
        start_beat += section.length_beats();
        sections.push(section);
        origins.push(origin);
    }
    let player_track = player
        .as_ref()
        .map(|(part, _)| (part, args.player_channel - 1));
    write_bytes_atomically(
        &outputs.midi,
        &write_smf_with_player(&sections, &config, player_track)?,
    )?;
    if let (Some(wav), Some(font)) = (&outputs.wav, &font) {
        crate::synth::write_take_wav(wav, &sections, &config, font, args.sample_rate)?;
        eprintln!("wrote {} and {}", wav.display(), outputs.midi.display());
    }
    eprintln!(
        "wrote {} ({} bars of {}, {}, {}, {} BPM, swing {})",
        args.out.display(),
        args.bars,
        config.meter(),
        config.feel(),
        composer.description(),
        config.tempo_bpm(),
        config.swing()
    );
    if let Some(m) = &model {
        let stats = m.stats().lock().map(|s| s.clone()).unwrap_or_default();
        eprintln!(
            "model: {} sections, {} failed calls, {} unusable answers, {} repairs, last latency {} ms",
            stats.sections,
            stats.failures,
            stats.unusable,
            stats.repairs,
            stats.last_latency_ms.map_or("-".to_string(), |l| l.to_string())
        );
    }
    if let Some(text) = &outputs.text {
        let mut info = TakeInfo::from_config(&config);
        info.seed = Some(settings.seed);
        info.form = composer.description().to_string();
        if let Some(s) = &llm {
            info.model = s.model.clone();
            info.prompt = s.vibe.clone();
        }
        if let Some(dir) = &outputs.section_dir {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            for (i, (section, origin)) in sections.iter().zip(&origins).enumerate() {
                let mut meta = info.metadata();
                meta.push(("source".into(), origin.to_string()));
                let document = write_document(&meta, std::slice::from_ref(section));
                write_bytes_atomically(&RenderOutputs::section_file(dir, i), document.as_bytes())?;
            }
        }
        write_bytes_atomically(text, write_take(&info, &sections).as_bytes())?;
        eprintln!("wrote {}", text.display());
    }
    Ok(())
}
