"""Write assets/alert.wav: a short two-tone chime for flag alerts, made with the standard library.

Run ``python scripts/make_alert_wav.py`` to rebuild it; the output is deterministic.
"""

from __future__ import annotations

import argparse
import math
import struct
import wave
from pathlib import Path

RATE_HZ = 16_000
TONES = ((880.0, 0.18), (0.0, 0.06), (1320.0, 0.28))  # (frequency Hz, duration s); 0 = silence
VOLUME = 0.4
FADE_S = 0.01


def samples() -> list[int]:
    """Return the chime as signed 16-bit samples (short fades avoid clicks)."""
    out: list[int] = []
    for freq, duration_s in TONES:
        n = int(RATE_HZ * duration_s)
        fade = int(RATE_HZ * FADE_S)
        for i in range(n):
            envelope = min(1.0, i / fade, (n - 1 - i) / fade) if fade else 1.0
            value = math.sin(2 * math.pi * freq * i / RATE_HZ) if freq else 0.0
            out.append(int(32767 * VOLUME * envelope * value))
    return out


def write_wav(path: Path) -> int:
    """Write the chime to ``path`` as mono 16-bit PCM; return its size in bytes."""
    data = samples()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE_HZ)
        wav.writeframes(struct.pack(f"<{len(data)}h", *data))
    return path.stat().st_size


def main() -> None:
    """Write the chime (default: assets/alert.wav next to this repository's scripts/)."""
    parser = argparse.ArgumentParser(description=__doc__)
    default = Path(__file__).resolve().parents[1] / "assets" / "alert.wav"
    parser.add_argument("output", nargs="?", type=Path, default=default)
    args = parser.parse_args()
    write_wav(args.output)


if __name__ == "__main__":
    main()
