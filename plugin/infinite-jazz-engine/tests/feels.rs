//! Each feel's measurable rules, over many seeds: what a jazz musician listens for first when
//! asked for a bossa, a waltz, a ballad, a bebop tune or a modal vamp.

use infinite_jazz_engine::composer::drums::{bossa_clave, gm};
use infinite_jazz_engine::composer::harmony::Progression;
use infinite_jazz_engine::composer::{BuiltinComposer, ComposedSection, ComposerSettings};
use infinite_jazz_engine::feel::Feel;
use infinite_jazz_engine::section::{Instrument, Note, Part, Step};
use infinite_jazz_engine::timing::{section_note_spans, RuntimeConfig};

const SEEDS: u64 = 24;

fn config(feel: Feel) -> RuntimeConfig {
    RuntimeConfig::default()
        .with_feel(feel)
        .with_meter(feel.default_meter())
        .with_swing(feel.default_swing())
        .with_bars_per_section(4)
}

/// `sections` sections of a tune in `feel`, with the composer (for its progression).
fn tune(feel: Feel, seed: u64, sections: usize) -> (BuiltinComposer, Vec<ComposedSection>) {
    let config = config(feel);
    let mut composer = BuiltinComposer::new(&ComposerSettings {
        seed,
        ..Default::default()
    });
    let out = (0..sections)
        .map(|_| composer.compose_next(&config))
        .collect();
    (composer, out)
}

fn notes(step: &Step) -> &[Note] {
    match step {
        Step::Notes(n) => n,
        _ => &[],
    }
}

/// (step, notes) of every onset in a part.
fn onsets(part: &Part) -> impl Iterator<Item = (usize, &[Note])> {
    part.steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((i, notes(s))).filter(|(_, n)| !n.is_empty()))
}

/// Steps each note lasts (its own step and the ties after it).
fn lengths(part: &Part) -> Vec<usize> {
    onsets(part)
        .map(|(i, _)| {
            1 + part.steps[i + 1..]
                .iter()
                .take_while(|s| matches!(s, Step::Tie))
                .count()
        })
        .collect()
}

/// The chord on `step` of a section starting at song bar `first_bar`, for 4/4 and 3/4 bars.
fn chord_at(
    p: &Progression,
    per_bar: usize,
    first_bar: usize,
    step: usize,
) -> infinite_jazz_engine::composer::harmony::Chord {
    p.chord_at(first_bar + step / per_bar, (step % per_bar) / 4)
}

#[test]
fn bossa_is_straight_with_a_root_fifth_bass_and_the_clave() {
    for seed in 0..SEEDS {
        let (composer, sections) = tune(Feel::Bossa, seed, 8);
        let p = composer.progression();
        // Whatever swing is asked for, a bossa's off-beats are straight.
        let swung = config(Feel::Bossa).with_swing(0.7);
        assert_eq!(swung.swing(), 0.5);
        for s in &sections {
            for span in section_note_spans(&s.section, &swung) {
                let quarter = span.start_beats * 4.0;
                assert!(
                    (quarter - quarter.round()).abs() < 1e-9,
                    "swung onset {span:?}"
                );
            }
            let bass = s.section.part(Instrument::Bass);
            for (step, n) in onsets(bass) {
                let in_bar = step % 16;
                assert!(
                    [0, 6, 8, 14].contains(&in_bar),
                    "seed {seed}: bass at step {in_bar} of a bar"
                );
                let chord = chord_at(p, 16, s.first_bar, step);
                let pc = n[0].key % 12;
                match in_bar {
                    0 => assert_eq!(pc, chord.root, "seed {seed}: beat 1 is the root"),
                    8 => assert!(
                        pc == (chord.root + 7) % 12 || pc == chord.root,
                        "seed {seed}: beat 3 is the fifth (or a new chord's root)"
                    ),
                    _ => {}
                }
            }
            // The pickups repeat the note they lead to: dotted quarter, 8th, dotted quarter.
            for len in &lengths(bass)[1..] {
                assert!(
                    [2, 6].contains(len),
                    "seed {seed}: a bass note of {len} steps"
                );
            }
            let drums = s.section.part(Instrument::Drums);
            for bar in 0..4 {
                let base = bar * 16;
                let has = |step: usize, key: u8| {
                    notes(&drums.steps[base + step])
                        .iter()
                        .any(|n| n.key == key)
                };
                for step in (0..16).step_by(2) {
                    assert!(has(step, gm::CLOSED_HAT), "seed {seed}: hi-hat 8ths");
                }
                let clave = bossa_clave((s.first_bar + bar) % 2 == 1);
                for step in 0..16 {
                    assert_eq!(
                        has(step, gm::SIDE_STICK),
                        clave.contains(&step),
                        "seed {seed}: cross-stick at step {step}"
                    );
                }
            }
        }
    }
}

