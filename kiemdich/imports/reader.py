"""Reading an uploaded file into rows of cells: .xlsx, .xls, .ods with python-calamine, .csv sniffed.

The file's content decides how it is read, never its name: a renamed file gets the same clear
message as any other file that is not a spreadsheet.
"""
import codecs
import csv
import io
import re
import zipfile
from zlib import error as zlib_error
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and Office files encrypted with a password
ZIP = b"PK\x03\x04"
ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
MAX_UNZIPPED = 400 * 1024 * 1024  # default ceiling on what a .xlsx/.ods may expand to
MAX_RATIO = 1000  # deflate tops out near 1000:1; more means a crafted archive
# A list's sheet XML compresses about 10:1 (a generated 100,000-row list: 66 MB in 6.4 MB). A large
# member far more compressible than that is padding, not people: refused before it costs memory.
LARGE_MEMBER = 20 * 1024 * 1024
MAX_LIST_RATIO = 100
# The reader allocates the sheet's whole rectangle (rows x columns), wherever its cells lie or whatever
# size it declares: 6 million cells is 200,000 rows of 30 columns, far beyond any list of passages.
MAX_CELLS = 6_000_000
HEAD_ROWS = 40  # rows read before the header is found; the rest are streamed


class FileProblem(ValueError):
    """A file that cannot be imported at all; .code names the message (PROBLEMS) shown to the user."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params

    @property
    def message(self) -> str:
        text = PROBLEMS.get(self.code, PROBLEMS["corrupt"])
        if self.code == "too_many_cells":
            return str(text) % {"rows": f"{self.params['rows']:,}".replace(",", "."),
                                "columns": f"{self.params['columns']:,}".replace(",", ".")}
        if self.code == "mismatch":
            return str(text) % {"name": self.params.get("name", ""), "kind": str(KINDS[self.params["kind"]])}
        return str(text)


NOT_SPREADSHEET = _l("This file is not a spreadsheet. Upload an Excel (.xlsx, .xls), "
                     "OpenDocument (.ods) or CSV file.")
ENCRYPTED = _l("This workbook is protected by a password. Remove the password in Excel "
               "(File > Info > Protect Workbook), save, and upload it again.")
CORRUPT = _l("The workbook is damaged and cannot be read. Open it in Excel, save it again "
             "and upload the new copy.")
TOO_BIG = _l("The file expands to far more data than a list of people can hold; it was refused.")
TOO_MANY_CELLS = _l("The sheet declares %(rows)s rows by %(columns)s columns, far more than a list of people "
                    "can hold; it was refused. Copy the list alone into a new workbook and upload that.")
EMPTY = _l("The first sheet of the file is empty.")
FORMULAS_ONLY = _l("The sheet only holds formulas whose results were never saved. Open the file "
                   "in Excel, save it, and upload it again.")
NO_COLUMNS = _l("No column of the header was recognised (for example \"Họ và tên\", \"Số CCCD\", "
                "\"Nơi đến\"). Check that the first sheet holds the list, with one header row.")
MISMATCH = _l("The file is named “%(name)s” but it holds %(kind)s. Rename it with the right extension, or "
              "tick “Read the file by its content” and upload it again.")
KINDS = {"xlsx": _l("an Excel workbook (.xlsx)"), "xls": _l("an Excel 97-2003 workbook (.xls)"),
         "ods": _l("an OpenDocument spreadsheet (.ods)"), "csv": _l("CSV text (.csv)")}
# What each extension promises; a file may be read by its content instead only when the user says so.
EXTENSION_KINDS = {".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls", ".ods": "ods", ".csv": "csv", ".txt": "csv"}
PROBLEMS = {"too_many_cells": TOO_MANY_CELLS, "mismatch": MISMATCH, "not_spreadsheet": NOT_SPREADSHEET, "encrypted": ENCRYPTED, "corrupt": CORRUPT,
            "too_big": TOO_BIG, "empty": EMPTY, "formulas_only": FORMULAS_ONLY, "no_columns": NO_COLUMNS}


@dataclass
class Table:
    """The first sheet: its first rows (rows, where the header is looked for), then the others
    streamed once from `more`, with the sheet row number of each row."""

    rows: list[list]
    first_row_number: int = 1  # the spreadsheet's number of rows[0]
    kind: str = "xlsx"
    merged: list = field(default_factory=list)
    more: object = None  # an iterator over the rows after `rows` (None: rows is the whole sheet)
    height: int | None = None  # rows in the sheet from rows[0] on, when the reader knows (progress bars)

    def rows_from(self, index: int):
        """(index, cells) of every row from rows[index] on, streaming the rest of the sheet once."""
        for i in range(index, len(self.rows)):
            yield i, self.rows[i]
        if self.more is not None:
            more, self.more = self.more, None
            for i, cells in enumerate(more, start=len(self.rows)):
                if i >= index:
                    yield i, cells
    named: str | None = None  # the kind the file's name promised, when it was read by its content instead

    def row_number(self, index: int) -> int:
        return self.first_row_number + index


def sniff_kind(data: bytes) -> str:
    """'xlsx', 'ods', 'xls' or 'csv' from the bytes; FileProblem when none fits."""
    if data.startswith(ZIP):
        try:
            names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
        except (zipfile.BadZipFile, ValueError):
            raise FileProblem("corrupt") from None
        if "xl/workbook.xml" in names:
            return "xlsx"
        if "content.xml" in names and "mimetype" in names:
            return "ods"
        raise FileProblem("not_spreadsheet")
    if data.startswith(OLE2):
        if ENCRYPTED_STREAM in data:
            raise FileProblem("encrypted")
        return "xls"
    return "csv"


def check_archive(data: bytes, limit: int = MAX_UNZIPPED) -> None:
    """Refuse a zip bomb by its declared sizes, before anything is decompressed."""
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError):
        raise FileProblem("corrupt") from None
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > 1_000_000 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise FileProblem("too_big")
        if info.file_size > LARGE_MEMBER and info.file_size > MAX_LIST_RATIO * max(info.compress_size, 1):
            raise FileProblem("too_big")
    if total > limit:
        raise FileProblem("too_big")


_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="\$?([A-Z]{1,3})\$?(\d+)(?::\$?([A-Z]{1,3})\$?(\d+))?"')
# What these two find is <(?:\w+:)?row\b[^>]*?\sr="(\d+)" and \sr="([A-Z]{2,3})\d; each pattern starts with a
# literal so the scan of a 70 MB sheet takes a second instead of seven, and _rows/_wide check the
# characters before a match (_rows: "<" or "<prefix:"; _wide: whitespace).
_ROW = re.compile(rb'row\b[^>]*?\sr="(\d+)"')
_WIDE = re.compile(rb'r="([A-Z]{2,3})\d')
_NAMESPACE = re.compile(rb"\w+:")
_SPACE = frozenset(b" \t\n\r\f\v")


def _rows(text: bytes):
    for match in _ROW.finditer(text):
        start = match.start()
        if text[start - 1:start] == b"<":
            yield match
            continue
        lt = text.rfind(b"<", max(0, start - 256), start)
        if lt >= 0 and _NAMESPACE.fullmatch(text, lt + 1, start):
            yield match


def _wide(text: bytes):
    for match in _WIDE.finditer(text):
        start = match.start()
        if start > 0 and text[start - 1] in _SPACE:
            yield match


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


def check_dimensions(data: bytes, limit: int = MAX_CELLS) -> None:
    """Refuse a .xlsx whose first sheet spans more cells than a list can, by its declared dimension
    or by where its rows and cells lie, reading the XML in bounded chunks (nothing is allocated)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        sheets = sorted(n for n in archive.namelist() if n.startswith("xl/worksheets/sheet"))
        if not sheets:
            return
        rows = columns = 0
        with archive.open(sheets[0]) as f:
            tail = b""
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                text = tail + chunk
                if not rows and not columns and (found := _DIMENSION.search(text)):
                    last_col, last_row = (found.group(3), found.group(4)) if found.group(3) else found.group(1, 2)
                    rows, columns = int(last_row), _column_number(last_col)
                    if rows * columns > limit:
                        raise FileProblem("too_many_cells", rows=rows, columns=columns)
                for match in _rows(text):
                    rows = max(rows, int(match.group(1)))
                for match in _wide(text):
                    columns = max(columns, _column_number(match.group(1)))
                columns = max(columns, 26 if rows else 0)  # single-letter columns: at most Z
                if rows * columns > limit:
                    raise FileProblem("too_many_cells", rows=rows, columns=columns)
                tail = chunk[-64:]
    except FileProblem:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError, zlib_error):
        raise FileProblem("corrupt") from None


