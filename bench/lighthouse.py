"""Bench: Lighthouse 12.2.3 (mobile, simulated slow 4G) on the four pages a phone opens most:
the declaration page (/c/<checkpoint code>), the traveller's status page (personal link
/q#<token>), the scan screen (/chot/quet, checkpoint staff) and the commune home (/xa, commune
officer). Prints the performance, accessibility and best-practices scores and the bytes
transferred, against the budgets (scores >= 95, first load <= 60 KB).

The app runs under gunicorn on 127.0.0.1 with the demo data (`flask kiemdich demo`) in a
temporary instance folder (SQLite, or BENCH_DATABASE_URL: its public schema is dropped).
Signed-in pages get the session cookie of a sign-in made first, sent with Lighthouse's
--extra-headers. Chromium is Debian's /usr/bin/chromium. Lighthouse is installed apart from the
app, from bench/lighthouse/package.json + lock (`npm ci --prefix bench/lighthouse`, done here
when missing), so it never enters the app's runtime install.

    .venv/bin/python bench/lighthouse.py [--runs 3] [--page declaration] [--keep-reports DIR]

"first load" counts what Lighthouse saw the page fetch (document, CSS, scripts, icons, manifest,
the fetches its scripts make: bytes on the wire, headers included). "+background" is what the
server's access log shows on top of that during the run: the service worker installing itself
and precaching for offline use, which the page does not wait for (bodies only).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import ROOT, Client, bench_app, database_url, fresh_database, gunicorn, server_env, stop  # noqa: E402

LIGHTHOUSE_DIR = ROOT / "bench" / "lighthouse"
LIGHTHOUSE = LIGHTHOUSE_DIR / "node_modules" / ".bin" / "lighthouse"
CHROMIUM = "/usr/bin/chromium"
CHROME_FLAGS = ("--headless=new --no-sandbox --disable-gpu --disable-background-networking "
                "--disable-component-update --disable-sync --no-first-run")
CATEGORIES = ("performance", "accessibility", "best-practices")
BUDGET_SCORE, BUDGET_BYTES = 95, 60 * 1024


def prepare(url: str, instance: str) -> dict:
    """Demo data in a fresh database; returns the accounts, a checkpoint code and a personal token."""
    from sqlalchemy import select

    from kiemdich import clock
    from kiemdich.declarations import operations as declarations
    from kiemdich.demo import DEMO_COMMUNE, load_demo
    from kiemdich.extensions import db
    from kiemdich.models import Checkpoint, Declaration, Passage, User, UserCheckpoint

    app = bench_app(url, instance)
    with app.app_context():
        fresh_database()
        accounts = {role: (name, password) for name, password, role in load_demo(Path(instance))}
        db.session.commit()
        staff = db.session.scalar(select(User).where(User.username == accounts["checkpoint"][0]))
        checkpoint = db.session.scalar(select(Checkpoint).join(UserCheckpoint).where(
            UserCheckpoint.user_id == staff.id).order_by(Checkpoint.id).limit(1))
        # A traveller who declared today and has not passed yet: the page shows the personal QR.
        now = clock.utcnow()
        decl = db.session.scalar(select(Declaration).where(
            Declaration.valid_until > now + timedelta(hours=24), Declaration.dest_commune_code == DEMO_COMMUNE,
            ~Declaration.passages.any(Passage.id.isnot(None))).order_by(Declaration.id).limit(1))
        token = declarations.token_for(decl)
        db.engine.dispose()
    return {"accounts": accounts, "checkpoint": checkpoint.code, "token": token}


def ensure_lighthouse() -> None:
    if not LIGHTHOUSE.exists():
        subprocess.run(["npm", "ci", "--prefix", str(LIGHTHOUSE_DIR), "--no-audit", "--no-fund", "--loglevel=error"],
                       check=True)


def lighthouse(url: str, out: Path, cookie: str = "") -> dict:
    """One Lighthouse run; returns its JSON report."""
    cmd = [str(LIGHTHOUSE), url, f"--chrome-path={CHROMIUM}", f"--chrome-flags={CHROME_FLAGS}",
           "--form-factor=mobile", "--screenEmulation.mobile", "--throttling-method=simulate",
           f"--only-categories={','.join(CATEGORIES)}", "--output=json", f"--output-path={out}", "--quiet",
           # Its back/forward test loads the page a second time (pages are no-store by design: they
           # carry personal data), which would count twice in the server's log; it weighs nothing.
           "--skip-audits=bf-cache"]
    if cookie:
        cmd.append("--extra-headers=" + json.dumps({"Cookie": cookie}))
    subprocess.run(cmd, check=True, timeout=300, env=dict(os.environ, CHROME_PATH=CHROMIUM))
    return json.loads(out.read_text())


def transferred(report: dict) -> tuple[int, list]:
    """(first-load bytes of the page, rows of its requests) as Lighthouse saw them."""
    rows = [(item.get("transferSize") or 0, item.get("resourceType", ""), item["url"])
            for item in report["audits"]["network-requests"]["details"]["items"]]
    return sum(r[0] for r in rows), rows


def background(log: Path, offset: int, rows: list) -> tuple[int, list]:
    """Body bytes the server sent after `offset` in its access log for requests Lighthouse did not
    record (the service worker's): (bytes, [(bytes, status, path)])."""
    seen = {}
    for _size, _kind, url in rows:
        path = "/" + url.split("/", 3)[-1] if url.startswith("http") else None
        if path:
            seen[path] = seen.get(path, 0) + 1
    extra = []
    with log.open() as f:
        f.seek(offset)
        for line in f:
            parts = line.split()  # METHOD PATH PROTOCOL STATUS BYTES
            if len(parts) != 5:
                continue
            path, status, size = parts[1], parts[3], int(parts[4]) if parts[4].isdigit() else 0
            if seen.get(path):
                seen[path] -= 1
            else:
                extra.append((size, status, path))
    return sum(e[0] for e in extra), extra


def failing(report: dict, category: str) -> list[str]:
    """The audits of a category that did not pass (weight > 0), for the fixing."""
    out = []
    for ref in report["categories"][category]["auditRefs"]:
        audit = report["audits"][ref["id"]]
        if ref.get("weight", 0) > 0 and audit.get("score") is not None and audit["score"] < 0.9:
            out.append(f"{ref['id']} ({audit['score']:.2f}: {audit.get('displayValue', '')})".replace(": )", ")"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="Lighthouse runs per page (median score)")
    parser.add_argument("--page", action="append", help="only this page (declaration, status, scan, commune)")
    parser.add_argument("--keep-reports", help="folder to keep the JSON reports in")
    parser.add_argument("--verbose", action="store_true", help="list every request and the failing audits")
    args = parser.parse_args()
    ensure_lighthouse()

    tmp = Path(tempfile.mkdtemp(prefix="kd-bench-lh-"))
    instance = tmp / "instance"
    instance.mkdir()
    url = database_url(tmp=tmp)
    data = prepare(url, str(instance))
    log = tmp / "access.log"
    proc, port = gunicorn("app:app", server_env(url, str(instance)), args=(
        f"--access-logfile={log}", "--access-logformat=%(r)s %(s)s %(B)s", "--no-sendfile"))  # sendfile: no size logged
    base = f"http://127.0.0.1:{port}"
    cookies = {}
    for role in ("checkpoint", "commune"):
        client = Client(port)
        client.sign_in(*data["accounts"][role])
        cookies[role] = client.cookie
    pages = {"declaration": (f"/c/{data['checkpoint']}", ""), "status": (f"/q#{data['token']}", ""),
             "scan": ("/chot/quet", cookies["checkpoint"]), "commune": ("/xa", cookies["commune"])}
    reports = Path(args.keep_reports) if args.keep_reports else tmp / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    lines, ok = [], True
    try:
        for name, (path, cookie) in pages.items():
            if args.page and name not in args.page:
                continue
            runs = []
            for n in range(args.runs):
                offset = log.stat().st_size if log.exists() else 0
                runs.append(lighthouse(base + path, reports / f"{name}-{n + 1}.json", cookie))
                if n == 0:
                    page_bytes, rows = transferred(runs[0])
                    sw_bytes, extra = background(log, offset, rows)
            scores = {c: statistics.median(round(r["categories"][c]["score"] * 100) for r in runs) for c in CATEGORIES}
            good = (scores["performance"] >= BUDGET_SCORE and scores["accessibility"] >= BUDGET_SCORE
                    and page_bytes <= BUDGET_BYTES)
            ok &= good
            lines.append(f"  {name:<12} perf {scores['performance']:>3.0f}  a11y {scores['accessibility']:>3.0f}  "
                         f"best {scores['best-practices']:>3.0f}  first load {page_bytes / 1024:5.1f} KB "
                         f"(+background {sw_bytes / 1024:4.1f} KB)  {'OK' if good else 'BELOW BUDGET'}  "
                         f"perf runs {[round(r['categories']['performance']['score'] * 100) for r in runs]}  {path[:40]}")
            if args.verbose:
                for size, kind, req in rows:
                    print(f"    {size:>7,} {kind:<11} {req[:100]}")
                for size, status, req in extra:
                    print(f"    {size:>7,} background  {status} {req[:100]}")
                for c in CATEGORIES:
                    bad = failing(runs[0], c)
                    if bad:
                        print(f"    {c}: " + "; ".join(bad))
            print(lines[-1], flush=True)
    finally:
        stop(proc)
    print(f"\nLighthouse 12.2.3, mobile, simulated slow 4G (150 ms RTT, 1.6 Mbit/s, CPU x4), Chromium "
          f"{subprocess.run([CHROMIUM, '--version'], capture_output=True, text=True).stdout.split()[1]}, "
          f"median of {args.runs} run(s); budgets: performance and accessibility >= {BUDGET_SCORE}, "
          f"first load <= {BUDGET_BYTES // 1024} KB")
    print("\n".join(lines))
    print(f"reports: {reports}")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
