//! `infinite-jazz render`: a take from the built-in composer, to MIDI (and tracker text).

use crate::options::GenerationArgs;
use anyhow::{anyhow, Context, Result};
use clap::Args;
use infinite_jazz_engine::composer::BuiltinComposer;
use infinite_jazz_engine::midi_file::write_smf;
use infinite_jazz_engine::take::{truncate_bars, write_take, TakeInfo};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct RenderArgs {
    /// Length of the take in bars.
    #[arg(long, default_value_t = 16)]
    pub bars: usize,
    /// The MIDI file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the take as tracker text (`<out>.txt`, or inside --output-dir).
    #[arg(long)]
    pub save_output: bool,
    /// Folder for the tracker text written by --save-output.
    #[arg(long)]
    pub output_dir: Option<PathBuf>,
    #[command(flatten)]
    pub generation: GenerationArgs,
}

/// Longest take `render` writes: about an hour at medium tempo.
const MAX_BARS: usize = 4096;

pub fn run(args: &RenderArgs) -> Result<()> {
    if !(1..=MAX_BARS).contains(&args.bars) {
        return Err(anyhow!("--bars must be between 1 and {MAX_BARS}"));
    }
    let config = args.generation.config()?;
    let settings = args.generation.composer_settings()?;
    let mut composer = BuiltinComposer::new(&settings);
    let per_section = config.bars_per_section();
    let mut sections = Vec::new();
    let mut bars_left = args.bars;
    while bars_left > 0 {
        let mut section = composer.compose_next(&config).section;
        if bars_left < per_section {
            truncate_bars(&mut section, bars_left);
        }
        bars_left = bars_left.saturating_sub(per_section);
        sections.push(section);
    }
    let bytes = write_smf(&sections, &config)?;
    std::fs::write(&args.out, bytes).with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "wrote {} ({} bars, {}, {} BPM, swing {})",
        args.out.display(),
        args.bars,
        composer.description(),
        config.tempo_bpm(),
        config.swing()
    );
    if args.save_output {
        let mut info = TakeInfo::from_config(&config);
        info.seed = Some(settings.seed);
        info.form = composer.description().to_string();
        let text = write_take(&info, &sections);
        let path = match &args.output_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                let stem = args.out.file_stem().unwrap_or_default();
                dir.join(stem).with_extension("txt")
            }
            None => args.out.with_extension("txt"),
        };
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
