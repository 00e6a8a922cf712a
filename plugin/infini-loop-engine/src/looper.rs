//! The real-time loop player.
//!
//! A [`PreparedLoop`] plays from its start to its end and jumps back, forever. The jump is
//! hidden by an equal-gain crossfade (the two sides are alike): over the last `seam` samples
//! before the end, the audio fades out while the audio just before the start fades in, so at
//! the end the player is exactly at the start. Switching to the next clip is an equal-power
//! crossfade of its own length, started after a number of repeats or on request, on a bar line
//! when a beat clock is given. Clips arrive through one `rtrb` queue and leave through another
//! to be freed elsewhere; [`Looper::render`] allocates nothing.
//!
//! With [`LooperSettings::sync`] and a beat clock, a loop made to span whole bars of the
//! host's tempo ([`LoopGrid`]) is locked to the host: it starts from the bar line it began in,
//! each repeat starts on the sample where the host's beat crosses the bar line that begins it
//! (its position comes from the host's beat, never from counting samples, so nothing drifts),
//! a relocation puts it where the host's beat says (with a short fade), and a rendition for a
//! new tempo takes over on the next bar line. Until that rendition comes, the old one is
//! restarted on the host's bar lines.

use crate::clip::Clip;
use std::f32::consts::FRAC_PI_2;
use std::sync::Arc;

/// Shortest fade over a jump off the loop's course, in samples.
const JUMP_FADE_MIN: usize = 64;
/// Samples of crossfade from a loop to its rendition for another tempo.
const RENDITION_FADE: usize = 1024;

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
    /// The clip it was prepared from: renditions of one clip at other tempi share it.
    pub id: u64,
    /// The loop's length in beats and the tempo they are at, when it was made to span whole
    /// bars of that tempo: with a beat clock and [`LooperSettings::sync`], its repeats follow
    /// the host's bar lines.
    pub grid: Option<LoopGrid>,
}

/// A loop's place on the host's grid: `beats` beats at `bpm`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoopGrid {
    /// The tempo the loop was stretched to.
    pub bpm: f64,
    /// Its length in beats (a whole number of bars).
    pub beats: f64,
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
    /// With a beat clock, play loops that have a [`LoopGrid`] locked to it: each repeat starts
    /// on the host's bar line, the position follows the host's beat (relocation, DAW loops),
    /// and a rendition for a new tempo replaces the loop on the next bar line.
    pub sync: bool,
}

