//! The Infini Loop editor: prompt and sources, the clip queue, the playing clip's waveform with
//! its loop and playhead, a live spectrum, the loop candidates, and saving the current loop.

mod spectrum;

use crate::link::{save_musicgpt_path, LoopLink};
use crate::loop_export::save_loop_wav;
use crate::params::{InfiniLoopParams, ModelSize, SourceKind, SyncMode};
use crate::playback::SPECTRUM_SAMPLES;
use egui::{Color32, Pos2, Rect, Stroke, Vec2};
use infini_loop_engine::user_config::{LoopUserConfig, UserConfigError};
use infini_loop_engine::worker::{ClipCommand, ClipStatus, ClipView};
use infinite_jazz_files::background::Pending;
use nice_plug::context::gui::GuiContext;
use nice_plug::prelude::{Enum, EnumParam, ParamSetter};
use nice_plug_egui::widgets::ParamSlider;
use nice_plug_egui::{EguiEditorState, NiceEguiApp};
pub use spectrum::spectrum_db;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The editor's size when it first opens.
pub fn default_state() -> Arc<EguiEditorState> {
    EguiEditorState::from_size(nice_plug::editor::dpi::LogicalSize::new(900.0, 680.0), 1.0)
}

/// The editor window for the host, sized and titled, drawing [`LoopEditor`].
pub fn create(
    params: Arc<InfiniLoopParams>,
    link: Arc<LoopLink>,
) -> Option<nice_plug_egui::EguiEditor<LoopEditor>> {
    nice_plug_egui::create_egui_editor(
        params.editor_state.clone(),
        nice_plug_egui::RepaintNotifier::new(),
        nice_plug_egui::EguiNiceSettings::new().with_tile("Infini Loop"),
        LoopEditor::new(params, link),
    )
}

/// The source choices as the editor names them.
const SOURCES: [(SourceKind, &str); 2] = [
    (SourceKind::MusicGpt, "MusicGPT"),
    (SourceKind::Folder, "Folder"),
];

/// MusicGen's model sizes as MusicGPT names them.
const MODEL_SIZES: [(ModelSize, &str); 3] = [
    (ModelSize::Small, "small"),
    (ModelSize::Medium, "medium"),
    (ModelSize::Large, "large"),
];

/// How loops keep time, as the editor names it.
const SYNC_MODES: [(SyncMode, &str); 2] = [
    (SyncMode::Stretch, "stretch to the host's bars"),
    (SyncMode::Off, "own tempo"),
];

pub struct LoopEditor {
    params: Arc<InfiniLoopParams>,
    link: Arc<LoopLink>,
    gui: Option<GuiContext>,
    message: Option<String>,
    spectrum: Vec<f32>,
    fft: Arc<dyn rustfft::Fft<f32>>,
    /// The MusicGPT path being typed; this machine's setting once "Use" is pressed.
    musicgpt_field: String,
    /// File work in progress (saving the MusicGPT path, saving a loop), done off this thread.
    saving_path: Option<Pending<Result<LoopUserConfig, UserConfigError>>>,
    saving_loop: Option<Pending<String>>,
}

/// Which of the worker's clips is playing: the looper counts the clips it started, the worker
/// the clips it made, and the status keeps the newest ones.
pub fn playing_index(status: &ClipStatus, started: u64) -> Option<usize> {
    let made = status.clips_made;
    let kept = status.prepared.len() as u64;
    if started == 0 || started > made || made - started >= kept {
        return None;
    }
    Some((kept - (made - started) - 1) as usize)
}

impl LoopEditor {
    pub fn new(params: Arc<InfiniLoopParams>, link: Arc<LoopLink>) -> Self {
        let fft = rustfft::FftPlanner::new().plan_fft_forward(SPECTRUM_SAMPLES);
        let musicgpt_field = link.machine().musicgpt.display().to_string();
        LoopEditor {
            params,
            link,
            gui: None,
            message: None,
            spectrum: Vec::new(),
            fft,
            musicgpt_field: if musicgpt_field == "musicgpt" {
                String::new()
            } else {
                musicgpt_field
            },
            saving_path: None,
            saving_loop: None,
        }
    }

