//! `infinite-jazz`: the quartet outside a DAW.

mod options;
mod render;
mod txt2midi;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "infinite-jazz",
    version,
    about = "An endless jazz quartet as MIDI"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compose a take offline and write it as a Standard MIDI File.
    Render(Box<render::RenderArgs>),
    /// Convert archived tracker text (with its `#` metadata) to a MIDI file.
    Txt2midi(txt2midi::Txt2MidiArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Render(args) => render::run(&args),
        Command::Txt2midi(args) => txt2midi::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
