//! The editor: see and steer the band. Everything it changes goes to the worker through its
//! command channel or to the host through parameters; it never touches the audio thread.

pub mod view;

use crate::link::{EditorLink, Steering};
use crate::params::{FormChoice, InfiniteJazzParams, InstrumentParams, KeyChoice};
use crossbeam_channel::Receiver;
use egui::{Color32, Pos2, Rect, Stroke, Vec2};
use infinite_jazz_engine::composer::harmony::Progression;
use infinite_jazz_engine::midi_file::write_smf;
use infinite_jazz_engine::section::{Instrument, Section};
use infinite_jazz_engine::sequencer::roll::RollSnapshot;
use infinite_jazz_engine::take::{write_take, TakeInfo};
use infinite_jazz_engine::worker::WorkerCommand;
use infinite_jazz_files::{unused_path, write_bytes_atomically};
use infinite_jazz_llm::chat::{complete, Prompt};
use infinite_jazz_llm::config::{config_path, load_user_config, save_user_config};
use infinite_jazz_llm::http::HttpClient;
use infinite_jazz_llm::{Backend, UserConfig};
use nice_plug::context::gui::GuiContext;
use nice_plug::prelude::*;
use nice_plug_egui::widgets::ParamSlider;
use nice_plug_egui::{EguiEditorState, NiceEguiApp};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use view::{export_sections, roll_layout, BackendForm, StatusInputs, StatusView};

pub const WIDTH: u32 = 980;
pub const HEIGHT: u32 = 760;

pub fn default_state() -> Arc<EguiEditorState> {
    EguiEditorState::from_size(
        nice_plug::editor::dpi::LogicalSize::new(WIDTH as f64, HEIGHT as f64),
        1.0,
    )
}

/// Lane colours: bass, drums, piano, sax.
const COLORS: [Color32; 4] = [
    Color32::from_rgb(86, 156, 214),
    Color32::from_rgb(220, 120, 90),
    Color32::from_rgb(120, 200, 120),
    Color32::from_rgb(230, 190, 80),
];

/// Beats of music the roll shows, from the start of the playing section.
const ROLL_BEATS: f32 = 24.0;

pub struct JazzEditor {
    params: Arc<InfiniteJazzParams>,
    link: Arc<EditorLink>,
    gui: Option<GuiContext>,
    form: BackendForm,
    show_key: bool,
    backend_message: Option<String>,
    check: Option<Receiver<String>>,
    export_bars: usize,
    export_folder: String,
    export_message: Option<String>,
    roll: RollSnapshot,
}

impl JazzEditor {
    pub fn new(params: Arc<InfiniteJazzParams>, link: Arc<EditorLink>) -> Self {
        let user = config_path()
            .and_then(|p| load_user_config(&p).ok())
            .unwrap_or_default();
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default();
        JazzEditor {
            params,
            link,
            gui: None,
            form: BackendForm::from_config(&user),
            show_key: false,
            backend_message: None,
            check: None,
            export_bars: 16,
            export_folder: home.join("infinite-jazz-export").display().to_string(),
            export_message: None,
            roll: RollSnapshot::default(),
        }
    }

    fn steering(&self) -> Steering {
        self.params.steering()
    }

    fn status(&self) -> StatusInputs {
        let stats = &self.link.stats;
        let mut inputs = StatusInputs {
            position_beats: stats.position_beats(),
            tempo: f64::from_bits(self.link.tempo_bits.load(Ordering::Relaxed)),
            playing_origin: stats.playing_origin.load(Ordering::Relaxed),
            underruns: stats.underruns.load(Ordering::Relaxed),
            ..Default::default()
        };
        if let Ok(guard) = self.link.worker.lock() {
            if let Some(w) = guard.as_ref() {
                inputs.queued = w.status.queued.load(Ordering::Relaxed);
                inputs.depth = w.status.depth.load(Ordering::Relaxed);
                inputs.error = w.status.last_error.lock().ok().and_then(|e| e.clone());
                if let Some(llm) = w
                    .llm_stats
                    .as_ref()
                    .and_then(|s| s.lock().ok().map(|s| s.clone()))
                {
                    inputs.latency_ms = llm.last_latency_ms;
                    inputs.error = llm.last_error.or(inputs.error);
                    inputs.model = Some(self.form.model.clone());
                }
            }
        }
        inputs
    }

