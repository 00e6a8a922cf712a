//! The editor: see and steer the band. Everything it changes goes to the worker through its
//! command channel or to the host through parameters; it never touches the audio thread. It
//! only draws: the model settings ([`crate::model_settings`]) and saving takes
//! ([`crate::take_export`]) run on threads of their own, and their results show when they come.

mod piano_roll;
pub mod view;

use crate::link::{EditorLink, Steering};
use crate::model_settings::{ModelSettingsError, ModelSettingsFile};
use crate::params::{InfiniteJazzParams, InstrumentParams};
use crate::take_export::{now_stamp, TakeExport, TakeExportError};
use egui::Color32;
use infinite_jazz_engine::composer::harmony::Progression;
use infinite_jazz_engine::listen::{player_in_take, Listen, PlayerNote};
use infinite_jazz_engine::section::{Instrument, Section};
use infinite_jazz_engine::take::TakeInfo;
use infinite_jazz_engine::worker::{ArchivedSection, WorkerCommand};
use infinite_jazz_files::background::Pending;
use infinite_jazz_llm::config::ConfigError;
use infinite_jazz_llm::source::ModelSource;
use infinite_jazz_llm::{Backend, UserConfig};
use nice_plug::context::gui::GuiContext;
use nice_plug::prelude::*;
use nice_plug_egui::widgets::ParamSlider;
use nice_plug_egui::{EguiEditorState, NiceEguiApp};
use piano_roll::{PianoRoll, LANE_COLORS};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use view::{export_sections, BackendForm, StatusInputs, StatusView};

pub const WIDTH: u32 = 980;
pub const HEIGHT: u32 = 760;

pub fn default_state() -> Arc<EguiEditorState> {
    EguiEditorState::from_size(
        nice_plug::editor::dpi::LogicalSize::new(WIDTH as f64, HEIGHT as f64),
        1.0,
    )
}

/// What the model settings' background work answers.
enum BackendReply {
    /// The config file as it was when the editor opened.
    Loaded(Result<UserConfig, ConfigError>),
    /// A source built from the saved settings ("Save and use", "Apply to the model").
    Source(Result<Option<Box<ModelSource>>, ModelSettingsError>),
    /// The connection check's round trip.
    Checked(Result<Duration, ModelSettingsError>),
}

/// The editor window for the host: its saved size, its title, and [`JazzEditor`] drawing in it.
pub fn create(
    params: Arc<InfiniteJazzParams>,
    link: Arc<EditorLink>,
) -> Option<nice_plug_egui::EguiEditor<JazzEditor>> {
    let state = params.editor_state.clone();
    let settings = nice_plug_egui::EguiNiceSettings::new().with_tile("Infinite Jazz");
    let app = JazzEditor::new(params, link);
    nice_plug_egui::create_egui_editor(state, nice_plug_egui::RepaintNotifier::new(), settings, app)
}

pub struct JazzEditor {
    params: Arc<InfiniteJazzParams>,
    link: Arc<EditorLink>,
    gui: Option<GuiContext>,
    form: BackendForm,
    show_key: bool,
    backend_message: Option<String>,
    /// Model-settings work in progress (loading, saving and applying, checking).
    backend_work: Option<Pending<BackendReply>>,
    export_bars: usize,
    export_folder: String,
    export_message: Option<String>,
    exporting: Option<Pending<Result<PathBuf, TakeExportError>>>,
    roll: PianoRoll,
}

impl JazzEditor {
    pub fn new(params: Arc<InfiniteJazzParams>, link: Arc<EditorLink>) -> Self {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default();
        let mut editor = JazzEditor {
            params,
            link,
            gui: None,
            form: BackendForm::from_config(&UserConfig::default()),
            show_key: false,
            backend_message: None,
            backend_work: None,
            export_bars: 16,
            export_folder: home.join("infinite-jazz-export").display().to_string(),
            export_message: None,
            exporting: None,
            roll: PianoRoll::default(),
        };
        editor.start_backend_work(|| BackendReply::Loaded(ModelSettingsFile::user().load()));
        editor
    }

    fn steering(&self) -> Steering {
        self.params.steering()
    }

    fn start_backend_work(&mut self, work: impl FnOnce() -> BackendReply + Send + 'static) {
        self.backend_work = Some(Pending::spawn("infinite-jazz-settings", work, |e| {
            BackendReply::Checked(Err(ModelSettingsError::Thread(e)))
        }));
    }