impl Default for LooperSettings {
    fn default() -> Self {
        LooperSettings {
            seam: 480,
            transition: 48_000,
            repeats_before_switch: 4,
            on_bar_lines: true,
            sync: false,
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
    /// The host beat of the loop's first downbeat, while it plays locked to the host.
    anchor: Option<f64>,
    /// A jump off the loop's own course (a restart forced by the host's bar line, a
    /// relocation): the old position, still read while it fades out, and samples done.
    jump: Option<(usize, usize)>,
}

impl Voice {
    fn new(clip: Box<PreparedLoop>) -> Self {
        let pos = clip.start;
        Voice {
            clip,
            pos,
            repeats: 0,
            anchor: None,
            jump: None,
        }
    }

    /// The loop's own output at `pos` for `channel`: across the seam, the audio before the
    /// end fades into the audio before the start; past the end (a locked loop waiting for the
    /// host's bar line), what follows the start.
    fn at(&self, channel: usize, pos: usize, seam: usize) -> f32 {
        let l = &self.clip;
        let x = l.seam_len(seam);
        if x > 0 && pos >= l.end - x {
            let into = pos - (l.end - x);
            if into >= x {
                return l.sample(channel, l.start + (into - x));
            }
            // Equal gain, not equal power: the two sides of a seam are the same music (the
            // search chose them alike), and equal-power gains on alike signals swell by up
            // to 3 dB mid-fade.
            let t = into as f32 / x as f32;
            let from = l.sample(channel, pos);
            let to = l.sample(channel, l.start - x + into);
            from * (1.0 - t) + to * t
        } else {
            l.sample(channel, pos)
        }
    }

    /// The next output sample of this voice for `channel` (not advancing).
    fn value(&self, channel: usize, seam: usize) -> f32 {
        let now = self.at(channel, self.pos, seam);
        match self.jump {
            Some((from, done)) => {
                let t = done as f32 / self.jump_len(seam) as f32;
                self.at(channel, from, seam) * (t * FRAC_PI_2).cos() + now * (t * FRAC_PI_2).sin()
            }
            None => now,
        }
    }

    fn advance(&mut self, seam: usize) {
        self.pos += 1;
        if let Some((from, done)) = self.jump.as_mut() {
            *from += 1;
            *done += 1;
            if *done >= self.jump_len(seam) {
                self.jump = None;
            }
        }
        let last = self.clip.clip.frames().saturating_sub(1);
        if self.anchor.is_none() && self.pos >= self.clip.end {
            self.pos = self.clip.start;
            self.repeats = self.repeats.saturating_add(1);
        } else if self.pos >= last {
            // A locked loop whose bar line has not come by the end of its audio (the host
            // slowed down and the rendition for the new tempo is not ready yet).
            self.jump_to(self.clip.start);
            self.repeats = self.repeats.saturating_add(1);
        }
    }

    /// Samples a jump off the loop's course fades over: the seam's crossfade, at least
    /// [`JUMP_FADE_MIN`].
    fn jump_len(&self, seam: usize) -> usize {
        self.clip.seam_len(seam).max(JUMP_FADE_MIN)
    }

    /// Moves the play position to `to`, fading from where it was.
    fn jump_to(&mut self, to: usize) {
        if to.abs_diff(self.pos) > 1 {
            self.jump = Some((self.pos.min(self.clip.end), 0));
        }
        self.pos = to;
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
    /// The first voice fading in from silence (it may begin mid-loop, where the host's beat
    /// puts it).
    In { done: usize, len: usize },
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
    /// Loops prepared again for a new host tempo; each replaces its clip on a bar line.
    renditions: Option<rtrb::Consumer<Box<PreparedLoop>>>,
    /// Renditions received for clips not playing yet.
    spare: [Option<Box<PreparedLoop>>; 4],
    /// The beat the next block should start at if the host plays on (a relocation otherwise).
    next_beat: Option<f64>,
    /// The next host bar line, in beats, while a loop is locked.
    next_bar: f64,
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
        sync: false,
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
            renditions: None,
            spare: Default::default(),
            next_beat: None,
            next_bar: f64::INFINITY,
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

    /// Loops prepared again for a new tempo arrive here ([`LooperSettings::sync`]): each
    /// replaces its clip (same [`PreparedLoop::id`]) on the next bar line, or where a loop
    /// running on its own starts again.
    pub fn with_renditions(mut self, renditions: rtrb::Consumer<Box<PreparedLoop>>) -> Self {
        self.renditions = Some(renditions);
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
            (Some(_), Some(Fade::In { .. })) => LooperState::Playing,
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

    /// How far through its loop the current clip is (0 at the start, 1 at the end), for
    /// displays that show the clip at another length than it plays (stretched).
    pub fn loop_phase(&self) -> Option<f64> {
        self.current.as_ref().map(|v| {
            let l = &v.clip;
            (v.pos.saturating_sub(l.start)) as f64 / (l.end - l.start).max(1) as f64
        })
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
        // A block that does not start where the last one ended: the host relocated (a jump,
        // a DAW loop) or started.
        let relocated = match (clock, self.next_beat) {
            (Some(c), Some(expected)) => {
                (c.start_beat - expected).abs() > 2.0 * c.beats_per_sample.abs().max(1e-9)
            }
            _ => true,
        };
        self.next_beat = clock.map(|c| c.start_beat + frames as f64 * c.beats_per_sample);
        for i in 0..frames {
            self.maybe_start_transition(clock, i);
            self.follow_host(clock, i, relocated && i == 0);
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
                    Some(Fade::In { done, len }) => {
                        current * ((*done as f32 / *len as f32) * FRAC_PI_2).sin()
                    }
                };
            }
            let mut wrapped = None;
            if let Some(v) = self.current.as_mut() {
                let repeats = v.repeats;
                v.advance(seam);
                if v.repeats != repeats && v.anchor.is_none() {
                    wrapped = Some(v.clip.id);
                }
            }
            // A loop running on its own takes a rendition where it starts again (it locks to
            // the host's bars from there when it has a grid).
            if let Some(id) = wrapped.filter(|_| self.renditions.is_some()) {
                if let Some(new) = self.spare_rendition(id) {
                    let start = new.start;
                    self.swap_clip(new, start);
                }
            }
            match &mut self.fade {
                Some(Fade::Transition { from, done, len }) => {
                    from.advance(seam);
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
                Some(Fade::In { done, len }) => {
                    *done += 1;
                    if *done >= *len {
                        self.fade = None;
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

    /// Keeps the current loop on the host's grid (see [`LooperSettings::sync`]): locks it to
    /// the bar line it started in, restarts it on the bar line that starts each repeat (with a
    /// rendition for the host's tempo when one came), and puts it where the host's beat says
    /// after a relocation. Without a clock it runs on its own.
    fn follow_host(&mut self, clock: Option<BeatClock>, i: usize, relocated: bool) {
        let locked = self.settings.sync
            && self
                .current
                .as_ref()
                .is_some_and(|v| v.clip.grid.is_some_and(|g| g.beats > 0.0));
        let Some(c) = clock.filter(|c| locked && c.beats_per_sample > 0.0) else {
            if let Some(v) = self.current.as_mut() {
                v.anchor = None;
            }
            return;
        };
        let beat = c.start_beat + i as f64 * c.beats_per_sample;
        // Per sample, one comparison: everything else happens on bar lines.
        let next_bar = ((beat / 4.0).floor() + 1.0) * 4.0;
        let Some(anchor) = self.current.as_ref().and_then(|v| v.anchor) else {
            self.next_bar = next_bar;
            if let Some(v) = self.current.as_mut() {
                // From the bar line this sample is in: the loop's first downbeat is there.
                let anchor = (beat / 4.0).floor() * 4.0;
                v.anchor = Some(anchor);
                let to = locked_pos(&v.clip, beat, anchor);
                if v.pos == v.clip.start && v.repeats == 0 {
                    v.pos = to;
                } else {
                    v.jump_to(to);
                }
            }
            return;
        };
        if relocated {
            self.next_bar = next_bar;
            if let Some(v) = self.current.as_mut() {
                let to = locked_pos(&v.clip, beat, anchor);
                v.jump_to(to);
            }
            return;
        }
        if beat < self.next_bar {
            return;
        }
        // A bar line; the loop spans whole bars from a bar line, so a repeat can only start on
        // one.
        self.next_bar = next_bar;
        let beats = self
            .current
            .as_ref()
            .and_then(|v| v.clip.grid)
            .map_or(4.0, |g| g.beats);
        let prev = beat - c.beats_per_sample;
        let repeat = |b: f64| ((b - anchor) / beats).floor();
        let starts_repeat = repeat(beat) != repeat(prev);
        // A rendition for the host's tempo takes over on the next bar line.
        let id = self.current.as_ref().map_or(0, |v| v.clip.id);
        let rendition = self.spare_rendition(id);
        let Some(v) = self.current.as_mut() else {
            return;
        };
        if starts_repeat {
            v.repeats = v.repeats.saturating_add(1);
            // On course, the seam's crossfade already led to the start.
            if v.pos.abs_diff(v.clip.end) <= 2 {
                v.pos = v.clip.start;
            } else {
                v.jump_to(v.clip.start);
            }
        }
        let Some(new) = rendition else {
            return;
        };
        // Where the rendition is at this bar line: the same place in the loop when it spans
        // as many beats; from its start, its bars counted from here, when it spans more or
        // fewer.
        let same_beats = new.grid.is_some_and(|g| (g.beats - beats).abs() < 1e-9);
        let bar = if starts_repeat {
            anchor + repeat(beat) * beats
        } else {
            (beat / 4.0).floor() * 4.0
        };
        let (anchor, at) = if same_beats {
            (anchor, locked_pos(&new, beat, anchor))
        } else {
            (bar, new.start)
        };
        self.swap_clip(new, at);
        if let Some(v) = self.current.as_mut() {
            if v.anchor.is_some() {
                v.anchor = Some(anchor);
            }
        }
    }

    /// The current voice plays `new` (a rendition of its clip) from `at`, crossfaded from the
    /// old one going on from where it was (the two differ in phase, so a cut would click); the
    /// old one goes back after the fade.
    fn swap_clip(&mut self, new: Box<PreparedLoop>, at: usize) {
        let Some(v) = self.current.as_mut().filter(|_| playable(&new)) else {
            self.give_back(new);
            return;
        };
        let old = std::mem::replace(&mut v.clip, new);
        let (old_pos, old_jump) = (v.pos, v.jump.take());
        v.pos = at.clamp(v.clip.start, v.clip.end - 1);
        v.anchor = v.anchor.filter(|_| v.clip.grid.is_some());
        if self.fade.is_some() {
            self.give_back(old);
            return;
        }
        let mut from = Voice::new(old);
        from.pos = old_pos;
        from.jump = old_jump;
        self.fade = Some(Fade::Transition {
            from,
            done: 0,
            len: RENDITION_FADE,
        });
    }

    /// Moves renditions from their queue to the spare slots (the oldest spare goes back when
    /// they are full).
    fn collect_renditions(&mut self) {
        loop {
            let Some(Ok(rendition)) = self.renditions.as_mut().map(|r| r.pop()) else {
                return;
            };
            if let Some(slot) = self.spare.iter_mut().find(|s| s.is_none()) {
                *slot = Some(rendition);
            } else {
                let oldest = self.spare[0].take();
                self.spare.rotate_left(1);
                self.spare[3] = Some(rendition);
                if let Some(old) = oldest {
                    self.give_back(old);
                }
            }
        }
    }

    /// The newest rendition for clip `id`; older ones, and those for clips already played,
    /// go back.
    fn spare_rendition(&mut self, id: u64) -> Option<Box<PreparedLoop>> {
        self.collect_renditions();
        let mut found: Option<Box<PreparedLoop>> = None;
        for slot in 0..self.spare.len() {
            let stale_or_ours = self.spare[slot].as_ref().is_some_and(|r| r.id <= id);
            if !stale_or_ours {
                continue;
            }
            if let Some(r) = self.spare[slot].take() {
                if r.id == id {
                    if let Some(older) = found.replace(r) {
                        self.give_back(older);
                    }
                } else {
                    self.give_back(r);
                }
            }
        }
        found
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
        // A rendition for the host's tempo, made while the clip waited, plays instead.
        let clip = match self.spare_rendition(clip.id) {
            Some(rendition) => {
                self.give_back(clip);
                rendition
            }
            None => clip,
        };
        if !playable(&clip) {
            self.give_back(clip);
            return;
        }
        self.switch_requested = false;
        self.started += 1;
        let next = Voice::new(clip);
        match self.current.replace(next) {
            None => {
                self.fade = Some(Fade::In {
                    done: 0,
                    len: self.settings.seam.max(JUMP_FADE_MIN),
                });
            }
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

/// Where loop `l` is at host beat `beat` when its first downbeat was at `anchor`.
fn locked_pos(l: &PreparedLoop, beat: f64, anchor: f64) -> usize {
    let beats = l.grid.map_or(4.0, |g| g.beats).max(1e-6);
    let phase = (beat - anchor).rem_euclid(beats) / beats;
    let len = (l.end - l.start) as f64;
    l.start + ((phase * len).round() as usize).min(l.end - l.start - 1)
}

/// Whether a loop's points lie inside its audio.
fn playable(l: &PreparedLoop) -> bool {
    l.end > l.start && l.end <= l.clip.frames()
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
            id: 0,
            grid: None,
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
            sync: false,
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
            sync: false,
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
            sync: false,
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

    /// A clip whose every sample is its own index, looped over `beats` beats at `bpm`
    /// (48 kHz), with room after the end as a stretched rendition has.
    fn ramp(bpm: f64, beats: f64, id: u64, offset: f32) -> PreparedLoop {
        let len = (beats * 60.0 / bpm * 48_000.0).round() as usize;
        let start = 4800;
        let frames = start + 2 * len;
        PreparedLoop {
            clip: Arc::new(Clip {
                sample_rate: 48_000,
                channels: vec![(0..frames).map(|i| offset + i as f32).collect()],
            }),
            start,
            end: start + len,
            label: "ramp".into(),
            id,
            grid: Some(LoopGrid { bpm, beats }),
        }
    }

    fn synced() -> LooperSettings {
        LooperSettings {
            seam: 0,
            transition: 480,
            repeats_before_switch: 0,
            on_bar_lines: true,
            sync: true,
        }
    }

    /// Plays `blocks` blocks of `size` from `beat` at `bpm` and returns the output and the
    /// beat of each sample.
    fn play(
        looper: &mut Looper,
        beat: &mut f64,
        bpm: f64,
        blocks: usize,
        size: usize,
    ) -> (Vec<f32>, Vec<f64>) {
        let bps = bpm / 60.0 / 48_000.0;
        let mut out = Vec::new();
        let mut beats = Vec::new();
        let mut buf = vec![0.0f32; size];
        for _ in 0..blocks {
            looper.render(&mut [&mut buf[..]], Some(BeatClock::at(*beat, bps)));
            out.extend_from_slice(&buf);
            beats.extend((0..size).map(|i| *beat + i as f64 * bps));
            *beat += size as f64 * bps;
        }
        (out, beats)
    }

    #[test]
    fn a_locked_loop_starts_every_repeat_on_a_host_bar_line_for_hours_of_repeats() {
        // 8 beats at 97 BPM are 237 525.77 samples: a whole-sample loop would drift a sample
        // every few repeats; locked to the host it never does.
        let (player, mut tx, _rx) = looper(synced(), 4);
        let mut player = player;
        let l = ramp(97.0, 8.0, 1, 0.0);
        let start = l.start as f32;
        tx.push(Box::new(l)).expect("queued");
        let mut beat = 0.0;
        let (out, beats) = play(&mut player, &mut beat, 97.0, 60 * 237_526 / 1000, 1000);
        let mut restarts = 0;
        for n in 1..out.len() {
            let bar_line = (beats[n] / 8.0).floor() != (beats[n - 1] / 8.0).floor();
            assert_eq!(
                out[n] == start,
                bar_line,
                "sample {n} (beat {:.6}): {} where the loop starts at {start}",
                beats[n],
                out[n]
            );
            restarts += usize::from(bar_line);
        }
        assert!(restarts >= 59, "{restarts} repeats");
    }

    #[test]
    fn relocation_renditions_and_tempo_changes_keep_the_loop_on_the_host_grid() {
        let (player, mut tx, _rx) = looper(synced(), 4);
        let (mut renditions, rendition_rx) = rtrb::RingBuffer::new(4);
        let mut player = player.with_renditions(rendition_rx);
        let first = ramp(120.0, 8.0, 7, 0.0);
        let (start, len) = (first.start as f32, (first.end - first.start) as f32);
        tx.push(Box::new(first)).expect("queued");
        let mut beat = 2.5;
        // Starting mid-bar: the loop is where the bar line at beat 0 puts it (faded in).
        let (out, _) = play(&mut player, &mut beat, 120.0, 1, 256);
        assert_eq!(out[0], 0.0);
        assert_eq!(out[100], start + 2.5 * 24_000.0 + 100.0);
        play(&mut player, &mut beat, 120.0, 400, 256);
        // The host jumps back to beat 5: the loop follows (after a 64-sample fade).
        let mut beat = 5.0;
        let (out, _) = play(&mut player, &mut beat, 120.0, 1, 256);
        assert_eq!(out[100], start + 5.0 * 24_000.0 + 100.0);
        // The host speeds up to 130 BPM before a rendition is ready: restarts stay on its
        // bar lines (a fade into the start, exact after it).
        let (out, beats) = play(&mut player, &mut beat, 130.0, 2400, 256);
        let bar_lines: Vec<usize> = (1..out.len())
            .filter(|&n| (beats[n] / 8.0).floor() != (beats[n - 1] / 8.0).floor())
            .collect();
        assert!(bar_lines.len() >= 3);
        for &n in &bar_lines {
            assert_eq!(
                out[n + 64],
                start + 64.0,
                "64 samples after the bar line at {n}"
            );
        }
        // A rendition for 130 BPM (marked by an offset) takes over at the next bar line, where
        // the loop is, and starts each repeat on the host's bar lines from then on.
        renditions
            .push(Box::new(ramp(130.0, 8.0, 7, 1.0e6)))
            .expect("rendition");
        let (out, beats) = play(&mut player, &mut beat, 130.0, 1600, 256);
        let crossed =
            |n: usize, every: f64| (beats[n] / every).floor() != (beats[n - 1] / every).floor();
        let bar_line = (1..out.len())
            .find(|&n| crossed(n, 4.0))
            .expect("a bar line");
        assert!(
            out[bar_line] < 1.0e6,
            "the old one still sounds on the bar line"
        );
        let faded = bar_line + RENDITION_FADE;
        assert!(out[faded..]
            .iter()
            .all(|v| *v >= 1.0e6 + start && *v < 1.0e6 + start + len));
        let repeats: Vec<usize> = (faded..out.len()).filter(|&n| crossed(n, 8.0)).collect();
        assert!(repeats.len() >= 2);
        for n in repeats {
            assert_eq!(out[n], 1.0e6 + start, "a repeat of the rendition at {n}");
        }
    }
}