    /// Stores the MusicGPT path in the user's config file (never the project), on a thread
    /// of its own; [`Self::collect_file_work`] uses it once saved.
    fn save_musicgpt_path(&mut self) {
        let typed = self.musicgpt_field.clone();
        self.message = Some("saving the MusicGPT path…".into());
        self.saving_path = Some(Pending::spawn(
            "infini-loop-config",
            move || save_musicgpt_path(&typed),
            |e| {
                Err(UserConfigError::File(
                    infinite_jazz_files::FileError::Write {
                        path: "the Infini Loop config".into(),
                        reason: e.to_string(),
                    },
                ))
            },
        ));
    }

    /// Saves the playing loop as a WAV in `~/infini-loop`, on a thread of its own.
    fn save(&mut self, view: &ClipView) {
        let view = view.clone();
        let folder = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default()
            .join("infini-loop");
        self.message = Some("saving the loop…".into());
        self.saving_loop = Some(Pending::spawn(
            "infini-loop-save",
            move || match save_loop_wav(&view, &folder) {
                Ok(path) => format!("saved {}", path.display()),
                Err(e) => format!("could not save: {e}"),
            },
            |e| format!("could not save: {e}"),
        ));
    }

    /// Shows the results of file work that finished since the last frame.
    fn collect_file_work(&mut self) {
        if let Some(done) = self.saving_path.as_mut().and_then(Pending::poll) {
            self.saving_path = None;
            self.message = Some(match done {
                Ok(config) => {
                    self.link.use_musicgpt(&config);
                    self.link.reconfigure(&self.params);
                    format!("MusicGPT: {}", config.executable().display())
                }
                Err(e) => format!("could not save the MusicGPT path: {e}"),
            });
        }
        if let Some(done) = self.saving_loop.as_mut().and_then(Pending::poll) {
            self.saving_loop = None;
            self.message = Some(done);
        }
    }

    /// Plays the clip with other loop points next: it keeps looping there until it moves on.
    fn audition(&mut self, view: &ClipView, start: usize, end: usize) {
        self.message = Some(match self.link.audition(view, start, end) {
            Ok(()) => format!(
                "auditioning {:.2}–{:.2} s",
                start as f64 / f64::from(view.sample_rate),
                end as f64 / f64::from(view.sample_rate)
            ),
            Err(e) => e.to_string(),
        });
    }

    fn waveform(&self, ui: &mut egui::Ui, view: Option<&ClipView>) {
        let (response, painter) =
            ui.allocate_painter(Vec2::new(ui.available_width(), 150.0), egui::Sense::hover());
        let area = response.rect;
        painter.rect_filled(area, 4.0, Color32::from_gray(22));
        let Some(view) = view else {
            painter.text(
                area.center(),
                egui::Align2::CENTER_CENTER,
                "no clip playing",
                egui::FontId::proportional(14.0),
                Color32::GRAY,
            );
            return;
        };
        let x =
            |frame: usize| area.left() + frame as f32 / view.frames.max(1) as f32 * area.width();
        painter.rect_filled(
            Rect::from_min_max(
                Pos2::new(x(view.loop_start), area.top()),
                Pos2::new(x(view.loop_end), area.bottom()),
            ),
            0.0,
            Color32::from_rgba_unmultiplied(70, 130, 200, 50),
        );
        let mid = area.center().y;
        let n = view.peaks.len().max(1);
        for (i, (lo, hi)) in view.peaks.iter().enumerate() {
            let px = area.left() + i as f32 / n as f32 * area.width();
            painter.line_segment(
                [
                    Pos2::new(px, mid - hi * area.height() * 0.45),
                    Pos2::new(px, mid - lo * area.height() * 0.45),
                ],
                Stroke::new(1.0, Color32::from_rgb(120, 190, 240)),
            );
        }
        // Bar lines over the loop, at the clip's own tempo.
        if let Some(bpm) = view.bpm.filter(|b| b.is_finite() && *b > 0.0) {
            let bar = 4.0 * 60.0 / bpm * f64::from(view.sample_rate);
            let mut at = view.loop_start as f64;
            while at < view.loop_end as f64 - 1.0 && bar >= 1.0 {
                painter.line_segment(
                    [
                        Pos2::new(x(at as usize), area.top()),
                        Pos2::new(x(at as usize), area.bottom()),
                    ],
                    Stroke::new(1.0, Color32::from_rgba_unmultiplied(255, 255, 255, 60)),
                );
                at += bar;
            }
        }
        let phase = f64::from_bits(self.link.loop_phase.load(Ordering::Relaxed));
        let pos = view.loop_start
            + (phase.clamp(0.0, 1.0) * (view.loop_end - view.loop_start) as f64) as usize;
        if phase > 0.0 {
            painter.line_segment(
                [
                    Pos2::new(x(pos), area.top()),
                    Pos2::new(x(pos), area.bottom()),
                ],
                Stroke::new(2.0, Color32::WHITE),
            );
        }
    }

