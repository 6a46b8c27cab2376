"""segno.make_qr()'s QR code, data mask chosen exactly as segno 1.6 does, ~6x faster overall.

segno applies each of the 8 masks module by module in Python and scores each with
encoder.mask_scores() (also module by module): ~12 ms of the ~15 ms of a version 10-11 code.
Here the symbol is a bytes buffer (one byte per module, rows and columns), a mask is one big-int
XOR and each penalty rule is a few big-int bit operations. The scoring reproduces segno's, quirks
included (see _n3); tests/test_qrmask.py compares the result with segno.make_qr().
"""
import operator
from functools import lru_cache

import segno
from segno import consts, encoder

# Between and around the lines (rows or columns) of a buffer: 4 modules neither dark nor light.
# They end runs (N1), count as light for the finder-like rule (N3: segno clips its 4-module
# windows at the symbol's edge, i.e. treats the outside as light) and never make a 2x2 block
# with modules (N2).
_PAD = 4
_PAD_VALUE = 2
_FINDER_LIKE = b"\x01\x00\x01\x01\x01\x00\x01"


class _Layout:
    """Per version: where each module comes from in the final message, and the 8 masks."""
    __slots__ = ("width", "stride", "length", "bits", "row_perm", "col_perm", "row_masks",
                 "col_masks", "ones", "block_cells", "block_count")

    def __init__(self, version: int):
        width = self.width = encoder.calc_matrix_size(version)
        self.stride = width + _PAD
        self.length = _PAD + width * self.stride
        # The function patterns exactly as segno's _encode() draws them before the codewords.
        # Placing markers (3, 4, ...) instead of bits with segno's own add_codewords() gives the
        # module of each message bit without re-implementing the zigzag.
        matrix = [list(row) for row in encoder.make_matrix(width, width)]
        encoder.add_finder_patterns(matrix, width, width)
        encoder.add_alignment_patterns(matrix, width, width)
        # segno masks the modules still unset here (0x2), except the dark module's place.
        region = [[v == 0x2 for v in row] for row in matrix]
        region[-8][8] = False
        self.bits = bits = sum(row.count(0x2) for row in matrix)  # the message fills them all
        encoder.add_codewords(matrix, range(3, 3 + bits), version)
        # Index into message bits + b"\0\1\2": a bit, or a constant module, or a pad.
        src = [[v - 3 if v >= 3 else bits + v for v in row] for row in matrix]
        rng = range(width)
        self.row_perm = operator.itemgetter(*self._lines(src, bits + _PAD_VALUE))
        self.col_perm = operator.itemgetter(
            *self._lines([[src[i][j] for i in rng] for j in rng], bits + _PAD_VALUE))
        self.row_masks, self.col_masks = [], []
        for fn in encoder.get_data_mask_functions(False):
            rows = [[1 if region[i][j] and fn(i, j) else 0 for j in rng] for i in rng]
            cols = [[rows[i][j] for i in rng] for j in rng]
            # Zero pads: XOR with a mask leaves the pads as they are.
            self.row_masks.append(int.from_bytes(bytes(self._lines(rows, 0)), "big"))
            self.col_masks.append(int.from_bytes(bytes(self._lines(cols, 0)), "big"))
        self.ones = int.from_bytes(b"\x01" * self.length, "big")
        # N2: a 2x2 block whose top-left module is (i, j) is flagged at (i + 1, j + 1).
        cells = bytearray(self.length)
        for i in range(1, width):
            start = _PAD + i * self.stride
            cells[start + 1:start + width] = b"\x01" * (width - 1)
        self.block_cells = int.from_bytes(cells, "big")
        self.block_count = (width - 1) ** 2

    @staticmethod
    def _lines(lines, pad):
        """The lines one after the other, with `pad` x _PAD before, between and after them."""
        out = [pad] * _PAD
        for line in lines:
            out += line
            out += [pad] * _PAD
        return out


@lru_cache(maxsize=41)
def _layout(version: int) -> _Layout:
    """Built once per version and process (~6 ms, about one segno mask choice)."""
    return _Layout(version)


def _n1(x: int, ones: int) -> int:
    """Runs of 5+ same-coloured modules in a line, 3 + (length - 5) = length - 2 points each.

    A run of n modules holds n - 4 windows of 5 equal modules and has one first window, so the
    score is windows + 2 x first windows. Pads differ from modules and 4 pads make no window,
    so runs stay in their line."""
    diff = x ^ (x >> 8)                                 # at p: module p vs module p - 1
    same = ((diff | (diff >> 1)) & ones) ^ ones         # 1 where p equals p - 1
    window = same & (same >> 8) & (same >> 16) & (same >> 24)  # p - 4 .. p all equal
    first = window & ((window >> 8) ^ ones)             # ... and p - 5 .. p - 1 were not
    return window.bit_count() + 2 * first.bit_count()


def _n2(x: int, layout: _Layout) -> int:
    """2x2 blocks of one colour, 3 points each, over the row buffer."""
    down = 8 * layout.stride
    horizontal = x ^ (x >> 8)        # at (i, j + 1): module (i, j + 1) differs from (i, j)
    vertical = x ^ (x >> down)       # at (i + 1, j): module (i + 1, j) differs from (i, j)
    diff = horizontal | (horizontal >> down) | (vertical >> 8)
    # Bytes are 0..3: fold bit 1 onto bit 0 to get one "differs" bit per block.
    differs = (diff | (diff >> 1)) & layout.block_cells
    return 3 * (layout.block_count - differs.bit_count())


