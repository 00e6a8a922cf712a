//! The real-time loop player.
//!
//! A [`PreparedLoop`] plays from its start to its end and jumps back, forever. The jump is
//! hidden by an equal-power crossfade: over the last `seam` samples before the end, the audio
//! fades out while the audio just before the start fades in, so at the end the player is
//! exactly at the start. Switching to the next clip is an equal-power crossfade of its own
//! length, started after a number of repeats or on request, on a bar line when a beat clock is
//! given. Clips arrive through one `rtrb` queue and leave through another to be freed
//! elsewhere; [`Looper::render`] allocates nothing.

use crate::clip::Clip;
use std::f32::consts::FRAC_PI_2;
use std::sync::Arc;

/// A clip at the playback rate with its loop points (frames, end exclusive). The audio is
/// shared: the editor's view of a clip and an audition of other loop points of it hold the
/// same samples, not copies.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedLoop {
    /// The clip's audio, at the playback rate.
    pub clip: Arc<Clip>,
    /// The loop's first frame.
    pub start: usize,
    /// The frame after the loop's last one: playing jumps from here back to `start`.
    pub end: usize,
    /// A name for displays.
    pub label: String,
}

impl PreparedLoop {
    fn sample(&self, channel: usize, frame: usize) -> f32 {
        let c = channel.min(self.clip.channels.len().saturating_sub(1));
        self.clip
            .channels
            .get(c)
            .and_then(|ch| ch.get(frame))
            .copied()
            .unwrap_or(0.0)
    }

    /// The seam crossfade length that fits: no longer than the pre-roll before the start or
    /// half the loop.
    fn seam_len(&self, wanted: usize) -> usize {
        wanted.min(self.start).min((self.end - self.start) / 2)
    }
}

/// How the looper joins loops and clips; changed between blocks without a glitch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LooperSettings {
    /// Samples of crossfade across each seam.
    pub seam: usize,
    /// Samples of crossfade from one clip to the next (and of the fade-out on stop).
    pub transition: usize,
    /// Repeats of a clip before moving to the next one that is waiting (0: only on request).
    pub repeats_before_switch: u32,
    /// Start transitions on bar lines when a beat clock is given.
    pub on_bar_lines: bool,
}

impl Default for LooperSettings {
    fn default() -> Self {
        LooperSettings {
            seam: 480,
            transition: 48_000,
            repeats_before_switch: 4,
            on_bar_lines: true,
        }
    }
}

/// The host's musical time for one block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BeatClock {
    /// Beat position of the block's first sample.
    pub start_beat: f64,
    /// Beats per sample: tempo / 60 / sample rate.
    pub beats_per_sample: f64,
}

impl BeatClock {
    /// The block starts at `start_beat` and moves `beats_per_sample` a sample.
    pub fn at(start_beat: f64, beats_per_sample: f64) -> Self {
        BeatClock {
            start_beat,
            beats_per_sample,
        }
    }
}

struct Voice {
    clip: Box<PreparedLoop>,
    pos: usize,
    repeats: u32,
}

impl Voice {
    /// The next output sample of this voice for `channel` (not advancing).
    fn value(&self, channel: usize, seam: usize) -> f32 {
        let l = &self.clip;
        let x = l.seam_len(seam);
        if x > 0 && self.pos >= l.end - x {
            let t = (self.pos - (l.end - x)) as f32 / x as f32;
            let from = l.sample(channel, self.pos);
            let to = l.sample(channel, l.start - x + (self.pos - (l.end - x)));
            from * (t * FRAC_PI_2).cos() + to * (t * FRAC_PI_2).sin()
        } else {
            l.sample(channel, self.pos)
        }
    }

    fn advance(&mut self) {
        self.pos += 1;
        if self.pos >= self.clip.end {
            self.pos = self.clip.start;
            self.repeats = self.repeats.saturating_add(1);
        }
    }
}

enum Fade {
    /// From the old voice to the current one; `done` of `len` samples.
    Transition {
        from: Voice,
        done: usize,
        len: usize,
    },
    /// The current voice fading to silence.
    Out { done: usize, len: usize },
}

/// What the looper is doing, for displays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LooperState {
    /// Nothing to play yet.
    Idle,
    /// Looping one clip.
    Playing,
    /// Crossfading from one clip to the next.
    Transitioning,
    /// Fading out after a stop.
    Stopping,
}

