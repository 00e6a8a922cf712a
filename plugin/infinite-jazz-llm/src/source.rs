//! A language model as a section source: one batched call per section, parsed with the
//! forgiving tracker parser; an unusable answer is retried once, then the worker's fallback
//! plays.

use crate::chat::{complete, Completion, Prompt};
use crate::config::LlmSettings;
use crate::error::LlmError;
use crate::http::HttpClient;
use crate::prompt::{build_prompt, feel_style_name, style_text, PromptInputs};
use infinite_jazz_engine::composer::harmony::Progression;
use infinite_jazz_engine::composer::ComposerSettings;
use infinite_jazz_engine::feel::Feel;
use infinite_jazz_engine::section::Section;
use infinite_jazz_engine::tracker::parse_section;
use infinite_jazz_engine::worker::{SectionRequest, SectionSource, SourceError};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// An answer needs at least this many of the four instruments to be kept.
pub const MIN_INSTRUMENTS: usize = 2;

/// Per-call statistics for the status line and the editor.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LlmStats {
    pub calls: u64,
    pub sections: u64,
    pub failures: u64,
    pub unusable: u64,
    pub repairs: u64,
    pub last_latency_ms: Option<u64>,
    pub last_prompt_tokens: Option<u64>,
    pub last_completion_tokens: Option<u64>,
    pub last_error: Option<String>,
    /// The repairs of the last parsed answer, in words.
    pub last_repairs: Vec<String>,
}

pub type SharedStats = Arc<Mutex<LlmStats>>;

/// The harmony a model is asked to follow: the user's own changes, else the chosen form in the
/// chosen key (C when no key is chosen); none when the form is left to chance (the model then
/// chooses its own, as the built-in composer does).
pub fn progression_for(composer: &ComposerSettings) -> Option<Progression> {
    composer.progression.clone().or_else(|| {
        composer
            .form
            .map(|form| form.progression(composer.key.unwrap_or(0)))
    })
}

/// The one way a model source is built, whoever asks (the plugin when the host starts it, its
/// editor's "Apply to the model", `play` and `render`): the model settings, seeded with the
/// composer's seed, following [`progression_for`]. `None` for the built-in composer.
pub fn model_source(
    mut llm: LlmSettings,
    composer: &ComposerSettings,
) -> Result<Option<ModelSource>, LlmError> {
    if llm.backend == crate::config::Backend::Builtin {
        return Ok(None);
    }
    llm.seed = Some(composer.seed);
    let source = ModelSource::new(llm)?;
    Ok(Some(match progression_for(composer) {
        Some(progression) => source.with_progression(progression),
        None => source,
    }))
}

pub struct ModelSource {
    settings: LlmSettings,
    http: HttpClient,
    /// The style preset's text for each feel (indexed like [`Feel::ALL`]), read once.
    styles: Vec<String>,
    progression: Option<Progression>,
    next_bar: usize,
    stats: SharedStats,
}

impl ModelSource {
    /// Fails when the style preset is unknown or the HTTP client cannot start.
    pub fn new(settings: LlmSettings) -> Result<Self, LlmError> {
        let styles = Feel::ALL
            .into_iter()
            .map(|feel| style_text(feel_style_name(&settings.style, feel)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| LlmError::Other(e.to_string()))?;
        let http = HttpClient::new(settings.timeouts, settings.max_body_bytes)?;
        Ok(ModelSource {
            settings,
            http,
            styles,
            progression: None,
            next_bar: 0,
            stats: Arc::new(Mutex::new(LlmStats::default())),
        })
    }

    /// Asks the model to follow these changes, section after section.
    pub fn with_progression(mut self, progression: Progression) -> Self {
        self.progression = Some(progression);
        self
    }

    /// No call runs past `deadline` (an offline render's own limit); a call it cuts short
    /// fails as too slow.
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.http.set_deadline(deadline);
    }

    pub fn stats(&self) -> SharedStats {
        self.stats.clone()
    }

    fn record(&self, f: impl FnOnce(&mut LlmStats)) {
        if let Ok(mut s) = self.stats.lock() {
            f(&mut s);
        }
    }

    /// The prompt the next call would send for `request`.
    pub fn prompt(&self, request: &SectionRequest) -> Prompt {
        let changes = self
            .progression
            .as_ref()
            .map(|p| p.describe(self.next_bar, request.config.bars_per_section()));
        build_prompt(&PromptInputs {
            config: request.config,
            settings: &self.settings,
            recent: request.recent,
            changes: changes.as_deref(),
            listening: request.listening,
            style_text: Feel::ALL
                .iter()
                .position(|f| *f == request.config.feel())
                .and_then(|i| self.styles.get(i))
                .map_or("", String::as_str),
        })
    }

    fn call(&mut self, request: &SectionRequest) -> Result<Completion, LlmError> {
        let prompt = self.prompt(request);
        let max_tokens = self.settings.max_tokens_for(request.config.total_steps());
        complete(&self.http, &self.settings, &prompt, max_tokens)
    }
}

