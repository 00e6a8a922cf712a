//! The editor's logic without a window: what the status line says, where the piano roll draws
//! each note, how the backend form becomes a config file, what an export contains.

use infinite_jazz_engine::listen::{bar_of_beat, players_turn, Listen, PlayerNote};
use infinite_jazz_engine::meter::Meter;
use infinite_jazz_engine::section::{Instrument, Section, STEPS_PER_BEAT};
use infinite_jazz_engine::sequencer::roll::RollSnapshot;
use infinite_jazz_engine::timing::{section_note_spans, RuntimeConfig};
use infinite_jazz_engine::worker::ArchivedSection;
use infinite_jazz_llm::{Backend, UserConfig};

/// The status line's contents, in words.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusView {
    pub position: String,
    pub tempo: String,
    /// The meter the band plays in, and whose it is.
    pub time_signature: String,
    /// Sections ready ahead, as a fraction of the depth asked for (0..=1).
    pub meter: f32,
    pub meter_text: String,
    pub source: String,
    pub latency: String,
    pub underruns: u64,
    pub error: Option<String>,
}

/// The raw numbers the status is made from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusInputs {
    pub position_beats: f64,
    pub tempo: f64,
    /// The meter in force and a bar line of it, in beats.
    pub meter: Meter,
    pub bar_origin: f64,
    /// Whether the meter is the host's (else the plugin's own).
    pub host_meter: bool,
    pub queued: usize,
    pub depth: usize,
    /// 0 primary, 1 fallback, 2 reserve, other: nothing yet.
    pub playing_origin: u8,
    pub model: Option<String>,
    pub latency_ms: Option<u64>,
    pub underruns: u64,
    pub error: Option<String>,
}

impl StatusView {
    pub fn new(i: &StatusInputs) -> Self {
        let bar_beats = i.meter.quarters_per_bar();
        let from_origin = (i.position_beats - i.bar_origin).max(0.0);
        let bar = (from_origin / bar_beats).floor() as u64 + 1;
        // Beats as the meter counts them: dotted quarters in 6/8, 8th groups in 7/8.
        let step_in_bar = ((from_origin % bar_beats) * 4.0).floor() as usize;
        let beat_in_bar = i.meter.pulse_of_step(step_in_bar) + 1;
        let depth = i.depth.max(1);
        let source = match (i.playing_origin, &i.model) {
            (0, Some(model)) => format!("playing: {model}"),
            (0, None) => "playing: built-in composer".to_string(),
            (1, _) => "playing: built-in fallback (the model is late)".to_string(),
            (2, _) => "playing: reserve section".to_string(),
            _ => "waiting for the host to play".to_string(),
        };
        StatusView {
            position: format!("bar {bar} · beat {beat_in_bar}"),
            tempo: format!("{:.1} BPM", i.tempo),
            time_signature: format!(
                "{} ({})",
                i.meter,
                if i.host_meter { "host" } else { "own" }
            ),
            meter: (i.queued as f32 / depth as f32).clamp(0.0, 1.0),
            meter_text: format!("{} of {} sections ready", i.queued, depth),
            source,
            latency: i.latency_ms.map_or("model latency: –".to_string(), |ms| {
                format!("model latency: {ms} ms")
            }),
            underruns: i.underruns,
            error: i.error.clone(),
        }
    }
}

/// One note of the piano roll, in the roll's own units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RollRect {
    pub instrument: Instrument,
    /// Beats from the left edge of the roll.
    pub x0: f32,
    pub x1: f32,
    /// 0 (lowest note of the lane) to 1 (highest).
    pub height: f32,
    /// Whether it belongs to the section now playing (the rest is upcoming).
    pub playing: bool,
}

/// Lays out the playing section (from the audio thread) followed by the upcoming ones (from
/// the worker), as far as `max_beats` from the playing section's start.
pub fn roll_layout(
    playing: &RollSnapshot,
    upcoming: &[Section],
    config: &RuntimeConfig,
    max_beats: f32,
) -> Vec<RollRect> {
    let height = |instrument: Instrument, key: u8| {
        let r = config.range(instrument);
        let span = f32::from(r.high.saturating_sub(r.low)).max(1.0);
        ((f32::from(key.clamp(r.low, r.high)) - f32::from(r.low)) / span).clamp(0.0, 1.0)
    };
    let mut rects = Vec::new();
    for n in playing.notes() {
        let Some(instrument) = Instrument::ALL.get(usize::from(n.instrument)).copied() else {
            continue;
        };
        rects.push(RollRect {
            instrument,
            x0: n.start,
            x1: n.end.max(n.start + 0.05),
            height: height(instrument, n.key),
            playing: true,
        });
    }
    let mut offset = playing.length_beats as f32;
    for section in upcoming {
        if offset >= max_beats {
            break;
        }
        for span in section_note_spans(section, config) {
            let x0 = offset + span.start_beats as f32;
            if x0 >= max_beats {
                continue;
            }
            rects.push(RollRect {
                instrument: span.instrument,
                x0,
                x1: (offset + span.end_beats as f32).min(max_beats),
                height: height(span.instrument, span.key),
                playing: false,
            });
        }
        offset += (section.total_steps / STEPS_PER_BEAT) as f32;
    }
    rects
}