    fn upcoming(&self) -> Vec<Section> {
        self.link
            .worker
            .lock()
            .ok()
            .and_then(|g| {
                g.as_ref()
                    .and_then(|w| w.status.upcoming.lock().ok().map(|u| u.clone()))
            })
            .unwrap_or_default()
    }

    fn history(&self) -> Vec<Section> {
        self.link
            .worker
            .lock()
            .ok()
            .and_then(|g| {
                g.as_ref()
                    .map(|w| w.status.history().into_iter().map(|a| a.section).collect())
            })
            .unwrap_or_default()
    }

    /// Sends the worker a source built from the current settings, the same way the plugin
    /// builds one when the host starts it (form, key or own changes included), and points the
    /// status display at the new source's statistics.
    fn apply_source(&mut self) {
        let user = match config_path().map(|p| load_user_config(&p)) {
            Some(Ok(u)) => u,
            Some(Err(e)) => {
                self.backend_message = Some(e.to_string());
                return;
            }
            None => UserConfig::default(),
        };
        let mut llm = user.settings();
        self.steering().apply_to(&mut llm);
        let composer = self.params.worker_settings().composer;
        let (command, stats) = match infinite_jazz_llm::source::model_source(llm, &composer) {
            Ok(Some(source)) => {
                let stats = source.stats();
                (WorkerCommand::SetSource(Box::new(source)), Some(stats))
            }
            Ok(None) => (WorkerCommand::UseBuiltin, None),
            Err(e) => {
                self.backend_message = Some(e.to_string());
                return;
            }
        };
        let builtin = stats.is_none();
        if let Ok(mut worker) = self.link.worker.lock() {
            if let Some(worker) = worker.as_mut() {
                worker.llm_stats = stats;
            }
        }
        let sent = self.link.send(command);
        self.backend_message = Some(match (sent, builtin) {
            (false, _) => "saved; it applies when the host starts the plugin".into(),
            (true, true) => "using the built-in composer".into(),
            (true, false) => format!("asking {} from the next section on", self.form.model),
        });
    }

    fn save_backend(&mut self) {
        let Some(path) = config_path() else {
            self.backend_message = Some("no home folder to save the settings in".into());
            return;
        };
        let existing = load_user_config(&path).unwrap_or_default();
        match self.form.to_config(&existing) {
            Ok(config) => match save_user_config(&path, &config) {
                Ok(()) => self.apply_source(),
                Err(e) => self.backend_message = Some(e.to_string()),
            },
            Err(e) => self.backend_message = Some(e),
        }
    }

    /// Asks the model for a word, on a thread of its own, and reports the round trip.
    fn check_connection(&mut self) {
        let existing = config_path()
            .and_then(|p| load_user_config(&p).ok())
            .unwrap_or_default();
        let config = match self.form.to_config(&existing) {
            Ok(c) => c,
            Err(e) => {
                self.backend_message = Some(e);
                return;
            }
        };
        let mut settings = config.settings();
        if settings.backend == Backend::Builtin {
            self.backend_message = Some("the built-in composer needs no connection".into());
            return;
        }
        settings.stream = false;
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.check = Some(rx);
        self.backend_message = Some("checking…".into());
        std::thread::spawn(move || {
            let started = Instant::now();
            let prompt = Prompt {
                system: "Answer with one word.".into(),
                user: "Say OK.".into(),
            };
            let result = HttpClient::new(settings.timeouts, 64 * 1024)
                .and_then(|http| complete(&http, &settings, &prompt, 16));
            let message = match result {
                Ok(_) => format!(
                    "connected: answered in {} ms",
                    started.elapsed().as_millis()
                ),
                Err(e) => settings.api_key.redact(&e.to_string()),
            };
            let _ = tx.send(message);
        });
    }

