#!/usr/bin/env python3
"""`make mutants`: one-line mutations of the critical conditions, each applied alone to a scratch
copy of the tree, running only the tests that should catch it. Prints the kill rate and every
survivor; exits 1 when a mutant survives, 2 when an original line no longer matches (code moved:
re-anchor the entry below).

Each entry is (id, file, original, replacement, tests, backend):
- `original` is an exact substring of the file, found exactly once; it may span lines to make a
  short anchor unique, but the change itself is one line.
- `tests` are pytest arguments (files, `-k` expressions). The scratch copy has no .git: leave out
  tests that need it (`--baseline` shows any selection failing on the unchanged tree).
- backend "sqlite": the PostgreSQL pass is switched off; "pg": only the PostgreSQL pass (row locks
  and concurrent writers, which SQLite serialises anyway); "both": both passes.
PostgreSQL needs TEST_DATABASE_URL (as for the tests); without it "pg" mutants are reported as
not run, never as killed.

    .venv/bin/python bin/mutants.py            # all
    .venv/bin/python bin/mutants.py --check    # only check that every original still matches
    .venv/bin/python bin/mutants.py --baseline # every selection of tests passes on the unchanged tree
    .venv/bin/python bin/mutants.py scan-lock retention-active   # some, by id

Figures (2026-11-26, 2 shared cores, ~15-40 s a mutant): first run 48 of 54 killed; the survivors
got tests or the right selection (and one equivalent mutant was dropped): 53 of 53 killed,
`--baseline` 53 of 53 selections pass on the unchanged tree.
Later that day 9 originals moved (merges) and were re-anchored, plus scan-verdict-expiry (54 in all):
those 10 killed 10 of 10, `--baseline` 10 of 10.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXEMPT = '\n@__import__("kiemdich.extensions", fromlist=["csrf"]).csrf.exempt'  # a view made CSRF-exempt

M = [
    # --- personal token: signature, expiry, layout ---------------------------------------------
    ("token-expiry", "kiemdich/tokens.py", "if check_expiry and (now or clock.utcnow()) > valid_until:",
     "if False and check_expiry:", ["tests/test_tokens.py", "-k", "expired"], "sqlite"),
    ("token-signature", "kiemdich/tokens.py", '    else:\n        raise TokenError("signature")',
     "    else:\n        pass", ["tests/test_tokens.py", "-k", "byte or another_key"], "sqlite"),
    ("token-version", "kiemdich/tokens.py", "if len(raw) < HEADER_SIZE + SIG_SIZE or raw[0] != VERSION:",
     "if len(raw) < HEADER_SIZE + SIG_SIZE:", ["tests/test_tokens.py", "-k", "not ignored_by_git"], "sqlite"),
    ("returnee-link-expiry", "kiemdich/followup/views.py",
     'if link_expired(decl, arrival, now=clock.utcnow(), grace_days=settings.get_int("status_grace_days")):',
     "if False:", ["tests/test_followup_returnee.py", "-k", "forged_or_finished"], "sqlite"),
    ("self-checkin-expiry", "kiemdich/declarations/operations.py",
     "decl = declaration_for_token(token, check_expiry=True, now=now)",
     "decl = declaration_for_token(token, check_expiry=False, now=now)",
     ["tests/test_declarations.py", "-k", "self_checkin_refuses"], "sqlite"),
    # --- passage at a checkpoint ------------------------------------------------------------------
    # The passage write (resolve_for_passage) and the verdict card (resolve) each check the expiry.
    ("scan-code-expiry", "kiemdich/scan/operations.py",
     '    if at > decl.valid_until:\n        raise PassageError(REFUSALS["expired"], reason="expired")\n    return decl, seen',
     '    if False:\n        raise PassageError(REFUSALS["expired"], reason="expired")\n    return decl, seen',
     ["tests/test_scan.py", "-k", "typed_declaration_code"], "sqlite"),
    ("scan-verdict-expiry", "kiemdich/scan/operations.py",
     '    if at > decl.valid_until:\n        raise PassageError(REFUSALS["expired"], reason="expired")\n    return decl\n',
     '    if False:\n        raise PassageError(REFUSALS["expired"], reason="expired")\n    return decl\n',
     ["tests/test_scan.py", "-k", "typed_declaration_code"], "sqlite"),
    # Not listed: the token's own expiry (data.valid_until / tokens.verify(now=at)) left out is an
    # equivalent mutant: the declaration's valid_until (the same instant the token carries) is checked next.
    ("scan-replay-note", "kiemdich/scan/operations.py", '            and (passage.note or "") == values.note',
     "            and True", ["tests/test_scan.py", "-k", "another_note"], "sqlite"),
    ("scan-replay-decision", "kiemdich/scan/operations.py",
     "and passage.decision == values.decision and passage.test_taken == values.test_taken",
     "and passage.test_taken == values.test_taken", ["tests/test_scan.py", "-k", "different_body"], "sqlite"),
    ("scan-already", "kiemdich/scan/operations.py", "    earlier = _earlier_in(seen, decl.id, checkpoint.id)",
     "    earlier = None", ["tests/test_scan.py", "-k", "second_scan"], "sqlite"),
    ("scan-lock", "kiemdich/scan/operations.py",
     "    db.session.execute(select(Declaration.id).where(Declaration.id == decl.id).with_for_update())",
     "    pass", ["tests/test_scan.py", "-k", "concurrent_writes"], "pg"),
    ("scan-checkpoint-scope", "kiemdich/scan/views.py", "    if not cp.active or not allowed:",
     "    if not cp.active:", ["tests/test_scan.py", "-k", "another_checkpoint"], "sqlite"),
    ("scan-rules-conditional-get", "kiemdich/scan/views.py", "    return response.make_conditional(request)",
     "    return response", ["tests/test_scan.py", "-k", "rules_for_offline"], "sqlite"),
    # --- follow-up: state guards, idempotency, row locks ------------------------------------------
    ("followup-confirm-guard", "kiemdich/followup/operations.py",
     '    if arrival.status != "expected":\n        return False', "    if False:\n        return False",
     ["tests/test_followup_transitions.py", "-k", "confirm"], "sqlite"),
    ("followup-check-guard", "kiemdich/followup/operations.py", "    if arrival.status not in schedule.CHECKABLE:",
     "    if False:", ["tests/test_followup_transitions.py", "-k", "check"], "sqlite"),
    ("followup-plan-guard", "kiemdich/followup/operations.py",
     'raise FollowupError(_l("The plan can only be changed while the follow-up is under way."))', "pass",
     ["tests/test_followup_transitions.py", "-k", "change_plan"], "sqlite"),
    ("followup-close-guard", "kiemdich/followup/operations.py",
     'raise FollowupError(_l("Only a follow-up under way can be closed."))', "pass",
     ["tests/test_followup_transitions.py", "-k", "close"], "sqlite"),
    ("followup-extend-guard", "kiemdich/followup/operations.py",
     'raise FollowupError(_l("Only a follow-up under way can be extended."))', "pass",
     ["tests/test_followup_transitions.py", "-k", "extend"], "sqlite"),
    ("followup-outcome-guard", "kiemdich/followup/operations.py",
     'raise FollowupError(_l("Unknown action."))\n    if arrival.status not in schedule.OPEN:',
     'raise FollowupError(_l("Unknown action."))\n    if False:',
     ["tests/test_followup_transitions.py", "-k", "lost_contact or left_province or referred"], "sqlite"),
    ("followup-resume-guard", "kiemdich/followup/operations.py", '    if arrival.status != "lost_contact":',
     "    if False:", ["tests/test_followup_transitions.py", "-k", "resume"], "sqlite"),
    ("followup-transfer-guard", "kiemdich/followup/operations.py",
     "    reason = _reason(reason)\n    if arrival.status not in schedule.OPEN:",
     "    reason = _reason(reason)\n    if False:", ["tests/test_followup_transitions.py", "-k", "transfer"], "sqlite"),
    ("followup-transfer-province", "kiemdich/followup/operations.py",
     "if not to_code or to_code == arrival.commune_code or not in_home_province(to_code):",
     "if not to_code or to_code == arrival.commune_code:", ["tests/test_followup.py", "-k", "transfer"], "sqlite"),
    ("followup-check-uuid", "kiemdich/followup/operations.py",
     "        if existing is not None and not _same_check(existing, arrival, clean):", "        if False:",
     ["tests/test_followup.py", "-k", "same_check"], "sqlite"),
    ("followup-self-never-clears", "kiemdich/followup/operations.py",
     'elif not red and arrival.flagged and check.source != "self":', "elif not red and arrival.flagged:",
     ["tests/test_followup.py", "-k", "red_check"], "sqlite"),
    ("followup-lock-arrival", "kiemdich/followup/operations.py",
     "        db.session.scalar(select(Arrival).where(Arrival.id == arrival.id).with_for_update(of=Arrival)\n"
     "                          .execution_options(populate_existing=True))",
     "        pass",
     ["tests/test_concurrent_writes.py", "-k", "two_officers"], "pg"),
    ("followup-settle-lock", "kiemdich/followup/operations.py",
     ".with_for_update(of=Arrival, skip_locked=True)", "", ["tests/test_concurrent_writes.py", "-k", "homes_opened"],
     "pg"),
    ("followup-detail-scope", "kiemdich/followup/views.py",
     ".where(Declaration.code == code[:16], Arrival.commune_code.in_(commune_codes_select(current_user)))",
     ".where(Declaration.code == code[:16])", ["tests/test_followup.py", "-k", "another_communes"], "sqlite"),
    ("followup-station-scope", "kiemdich/followup/views.py", "    if code not in codes:\n        abort(403)",
     "    if False:\n        abort(403)", ["tests/test_authorization_matrix.py", "-k", "station"], "sqlite"),
    # --- scope ------------------------------------------------------------------------------------
    ("scope-province-communes", "kiemdich/accounts/scope.py", "    return codes | set(children)", "    return codes",
     ["tests/test_exports.py", "-k", "supervisor_exports"], "sqlite"),
    ("scope-checkpoint-staff", "kiemdich/accounts/scope.py", "        return checkpoint.id in user.checkpoint_ids",
     "        return True", ["tests/test_scan.py", "-k", "another_checkpoint"], "sqlite"),
    ("scope-checkpoint-pages", "kiemdich/checkpoints/views.py",
     "    if cp is None or not can_see_checkpoint(current_user, cp):", "    if cp is None:",
     ["tests/test_checkpoints.py", "-k", "another_area"], "sqlite"),
    ("scope-import-batch", "kiemdich/imports/views.py",
     "        if not batch.checkpoint_id or batch.checkpoint_id not in {c.id for c in _checkpoints()}:",
     "        if not batch.checkpoint_id:", ["tests/test_authorization_matrix.py", "-k", "imports.show"], "sqlite"),
    ("scope-audit-trail", "kiemdich/audit_trail/views.py",
     "    return stmt.where(or_(AuditEvent.area_code.in_(codes), AuditEvent.user_id.in_(people)))",
     "    return stmt", ["tests/test_audit_privacy.py", "-k", "supervisor_reads"], "sqlite"),
    ("scope-reveal-view", "kiemdich/privacy/views.py",
     "if decl is None or decl.deidentified_at is not None or not ops.can_see_declaration(current_user, decl):",
     "if decl is None or decl.deidentified_at is not None:",
     ["tests/test_audit_privacy.py", "-k", "reveal_is_refused"], "sqlite"),
    ("scope-reveal-commune", "kiemdich/privacy/operations.py",
     '        if user.role == "commune":\n            return False', "        if False:\n            return False",
     ["tests/test_reveal_scope.py", "-k", "commune_officer"], "sqlite"),
    ("scope-reveal-checkpoint-validity", "kiemdich/privacy/operations.py",
     "        if (now or utcnow()) <= decl.valid_until:", "        if True:",
     ["tests/test_reveal_scope.py", "-k", "checkpoint_staff"], "sqlite"),
    # --- audit of reveals, retention, erasure --------------------------------------------------------
    ("reveal-audit", "kiemdich/privacy/operations.py", '    audit.record("id.reveal", decl,',
     '    (lambda *a, **k: None)("id.reveal", decl,', ["tests/test_audit_privacy.py", "-k", "reveal_shows"], "sqlite"),
    ("retention-active", "kiemdich/privacy/operations.py",
     "or_(Arrival.status.in_(ACTIVE), func.coalesce(Arrival.ended_at, Arrival.updated_at) >= cutoff))",
     "or_(func.coalesce(Arrival.ended_at, Arrival.updated_at) >= cutoff))",
     ["tests/test_audit_privacy.py", "-k", "retention"], "sqlite"),
    ("retention-recent", "kiemdich/privacy/operations.py",
     "or_(Arrival.status.in_(ACTIVE), func.coalesce(Arrival.ended_at, Arrival.updated_at) >= cutoff))",
     "or_(Arrival.status.in_(ACTIVE)))", ["tests/test_audit_privacy.py", "-k", "retention"], "sqlite"),
    ("retention-never-routed", "kiemdich/privacy/operations.py",
     "    return and_(~open_or_recent, or_(routed, Declaration.valid_until < cutoff), ~pending)",
     "    return and_(~open_or_recent, ~pending)",
     ["tests/test_audit_privacy.py", "-k", "retention"], "sqlite"),
    ("erase-while-monitoring", "kiemdich/privacy/operations.py", "    if active:\n        raise PrivacyError",
     "    if False:\n        raise PrivacyError", ["tests/test_audit_privacy.py", "-k", "erasure_waits"], "sqlite"),
    # --- idempotency and duplicate keys ------------------------------------------------------------
    ("declaration-form-key", "kiemdich/declarations/operations.py",
     '            if existing.id_number != values["id_number"]:', "            if False:",
     ["tests/test_declarations.py", "-k", "same_form_key"], "sqlite"),
    ("self-checkin-once", "kiemdich/declarations/operations.py",
     "        .order_by(Passage.server_ts).limit(1))\n    if earlier is not None:",
     "        .order_by(Passage.server_ts).limit(1))\n    if False:",
     ["tests/test_declarations.py", "-k", "self_checkin_records_one"], "sqlite"),
    ("import-duplicate-minutes", "kiemdich/imports/operations.py",
     '    return moment_utc.replace(second=0, microsecond=0).isoformat(timespec="minutes")',
     "    return moment_utc.isoformat()",  # timespec="minutes" alone would still cut the seconds
     ["tests/test_import_regressions.py", "-k", "08_30"], "sqlite"),
    ("import-refused-not-routed", "kiemdich/imports/operations.py",
     'and p.commune_code and not p.transit and p.decision != "refuse"]', "and p.commune_code and not p.transit]",
     ["tests/test_import_regressions.py", "-k", "khong_cho_qua"], "sqlite"),
    ("import-khong-cho-qua", "kiemdich/imports/values.py",
     '    if raw.startswith(("khong cho qua", "tu choi", "quay dau")):', "    if False:",
     ["tests/test_import_regressions.py", "-k", "khong_cho_qua"], "sqlite"),
    # --- sign-in and sessions -----------------------------------------------------------------------
    ("auth-lockout", "kiemdich/accounts/operations.py",
     "    held = [key for key, until in locks.items() if until and until > now]", "    held = []", ["tests/test_accounts.py", "-k", "wait"], "sqlite"),
    ("auth-inactive", "kiemdich/accounts/operations.py", "    if not user.active:", "    if False:",
     ["tests/test_accounts.py", "-k", "deactivation"], "sqlite"),
    # The whole check: every version bump or deactivation (end_every_session) also ends the session
    # rows, so leaving out only the version/active terms is an equivalent mutant (defence in depth).
    ("auth-session-version", "kiemdich/accounts/operations.py",
     "    if user.session_version != version or not user.active or row.ended_at is not None or row.expires_at <= utcnow():",
     "    if False:",
     ["tests/test_accounts.py", "-k", "password or deactivation"], "sqlite"),
    # --- CSRF ----------------------------------------------------------------------------------------
    ("csrf-import-commit", "kiemdich/imports/views.py", '@bp.post("/<int:batch_id>/ghi")',
     '@bp.post("/<int:batch_id>/ghi")' + EXEMPT, ["tests/test_csrf_everywhere.py"], "sqlite"),
    ("csrf-passage", "kiemdich/scan/views.py", '@bp.post("/chot/qua-chot")', '@bp.post("/chot/qua-chot")' + EXEMPT,
     ["tests/test_csrf_everywhere.py"], "sqlite"),
    ("csrf-sign-in-form", "kiemdich/accounts/auth.py", "    if form.csrf_token.errors:", "    if False:",
     ["tests/test_accounts.py", "-k", "login_requires_csrf"], "sqlite"),
    # --- rate-limit keys ------------------------------------------------------------------------------
    ("limit-per-device", "kiemdich/limits.py", "    return f\"{client_address()}|{device_id() or '-'}\"",
     "    return client_address()", ["tests/test_crowd_limits.py", "-k", "crowd_looks_up"], "sqlite"),
    ("limit-forged-cookie", "kiemdich/limits.py",
     "    return device if hmac.compare_digest(signature, _signature(device)) else None", "    return device",
     ["tests/test_crowd_limits.py", "-k", "forged"], "sqlite"),
]

IGNORE = shutil.ignore_patterns(".git", ".venv", "node_modules", "static", "instance", ".hypothesis",
                                ".pytest_cache", "__pycache__", "test-artifacts", "bench", "docs")


def check(mutants) -> list[str]:
    """Every original must occur exactly once in its file; returns the problems."""
    problems = []
    for mid, path, original, _new, _tests, _backend in mutants:
        text = (ROOT / path).read_text(encoding="utf-8")
        found = text.count(original)
        if found != 1:
            problems.append(f"{mid}: {path}: original found {found} times (expected once): {original!r}")
    return problems


def scratch_copy() -> Path:
    """The tree in a temp dir (symlinks to the shared venv, node_modules and static files)."""
    tmp = Path(tempfile.mkdtemp(prefix="kiemdich-mutants-"))
    tree = tmp / "tree"
    shutil.copytree(ROOT, tree, ignore=IGNORE, symlinks=True)
    for name in (".venv", "node_modules", "static"):
        (tree / name).symlink_to((ROOT / name).resolve())
    return tree


def run(tree: Path, mutant, timeout: int) -> tuple[str, float]:
    mid, path, original, new, tests, backend = mutant
    target = tree / path
    text = target.read_text(encoding="utf-8")
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("KIEMDICH_REQUIRE_ALL_BACKENDS", None)
    args = list(tests)
    if backend == "sqlite":
        env.pop("TEST_DATABASE_URL", None)
    elif backend == "pg":
        if not env.get("TEST_DATABASE_URL"):
            return "not run (no TEST_DATABASE_URL)", 0.0
        if "-k" in args:
            i = args.index("-k")
            args[i + 1] = f"postgresql and ({args[i + 1]})"
        else:
            args += ["-k", "postgresql"]
    target.write_text(text.replace(original, new, 1), encoding="utf-8")
    start = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                               "-o", "addopts=", "--hypothesis-seed=0", *args],
                              cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        code = "timeout"
    finally:
        target.write_text(text, encoding="utf-8")
    took = time.monotonic() - start
    if code == 1 or code == "timeout":
        return "killed" if code == 1 else "killed (timeout)", took
    if code == 0:
        return "SURVIVED", took
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
    return f"error (pytest exit {code}: {' / '.join(tail)})", took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ids", nargs="*", help="run only these mutants")
    parser.add_argument("--check", action="store_true", help="only check that the originals still match")
    parser.add_argument("--timeout", type=int, default=600)
    parser.add_argument("--baseline", action="store_true",
                        help="run each mutant's tests on the unchanged tree: all must pass, else a kill proves nothing")
    opts = parser.parse_args()
    ids = {m[0] for m in M}
    assert len(ids) == len(M), "duplicate mutant ids"
    unknown = set(opts.ids) - ids
    if unknown:
        print(f"unknown mutant ids: {sorted(unknown)}", file=sys.stderr)
        return 2
    mutants = [m for m in M if not opts.ids or m[0] in opts.ids]
    problems = check(mutants)
    if problems:
        print("Originals that no longer match (the code moved: re-anchor these in bin/mutants.py):",
              *problems, sep="\n  ", file=sys.stderr)
        return 2
    print(f"{len(mutants)} mutants, every original matches once.")
    if opts.check:
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still remove the scratch copy
    tree = scratch_copy()
    results = []
    try:
        for n, mutant in enumerate(mutants, 1):
            if opts.baseline:  # the same tests, nothing changed
                mutant = (*mutant[:3], mutant[2], *mutant[4:])
            outcome, took = run(tree, mutant, opts.timeout)
            if opts.baseline:
                outcome = {"SURVIVED": "baseline passes"}.get(outcome, "BASELINE FAILS: " + outcome)
            results.append((mutant, outcome))
            print(f"[{n:>2}/{len(mutants)}] {mutant[0]:<34} {mutant[5]:<6} {outcome} ({took:.0f} s)", flush=True)
    finally:
        shutil.rmtree(tree.parent, ignore_errors=True)
    if opts.baseline:
        failing = [r for r in results if r[1] != "baseline passes"]
        print(f"\nBaseline: {len(results) - len(failing)} of {len(results)} test selections pass unchanged")
        for (mid, *_rest), outcome in failing:
            print(f"  {mid}: {outcome}")
        return 1 if failing else 0
    ran = [r for r in results if not r[1].startswith("not run")]
    killed = [r for r in ran if r[1].startswith("killed")]
    print(f"\nKilled {len(killed)} of {len(ran)} mutants ({100 * len(killed) / max(len(ran), 1):.0f} %)"
          + (f"; {len(results) - len(ran)} not run" if len(ran) < len(results) else ""))
    others = [r for r in ran if not r[1].startswith("killed")]
    for (mid, path, original, new, tests, backend), outcome in others:
        print(f"  {outcome}: {mid} ({path}, {backend})\n      {original!r}\n   -> {new!r}\n      tests: {' '.join(tests)}")
    return 0 if not others else 1


if __name__ == "__main__":
    sys.exit(main())
