//! Generation options shared by the commands that compose.

use anyhow::{anyhow, Context, Result};
use clap::Args;
use infinite_jazz_engine::composer::harmony::{parse_chord_symbol, Form, Progression};
use infinite_jazz_engine::composer::ComposerSettings;
use infinite_jazz_engine::feel::Feel;
use infinite_jazz_engine::section::Instrument;
use infinite_jazz_engine::timing::{RuntimeConfig, MAX_BARS_PER_SECTION};

#[derive(Args, Debug, Clone)]
pub struct GenerationArgs {
    /// The style: swing, ballad, bebop, bossa, waltz, modal. It sets the defaults of --tempo,
    /// --swing and --meter, the forms the composer picks from and the model's preset.
    #[arg(long, default_value = "swing")]
    pub feel: String,
    /// Tempo in beats per minute (default: the feel's: swing 120, ballad 66, bebop 240, bossa
    /// 130, waltz 150, modal 140).
    #[arg(long)]
    pub tempo: Option<f64>,
    /// Swing ratio: where the off-beat 8th lands within the beat (0.50 straight … 0.75 hard;
    /// default: the feel's; a bossa is always straight).
    #[arg(long)]
    pub swing: Option<f64>,
    /// Time signature: 4/4, 3/4, 5/4, 6/8, 7/4, 7/8, 12/8 … (any N/2, N/4, N/8 or N/16;
    /// default: the feel's, 3/4 for a waltz, else 4/4).
    #[arg(long)]
    pub meter: Option<String>,
    /// Bars per section (the unit the composer or model writes at once).
    #[arg(long, default_value_t = 2)]
    pub section_bars: usize,
    /// Seed for the built-in composer; the same seed gives the same music.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Song form: ii-V-I, blues, rhythm, minor (random when omitted).
    #[arg(long)]
    pub form: Option<String>,
    /// Key (tonic), e.g. F, Bb, C#.
    #[arg(long)]
    pub key: Option<String>,
    /// Your own changes, bars separated by `|`: "Dm7 G7 | Cmaj7 |".
    #[arg(long)]
    pub changes: Option<String>,
    /// MIDI channels (1-16) for bass, drums, piano, sax.
    #[arg(long, value_delimiter = ',', num_args = 4, default_values_t = [1u8, 10, 2, 3])]
    pub channels: Vec<u8>,
}

impl GenerationArgs {
    pub fn config(&self) -> Result<RuntimeConfig> {
        let feel: Feel = self.feel.parse().map_err(|e| anyhow!("--feel: {e}"))?;
        let tempo = self.tempo.unwrap_or(feel.default_tempo());
        if !(tempo.is_finite() && (20.0..=400.0).contains(&tempo)) {
            return Err(anyhow!("--tempo must be between 20 and 400 BPM"));
        }
        let swing = self.swing.unwrap_or(feel.default_swing());
        if !(0.5..=0.75).contains(&swing) {
            return Err(anyhow!("--swing must be between 0.50 and 0.75"));
        }
        if !(1..=MAX_BARS_PER_SECTION).contains(&self.section_bars) {
            return Err(anyhow!(
                "--section-bars must be between 1 and {MAX_BARS_PER_SECTION}"
            ));
        }
        let meter = match &self.meter {
            Some(text) => text.parse().map_err(|e| anyhow!("--meter {text:?}: {e}"))?,
            None => feel.default_meter(),
        };
        let mut config = RuntimeConfig::default()
            .with_feel(feel)
            .with_meter(meter)
            .with_tempo(tempo)
            .with_swing(swing)
            .with_bars_per_section(self.section_bars);
        for (instrument, channel) in Instrument::ALL.into_iter().zip(&self.channels) {
            if !(1..=16).contains(channel) {
                return Err(anyhow!("MIDI channels are 1 to 16, got {channel}"));
            }
            config = config.with_channel(instrument, channel - 1);
        }
        Ok(config)
    }

    pub fn composer_settings(&self) -> Result<ComposerSettings> {
        let form = self
            .form
            .as_deref()
            .map(|f| {
                Form::from_name(f)
                    .ok_or_else(|| anyhow!("unknown --form {f:?} (ii-V-I, blues, rhythm, minor)"))
            })
            .transpose()?;
        let key = self
            .key
            .as_deref()
            .map(|k| {
                parse_chord_symbol(k)
                    .map(|c| c.root)
                    .with_context(|| format!("--key {k:?}"))
            })
            .transpose()?;
        let progression = self
            .changes
            .as_deref()
            .map(|c| Progression::parse(c).context("--changes"))
            .transpose()?;
        Ok(ComposerSettings {
            seed: self.seed,
            form,
            key,
            progression,
        })
    }
}

/// Which language model writes the sections (the built-in composer when none).
#[derive(Args, Debug, Clone, Default)]
pub struct LlmArgs {
    /// builtin, openai (any OpenAI-compatible server; Groq by default) or ollama. Defaults to
    /// the backend in your config file, else builtin.
    #[arg(long, value_name = "BACKEND")]
    pub llm_backend: Option<String>,
    /// Model name (default: openai/gpt-oss-120b for openai, qwen2.5:3b for ollama).
    #[arg(long)]
    pub model: Option<String>,
    /// Server base URL (default: https://api.groq.com/openai/v1, or http://127.0.0.1:11434).
    #[arg(long)]
    pub base_url: Option<String>,
    /// API key (default: your config file, GROQ_API_KEY, then OPENAI_API_KEY). Prefer those:
    /// a key on the command line is visible to other users of this machine.
    #[arg(long)]
    pub api_key: Option<String>,
    /// Sampling temperature, 0 to 2 (default 1.05).
    #[arg(long)]
    pub temperature: Option<f32>,
    /// Nucleus sampling, 0 to 1 (default 0.99).
    #[arg(long)]
    pub top_p: Option<f32>,
    /// Token budget per section (default: about 4500 per 32 steps).
    #[arg(long)]
    pub max_tokens: Option<u32>,
    /// What you want to hear, e.g. "atmospheric, sparse".
    #[arg(long)]
    pub prompt: Option<String>,
    /// Prompt preset: default, experimental, or the name of a file in <config>/prompts/.
    #[arg(long)]
    pub prompt_style: Option<String>,
    /// Steps of what was played that go into each prompt (0 = a clean slate).
    #[arg(long)]
    pub context_steps: Option<usize>,
    /// Ask for whole answers instead of streamed ones.
    #[arg(long)]
    pub no_stream: bool,
}