    fn spectrum_view(&mut self, ui: &mut egui::Ui) {
        if let Ok(mut s) = self.link.spectrum.lock() {
            if let Some(output) = s.as_mut() {
                let frame = output.read();
                let fresh = spectrum_db(frame, self.fft.as_ref(), 120);
                self.spectrum = if self.spectrum.len() == fresh.len() {
                    self.spectrum
                        .iter()
                        .zip(&fresh)
                        .map(|(old, new)| old * 0.6 + new * 0.4)
                        .collect()
                } else {
                    fresh
                };
            }
        }
        let (response, painter) =
            ui.allocate_painter(Vec2::new(ui.available_width(), 90.0), egui::Sense::hover());
        let area = response.rect;
        painter.rect_filled(area, 4.0, Color32::from_gray(22));
        let n = self.spectrum.len().max(1);
        for (i, db) in self.spectrum.iter().enumerate() {
            let h = ((db + 90.0) / 90.0).clamp(0.0, 1.0) * area.height();
            let x0 = area.left() + i as f32 / n as f32 * area.width();
            let x1 = area.left() + (i + 1) as f32 / n as f32 * area.width() - 1.0;
            painter.rect_filled(
                Rect::from_min_max(
                    Pos2::new(x0, area.bottom() - h),
                    Pos2::new(x1, area.bottom()),
                ),
                0.0,
                Color32::from_rgb(120, 200, 140),
            );
        }
    }
}

