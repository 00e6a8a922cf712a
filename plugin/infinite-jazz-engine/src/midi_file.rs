//! Standard MIDI Files of a take: one track per instrument, placed by the shared timing model.

use super::listen::{PlayerNote, PlayerPart};
use super::meter::Meter;
use super::section::{Instrument, Section};
use super::timing::{section_note_spans, RuntimeConfig};
use midly::num::{u15, u24, u28, u4, u7};
use midly::{
    Format, Header, MetaMessage, MidiMessage, Smf, Timing, Track, TrackEvent, TrackEventKind,
};
use thiserror::Error;

/// Ticks per quarter note. At 960 a tick is ~0.5 ms at 120 BPM: swung positions are rounded
/// to the nearest tick, the only rounding between the timing model and the file.
pub const TICKS_PER_BEAT: u16 = 960;

/// A take that could not be written, or a player's file that could not be read, as a Standard
/// MIDI File.
#[derive(Debug, Error)]
pub enum MidiFileError {
    /// The encoder failed (it writes to memory, so only on an impossible size).
    #[error("could not encode the MIDI file: {0}")]
    Encode(#[from] std::io::Error),
    /// Not a Standard MIDI File, or a damaged one.
    #[error("not a readable MIDI file: {0}")]
    Parse(String),
    /// Timed in SMPTE frames rather than beats: its notes have no place in bars.
    #[error("the MIDI file is timed in SMPTE frames, not in beats; export it with a tempo (PPQ) timebase")]
    Timecode,
}

/// The notes of a player's MIDI file, in beats (its own ticks per quarter note place them;
/// every track and channel counts). A note-on without its note-off ends at the next note-on of
/// the same key or at the file's end.
pub fn read_player(bytes: &[u8]) -> Result<PlayerPart, MidiFileError> {
    let smf = Smf::parse(bytes).map_err(|e| MidiFileError::Parse(e.to_string()))?;
    let Timing::Metrical(ppq) = smf.header.timing else {
        return Err(MidiFileError::Timecode);
    };
    let per_beat = f64::from(ppq.as_int().max(1));
    let mut notes = Vec::new();
    for track in &smf.tracks {
        if notes.len() > crate::listen::MAX_PLAYER_NOTES {
            break;
        }
        // Sounding notes by channel and key: (start tick, velocity).
        let mut open: std::collections::HashMap<(u8, u8), (u64, u8)> = Default::default();
        let mut tick = 0u64;
        for event in track {
            tick += u64::from(event.delta.as_int());
            let TrackEventKind::Midi { channel, message } = event.kind else {
                continue;
            };
            let (key, on) = match message {
                MidiMessage::NoteOn { key, vel } if vel.as_int() > 0 => (key, Some(vel.as_int())),
                MidiMessage::NoteOn { key, .. } | MidiMessage::NoteOff { key, .. } => (key, None),
                _ => continue,
            };
            let slot = (channel.as_int(), key.as_int());
            if let Some((start, velocity)) = open.remove(&slot) {
                notes.push((start, tick, slot.1, velocity));
            }
            if let Some(velocity) = on {
                open.insert(slot, (tick, velocity));
            }
            if notes.len() > crate::listen::MAX_PLAYER_NOTES {
                break;
            }
        }
        notes.extend(
            open.into_iter()
                .map(|((_, key), (start, v))| (start, tick, key, v)),
        );
    }
    Ok(PlayerPart::new(notes.into_iter().map(
        |(start, end, key, velocity)| PlayerNote {
            start: start as f64 / per_beat,
            end: end.max(start) as f64 / per_beat,
            key,
            velocity,
        },
    )))
}

/// General MIDI programs that fit the quartet (0-based): acoustic bass, acoustic grand piano,
/// tenor sax. Drums on channel 10 need none.
pub fn gm_program(instrument: Instrument) -> Option<u8> {
    match instrument {
        Instrument::Bass => Some(32),
        Instrument::Piano => Some(0),
        Instrument::Sax => Some(66),
        Instrument::Drums => None,
    }
}

fn track_name(instrument: Instrument) -> &'static [u8] {
    match instrument {
        Instrument::Bass => b"Bass",
        Instrument::Drums => b"Drums",
        Instrument::Piano => b"Piano",
        Instrument::Sax => b"Sax",
    }
}

/// (tick, is note-on, channel, key, velocity).
type TickEvent = (u32, bool, u8, u8, u8);