    fn export(&mut self, bars: Option<usize>) {
        let sections = export_sections(&self.history(), bars);
        if sections.is_empty() {
            self.export_message = Some("nothing has played yet".into());
            return;
        }
        let folder = PathBuf::from(self.export_folder.trim());
        let config = self.params.worker_settings().config;
        let result = (|| -> Result<PathBuf, String> {
            std::fs::create_dir_all(&folder).map_err(|e| e.to_string())?;
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            // Two exports in one second get their own names: nothing is overwritten.
            let midi_path = unused_path(&folder, &format!("infinite-jazz-{stamp}"), "mid");
            let base = midi_path.with_extension("");
            let midi = write_smf(&sections, &config).map_err(|e| e.to_string())?;
            write_bytes_atomically(&midi_path, &midi).map_err(|e| e.to_string())?;
            let mut info = TakeInfo::from_config(&config);
            info.seed = Some(self.params.seed.value().max(0) as u64);
            info.prompt = self.steering().vibe;
            info.model = self.form.model.clone();
            let text = write_take(&info, &sections);
            write_bytes_atomically(&base.with_extension("txt"), text.as_bytes())
                .map_err(|e| e.to_string())?;
            Ok(base)
        })();
        self.export_message = Some(match result {
            Ok(base) => format!("saved {}.mid and .txt", base.display()),
            Err(e) => format!("could not save: {e}"),
        });
    }

    fn status_panel(&self, ui: &mut egui::Ui) {
        let status = StatusView::new(&self.status());
        ui.horizontal(|ui| {
            ui.strong(&status.position);
            ui.separator();
            ui.label(&status.tempo);
            ui.separator();
            ui.add(
                egui::ProgressBar::new(status.meter)
                    .desired_width(160.0)
                    .text(&status.meter_text),
            );
            ui.separator();
            ui.label(&status.source);
        });
        ui.horizontal(|ui| {
            ui.label(&status.latency);
            ui.separator();
            ui.label(format!("fallback sections: {}", status.underruns));
            if let Some(e) = &status.error {
                ui.separator();
                ui.colored_label(Color32::from_rgb(240, 110, 100), e);
            }
        });
    }

    fn piano_roll(&mut self, ui: &mut egui::Ui) {
        if let Ok(mut roll) = self.link.roll.lock() {
            if let Some(output) = roll.as_mut() {
                let latest = output.read();
                if latest.serial != self.roll.serial {
                    self.roll = latest.clone();
                }
            }
        }
        let config = self.params.worker_settings().config;
        let rects = roll_layout(&self.roll, &self.upcoming(), &config, ROLL_BEATS);
        let size = Vec2::new(ui.available_width(), 220.0);
        let (response, painter) = ui.allocate_painter(size, egui::Sense::hover());
        let area = response.rect;
        painter.rect_filled(area, 4.0, Color32::from_gray(24));
        let lane_h = area.height() / 4.0;
        let x = |beat: f32| area.left() + beat / ROLL_BEATS * area.width();
        for (i, instrument) in Instrument::ALL.iter().enumerate() {
            let top = area.top() + lane_h * i as f32;
            painter.text(
                Pos2::new(area.left() + 4.0, top + 2.0),
                egui::Align2::LEFT_TOP,
                instrument.header(),
                egui::FontId::proportional(11.0),
                Color32::from_gray(140),
            );
            painter.line_segment(
                [Pos2::new(area.left(), top), Pos2::new(area.right(), top)],
                Stroke::new(1.0, Color32::from_gray(45)),
            );
        }
        for beat in (0..ROLL_BEATS as usize).step_by(4) {
            painter.line_segment(
                [
                    Pos2::new(x(beat as f32), area.top()),
                    Pos2::new(x(beat as f32), area.bottom()),
                ],
                Stroke::new(1.0, Color32::from_gray(50)),
            );
        }
        for r in &rects {
            let lane = r.instrument.index() as f32;
            let y = area.top() + lane_h * (lane + 1.0) - 6.0 - r.height * (lane_h - 14.0);
            let color = if r.playing {
                COLORS[r.instrument.index()]
            } else {
                COLORS[r.instrument.index()].gamma_multiply(0.45)
            };
            painter.rect_filled(
                Rect::from_min_max(
                    Pos2::new(x(r.x0), y - 2.5),
                    Pos2::new(x(r.x1).max(x(r.x0) + 2.0), y + 2.5),
                ),
                1.0,
                color,
            );
        }
        let into_section = (self.link.stats.position_beats() - self.roll.section_start) as f32;
        if self.roll.serial != 0 && (0.0..=ROLL_BEATS).contains(&into_section) {
            painter.line_segment(
                [
                    Pos2::new(x(into_section), area.top()),
                    Pos2::new(x(into_section), area.bottom()),
                ],
                Stroke::new(2.0, Color32::WHITE),
            );
        }
    }

