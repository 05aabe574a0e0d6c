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
