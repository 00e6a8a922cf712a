//! The built-in General MIDI synth (rustysynth): finds a SoundFont, turns sequencer events into
//! sound at their exact sample offsets, and renders whole takes to WAV.

use anyhow::{anyhow, Context, Result};
use infinite_jazz_engine::midi_file::gm_program;
use infinite_jazz_engine::section::{Instrument, Section, STEPS_PER_BEAT};
use infinite_jazz_engine::sequencer::MidiEvent;
use infinite_jazz_engine::timing::{section_note_spans, RuntimeConfig};
use rustysynth::{SoundFont, Synthesizer, SynthesizerSettings};
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
        if path.is_file() {
            return Ok(path.to_path_buf());
        }
        return Err(anyhow!("SoundFont {} does not exist", path.display()));
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
    let size = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    if size > MAX_SOUNDFONT_BYTES {
        return Err(anyhow!("{} is larger than 1 GiB", path.display()));
    }
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader = std::io::BufReader::new(file);
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

/// Renders consecutive sections offline: stereo, peak-normalised to -1 dBFS, exactly as long
/// as the music (bars × beats × 60 / tempo).
pub fn render_take(
    sections: &[Section],
    config: &RuntimeConfig,
    font: &Arc<SoundFont>,
    sample_rate: u32,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let samples_per_beat = f64::from(sample_rate) * 60.0 / config.tempo_bpm();
    let total_beats: f64 = sections
        .iter()
        .map(|s| (s.total_steps / STEPS_PER_BEAT) as f64)
        .sum();
    let total = (total_beats * samples_per_beat).round() as usize;
    // Every event at its sample: the first sample at or after its beat, as live.
    let mut events: Vec<(usize, MidiEvent)> = Vec::new();
    let mut offset = 0.0;
    for section in sections {
        for span in section_note_spans(section, config) {
            let at =
                |beat: f64| ((offset + beat) * samples_per_beat - 1e-6).ceil().max(0.0) as usize;
            let on = at(span.start_beats);
            let off = at(span.end_beats);
            events.push((
                on,
                MidiEvent::NoteOn {
                    sample: 0,
                    channel: span.channel,
                    key: span.key,
                    velocity: span.velocity,
                },
            ));
            events.push((
                off,
                MidiEvent::NoteOff {
                    sample: 0,
                    channel: span.channel,
                    key: span.key,
                },
            ));
        }
        offset += (section.total_steps / STEPS_PER_BEAT) as f64;
    }
    events.sort_by_key(|(at, e)| (*at, matches!(e, MidiEvent::NoteOn { .. })));
    let mut synth = BandSynth::new(font, sample_rate, config)?;
    let mut left = vec![0.0f32; total];
    let mut right = vec![0.0f32; total];
    let block = 512;
    let mut next = 0;
    let mut block_events = Vec::new();
    for start in (0..total).step_by(block) {
        let end = (start + block).min(total);
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
        synth.render_block(&block_events, &mut left[start..end], &mut right[start..end]);
    }
    let peak = left
        .iter()
        .chain(right.iter())
        .fold(0.0f32, |m, s| m.max(s.abs()));
    if peak > 0.0 {
        let gain = 0.891 / peak;
        for s in left.iter_mut().chain(right.iter_mut()) {
            *s *= gain;
        }
    }
    Ok((left, right))
}

/// Writes 16-bit stereo PCM.
pub fn write_wav(path: &Path, left: &[f32], right: &[f32], sample_rate: u32) -> Result<()> {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec)
        .with_context(|| format!("creating {}", path.display()))?;
    for (l, r) in left.iter().zip(right) {
        for s in [l, r] {
            writer.write_sample((s.clamp(-1.0, 1.0) * 32767.0).round() as i16)?;
        }
    }
    writer.finalize()?;
    Ok(())
}