    fn steering_panel(&mut self, ui: &mut egui::Ui, setter: &ParamSetter) {
        let mut steering = self.steering();
        let before = steering.clone();
        ui.heading("Steering");
        ui.label("Vibe (for the model)");
        ui.add(
            egui::TextEdit::multiline(&mut steering.vibe)
                .desired_rows(2)
                .hint_text("atmospheric, sparse"),
        );
        ui.horizontal(|ui| {
            ui.label("Prompt style");
            egui::ComboBox::from_id_salt("style")
                .selected_text(steering.style.clone())
                .show_ui(ui, |ui| {
                    for name in infinite_jazz_llm::prompt::builtin_styles() {
                        ui.selectable_value(&mut steering.style, name.to_string(), name);
                    }
                });
        });
        ui.horizontal(|ui| {
            ui.label("Form");
            enum_combo(
                ui,
                setter,
                &self.params.form,
                "form",
                &[
                    FormChoice::Random,
                    FormChoice::TwoFiveOne,
                    FormChoice::Blues,
                    FormChoice::RhythmChanges,
                    FormChoice::MinorCycle,
                ],
            );
            ui.label("Key");
            let keys: Vec<KeyChoice> = (0..13).map(KeyChoice::from_index).collect();
            enum_combo(ui, setter, &self.params.key, "key", &keys);
        });
        ui.label("Own changes (bars separated by |)");
        ui.add(egui::TextEdit::singleline(&mut steering.changes).hint_text("Dm7 G7 | Cmaj7 |"));
        if !steering.changes.trim().is_empty() {
            if let Err(e) = Progression::parse(&steering.changes) {
                ui.colored_label(Color32::from_rgb(240, 110, 100), e.to_string());
            }
        }
        for (label, param) in [
            ("Swing", &self.params.swing),
            ("Humanize timing", &self.params.humanize_timing),
        ] {
            ui.horizontal(|ui| {
                ui.label(label);
                ui.add(ParamSlider::for_param(param, setter).with_width(150.0));
            });
        }
        for (label, param) in [
            ("Section bars", &self.params.section_bars),
            ("Sections ahead", &self.params.buffer_depth),
            ("Seed", &self.params.seed),
        ] {
            ui.horizontal(|ui| {
                ui.label(label);
                ui.add(ParamSlider::for_param(param, setter).with_width(150.0));
            });
        }
        ui.horizontal(|ui| {
            ui.label("Temperature");
            ui.add(egui::Slider::new(&mut steering.temperature, 0.0..=2.0));
        });
        ui.horizontal(|ui| {
            ui.label("Top-p");
            ui.add(egui::Slider::new(&mut steering.top_p, 0.0..=1.0));
        });
        ui.horizontal(|ui| {
            ui.label("Context steps");
            ui.add(egui::Slider::new(&mut steering.context_steps, 0..=256));
        });
        if steering != before {
            {
                self.params.steering.set(steering);
            }
        }
        ui.horizontal(|ui| {
            if ui.button("Apply to the model").clicked() {
                self.apply_source();
            }
            if ui.button("Regenerate upcoming").clicked() {
                self.link.send(WorkerCommand::Regenerate);
            }
        });
    }

    fn band_panel(&self, ui: &mut egui::Ui, setter: &ParamSetter) {
        ui.heading("Band");
        egui::Grid::new("band").num_columns(4).show(ui, |ui| {
            ui.label("");
            ui.label("Mute");
            ui.label("Channel");
            ui.label("Velocity");
            ui.end_row();
            for instrument in Instrument::ALL {
                let p: &InstrumentParams = self.params.instrument(instrument);
                ui.colored_label(COLORS[instrument.index()], instrument.header());
                let mut muted = p.mute.value();
                if ui.checkbox(&mut muted, "").changed() {
                    setter.begin_set_parameter(&p.mute);
                    setter.set_parameter(&p.mute, muted);
                    setter.end_set_parameter(&p.mute);
                }
                ui.add(ParamSlider::for_param(&p.channel, setter).with_width(70.0));
                ui.add(ParamSlider::for_param(&p.velocity, setter).with_width(90.0));
                ui.end_row();
            }
        });
    }

