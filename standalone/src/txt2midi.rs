//! `infinite-jazz txt2midi`: archived tracker text to a MIDI file.

use anyhow::{anyhow, Context, Result};
use clap::Args;
use infinite_jazz_engine::midi_file::write_smf;
use infinite_jazz_engine::take::{read_take, MAX_TAKE_BYTES};
use infinite_jazz_engine::timing::RuntimeConfig;
use std::io::Read;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct Txt2MidiArgs {
    /// Tracker text, as written by `render --save-output` or a model.
    pub input: PathBuf,
    /// The MIDI file to write.
    pub output: PathBuf,
}

pub fn run(args: &Txt2MidiArgs) -> Result<()> {
    let file = std::fs::File::open(&args.input)
        .with_context(|| format!("opening {}", args.input.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_TAKE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", args.input.display()))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow!("{} is not UTF-8 text", args.input.display()))?;
    let take = read_take(&text, RuntimeConfig::default())
        .with_context(|| format!("reading {}", args.input.display()))?;
    for problem in &take.metadata_problems {
        eprintln!("warning: {problem}; using the default");
    }
    for (section, log) in &take.repairs {
        for repair in &log.kept {
            eprintln!("section {section}: {repair}");
        }
        if log.omitted > 0 {
            eprintln!("section {section}: … and {} more repairs", log.omitted);
        }
    }
    let bytes = write_smf(&take.sections, &take.config)?;
    std::fs::write(&args.output, bytes)
        .with_context(|| format!("writing {}", args.output.display()))?;
    eprintln!(
        "wrote {} ({} sections, {} BPM)",
        args.output.display(),
        take.sections.len(),
        take.config.tempo_bpm()
    );
    Ok(())
}
