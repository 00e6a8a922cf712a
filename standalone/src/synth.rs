//! The built-in General MIDI synth (rustysynth): finds a SoundFont, turns sequencer events into
//! sound at their exact sample offsets, and renders whole takes to WAV.

use anyhow::{anyhow, Result};
use infinite_jazz_engine::midi_file::gm_program;
use infinite_jazz_engine::section::{Instrument, Section};
use infinite_jazz_engine::sequencer::MidiEvent;
use infinite_jazz_engine::timing::{nearest_unit, section_note_spans, RuntimeConfig};
use infinite_jazz_files::{check_wav_size, open_regular, write_atomically};
use rustysynth::{SoundFont, Synthesizer, SynthesizerSettings};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where Debian and other systems put General MIDI SoundFonts, best first.
const SOUNDFONT_LOCATIONS: [&str; 6] = [
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
    "/usr/local/share/soundfonts/default.sf2",
];

/// The SoundFont to use: the one given, else the first standard location that exists.
pub fn find_soundfont(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        if std::fs::symlink_metadata(path).is_err() {
            return Err(anyhow!("SoundFont {} does not exist", path.display()));
        }
        open_regular(path).map_err(|e| anyhow!("SoundFont: {e}"))?;
        return Ok(path.to_path_buf());
    }
    SOUNDFONT_LOCATIONS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            anyhow!(
                "no General MIDI SoundFont found; install one (Debian: sudo apt-get install \
                 fluid-soundfont-gm) or pass --soundfont FILE.sf2"
            )
        })
}

/// Largest SoundFont file read (FluidR3 is about 140 MB).
const MAX_SOUNDFONT_BYTES: u64 = 1 << 30;

pub fn load_soundfont(path: &Path) -> Result<Arc<SoundFont>> {
    let file = open_regular(path)?;
    if file.metadata().map(|m| m.len()).unwrap_or(0) > MAX_SOUNDFONT_BYTES {
        return Err(anyhow!("{} is larger than 1 GiB", path.display()));
    }
    let mut reader = std::io::BufReader::new(file.take(MAX_SOUNDFONT_BYTES));
    let font = SoundFont::new(&mut reader)
        .map_err(|e| anyhow!("{} is not a usable SoundFont: {e:?}", path.display()))?;
    Ok(Arc::new(font))
}

/// A synth that plays sequencer events at sample offsets.
pub struct BandSynth {
    synth: Synthesizer,
}

impl BandSynth {
    pub fn new(font: &Arc<SoundFont>, sample_rate: u32, config: &RuntimeConfig) -> Result<Self> {
        let settings = SynthesizerSettings::new(sample_rate as i32);
        let mut synth = Synthesizer::new(font, &settings)
            .map_err(|e| anyhow!("cannot start the synth: {e:?}"))?;
        synth.set_master_volume(0.5);
        for instrument in Instrument::ALL {
            if let Some(p) = gm_program(instrument) {
                synth.process_midi_message(
                    i32::from(config.channel(instrument)),
                    0xC0,
                    i32::from(p),
                    0,
                );
            }
        }
        Ok(BandSynth { synth })
    }

    pub fn apply(&mut self, event: &MidiEvent) {
        match *event {
            MidiEvent::NoteOn {
                channel,
                key,
                velocity,
                ..
            } => self
                .synth
                .note_on(i32::from(channel), i32::from(key), i32::from(velocity)),
            MidiEvent::NoteOff { channel, key, .. } => {
                self.synth.note_off(i32::from(channel), i32::from(key))
            }
            MidiEvent::AllNotesOff { channel, .. } => {
                self.synth.note_off_all_channel(i32::from(channel), false)
            }
        }
    }

    /// Renders into the two buffers, applying each event at its sample. `events` must be in
    /// time order with `sample()` inside the buffers.
    pub fn render_block(&mut self, events: &[MidiEvent], left: &mut [f32], right: &mut [f32]) {
        let mut at = 0usize;
        for event in events {
            let sample = (event.sample() as usize).min(left.len());
            if sample > at {
                self.synth
                    .render(&mut left[at..sample], &mut right[at..sample]);
                at = sample;
            }
            self.apply(event);
        }
        if at < left.len() {
            self.synth.render(&mut left[at..], &mut right[at..]);
        }
    }
}

