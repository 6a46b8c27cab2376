"""segno's choice of QR data mask, computed exactly as segno 1.6 does it but ~20x faster.

segno.make_qr() applies each of the 8 masks module by module in Python and scores each with
encoder.mask_scores() (also module by module): ~12 ms of the ~15 ms of a version 10-11 code.
Here the whole symbol is one bytes buffer (one byte per module), a mask is one big-int XOR,
and each penalty rule is a C-level operation (regex, bytes.find, big-int bit operations).
The scoring reproduces segno's, quirks included (see _n3); tests/test_qrmask.py compares the
result with segno.make_qr() on hundreds of contents.
"""
from functools import lru_cache

import segno
from segno import consts, encoder

# Between and around rows: 4 modules that are neither dark nor light. They end runs (N1),
# count as "light" for the finder-like rule (N3, which segno clips at the symbol's edge, i.e.
# treats the outside as light) and never match a 2x2 block of data modules (N2).
_PAD = b"\x02" * 4
_FINDER_LIKE = b"\x01\x00\x01\x01\x01\x00\x01"


class _Layout:
    """Per symbol size: the padded buffer geometry and each mask as a big int over it."""
    __slots__ = ("width", "stride", "length", "row_masks", "col_masks", "block_cells",
                 "block_count", "ones")

    def __init__(self, width: int):
        self.width = width
        self.stride = width + len(_PAD)
        self.length = len(_PAD) + width * self.stride
        # The modules segno masks: those still "unset" (0x2) in its function-pattern matrix,
        # built the way find_and_apply_best_mask() builds it (dark module excluded).
        fm = encoder.make_matrix(width, width)
        encoder.add_finder_patterns(fm, width, width)
        encoder.add_alignment_patterns(fm, width, width)
        fm[-8][8] = 0x1
        rng = range(width)
        self.row_masks, self.col_masks = [], []
        for fn in encoder.get_data_mask_functions(False):
            rows = [bytes(1 if fm[i][j] > 1 and fn(i, j) else 0 for j in rng) for i in rng]
            cols = [bytes(r[j] for r in rows) for j in rng]
            # Zero pads: XOR with a mask leaves the pads of the symbol as they are.
            self.row_masks.append(self.to_int(rows, b"\0" * len(_PAD)))
            self.col_masks.append(self.to_int(cols, b"\0" * len(_PAD)))
        # N2: a 2x2 block whose top-left module is (i, j) is flagged at byte (i+1, j+1).
        cells = bytearray(self.length)
        for i in range(1, width):
            start = len(_PAD) + i * self.stride
            cells[start + 1:start + width] = b"\x01" * (width - 1)
        self.block_cells = int.from_bytes(cells, "big")
        self.block_count = (width - 1) ** 2
        self.ones = int.from_bytes(b"\x01" * self.length, "big")

    @staticmethod
    def to_int(lines, pad: bytes = _PAD) -> int:
        """The lines (rows or columns, bytes of 0/1) as one padded big-endian int."""
        return int.from_bytes(pad + pad.join(lines) + pad, "big")


@lru_cache(maxsize=48)
def _layout(width: int) -> _Layout:
    return _Layout(width)


def _n1(x: int, layout: _Layout) -> int:
    """Runs of 5+ same-coloured modules in a line, 3 + (length - 5) = length - 2 points each.

    A run of n modules holds n - 4 windows of 5 equal modules and has one start, so the score is
    (windows of 5) + 2 x (first windows of a run), counted with big-int bit operations."""
    ones = layout.ones
    diff = x ^ (x >> 8)                                 # at p: module p vs module p - 1
    same = ((diff | (diff >> 1)) & ones) ^ ones         # 1 where p equals p - 1
    window = same & (same >> 8) & (same >> 16) & (same >> 24)  # p - 4 .. p all equal
    first = window & ((window >> 8) ^ ones)             # ... and p - 5 .. p - 1 were not
    # Pads (0x2) differ from modules, and 4 pads alone make no window: runs stay in their line.
    return window.bit_count() + 2 * first.bit_count()


def _n3(buf: bytes) -> int:
    """segno's n3_pattern_occurrences() over all lines at once, with the same search order.

    segno counts a 1:1:3:1:1 pattern when 4 modules before *or* after it (clipped at the edge)
    are all light, then resumes the search 7 modules later (so overlapping patterns are
    skipped), else 4 modules later. The pads stand for the clipped outside of the symbol."""
    count = 0
    find = buf.find
    idx = find(_FINDER_LIKE)
    while idx != -1:
        after = idx + 7
        if 1 not in buf[idx - 4:idx] or 1 not in buf[after:after + 4]:
            count += 40
            idx = find(_FINDER_LIKE, after)
        else:
            idx = find(_FINDER_LIKE, idx + 4)
    return count


