"""Compare infini-loop with PyMusicLooper on the same synthesized clips.

Each clip repeats with a known period. For both tools: how far the chosen loop is from a whole
number of periods (ms), the seam error (RMS of the jump's difference over the music's RMS, the
same formula as `infini_loop_engine::analysis::seam_error`), and the time taken.

Run from the repository root:
    cargo build --release -p infinite-jazz-standalone --bin infini-loop
    python3 -m venv /tmp/pml && /tmp/pml/bin/pip install pymusiclooper
    /tmp/pml/bin/python plugin/infini-loop-engine/compare/compare_pymusiclooper.py
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import soundfile as sf
from pymusiclooper.core import MusicLooper

RATE = 32_000
BINARY = os.path.join("target", "release", "infini-loop")


def groove(bpm, bars, seconds, seed, noise=0.0):
    rng = np.random.default_rng(seed)
    beat = int(60.0 / bpm * RATE)
    period = np.zeros(beat * 4 * bars, dtype=np.float32)
    bass = [43, 46, 48, 50, 41, 45, 48, 52]
    hz = lambda m: 440.0 * 2 ** ((m - 69) / 12)
    for b in range(4 * bars):
        t = np.arange(beat) / RATE
        s = np.zeros(beat)
        if b % 2 == 0:
            s += 0.6 * np.sin(2 * np.pi * 55 * t * (1 - t)) * np.exp(-t * 18)
        else:
            s += 0.3 * rng.uniform(-1, 1, beat) * np.exp(-t * 25)
        s += 0.25 * np.sin(2 * np.pi * hz(bass[(b + seed) % 8]) * t) * np.exp(-t * 3)
        period[b * beat:(b + 1) * beat] += s
    x = np.tile(period, int(seconds * RATE) // len(period) + 1)[: int(seconds * RATE)]
    if noise:
        x = x + noise * rng.uniform(-1, 1, len(x))
    return x.astype(np.float32), len(period)


def drone(cycle_seconds, cycles):
    cycle = int(cycle_seconds * RATE)
    i = np.arange(cycle * cycles)
    t = i / RATE
    bright = 0.5 + 0.5 * np.sin(2 * np.pi * (i % cycle) / cycle)
    x = 0.3 * np.sin(2 * np.pi * 110 * t) + 0.2 * bright * np.sin(2 * np.pi * 330 * t) + 0.1 * (1 - bright) * np.sin(2 * np.pi * 550 * t)
    return x.astype(np.float32), cycle


def seam_error(x, start, end, n=2048):
    n = min(n, end - start)
    if end + n <= len(x):
        a, b = x[end:end + n], x[start:start + n]
    elif start >= n:
        a, b = x[start - n:start], x[end - n:end]
    else:
        return 1.0
    level = float(np.mean(a.astype(np.float64) ** 2))
    return float(np.sqrt(np.mean((a.astype(np.float64) - b) ** 2) / level)) if level > 1e-12 else 1.0


def off_ms(start, end, period):
    length = end - start
    k = max(1, round(length / period))
    return abs(length - k * period) / RATE * 1000.0


def main():
    if not os.path.exists(BINARY):
        sys.exit(f"build {BINARY} first: cargo build --release -p infinite-jazz-standalone --bin infini-loop")
    clips = {
        "groove 120 BPM, 2 bars, 20 s": groove(120, 2, 20, 1),
        "groove 96 BPM, 1 bar, 18 s": groove(96, 1, 18, 2),
        "groove 140 BPM, 2 bars, 18 s": groove(140, 2, 18, 3),
        "groove 110 BPM + noise, 24 s": groove(110, 2, 24, 5, noise=0.02),
        "drone, 3.7 s cycle, 18.5 s": drone(3.7, 5),
        "groove 118 BPM, 2 bars, 30 s": groove(118, 2, 30, 6),
    }
    tmp = tempfile.mkdtemp()
    # Warm PyMusicLooper's JIT-compiled code so that its timings are steady-state.
    warm = os.path.join(tmp, "warm.wav")
    sf.write(warm, groove(120, 1, 8, 9)[0], RATE, subtype="FLOAT")
    MusicLooper(warm).find_loop_pairs()
    print("| clip | infini-loop: off-period ms / seam error / time | PyMusicLooper: off-period ms / seam error / time |")
    print("| --- | --- | --- |")
    for name, (x, period) in clips.items():
        path = os.path.join(tmp, "clip.wav")
        sf.write(path, x, RATE, subtype="FLOAT")
        t0 = time.perf_counter()
        out = subprocess.run([BINARY, "analyze", path, "--json"], capture_output=True, text=True, check=True)
        ours_time = time.perf_counter() - t0
        report = json.loads(out.stdout)
        s, e = report["loop_start"], report["loop_end"]
        ours = f"{off_ms(s, e, period):.2f} / {seam_error(x, s, e):.4f} / {ours_time * 1000:.0f} ms"
        t0 = time.perf_counter()
        try:
            pairs = MusicLooper(path).find_loop_pairs()
            theirs_time = time.perf_counter() - t0
            s, e = pairs[0].loop_start, pairs[0].loop_end
            theirs = f"{off_ms(s, e, period):.2f} / {seam_error(x, s, e):.4f} / {theirs_time * 1000:.0f} ms"
        except Exception as exc:  # noqa: BLE001 - report whatever the other tool raises
            theirs = f"no loop ({type(exc).__name__})"
        print(f"| {name} | {ours} | {theirs} |")


if __name__ == "__main__":
    main()