#[test]
fn waltz_is_in_three_with_the_bass_on_every_downbeat_and_comping_on_two_and_three() {
    for seed in 0..SEEDS {
        let (composer, sections) = tune(Feel::Waltz, seed, 8);
        let p = composer.progression();
        for s in &sections {
            assert_eq!(s.section.meter.to_string(), "3/4");
            assert_eq!(s.section.total_steps, 4 * 12);
            let bass = s.section.part(Instrument::Bass);
            for bar in 0..4 {
                let downbeat = notes(&bass.steps[bar * 12]);
                assert!(!downbeat.is_empty(), "seed {seed}: bass on the downbeat");
                let chord = chord_at(p, 12, s.first_bar, bar * 12);
                // A chord's first beat is its root (now and then its third or fifth).
                assert!(
                    chord.contains(downbeat[0].key),
                    "seed {seed}: downbeat {chord:?}"
                );
            }
            for (step, _) in onsets(s.section.part(Instrument::Piano)) {
                assert!(
                    step % 12 == 4 || step % 12 == 8,
                    "seed {seed}: piano at step {} of the bar",
                    step % 12
                );
            }
            for (step, n) in onsets(s.section.part(Instrument::Drums)) {
                if n.iter().any(|n| n.key == gm::PEDAL_HAT) {
                    assert_eq!(step % 12, 4, "seed {seed}: hi-hat on 2");
                }
                if step % 12 == 0 {
                    assert!(
                        n.iter().any(|n| n.key == gm::RIDE || n.key == gm::CRASH)
                            || (s.first_bar + step / 12) % 4 == 3,
                        "seed {seed}: the ride marks 1 outside fills"
                    );
                }
            }
        }
    }
}

#[test]
fn ballad_bass_plays_half_notes_first_then_walks_and_the_drums_stay_soft() {
    for seed in 0..SEEDS {
        let (composer, sections) = tune(Feel::Ballad, seed, 16);
        let chorus = composer.progression().len_bars();
        let mut walked = 0;
        let mut sax_lengths = Vec::new();
        for s in &sections {
            let bass = s.section.part(Instrument::Bass);
            for bar in 0..4 {
                let song_bar = s.first_bar + bar;
                let beats: Vec<bool> = (0..4)
                    .map(|b| !notes(&bass.steps[bar * 16 + b * 4]).is_empty())
                    .collect();
                if song_bar < chorus {
                    assert_eq!(beats, [true, false, true, false], "seed {seed}: two-feel");
                } else if beats.iter().all(|b| *b) {
                    walked += 1;
                }
            }
            for (_, n) in onsets(s.section.part(Instrument::Drums)) {
                for note in n {
                    assert!(note.velocity <= 60, "seed {seed}: loud drum {note:?}");
                    assert!(
                        ![gm::CRASH, gm::RIDE].contains(&note.key),
                        "seed {seed}: cymbals in a brush ballad"
                    );
                }
            }
            sax_lengths.extend(lengths(s.section.part(Instrument::Sax)));
        }
        assert!(
            walked >= 8,
            "seed {seed}: the bass walks after the first chorus"
        );
        let mean = sax_lengths.iter().sum::<usize>() as f64 / sax_lengths.len() as f64;
        assert!(
            mean >= 4.0,
            "seed {seed}: sax notes average {mean:.1} steps"
        );
    }
}

