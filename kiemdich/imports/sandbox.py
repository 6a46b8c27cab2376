"""Read an uploaded file in a child process with bounded memory.

A crafted spreadsheet can make the reader ask for hundreds of gigabytes (a declared dimension of
XFD1048576) and the Rust reader aborts the whole process when an allocation fails. So the file is
parsed in a child with RLIMIT_AS set: a file that needs more memory kills only the child, and the
job refuses it ("too_big"). The child gets the bytes on stdin and answers with a pickle on stdout;
it dies with its parent (PR_SET_PDEATHSIG), so a killed consumer leaves no orphan reading on.

    python -m kiemdich.imports.sandbox MEMORY_MB MAX_UNZIPPED < file > pickle
"""
import ctypes
import pickle
import resource
import signal
import subprocess
import sys

TIMEOUT = 600


def check_upload(data: bytes, *, max_unzipped: int | None = None) -> None:
    """The checks that are cheap and bounded, done in the request: an empty file, a type that is
    no spreadsheet, a zip bomb by its declared sizes. Everything else is read by the job."""
    from .reader import MAX_UNZIPPED, FileProblem, check_archive, sniff_kind

    if not data:
        raise FileProblem("empty")
    if sniff_kind(data) in ("xlsx", "ods"):
        check_archive(data, max_unzipped or MAX_UNZIPPED)


def parse(data: bytes, *, memory_mb: int, max_unzipped: int | None = None):
    """(table, header) of the file, or FileProblem raised, as operations.parse_upload does."""
    from .reader import FileProblem

    args = [sys.executable, "-m", "kiemdich.imports.sandbox", str(memory_mb), str(max_unzipped or 0)]
    try:
        done = subprocess.run(args, input=data, capture_output=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired as err:
        raise FileProblem("too_big") from err
    if done.returncode != 0 or not done.stdout:
        # Killed by the memory limit (MemoryError, a Rust abort, SIGKILL): the file asks too much.
        raise FileProblem("too_big")
    kind, value = pickle.loads(done.stdout)  # our own child's output, never the user's bytes
    if kind == "problem":
        raise FileProblem(value)
    return value


def _die_with_parent() -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:  # not Linux: the timeout still bounds the orphan
        pass


def main(memory_mb: int, max_unzipped: int) -> int:
    _die_with_parent()
    data = sys.stdin.buffer.read()
    from .operations import parse_upload
    from .reader import FileProblem

    limit = memory_mb * 2**20  # set once the code is loaded: it bounds what the file makes us allocate
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    try:
        result = ("ok", parse_upload(data, max_unzipped=max_unzipped or None))
    except FileProblem as problem:
        result = ("problem", problem.code)
    except MemoryError:
        return 3
    sys.stdout.buffer.write(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2])))