/// A track to write: (name, 0-based channel, General MIDI program, events).
type TrackPlan = (&'static [u8], u8, Option<u8>, Vec<TickEvent>);

/// The time-signature meta event of a meter: numerator, denominator as a power of two, MIDI
/// clocks per metronome click (a quarter is 24; a dotted quarter, 36, in compound meters) and
/// 32nds per quarter.
fn time_signature(meter: Meter) -> MetaMessage<'static> {
    let click = if meter.is_compound() {
        36
    } else {
        (96 / u32::from(meter.denominator())).clamp(6, 48) as u8
    };
    MetaMessage::TimeSignature(
        meter.numerator(),
        meter.denominator().trailing_zeros() as u8,
        click,
        8,
    )
}

/// Beats to the file's ticks, rounded to the nearest tick as every output rounds.
pub fn beats_to_ticks(beats: f64) -> u32 {
    crate::timing::nearest_unit(beats * f64::from(TICKS_PER_BEAT)).max(0.0) as u32
}

/// Encodes consecutive sections as a format-1 file with four tracks (bass, drums, piano,
/// sax). The first track also carries the tempo and a time signature at the start and
/// wherever a section's meter differs from the one before.
pub fn write_smf(sections: &[Section], config: &RuntimeConfig) -> Result<Vec<u8>, MidiFileError> {
    write_smf_with_player(sections, config, None)
}