/// The real-time loop player (see the module's description); owned by the audio thread.
pub struct Looper {
    incoming: rtrb::Consumer<Box<PreparedLoop>>,
    outgoing: rtrb::Producer<Box<PreparedLoop>>,
    settings: LooperSettings,
    current: Option<Voice>,
    fade: Option<Fade>,
    switch_requested: bool,
    /// Clips that could not be handed back yet (the queue was full).
    held: [Option<Box<PreparedLoop>>; 4],
    started: u64,
    /// Clips to play next, ahead of the queue (an editor auditioning loop candidates).
    audition: Option<rtrb::Consumer<Box<PreparedLoop>>>,
}

/// The loop played `repeats` times from its start, each seam crossfaded over `seam` frames,
/// exactly as the real-time player plays it (for exports and offline renders).
pub fn render_repeats(prepared: PreparedLoop, repeats: usize, seam: usize) -> Clip {
    let channels = prepared.clip.channels.len().max(1);
    let rate = prepared.clip.sample_rate;
    let total = (prepared.end.saturating_sub(prepared.start)) * repeats.max(1);
    let settings = LooperSettings {
        seam,
        transition: 1,
        repeats_before_switch: 0,
        on_bar_lines: false,
    };
    let (mut player, mut queue, _returned) = looper(settings, 1);
    let _ = queue.push(Box::new(prepared));
    let mut out = vec![vec![0f32; total]; channels];
    let mut slices: Vec<&mut [f32]> = out.iter_mut().map(Vec::as_mut_slice).collect();
    player.render(&mut slices, None);
    Clip {
        sample_rate: rate,
        channels: out,
    }
}

/// Creates a looper and the other ends of its queues: send clips in, receive finished ones.
pub fn looper(
    settings: LooperSettings,
    capacity: usize,
) -> (
    Looper,
    rtrb::Producer<Box<PreparedLoop>>,
    rtrb::Consumer<Box<PreparedLoop>>,
) {
    let (tx_in, rx_in) = rtrb::RingBuffer::new(capacity.max(1));
    let (tx_out, rx_out) = rtrb::RingBuffer::new(capacity.max(1) + 8);
    (
        Looper {
            incoming: rx_in,
            outgoing: tx_out,
            settings,
            current: None,
            fade: None,
            switch_requested: false,
            held: Default::default(),
            started: 0,
            audition: None,
        },
        tx_in,
        rx_out,
    )
}

impl Looper {
    /// Clips pushed here play next (on the next bar line with a clock), ahead of the queue.
    pub fn with_audition(mut self, audition: rtrb::Consumer<Box<PreparedLoop>>) -> Self {
        self.audition = Some(audition);
        self
    }

    /// New crossfade lengths and switching rules, from the next sample on.
    pub fn set_settings(&mut self, settings: LooperSettings) {
        self.settings = settings;
    }

    /// Move to the next waiting clip at the next opportunity.
    pub fn request_switch(&mut self) {
        self.switch_requested = true;
    }

    /// Fade out and stop; the clip is handed back.
    pub fn stop(&mut self) {
        if self.current.is_some() && !matches!(self.fade, Some(Fade::Out { .. })) {
            self.finish_transition();
            self.fade = Some(Fade::Out {
                done: 0,
                len: self.settings.transition.max(1),
            });
        }
    }

    /// What it is doing now.
    pub fn state(&self) -> LooperState {
        match (&self.current, &self.fade) {
            (None, _) => LooperState::Idle,
            (Some(_), None) => LooperState::Playing,
            (Some(_), Some(Fade::Transition { .. })) => LooperState::Transitioning,
            (Some(_), Some(Fade::Out { .. })) => LooperState::Stopping,
        }
    }

    /// How many clips have started playing, for displays.
    pub fn clips_started(&self) -> u64 {
        self.started
    }

    /// The current clip's label and play position (frames), for displays.
    pub fn position(&self) -> Option<(&str, usize)> {
        self.current
            .as_ref()
            .map(|v| (v.clip.label.as_str(), v.pos))
    }

    fn give_back(&mut self, clip: Box<PreparedLoop>) {
        if let Err(rtrb::PushError::Full(clip)) = self.outgoing.push(clip) {
            if let Some(slot) = self.held.iter_mut().find(|s| s.is_none()) {
                *slot = Some(clip);
            } else {
                // Freeing here would break the real-time rules; the consumer is gone.
                std::mem::forget(clip);
            }
        }
    }