impl NiceEguiApp for LoopEditor {
    fn build(
        &mut self,
        _ctx: egui::Context,
        gui: GuiContext,
        _frame: &mut nice_plug_egui::Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        self.gui = Some(gui);
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut nice_plug_egui::Frame) {
        let Some(gui) = self.gui.clone() else { return };
        let setter = gui.param_setter();
        self.collect_file_work();
        let status = self.link.status();
        let playing = playing_index(&status, self.link.clips_started.load(Ordering::Relaxed));
        let view = playing.and_then(|i| status.prepared.get(i)).cloned();
        ui.heading("Infini Loop");
        let mut sources = self.params.source_settings();
        let before = sources.clone();
        ui.horizontal(|ui| {
            ui.label("Prompt");
            ui.add(
                egui::TextEdit::singleline(&mut sources.prompt)
                    .desired_width(420.0)
                    .hint_text("warm lofi piano, vinyl crackle"),
            );
        });
        ui.horizontal(|ui| {
            ui.label("Source");
            choice_buttons(ui, &setter, &self.params.source, &SOURCES);
            ui.label("Model");
            choice_buttons(ui, &setter, &self.params.model, &MODEL_SIZES);
            ui.label("Seconds");
            ui.add(ParamSlider::for_param(&self.params.seconds, &setter).with_width(100.0));
        });
        ui.horizontal(|ui| {
            ui.label("Folder or file");
            ui.add(egui::TextEdit::singleline(&mut sources.folder).desired_width(260.0));
            ui.label("musicgpt");
            ui.add(
                egui::TextEdit::singleline(&mut self.musicgpt_field)
                    .desired_width(180.0)
                    .hint_text("on PATH"),
            );
            if ui
                .button("Use")
                .on_hover_text("Saved in your own config, never in the project")
                .clicked()
            {
                self.save_musicgpt_path();
            }
        });
        if sources != before {
            if let Ok(mut s) = self.params.sources.write() {
                *s = sources;
            }
        }
        ui.horizontal(|ui| {
            if ui.button("Generate").clicked() {
                self.link.allow_generation();
                self.link.active.store(true, Ordering::Relaxed);
                self.link.reconfigure(&self.params);
                self.message = Some("asking for clips".into());
            }
            if ui.button("Start").clicked() {
                self.link.active.store(true, Ordering::Relaxed);
                self.link.reconfigure(&self.params);
            }
            if ui.button("Stop").clicked() {
                self.link.active.store(false, Ordering::Relaxed);
                self.link.send(ClipCommand::Cancel);
                self.link.reconfigure(&self.params);
            }
            if ui.button("Next clip").clicked() {
                self.link.switch.store(true, Ordering::Relaxed);
            }
            if let Some(v) = &view {
                let v = v.clone();
                if ui.button("Save current loop").clicked() {
                    self.save(&v);
                }
            }
        });
        for (label, param) in [
            ("Gain", &self.params.gain),
            ("Crossfade", &self.params.crossfade),
            ("Seam", &self.params.seam_ms),
            ("Loudness", &self.params.loudness),
        ] {
            ui.horizontal(|ui| {
                ui.label(label);
                ui.add(ParamSlider::for_param(param, &setter).with_width(140.0));
            });
        }
        ui.horizontal(|ui| {
            ui.label("Repeats");
            ui.add(ParamSlider::for_param(&self.params.repeats, &setter).with_width(100.0));
            ui.label("Clips ahead");
            ui.add(ParamSlider::for_param(&self.params.prefetch, &setter).with_width(80.0));
            ui.label("Sync");
            choice_buttons(ui, &setter, &self.params.sync, &SYNC_MODES);
        });
        self.waveform(ui, view.as_ref());
        self.spectrum_view(ui);
        ui.label("Clips");
        for (i, clip) in status.prepared.iter().enumerate().rev().take(5) {
            let state = match playing {
                Some(p) if p == i => "playing",
                Some(p) if i > p => "waiting",
                _ => "played",
            };
            let own_tempo = match clip.bpm {
                Some(b) => format!(", {b:.1} BPM"),
                None => ", no beat found".to_string(),
            };
            ui.label(format!(
                "{state}: {} — loop {:.2} s{own_tempo}{}",
                clip.label,
                (clip.loop_end - clip.loop_start) as f64 / f64::from(clip.sample_rate),
                clip.in_time
                    .as_ref()
                    .map_or(String::new(), |t| format!("; {t}"))
            ));
        }
        if let Some(v) = view.clone() {
            ui.horizontal_wrapped(|ui| {
                ui.label("Loop candidates (click to hear one):");
                for (s, e, score) in v.candidates.iter().copied() {
                    let rate = f64::from(v.sample_rate);
                    let text = format!(
                        "{:.2}–{:.2} s ({score:.2})",
                        s as f64 / rate,
                        e as f64 / rate
                    );
                    if ui.small_button(text).clicked() {
                        self.audition(&v, s, e);
                    }
                }
            });
        }
        let waiting_for_generate = self.params.source.value() == SourceKind::MusicGpt
            && !self.link.machine().generation_allowed
            && !self.params.source_settings().prompt.trim().is_empty();
        let line = status
            .last_error
            .clone()
            .or_else(|| status.busy.clone())
            .or_else(|| self.message.clone())
            .or_else(|| self.link.config_problem.clone())
            .or_else(|| {
                waiting_for_generate
                    .then(|| "press Generate to run MusicGPT with this prompt".to_string())
            })
            .unwrap_or_else(|| "ready".into());
        ui.separator();
        ui.label(line);
        ui.ctx().request_repaint();
    }

    fn editor_closed(&mut self) {
        self.gui = None;
    }
}

/// One button per choice of an enum parameter; a click sets it as one gesture.
fn choice_buttons<T: Enum + PartialEq + Copy + Send + Sync + 'static>(
    ui: &mut egui::Ui,
    setter: &ParamSetter,
    param: &EnumParam<T>,
    choices: &[(T, &str)],
) {
    for &(value, name) in choices {
        if ui.selectable_label(param.value() == value, name).clicked() {
            setter.begin_set_parameter(param);
            setter.set_parameter(param, value);
            setter.end_set_parameter(param);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_playing_clip_is_found_among_the_kept_ones() {
        let mut status = ClipStatus::default();
        for i in 0..3 {
            status.prepared.push(ClipView {
                label: format!("clip {i}"),
                sample_rate: 48_000,
                frames: 10,
                peaks: vec![],
                loop_start: 0,
                loop_end: 10,
                candidates: vec![],
                bpm: None,
                loop_beats: None,
                audio: None,
                id: i + 1,
                in_time: None,
            });
        }
        status.clips_made = 5;
        assert_eq!(playing_index(&status, 0), None);
        assert_eq!(
            playing_index(&status, 2),
            None,
            "already dropped from the status"
        );
        assert_eq!(playing_index(&status, 3), Some(0));
        assert_eq!(playing_index(&status, 5), Some(2));
        assert_eq!(playing_index(&status, 6), None);
    }
}
