//! The built-in composer: a seeded, offline jazz quartet that never runs out of music.
//!
//! It plays a song form (see [`harmony::Form`]) chorus after chorus. Each player is a small
//! struct that keeps what it needs between sections (the bass's last note, the piano's last
//! voicing, the sax's motif), so consecutive sections continue the music rather than restart.

pub mod bass;
pub mod drums;
pub mod harmony;
pub mod piano;
pub mod sax;

use super::feel::Feel;
use super::listen::{phrase_shape, plan_bar, BarPlan, Listen, PlayerPart};
use super::meter::Meter;
use super::section::{Section, STEPS_PER_BEAT};
use super::timing::{PitchRange, RuntimeConfig};
use harmony::{Chord, Form, Progression};
use serde::{Deserialize, Serialize};

/// What the composer plays over. Unset fields are chosen from the seed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ComposerSettings {
    /// Where the random choices start: the same seed plays the same music.
    pub seed: u64,
    /// The tune's form; `None` picks one from the seed.
    pub form: Option<Form>,
    /// Tonic pitch class, 0 = C.
    pub key: Option<u8>,
    /// A user's own changes; overrides `form` and `key`.
    pub progression: Option<Progression>,
}

/// A section with the harmony it was written over.
#[derive(Debug, Clone, PartialEq)]
pub struct ComposedSection {
    /// The four parts.
    pub section: Section,
    /// Bar of the song (counting from 0 at the top of the first chorus) the section starts on.
    pub first_bar: usize,
    /// The section's changes, e.g. `| Dm7 | G7 |`.
    pub changes: String,
}

/// The section's view of the song's harmony.
pub struct SectionHarmony<'a> {
    /// The song's changes.
    pub progression: &'a Progression,
    /// Bar of the song the section starts on (0 at the top of the first chorus).
    pub first_bar: usize,
    /// The section's time signature: where its bars and beats fall.
    pub meter: Meter,
    /// Chords a player holds, by bar of the section, replacing the form's.
    pub held: Vec<Option<Chord>>,
}

/// What each player is given to write its part of a section: the changes, the band's dice, and
/// the timing and ranges to play in.
pub struct SectionCue<'a> {
    /// The section's view of the song's harmony.
    pub harmony: SectionHarmony<'a>,
    /// The composer's random stream, shared by the players in turn.
    pub rng: &'a mut fastrand::Rng,
    /// Each instrument's range (and the section's length and swing).
    pub config: &'a RuntimeConfig,
    /// What the player's notes mean for each bar of the section (all defaults when nobody
    /// plays with the band).
    pub plans: Vec<BarPlan>,
    /// The sax's answer to the player's last turn, by step of the section: (step, length,
    /// direction), when trading.
    pub answer: Vec<(usize, usize, i32)>,
}

impl SectionHarmony<'_> {
    /// Chord on step `step` (16ths) of the section; steps past the section continue the form.
    /// A progression's bar is counted in quarter notes, whatever the meter: in 3/4 the chord
    /// written for beat 4 of a bar is not heard.
    pub fn chord_at_step(&self, step: usize) -> Chord {
        if let Some(chord) = self.held_at(step) {
            return chord;
        }
        let (bar, in_bar) = self.bar_and_step(step);
        self.progression.chord_at(bar, in_bar / STEPS_PER_BEAT)
    }

    /// Whether a chord begins on step `step` (always true on bar lines).
    pub fn chord_starts_at_step(&self, step: usize) -> bool {
        let (bar, in_bar) = self.bar_and_step(step);
        if in_bar == 0 {
            return true;
        }
        if self.held_at(step).is_some() {
            return false;
        }
        in_bar % STEPS_PER_BEAT == 0
            && self
                .progression
                .bar(bar)
                .iter()
                .any(|s| usize::from(s.start_beat) == in_bar / STEPS_PER_BEAT)
    }

    /// The chord a player holds over the bar of `step`, if one is held there. Past the
    /// section, a chord held at its end is taken to go on: it leads until another is played.
    fn held_at(&self, step: usize) -> Option<Chord> {
        let bar = step / self.meter.steps_per_bar();
        match self.held.get(bar) {
            Some(held) => *held,
            None => self.held.last().copied().flatten(),
        }
    }

    /// Absolute bar of the song for a step of the section.
    pub fn song_bar(&self, step: usize) -> usize {
        self.bar_and_step(step).0
    }

    /// The song bar of a step, and the step's place in that bar.
    fn bar_and_step(&self, step: usize) -> (usize, usize) {
        let per_bar = self.meter.steps_per_bar();
        (self.first_bar + step / per_bar, step % per_bar)
    }
}

