//! A take on disk: tracker text with `# key: value` metadata, readable back into music.

use super::feel::Feel;
use super::listen::PlayerPart;
use super::meter::Meter;
use super::section::Section;
use super::timing::{
    RuntimeConfig, MAX_BARS_PER_SECTION, MAX_SWING, MAX_TEMPO, MIN_SWING, MIN_TEMPO,
};
use super::tracker::{
    leading_metadata, parse_section, section_meter, split_sections, write_document,
    write_document_with_player, ParseError, RepairLog,
};
use thiserror::Error;

/// Archived takes are small; anything bigger is not one.
pub const MAX_TAKE_BYTES: usize = 16 * 1024 * 1024;

/// What a saved take records besides its notes.
#[derive(Debug, Clone, PartialEq)]
pub struct TakeInfo {
    /// Tempo it was played at.
    pub tempo_bpm: f64,
    /// Swing ratio it was played with.
    pub swing: f64,
    /// Bars per section.
    pub bars_per_section: usize,
    /// The meter it starts in (a section in another one says so in its own `# meter:` line).
    pub meter: Meter,
    /// The style it was played in.
    pub feel: Feel,
    /// The composer's seed, when one was set.
    pub seed: Option<u64>,
    /// `builtin` or the language model's name.
    pub model: String,
    /// The user's words for the model (the vibe), if any.
    pub prompt: String,
    /// Free-form description of the harmony, e.g. `blues in F`.
    pub form: String,
}

impl TakeInfo {
    /// The info for a take played with `config`, by the built-in composer, without prompt or form.
    pub fn from_config(config: &RuntimeConfig) -> Self {
        TakeInfo {
            tempo_bpm: config.tempo_bpm(),
            swing: config.swing(),
            bars_per_section: config.bars_per_section(),
            meter: config.meter(),
            feel: config.feel(),
            seed: None,
            model: "builtin".to_string(),
            prompt: String::new(),
            form: String::new(),
        }
    }