def _n3(x: int, dark: int, ones: int) -> int:
    """segno's n3_pattern_occurrences() over all lines of a buffer at once.

    segno counts a dark-light-dark-dark-dark-light-dark pattern when the 4 modules before *or*
    after it (clipped at the edge) have no dark one, then resumes its search 7 modules later
    (skipping an overlapping pattern), else 4 modules later. The pattern overlaps itself only
    at a distance of 4 or 6, so a pattern is skipped iff the one just before it, 4 or 6 back,
    was visited and counted. When such a predecessor itself has one, the order of visits
    matters: then the sequential search (_n3_search) decides."""
    light = ((x | (x >> 1)) & ones) ^ ones              # modules 0x0 (pads are not)
    # At p: the pattern ends at p.
    found = (dark & (light >> 8) & (dark >> 16) & (dark >> 24) & (dark >> 32) & (light >> 40)
             & (dark >> 48))
    if not found:
        return 0
    behind = (found >> 32) | (found >> 48)              # a pattern ends 4 or 6 before p
    chained = found & behind
    if chained & ((chained >> 32) | (chained >> 48)):
        return _n3_search(x)
    not_dark = dark ^ ones
    quiet = not_dark & (not_dark >> 8) & (not_dark >> 16) & (not_dark >> 24)  # p - 3 .. p
    counted = found & ((quiet >> 56) | (quiet << 32))   # p - 10 .. p - 7 or p + 1 .. p + 4
    skipped = ((counted >> 32) | (counted >> 48)) & found
    return 40 * (counted & ~skipped).bit_count()


def _n3_search(x: int) -> int:
    """_n3 the way segno searches (bytes.find), for buffers with chains of overlapping patterns."""
    buf = x.to_bytes((x.bit_length() + 7) // 8, "big")
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


def _penalty(rows: int, cols: int, layout: _Layout) -> int:
    """encoder.evaluate_mask() of one masked symbol (format and version areas still light)."""
    ones = layout.ones
    row_dark = rows & ones
    width = layout.width
    # Same float expression as segno's, so values at the 5 % steps round the same way.
    percent = float(row_dark.bit_count()) / (width ** 2)
    n4 = 10 * int(abs(percent * 100 - 50) / 5)
    return (_n1(rows, ones) + _n1(cols, ones) + _n2(rows, layout)
            + _n3(rows, row_dark, ones) + _n3(cols, cols & ones, ones) + n4)


def _buffers(message: bytes, version: int) -> tuple[_Layout, int, int]:
    """The unmasked symbol of a final message (segno's Buffer bits) as row and column buffers."""
    layout = _layout(version)
    if len(message) != layout.bits:  # another segno than the one _Layout was checked against
        raise ValueError(f"{len(message)} message bits for {layout.bits} data modules")
    src = message + b"\x00\x01\x02"
    rows = int.from_bytes(bytes(layout.row_perm(src)), "big")
    cols = int.from_bytes(bytes(layout.col_perm(src)), "big")
    return layout, rows, cols


def _penalties(layout: _Layout, rows: int, cols: int) -> list[int]:
    return [_penalty(rows ^ row_mask, cols ^ col_mask, layout)
            for row_mask, col_mask in zip(layout.row_masks, layout.col_masks)]


def penalties(message: bytes, version: int) -> list[int]:
    """encoder.evaluate_mask() of the symbol under each of the 8 masks."""
    return _penalties(*_buffers(message, version))


def _masked_matrix(message: bytes, version: int) -> tuple[int, tuple]:
    """(mask, masked matrix) as _encode() gets them from find_and_apply_best_mask()."""
    layout, rows, cols = _buffers(message, version)
    scores = _penalties(layout, rows, cols)
    best = scores.index(min(scores))  # the first lowest, as segno's strict "<" keeps
    buf = (rows ^ layout.row_masks[best]).to_bytes(layout.length, "big")
    width = layout.width
    starts = range(_PAD, layout.length, layout.stride)
    return best, tuple(bytearray(buf[s:s + width]) for s in starts)


def message(content: str, error: str = "m") -> tuple[int, int, encoder.Segments, bytes]:
    """(version, error level, segments, final message bits) as encoder.encode() computes them.

    Mirrors encoder.encode() and _encode() for one regular QR code: default mode, encoding and
    version, error level boosted as segno does by default."""
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
    bits = bytes(encoder.make_final_message(version, error, buff).getbits())
    return version, error, segments, bits


def encode(content: str, error: str = "m") -> encoder.Code:
    """encoder.encode(content, error, micro=False), the mask chosen fast."""
    version, error, segments, bits = message(content, error)
    mask, matrix = _masked_matrix(bits, version)
    encoder.add_format_info(matrix, version, error, mask)
    encoder.add_version_info(matrix, version)
    return encoder.Code(matrix, version, error, mask, segments)


def make_qr(content: str, error: str = "m") -> segno.QRCode:
    """segno.make_qr(content, error=error): the same symbol, built faster."""
    return segno.QRCode(encode(content, error))


def best_mask(content: str, error: str = "m") -> int:
    """The mask segno.make_qr(content, error=error) chooses."""
    return encode(content, error).mask
