//! Builds the one batched prompt per section: the format rules, the band, the settings, the
//! style preset, the user's vibe, and the last steps the band played.

use crate::chat::Prompt;
use crate::config::{config_dir, LlmSettings};
use infinite_jazz_engine::composer::Listening;
use infinite_jazz_engine::feel::Feel;
use infinite_jazz_engine::listen::{bar_of_beat, players_turn, Listen};
use infinite_jazz_engine::meter::Meter;
use infinite_jazz_engine::pitch::note_name;
use infinite_jazz_engine::section::{Instrument, Section, Step};
use infinite_jazz_engine::timing::{RuntimeConfig, MIN_SWING};
use infinite_jazz_engine::tracker::{player_lines, write_section};
use thiserror::Error;

/// Presets that ship with the plugin; users add their own as `<config dir>/prompts/NAME.txt`.
const BUILTIN_STYLES: [(&str, &str); 7] = [
    ("default", include_str!("../prompts/default.txt")),
    ("experimental", include_str!("../prompts/experimental.txt")),
    ("ballad", include_str!("../prompts/ballad.txt")),
    ("bebop", include_str!("../prompts/bebop.txt")),
    ("bossa", include_str!("../prompts/bossa.txt")),
    ("waltz", include_str!("../prompts/waltz.txt")),
    ("modal", include_str!("../prompts/modal.txt")),
];

/// The style preset a feel is played with when the user keeps the default style: the swing
/// feel is the default preset, every other feel has a preset of its own name.
pub fn feel_style_name(style: &str, feel: Feel) -> &str {
    match feel {
        Feel::Swing => style,
        _ if style == "default" => feel.name(),
        _ => style,
    }
}

const MAX_PRESET_BYTES: u64 = 16 * 1024;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StyleError {
    #[error("unknown prompt style {0:?}: use default, experimental, or add prompts/{0}.txt to your config folder")]
    Unknown(String),
    #[error("prompt style {name:?} could not be read: {detail}")]
    Unreadable { name: String, detail: String },
}

/// Names of the built-in presets.
pub fn builtin_styles() -> impl Iterator<Item = &'static str> {
    BUILTIN_STYLES.iter().map(|(n, _)| *n)
}

/// The text of a style preset: a user's file wins over a built-in of the same name.
pub fn style_text(name: &str) -> Result<String, StyleError> {
    let safe = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if safe {
        if let Some(path) = config_dir().map(|d| d.join("prompts").join(format!("{name}.txt"))) {
            let own = infinite_jazz_files::read_text_if_present(&path, MAX_PRESET_BYTES).map_err(
                |e| StyleError::Unreadable {
                    name: name.into(),
                    detail: e.to_string(),
                },
            )?;
            if let Some(text) = own {
                return Ok(text);
            }
        }
    }
    BUILTIN_STYLES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| t.trim().to_string())
        .ok_or_else(|| StyleError::Unknown(name.to_string()))
}

/// The last `steps` steps of the music, as one section holding them.
pub fn last_steps(recent: &[Section], steps: usize) -> Option<Section> {
    if steps == 0 || recent.is_empty() {
        return None;
    }
    let available: usize = recent.iter().map(|s| s.total_steps).sum();
    let take = steps.min(available);
    let meter = recent.last().map(|s| s.meter).unwrap_or_default();
    let mut out = Section::empty_in(meter, take);
    for instrument in Instrument::ALL {
        let all: Vec<&Step> = recent
            .iter()
            .flat_map(|s| s.part(instrument).steps.iter())
            .collect();
        out.part_mut(instrument).steps = all[all.len() - take..]
            .iter()
            .map(|s| (*s).clone())
            .collect();
    }
    Some(out)
}

