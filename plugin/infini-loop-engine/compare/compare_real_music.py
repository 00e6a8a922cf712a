"""PyMusicLooper's loops of the real-music clips, for the real_music bench to measure.

The bench writes the clips it cuts (32 kHz mono WAV) to a folder; this runs PyMusicLooper on
each and writes its best loop per clip as JSON ({"clip label": [start, end, seconds]}); the bench
then measures those loops with the same seam measure as ours. From the repository root:

    REAL_MUSIC_WRITE=/tmp/real-clips cargo bench -p integration-tests --bench real_music
    python3 -m venv /tmp/pml && /tmp/pml/bin/pip install pymusiclooper
    /tmp/pml/bin/python plugin/infini-loop-engine/compare/compare_real_music.py /tmp/real-clips /tmp/pml.json
    PYMUSICLOOPER_JSON=/tmp/pml.json cargo bench -p integration-tests --bench real_music
"""

import json
import os
import sys
import time

from pymusiclooper.core import MusicLooper


def main():
    folder, out = sys.argv[1], sys.argv[2]
    found = {}
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".wav"):
            continue
        label = name[: -len(".wav")]
        path = os.path.join(folder, name)
        t0 = time.perf_counter()
        try:
            pairs = MusicLooper(path).find_loop_pairs()
            found[label] = [int(pairs[0].loop_start), int(pairs[0].loop_end), time.perf_counter() - t0]
        except Exception as exc:  # noqa: BLE001 - report whatever the other tool raises
            found[label] = None
            print(f"{label}: no loop ({type(exc).__name__}: {exc})", file=sys.stderr)
    with open(out, "w") as f:
        json.dump(found, f, indent=1)


if __name__ == "__main__":
    main()
