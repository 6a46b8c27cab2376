"""Configuration read from the environment, falling back to an embedded SQLite database."""
import os
from datetime import timedelta


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _database_url(url: str | None) -> str | None:
    # Accept the plain "postgresql://" form people copy from their provider;
    # SQLAlchemy would pick psycopg2, which we do not install.
    if url and url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Config:
    """Settings; every one can be set by an environment variable of the same name."""

    SECRET_KEY = os.environ.get("SECRET_KEY")  # else created in instance/ on first start
    SQLALCHEMY_DATABASE_URI = _database_url(os.environ.get("DATABASE_URL"))  # else SQLite in instance/
    # Optional read replica (PostgreSQL hot standby): the dashboard, drill-down and exports read there.
    DATABASE_REPLICA_URL = _database_url(os.environ.get("DATABASE_REPLICA_URL"))
    # No ping on every checkout: kiemdich/dbpool.py pings a connection idle for longer than this.
    SQLALCHEMY_ENGINE_OPTIONS = {}
    KIEMDICH_DB_IDLE_PING_SECONDS = float(os.environ.get("KIEMDICH_DB_IDLE_PING_SECONDS", "10"))
    REDIS_URL = os.environ.get("REDIS_URL")
    RATELIMIT_STORAGE_URI = os.environ.get("REDIS_URL") or "memory://"
    # No X-RateLimit-* headers: nothing reads them, and filling them cost two more Redis round trips
    # (GET and TTL per limit) on every limited request, the traveller's status the most frequent.
    RATELIMIT_HEADERS_ENABLED = False
    # Redis down is not an outage: limits are counted per process until it answers again
    # (kiemdich/limits.py logs the switch once each way). Short timeouts, so that an unreachable
    # Redis costs a request a second at most, never a hung worker.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 1}
    # Number of reverse proxies in front of gunicorn whose X-Forwarded-* headers are trusted
    # (nginx alone: 1; a load balancer and nginx: 2). 0: REMOTE_ADDR is the client (no proxy).
    KIEMDICH_PROXY_HOPS = int(os.environ.get("KIEMDICH_PROXY_HOPS", "0"))
    # Who may read /metrics (the operator's network): comma-separated addresses or CIDR blocks.
    KIEMDICH_METRICS_NETWORKS = os.environ.get("KIEMDICH_METRICS_NETWORKS", "127.0.0.0/8,::1")
    # /readyz fails when the task-queue consumer's last heartbeat is older than this.
    KIEMDICH_QUEUE_STALE_SECONDS = int(os.environ.get("KIEMDICH_QUEUE_STALE_SECONDS", "300"))
    KIEMDICH_PROVINCE = os.environ.get("KIEMDICH_PROVINCE", "75")
    KIEMDICH_HOTLINE = os.environ.get("KIEMDICH_HOTLINE", "1900 9095")
    KIEMDICH_TOKEN_VALID_HOURS = int(os.environ.get("KIEMDICH_TOKEN_VALID_HOURS", "72"))
    # The traveller's status link keeps working this many days after monitoring ends.
    KIEMDICH_STATUS_GRACE_DAYS = int(os.environ.get("KIEMDICH_STATUS_GRACE_DAYS", "14"))
    # Public address printed in QR codes (https://kiemdich.example.gov.vn); else the request's own.
    KIEMDICH_PUBLIC_URL = os.environ.get("KIEMDICH_PUBLIC_URL", "").rstrip("/")
    # Signing key of the personal QR; every node behind a load balancer must share the same file.
    KIEMDICH_QR_KEY_FILE = os.environ.get("KIEMDICH_QR_KEY_FILE")  # else instance/qr-signing-key.pem
    # Public limits count per device (client address + device cookie, kiemdich/limits.py), so that
    # travellers behind one carrier (CGNAT) address do not share a budget, and per address with a
    # ceiling high enough for a province's crowd behind one address, which still stops one client
    # that throws its cookie away.
    KIEMDICH_DECLARATION_RATE = os.environ.get("KIEMDICH_DECLARATION_RATE", "10 per minute;30 per hour")
    KIEMDICH_DECLARATION_ADDRESS_RATE = os.environ.get("KIEMDICH_DECLARATION_ADDRESS_RATE",
                                                       "600 per 10 minutes;2000 per hour")
    KIEMDICH_LOOKUP_RATE = os.environ.get("KIEMDICH_LOOKUP_RATE", "10 per minute;60 per hour")
    KIEMDICH_LOOKUP_ADDRESS_RATE = os.environ.get("KIEMDICH_LOOKUP_ADDRESS_RATE", "120 per minute;1000 per hour")
    KIEMDICH_STATUS_RATE = os.environ.get("KIEMDICH_STATUS_RATE", "60 per minute")
    KIEMDICH_STATUS_ADDRESS_RATE = os.environ.get("KIEMDICH_STATUS_ADDRESS_RATE", "600 per minute")
    KIEMDICH_CHECKIN_RATE = os.environ.get("KIEMDICH_CHECKIN_RATE", "30 per minute")
    KIEMDICH_CHECKIN_ADDRESS_RATE = os.environ.get("KIEMDICH_CHECKIN_ADDRESS_RATE", "600 per minute")
    # A returnee's own arrival confirmation and daily declaration (per IP).
    KIEMDICH_RETURNEE_RATE = os.environ.get("KIEMDICH_RETURNEE_RATE", "30 per minute")
    # "Near the commune": within this distance of the health station's saved position.
    KIEMDICH_NEAR_KM = float(os.environ.get("KIEMDICH_NEAR_KM", "10"))
    # Cookies: Secure by default; KIEMDICH_INSECURE_COOKIES=1 lets plain http://127.0.0.1 work.
    SESSION_COOKIE_SECURE = not _bool("KIEMDICH_INSECURE_COOKIES", False)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    REMEMBER_COOKIE_HTTPONLY = True
    PERMANENT_SESSION_LIFETIME = timedelta(hours=int(os.environ.get("KIEMDICH_SESSION_HOURS", "12")))
    KIEMDICH_IDLE_MINUTES = int(os.environ.get("KIEMDICH_IDLE_MINUTES", "30"))
    MAX_CONTENT_LENGTH = int(os.environ.get("KIEMDICH_MAX_UPLOAD_MB", "20")) * 1024 * 1024
    BABEL_DEFAULT_LOCALE = "vi"
    BABEL_DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
    KIEMDICH_LOCALES = ("vi", "en")
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session: offline replays need it
    COMPRESS_ALGORITHM = ["br", "gzip"]
    COMPRESS_ALGORITHM_STREAMING = ["br", "gzip"]  # static files are streamed; plain http browsers only send gzip
    COMPRESS_MIMETYPES = [
        "text/html", "text/css", "text/javascript", "application/javascript",
        "application/json", "application/manifest+json", "image/svg+xml", "text/csv",
    ]
    # Throttling of sign-in: after this many failures from one address, the name waits there,
    # doubling each time; from every address together, only after the much higher account-wide
    # number (which never holds a browser the account signed in from before).
    KIEMDICH_LOGIN_FREE_FAILURES = 5
    KIEMDICH_LOGIN_BASE_DELAY_SECONDS = 30
    KIEMDICH_LOGIN_ACCOUNT_FAILURES = int(os.environ.get("KIEMDICH_LOGIN_ACCOUNT_FAILURES", "100"))
    # Import jobs (kiemdich/tasks.py): a running job renews its lease; one whose lease ran out
    # died with its process and is failed (resumable). The file is read in a child process with
    # at most this much address space, so a crafted file kills only that child.
    KIEMDICH_JOB_LEASE_SECONDS = int(os.environ.get("KIEMDICH_JOB_LEASE_SECONDS", "60"))
    KIEMDICH_IMPORT_MEMORY_MB = int(os.environ.get("KIEMDICH_IMPORT_MEMORY_MB", "1536"))
    # Exports of more rows than this are written by the queue to a file, downloaded when ready.
    KIEMDICH_EXPORT_JOB_ROWS = int(os.environ.get("KIEMDICH_EXPORT_JOB_ROWS", "5000"))
    # Days after the end of monitoring before the daily task de-identifies (unset: never).
    KIEMDICH_RETENTION_DAYS = os.environ.get("KIEMDICH_RETENTION_DAYS")
    # Notifications (kiemdich/notify): the VAPID key of Web Push (created in instance/ on first
    # start), the contact push services may write to, and the class that sends SMS reminders.
    KIEMDICH_VAPID_KEY_FILE = os.environ.get("KIEMDICH_VAPID_KEY_FILE")
    KIEMDICH_PUSH_CONTACT = os.environ.get("KIEMDICH_PUSH_CONTACT")
    KIEMDICH_SMS_GATEWAY = os.environ.get("KIEMDICH_SMS_GATEWAY")