    fn status(&self) -> StatusInputs {
        let stats = &self.link.stats;
        let mut inputs = StatusInputs {
            position_beats: stats.position_beats(),
            tempo: f64::from_bits(self.link.tempo_bits.load(Ordering::Relaxed)),
            meter: self.params.meter_in_force(),
            bar_origin: stats.bar_origin(),
            host_meter: self.link.host_meter.load(Ordering::Relaxed),
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
            .with_worker(|w| w.status.upcoming.lock().ok().map(|u| u.clone()))
            .unwrap_or_default()
    }

    fn player_notes(&self) -> Vec<PlayerNote> {
        self.link
            .with_worker(|w| w.status.player.lock().ok().map(|p| p.clone()))
            .unwrap_or_default()
    }

    fn history(&self) -> Vec<ArchivedSection> {
        self.link
            .with_worker(|w| Some(w.status.history()))
            .unwrap_or_default()
    }

    /// The player's notes of the session, in the order they ended.
    fn player_take(&self) -> Vec<PlayerNote> {
        self.link
            .with_worker(|w| {
                w.status
                    .player_take
                    .lock()
                    .ok()
                    .map(|t| t.iter().copied().collect())
            })
            .unwrap_or_default()
    }

    /// Builds the band's source from the saved model settings and the project's steering and
    /// form (see [`crate::model_settings::band_source`]); [`Self::collect_background_work`]
    /// hands it to the worker.
    fn apply_source(&mut self) {
        let steering = self.steering();
        let composer = self.params.worker_settings().composer;
        self.backend_message = Some("applying…".into());
        self.start_backend_work(move || {
            BackendReply::Source(
                ModelSettingsFile::user()
                    .band_source(&steering, &composer)
                    .map(|s| s.map(Box::new)),
            )
        });
    }

    fn save_backend(&mut self) {
        let form = self.form.clone();
        let steering = self.steering();
        let composer = self.params.worker_settings().composer;
        self.backend_message = Some("saving…".into());
        self.start_backend_work(move || {
            let file = ModelSettingsFile::user();
            BackendReply::Source(
                file.save_form(&form)
                    .and_then(|_| file.band_source(&steering, &composer))
                    .map(|s| s.map(Box::new)),
            )
        });
    }

    fn check_connection(&mut self) {
        let form = self.form.clone();
        self.backend_message = Some("checking…".into());
        self.start_backend_work(move || {
            BackendReply::Checked(ModelSettingsFile::user().check_form(&form))
        });
    }

    fn use_source(&mut self, source: Option<Box<ModelSource>>) -> String {
        let stats = source.as_ref().map(|s| s.stats());
        let builtin = source.is_none();
        let command = match source {
            Some(source) => WorkerCommand::SetSource(source),
            None => WorkerCommand::UseBuiltin,
        };
        if let Ok(mut worker) = self.link.worker.lock() {
            if let Some(worker) = worker.as_mut() {
                worker.llm_stats = stats;
            }
        }
        match (self.link.send(command), builtin) {
            (false, _) => "saved; it applies when the host starts the plugin".into(),
            (true, true) => "using the built-in composer".into(),
            (true, false) => format!("asking {} from the next section on", self.form.model),
        }
    }

    /// Shows (and uses) what the background work has finished since the last frame.
    fn collect_background_work(&mut self) {
        if let Some(reply) = self.backend_work.as_mut().and_then(Pending::poll) {
            self.backend_work = None;
            self.backend_message = match reply {
                BackendReply::Loaded(Ok(user)) => {
                    self.form = BackendForm::from_config(&user);
                    None
                }
                BackendReply::Loaded(Err(e)) => Some(e.to_string()),
                BackendReply::Source(Ok(source)) => Some(self.use_source(source)),
                BackendReply::Source(Err(e)) | BackendReply::Checked(Err(e)) => Some(e.to_string()),
                BackendReply::Checked(Ok(round_trip)) => Some(format!(
                    "connected: answered in {} ms",
                    round_trip.as_millis()
                )),
            };
        }
        if let Some(done) = self.exporting.as_mut().and_then(Pending::poll) {
            self.exporting = None;
            self.export_message = Some(match done {
                Ok(base) => format!("saved {}.mid and .txt", base.display()),
                Err(e) => format!("could not save: {e}"),
            });
        }
    }

    fn export(&mut self, bars: Option<usize>) {
        let config = self.params.worker_settings().config;
        let mut info = TakeInfo::from_config(&config);
        info.seed = Some(self.params.seed.value().max(0) as u64);
        info.prompt = self.steering().vibe;
        info.model = self.form.model.clone();
        let archived = export_sections(&self.history(), bars);
        let spans: Vec<(f64, f64)> = archived
            .iter()
            .map(|a| (a.start_beat, a.section.length_beats()))
            .collect();
        let heard = self.player_take();
        let player = (!heard.is_empty()).then(|| {
            let channel = (self.params.player_channel.value().clamp(1, 16) - 1) as u8;
            (player_in_take(&spans, &heard), channel)
        });
        let take = TakeExport {
            sections: archived.into_iter().map(|a| a.section).collect(),
            config,
            info,
            player,
        };
        let folder = PathBuf::from(self.export_folder.trim());
        self.export_message = Some("saving…".into());
        self.exporting = Some(Pending::spawn(
            "infinite-jazz-export",
            move || take.save(&folder, now_stamp()),
            |e| Err(TakeExportError::Thread(e)),
        ));
    }

    fn status_panel(&self, ui: &mut egui::Ui) {
        let status = StatusView::new(&self.status());
        ui.horizontal(|ui| {
            ui.strong(&status.position);
            ui.separator();
            ui.label(&status.tempo);
            ui.separator();
            ui.label(&status.time_signature);
            ui.separator();
            ui.add(
                egui::ProgressBar::new(status.meter)
                    .desired_width(160.0)
                    .text(&status.meter_text),
            );
            ui.separator();
            ui.label(&status.source);
        });
        let listening = view::listening_text(
            self.params.listen_mode(),
            self.link.stats.position_beats(),
            self.params.meter_in_force().quarters_per_bar(),
        );
        ui.horizontal(|ui| {
            if let Some(listening) = &listening {
                ui.colored_label(piano_roll::PLAYER_COLOR, listening);
                ui.separator();
            }
            ui.label(&status.latency);
            ui.separator();
            ui.label(format!("fallback sections: {}", status.underruns));
            if let Some(e) = &status.error {
                ui.separator();
                ui.colored_label(Color32::from_rgb(240, 110, 100), e);
            }
        });
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
            enum_combo(ui, setter, &self.params.form, "form");
            ui.label("Key");
            enum_combo(ui, setter, &self.params.key, "key");
        });
        ui.horizontal(|ui| {
            ui.label("Feel").on_hover_text(
                "The band's style, heard from the next section on; the model gets its preset too",
            );
            enum_combo(ui, setter, &self.params.feel, "feel");
            ui.label("Own meter").on_hover_text(
                "The meter when the host reports none; a host's time signature always wins",
            );
            enum_combo(ui, setter, &self.params.meter, "meter");
        });
        ui.horizontal(|ui| {
            ui.label("Listen").on_hover_text(
                "Play into the plugin's note input: the band backs your solo, trades turns with \
                 you, or takes the chords you hold",
            );
            enum_combo(ui, setter, &self.params.listen, "listen");
            ui.label("Trade");
            enum_combo(ui, setter, &self.params.trade_length, "trade_length");
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
            if button(ui, self.backend_work.is_none(), "Apply to the model") {
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
                ui.colored_label(LANE_COLORS[instrument.index()], instrument.header());
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
            if button(ui, self.backend_work.is_none(), "Save and use") {
                self.save_backend();
            }
            if button(
                ui,
                enabled && self.backend_work.is_none(),
                "Check connection",
            ) {
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
            let idle = self.exporting.is_none();
            if button(ui, idle, "Save last bars") {
                self.export(Some(self.export_bars));
            }
            if button(ui, idle, "Save whole session") {
                self.export(None);
            }
        });
        if let Some(m) = &self.export_message {
            ui.label(m);
        }
    }
}

/// A button that can be pressed only while `enabled` (e.g. no earlier press is still at work).
fn button(ui: &mut egui::Ui, enabled: bool, label: &str) -> bool {
    ui.add_enabled(enabled, egui::Button::new(label)).clicked()
}

fn enum_combo<T: Enum + PartialEq + Copy + Send + Sync + 'static>(
    ui: &mut egui::Ui,
    setter: &ParamSetter,
    param: &EnumParam<T>,
    id: &str,
) {
    let current = param.value();
    egui::ComboBox::from_id_salt(id)
        .selected_text(T::variants()[current.to_index()])
        .show_ui(ui, |ui| {
            for (index, name) in T::variants().iter().enumerate() {
                let choice = T::from_index(index);
                if ui.selectable_label(choice == current, *name).clicked() {
                    setter.begin_set_parameter(param);
                    setter.set_parameter(param, choice);
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
            self.collect_background_work();
            self.status_panel(ui);
            ui.add_space(6.0);
            let config = self.params.worker_settings().config;
            let upcoming = self.upcoming();
            let player = (self.params.listen_mode() != Listen::Off).then(|| self.player_notes());
            self.roll
                .show(ui, &self.link, &upcoming, &config, player.as_deref());
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