/// Frames of a take at `sample_rate`: exactly as long as the music (bars × beats × 60 / tempo).
pub fn take_frames(sections: &[Section], config: &RuntimeConfig, sample_rate: u32) -> u64 {
    let samples_per_beat = f64::from(sample_rate) * 60.0 / config.tempo_bpm();
    let total_beats: f64 = sections.iter().map(Section::length_beats).sum();
    (total_beats * samples_per_beat).round() as u64
}

/// Every note of the take as (frame, event), in time order: each at its nearest frame, as live.
fn take_events(
    sections: &[Section],
    config: &RuntimeConfig,
    sample_rate: u32,
) -> Vec<(u64, MidiEvent)> {
    let samples_per_beat = f64::from(sample_rate) * 60.0 / config.tempo_bpm();
    let mut events: Vec<(u64, MidiEvent)> = Vec::new();
    let mut offset = 0.0;
    for section in sections {
        for span in section_note_spans(section, config) {
            let at = |beat: f64| nearest_unit((offset + beat) * samples_per_beat).max(0.0) as u64;
            events.push((
                at(span.start_beats),
                MidiEvent::NoteOn {
                    sample: 0,
                    channel: span.channel,
                    key: span.key,
                    velocity: span.velocity,
                },
            ));
            events.push((
                at(span.end_beats),
                MidiEvent::NoteOff {
                    sample: 0,
                    channel: span.channel,
                    key: span.key,
                },
            ));
        }
        offset += section.length_beats();
    }
    events.sort_by_key(|(at, e)| (*at, matches!(e, MidiEvent::NoteOn { .. })));
    events
}

const RENDER_BLOCK: usize = 512;

/// Renders the take block by block, scaled by `gain`, handing each block to `sink`; returns
/// the peak before scaling. Memory stays at one block whatever the take's length.
fn render_blocks(
    sections: &[Section],
    config: &RuntimeConfig,
    font: &Arc<SoundFont>,
    sample_rate: u32,
    gain: f32,
    mut sink: impl FnMut(&[f32], &[f32]) -> Result<()>,
) -> Result<f32> {
    let total = take_frames(sections, config, sample_rate);
    let events = take_events(sections, config, sample_rate);
    let mut synth = BandSynth::new(font, sample_rate, config)?;
    let mut left = [0.0f32; RENDER_BLOCK];
    let mut right = [0.0f32; RENDER_BLOCK];
    let mut next = 0;
    let mut block_events = Vec::new();
    let mut peak = 0.0f32;
    let mut start = 0u64;
    while start < total {
        let len = (total - start).min(RENDER_BLOCK as u64) as usize;
        let end = start + len as u64;
        block_events.clear();
        while next < events.len() && events[next].0 < end {
            let (at, mut event) = events[next];
            let local = at.saturating_sub(start) as u32;
            match &mut event {
                MidiEvent::NoteOn { sample, .. }
                | MidiEvent::NoteOff { sample, .. }
                | MidiEvent::AllNotesOff { sample, .. } => *sample = local,
            }
            block_events.push(event);
            next += 1;
        }
        let (l, r) = (&mut left[..len], &mut right[..len]);
        synth.render_block(&block_events, l, r);
        for s in l.iter_mut().chain(r.iter_mut()) {
            peak = peak.max(s.abs());
            *s *= gain;
        }
        sink(l, r)?;
        start = end;
    }
    Ok(peak)
}

/// Writes the take as 16-bit stereo PCM, peak-normalised to -1 dBFS, exactly as long as the
/// music. It is rendered twice (once to find the peak, once to write), so memory stays small
/// for takes of any length; the file appears only when it is complete.
pub fn write_take_wav(
    path: &Path,
    sections: &[Section],
    config: &RuntimeConfig,
    font: &Arc<SoundFont>,
    sample_rate: u32,
) -> Result<()> {
    check_wav_size(take_frames(sections, config, sample_rate), 2, 16)?;
    let peak = render_blocks(sections, config, font, sample_rate, 1.0, |_, _| Ok(()))?;
    let gain = if peak > 0.0 { 0.891 / peak } else { 1.0 };
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    write_atomically(path, |file| {
        let render = || -> Result<()> {
            let mut writer = hound::WavWriter::new(file, spec)?;
            render_blocks(sections, config, font, sample_rate, gain, |l, r| {
                for (l, r) in l.iter().zip(r) {
                    for s in [l, r] {
                        writer.write_sample((s.clamp(-1.0, 1.0) * 32767.0).round() as i16)?;
                    }
                }
                Ok(())
            })?;
            writer.finalize()?;
            Ok(())
        };
        render().map_err(|e| std::io::Error::other(format!("{e:#}")))
    })?;
    Ok(())
}
