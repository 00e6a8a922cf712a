//! The piano roll: the playing section and the ones queued after it, one lane per instrument,
//! with the playhead. The layout (which note goes where) is [`super::view::roll_layout`]; this
//! module only paints it.

use super::view::{player_rects, roll_layout};
use crate::link::EditorLink;
use egui::{Color32, Pos2, Rect, Stroke, Vec2};
use infinite_jazz_engine::listen::PlayerNote;
use infinite_jazz_engine::section::{Instrument, Section};
use infinite_jazz_engine::sequencer::roll::RollSnapshot;
use infinite_jazz_engine::timing::RuntimeConfig;

/// Lane colours: bass, drums, piano, sax (the band panel names the instruments in them too).
pub const LANE_COLORS: [Color32; 4] = [
    Color32::from_rgb(86, 156, 214),
    Color32::from_rgb(220, 120, 90),
    Color32::from_rgb(120, 200, 120),
    Color32::from_rgb(230, 190, 80),
];

/// The player's lane, below the band's when the band listens.
pub const PLAYER_COLOR: Color32 = Color32::from_rgb(200, 140, 230);

/// Beats of music the roll shows, from the start of the playing section.
const ROLL_BEATS: f32 = 24.0;

/// The roll's copy of the playing section, refreshed when the sequencer publishes a new one.
#[derive(Default)]
pub struct PianoRoll {
    snapshot: RollSnapshot,
}

impl PianoRoll {
    /// Takes the sequencer's newest snapshot, if it changed since the last frame.
    fn refresh(&mut self, link: &EditorLink) {
        if let Ok(mut roll) = link.roll.lock() {
            if let Some(output) = roll.as_mut() {
                let latest = output.read();
                if latest.serial != self.snapshot.serial {
                    self.snapshot = latest.clone();
                }
            }
        }
    }

    pub fn show(
        &mut self,
        ui: &mut egui::Ui,
        link: &EditorLink,
        upcoming: &[Section],
        config: &RuntimeConfig,
        player: Option<&[PlayerNote]>,
    ) {
        self.refresh(link);
        let rects = roll_layout(&self.snapshot, upcoming, config, ROLL_BEATS);
        let lanes = if player.is_some() { 5.0 } else { 4.0 };
        let size = Vec2::new(ui.available_width(), 55.0 * lanes);
        let (response, painter) = ui.allocate_painter(size, egui::Sense::hover());
        let area = response.rect;
        painter.rect_filled(area, 4.0, Color32::from_gray(24));
        let lane_h = area.height() / lanes;
        let x = |beat: f32| area.left() + beat / ROLL_BEATS * area.width();
        let vertical = |beat: f32, stroke: Stroke| {
            painter.line_segment(
                [
                    Pos2::new(x(beat), area.top()),
                    Pos2::new(x(beat), area.bottom()),
                ],
                stroke,
            );
        };
        let lane_header = |lane: usize, label: &str| {
            let top = area.top() + lane_h * lane as f32;
            painter.text(
                Pos2::new(area.left() + 4.0, top + 2.0),
                egui::Align2::LEFT_TOP,
                label,
                egui::FontId::proportional(11.0),
                Color32::from_gray(140),
            );
            painter.line_segment(
                [Pos2::new(area.left(), top), Pos2::new(area.right(), top)],
                Stroke::new(1.0, Color32::from_gray(45)),
            );
        };
        // A note in `lane` from beat `x0` to `x1`, `height` up its lane (0 to 1).
        let note = |lane: usize, x0: f32, x1: f32, height: f32, color: Color32| {
            let y = area.top() + lane_h * (lane as f32 + 1.0) - 6.0 - height * (lane_h - 14.0);
            painter.rect_filled(
                Rect::from_min_max(
                    Pos2::new(x(x0), y - 2.5),
                    Pos2::new(x(x1).max(x(x0) + 2.0), y + 2.5),
                ),
                1.0,
                color,
            );
        };
        for (i, instrument) in Instrument::ALL.iter().enumerate() {
            lane_header(i, instrument.header());
        }
        // Bar lines of the section's meter, from its start.
        let bar_beats = (self.snapshot.bar_beats as f32).max(0.25);
        let mut bar = 0.0;
        while bar < ROLL_BEATS {
            vertical(bar, Stroke::new(1.0, Color32::from_gray(50)));
            bar += bar_beats;
        }
        for r in &rects {
            let lane = r.instrument.index();
            let color = if r.playing {
                LANE_COLORS[lane]
            } else {
                LANE_COLORS[lane].gamma_multiply(0.45)
            };
            note(lane, r.x0, r.x1, r.height, color);
        }
        let now = link.stats.position_beats();
        if let Some(notes) = player {
            lane_header(4, "PLAYER");
            for r in player_rects(notes, self.snapshot.section_start, now, ROLL_BEATS) {
                note(4, r.x0, r.x1, r.height, PLAYER_COLOR);
            }
        }
        let into_section = (now - self.snapshot.section_start) as f32;
        if self.snapshot.serial != 0 && (0.0..=ROLL_BEATS).contains(&into_section) {
            vertical(into_section, Stroke::new(2.0, Color32::WHITE));
        }
    }
}
