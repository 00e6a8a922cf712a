//! Standard MIDI Files of a take: one track per instrument, placed by the shared timing model.

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

/// A take that could not be written as a Standard MIDI File.
#[derive(Debug, Error)]
pub enum MidiFileError {
    /// The encoder failed (it writes to memory, so only on an impossible size).
    #[error("could not encode the MIDI file: {0}")]
    Encode(#[from] std::io::Error),
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

    let mut tracks: Vec<Track> = Vec::with_capacity(4);
    for instrument in Instrument::ALL {
        let mut events = std::mem::take(&mut per_track[instrument.index()]);
        // Offs before ons at the same tick, so a repeated key is released then struck.
        events.sort_by_key(|e| (e.0, e.1));
        let mut track: Track = Vec::with_capacity(events.len() + 8);
        let meta = |m| TrackEvent {
            delta: u28::new(0),
            kind: TrackEventKind::Meta(m),
        };
        track.push(meta(MetaMessage::TrackName(track_name(instrument))));
        if instrument == Instrument::Bass {
            let micros = (60_000_000.0 / config.tempo_bpm()).round() as u32;
            track.push(meta(MetaMessage::Tempo(u24::new(micros.min(0xFF_FFFF)))));
        }
        let channel = u4::new(config.channel(instrument));
        if let Some(p) = gm_program(instrument) {
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
        let mut signatures = match instrument {
            Instrument::Bass if meters.is_empty() => vec![(0, config.meter())],
            Instrument::Bass => std::mem::take(&mut meters),
            _ => Vec::new(),
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
}
