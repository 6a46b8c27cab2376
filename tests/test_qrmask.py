"""qrmask draws exactly segno.make_qr(content, error="m"): same version, level, mask, matrix."""
import base64
import random
from functools import lru_cache

import pytest
import segno
from segno import encoder

from kiemdich import qrcodes, qrmask

_CODE_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _contents(n: int = 360, seed: int = 18004) -> list[str]:
    """Contents shaped like the app's, plus short and long free text (byte, alphanumeric, numeric)."""
    rnd = random.Random(seed)
    out = []
    for k in range(n):
        shape = k % 6
        if shape in (0, 1):  # personal link: a signed token in the fragment
            token = base64.urlsafe_b64encode(rnd.randbytes(rnd.randint(60, 200))).decode().rstrip("=")
            out.append("https://kiemdich.example.vn/q#" + token)
        elif shape == 2:  # checkpoint link
            out.append("https://x.vn/c/" + "".join(rnd.choice(_CODE_CHARS) for _ in range(8)))
        elif shape == 3:  # short text, any mode
            alphabet = rnd.choice(["0123456789", "ABC123 $%*+-./:", "abcxyz-_/:#"])
            out.append("".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 40))))
        elif shape == 4:  # Vietnamese text (UTF-8 bytes)
            out.append("".join(rnd.choice("aăâđeêoôơuưyĐƯỜNG hồ ") for _ in range(rnd.randint(5, 120))))
        else:  # long text, up to version 12 at M
            out.append("".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789-_/.?=&")
                               for _ in range(rnd.randint(100, 280))))
    return out


CONTENTS = _contents()


@lru_cache(maxsize=None)
def _segno(content: str) -> segno.QRCode:
    """segno's own choice, the reference (~15 ms each: computed once per test run)."""
    return segno.make_qr(content, error="m")


def _same_symbol(ours: segno.QRCode, theirs: segno.QRCode) -> bool:
    return ((ours.version, ours.error, ours.mode, ours.mask, ours.matrix)
            == (theirs.version, theirs.error, theirs.mode, theirs.mask, theirs.matrix))


def test_same_symbol_as_segno_for_realistic_contents():
    masks, versions, levels = set(), set(), set()
    for content in CONTENTS:
        theirs = _segno(content)
        ours = qrcodes.make(content)
        assert _same_symbol(ours, theirs), content
        assert qrmask.best_mask(content) == theirs.mask
        assert ours.symbol_size() == theirs.symbol_size()
        masks.add(theirs.mask)
        versions.add(theirs.version)
        levels.add(theirs.error)
    # The contents exercise every mask, every version 1..12 and segno's error boost.
    assert masks == set(range(8))
    assert set(range(1, 13)) <= versions
    assert {"M", "Q", "H"} <= levels


def test_other_error_levels_too():
    for content in CONTENTS[:60]:
        for error in ("l", "q", "h"):
            assert _same_symbol(qrmask.make_qr(content, error), segno.make_qr(content, error=error))


def _segno_unmasked(content: str, monkeypatch) -> tuple:
    """The matrix segno hands to find_and_apply_best_mask() (codewords placed, no mask)."""
    seen = []
    real = encoder.find_and_apply_best_mask

    def spy(matrix, width, height, proposed_mask=None):
        seen.append(tuple(bytearray(row) for row in matrix))
        return real(matrix, width, height, proposed_mask)

    monkeypatch.setattr(encoder, "find_and_apply_best_mask", spy)
    segno.make_qr(content, error="m")
    monkeypatch.undo()
    return seen[0]


def test_each_mask_scores_as_segno_evaluate_mask(monkeypatch):
    """Not only the winner: every mask's penalty, so a wrong rule cannot hide behind a tie."""
    for content in CONTENTS[::6] + CONTENTS[1::6][:20] + CONTENTS[5::6][:20]:
        unmasked = _segno_unmasked(content, monkeypatch)
        width = len(unmasked)
        functions = encoder.make_matrix(width, width)
        encoder.add_finder_patterns(functions, width, width)
        encoder.add_alignment_patterns(functions, width, width)
        functions[-8][8] = 0x1
        expected = []
        for pattern in encoder.get_data_mask_functions(False):
            matrix = tuple(bytearray(row) for row in unmasked)
            encoder.apply_mask(matrix, pattern, width, width, lambda i, j: functions[i][j] > 0x1)
            expected.append(encoder.evaluate_mask(matrix, width, width))
        version, _, _, bits = qrmask.message(content, "m")
        assert qrmask.penalties(bits, version) == expected, content


def _random_lines_buffer(rnd: random.Random, width: int, lines: int) -> int:
    """A padded buffer of lines rich in finder-like patterns, overlapping ones included."""
    pieces = [b"\x01\x00\x01\x01\x01\x00\x01", b"\x01\x01\x01\x00\x01", b"\x00" * 4, b"\x00",
              b"\x01", b"\x01\x00\x01\x01\x01\x00\x01\x00\x01\x01\x01\x00\x01"]
    out = bytearray(b"\x02" * 4)
    for _ in range(lines):
        line = bytearray()
        while len(line) < width:
            line += rnd.choice(pieces)
        out += line[:width] + b"\x02" * 4
    return int.from_bytes(out, "big")


def test_n3_bit_operations_match_segno_search_order():
    """The fast N3 against the sequential search (segno's loop), chains of overlaps included."""
    rnd = random.Random(7)
    paths = {"fast": 0, "search": 0}
    real_search = qrmask._n3_search
    for _ in range(400):
        width = rnd.choice([21, 25, 45, 61])
        x = _random_lines_buffer(rnd, width, rnd.randint(1, 12))
        ones = int.from_bytes(b"\x01" * ((x.bit_length() + 7) // 8), "big")
        searched = []
        qrmask._n3_search = lambda buf: searched.append(1) or real_search(buf)
        try:
            fast = qrmask._n3(x, x & ones, ones)
        finally:
            qrmask._n3_search = real_search
        paths["search" if searched else "fast"] += 1
        assert fast == real_search(x)
    assert paths["fast"] > 50 and paths["search"] > 50


@pytest.mark.parametrize("rule", ["_n1", "_n2", "_n3"])
def test_a_wrong_rule_would_be_caught(rule, monkeypatch):
    """The comparison with segno has teeth: dropping any one rule changes some chosen masks."""
    monkeypatch.setattr(qrmask, rule, lambda *args: 0)
    differing = sum(qrmask.best_mask(c) != _segno(c).mask for c in CONTENTS[:120])
    assert differing > 0
