"""Helpers for scripts/label_studio_round_trip.py: Label Studio's own virtual environment, a
throw-away Label Studio server, and a small JSON-over-HTTP client (stdlib urllib only).

Label Studio runs from its own venv as a subprocess: its pins (numpy < 2.3 through
opencv-python-headless, Django, ...) must not reach dataperf's environment.
"""

from __future__ import annotations

import fcntl
import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

LS_VERSION = "1.23.2"
INCOMPLETE = ".dataperf-incomplete"  # in a venv being built; a venv holding it is rebuilt
# pip output that means the package index could not be reached (not a broken package)
NETWORK_ERRORS = re.compile(
    r"Failed to establish a new connection|Temporary failure in name resolution|"
    r"Name or service not known|Network is unreachable|Connection refused|ConnectTimeoutError|"
    r"Read timed out|ProxyError|Could not fetch URL|SSLError|RemoteDisconnected|"
    r"Connection reset by peer|No route to host",
)


class IndexUnreachable(RuntimeError):
    """pip could not reach the package index to install Label Studio."""


def _installed_version(venv: Path) -> str | None:
    python = venv / "bin" / "python"
    if not python.exists() or (venv / INCOMPLETE).exists():
        return None
    code = "import importlib.metadata as m; print(m.version('label-studio'))"
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def ensure_venv(venv: Path, log) -> float | None:
    """Make ``venv`` with label-studio==LS_VERSION unless it already holds it; return the seconds
    it took, or None when it was reused. A venv left half-built (interrupted) is rebuilt; a
    lock file beside it keeps two runs from building it at once.

    Raises IndexUnreachable when pip cannot reach the package index, RuntimeError otherwise.
    """
    venv = venv.absolute()
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.with_name(venv.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        have = _installed_version(venv)
        if have == LS_VERSION:
            return None
        if venv.exists():
            if have is not None or not (venv / INCOMPLETE).exists():
                raise RuntimeError(
                    f"{venv} exists but does not hold label-studio=={LS_VERSION} (found "
                    f"{have or 'no label-studio'}). Fix: remove it, or set DATAPERF_LS_VENV to "
                    "another folder."
                )
            log(f"removing the half-built {venv}")
            shutil.rmtree(venv)
        t = time.monotonic()
        log(f"creating {venv} with label-studio=={LS_VERSION} (about 1-2 min, ~1 GB)")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        (venv / INCOMPLETE).touch()
        pip_out, pip_log = venv / "dataperf-pip.out", venv / "dataperf-pip.log"  # log: verbose
        with open(pip_out, "w") as out:
            pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-input"]
            done = subprocess.run(
                [*pip, "--log", str(pip_log), f"label-studio=={LS_VERSION}"],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        if done.returncode != 0:
            said = pip_out.read_text(errors="replace")
            tail = "\n".join(said.splitlines()[-25:])
            errors = [line for line in said.splitlines() if line.startswith("ERROR")]
            last = errors[-1] if errors else ""
            # offline, pip finds no version at all, or fails on a download; the verbose log
            # says why (connection errors are logged even with --retries 0)
            network = NETWORK_ERRORS.search(pip_log.read_text(errors="replace") + said)
            if network and ("No matching distribution" in last or NETWORK_ERRORS.search(last)):
                raise IndexUnreachable(
                    f"pip could not reach the package index to install label-studio=={LS_VERSION}"
                    f" ({network.group(0)}; log {pip_log}):\n{tail}"
                )
            raise RuntimeError(f"pip install label-studio failed (log {pip_log}):\n{tail}")
        (venv / INCOMPLETE).unlink()
        return time.monotonic() - t


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Http:
    """JSON over HTTP with urllib: a token (``auth="Token ..."``) or a cookie session, which
    sends Django's CSRF token on unsafe requests as the browser UI does."""

    def __init__(self, base: str, auth: str | None = None, cookies: bool = False):
        self.base = base.rstrip("/")
        self.auth = auth
        self.jar = http.cookiejar.CookieJar() if cookies else None
        handlers: list = [urllib.request.ProxyHandler({})]  # the server is local: no proxy
        if cookies:
            handlers.append(urllib.request.HTTPCookieProcessor(self.jar))
        self.opener = urllib.request.build_opener(*handlers)

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar or [] if c.name == name), None)

    def request(self, method, path, *, body=None, form=None, headers=None, timeout=60):
        """(status, headers, body bytes); ``body``: JSON-able or bytes (sent as JSON)."""
        h = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            h["Content-Type"] = "application/x-www-form-urlencoded"
        if self.auth:
            h["Authorization"] = self.auth
        if self.jar is not None and method not in ("GET", "HEAD") and self.cookie("csrftoken"):
            h["X-CSRFToken"] = self.cookie("csrftoken")
            h["Referer"] = self.base + "/"
        h.update(headers or {})
        req = urllib.request.Request(self.base + path, data=data, headers=h, method=method)
        try:
            with self.opener.open(req, timeout=timeout) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def json(self, method, path, expect=(200, 201), **kw):
        status, _, data = self.request(method, path, **kw)
        if status not in expect:
            raise RuntimeError(f"{method} {path} -> HTTP {status}: {data[:500]!r}")
        return json.loads(data) if data else None