def has_formulas(data: bytes) -> bool:
    """Whether the first worksheet of a .xlsx holds formulas (read in bounded chunks)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        sheets = sorted(n for n in archive.namelist() if n.startswith("xl/worksheets/sheet"))
        if not sheets:
            return False
        with archive.open(sheets[0]) as f:
            tail = b""
            for _ in range(64):  # at most 64 MB
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                if re.search(rb"<f[ >]", tail + chunk):
                    return True
                tail = chunk[-8:]
    except (zipfile.BadZipFile, KeyError, ValueError):
        return False
    return False


def read_workbook(data: bytes, kind: str) -> Table:
    """The first sheet of a workbook through python-calamine."""
    import python_calamine as pc

    try:
        book = pc.CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheet = book.get_sheet_by_index(0)
        merged = list(sheet.merged_cell_ranges or []) if kind == "xlsx" else []
        # Rows are made into Python lists as they are used (a 100,000-row list never exists at once);
        # iter_rows counts from the sheet's first row, so row numbers are the sheet's own.
        more = iter(sheet.iter_rows())
        skip = (sheet.start or (0, 0))[0]
        for _ in range(skip):  # the empty rows above the sheet's first cell
            next(more, None)
        rows = []
        for cells in more:
            rows.append(cells)
            if len(rows) >= HEAD_ROWS:
                break
        else:
            more = None  # the whole sheet is in rows
    except pc.PasswordError:
        raise FileProblem("encrypted") from None
    except (pc.CalamineError, pc.ZipError, pc.XmlError, pc.WorksheetNotFound, IndexError, ValueError):
        raise FileProblem("corrupt") from None
    except Exception as err:  # calamine raises plain errors for some damaged parts
        if "password" in str(err).lower() or "encrypt" in str(err).lower():
            raise FileProblem("encrypted") from None
        raise FileProblem("corrupt") from None
    table = Table(rows=rows, first_row_number=skip + 1, kind=kind, merged=merged, more=more,
                  height=getattr(sheet, "height", None))
    if not any(_filled(row) for row in rows):
        if kind == "xlsx" and has_formulas(data):
            raise FileProblem("formulas_only")
        raise FileProblem("empty")
    return table


def _filled(row) -> bool:
    return any(cell not in ("", None) and str(cell).strip() for cell in row)


_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f]")


def decode_text(data: bytes) -> str:
    """Text of a CSV file: UTF-8 with or without BOM, UTF-16 (BOM or not), else Windows-1258."""
    if data.startswith(codecs.BOM_UTF8):
        return _strict(data[3:], "utf-8")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _strict(data, "utf-16")
    head = data[:4000]
    if head and head.count(b"\x00") > len(head) // 4:  # UTF-16 without a BOM: every other byte is 0
        even_zeros = head[0::2].count(0)
        return _strict(data, "utf-16-be" if even_zeros > len(head) // 4 else "utf-16-le")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1258")  # Vietnamese Windows code page, still found in old exports
        except UnicodeDecodeError:
            raise FileProblem("not_spreadsheet") from None
    if _CONTROL.search(text[:100_000]):
        raise FileProblem("not_spreadsheet")
    return text


def _strict(data: bytes, encoding: str) -> str:
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        raise FileProblem("not_spreadsheet") from None
    text = text.lstrip("\ufeff")
    if _CONTROL.search(text[:100_000]):
        raise FileProblem("not_spreadsheet")
    return text


def sniff_delimiter(sample: str) -> str:
    """Comma, semicolon, tab or pipe: the one that splits the most lines into the same, largest number
    of columns. (csv.Sniffer prefers the comma whenever it is consistent, so a semicolon file from a
    Vietnamese Excel, whose "Nơi đến (xã, tỉnh)" and addresses hold one comma per line, was split on
    the commas into two columns.)"""
    lines = [line for line in sample.splitlines()[:50] if line.strip()]
    best, best_score = ",", 0
    for delimiter in ",;\t|":
        try:
            widths = [len(row) for row in csv.reader(lines, delimiter=delimiter) if len(row) > 1]
        except csv.Error:  # e.g. a cell over the csv module's field size limit: read_csv will say so
            continue
        if not widths:
            continue
        common = max(sorted(set(widths)), key=widths.count)
        score = common * widths.count(common)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def read_csv(data: bytes) -> Table:
    """Rows of a CSV file, delimiter and encoding detected."""
    text = decode_text(data)
    if not text.strip():
        raise FileProblem("empty")
    delimiter = sniff_delimiter(text[:65536])
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error:
        raise FileProblem("corrupt") from None
    if not any(_filled(row) for row in rows):
        raise FileProblem("empty")
    return Table(rows=rows, kind="csv", height=len(rows))


def named_kind(filename: str | None) -> str | None:
    """The kind a file's extension promises (None: no extension we know)."""
    name = (filename or "").lower()
    return next((kind for ext, kind in EXTENSION_KINDS.items() if name.endswith(ext)), None)


def read_table(data: bytes, *, max_unzipped: int = MAX_UNZIPPED, filename: str | None = None,
               by_content: bool = False) -> Table:
    """The first sheet of any supported file; FileProblem with one clear message otherwise. A file
    whose content is another kind than its extension says (a CSV renamed .xlsx) is refused with what it
    really is, unless the user chose to read files by their content."""
    if not data:
        raise FileProblem("empty")
    kind = sniff_kind(data)
    if kind in ("xlsx", "ods"):
        check_archive(data, max_unzipped)
    if kind == "xlsx":
        check_dimensions(data)
    table = read_csv(data) if kind == "csv" else read_workbook(data, kind)
    named = named_kind(filename)
    if named and named != kind:
        if not by_content:
            raise FileProblem("mismatch", name=filename, kind=kind)
        table.named = named
    return table