/// [`write_smf`] with a fifth track, "Player", holding what a player played along (on 0-based
/// channel `.1`), cut to the band's length.
pub fn write_smf_with_player(
    sections: &[Section],
    config: &RuntimeConfig,
    player: Option<(&PlayerPart, u8)>,
) -> Result<Vec<u8>, MidiFileError> {
    let mut per_track: [Vec<TickEvent>; 4] = Default::default();
    let mut meters: Vec<(u32, Meter)> = Vec::new();
    let mut offset_beats = 0.0;
    for section in sections {
        if meters.last().is_none_or(|(_, m)| *m != section.meter) {
            meters.push((beats_to_ticks(offset_beats), section.meter));
        }
        for span in section_note_spans(section, config) {
            let events = &mut per_track[span.instrument.index()];
            events.push((
                beats_to_ticks(offset_beats + span.start_beats),
                true,
                span.channel,
                span.key,
                span.velocity,
            ));
            events.push((
                beats_to_ticks(offset_beats + span.end_beats),
                false,
                span.channel,
                span.key,
                0,
            ));
        }
        offset_beats += section.length_beats();
    }
    let end_tick = beats_to_ticks(offset_beats);

    // Each track, the band's first.
    let mut plans: Vec<TrackPlan> = Instrument::ALL
        .into_iter()
        .map(|i| {
            let events = std::mem::take(&mut per_track[i.index()]);
            (track_name(i), config.channel(i), gm_program(i), events)
        })
        .collect();
    if let Some((player, channel)) = player {
        let channel = channel.min(15);
        let mut events = Vec::new();
        for note in player.notes() {
            let start = beats_to_ticks(note.start);
            if start >= end_tick {
                break;
            }
            events.push((start, true, channel, note.key, note.velocity));
            events.push((
                beats_to_ticks(note.end).min(end_tick),
                false,
                channel,
                note.key,
                0,
            ));
        }
        plans.push((b"Player", channel, None, events));
    }

    let mut tracks: Vec<Track> = Vec::with_capacity(plans.len());
    for (index, (name, channel, program, mut events)) in plans.into_iter().enumerate() {
        let first = index == 0;
        // Offs before ons at the same tick, so a repeated key is released then struck.
        events.sort_by_key(|e| (e.0, e.1));
        let mut track: Track = Vec::with_capacity(events.len() + 8);
        let meta = |m| TrackEvent {
            delta: u28::new(0),
            kind: TrackEventKind::Meta(m),
        };
        track.push(meta(MetaMessage::TrackName(name)));
        if first {
            let micros = (60_000_000.0 / config.tempo_bpm()).round() as u32;
            track.push(meta(MetaMessage::Tempo(u24::new(micros.min(0xFF_FFFF)))));
        }
        let channel = u4::new(channel);
        if let Some(p) = program {
            track.push(TrackEvent {
                delta: u28::new(0),
                kind: TrackEventKind::Midi {
                    channel,
                    message: MidiMessage::ProgramChange {
                        program: u7::new(p),
                    },
                },
            });
        }
        let mut now = 0u32;
        let mut signatures = match first {
            true if meters.is_empty() => vec![(0, config.meter())],
            true => std::mem::take(&mut meters),
            false => Vec::new(),
        }
        .into_iter()
        .peekable();
        for (tick, on, ch, key, vel) in events {
            // A new meter takes effect before the notes of its first bar.
            while let Some((at, meter)) = signatures.next_if(|(at, _)| *at <= tick) {
                track.push(TrackEvent {
                    delta: u28::new(at - now),
                    kind: TrackEventKind::Meta(time_signature(meter)),
                });
                now = at;
            }
            let message = if on {
                MidiMessage::NoteOn {
                    key: u7::new(key),
                    vel: u7::new(vel),
                }
            } else {
                MidiMessage::NoteOff {
                    key: u7::new(key),
                    vel: u7::new(64),
                }
            };
            track.push(TrackEvent {
                delta: u28::new(tick - now),
                kind: TrackEventKind::Midi {
                    channel: u4::new(ch),
                    message,
                },
            });
            now = tick;
        }
        for (at, meter) in signatures {
            track.push(TrackEvent {
                delta: u28::new(at.saturating_sub(now)),
                kind: TrackEventKind::Meta(time_signature(meter)),
            });
            now = now.max(at);
        }
        track.push(TrackEvent {
            delta: u28::new(end_tick.saturating_sub(now)),
            kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
        });
        tracks.push(track);
    }
    let smf = Smf {
        header: Header::new(Format::Parallel, Timing::Metrical(u15::new(TICKS_PER_BEAT))),
        tracks,
    };
    let mut bytes = Vec::new();
    smf.write_std(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::section::Note;
    use crate::timing::step_to_beats;

    #[test]
    fn notes_land_on_swung_ticks_in_four_tracks() {
        let config = RuntimeConfig::default()
            .with_bars_per_section(1)
            .with_tempo(150.0);
        let mut section = Section::empty(16);
        section.part_mut(Instrument::Sax).set(
            6,
            vec![Note {
                key: 65,
                velocity: 90,
            }],
        );
        let bytes = write_smf(&[section.clone(), section], &config).expect("encodes");
        let smf = Smf::parse(&bytes).expect("parses");
        assert_eq!(smf.tracks.len(), 4);
        let mut tick = 0u32;
        let mut ons = Vec::new();
        for ev in &smf.tracks[3] {
            tick += ev.delta.as_int();
            if let TrackEventKind::Midi {
                channel,
                message: MidiMessage::NoteOn { key, .. },
            } = ev.kind
            {
                assert_eq!(channel.as_int(), 2);
                assert_eq!(key.as_int(), 65);
                ons.push(tick);
            }
        }
        let expected = |beats: f64| beats_to_ticks(beats);
        assert_eq!(
            ons,
            vec![
                expected(step_to_beats(6, 0.62, Meter::COMMON)),
                expected(4.0 + step_to_beats(6, 0.62, Meter::COMMON))
            ]
        );
        let tempo = smf.tracks[0].iter().find_map(|e| match e.kind {
            TrackEventKind::Meta(MetaMessage::Tempo(t)) => Some(t.as_int()),
            _ => None,
        });
        assert_eq!(tempo, Some(400_000));
    }

    #[test]
    fn a_players_file_is_read_in_beats_whatever_its_channels_and_gaps() {
        let ev = |delta: u32, kind| TrackEvent {
            delta: u28::new(delta),
            kind,
        };
        let note = |channel: u8, key: u8, vel: u8| TrackEventKind::Midi {
            channel: u4::new(channel),
            message: MidiMessage::NoteOn {
                key: u7::new(key),
                vel: u7::new(vel),
            },
        };
        let track = vec![
            ev(0, note(5, 60, 100)),
            // A note-on of velocity 0 ends a note, as many keyboards send it.
            ev(240, note(5, 60, 0)),
            ev(0, note(9, 64, 80)),
            // Never released: it ends where the file ends.
            ev(480, note(9, 67, 70)),
            ev(960, TrackEventKind::Meta(MetaMessage::EndOfTrack)),
        ];
        let smf = Smf {
            header: Header::new(Format::SingleTrack, Timing::Metrical(u15::new(480))),
            tracks: vec![track.clone()],
        };
        let mut bytes = Vec::new();
        smf.write_std(&mut bytes).expect("encodes");
        let part = read_player(&bytes).expect("reads");
        let notes: Vec<(f64, f64, u8)> = part
            .notes()
            .iter()
            .map(|n| (n.start, n.end, n.key))
            .collect();
        // The 64 is never released either: it and the 67 end with the file.
        assert_eq!(notes, [(0.0, 0.5, 60), (0.5, 3.5, 64), (1.5, 3.5, 67)]);
        let smpte = Smf {
            header: Header::new(Format::SingleTrack, Timing::Timecode(midly::Fps::Fps25, 40)),
            tracks: vec![track],
        };
        let mut bytes = Vec::new();
        smpte.write_std(&mut bytes).expect("encodes");
        assert!(matches!(read_player(&bytes), Err(MidiFileError::Timecode)));
        assert!(matches!(
            read_player(b"MThd\0\0"),
            Err(MidiFileError::Parse(_))
        ));
    }
}