/// What the band listens for, and whose turn it is when trading (turns are counted in bars
/// from beat 0, as the band counts them); `None` when it does not listen.
pub fn listening_text(listen: Listen, position_beats: f64, bar_beats: f64) -> Option<String> {
    match listen {
        Listen::Off => None,
        Listen::Accompany => Some("listening: backing your solo".to_string()),
        Listen::Trade { bars } => {
            let bar = bar_of_beat(position_beats, bar_beats);
            let whose = if players_turn(bar, bars) {
                "your turn"
            } else {
                "the sax's turn"
            };
            Some(format!(
                "trading {bars}s: {whose}, bar {} of {bars}",
                bar % bars.max(1) + 1
            ))
        }
        Listen::FollowChords => Some("listening: the band follows the chords you hold".to_string()),
    }
}

/// One of the player's notes in the piano roll's fifth lane.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlayerRect {
    /// Beats from the roll's left edge (the playing section's start).
    pub x0: f32,
    pub x1: f32,
    /// 0 (lowest) to 1 (highest) over the keyboard's middle five octaves.
    pub height: f32,
}

/// The player's notes the roll shows: those sounding between the playing section's start and
/// `max_beats` after it; a note still held is drawn up to the playhead `now`.
pub fn player_rects(
    notes: &[PlayerNote],
    section_start: f64,
    now: f64,
    max_beats: f32,
) -> Vec<PlayerRect> {
    notes
        .iter()
        .filter(|n| n.end.min(now) >= section_start)
        .filter_map(|n| {
            let x0 = ((n.start - section_start) as f32).max(0.0);
            if x0 >= max_beats {
                return None;
            }
            let x1 = (n.end.min(now.max(n.start)) - section_start) as f32;
            Some(PlayerRect {
                x0,
                x1: x1.clamp(x0 + 0.05, max_beats.max(x0 + 0.05)),
                height: ((f32::from(n.key.clamp(36, 96)) - 36.0) / 60.0).clamp(0.0, 1.0),
            })
        })
        .collect()
}

/// What the backend form refuses to save.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("the base URL must start with http:// or https://")]
    NotHttp,
    #[error("enter a model name")]
    NoModel,
}

/// The backend settings form. The key is only ever shown masked.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendForm {
    pub backend: Backend,
    pub base_url: String,
    pub model: String,
    pub api_key: String,
}

impl BackendForm {
    pub fn from_config(config: &UserConfig) -> Self {
        let backend = config.backend.unwrap_or(Backend::Builtin);
        BackendForm {
            backend,
            base_url: config
                .base_url
                .clone()
                .unwrap_or_else(|| backend.default_base_url().to_string()),
            model: config
                .model
                .clone()
                .unwrap_or_else(|| backend.default_model().to_string()),
            api_key: config.api_key.clone().unwrap_or_default(),
        }
    }

    /// Switching backend brings its defaults unless the user typed their own.
    pub fn set_backend(&mut self, backend: Backend) {
        let old = self.backend;
        if self.base_url.is_empty() || self.base_url == old.default_base_url() {
            self.base_url = backend.default_base_url().to_string();
        }
        if self.model.is_empty() || self.model == old.default_model() {
            self.model = backend.default_model().to_string();
        }
        self.backend = backend;
    }

    /// `••••1234`: enough to recognise a key, never enough to use it.
    pub fn masked_key(&self) -> String {
        let n = self.api_key.chars().count();
        if n == 0 {
            return "(none)".into();
        }
        let tail: String = self.api_key.chars().skip(n.saturating_sub(4)).collect();
        if n <= 8 {
            "•".repeat(n)
        } else {
            format!("{}{tail}", "•".repeat(8))
        }
    }

