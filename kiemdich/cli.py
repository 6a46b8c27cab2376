"""`flask kiemdich ...`: loading units, issuing accounts, demo data."""
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from .extensions import db

group = AppGroup("kiemdich", help="kiemdich administration commands.")


@group.command("load-areas")
@click.option("--csv", "csv_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Load another dataset from a CSV (code,name,kind,parent_code[,division]).")
@click.option("--dataset", default=None, help="Dataset name for --csv (e.g. vn2021).")
def load_areas(csv_path, dataset):
    """Load the 34 provinces and 3,321 communes (or a CSV dataset). Idempotent."""
    from .areas import operations

    if csv_path:
        if not dataset:
            raise click.UsageError("--dataset is required with --csv")
        try:
            rows = operations.csv_rows(csv_path)
        except ValueError as err:
            raise click.ClickException(str(err)) from err
        inserted, updated = operations.upsert_units(rows, dataset)
    else:
        inserted, updated = operations.upsert_units(operations.vietnam_2025_rows())
    db.session.commit()
    click.echo(f"Administrative units: {inserted} added, {updated} updated.")


@group.command("seed")
def seed():
    """Insert instruction codes, the Ministry of Health rule template and the privacy notice."""
    from .seeds import seed_reference_data

    added = seed_reference_data()
    db.session.commit()
    click.echo("Reference data: " + ", ".join(f"{k} +{v}" for k, v in added.items()))


@group.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "supervisor", "checkpoint", "commune"]), required=True)
@click.option("--area", "areas", multiple=True, help="Admin unit code in scope (repeatable).")
@click.option("--checkpoint", "checkpoints", multiple=True, type=int, help="Checkpoint id in scope (repeatable).")
@click.option("--name", "full_name", default="")
@click.password_option()
def create_user_command(username, role, areas, checkpoints, full_name, password):
    """Issue an account."""
    from .accounts.operations import AccountError, create_user

    try:
        user = create_user(username, password, role, full_name=full_name, area_codes=list(areas),
                           checkpoint_ids=list(checkpoints))
    except AccountError as err:
        raise click.ClickException(str(err)) from err
    db.session.commit()
    click.echo(f"Created {user.username} ({user.role}).")


@group.command("demo")
@click.option("--force", is_flag=True, help="Add demo data even if some exists.")
def demo_command(force):
    """Load realistic demo data for Đồng Nai once, and print the demo accounts."""
    from flask import current_app

    from .demo import load_demo

    accounts = load_demo(Path(current_app.instance_path), force=force)
    db.session.commit()
    click.echo("Demo accounts (username / password / role):")
    for username, password, role in accounts:
        click.echo(f"  {username:<12} {password:<22} {role}")


@group.command("retention")
@click.option("--days", type=click.IntRange(min=0), required=True,
              help="De-identify travellers whose monitoring ended more than this many days ago.")
@click.option("--dry-run", is_flag=True, help="Only count what would be de-identified.")
def retention_command(days, dry_run):
    """De-identify old travellers (name, ID, phone, street, plate); counts stay. Idempotent, audited."""
    from .daily import retention

    count = retention(days, dry_run=dry_run)  # the same function as the queue's daily task
    if dry_run:
        click.echo(f"{count} declarations would be de-identified (monitoring ended more than {days} days ago).")
        return
    click.echo(f"{count} declarations de-identified (monitoring ended more than {days} days ago).")


@group.command("end-rule")
def end_rule_command():
    """Apply the end-of-monitoring rule now (the queue's consumer runs it daily at 00:05)."""
    from .daily import end_rule

    click.echo(f"End rule applied: {end_rule()} arrival(s) changed.")


@group.command("recover-jobs")
def recover_jobs_command():
    """Fail (resumable) the import jobs whose process died; the consumer does it every minute."""
    from .tasks import recover

    click.echo(f"{recover()} interrupted import job(s) marked failed and resumable.")


@group.command("rotate-key")
@click.option("--prepare", is_flag=True,
              help="Only create the next key: published to scan screens and trusted, not yet signing.")
@click.option("--revoke", is_flag=True,
              help="The old key leaked: forget it and every earlier key; their codes stop verifying at once.")
def rotate_key_command(prepare, revoke):
    """Rotate the key that signs personal QR codes; codes it signed keep verifying until they expire."""
    from flask import current_app
    from sqlalchemy import func, select

    from . import audit, clock, tokens
    from .models import Declaration

    path = tokens.key_path(current_app)
    if prepare:
        try:
            public = tokens.prepare_next(path)
        except FileExistsError as err:
            raise click.ClickException(str(err)) from err
        audit.record("key.prepare", object_type="SigningKey", object_id=tokens.key_id(public))
        db.session.commit()
        click.echo(f"Next key {tokens.key_id(public)} prepared and published. Once every checkpoint phone has "
                   "opened its scan screen with a network (a day), run `flask kiemdich rotate-key`.")
        return
    prepared = tokens.next_path(path).exists()
    now = clock.utcnow()
    # Every code signed so far names a declaration: the last of them stops being valid for passage then.
    last = db.session.scalar(select(func.max(Declaration.valid_until)))
    old, new = tokens.rotate(path, now=now, passage_until=max(last or now, now), revoke=revoke)
    audit.record("key.revoke" if revoke else "key.rotate", object_type="SigningKey", object_id=new,
                 before={"kid": old}, after={"kid": new})
    db.session.commit()
    click.echo(f"Key {new} now signs personal QR codes; {old} is "
               + ("forgotten: codes it signed no longer verify (travellers find theirs again at /tra-cuu)."
                  if revoke else f"retired: its codes keep verifying (at checkpoints until "
                                 f"{clock.local(max(last or now, now)):%d/%m/%Y %H:%M})."))
    if not prepared:
        click.echo("Warning: no next key was prepared; a scan screen that stays offline until it next "
                   "opens with a network will refuse the codes signed from now.")
    click.echo("Every app process picks the new key up within seconds (shared instance folder); with a copy "
               "per node, copy the qr-signing-key files to every node now.")


def init_app(app: Flask) -> None:
    """Register the command group."""
    app.cli.add_command(group)
