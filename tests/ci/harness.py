"""What the CI packaging tests share: assertions, git, a local release folder and a runner loop.

Each test gets a fresh temporary folder and prints one line; failures print exactly what was
expected and what came out. The closing line is `NAME: N passed, N failed, N skipped`.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.abspath(
    os.environ.get("SECRETZERO_BIN", os.path.join(ROOT, "target", "debug", "secretzero"))
)
ASSET = "secretzero-x86_64-unknown-linux-musl"


class Failure(Exception):
    pass


class Skip(Exception):
    pass


def check(condition, message, *details):
    if not condition:
        raise Failure("\n".join([message, *[str(d) for d in details]]))


def git(cwd, *args, env=None):
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise Failure(f"git {' '.join(args)} failed in {cwd}:\n{done.stderr}")
    return done.stdout.strip()


def binary_version():
    out = subprocess.run([BIN, "--version"], capture_output=True, text=True, check=True).stdout
    return out.split()[1]


def has_lockfile_commit():
    done = subprocess.run([BIN, "lockfile", "commit", "--help"], capture_output=True, text=True)
    return done.returncode == 0


def make_release(folder, corrupt=False, listed=True):
    """A release folder as GitHub serves one: the Linux x86_64 asset and SHA256SUMS."""
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, ASSET)
    if os.path.exists(target):
        os.remove(target)
    if corrupt:
        shutil.copyfile(BIN, target)
    else:
        os.link(BIN, target)
    with open(target, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    if corrupt:
        with open(target, "ab") as handle:
            handle.write(b"tampered")
    lines = [f"{'0' * 64}  secretzero-x86_64-apple-darwin\n"]
    if listed:
        lines.append(f"{digest}  {ASSET}\n")
    with open(os.path.join(folder, "SHA256SUMS"), "w") as handle:
        handle.writelines(lines)
    return folder


def write(repo, name, text):
    path = os.path.join(repo, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


def clean_env(home):
    """An environment without the machine's git identity or configuration."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": home,
        "LANG": "C.UTF-8",
        "GIT_CONFIG_NOSYSTEM": "1",
    }


def run_tests(suite, tests, make_world):
    if not os.access(BIN, os.X_OK):
        print(f"no binary at {BIN}: run cargo build first", file=sys.stderr)
        return 1
    wanted = sys.argv[1:]
    passed = failed = skipped = 0
    for function in tests:
        if wanted and not any(w in function.__name__ for w in wanted):
            continue
        folder = tempfile.mkdtemp(prefix=f"secretzero-{suite}-")
        try:
            function(make_world(folder))
            passed += 1
            print(f"ok      {function.__name__}", flush=True)
        except Skip as reason:
            skipped += 1
            print(f"skipped {function.__name__}: {reason}", flush=True)
        except Exception as error:  # noqa: BLE001 - every failure is reported, then counted
            failed += 1
            detail = str(error) if isinstance(error, Failure) else traceback.format_exc()
            print(f"FAILED  {function.__name__}\n    " + detail.replace("\n", "\n    "), flush=True)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"{suite}: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


class Server:
    """A web server on 127.0.0.1 for the installer's downloads, in a thread.

    kind="https": serves FOLDER's files over TLS with a self-signed certificate (trusted through
    `trust_env()`), 404 for anything else; `redirects` maps a path to the Location it answers
    with (302). kind="http": the same over plain HTTP. kind="silent": accepts connections and
    never answers. Every request path is recorded in `requests`.
    """

    def __init__(self, workdir, kind="https", folder=None, redirects=None):
        import http.server
        import socket
        import ssl
        import threading

        self.kind = kind
        self.requests = []
        self.cert = os.path.join(workdir, "server-cert.pem")
        self._held = []
        if kind == "silent":
            self._socket = socket.socket()
            self._socket.bind(("127.0.0.1", 0))
            self._socket.listen(16)
            self.port = self._socket.getsockname()[1]

            def accept():
                while True:
                    try:
                        connection, _ = self._socket.accept()
                    except OSError:
                        return
                    self._held.append(connection)

            threading.Thread(target=accept, daemon=True).start()
            self.url = f"https://127.0.0.1:{self.port}"
            return

        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the name http.server calls
                server.requests.append(self.path)
                if redirects and self.path in redirects:
                    self.send_response(302)
                    self.send_header("Location", redirects[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                path = os.path.join(folder or workdir, self.path.lstrip("/"))
                if folder and os.path.isfile(path):
                    body = open(path, "rb").read()
                    self.send_response(200)
                else:
                    body = b"not found\n"
                    self.send_response(404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        if kind == "https":
            key = os.path.join(workdir, "server-key.pem")
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                 "-out", self.cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                 "-addext", "subjectAltName=IP:127.0.0.1"],
                check=True, capture_output=True,
            )
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.cert, key)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self.url = f"{'https' if kind == 'https' else 'http'}://127.0.0.1:{self.port}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def trust_env(self, workdir):
        """Variables that make curl and wget trust this server's certificate."""
        wgetrc = os.path.join(workdir, "wgetrc")
        with open(wgetrc, "w") as handle:
            handle.write(f"ca_certificate = {self.cert}\n")
        return {"CURL_CA_BUNDLE": self.cert, "WGETRC": wgetrc}

    def close(self):
        if self.kind == "silent":
            self._socket.close()
            for connection in self._held:
                connection.close()
        else:
            self._httpd.shutdown()
            self._httpd.server_close()


def path_without(workdir, *names):
    """A PATH folder holding every program of /usr/bin and /usr/local/bin except NAMES."""
    folder = os.path.join(workdir, "path-without-" + "-".join(names))
    os.makedirs(folder, exist_ok=True)
    for source in ("/usr/local/bin", "/usr/bin"):
        if not os.path.isdir(source):
            continue
        for name in os.listdir(source):
            target = os.path.join(folder, name)
            if name not in names and not os.path.lexists(target):
                os.symlink(os.path.join(source, name), target)
    return folder