/// What the player played over the last `steps` 16ths before the section (a `PLAYER` block in
/// the tracker format, on the straight 16th grid), and what the band is to do with it.
pub fn player_text(listening: &Listening, steps: usize, config: &RuntimeConfig) -> String {
    let from = listening.start_beat - steps as f64 / 4.0;
    let lines = player_lines(listening.player, from, steps);
    let mut text = format!(
        "\nA musician plays with the band (PLAYER). What they played in the last {steps} steps, \
         one line per 16th as above:\n\nPLAYER\n{}\n\n",
        lines.join("\n")
    );
    let bars = config.bars_per_section();
    let bar_beats = config.meter().quarters_per_bar();
    let instruction = match listening.mode {
        Listen::Off => String::new(),
        Listen::Accompany => "The PLAYER is soloing: while they play, SAX rests and PIANO comps \
             sparsely and softly; SAX comes back in only after the PLAYER has rested a whole bar."
            .to_string(),
        Listen::Trade { bars: turn } => {
            let first = bar_of_beat(listening.start_beat + bar_beats / 2.0, bar_beats);
            let sax_bars: Vec<String> = (0..bars)
                .filter(|b| !players_turn(first + b, turn))
                .map(|b| (b + 1).to_string())
                .collect();
            format!(
                "You are trading {turn}-bar turns with the PLAYER, who starts. In the PLAYER's \
                 turns SAX rests; in SAX's turns SAX answers the PLAYER's last phrase, keeping its \
                 rhythm and contour, moved onto the current chords. In this section SAX's turn is \
                 bar(s) {}.",
                if sax_bars.is_empty() {
                    "none".to_string()
                } else {
                    sax_bars.join(", ")
                }
            )
        }
        Listen::FollowChords => {
            let held = listening
                .player
                .chord_held(listening.start_beat - bar_beats, listening.start_beat);
            match held {
                Some(chord) => format!(
                    "The PLAYER leads the harmony: they hold {}; the whole band plays over {} \
                     until the PLAYER plays another chord.",
                    chord.symbol(),
                    chord.symbol()
                ),
                None => "The PLAYER leads the harmony with the chords they hold; they hold none \
                     now, so follow the form."
                    .to_string(),
            }
        }
    };
    text.push_str(&instruction);
    text.push('\n');
    text
}

/// What a prompt is built from.
pub struct PromptInputs<'a> {
    pub config: &'a RuntimeConfig,
    pub settings: &'a LlmSettings,
    /// The music played just before this section, oldest first.
    pub recent: &'a [Section],
    /// The harmony to follow, e.g. `| Dm7 | G7 |`, when one is set.
    pub changes: Option<&'a str>,
    /// A musician the band listens to.
    pub listening: Option<&'a Listening<'a>>,
    pub style_text: &'a str,
}

/// The meter in words a model can count with: steps per bar and where the beats fall.
pub fn meter_text(meter: Meter) -> String {
    let beats: Vec<String> = meter
        .pulses()
        .map(|(start, _)| (start + 1).to_string())
        .collect();
    let feel = if meter.is_compound() {
        ", felt in dotted-quarter beats; 8ths are straight, not swung"
    } else if !meter.swings() {
        ", counted in groups of 8th notes; 8ths are straight, not swung"
    } else {
        ""
    };
    format!(
        "{meter}: {} steps per bar, {} beats per bar starting on steps {} of each bar (counting the bar's first step as 1){feel}",
        meter.steps_per_bar(),
        beats.len(),
        beats.join(", "),
    )
}

fn range_text(config: &RuntimeConfig, i: Instrument) -> String {
    let r = config.range(i);
    format!("{} to {}", note_name(r.low), note_name(r.high))
}