    fn finish_transition(&mut self) {
        if let Some(Fade::Transition { from, .. }) = self.fade.take() {
            self.give_back(from.clip);
        }
    }

    /// Renders `out[channel][frame]`; every channel slice has the same length.
    pub fn render(&mut self, out: &mut [&mut [f32]], clock: Option<BeatClock>) {
        for slot in 0..self.held.len() {
            if let Some(clip) = self.held[slot].take() {
                self.give_back(clip);
            }
        }
        let frames = out.first().map_or(0, |c| c.len());
        for i in 0..frames {
            self.maybe_start_transition(clock, i);
            let seam = self.settings.seam;
            for (c, channel) in out.iter_mut().enumerate() {
                let current = self.current.as_ref().map_or(0.0, |v| v.value(c, seam));
                channel[i] = match &self.fade {
                    None => current,
                    Some(Fade::Transition { from, done, len }) => {
                        let t = *done as f32 / *len as f32;
                        from.value(c, seam) * (t * FRAC_PI_2).cos()
                            + current * (t * FRAC_PI_2).sin()
                    }
                    Some(Fade::Out { done, len }) => {
                        current * ((*done as f32 / *len as f32) * FRAC_PI_2).cos()
                    }
                };
            }
            if let Some(v) = self.current.as_mut() {
                v.advance();
            }
            match &mut self.fade {
                Some(Fade::Transition { from, done, len }) => {
                    from.advance();
                    *done += 1;
                    if *done >= *len {
                        self.finish_transition();
                    }
                }
                Some(Fade::Out { done, len }) => {
                    *done += 1;
                    if *done >= *len {
                        self.fade = None;
                        if let Some(v) = self.current.take() {
                            self.give_back(v.clip);
                        }
                    }
                }
                None => {}
            }
        }
    }

    fn on_bar_line(&self, clock: Option<BeatClock>, i: usize) -> bool {
        match clock {
            Some(c) if self.settings.on_bar_lines => {
                let beat = c.start_beat + i as f64 * c.beats_per_sample;
                let prev = beat - c.beats_per_sample;
                (beat / 4.0).floor() != (prev / 4.0).floor()
            }
            _ => true,
        }
    }

