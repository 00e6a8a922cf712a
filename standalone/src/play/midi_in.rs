//! The player's MIDI input through midir (ALSA, CoreMIDI, WinMM), for the outputs that are not
//! JACK. midir calls back on a thread of its own as each message arrives; the notes go through
//! a fixed ring to the output's clock, which places them at the start of the next block it
//! renders (a few milliseconds later: the output's lookahead or audio buffer). JACK gives the
//! player's notes to the process callback itself, to the frame.

use super::midi_port::{pick_port, print_ports};
use anyhow::{anyhow, Result};
use infinite_jazz_engine::player_through::{note_from_midi, PlayerThrough};
use midir::{MidiInput, MidiInputConnection};

/// Notes the ring holds between two blocks of the output.
const RING: usize = 1024;

fn open_input(name: &str) -> Result<MidiInput> {
    MidiInput::new(name).map_err(|e| {
        anyhow!("MIDI input is not available here ({e}); on Linux it needs ALSA's sequencer (/dev/snd/seq). Try --backend jack")
    })
}

/// Prints the MIDI input ports, numbered as --midi-in takes them.
pub fn list_inputs(name: &str) -> Result<()> {
    print_ports(&open_input(name)?, "input");
    Ok(())
}

/// An open MIDI input: its notes wait in `notes` until the output takes them.
pub struct PlayerPort {
    _connection: MidiInputConnection<()>,
    notes: rtrb::Consumer<(u8, u8)>,
}

impl PlayerPort {
    /// Opens the input port `wanted` (its index or part of its name).
    pub fn open(client_name: &str, wanted: &str) -> Result<PlayerPort> {
        let input = open_input(client_name)?;
        let (port, name) = pick_port(&input, wanted, "input")?;
        let (mut producer, notes) = rtrb::RingBuffer::new(RING);
        let connection = input
            .connect(
                &port,
                "player",
                move |_, bytes, _| {
                    if let Some(note) = note_from_midi(bytes) {
                        // A full ring drops the note: the output is not taking them.
                        let _ = producer.push(note);
                    }
                },
                (),
            )
            .map_err(|e| anyhow!("cannot open the MIDI input {name}: {e}"))?;
        Ok(PlayerPort {
            _connection: connection,
            notes,
        })
    }

    /// Moves the notes that arrived into the block starting now.
    pub fn push_into(&mut self, through: &mut PlayerThrough) {
        while let Ok((key, velocity)) = self.notes.pop() {
            through.push(0, key, velocity);
        }
    }
}
