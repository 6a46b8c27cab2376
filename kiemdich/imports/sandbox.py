"""Read an uploaded file in a child process with bounded memory.

A crafted spreadsheet can make the reader ask for hundreds of gigabytes (a declared dimension of
XFD1048576) and the Rust reader aborts the whole process when an allocation fails. So the file is
parsed in a child with RLIMIT_AS set: a file that needs more memory kills only the child, and the
job refuses it ("too_big"). The child gets the bytes on stdin and answers with pickles on stdout:
the table's first rows and header, then the other rows in chunks as it reads them, then "end". It
dies with its parent (PR_SET_PDEATHSIG), so a killed consumer leaves no orphan reading on.

    python -m kiemdich.imports.sandbox MEMORY_MB MAX_UNZIPPED FILENAME < file > pickles
"""
import ctypes
import pickle
import resource
import signal
import subprocess
import sys

TIMEOUT = 600
CHUNK = 2000  # rows per message from the child


def check_upload(data: bytes, *, max_unzipped: int | None = None, filename: str | None = None,
                 by_content: bool = False) -> None:
    """The checks that are cheap and bounded, done in the request: an empty file, a type that is
    no spreadsheet, a name that promises another kind than the content (unless the user asked to
    read by content), a zip bomb by its declared sizes. Everything else is read by the job."""
    from .reader import MAX_UNZIPPED, FileProblem, check_archive, named_kind, sniff_kind

    if not data:
        raise FileProblem("empty")
    kind = sniff_kind(data)
    named = named_kind(filename)
    if named and named != kind and not by_content:
        raise FileProblem("mismatch", name=filename, kind=kind)
    if kind in ("xlsx", "ods"):
        check_archive(data, max_unzipped or MAX_UNZIPPED)


def parse(data: bytes, *, memory_mb: int, max_unzipped: int | None = None, filename: str | None = None):
    """(table, header) of the file, or FileProblem raised, as operations.parse_upload does. The rows
    after the header's neighbourhood stream from the child in chunks (table.more), so neither process
    ever holds the whole list; a problem met while streaming is raised from table.more."""
    from .reader import FileProblem

    args = [sys.executable, "-m", "kiemdich.imports.sandbox", str(memory_mb), str(max_unzipped or 0),
            filename or ""]
    child = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        child.stdin.write(data)  # the child reads all of its input before it writes anything
        child.stdin.close()
        kind, value = _receive(child)
    except BaseException:
        child.kill()
        child.wait()
        raise
    if kind == "problem":
        child.wait()
        raise FileProblem(value[0], **value[1])
    table, header = value
    if table.more is not None:
        table.more = _stream(child)
    else:
        _finish(child)
    return table, header


def _receive(child):
    """The child's next message; a child killed by its memory limit (MemoryError, a Rust abort,
    SIGKILL) answers nothing: the file asks too much."""
    from .reader import FileProblem

    try:
        return pickle.load(child.stdout)  # our own child's output, never the user's bytes
    except (EOFError, pickle.UnpicklingError):
        child.kill()
        child.wait()
        raise FileProblem("too_big") from None


def _stream(child):
    from .reader import FileProblem

    try:
        while True:
            kind, value = _receive(child)
            if kind == "rows":
                yield from value
            elif kind == "problem":
                raise FileProblem(value[0], **value[1])
            else:  # "end"
                break
        _finish(child)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def _finish(child) -> None:
    from .reader import FileProblem

    try:
        code = child.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        code = -1
    if code != 0:
        raise FileProblem("too_big")


def _die_with_parent() -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:  # not Linux: the timeout still bounds the orphan
        pass


def main(memory_mb: int, max_unzipped: int, filename: str) -> int:
    _die_with_parent()
    data = sys.stdin.buffer.read()
    from .header import parse_upload  # not via operations: its imports (the models, SQLAlchemy) cost 0.8 s
    from .reader import FileProblem

    limit = memory_mb * 2**20  # set once the code is loaded: it bounds what the file makes us allocate
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    out = sys.stdout.buffer
    try:
        # The request refused a name that lies about the content unless the user chose to read by
        # content, so here the content decides; the table notes what the name promised.
        table, header = parse_upload(data, max_unzipped=max_unzipped or None, filename=filename or None,
                                     by_content=True)
        del data
        more, table.more = table.more, None
        if more is not None:
            table.more = True  # tells the parent that rows follow
        pickle.dump(("ok", (table, header)), out, protocol=pickle.HIGHEST_PROTOCOL)
        chunk = []
        for cells in more or ():
            chunk.append(cells)
            if len(chunk) >= CHUNK:
                pickle.dump(("rows", chunk), out, protocol=pickle.HIGHEST_PROTOCOL)
                chunk = []
        if chunk:
            pickle.dump(("rows", chunk), out, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.dump(("end", None), out, protocol=pickle.HIGHEST_PROTOCOL)
    except FileProblem as problem:
        pickle.dump(("problem", (problem.code, problem.params)), out, protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        return 3
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else ""))