    fn backend_panel(&mut self, ui: &mut egui::Ui) {
        if let Some(rx) = &self.check {
            if let Ok(message) = rx.try_recv() {
                self.backend_message = Some(message);
                self.check = None;
            }
        }
        ui.heading("Model");
        ui.horizontal(|ui| {
            for (backend, name) in [
                (Backend::Builtin, "Built-in"),
                (Backend::OpenAi, "OpenAI-compatible"),
                (Backend::Ollama, "Ollama"),
            ] {
                if ui
                    .selectable_label(self.form.backend == backend, name)
                    .clicked()
                {
                    self.form.set_backend(backend);
                }
            }
        });
        let enabled = self.form.backend != Backend::Builtin;
        ui.add_enabled_ui(enabled, |ui| {
            ui.horizontal(|ui| {
                ui.label("Base URL");
                ui.text_edit_singleline(&mut self.form.base_url);
            });
            ui.horizontal(|ui| {
                ui.label("Model");
                ui.text_edit_singleline(&mut self.form.model);
            });
            ui.horizontal(|ui| {
                ui.label("API key");
                ui.add(egui::TextEdit::singleline(&mut self.form.api_key).password(!self.show_key).desired_width(180.0));
                ui.checkbox(&mut self.show_key, "show");
            });
            ui.small(format!(
                "Saved key: {} — stored only in your config file (readable by you alone), never in the project.",
                self.form.masked_key()
            ));
        });
        ui.horizontal(|ui| {
            if ui.button("Save and use").clicked() {
                self.save_backend();
            }
            if ui
                .add_enabled(
                    enabled && self.check.is_none(),
                    egui::Button::new("Check connection"),
                )
                .clicked()
            {
                self.check_connection();
            }
        });
        if let Some(m) = &self.backend_message {
            ui.label(m);
        }
    }

    fn export_panel(&mut self, ui: &mut egui::Ui) {
        ui.heading("Export");
        ui.horizontal(|ui| {
            ui.label("Folder");
            ui.text_edit_singleline(&mut self.export_folder);
        });
        ui.horizontal(|ui| {
            ui.add(
                egui::DragValue::new(&mut self.export_bars)
                    .range(1..=4096)
                    .suffix(" bars"),
            );
            if ui.button("Save last bars").clicked() {
                self.export(Some(self.export_bars));
            }
            if ui.button("Save whole session").clicked() {
                self.export(None);
            }
        });
        if let Some(m) = &self.export_message {
            ui.label(m);
        }
    }
}

fn enum_combo<T: Enum + PartialEq + Copy + Send + Sync + 'static>(
    ui: &mut egui::Ui,
    setter: &ParamSetter,
    param: &EnumParam<T>,
    id: &str,
    choices: &[T],
) {
    let current = param.value();
    egui::ComboBox::from_id_salt(id)
        .selected_text(T::variants()[current.to_index()])
        .show_ui(ui, |ui| {
            for choice in choices {
                if ui
                    .selectable_label(*choice == current, T::variants()[choice.to_index()])
                    .clicked()
                {
                    setter.begin_set_parameter(param);
                    setter.set_parameter(param, *choice);
                    setter.end_set_parameter(param);
                }
            }
        });
}

impl NiceEguiApp for JazzEditor {
    fn build(
        &mut self,
        _egui_ctx: egui::Context,
        nice_gui_ctx: GuiContext,
        _frame: &mut nice_plug_egui::Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        self.gui = Some(nice_gui_ctx);
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut nice_plug_egui::Frame) {
        let Some(gui) = self.gui.clone() else {
            return;
        };
        let setter = gui.param_setter();
        egui::ScrollArea::vertical().show(ui, |ui| {
            ui.heading("Infinite Jazz");
            self.status_panel(ui);
            ui.add_space(6.0);
            self.piano_roll(ui);
            ui.add_space(6.0);
            ui.columns(2, |cols| {
                self.steering_panel(&mut cols[0], &setter);
                self.band_panel(&mut cols[1], &setter);
                cols[1].add_space(8.0);
                self.backend_panel(&mut cols[1]);
                cols[1].add_space(8.0);
                self.export_panel(&mut cols[1]);
            });
        });
        ui.ctx().request_repaint();
    }

    fn editor_closed(&mut self) {
        self.gui = None;
    }
}
