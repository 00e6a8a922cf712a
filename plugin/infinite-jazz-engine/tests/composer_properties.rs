//! Measurable properties of the built-in composer's music, over many seeds and forms.

use infinite_jazz_engine::composer::harmony::{Chord, Form, Progression};
use infinite_jazz_engine::composer::{BuiltinComposer, ComposedSection, ComposerSettings};
use infinite_jazz_engine::section::{Instrument, Step, STEPS_PER_BAR};
use infinite_jazz_engine::timing::{PitchRange, RuntimeConfig};

fn take(
    seed: u64,
    form: Option<Form>,
    sections: usize,
    config: &RuntimeConfig,
) -> (BuiltinComposer, Vec<ComposedSection>) {
    let mut composer = BuiltinComposer::new(&ComposerSettings {
        seed,
        form,
        ..Default::default()
    });
    let out = (0..sections)
        .map(|_| composer.compose_next(config))
        .collect();
    (composer, out)
}

fn chord_at(p: &Progression, first_bar: usize, step: usize) -> Chord {
    p.chord_at(first_bar + step / STEPS_PER_BAR, (step % STEPS_PER_BAR) / 4)
}

fn notes(step: &Step) -> &[infinite_jazz_engine::section::Note] {
    match step {
        Step::Notes(n) => n,
        _ => &[],
    }
}