    /// The `# key: value` lines written at the top of the take's text.
    pub fn metadata(&self) -> Vec<(String, String)> {
        let mut m = vec![
            ("tempo".to_string(), format!("{}", self.tempo_bpm)),
            ("swing".to_string(), format!("{}", self.swing)),
            ("bars".to_string(), self.bars_per_section.to_string()),
        ];
        if self.meter != Meter::COMMON {
            m.push(("meter".to_string(), self.meter.to_string()));
        }
        if self.feel != Feel::Swing {
            m.push(("feel".to_string(), self.feel.to_string()));
        }
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
                    Ok(v) if v.is_finite() => {
                        config = config.with_tempo(v);
                        if config.tempo_bpm() != v {
                            problems.push(format!(
                                "tempo {value} is outside {MIN_TEMPO}–{MAX_TEMPO} BPM; using {}",
                                config.tempo_bpm()
                            ));
                        }
                    }
                    _ => problems.push(format!(
                        "tempo {value:?} is not a number; using the default"
                    )),
                },
                "swing" => match value.parse::<f64>() {
                    Ok(v) if v.is_finite() => {
                        config = config.with_swing(v);
                        if (config.swing() - v).abs() > 1e-4 {
                            problems.push(format!(
                                "swing {value} is outside {MIN_SWING}–{MAX_SWING}; using {}",
                                config.swing()
                            ));
                        }
                    }
                    _ => problems.push(format!(
                        "swing {value:?} is not a number; using the default"
                    )),
                },
                "bars" => match value.parse::<usize>() {
                    Ok(v) if v >= 1 => {
                        config = config.with_bars_per_section(v);
                        if config.bars_per_section() != v {
                            problems.push(format!(
                                "bars {value} is more than {MAX_BARS_PER_SECTION} per section; using {}",
                                config.bars_per_section()
                            ));
                        }
                    }
                    _ => problems.push(format!(
                        "bars {value:?} is not a whole number of bars; using the default"
                    )),
                },
                "feel" => match value.parse::<Feel>() {
                    Ok(feel) => config = config.with_feel(feel),
                    Err(e) => problems.push(format!("{e}; using {}", config.feel())),
                },
                "meter" => match value.parse::<Meter>() {
                    Ok(meter) => config = config.with_meter(meter),
                    Err(e) => problems.push(format!("{e}; using {}", config.meter())),
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

/// [`write_take`] with the player's part (on the take's beats, from 0) as a `PLAYER` block
/// after each section; reading the take back skips those blocks.
pub fn write_take_with_player(
    info: &TakeInfo,
    sections: &[Section],
    player: &PlayerPart,
) -> String {
    write_document_with_player(&info.metadata(), sections, player)
}

/// A take that cannot be read back.
#[derive(Debug, Error)]
pub enum TakeError {
    /// More text than any take we write: refused unread.
    #[error("the take is {len} bytes, more than the {max}-byte limit")]
    TooLarge {
        /// Bytes given.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A section that is not tracker text at all.
    #[error("section {index}: {problem}")]
    Section {
        /// Which section, 0-based.
        index: usize,
        /// Why it could not be read.
        problem: ParseError,
    },
    /// More bars than [`MAX_TAKE_BARS`].
    #[error("the take holds {bars} bars; at most {MAX_TAKE_BARS} are read")]
    TooLong {
        /// Bars found.
        bars: usize,
    },
}

/// Longest take read back, in bars (`render` writes at most 4096). It bounds the memory a
/// take can claim however its text is laid out (a few bytes per `# section:` line each make a
/// whole section).
pub const MAX_TAKE_BARS: usize = 8192;
/// Sections whose repairs are kept as examples; the others are only counted.
pub const REPAIR_EXAMPLES: usize = 8;

/// A take read back: its playback config, sections, and what had to be repaired.
#[derive(Debug, Clone)]
pub struct ReadTake {
    /// Tempo, swing and section length from the take's header (defaults where it has none).
    pub config: RuntimeConfig,
    /// The sections in playing order.
    pub sections: Vec<Section>,
    /// The repairs of the first [`REPAIR_EXAMPLES`] sections that needed any.
    pub repairs: Vec<(usize, RepairLog)>,
    /// Repairs in all, including those of sections not kept as examples.
    pub repairs_total: usize,
    /// Sections that needed any repair.
    pub sections_repaired: usize,
    /// Header lines that could not be used, in words (the defaults were kept for them).
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
    let chunks = split_sections(text);
    let bars = chunks.len().saturating_mul(config.bars_per_section());
    if bars > MAX_TAKE_BARS {
        return Err(TakeError::TooLong { bars });
    }
    let mut sections = Vec::with_capacity(chunks.len());
    let mut repairs = Vec::new();
    let (mut repairs_total, mut sections_repaired) = (0, 0);
    for (index, chunk) in chunks.into_iter().enumerate() {
        // A section in another meter than the take's says so at its top.
        let config = match section_meter(chunk) {
            Some(meter) => config.clone().with_meter(meter),
            None => config.clone(),
        };
        let parsed = parse_section(chunk, &config).map_err(|problem| TakeError::Section {
            index: index + 1,
            problem,
        })?;
        if !parsed.repairs.is_empty() {
            repairs_total += parsed.repairs.total();
            sections_repaired += 1;
            if repairs.len() < REPAIR_EXAMPLES {
                repairs.push((index + 1, parsed.repairs));
            }
        }
        sections.push(parsed.section);
    }
    Ok(ReadTake {
        config,
        sections,
        repairs,
        repairs_total,
        sections_repaired,
        metadata_problems,
    })
}

/// Cuts a section to its first `bars` bars (for takes whose length is not a whole number of
/// sections).
pub fn truncate_bars(section: &mut Section, bars: usize) {
    let steps = (bars * section.meter.steps_per_bar()).min(section.total_steps);
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
    fn a_take_with_the_players_part_shows_it_and_reads_back_the_same() {
        use crate::listen::PlayerNote;
        let config = RuntimeConfig::default();
        let mut composer = BuiltinComposer::new(&ComposerSettings::default());
        let sections: Vec<Section> = (0..2)
            .map(|_| composer.compose_next(&config).section)
            .collect();
        // A C4 on the second section's first beat, held for a beat.
        let player = PlayerPart::new([PlayerNote {
            start: 8.0,
            end: 9.0,
            key: 60,
            velocity: 90,
        }]);
        let text = write_take_with_player(&TakeInfo::from_config(&config), &sections, &player);
        let second = split_sections(&text)[1];
        let block: Vec<&str> = second
            .lines()
            .skip_while(|l| l.trim() != "PLAYER")
            .skip(1)
            .collect();
        assert_eq!(block.len(), 32);
        assert_eq!(block[..5], ["C4:90", "^", "^", "^", "."]);
        assert_eq!(text.matches("\nPLAYER\n").count(), 2);
        let read = read_take(&text, RuntimeConfig::default()).expect("reads");
        assert_eq!(read.sections, sections, "the band's part is unchanged");
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

    #[test]
    fn clamped_metadata_is_reported() {
        for (key, value, expected) in [
            ("tempo", "-5", "outside"),
            ("tempo", "1e308", "outside"),
            ("bars", "99999999", "more than"),
            ("swing", "3", "outside"),
        ] {
            let meta = vec![(key.to_string(), value.to_string())];
            let (_, problems) = TakeInfo::config_from_metadata(&meta, RuntimeConfig::default());
            assert_eq!(problems.len(), 1, "{key} {value}");
            assert!(problems[0].contains(expected), "{}", problems[0]);
        }
        let fine = vec![("tempo".to_string(), "137".to_string())];
        assert!(
            TakeInfo::config_from_metadata(&fine, RuntimeConfig::default())
                .1
                .is_empty()
        );
    }

    #[test]
    fn a_take_of_many_tiny_sections_is_refused_before_it_is_built() {
        let text = "# section: 1\nBASS\n".repeat(MAX_TAKE_BARS / 2 + 1);
        let started = std::time::Instant::now();
        assert!(matches!(
            read_take(&text, RuntimeConfig::default()),
            Err(TakeError::TooLong { .. })
        ));
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // At the bound it reads, and the repairs are a count plus a few examples.
        let text = "# section: 1\nBASS\n".repeat(MAX_TAKE_BARS / 2);
        let read = read_take(&text, RuntimeConfig::default()).expect("at the bound");
        assert_eq!(read.sections.len(), MAX_TAKE_BARS / 2);
        assert_eq!(read.sections_repaired, MAX_TAKE_BARS / 2);
        assert_eq!(read.repairs.len(), REPAIR_EXAMPLES);
        assert!(read.repairs_total >= 3 * (MAX_TAKE_BARS / 2));
    }
}