    /// The config file's contents, merged over `existing` (its other settings are kept).
    pub fn to_config(&self, existing: &UserConfig) -> Result<UserConfig, FormError> {
        let mut config = existing.clone();
        config.backend = Some(self.backend);
        if self.backend != Backend::Builtin {
            let url = self.base_url.trim();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(FormError::NotHttp);
            }
            if self.model.trim().is_empty() {
                return Err(FormError::NoModel);
            }
            config.base_url = Some(url.trim_end_matches('/').to_string());
            config.model = Some(self.model.trim().to_string());
        }
        let key = self.api_key.trim();
        config.api_key = (!key.is_empty()).then(|| key.to_string());
        Ok(config)
    }
}

/// The last `bars` bars of the archive (all of it for `None`), cutting the oldest section
/// (whose start moves to where its kept bars began).
pub fn export_sections(archive: &[ArchivedSection], bars: Option<usize>) -> Vec<ArchivedSection> {
    let Some(bars) = bars else {
        return archive.to_vec();
    };
    let mut out = Vec::new();
    let mut left = bars;
    for archived in archive.iter().rev() {
        if left == 0 {
            break;
        }
        let section = &archived.section;
        let section_bars = section.bars();
        if section_bars <= left {
            out.push(archived.clone());
            left -= section_bars;
        } else {
            // Keep the end of this section: its last `left` bars.
            let mut tail = archived.clone();
            let cut_bars = section_bars - left;
            let cut = cut_bars * section.meter.steps_per_bar();
            for part in &mut tail.section.parts {
                part.steps.drain(..cut);
            }
            tail.section.total_steps -= cut;
            tail.start_beat += cut_bars as f64 * section.meter.quarters_per_bar();
            out.push(tail);
            left = 0;
        }
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use infinite_jazz_engine::composer::{BuiltinComposer, ComposerSettings};
    use infinite_jazz_engine::sequencer::prepared::{PreparedSection, SectionOrigin};

    #[test]
    fn status_speaks_plainly() {
        let view = StatusView::new(&StatusInputs {
            position_beats: 9.5,
            tempo: 132.0,
            queued: 3,
            depth: 4,
            playing_origin: 1,
            model: Some("openai/gpt-oss-120b".into()),
            latency_ms: Some(850),
            underruns: 2,
            error: Some("server error (HTTP 503)".into()),
            ..Default::default()
        });
        assert_eq!(view.position, "bar 3 · beat 2");
        assert_eq!(view.tempo, "132.0 BPM");
        assert_eq!(view.meter, 0.75);
        assert_eq!(view.meter_text, "3 of 4 sections ready");
        assert!(view.source.contains("fallback"));
        assert_eq!(view.latency, "model latency: 850 ms");
        let idle = StatusView::new(&StatusInputs {
            playing_origin: 255,
            ..Default::default()
        });
        assert_eq!(idle.source, "waiting for the host to play");
        assert_eq!(idle.meter, 0.0);
    }

    #[test]
    fn the_position_counts_bars_and_beats_of_the_meter_in_force() {
        let at = |beats: f64, meter: &str, origin: f64, host_meter: bool| {
            StatusView::new(&StatusInputs {
                position_beats: beats,
                meter: meter.parse().expect("a meter"),
                bar_origin: origin,
                host_meter,
                ..Default::default()
            })
        };
        assert_eq!(at(7.5, "3/4", 0.0, true).position, "bar 3 · beat 2");
        assert_eq!(at(7.5, "3/4", 0.0, true).time_signature, "3/4 (host)");
        // 6/8 counts two dotted quarters a bar.
        assert_eq!(at(4.6, "6/8", 0.0, false).position, "bar 2 · beat 2");
        assert_eq!(at(4.6, "6/8", 0.0, false).time_signature, "6/8 (own)");
        // After four bars of 4/4 the host's 3/4 bars count on from bar 5.
        assert_eq!(at(17.0, "3/4", 4.0, true).position, "bar 5 · beat 2");
        assert_eq!(at(7.0, "4/4", 0.0, true).position, "bar 2 · beat 4");
    }

    #[test]
    fn the_roll_shows_the_playing_section_then_the_upcoming_ones() {
        let config = RuntimeConfig::default();
        let mut composer = BuiltinComposer::new(&ComposerSettings::default());
        let playing = composer.compose_next(&config).section;
        let upcoming: Vec<Section> = (0..3)
            .map(|_| composer.compose_next(&config).section)
            .collect();
        let mut snapshot = RollSnapshot::default();
        snapshot.fill(
            &PreparedSection::new(&playing, SectionOrigin::Primary, 0),
            16.0,
            config.swing(),
            0,
        );
        let rects = roll_layout(&snapshot, &upcoming, &config, 24.0);
        let playing_count = playing.parts.iter().map(|p| p.note_count()).sum::<usize>();
        assert_eq!(rects.iter().filter(|r| r.playing).count(), playing_count);
        assert!(rects.iter().any(|r| !r.playing && r.x0 >= 8.0));
        assert!(rects
            .iter()
            .all(|r| r.x0 < 24.0 && r.x1 <= 24.0 && r.x0 < r.x1));
        assert!(rects.iter().all(|r| (0.0..=1.0).contains(&r.height)));
        // Three sections fill the 24 beats; the fourth would not be drawn.
        assert!(rects.iter().all(|r| r.x0 < 24.0));
    }

    #[test]
    fn the_backend_form_validates_masks_and_keeps_other_settings() {
        let existing = UserConfig {
            vibe: Some("sparse".into()),
            ..Default::default()
        };
        let mut form = BackendForm::from_config(&existing);
        assert_eq!(form.backend, Backend::Builtin);
        form.set_backend(Backend::Ollama);
        assert_eq!(form.base_url, "http://127.0.0.1:11434");
        assert_eq!(form.model, "qwen2.5:3b");
        form.set_backend(Backend::OpenAi);
        assert_eq!(form.base_url, "https://api.groq.com/openai/v1");
        form.api_key = "sk-0123456789abcd".into();
        assert_eq!(form.masked_key(), "••••••••abcd");
        let config = form.to_config(&existing).expect("valid");
        assert_eq!(config.vibe.as_deref(), Some("sparse"));
        assert_eq!(config.api_key.as_deref(), Some("sk-0123456789abcd"));
        form.base_url = "ftp://nope".into();
        assert!(form.to_config(&existing).is_err());
        form.base_url = "http://localhost:8080/v1/".into();
        assert_eq!(
            form.to_config(&existing).expect("ok").base_url.as_deref(),
            Some("http://localhost:8080/v1")
        );
    }

    #[test]
    fn the_listening_line_says_whose_turn_it_is() {
        assert_eq!(listening_text(Listen::Off, 3.0, 4.0), None);
        let trade = |beat: f64| listening_text(Listen::Trade { bars: 4 }, beat, 4.0);
        assert_eq!(
            trade(0.0).as_deref(),
            Some("trading 4s: your turn, bar 1 of 4")
        );
        assert_eq!(
            trade(15.9).as_deref(),
            Some("trading 4s: your turn, bar 4 of 4")
        );
        assert_eq!(
            trade(16.0).as_deref(),
            Some("trading 4s: the sax's turn, bar 1 of 4")
        );
        assert_eq!(
            listening_text(Listen::Trade { bars: 2 }, 7.0, 3.0).as_deref(),
            Some("trading 2s: the sax's turn, bar 1 of 2"),
            "bars of 3/4: beat 7 is in the third bar"
        );
    }

    #[test]
    fn the_players_lane_shows_what_sounds_in_the_window() {
        let note = |start: f64, end: f64, key: u8| PlayerNote {
            start,
            end,
            key,
            velocity: 90,
        };
        let notes = [
            note(2.0, 3.0, 60),
            note(9.0, 9.5, 96),
            note(10.5, f64::MAX, 36),
            note(40.0, 41.0, 60),
        ];
        let rects = player_rects(&notes, 8.0, 12.0, 24.0);
        assert_eq!(rects.len(), 2, "{rects:?}");
        assert_eq!((rects[0].x0, rects[0].x1, rects[0].height), (1.0, 1.5, 1.0));
        assert_eq!(
            (rects[1].x0, rects[1].x1, rects[1].height),
            (2.5, 4.0, 0.0),
            "a held note reaches the playhead"
        );
    }

    #[test]
    fn exports_take_the_last_bars() {
        let config = RuntimeConfig::default();
        let mut composer = BuiltinComposer::new(&ComposerSettings::default());
        let archive: Vec<ArchivedSection> = (0..4)
            .map(|i| ArchivedSection {
                section: composer.compose_next(&config).section,
                origin: SectionOrigin::Primary,
                start_beat: 8.0 * i as f64,
            })
            .collect();
        assert_eq!(export_sections(&archive, None).len(), 4);
        let last3 = export_sections(&archive, Some(3));
        assert_eq!(
            last3.iter().map(|s| s.section.total_steps).sum::<usize>(),
            48
        );
        assert_eq!(last3[1], archive[3]);
        // The cut section keeps its last bar, which began a bar later.
        assert_eq!(
            last3[0].section.part(Instrument::Bass).steps[..],
            archive[2].section.part(Instrument::Bass).steps[16..]
        );
        assert_eq!(last3[0].start_beat, 20.0);
        assert_eq!(export_sections(&archive, Some(100)).len(), 4);
    }
}