#[test]
fn bebop_lines_run_in_eighths_into_chord_tones() {
    let mut swing_density = 0.0;
    let mut bebop_density = 0.0;
    for seed in 0..SEEDS {
        for feel in [Feel::Swing, Feel::Bebop] {
            let (composer, sections) = tune(feel, seed, 8);
            let p = composer.progression();
            let mut eighths = 0;
            let mut played = 0;
            for s in &sections {
                let sax = s.section.part(Instrument::Sax);
                eighths += sax.steps.len() / 2;
                let starts: Vec<(usize, u8)> = onsets(sax).map(|(i, n)| (i, n[0].key)).collect();
                played += starts.len();
                if feel != Feel::Bebop {
                    continue;
                }
                for (i, &(step, key)) in starts.iter().enumerate() {
                    let chord = chord_at(p, 16, s.first_bar, step);
                    if step % 4 == 0 {
                        assert!(
                            chord.contains(key),
                            "seed {seed}: beat note {key} not in {chord:?}"
                        );
                    } else {
                        // Off the beat: the chord's scale, or a half step from the next note.
                        let next = starts.get(i + 1).map(|(_, k)| *k);
                        assert!(
                            chord.scale_contains(key)
                                || next.is_some_and(|n| (i32::from(n) - i32::from(key)).abs() == 1),
                            "seed {seed}: off-beat {key} over {chord:?}"
                        );
                    }
                    assert_eq!(step % 2, 0, "seed {seed}: bebop lines are 8th notes");
                }
            }
            let density = played as f64 / eighths as f64;
            if feel == Feel::Bebop {
                bebop_density += density;
            } else {
                swing_density += density;
            }
        }
    }
    let (bebop, swing) = (bebop_density / SEEDS as f64, swing_density / SEEDS as f64);
    assert!(bebop >= 0.6, "bebop fills {bebop:.2} of the 8ths");
    assert!(
        bebop > swing + 0.15,
        "bebop {bebop:.2} is busier than swing {swing:.2}"
    );
}

#[test]
fn modal_comping_is_quartal_over_long_single_chords() {
    for seed in 0..SEEDS {
        let (composer, sections) = tune(Feel::Modal, seed, 8);
        let p = composer.progression();
        // Eight bars on one chord at a time.
        for bar in (0..p.len_bars()).step_by(8) {
            let chord = p.chord_at(bar, 0);
            for b in bar..bar + 8 {
                assert_eq!(p.chord_at(b, 0), chord);
                assert_eq!(p.bar(b).len(), 1);
            }
        }
        for s in &sections {
            for (_, n) in onsets(s.section.part(Instrument::Piano)) {
                let mut keys: Vec<u8> = n.iter().map(|n| n.key).collect();
                keys.sort_unstable();
                assert!(keys.len() >= 3);
                for w in keys.windows(2) {
                    assert_eq!(w[1] - w[0], 5, "seed {seed}: not in fourths: {keys:?}");
                }
            }
        }
    }
}

#[test]
fn a_feel_change_starts_a_suitable_form_from_the_next_section() {
    let mut composer = BuiltinComposer::new(&ComposerSettings {
        seed: 3,
        ..Default::default()
    });
    let swing = composer.compose_next(&config(Feel::Swing));
    assert_eq!(swing.section.meter.to_string(), "4/4");
    let waltz = composer.compose_next(&config(Feel::Waltz));
    assert_eq!(waltz.first_bar, 0, "a new tune from its top");
    assert!(composer.description().contains("waltz"));
    assert_eq!(waltz.section.meter.to_string(), "3/4");
    // A form asked for stays whatever the feel.
    let mut blues = BuiltinComposer::new(&ComposerSettings {
        seed: 3,
        form: Some(infinite_jazz_engine::composer::harmony::Form::Blues),
        ..Default::default()
    });
    blues.compose_next(&config(Feel::Bossa));
    assert!(blues.description().contains("blues"));
}
