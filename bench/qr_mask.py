"""Bench: ms per personal QR code, segno.make_qr's own mask choice vs qrcodes.make() (qrmask).

Personal links as the app draws them ("https://host/q#" + base64url of a 60-200 byte token,
version 7-13 at level M), each drawn both ways; also segno with an explicit mask=0 (the cost of
everything but the choice). Runs interleaved, best of 5 rounds, so load elsewhere on the machine
hurts all equally. Checks every pair of symbols is identical.

    .venv/bin/python bench/qr_mask.py [count]
"""
import base64
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import segno  # noqa: E402

from kiemdich import qrcodes  # noqa: E402


def _contents(n: int) -> list[str]:
    rnd = random.Random(11)
    return ["https://kiemdich.example.vn/q#"
            + base64.urlsafe_b64encode(rnd.randbytes(rnd.randint(60, 200))).decode().rstrip("=")
            for _ in range(n)]


def _ms_per_qr(draw, contents) -> float:
    start = time.perf_counter()
    for content in contents:
        draw(content)
    return (time.perf_counter() - start) * 1000 / len(contents)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    contents = _contents(n)
    for content in contents:
        ours, theirs = qrcodes.make(content), segno.make_qr(content, error="m")
        assert (ours.version, ours.error, ours.mask, ours.matrix) \
            == (theirs.version, theirs.error, theirs.mask, theirs.matrix), content
    versions = sorted({segno.make_qr(c, error="m").version for c in contents})
    ways = {"segno.make_qr(error='m')": lambda c: segno.make_qr(c, error="m"),
            "segno.make_qr(error='m', mask=0)": lambda c: segno.make_qr(c, error="m", mask=0),
            "qrcodes.make (qrmask)": qrcodes.make}
    best = dict.fromkeys(ways, float("inf"))
    for _ in range(5):
        for name, draw in ways.items():
            best[name] = min(best[name], _ms_per_qr(draw, contents))
    print(f"{n} personal links, versions {versions[0]}-{versions[-1]}, identical symbols: yes")
    for name, ms in best.items():
        print(f"  {name:34} {ms:6.2f} ms per QR")
    before, after = best["segno.make_qr(error='m')"], best["qrcodes.make (qrmask)"]
    print(f"  ratio segno default / qrcodes.make: {before / after:.1f}x")


if __name__ == "__main__":
    main()