/// A player the band listens to while it composes.
pub struct Listening<'a> {
    /// How the band listens.
    pub mode: Listen,
    /// What the player played, in beats of the music.
    pub player: &'a PlayerPart,
    /// The beat of the music the next section starts on.
    pub start_beat: f64,
}

impl Listening<'_> {
    /// Each bar's plan for a section of `bars` bars, and the sax's answer when trading: the
    /// rhythm and contour of the player's last turn, placed where the sax's turn falls in the
    /// section. Turns are counted in bars of the music from its beat 0 (the host's bars in a
    /// plugin, the file's in a render), so the player knows when they start whenever the
    /// band began.
    fn plan(&self, bars: usize, meter: Meter) -> (Vec<BarPlan>, Vec<(usize, usize, i32)>) {
        let length = meter.quarters_per_bar();
        let per_bar = meter.steps_per_bar();
        // Sections start on bar lines; the nudge keeps a start a hair early in its bar.
        let first_bar = crate::listen::bar_of_beat(self.start_beat + length / 2.0, length);
        let bar_start = |b: usize| self.start_beat + b as f64 * length;
        let plans = (0..bars)
            .map(|b| plan_bar(self.mode, self.player, first_bar + b, bar_start(b), length))
            .collect::<Vec<_>>();
        let mut answer = Vec::new();
        if let Listen::Trade { bars: turn } = self.mode {
            let turn = turn.max(1);
            for (b, plan) in plans.iter().enumerate() {
                if !plan.sax_plays {
                    continue;
                }
                let song_bar = first_bar + b;
                let into_turn = song_bar % turn;
                // The player's turn: the `turn` bars before the sax's turn began.
                let turn_start = bar_start(b) - into_turn as f64 * length;
                let theirs = turn_start - turn as f64 * length;
                let shape = phrase_shape(self.player.starting_in(theirs, turn_start), theirs);
                let from = into_turn * per_bar;
                answer.extend(
                    shape
                        .into_iter()
                        .filter(|(step, _, _)| (from..from + per_bar).contains(step))
                        .map(|(step, len, dir)| (b * per_bar + step - from, len, dir)),
                );
            }
        }
        (plans, answer)
    }
}

/// Common jazz keys, weighted towards the horn-friendly flat keys.
const KEYS: [u8; 8] = [5, 10, 3, 0, 7, 8, 5, 10];

/// The built-in composer: a walking bass, a drummer, a comping pianist and a sax line over a
/// jazz form, section after section, in the feel the config asks for; deterministic for a
/// seed. It answers in well under a millisecond, which is why it can stand in for a model at
/// any moment.
pub struct BuiltinComposer {
    rng: fastrand::Rng,
    progression: Progression,
    description: String,
    next_bar: usize,
    /// The key and form asked for, and the feel the tune was chosen for: a new feel picks a
    /// form that suits it (unless a form or changes were asked for).
    key: u8,
    form: Option<Form>,
    custom: bool,
    tune_feel: Feel,
    bass: bass::WalkingBass,
    drums: drums::Drummer,
    piano: piano::Comping,
    sax: sax::SaxLine,
}

impl BuiltinComposer {
    /// A composer for these settings; unset form and key are drawn from the seed.
    pub fn new(settings: &ComposerSettings) -> Self {
        let mut rng = fastrand::Rng::with_seed(settings.seed);
        let feel = Feel::default();
        let form = settings
            .form
            .unwrap_or_else(|| feel.forms()[rng.usize(..feel.forms().len())]);
        let key = settings
            .key
            .unwrap_or_else(|| KEYS[rng.usize(..KEYS.len())])
            % 12;
        let (progression, description) = match &settings.progression {
            Some(p) => (p.clone(), "custom changes".to_string()),
            None => (
                form.progression(key),
                format!("{} in {}", form.name(), harmony::key_name(key)),
            ),
        };
        BuiltinComposer {
            key,
            form: settings.form,
            custom: settings.progression.is_some(),
            tune_feel: feel,
            bass: bass::WalkingBass::new(),
            drums: drums::Drummer::new(),
            piano: piano::Comping::new(),
            sax: sax::SaxLine::new(),
            rng,
            progression,
            description,
            next_bar: 0,
        }
    }