impl SectionSource for ModelSource {
    fn name(&self) -> String {
        format!("{} ({})", self.settings.model, self.settings.base_url)
    }

    fn cancel_handle(&self) -> Option<Arc<std::sync::atomic::AtomicBool>> {
        Some(self.http.cancel_handle())
    }

    fn next_section(&mut self, request: &SectionRequest) -> Result<Section, SourceError> {
        let mut last_problem = String::new();
        for _attempt in 0..2 {
            let started = Instant::now();
            self.record(|s| s.calls += 1);
            let completion = match self.call(request) {
                Ok(c) => c,
                Err(e) => {
                    let message = self.settings.api_key.redact(&e.to_string());
                    self.record(|s| {
                        s.failures += 1;
                        s.last_error = Some(message.clone());
                    });
                    return Err(SourceError::Failed {
                        message,
                        retry_after: e.retry_after(),
                    });
                }
            };
            let latency = started.elapsed().as_millis() as u64;
            self.record(|s| {
                s.last_latency_ms = Some(latency);
                s.last_prompt_tokens = completion.prompt_tokens;
                s.last_completion_tokens = completion.completion_tokens;
            });
            match parse_section(&completion.text, request.config) {
                Ok(parsed) if 4 - parsed.repairs.missing_instruments().len() >= MIN_INSTRUMENTS => {
                    // Repairs quote the answer, and an answer may echo anything it was sent.
                    let key = &self.settings.api_key;
                    let repairs: Vec<String> = parsed
                        .repairs
                        .kept
                        .iter()
                        .map(|r| key.redact(&r.to_string()))
                        .collect();
                    let total = parsed.repairs.total() as u64;
                    self.record(|s| {
                        s.sections += 1;
                        s.repairs += total;
                        s.last_repairs = repairs;
                        s.last_error = None;
                    });
                    self.next_bar += request.config.bars_per_section();
                    return Ok(parsed.section);
                }
                Ok(parsed) => {
                    last_problem = format!(
                        "only {} of the four instruments",
                        4 - parsed.repairs.missing_instruments().len()
                    );
                }
                Err(e) => last_problem = e.to_string(),
            }
            self.record(|s| s.unusable += 1);
        }
        let message = self.settings.api_key.redact(&format!(
            "the model's answer was unusable twice: {last_problem}"
        ));
        self.record(|s| {
            s.failures += 1;
            s.last_error = Some(message.clone());
        });
        Err(SourceError::Unusable(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use infinite_jazz_engine::composer::harmony::Form;

    #[test]
    fn own_changes_win_then_the_form_in_its_key_then_nothing() {
        let mut composer = ComposerSettings {
            seed: 1,
            form: Some(Form::Blues),
            key: Some(7),
            progression: None,
        };
        assert_eq!(progression_for(&composer), Some(Form::Blues.progression(7)));
        composer.key = None;
        assert_eq!(progression_for(&composer), Some(Form::Blues.progression(0)));
        let own = Progression::parse("Dm7 G7 | Cmaj7 |").expect("changes");
        composer.progression = Some(own.clone());
        assert_eq!(progression_for(&composer), Some(own));
        composer.progression = None;
        composer.form = None;
        assert_eq!(progression_for(&composer), None);
        let builtin = LlmSettings::new(crate::Backend::Builtin);
        assert!(model_source(builtin, &composer)
            .expect("no error")
            .is_none());
    }

    #[test]
    fn each_feel_is_asked_for_with_its_own_preset_unless_the_user_chose_one() {
        use infinite_jazz_engine::timing::RuntimeConfig;
        let source = ModelSource::new(LlmSettings::new(crate::Backend::OpenAi)).expect("source");
        let ask = |source: &ModelSource, feel: Feel| {
            let config = RuntimeConfig::default()
                .with_feel(feel)
                .with_meter(feel.default_meter());
            source.prompt(&SectionRequest {
                config: &config,
                recent: &[],
                listening: None,
            })
        };
        let bossa = ask(&source, Feel::Bossa);
        assert!(bossa.system.contains("bossa nova, with straight"));
        assert!(bossa.user.contains("Feel: bossa"));
        assert!(bossa.user.contains("straight 8ths"), "{}", bossa.user);
        assert!(ask(&source, Feel::Swing)
            .system
            .contains("small-group swing"));
        let waltz = ask(&source, Feel::Waltz);
        assert!(waltz.system.contains("jazz waltz in 3/4"));
        assert!(waltz.system.contains("(3 bars") || waltz.system.contains("bars of 3/4"));
        let mut chosen = LlmSettings::new(crate::Backend::OpenAi);
        chosen.style = "experimental".into();
        let source = ModelSource::new(chosen).expect("source");
        assert!(ask(&source, Feel::Bossa)
            .system
            .contains("freer, exploratory"));
    }
}