def _n2(x: int, layout: _Layout) -> int:
    """2x2 blocks of one colour, 3 points each, with big-int arithmetic over the row buffer."""
    down = 8 * layout.stride
    horizontal = x ^ (x >> 8)        # at (i, j+1): module (i, j+1) differs from (i, j)
    vertical = x ^ (x >> down)       # at (i+1, j): module (i+1, j) differs from (i, j)
    diff = horizontal | (horizontal >> down) | (vertical >> 8)
    # Bytes are 0..3: fold bit 1 onto bit 0 to get one "differs" bit per module.
    differs = (diff | (diff >> 1)) & layout.block_cells
    return 3 * (layout.block_count - differs.bit_count())


def _penalty(rows: bytes, cols: bytes, row_int: int, col_int: int, layout: _Layout) -> int:
    """encoder.evaluate_mask() of one masked symbol (format and version areas still light)."""
    width = layout.width
    dark = rows.count(1)
    # Same float expression as segno's, so ties at the 5 % steps round the same way.
    percent = float(dark) / (width ** 2)
    n4 = 10 * int(abs(percent * 100 - 50) / 5)
    return _n1(row_int, layout) + _n1(col_int, layout) + _n2(row_int, layout) + _n3(rows) + _n3(cols) + n4


def choose(matrix) -> tuple[int, tuple]:
    """(mask, masked matrix) as encoder.find_and_apply_best_mask() returns them (QR, not Micro).

    `matrix` is the symbol with codewords placed and no mask, format or version information."""
    width = len(matrix)
    layout = _layout(width)
    rows = layout.to_int([bytes(r) for r in matrix])
    cols = layout.to_int([bytes(c) for c in zip(*matrix)])
    best = best_score = best_rows = None
    for mask in range(8):
        row_int = rows ^ layout.row_masks[mask]
        row_buf = row_int.to_bytes(layout.length, "big")
        col_int = cols ^ layout.col_masks[mask]
        col_buf = col_int.to_bytes(layout.length, "big")
        score = _penalty(row_buf, col_buf, row_int, col_int, layout)
        if best_score is None or score < best_score:  # strict: the first lowest wins, as segno
            best, best_score, best_rows = mask, score, row_buf
    starts = range(len(_PAD), layout.length, layout.stride)
    return best, tuple(bytearray(best_rows[s:s + width]) for s in starts)


def encode(content: str, error: str = "m") -> encoder.Code:
    """encoder.encode(content, error, micro=False) with the mask chosen by choose().

    Mirrors encoder.encode()/_encode() for a single-segment regular QR code, default mode and
    encoding, error boosted as segno does by default."""
    error = encoder.normalize_errorlevel(error, accept_none=True)
    segments = encoder.prepare_data(content, None, None)
    version = encoder.find_version(segments, error, eci=False, micro=False)
    if error is None:
        error = consts.ERROR_LEVEL_L
    error = encoder.boost_error_level(version, error, segments, False)
    buff = encoder.Buffer()
    ver_range = encoder.version_range(version)
    for segment in segments:
        encoder.write_segment(buff, segment, None, ver_range, False)
    capacity = consts.SYMBOL_CAPACITY[version][error]
    encoder.write_terminator(buff, capacity, None, len(buff))
    encoder.write_padding_bits(buff, version, len(buff))
    encoder.write_pad_codewords(buff, version, capacity, len(buff))
    buff = encoder.make_final_message(version, error, buff)
    width = encoder.calc_matrix_size(version)
    matrix = encoder.make_matrix(width, width)
    encoder.add_finder_patterns(matrix, width, width)
    encoder.add_alignment_patterns(matrix, width, width)
    encoder.add_codewords(matrix, buff, version)
    mask, matrix = choose(matrix)
    encoder.add_format_info(matrix, version, error, mask)
    encoder.add_version_info(matrix, version)
    return encoder.Code(matrix, version, error, mask, segments)


def make_qr(content: str, error: str = "m") -> segno.QRCode:
    """segno.make_qr(content, error=error): the same symbol, built once, mask chosen fast."""
    return segno.QRCode(encode(content, error))


def best_mask(content: str, error: str = "m") -> int:
    """The mask segno.make_qr(content, error=error) chooses."""
    return encode(content, error).mask
