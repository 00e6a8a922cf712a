//! `infinite-jazz render`: a take from a language model or the built-in composer, to MIDI
//! (and tracker text).

use crate::options::{GenerationArgs, LlmArgs};
use anyhow::{anyhow, Context, Result};
use clap::Args;
use infinite_jazz_engine::composer::BuiltinComposer;
use infinite_jazz_engine::midi_file::write_smf;
use infinite_jazz_engine::section::Section;
use infinite_jazz_engine::take::{truncate_bars, write_take, TakeInfo};
use infinite_jazz_engine::tracker::write_document;
use infinite_jazz_engine::worker::{SectionRequest, SectionSource, SourceError};
use infinite_jazz_llm::ModelSource;
use std::path::PathBuf;
use std::time::Duration;

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
    #[command(flatten)]
    pub generation: GenerationArgs,
    #[command(flatten)]
    pub llm: LlmArgs,
}

/// Longest wait a rate limit may impose on an offline render before the composer steps in.
const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// Asks the model for a section, waiting out one rate limit.
fn ask_model(model: &mut ModelSource, request: &SectionRequest) -> Result<Section, SourceError> {
    match model.next_section(request) {
        Err(SourceError::Failed {
            retry_after: Some(wait),
            message,
        }) if wait <= MAX_RATE_LIMIT_WAIT => {
            eprintln!("{message}");
            std::thread::sleep(wait);
            model.next_section(request)
        }
        other => other,
    }
}

/// Longest take `render` writes: about an hour at medium tempo.
const MAX_BARS: usize = 4096;

pub fn run(args: &RenderArgs) -> Result<()> {
    if !(1..=MAX_BARS).contains(&args.bars) {
        return Err(anyhow!("--bars must be between 1 and {MAX_BARS}"));
    }
    let config = args.generation.config()?;
    let settings = args.generation.composer_settings()?;
    let llm = args.llm.settings(settings.seed)?;
    let mut composer = BuiltinComposer::new(&settings);
    let mut model = match &llm {
        Some(s) => {
            let source = ModelSource::new(s.clone())?;
            eprintln!("asking {} for each section", source.name());
            Some(match &settings.progression {
                Some(p) => source.with_progression(p.clone()),
                None => source,
            })
        }
        None => None,
    };
    let per_section = config.bars_per_section();
    let mut sections: Vec<Section> = Vec::new();
    let mut origins = Vec::new();
    let mut bars_left = args.bars;
    while bars_left > 0 {
        // The composer moves through the form every section, so it can stand in at any point.
        let composed = composer.compose_next(&config).section;
        let recent_start = sections.len().saturating_sub(32);
        let (mut section, origin) = match model.as_mut() {
            None => (composed, "builtin"),
            Some(m) => {
                let request = SectionRequest {
                    config: &config,
                    recent: &sections[recent_start..],
                };
                match ask_model(m, &request) {
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
        };
        if bars_left < per_section {
            truncate_bars(&mut section, bars_left);
        }
        bars_left = bars_left.saturating_sub(per_section);
        sections.push(section);
        origins.push(origin);
    }
    let wav = args
        .out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("wav"));
    let midi_path = if wav {
        args.out.with_extension("mid")
    } else {
        args.out.clone()
    };
    let bytes = write_smf(&sections, &config)?;
    std::fs::write(&midi_path, bytes)
        .with_context(|| format!("writing {}", midi_path.display()))?;
    if wav {
        if !(8_000..=192_000).contains(&args.sample_rate) {
            return Err(anyhow!("--sample-rate must be between 8000 and 192000"));
        }
        let font = crate::synth::load_soundfont(&crate::synth::find_soundfont(
            args.soundfont.as_deref(),
        )?)?;
        let (left, right) = crate::synth::render_take(&sections, &config, &font, args.sample_rate)?;
        crate::synth::write_wav(&args.out, &left, &right, args.sample_rate)?;
        eprintln!("wrote {} and {}", args.out.display(), midi_path.display());
    }
    eprintln!(
        "wrote {} ({} bars, {}, {} BPM, swing {})",
        args.out.display(),
        args.bars,
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
    if args.save_output {
        let mut info = TakeInfo::from_config(&config);
        info.seed = Some(settings.seed);
        info.form = composer.description().to_string();
        if let Some(s) = &llm {
            info.model = s.model.clone();
            info.prompt = s.vibe.clone();
        }
        let path = match &args.output_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                for (i, (section, origin)) in sections.iter().zip(&origins).enumerate() {
                    let mut meta = info.metadata();
                    meta.push(("source".into(), origin.to_string()));
                    let file = dir.join(format!("section_{:03}.txt", i + 1));
                    std::fs::write(&file, write_document(&meta, std::slice::from_ref(section)))
                        .with_context(|| format!("writing {}", file.display()))?;
                }
                let stem = args.out.file_stem().unwrap_or_default();
                dir.join(stem).with_extension("txt")
            }
            None => args.out.with_extension("txt"),
        };
        std::fs::write(&path, write_take(&info, &sections))
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
