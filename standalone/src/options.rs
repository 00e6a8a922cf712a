//! Generation options shared by the commands that compose.

use anyhow::{anyhow, Context, Result};
use clap::Args;
use infinite_jazz_engine::composer::harmony::{parse_chord_symbol, Form, Progression};
use infinite_jazz_engine::composer::ComposerSettings;
use infinite_jazz_engine::section::Instrument;
use infinite_jazz_engine::timing::{RuntimeConfig, MAX_BARS_PER_SECTION};

#[derive(Args, Debug, Clone)]
pub struct GenerationArgs {
    /// Tempo in beats per minute.
    #[arg(long, default_value_t = 120.0)]
    pub tempo: f64,
    /// Swing ratio: where the off-beat 8th lands within the beat (0.50 straight … 0.75 hard).
    #[arg(long, default_value_t = 0.62)]
    pub swing: f64,
    /// Bars per section (the unit the composer or model writes at once).
    #[arg(long, default_value_t = 2)]
    pub section_bars: usize,
    /// Seed for the built-in composer; the same seed gives the same music.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Song form: ii-V-I, blues, rhythm, minor (random when omitted).
    #[arg(long)]
    pub form: Option<String>,
    /// Key (tonic), e.g. F, Bb, C#.
    #[arg(long)]
    pub key: Option<String>,
    /// Your own changes, bars separated by `|`: "Dm7 G7 | Cmaj7 |".
    #[arg(long)]
    pub changes: Option<String>,
    /// MIDI channels (1-16) for bass, drums, piano, sax.
    #[arg(long, value_delimiter = ',', num_args = 4, default_values_t = [1u8, 10, 2, 3])]
    pub channels: Vec<u8>,
}

impl GenerationArgs {
    pub fn config(&self) -> Result<RuntimeConfig> {
        if !(self.tempo.is_finite() && (20.0..=400.0).contains(&self.tempo)) {
            return Err(anyhow!("--tempo must be between 20 and 400 BPM"));
        }
        if !(0.5..=0.75).contains(&self.swing) {
            return Err(anyhow!("--swing must be between 0.50 and 0.75"));
        }
        if !(1..=MAX_BARS_PER_SECTION).contains(&self.section_bars) {
            return Err(anyhow!(
                "--section-bars must be between 1 and {MAX_BARS_PER_SECTION}"
            ));
        }
        let mut config = RuntimeConfig::default()
            .with_tempo(self.tempo)
            .with_swing(self.swing)
            .with_bars_per_section(self.section_bars);
        for (instrument, channel) in Instrument::ALL.into_iter().zip(&self.channels) {
            if !(1..=16).contains(channel) {
                return Err(anyhow!("MIDI channels are 1 to 16, got {channel}"));
            }
            config = config.with_channel(instrument, channel - 1);
        }
        Ok(config)
    }

    pub fn composer_settings(&self) -> Result<ComposerSettings> {
        let form = self
            .form
            .as_deref()
            .map(|f| {
                Form::from_name(f)
                    .ok_or_else(|| anyhow!("unknown --form {f:?} (ii-V-I, blues, rhythm, minor)"))
            })
            .transpose()?;
        let key = self
            .key
            .as_deref()
            .map(|k| {
                parse_chord_symbol(k)
                    .map(|c| c.root)
                    .with_context(|| format!("--key {k:?}"))
            })
            .transpose()?;
        let progression = self
            .changes
            .as_deref()
            .map(|c| Progression::parse(c).context("--changes"))
            .transpose()?;
        Ok(ComposerSettings {
            seed: self.seed,
            form,
            key,
            progression,
        })
    }
}