#[test]
fn same_seed_same_music_other_seed_other_music() {
    let config = RuntimeConfig::default();
    let (_, a) = take(7, None, 6, &config);
    let (_, b) = take(7, None, 6, &config);
    let (_, c) = take(8, Some(Form::Blues), 6, &config);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn every_part_plays_in_every_section_and_stays_in_range() {
    let config = RuntimeConfig::default();
    for seed in 0..40 {
        let (_, sections) = take(seed, None, 16, &config);
        for s in &sections {
            for instrument in Instrument::ALL {
                let part = s.section.part(instrument);
                assert_eq!(part.steps.len(), 32);
                assert!(
                    part.note_count() > 0,
                    "seed {seed}: {instrument} silent at bar {}",
                    s.first_bar
                );
                let range = config.range(instrument);
                for step in &part.steps {
                    for n in notes(step) {
                        assert!(
                            range.contains(n.key),
                            "{instrument} key {} out of {range:?}",
                            n.key
                        );
                        assert!(n.velocity >= 1 && n.velocity <= 127);
                    }
                }
            }
        }
    }
}

#[test]
fn narrow_configured_ranges_are_respected() {
    let config = RuntimeConfig::default()
        .with_range(Instrument::Bass, PitchRange::new(40, 52))
        .with_range(Instrument::Sax, PitchRange::new(60, 72))
        .with_range(Instrument::Piano, PitchRange::new(55, 67));
    for seed in 0..10 {
        let (_, sections) = take(seed, None, 8, &config);
        for s in &sections {
            for instrument in Instrument::ALL {
                for step in &s.section.part(instrument).steps {
                    for n in notes(step) {
                        assert!(
                            config.range(instrument).contains(n.key),
                            "{instrument} {}",
                            n.key
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn sections_continue_the_form() {
    let config = RuntimeConfig::default();
    let mut composer = BuiltinComposer::new(&ComposerSettings {
        seed: 3,
        form: Some(Form::Blues),
        key: Some(5),
        progression: None,
    });
    let changes: Vec<String> = (0..7)
        .map(|_| composer.compose_next(&config).changes)
        .collect();
    assert_eq!(changes[0], "| F7 | Bb7 |");
    assert_eq!(changes[1], "| F7 | Cm7 F7 |");
    assert_eq!(changes[5], "| F7 D7 | Gm7 C7 |");
    assert_eq!(
        changes[6], changes[0],
        "the second chorus starts at the top: {changes:?}"
    );
    assert_eq!(composer.next_bar(), 14);
}

/// Fraction of bass notes on beats that are chord tones: (strong beats 1 & 3, all beats,
/// bar downbeats that are the root).
fn bass_statistics(sections: &[ComposedSection], p: &Progression) -> (f64, f64, f64) {
    let (mut strong, mut strong_ct, mut all, mut all_ct, mut downbeats, mut roots) =
        (0, 0, 0, 0, 0, 0);
    for s in sections {
        for (i, step) in s.section.part(Instrument::Bass).steps.iter().enumerate() {
            if i % 4 != 0 {
                continue;
            }
            let chord = chord_at(p, s.first_bar, i);
            for n in notes(step) {
                all += 1;
                all_ct += usize::from(chord.contains(n.key));
                if i % 8 == 0 {
                    strong += 1;
                    strong_ct += usize::from(chord.contains(n.key));
                }
                if i % STEPS_PER_BAR == 0 {
                    downbeats += 1;
                    roots += usize::from(n.key % 12 == chord.root);
                }
            }
        }
    }
    (
        strong_ct as f64 / strong as f64,
        all_ct as f64 / all as f64,
        roots as f64 / downbeats as f64,
    )
}

#[test]
fn walking_bass_states_the_changes() {
    let config = RuntimeConfig::default();
    for form in Form::ALL {
        for seed in 0..8 {
            let (composer, sections) = take(seed, Some(form), 32, &config);
            let (strong, all, roots) = bass_statistics(&sections, composer.progression());
            assert!(
                strong >= 0.95,
                "{} seed {seed}: strong-beat chord tones {strong:.2}",
                form.name()
            );
            assert!(
                all >= 0.70,
                "{} seed {seed}: beat chord tones {all:.2}",
                form.name()
            );
            assert!(
                roots >= 0.95,
                "{} seed {seed}: downbeat roots {roots:.2}",
                form.name()
            );
            // Quarter notes on every beat: a walking line never stops.
            for s in &sections {
                let bass = &s.section.part(Instrument::Bass).steps;
                assert!((0..bass.len())
                    .step_by(4)
                    .all(|i| !notes(&bass[i]).is_empty()));
            }
        }
    }
}

#[test]
fn drums_keep_swing_time() {
    let config = RuntimeConfig::default();
    let (_, sections) = take(11, None, 32, &config);
    let (mut bars, mut hats_on_2_and_4, mut skip_notes) = (0, 0, 0);
    for s in &sections {
        let drums = &s.section.part(Instrument::Drums).steps;
        for bar in 0..drums.len() / STEPS_PER_BAR {
            bars += 1;
            let has =
                |step: usize, key: u8| notes(&drums[bar * 16 + step]).iter().any(|n| n.key == key);
            hats_on_2_and_4 += usize::from(has(4, 44) && has(12, 44));
            skip_notes += usize::from(has(6, 51));
        }
    }
    assert_eq!(hats_on_2_and_4, bars, "hi-hat foot on 2 and 4 in every bar");
    assert!(
        skip_notes as f64 >= bars as f64 * 0.9,
        "ride skip note after beat 2: {skip_notes}/{bars}"
    );
}

#[test]
fn drum_fills_end_phrases() {
    let config = RuntimeConfig::default();
    let (_, sections) = take(5, None, 16, &config);
    let toms = [41u8, 43, 45, 47, 50];
    for s in &sections {
        let drums = &s.section.part(Instrument::Drums).steps;
        for bar in 0..2 {
            let song_bar = s.first_bar + bar;
            let fill_hits: usize = (8..16)
                .map(|st| {
                    notes(&drums[bar * 16 + st])
                        .iter()
                        .filter(|n| n.key == 38 || toms.contains(&n.key))
                        .count()
                })
                .sum();
            if song_bar % 4 == 3 {
                assert!(fill_hits >= 3, "bar {song_bar}: fill has {fill_hits} hits");
            }
            if song_bar % 4 == 0 && song_bar > 0 {
                assert!(
                    notes(&drums[bar * 16]).iter().any(|n| n.key == 49),
                    "crash after fill at bar {song_bar}"
                );
            }
        }
    }
}

#[test]
fn piano_voices_the_changes_without_roots_in_the_bass_register() {
    let config = RuntimeConfig::default();
    for seed in 0..10 {
        let (composer, sections) = take(seed, None, 16, &config);
        let p = composer.progression();
        let (mut total, mut fitting) = (0, 0);
        for s in &sections {
            for (i, step) in s.section.part(Instrument::Piano).steps.iter().enumerate() {
                let n = notes(step);
                if n.is_empty() {
                    continue;
                }
                assert!(n.len() >= 2, "voicings have at least two notes");
                let here = chord_at(p, s.first_bar, i);
                let next_bar = chord_at(p, s.first_bar, (i / 16 + 1) * 16);
                total += 1;
                let fits = |c: Chord| n.iter().all(|k| c.scale_contains(k.key));
                fitting += usize::from(fits(here) || fits(next_bar));
            }
        }
        assert!(total > 0);
        assert!(
            fitting as f64 / total as f64 >= 0.99,
            "seed {seed}: {fitting}/{total}"
        );
    }
}

#[test]
fn sax_phrases_breathe_and_target_chord_tones() {
    let config = RuntimeConfig::default();
    for seed in 0..10 {
        let (composer, sections) = take(seed, None, 16, &config);
        let p = composer.progression();
        let (mut on_beat, mut chord_tones, mut rests) = (0, 0, 0);
        for s in &sections {
            let sax = &s.section.part(Instrument::Sax).steps;
            for (i, step) in sax.iter().enumerate() {
                if i % 4 == 0 {
                    for n in notes(step) {
                        on_beat += 1;
                        chord_tones += usize::from(chord_at(p, s.first_bar, i).contains(n.key));
                    }
                }
            }
            rests += sax.iter().filter(|st| matches!(st, Step::Rest)).count();
        }
        assert!(
            chord_tones as f64 / on_beat as f64 >= 0.8,
            "seed {seed}: {chord_tones}/{on_beat}"
        );
        // At least an eighth of the time the sax is breathing, not playing.
        assert!(
            rests * 8 >= sections.len() * 32,
            "seed {seed}: {rests} rest steps"
        );
    }
}
