"""The `flask kiemdich` commands."""
import json

from sqlalchemy import func, select

from kiemdich.extensions import db
from kiemdich.models import Arrival, Checkpoint, Declaration, HealthCheck, Passage, User


def test_create_user(runner):
    result = runner.invoke(args=["kiemdich", "create-user", "yte2", "--role", "commune", "--area", "25417"],
                           input="mat khau rat dai\nmat khau rat dai\n")
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.username == "yte2"))
    assert user.role == "commune" and user.area_codes == ["25417"]


def test_create_user_refuses_bad_input_clearly(runner):
    result = runner.invoke(args=["kiemdich", "create-user", "yte3", "--role", "commune"],
                           input="mat khau rat dai\nmat khau rat dai\n")
    assert result.exit_code != 0 and "Chọn ít nhất một địa bàn" in result.output
    assert db.session.scalar(select(User).where(User.username == "yte3")) is None


def test_demo_covers_every_state_once(app, runner):
    first = runner.invoke(args=["kiemdich", "demo"])
    assert first.exit_code == 0, first.output
    for username in ("admin", "giamsat", "chot", "ytexa"):
        assert username in first.output
    assert db.session.scalar(select(func.count()).select_from(Checkpoint)) == 3
    assert 250 <= db.session.scalar(select(func.count()).select_from(Declaration)) <= 400
    assert db.session.scalar(select(func.count()).select_from(Passage)) > 200
    statuses = set(db.session.scalars(select(Arrival.status).distinct()))
    assert {"expected", "monitoring", "completed", "ended_unchecked", "lost_contact", "referred",
            "transferred", "left_province"} <= statuses
    assert set(db.session.scalars(select(Passage.decision).distinct())) == {"allow", "refuse", "quarantine"}
    assert db.session.scalar(select(func.count()).select_from(HealthCheck)) > 100
    officer = db.session.scalar(select(User).where(User.username == "ytexa"))
    assert db.session.scalar(select(func.count()).select_from(Arrival)
                             .where(Arrival.commune_code == officer.area_codes[0])) > 30

    # A second run (every `make run`) adds nothing and prints the same accounts.
    again = runner.invoke(args=["kiemdich", "demo"])
    assert db.session.scalar(select(func.count()).select_from(Checkpoint)) == 3
    saved = json.loads((app.instance_path + "/demo-accounts.json") and open(app.instance_path + "/demo-accounts.json").read())
    for username, password, _role in saved:
        assert f"{username:<12} {password}" in again.output


def test_demo_passwords_work(app, runner, auth):
    runner.invoke(args=["kiemdich", "demo"])
    saved = json.load(open(app.instance_path + "/demo-accounts.json"))
    username, password, _ = next(a for a in saved if a[0] == "ytexa")
    assert auth.login(username, password).location.endswith("/xa")


def test_seed_is_idempotent(runner):
    result = runner.invoke(args=["kiemdich", "seed"])
    assert "instructions +0" in result.output and "rules +0" in result.output