    /// The changes it plays over.
    pub fn progression(&self) -> &Progression {
        &self.progression
    }

    /// e.g. `blues in F`.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The song bar the next section starts on.
    pub fn next_bar(&self) -> usize {
        self.next_bar
    }

    /// Starts a tune in a form that suits `feel`, from its top, unless a form or changes were
    /// asked for.
    fn suit_feel(&mut self, feel: Feel) {
        self.tune_feel = feel;
        if self.custom || self.form.is_some() {
            return;
        }
        let forms = feel.forms();
        let form = forms[self.rng.usize(..forms.len())];
        self.progression = form.progression(self.key);
        self.description = format!("{} in {}", form.name(), harmony::key_name(self.key));
        self.next_bar = 0;
    }

    /// Writes the next section of the song, continuing where the last one ended.
    pub fn compose_next(&mut self, config: &RuntimeConfig) -> ComposedSection {
        self.compose_listening(config, None)
    }

    /// [`BuiltinComposer::compose_next`] for a band that listens to a player: the section
    /// starts at `listening.start_beat` of the music the player's notes are placed in.
    pub fn compose_listening(
        &mut self,
        config: &RuntimeConfig,
        listening: Option<&Listening>,
    ) -> ComposedSection {
        if config.feel() != self.tune_feel {
            self.suit_feel(config.feel());
        }
        let total_steps = config.total_steps();
        let bars = config.bars_per_section();
        let meter = config.meter();
        let (plans, answer) = match listening {
            Some(l) => l.plan(bars, meter),
            None => (vec![BarPlan::default(); bars], Vec::new()),
        };
        let harmony = SectionHarmony {
            progression: &self.progression,
            first_bar: self.next_bar,
            meter,
            held: plans.iter().map(|p| p.chord).collect(),
        };
        let mut section = Section::empty_in(meter, total_steps);
        use super::section::Instrument::*;
        // One random stream, drawn by the players in band order: a seed plays the same music.
        let mut cue = SectionCue {
            harmony,
            rng: &mut self.rng,
            config,
            plans,
            answer,
        };
        self.bass.play(section.part_mut(Bass), &mut cue);
        self.drums.play(section.part_mut(Drums), &mut cue);
        self.piano.play(section.part_mut(Piano), &mut cue);
        self.sax.play(section.part_mut(Sax), &mut cue);
        let composed = ComposedSection {
            section,
            first_bar: self.next_bar,
            changes: self.progression.describe(self.next_bar, bars),
        };
        // The form waits while the player leads the harmony, and goes on where it stopped.
        let led = cue.plans.iter().filter(|p| p.chord.is_some()).count();
        self.next_bar += bars - led;
        composed
    }
}

/// The key nearest to `target` inside `range` whose pitch class passes `wanted`.
pub(crate) fn nearest_key(
    target: i32,
    range: PitchRange,
    wanted: impl Fn(u8) -> bool,
) -> Option<u8> {
    (range.low..=range.high)
        .filter(|k| wanted(*k))
        .min_by_key(|k| ((i32::from(*k) - target).abs(), *k))
}

/// Narrows a configured range to an idiomatic one, keeping at least an octave and a half.
pub(crate) fn idiomatic(range: PitchRange, low: u8, high: u8) -> PitchRange {
    let lo = range.low.max(low);
    let hi = range.high.min(high);
    if hi >= lo + 18 {
        PitchRange::new(lo, hi)
    } else {
        range
    }
}

/// A velocity around `centre`, ± `spread`, kept audible.
pub(crate) fn velocity(rng: &mut fastrand::Rng, centre: u8, spread: u8) -> u8 {
    let low = centre.saturating_sub(spread).max(1);
    let high = centre.saturating_add(spread).min(127);
    rng.u8(low..=high)
}