pub fn build_prompt(inputs: &PromptInputs) -> Prompt {
    let c = inputs.config;
    let steps = c.total_steps();
    let mut system = String::new();
    system.push_str(&format!(
        "You are a jazz quartet (bass, drums, piano, sax) writing music in a plain-text tracker format.\n\n\
         FORMAT (follow it exactly):\n\
         - Four blocks, in this order, each headed by its name alone on a line: BASS, DRUMS, PIANO, SAX.\n\
         - Each block has exactly {steps} lines, one per 16th-note step ({} bars of {}, {} steps per bar).\n\
         - A line is `.` (rest), `^` (tie: the previous step's notes keep sounding), or notes as NOTE:VELOCITY \
           separated by commas for chords, e.g. C3:65,E3:60,G3:62.\n\
         - NOTE is scientific pitch with # or b (C4 = middle C = MIDI 60, Bb2, F#5); VELOCITY is 1 to 127.\n\
         - No step numbers, no comments, no other text.\n\n\
         THE BAND (MIDI channel, range):\n\
         - BASS: channel {}, {}.\n\
         - DRUMS: channel {}, General MIDI drum keys: C2 kick, C#2 side stick, D2 snare, F#2 closed hi-hat, \
           G#2 pedal hi-hat, A#2 open hi-hat, D#3 ride, F3 ride bell, C#3 crash, G2/A2/B2/C3/D3 toms.\n\
         - PIANO: channel {}, {}.\n\
         - SAX: channel {}, {}.\n\n",
        c.bars_per_section(),
        c.meter(),
        c.meter().steps_per_bar(),
        c.channel(Instrument::Bass) + 1,
        range_text(c, Instrument::Bass),
        c.channel(Instrument::Drums) + 1,
        c.channel(Instrument::Piano) + 1,
        range_text(c, Instrument::Piano),
        c.channel(Instrument::Sax) + 1,
        range_text(c, Instrument::Sax),
    ));
    system.push_str(inputs.style_text.trim());
    system.push('\n');

    let mut user = if c.meter().swings() && c.swing() > MIN_SWING {
        format!(
            "Tempo {:.0} BPM, swing {:.2} (the off-beat 8th falls {:.0}% of the way through the beat).\n",
            c.tempo_bpm(),
            c.swing(),
            c.swing() * 100.0
        )
    } else {
        format!(
            "Tempo {:.0} BPM (quarter notes), straight 8ths.\n",
            c.tempo_bpm()
        )
    };
    user.push_str(&format!(
        "Feel: {}. Meter {}.\n",
        c.feel(),
        meter_text(c.meter())
    ));
    if let Some(changes) = inputs.changes.filter(|s| !s.trim().is_empty()) {
        user.push_str(&format!(
            "Chord changes for this section, one bar between bars lines: {changes}\n"
        ));
    }
    let vibe = inputs.settings.vibe.trim();
    if !vibe.is_empty() {
        user.push_str(&format!("The listener asks for: {vibe}\n"));
    }
    match last_steps(inputs.recent, inputs.settings.context_steps) {
        Some(context) => {
            user.push_str(&format!(
                "\nThe band just played these {} steps; continue from them without repeating them:\n\n",
                context.total_steps
            ));
            user.push_str(&write_section(&context));
        }
        None => user.push_str("\nThis is the start of the tune.\n"),
    }
    if let Some(listening) = inputs.listening.filter(|l| l.mode != Listen::Off) {
        user.push_str(&player_text(
            listening,
            inputs.settings.context_steps.max(16),
            c,
        ));
    }
    user.push_str(&format!(
        "\nWrite the next {steps} steps for all four instruments: BASS, DRUMS, PIANO, SAX, each block exactly {steps} lines. \
         Answer with the four blocks only."
    ));
    Prompt { system, user }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Backend, LlmSettings};
    use infinite_jazz_engine::composer::{BuiltinComposer, ComposerSettings};

    #[test]
    fn the_prompt_holds_the_rules_the_settings_and_the_last_steps() {
        let config = RuntimeConfig::default().with_tempo(150.0);
        let mut composer = BuiltinComposer::new(&ComposerSettings::default());
        let recent: Vec<Section> = (0..2)
            .map(|_| composer.compose_next(&config).section)
            .collect();
        let mut settings = LlmSettings::new(Backend::OpenAi);
        settings.vibe = "atmospheric, sparse".into();
        settings.context_steps = 40;
        let style = style_text("experimental").expect("built-in style");
        let prompt = build_prompt(&PromptInputs {
            config: &config,
            settings: &settings,
            recent: &recent,
            changes: Some("| Dm7 | G7 |"),
            listening: None,
            style_text: &style,
        });
        assert!(prompt.system.contains("exactly 32 lines"));
        assert!(prompt.system.contains("freer, exploratory"));
        assert!(prompt.user.contains("Tempo 150 BPM"));
        assert!(prompt.user.contains("atmospheric, sparse"));
        assert!(prompt.user.contains("| Dm7 | G7 |"));
        let context = last_steps(&recent, 40).expect("context");
        assert_eq!(context.total_steps, 40);
        assert!(prompt.user.contains(&write_section(&context)));
        // The context is the end of the music: its last step is the last section's last step.
        assert_eq!(
            context.part(Instrument::Bass).steps[39],
            recent[1].part(Instrument::Bass).steps[31]
        );
    }

    /// The prompt for `config` after `recent`, with no changes and an empty style.
    fn plain_prompt(config: &RuntimeConfig, settings: &LlmSettings, recent: &[Section]) -> Prompt {
        build_prompt(&PromptInputs {
            config,
            settings,
            recent,
            changes: None,
            listening: None,
            style_text: "",
        })
    }

    #[test]
    fn zero_context_is_a_clean_slate_and_unknown_styles_are_errors() {
        let config = RuntimeConfig::default();
        let mut settings = LlmSettings::new(Backend::Ollama);
        settings.context_steps = 0;
        let prompt = plain_prompt(&config, &settings, &[Section::empty(32)]);
        assert!(prompt.user.contains("start of the tune"));
        assert!(matches!(
            style_text("no-such-style"),
            Err(StyleError::Unknown(_))
        ));
        assert!(matches!(
            style_text("../etc/passwd"),
            Err(StyleError::Unknown(_))
        ));
    }

    #[test]
    fn the_prompt_counts_in_the_sections_meter() {
        let meter: Meter = "3/4".parse().expect("a meter");
        let config = RuntimeConfig::default()
            .with_meter(meter)
            .with_bars_per_section(4);
        let mut composer = BuiltinComposer::new(&ComposerSettings::default());
        let recent = vec![composer.compose_next(&config).section];
        let settings = LlmSettings::new(Backend::OpenAi);
        let prompt = plain_prompt(&config, &settings, &recent);
        assert!(prompt.system.contains("exactly 48 lines"));
        assert!(prompt.system.contains("4 bars of 3/4, 12 steps per bar"));
        assert!(prompt
            .user
            .contains("3 beats per bar starting on steps 1, 5, 9"));
        assert!(
            prompt.user.contains("# meter: 3/4"),
            "the context says its meter"
        );

        let six_eight = RuntimeConfig::default().with_meter("6/8".parse().expect("a meter"));
        let prompt = plain_prompt(&six_eight, &settings, &[]);
        assert!(prompt.user.contains("straight 8ths"));
        assert!(!prompt.user.contains("swing 0."));
        assert!(prompt
            .user
            .contains("2 beats per bar starting on steps 1, 7"));
        assert!(prompt.user.contains("dotted-quarter"));
    }

    #[test]
    fn the_players_part_and_what_to_do_with_it_are_in_the_prompt() {
        use infinite_jazz_engine::listen::{PlayerNote, PlayerPart};
        let config = RuntimeConfig::default();
        let settings = LlmSettings::new(Backend::OpenAi);
        // A held Dm7 through bar 3, a line in bar 4; the section starts at bar 5 (beat 16).
        let mut notes: Vec<PlayerNote> = [50, 53, 57, 60]
            .map(|key| PlayerNote {
                start: 8.0,
                end: 12.0,
                key,
                velocity: 70,
            })
            .to_vec();
        notes.push(PlayerNote {
            start: 12.5,
            end: 13.0,
            key: 74,
            velocity: 100,
        });
        let player = PlayerPart::new(notes);
        let ask = |mode: Listen, start_beat: f64| {
            let listening = Listening {
                mode,
                player: &player,
                start_beat,
            };
            build_prompt(&PromptInputs {
                config: &config,
                settings: &settings,
                recent: &[],
                changes: None,
                listening: Some(&listening),
                style_text: "",
            })
            .user
        };
        let accompany = ask(Listen::Accompany, 16.0);
        assert!(accompany.contains("PLAYER\n"), "{accompany}");
        // 32 steps from beat 8: the chord on the first line, held; the D5 two steps into bar 4.
        assert!(accompany.contains("PLAYER\nD3:70,F3:70,A3:70,C4:70\n^\n^"));
        assert!(accompany.contains("\nD5:100\n^\n"));
        assert!(accompany.contains("SAX rests"));
        let trade = ask(Listen::Trade { bars: 4 }, 16.0);
        assert!(trade.contains("trading 4-bar turns") && trade.contains("bar(s) 1, 2"));
        assert!(ask(Listen::Trade { bars: 4 }, 0.0).contains("bar(s) none"));
        let chords = ask(Listen::FollowChords, 12.0);
        assert!(chords.contains("they hold Dm7"), "{chords}");
        assert!(ask(Listen::FollowChords, 16.0).contains("they hold none"));
        assert!(!ask(Listen::Off, 16.0).contains("PLAYER"));
    }
}
