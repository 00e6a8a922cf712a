//! A take on disk: tracker text with `# key: value` metadata, readable back into music.

use super::section::{Section, STEPS_PER_BAR};
use super::timing::RuntimeConfig;
use super::tracker::{
    leading_metadata, parse_section, split_sections, write_document, ParseError, RepairLog,
};
use thiserror::Error;

/// Archived takes are small; anything bigger is not one.
pub const MAX_TAKE_BYTES: usize = 16 * 1024 * 1024;

/// What a saved take records besides its notes.
#[derive(Debug, Clone, PartialEq)]
pub struct TakeInfo {
    pub tempo_bpm: f64,
    pub swing: f64,
    pub bars_per_section: usize,
    pub seed: Option<u64>,
    /// `builtin` or the language model's name.
    pub model: String,
    pub prompt: String,
    /// Free-form description of the harmony, e.g. `blues in F`.
    pub form: String,
}

impl TakeInfo {
    pub fn from_config(config: &RuntimeConfig) -> Self {
        TakeInfo {
            tempo_bpm: config.tempo_bpm(),
            swing: config.swing(),
            bars_per_section: config.bars_per_section(),
            seed: None,
            model: "builtin".to_string(),
            prompt: String::new(),
            form: String::new(),
        }
    }

    pub fn metadata(&self) -> Vec<(String, String)> {
        let mut m = vec![
            ("tempo".to_string(), format!("{}", self.tempo_bpm)),
            ("swing".to_string(), format!("{}", self.swing)),
            ("bars".to_string(), self.bars_per_section.to_string()),
        ];
        if let Some(seed) = self.seed {
            m.push(("seed".to_string(), seed.to_string()));
        }
        m.push(("model".to_string(), self.model.clone()));
        if !self.form.is_empty() {
            m.push(("form".to_string(), self.form.clone()));
        }
        m.push(("prompt".to_string(), self.prompt.clone()));
        m
    }

    /// Applies the recorded tempo, swing and section length to `base`; unreadable values keep
    /// the base's and are listed in the second return value.
    pub fn config_from_metadata(
        metadata: &[(String, String)],
        base: RuntimeConfig,
    ) -> (RuntimeConfig, Vec<String>) {
        let mut config = base;
        let mut problems = Vec::new();
        for (key, value) in metadata {
            match key.as_str() {
                "tempo" => match value.parse::<f64>() {
                    Ok(v) if v.is_finite() => config = config.with_tempo(v),
                    _ => problems.push(format!("tempo {value:?} is not a number")),
                },
                "swing" => match value.parse::<f64>() {
                    Ok(v) if v.is_finite() => config = config.with_swing(v),
                    _ => problems.push(format!("swing {value:?} is not a number")),
                },
                "bars" => match value.parse::<usize>() {
                    Ok(v) if v >= 1 => config = config.with_bars_per_section(v),
                    _ => problems.push(format!("bars {value:?} is not a whole number of bars")),
                },
                _ => {}
            }
        }
        (config, problems)
    }
}

/// Writes a take as a tracker document.
pub fn write_take(info: &TakeInfo, sections: &[Section]) -> String {
    write_document(&info.metadata(), sections)
}

#[derive(Debug, Error)]
pub enum TakeError {
    #[error("the take is {len} bytes, more than the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
    #[error("section {index}: {source}")]
    Section { index: usize, source: ParseError },
}

/// A take read back: its playback config, sections, and what had to be repaired.
#[derive(Debug, Clone)]
pub struct ReadTake {
    pub config: RuntimeConfig,
    pub sections: Vec<Section>,
    pub repairs: Vec<(usize, RepairLog)>,
    pub metadata_problems: Vec<String>,
}

/// Reads a take written by [`write_take`] (or a single section pasted from a model).
pub fn read_take(text: &str, base: RuntimeConfig) -> Result<ReadTake, TakeError> {
    if text.len() > MAX_TAKE_BYTES {
        return Err(TakeError::TooLarge {
            len: text.len(),
            max: MAX_TAKE_BYTES,
        });
    }
    let (config, metadata_problems) = TakeInfo::config_from_metadata(&leading_metadata(text), base);
    let mut sections = Vec::new();
    let mut repairs = Vec::new();
    for (index, chunk) in split_sections(text).into_iter().enumerate() {
        let parsed = parse_section(chunk, &config).map_err(|source| TakeError::Section {
            index: index + 1,
            source,
        })?;
        if !parsed.repairs.is_empty() {
            repairs.push((index + 1, parsed.repairs));
        }
        sections.push(parsed.section);
    }
    Ok(ReadTake {
        config,
        sections,
        repairs,
        metadata_problems,
    })
}

/// Cuts a section to its first `bars` bars (for takes whose length is not a whole number of
/// sections).
pub fn truncate_bars(section: &mut Section, bars: usize) {
    let steps = (bars * STEPS_PER_BAR).min(section.total_steps);
    section.total_steps = steps;
    for part in &mut section.parts {
        part.steps.truncate(steps);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::composer::{BuiltinComposer, ComposerSettings};

    #[test]
    fn a_written_take_reads_back_with_its_settings() {
        let config = RuntimeConfig::default()
            .with_tempo(144.0)
            .with_swing(0.66)
            .with_bars_per_section(4);
        let mut composer = BuiltinComposer::new(&ComposerSettings::default());
        let sections: Vec<Section> = (0..3)
            .map(|_| composer.compose_next(&config).section)
            .collect();
        let mut info = TakeInfo::from_config(&config);
        info.seed = Some(9);
        let text = write_take(&info, &sections);
        let read = read_take(&text, RuntimeConfig::default()).expect("reads");
        assert_eq!(read.sections, sections);
        assert_eq!(read.config, config);
        assert!(read.repairs.is_empty());
    }

    #[test]
    fn bad_metadata_is_reported_and_ignored() {
        let meta = vec![
            ("tempo".to_string(), "fast".to_string()),
            ("bars".to_string(), "0".to_string()),
        ];
        let (config, problems) = TakeInfo::config_from_metadata(&meta, RuntimeConfig::default());
        assert_eq!(config, RuntimeConfig::default());
        assert_eq!(problems.len(), 2);
    }
}