def session_login(base: str, email: str, password: str, invite_url: str | None = None) -> Http:
    """Log in through the HTML form as a browser does (or, given the organisation's invite URL,
    sign up through it); return the cookie session."""
    s = Http(base, cookies=True)
    page = invite_url or "/user/login/"
    status, _, _ = s.request("GET", page, headers={"Accept": "text/html"})
    if status != 200:
        raise RuntimeError(f"GET {page} -> HTTP {status}")
    form = {"email": email, "password": password, "csrfmiddlewaretoken": s.cookie("csrftoken")}
    if invite_url:
        form.update({"how_find_us": "", "allow_newsletters": "false"})
    headers = {"Accept": "text/html", "Referer": base + page}
    status, _, data = s.request("POST", page, form=form, headers=headers)
    who = s.json("GET", "/api/current-user/whoami")
    if who.get("email") != email:
        raise RuntimeError(f"{page} did not log in {email}: HTTP {status} {data[:300]!r}")
    return s


# get_env(X) in Label Studio also reads LABEL_STUDIO_X, HEARTEX_X and plain X: an inherited
# HOST, PORT, USERNAME, ... would change the server, so they are not passed on.
SCRUB_ENV = {
    "HOST", "PORT", "USERNAME", "PASSWORD", "USER_TOKEN", "DATABASE_NAME", "DEBUG", "LOG_LEVEL",
    "BASE_DATA_DIR", "DJANGO_DB",
}  # fmt: skip


class Server:
    """A Label Studio server on 127.0.0.1 with SQLite in ``data_dir``, serving local files under
    ``doc_root``; the admin is created at the first start with a legacy API token."""

    def __init__(self, venv: Path, data_dir: Path, doc_root: Path, admin: tuple[str, str, str]):
        self.venv, self.data_dir, self.doc_root = venv, data_dir, doc_root
        self.email, self.password, self.token = admin
        self.port = free_port()  # chosen just before the start: LS moves on silently if taken
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.parent / "server.log"
        self.proc: subprocess.Popen | None = None
        self.started = 0.0

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("LABEL_STUDIO_", "HEARTEX_")) and k not in SCRUB_ENV
        }
        env.update(
            {
                # without it every label-studio call also creates ~/.local/share/label-studio
                "LABEL_STUDIO_BASE_DATA_DIR": str(self.data_dir),
                "DJANGO_DB": "sqlite",
                # /data/local-files/?d=<path under the document root>
                "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
                "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(self.doc_root),
                "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",  # sign up by invite only
                # nothing phones home: Sentry, PyPI version check, analytics, feature flags
                "SENTRY_DSN": "",
                "FRONTEND_SENTRY_DSN": "",
                "LATEST_VERSION_CHECK": "false",
                "COLLECT_ANALYTICS": "false",
                "FEATURE_FLAGS_OFFLINE": "true",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def launch(self) -> None:
        """Start the server (the first start migrates the database: ~30-50 s)."""
        cmd = [
            str(self.venv / "bin" / "label-studio"), "start", "--no-browser",
            "--internal-host", "127.0.0.1", "--port", str(self.port),
            "--data-dir", str(self.data_dir), "--username", self.email,
            "--password", self.password, "--user-token", self.token,
            "--enable-legacy-api-token", "--log-level", "WARNING",
        ]  # fmt: skip
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            cmd,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches this script, which stops the server
            # a parent started in the background ignores SIGINT, and so would the server
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        log.close()

    def wait_ready(self, timeout: float = 300) -> float:
        """Wait until the API answers the admin's token; return seconds since launch."""
        api = Http(self.base, auth="Token " + self.token)
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the server exited with {self.proc.returncode}; {self.log_path} ends:\n"
                    + self.log_path.read_text(errors="replace")[-3000:]
                )
            if time.monotonic() - self.started > timeout:
                raise RuntimeError(f"the server did not answer within {timeout:.0f} s")
            try:
                if api.request("GET", "/api/current-user/whoami", timeout=5)[0] == 200:
                    return time.monotonic() - self.started
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.25)

    def stop(self) -> None:
        """SIGINT (Django's runserver exits cleanly), then SIGTERM, then SIGKILL."""
        if self.proc is None or self.proc.poll() is not None:
            return
        for send, wait in ((signal.SIGINT, 20), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            self.proc.send_signal(send)
            try:
                self.proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue
