"""Two app nodes: a sign-in made on one is valid on the other (signed cookies, one SECRET_KEY), and
a rate limit counts the requests sent to both (Redis). The second node is a separate process, as
behind a load balancer: in one process both apps would share the limiter's storage object and
prove nothing. The load version with gunicorn is bench/load.py, run 3."""
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from tests.conftest import csrf_token, skip_or_fail

ROOT = Path(__file__).resolve().parent.parent
NODE = r"""
import json, sys
from kiemdich import create_app
spec = json.load(sys.stdin)
answers = []
for config in spec["nodes"]:
    client = create_app(config).test_client()
    for name, value in spec["cookies"].items():
        client.set_cookie(name, value)
    for method, path, data, headers in spec["requests"]:
        r = client.open(path, method=method, data=data, headers=headers, environ_base={"REMOTE_ADDR": spec["ip"]})
        answers.append(r.status_code)
print(json.dumps(answers))
"""


def node_config(app, **overrides) -> dict:
    """What another node is configured with: the same database, secret key and limiter storage."""
    keys = ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "RATELIMIT_STORAGE_URI", "KIEMDICH_LOOKUP_RATE",
            "SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE", "TESTING")
    return {k: app.config[k] for k in keys} | overrides


def other_node(app, client, requests, *, ip="127.0.0.1", configs=None) -> list[int]:
    """Send `requests` with this client's cookies to another node (a separate process)."""
    spec = {"nodes": configs or [node_config(app)], "ip": ip, "requests": requests,
            "cookies": {name: client.get_cookie(name).value for name in ("session", "kd_device")
                        if client.get_cookie(name)}}
    env = dict(os.environ, KIEMDICH_INSTANCE=app.instance_path)
    done = subprocess.run([sys.executable, "-c", NODE], input=json.dumps(spec), capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_sign_in_on_one_node_is_valid_on_another(app, client, auth, users):
    auth.login("chot1")
    page = client.get("/chot/quet")
    assert page.status_code == 200
    token = page.get_data(as_text=True).split('"X-CSRFToken": "', 1)[1].split('"', 1)[0]
    # On node B: the scan screen, and a passage POST whose CSRF token node A handed out (refused
    # only for its unreadable QR: 422, not the 400 of a bad CSRF token or the 302 to sign in).
    requests = [("GET", "/chot/quet", None, {}),
                ("POST", "/chot/qua-chot", {"token": "not-a-token", "chot": "X", "decision": "allow"},
                 {"X-CSRFToken": token, "HX-Request": "true"})]
    assert other_node(app, client, requests) == [200, 404]  # the checkpoint "X" does not exist
    # A node with another SECRET_KEY does not know the cookie: the sign-in page, and a CSRF error.
    assert other_node(app, client, requests, configs=[node_config(app, SECRET_KEY="another")]) == [302, 400]


def test_a_rate_limit_counts_requests_sent_to_both_nodes(app, client):
    if not os.environ.get("REDIS_URL"):
        skip_or_fail("multi-node rate limit skipped: REDIS_URL is not set")
    assert app.config["RATELIMIT_STORAGE_URI"].startswith("redis")
    app.config["KIEMDICH_LOOKUP_RATE"] = "3 per minute"
    ip = "10.%d.%d.%d" % tuple(secrets.randbelow(250) + 1 for _ in range(3))  # nobody else's counter
    lookup = {"code": "ZZZZZZZZ", "birth_year": "1990", "csrf_token": csrf_token(client, "/tra-cuu")}

    def on_a():
        return client.post("/tra-cuu", data=lookup, environ_base={"REMOTE_ADDR": ip}).status_code

    assert [on_a(), on_a()] == [422, 422]  # unknown code: the same answer as a wrong year
    assert other_node(app, client, [("POST", "/tra-cuu", lookup, {})] * 2, ip=ip) == [422, 429]
    assert on_a() == 429
