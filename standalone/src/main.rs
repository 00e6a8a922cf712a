//! `infinite-jazz`: the quartet outside a DAW.

mod options;
mod play;
mod render;
mod synth;
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
    command: Option<Command>,
    /// With no command: `play` with these arguments.
    #[command(flatten)]
    play: play::PlayArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Play the band live until Ctrl+C (or --bars N): built-in synth, JACK, or a MIDI port.
    Play(Box<play::PlayArgs>),
    /// Compose a take offline and write it as a Standard MIDI File.
    Render(Box<render::RenderArgs>),
    /// Convert archived tracker text (with its `#` metadata) to a MIDI file.
    Txt2midi(txt2midi::Txt2MidiArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Play(args)) => play::run(&args),
        Some(Command::Render(args)) => render::run(&args),
        Some(Command::Txt2midi(args)) => txt2midi::run(&args),
        None => play::run(&cli.play),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
