//! `infinite-jazz txt2midi`: archived tracker text to a MIDI file.

use anyhow::{Context, Result};
use clap::Args;
use infinite_jazz_engine::midi_file::write_smf;
use infinite_jazz_engine::take::{read_take, MAX_TAKE_BYTES};
use infinite_jazz_engine::timing::RuntimeConfig;
use infinite_jazz_files::{check_outputs, read_text_bounded, write_bytes_atomically};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct Txt2MidiArgs {
    /// Tracker text, as written by `render --save-output` or a model.
    pub input: PathBuf,
    /// The MIDI file to write.
    pub output: PathBuf,
}

pub fn run(args: &Txt2MidiArgs) -> Result<()> {
    check_outputs(&[&args.input], &[&args.output])?;
    let text = read_text_bounded(&args.input, MAX_TAKE_BYTES as u64)?;
    let take = read_take(&text, RuntimeConfig::default())
        .with_context(|| format!("reading {}", args.input.display()))?;
    for problem in &take.metadata_problems {
        eprintln!("warning: {problem}");
    }
    // A few examples and a count: a take can hold thousands of repairs.
    let mut shown = 0;
    for (section, log) in &take.repairs {
        for repair in log.kept.iter().take(5) {
            eprintln!("section {section}: {repair}");
            shown += 1;
        }
    }
    if take.repairs_total > shown {
        eprintln!(
            "… {} repairs in all, in {} sections",
            take.repairs_total, take.sections_repaired
        );
    }
    let bytes = write_smf(&take.sections, &take.config)?;
    write_bytes_atomically(&args.output, &bytes)?;
    eprintln!(
        "wrote {} ({} sections, {} BPM)",
        args.output.display(),
        take.sections.len(),
        take.config.tempo_bpm()
    );
    Ok(())
}