    fn maybe_start_transition(&mut self, clock: Option<BeatClock>, i: usize) {
        if self.fade.is_some() {
            return;
        }
        let audition_waiting = self.audition.as_ref().is_some_and(|a| !a.is_empty());
        let due = audition_waiting
            || match &self.current {
                None => true,
                Some(v) => {
                    self.switch_requested
                        || (self.settings.repeats_before_switch > 0
                            && v.repeats >= self.settings.repeats_before_switch)
                }
            };
        if !due || (self.incoming.is_empty() && !audition_waiting) {
            return;
        }
        // The first clip starts at once; later ones wait for a bar line.
        if self.current.is_some() && !self.on_bar_line(clock, i) {
            return;
        }
        let next = match self.audition.as_mut().map(|a| a.pop()) {
            Some(Ok(clip)) => Ok(clip),
            _ => self.incoming.pop(),
        };
        let Ok(clip) = next else {
            return;
        };
        if clip.end <= clip.start || clip.end > clip.clip.frames() {
            self.give_back(clip);
            return;
        }
        self.switch_requested = false;
        self.started += 1;
        let start = clip.start;
        let next = Voice {
            clip,
            pos: start,
            repeats: 0,
        };
        match self.current.replace(next) {
            None => {}
            Some(old) => {
                self.fade = Some(Fade::Transition {
                    from: old,
                    done: 0,
                    len: self.settings.transition.max(1),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f32, rate: u32, frames: usize) -> PreparedLoop {
        let samples: Vec<f32> = (0..frames)
            .map(|i| 0.5 * (std::f32::consts::TAU * freq * i as f32 / rate as f32).sin())
            .collect();
        PreparedLoop {
            clip: Arc::new(Clip {
                sample_rate: rate,
                channels: vec![samples],
            }),
            start: 4800,
            end: 4800 + 48_000,
            label: format!("{freq} Hz"),
        }
    }

    fn max_step(x: &[f32]) -> f32 {
        x.windows(2).fold(0.0, |m, w| m.max((w[1] - w[0]).abs()))
    }

    #[test]
    fn a_loop_repeats_with_a_smooth_seam_and_hands_clips_back() {
        // 440 Hz at 48 kHz: a 1 s loop holds whole periods, so the seam is invisible.
        let settings = LooperSettings {
            seam: 480,
            transition: 4800,
            repeats_before_switch: 2,
            on_bar_lines: false,
        };
        let (mut looper, mut tx, mut rx) = looper(settings, 4);
        let a = tone(440.0, 48_000, 60_000);
        let b = tone(660.0, 48_000, 60_000);
        let own = max_step(&a.clip.channels[0]).max(max_step(&b.clip.channels[0]));
        tx.push(Box::new(a)).expect("queued");
        tx.push(Box::new(b)).expect("queued");
        let mut out = vec![0.0f32; 48_000 * 4];
        for chunk in out.chunks_mut(512) {
            looper.render(&mut [chunk], None);
        }
        // An equal-power mix of two unrelated signals can step by up to √2 times either one's.
        let step = max_step(&out);
        assert!(
            step <= own * std::f32::consts::SQRT_2 + 1e-4,
            "largest step {step} vs the clips' own {own}"
        );
        assert!(
            out.iter().all(|s| s.abs() <= 0.5 * 1.42),
            "equal-power fades stay in range"
        );
        // After two repeats the 660 Hz clip took over and the first went back.
        assert!(rx.pop().is_ok(), "the finished clip came back for freeing");
        assert_eq!(
            looper.position().map(|p| p.0.to_string()),
            Some("660 Hz".to_string())
        );
    }

    #[test]
    fn an_audition_plays_next_ahead_of_the_queue() {
        let settings = LooperSettings {
            seam: 480,
            transition: 480,
            repeats_before_switch: 0,
            on_bar_lines: false,
        };
        let (player, mut tx, _rx) = looper(settings, 4);
        let (mut audition_tx, audition_rx) = rtrb::RingBuffer::new(1);
        let mut player = player.with_audition(audition_rx);
        tx.push(Box::new(tone(220.0, 48_000, 60_000)))
            .expect("queued");
        tx.push(Box::new(tone(330.0, 48_000, 60_000)))
            .expect("queued");
        let mut buf = vec![0.0f32; 1024];
        player.render(&mut [&mut buf[..]], None);
        assert_eq!(
            player.position().map(|p| p.0.to_string()),
            Some("220 Hz".into())
        );
        audition_tx
            .push(Box::new(tone(550.0, 48_000, 60_000)))
            .expect("audition");
        for _ in 0..4 {
            player.render(&mut [&mut buf[..]], None);
        }
        assert_eq!(
            player.position().map(|p| p.0.to_string()),
            Some("550 Hz".into()),
            "the audition jumped the queue"
        );
    }

    #[test]
    fn transitions_wait_for_a_bar_line_and_stop_fades_out() {
        let settings = LooperSettings {
            seam: 480,
            transition: 2400,
            repeats_before_switch: 0,
            on_bar_lines: true,
        };
        let (mut looper, mut tx, _rx) = looper(settings, 4);
        tx.push(Box::new(tone(220.0, 48_000, 60_000)))
            .expect("queued");
        tx.push(Box::new(tone(330.0, 48_000, 60_000)))
            .expect("queued");
        let bps = 120.0 / 60.0 / 48_000.0;
        let mut buf = vec![0.0f32; 256];
        let mut beat = 1.0;
        looper.render(&mut [&mut buf[..]], Some(BeatClock::at(beat, bps)));
        beat += 256.0 * bps;
        looper.request_switch();
        // Until the bar line at beat 4 the first clip plays alone.
        while beat + 256.0 * bps < 4.0 {
            looper.render(&mut [&mut buf[..]], Some(BeatClock::at(beat, bps)));
            assert_eq!(looper.state(), LooperState::Playing);
            beat += 256.0 * bps;
        }
        looper.render(&mut [&mut buf[..]], Some(BeatClock::at(beat, bps)));
        assert_eq!(looper.state(), LooperState::Transitioning);
        looper.stop();
        let mut tail = vec![0.0f32; 4800];
        looper.render(&mut [&mut tail[..]], None);
        assert_eq!(looper.state(), LooperState::Idle);
        assert!(
            tail[2400..].iter().all(|s| *s == 0.0),
            "silence after the fade-out"
        );
        assert!(max_step(&tail) < 0.05, "no click while fading out");
    }
}