impl LlmArgs {
    /// The model settings, or `None` for the built-in composer.
    pub fn settings(&self, seed: u64) -> Result<Option<infinite_jazz_llm::LlmSettings>> {
        use infinite_jazz_llm::config::{
            config_path, load_user_config, resolve_api_key, MAX_CONTEXT_STEPS,
        };
        use infinite_jazz_llm::{Backend, LlmSettings};
        let chosen = self
            .llm_backend
            .as_deref()
            .map(|name| {
                Backend::from_name(name).ok_or_else(|| {
                    anyhow!("unknown --llm-backend {name:?} (builtin, openai, ollama)")
                })
            })
            .transpose()?;
        // The built-in composer needs nothing from the config file, so no problem of the
        // file's may stand in its way.
        if chosen == Some(Backend::Builtin) {
            return Ok(None);
        }
        let user = match config_path() {
            Some(path) => load_user_config(&path)?,
            None => Default::default(),
        };
        let backend = chosen.unwrap_or(user.backend.unwrap_or(Backend::Builtin));
        if backend == Backend::Builtin {
            return Ok(None);
        }
        let mut s = if user.backend == Some(backend) {
            user.settings()
        } else {
            LlmSettings::new(backend)
        };
        if let Some(v) = &self.model {
            s.model = v.clone();
        }
        if let Some(v) = &self.base_url {
            s.base_url = v.clone();
        }
        s.api_key = resolve_api_key(self.api_key.as_deref(), &user, &s.base_url);
        if let Some(v) = self.temperature {
            if !(0.0..=2.0).contains(&v) {
                return Err(anyhow!("--temperature must be between 0 and 2"));
            }
            s.temperature = v;
        }
        if let Some(v) = self.top_p {
            if !(0.0..=1.0).contains(&v) {
                return Err(anyhow!("--top-p must be between 0 and 1"));
            }
            s.top_p = v;
        }
        if let Some(v) = self.max_tokens {
            s.max_tokens = Some(v.max(64));
        }
        if let Some(v) = &self.prompt {
            s.vibe = v.clone();
        }
        if let Some(v) = &self.prompt_style {
            s.style = v.clone();
        }
        if let Some(v) = self.context_steps {
            if v > MAX_CONTEXT_STEPS {
                return Err(anyhow!("--context-steps is at most {MAX_CONTEXT_STEPS}"));
            }
            s.context_steps = v;
        }
        s.stream = !self.no_stream;
        s.seed = Some(seed);
        Ok(Some(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use infinite_jazz_engine::composer::harmony::Form;
    use infinite_jazz_engine::worker::SectionRequest;
    use infinite_jazz_llm::source::model_source;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        generation: GenerationArgs,
        #[command(flatten)]
        llm: LlmArgs,
    }

    /// `play` and `render` build their source from these flags; the plugin and its editor from
    /// the user's config, the project's steering and the Form/Key parameters. The same
    /// settings give the same prompt, the chosen form's changes included.
    #[test]
    fn every_way_of_starting_a_model_asks_the_same_thing() {
        let config_home =
            std::env::temp_dir().join(format!("ij-one-source-{}", std::process::id()));
        std::env::set_var("XDG_CONFIG_HOME", &config_home);
        let cli = Cli::parse_from([
            "test",
            "--form",
            "blues",
            "--key",
            "F",
            "--seed",
            "5",
            "--llm-backend",
            "openai",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--model",
            "m",
            "--prompt",
            "late night",
        ]);
        let config = cli.generation.config().expect("config");
        let composer = cli.generation.composer_settings().expect("composer");
        let llm = cli
            .llm
            .settings(composer.seed)
            .expect("llm")
            .expect("a model");
        let from_flags = model_source(llm, &composer)
            .expect("source")
            .expect("a model");

        let user = infinite_jazz_llm::UserConfig {
            backend: Some(infinite_jazz_llm::Backend::OpenAi),
            base_url: Some("http://127.0.0.1:9/v1".into()),
            model: Some("m".into()),
            ..Default::default()
        };
        let steering = infinite_jazz::link::Steering {
            vibe: "late night".into(),
            ..Default::default()
        };
        let plugin_composer = ComposerSettings {
            seed: 5,
            form: Some(Form::Blues),
            key: Some(5),
            progression: None,
        };
        // What the plugin builds on activation and its editor on "Apply".
        let from_plugin =
            infinite_jazz::model_settings::band_source(&user, &steering, &plugin_composer)
                .expect("source")
                .expect("a model");

        let request = SectionRequest {
            config: &config,
            recent: &[],
            listening: None,
        };
        let (a, b) = (from_flags.prompt(&request), from_plugin.prompt(&request));
        assert_eq!(a, b);
        assert!(a.user.contains("F7"), "the blues in F: {}", a.user);
        assert!(a.user.contains("late night"));
    }
}
