"""The GitHub Action and its installer, run as a runner would run them.

Each test makes a temporary git repository with a bare remote, a local "release" folder holding
target/debug/secretzero under its Linux asset name with a SHA256SUMS, and runs action.yml's steps
through runner.py. Nothing here needs GitHub or the network.

Usage: python tests/ci/test_action.py [NAME_SUBSTRING ...]   (SECRETZERO_BIN overrides the binary)
"""

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    ASSET, BIN, ROOT, Server, Skip, binary_version, check, clean_env, git, has_lockfile_commit,
    make_release, path_without, run_tests, write,
)
from runner import run_action  # noqa: E402

INSTALL = os.path.join(ROOT, "dist", "install.sh")

SECRETFILE = """\
version: "1.0"
metadata:
  name: ci-test
secrets:
  api_key:
    generator: {type: random-string, length: 40}
    rotation_period: 90d
    targets:
      - {type: local-file, path: .env}
  session_secret:
    generator: {type: random-password, length: 48}
    rotation_period: 30d
    targets:
      - {type: local-file, path: .env}
      - {type: local-file, path: config.json}
"""

BROKEN_SECRETFILE = """\
version: "1.0"
secrets:
  api_key:
    generator: {type: random-pasword, length: 40}
    targets:
      - {type: local-file, path: .env}
"""

TESTS = []


def test(function):
    TESTS.append(function)
    return function


class World:
    """A temporary machine: HOME without git identity, a bare remote, a clone, a release."""

    def __init__(self, folder, secretfile=SECRETFILE):
        self.dir = folder
        self.home = os.path.join(self.dir, "home")
        os.makedirs(self.home)
        self.env = clean_env(self.home)
        self.env.update({
            "GITHUB_REF_NAME": "main",
            "GITHUB_ACTION_REPOSITORY": "example/secretzero",
            "SECRETZERO_RELEASE_URL": "file://" + os.path.join(self.dir, "release"),
        })
        self.release = make_release(os.path.join(self.dir, "release"))
        self.remote = os.path.join(self.dir, "remote.git")
        git(self.dir, "init", "--quiet", "--bare", "--initial-branch=main", self.remote)
        seed = self.clone("seed")
        write(seed, "Secretfile.yml", secretfile)
        write(seed, ".gitignore", ".env\nconfig.json\n")
        git(seed, "add", ".")
        self.commit(seed, "Add the Secretfile")
        git(seed, "push", "--quiet", "origin", "main")

    def clone(self, name):
        path = os.path.join(self.dir, name)
        git(self.dir, "clone", "--quiet", self.remote, path, env=self.env)
        return path

    def commit(self, repo, message):
        git(repo, "-c", "user.name=Test", "-c", "user.email=test@example.invalid",
            "commit", "--quiet", "-m", message, env=self.env)

    def run(self, workspace, runner_name="runner", **inputs):
        runner_dir = os.path.join(self.dir, runner_name)
        shutil.rmtree(runner_dir, ignore_errors=True)
        os.makedirs(runner_dir)
        env = dict(self.env)
        env["RUNNER_TOOL_CACHE"] = os.path.join(self.dir, "tool-cache")
        inputs = {k.replace("_", "-"): v for k, v in inputs.items()}
        return run_action(ROOT, workspace, inputs, env, runner_dir)

    def install(self, cwd=None, **extra):
        """Runs dist/install.sh alone, as the install step does; returns the process."""
        env = dict(self.env)
        env.update(
            RUNNER_TOOL_CACHE=os.path.join(self.dir, "tool-cache"),
            RUNNER_TEMP=self.dir,
            GITHUB_PATH=os.path.join(self.dir, "github-path"),
            GITHUB_OUTPUT=os.path.join(self.dir, "github-output"),
        )
        env.update(extra)
        for name in ("github-path", "github-output"):
            open(os.path.join(self.dir, name), "w").close()
        return subprocess.run(["bash", INSTALL], env=env, capture_output=True, text=True,
                              cwd=cwd, timeout=120)

    def cargo_stub(self):
        """A stand-in cargo that records its arguments and "builds" by copying the real binary;
        returns the folder to put in front of PATH."""
        stub_dir = os.path.join(self.dir, "stub")
        os.makedirs(stub_dir, exist_ok=True)
        write(stub_dir, "cargo",
              "#!/usr/bin/env bash\n"
              f"printf '%s\\n' \"$@\" > {self.dir}/cargo-args\n"
              'while [[ $# -gt 0 ]]; do [[ $1 == --root ]] && root=$2; shift; done\n'
              f'mkdir -p "$root/bin" && cp {BIN} "$root/bin/secretzero"\n')
        os.chmod(os.path.join(stub_dir, "cargo"), 0o755)
        return stub_dir

    def read(self, name):
        path = os.path.join(self.dir, name)
        return open(path).read() if os.path.exists(path) else ""

    def cache_entries(self):
        root = os.path.join(self.dir, "tool-cache")
        return sorted(
            os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs
        )


def show(result):
    return (f"exit {result.exit_code}\noutputs: {json.dumps(result.outputs, indent=1)}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}\n--- summary\n{result.summary}")


# ---- the installer ---------------------------------------------------------------------------


@test
def installer_verifies_caches_and_adds_to_path(world):
    version = binary_version()
    done = world.install(SECRETZERO_VERSION="v" + version)
    check(done.returncode == 0, "a good checksum must install", done.stderr)
    installed = done.stdout.strip()
    expected = os.path.join(world.dir, "tool-cache", "secretzero", version, "x86_64-unknown-linux-musl")
    check(installed == os.path.join(expected, "secretzero"), "wrong install path", installed)
    check("checksum verified" in done.stderr, "no checksum line", done.stderr)
    check(world.read("github-path").split("\n")[0] == expected, "GITHUB_PATH", world.read("github-path"))
    check(f"bin={installed}\n" in world.read("github-output"), "bin output", world.read("github-output"))
    check(f"version={version}\n" in world.read("github-output"), "version output")

    # The second install of the same version comes from the cache, not the release folder.
    os.remove(os.path.join(world.release, ASSET))
    again = world.install(SECRETZERO_VERSION=version)
    check(again.returncode == 0 and "in the cache" in again.stderr, "cache not used", again.stderr)


@test
def installer_refuses_a_bad_checksum(world):
    make_release(world.release, corrupt=True)
    done = world.install(SECRETZERO_VERSION="latest")
    check(done.returncode != 0, "a checksum mismatch must fail", done.stdout, done.stderr)
    check("checksum mismatch for " + ASSET in done.stderr, "no clear message", done.stderr)
    check("nothing was installed" in done.stderr, "message must say nothing was installed")
    check(done.stdout == "", "nothing on stdout", done.stdout)
    check(world.cache_entries() == [], "the cache must stay empty", world.cache_entries())
    check(world.read("github-path") == "", "GITHUB_PATH must stay empty", world.read("github-path"))
    check(world.read("github-output") == "", "no outputs", world.read("github-output"))


@test
def the_action_stops_on_a_bad_checksum(world):
    make_release(world.release, corrupt=True)
    repo = world.clone("pr")
    result = world.run(repo, command="validate")
    check(result.exit_code != 0, "the job must fail", show(result))
    check([step["id"] for step in result.steps] == ["install"], "no step after the install")
    check("checksum mismatch for " + ASSET in result.stderr, "message", result.stderr)
    check(result.path == [], "nothing added to PATH", result.path)
    check(world.cache_entries() == [], "nothing cached", world.cache_entries())


@test
def installer_without_source_stops_when_the_release_has_no_asset(world):
    make_release(world.release, listed=False)
    done = world.install(SECRETZERO_VERSION="latest")
    check(done.returncode == 1, "no asset and no source must fail", done.stderr)
    check("secretzero-install: error: the release latest has no asset " + ASSET
          + " (its SHA256SUMS has no line for it), and there is no source to build"
          " (SECRETZERO_SOURCE_DIR)\n" in done.stderr, "message", done.stderr)
    check("downloading " + ASSET not in done.stderr, "an unlisted asset is never downloaded",
          done.stderr)
    check(world.cache_entries() == [], "the cache must stay empty", world.cache_entries())


@test
def installer_fails_at_once_when_the_release_does_not_exist(world):
    # A missing release is not "no asset for this platform": nothing is built, cargo never runs.
    stub_dir = world.cargo_stub()
    for url in ("file://" + os.path.join(world.dir, "{version}"), world.release + "/{version}"):
        done = world.install(SECRETZERO_VERSION="v9.9.9", SECRETZERO_RELEASE_URL=url,
                             SECRETZERO_SOURCE_DIR=ROOT,
                             PATH=stub_dir + os.pathsep + os.environ["PATH"])
        base = url.replace("{version}", "v9.9.9")
        check(done.returncode == 1, "a missing release must fail", url, done.stderr)
        check(f"secretzero-install: error: no release v9.9.9 at {base} (it has no SHA256SUMS: "
              f"no such file: {base.replace('file://', '')}/SHA256SUMS)\n" in done.stderr,
              "message", done.stderr)
        check("secretzero-install: hint: check SECRETZERO_VERSION, and that "
              "SECRETZERO_RELEASE_URL holds the release's assets\n" in done.stderr, "hint",
              done.stderr)
        check(not os.path.exists(os.path.join(world.dir, "cargo-args")), "cargo must not run")
        check(world.cache_entries() == [], "nothing cached", world.cache_entries())


@test
def installer_builds_from_source_only_when_asked(world):
    stub_dir = world.cargo_stub()
    done = world.install(SECRETZERO_VERSION="source", SECRETZERO_SOURCE_DIR=ROOT,
                         SECRETZERO_RELEASE_URL=os.path.join(world.dir, "nowhere"),
                         PATH=stub_dir + os.pathsep + os.environ["PATH"])
    check(done.returncode == 0, "version source must build", done.stderr)
    check("version `source` was asked for; building from source with cargo install" in done.stderr,
          "reason", done.stderr)
    check("downloading" not in done.stderr, "nothing is downloaded", done.stderr)
    args = world.read("cargo-args").split("\n")
    check(args[:5] == ["install", "--locked", "--all-features", "--path", ROOT], "cargo args", args)
    expected = os.path.join(world.dir, "tool-cache", "secretzero", binary_version(),
                            "source-x86_64", "secretzero")
    check(done.stdout.strip() == expected, "a source build is cached apart", done.stdout)


@test
def installer_reads_a_relative_release_folder(world):
    # Anything without `://` is a folder, relative to the current one.
    make_release(os.path.join(world.dir, "mirror", "v" + binary_version()))
    done = world.install(cwd=world.dir, SECRETZERO_VERSION=binary_version(),
                         SECRETZERO_RELEASE_URL="mirror/{version}")
    check(done.returncode == 0, "a relative release folder must install", done.stderr)
    base = os.path.join(world.dir, "mirror", "v" + binary_version())
    check(f"downloading SHA256SUMS of v{binary_version()} from {base}\n" in done.stderr,
          "the folder is resolved against the current folder", done.stderr)
    check("checksum verified" in done.stderr, "verified", done.stderr)


def downloaders(world):
    """(name, PATH) for curl alone and for wget alone."""
    return [("curl", path_without(world.dir, "wget")), ("wget", path_without(world.dir, "curl"))]


@test
def installer_downloads_alike_with_curl_and_wget(world):
    web = os.path.join(world.dir, "web")
    make_release(os.path.join(web, "v" + binary_version()))
    plain = Server(world.dir, "http", folder=web)
    secure = Server(world.dir, "https", folder=web, redirects={
        "/to-http/v0.1.0/SHA256SUMS": plain.url + "/v0.1.0/SHA256SUMS",
        "/moved/v0.1.0/SHA256SUMS": "/v0.1.0/SHA256SUMS",
        "/moved/v0.1.0/" + ASSET: "/v0.1.0/" + ASSET,
    })
    closed = Server(world.dir, "http")
    closed.close()  # a port nobody listens on: no network
    version = "v" + binary_version()
    check(version == "v0.1.0", "the redirects above assume version 0.1.0", version)
    try:
        for tool, path in downloaders(world):
            def install(url, **extra):
                shutil.rmtree(os.path.join(world.dir, "tool-cache"), ignore_errors=True)
                settings = {"PATH": path, "SECRETZERO_VERSION": version,
                            "SECRETZERO_RELEASE_URL": url, "SECRETZERO_CONNECT_TIMEOUT": "2",
                            "SECRETZERO_DOWNLOAD_RETRIES": "0", **secure.trust_env(world.dir)}
                settings.update(extra)
                return world.install(**settings)

            def error(done, line):
                check(done.returncode == 1, f"{tool}: must fail", done.stderr)
                check(f"secretzero-install: error: {line}\n" in done.stderr,
                      f"{tool}: message", line, done.stderr)
                check(world.cache_entries() == [], f"{tool}: nothing cached")

            done = install(secure.url + "/{version}")
            check(done.returncode == 0 and "checksum verified" in done.stderr,
                  f"{tool}: https install", done.stderr)
            done = install(secure.url + "/moved/{version}")
            check(done.returncode == 0, f"{tool}: https redirects are followed", done.stderr)
            done = install(secure.url + "/{version}", SECRETZERO_VERSION="v9.9.9")
            error(done, f"no release v9.9.9 at {secure.url}/v9.9.9 (it has no SHA256SUMS: "
                  "not found (HTTP 404))")
            done = install(plain.url + "/{version}")
            error(done, f"the release URL {plain.url}/v0.1.0 is neither https:// nor file://")
            done = install(secure.url + "/to-http/{version}")
            error(done, f"could not download {secure.url}/to-http/v0.1.0/SHA256SUMS: redirected "
                  f"to {plain.url}/v0.1.0/SHA256SUMS, refused: only https:// is used; nothing "
                  "was installed")
            done = install(f"https://127.0.0.1:{closed.port}/{{version}}")
            check(done.returncode == 1, f"{tool}: no network must fail", done.stderr)
            check(re.search(rf"secretzero-install: error: could not download https://127\.0\.0\.1:"
                            rf"{closed.port}/v0\.1\.0/SHA256SUMS: .*(refused|connect).*; nothing "
                            r"was installed\n", done.stderr), f"{tool}: message", done.stderr)
            check("building from source" not in done.stderr, f"{tool}: no network is no build")
        check(plain.requests == [], "nothing may be asked over plain http", plain.requests)
    finally:
        plain.close()
        secure.close()


@test
def installer_gives_up_on_a_silent_server(world):
    # A server that accepts connections and never answers: bounded time, then a clear error.
    silent = Server(world.dir, "silent")
    stub_dir = world.cargo_stub()
    try:
        for tool, path in downloaders(world):
            began = time.monotonic()
            done = world.install(PATH=stub_dir + os.pathsep + path, SECRETZERO_VERSION="v0.1.0",
                                 SECRETZERO_RELEASE_URL=silent.url + "/{version}",
                                 SECRETZERO_SOURCE_DIR=ROOT, SECRETZERO_CONNECT_TIMEOUT="1",
                                 SECRETZERO_DOWNLOAD_TIMEOUT="2", SECRETZERO_DOWNLOAD_RETRIES="1")
            took = time.monotonic() - began
            check(done.returncode == 1, f"{tool}: must fail", done.stderr)
            check(took < 30, f"{tool}: took {took:.0f}s", done.stderr)
            check(f"secretzero-install: error: could not download {silent.url}/v0.1.0/SHA256SUMS: "
                  in done.stderr, f"{tool}: message", done.stderr)
            check("; nothing was installed\nsecretzero-install: hint: check the runner's network "
                  f"access to {silent.url}/v0.1.0, then re-run the job\n" in done.stderr,
                  f"{tool}: hint", done.stderr)
            check(not os.path.exists(os.path.join(world.dir, "cargo-args")), "cargo must not run")
    finally:
        silent.close()


@test
def installer_builds_from_source_when_no_asset_exists(world):
    # A stand-in cargo records its arguments and "builds" by copying the real binary.
    stub_dir = os.path.join(world.dir, "stub")
    os.makedirs(stub_dir)
    log = os.path.join(world.dir, "cargo-args")
    with open(os.path.join(stub_dir, "cargo"), "w") as handle:
        handle.write(
            "#!/usr/bin/env bash\n"
            f"printf '%s\\n' \"$@\" > {log}\n"
            'while [[ $# -gt 0 ]]; do [[ $1 == --root ]] && root=$2; shift; done\n'
            f'mkdir -p "$root/bin" && cp {BIN} "$root/bin/secretzero"\n'
        )
    os.chmod(os.path.join(stub_dir, "cargo"), 0o755)
    done = world.install(
        SECRETZERO_VERSION="latest",
        SECRETZERO_PLATFORM="riscv64gc-unknown-linux-musl",
        GITHUB_ACTION_PATH=ROOT,
        PATH=stub_dir + os.pathsep + os.environ["PATH"],
    )
    check(done.returncode == 0, "the cargo fallback must install", done.stderr)
    args = world.read("cargo-args").split("\n")
    check(args[:5] == ["install", "--locked", "--all-features", "--path", ROOT], "cargo args", args)
    check("has no asset secretzero-riscv64gc-unknown-linux-musl" in done.stderr, "reason", done.stderr)
    check(os.path.exists(done.stdout.strip()), "installed binary", done.stdout)


@test
def action_downloads_its_own_release_and_falls_back_to_source(world):
    # Stand-ins record what they were asked: curl serves a SHA256SUMS without this platform's
    # line (the release exists, with no asset for it) and 404 for anything else; cargo "builds"
    # by copying the real binary. The Action's tag picks the release.
    stubs = os.path.join(world.dir, "stubs")
    os.makedirs(stubs)
    write(stubs, "curl", f"#!/usr/bin/env bash\nprintf '%s\\n' \"$@\" >> {world.dir}/curl-args\n"
          'while [[ $# -gt 1 ]]; do [[ $1 == --output ]] && out=$2; shift; done\n'
          'if [[ $1 == */SHA256SUMS ]]; then\n'
          '  printf "%064d  secretzero-x86_64-apple-darwin\\n" 0 > "$out"; printf "200 "\n'
          'else printf "404 "; fi\n')
    write(stubs, "cargo", "#!/usr/bin/env bash\n"
          'while [[ $# -gt 0 ]]; do [[ $1 == --root ]] && root=$2; shift; done\n'
          f'mkdir -p "$root/bin" && cp {BIN} "$root/bin/secretzero"\n')
    for name in ("curl", "cargo"):
        os.chmod(os.path.join(stubs, name), 0o755)
    del world.env["SECRETZERO_RELEASE_URL"]
    world.env["PATH"] = stubs + os.pathsep + world.env["PATH"]
    world.env["GITHUB_ACTION_REF"] = "v" + binary_version()
    repo = world.clone("pr")
    result = world.run(repo, command="validate")
    check(result.exit_code == 0, "the Action must run with the source build", show(result))
    url = f"https://github.com/example/secretzero/releases/download/v{binary_version()}/"
    asked = world.read("curl-args").split("\n")
    check(url + "SHA256SUMS" in asked, "the release's SHA256SUMS", asked)
    check(url + ASSET not in asked, "an asset missing from SHA256SUMS is not downloaded", asked)
    check(f"the release v{binary_version()} has no asset {ASSET} (its SHA256SUMS has no line for "
          "it); building from source with cargo install" in result.stderr, "fallback",
          result.stderr)
    check(result.outputs["version"] == binary_version(), "version output", show(result))


@test
def the_action_stops_at_once_when_its_release_is_missing(world):
    stubs = os.path.join(world.dir, "stubs")
    os.makedirs(stubs)
    write(stubs, "curl", "#!/usr/bin/env bash\nprintf '404 '\n")
    for name in ("curl",):
        os.chmod(os.path.join(stubs, name), 0o755)
    stub_dir = world.cargo_stub()
    del world.env["SECRETZERO_RELEASE_URL"]
    world.env["PATH"] = stubs + os.pathsep + stub_dir + os.pathsep + world.env["PATH"]
    repo = world.clone("pr")
    result = world.run(repo, command="validate", version="v9.9.9")
    check(result.exit_code == 1, "a missing release fails the install step", show(result))
    check([step["id"] for step in result.steps] == ["install"], "no step after the install")
    check("secretzero-install: error: no release v9.9.9 at https://github.com/example/secretzero/"
          "releases/download/v9.9.9 (it has no SHA256SUMS: not found (HTTP 404))\n"
          "secretzero-install: hint: the releases are listed at "
          "https://github.com/example/secretzero/releases\n" in result.stderr, "message",
          result.stderr)
    check(not os.path.exists(os.path.join(world.dir, "cargo-args")), "cargo must not run")


@test
def installer_uses_a_local_binary(world):
    done = world.install(SECRETZERO_VERSION=os.path.dirname(BIN) + "/")
    check(done.returncode == 0 and done.stdout.strip() == BIN, "a folder path", done.stdout, done.stderr)
    done = world.install(SECRETZERO_VERSION="local",
                         PATH=os.path.dirname(BIN) + os.pathsep + os.environ["PATH"])
    check(done.returncode == 0 and done.stdout.strip() == BIN, "local", done.stdout, done.stderr)
    done = world.install(SECRETZERO_VERSION="1.2")
    check(done.returncode != 0 and "is not `latest`" in done.stderr, "a bad version", done.stderr)


# ---- the Action: checks ----------------------------------------------------------------------


@test
def pull_request_checks_write_every_report(world):
    repo = world.clone("pr")
    sarif = "reports/secretzero.sarif"
    result = world.run(repo, command="validate, policy drift,plan", sarif_file=sarif)
    check(result.exit_code == 0, "drift alone must not fail by default", show(result))
    out = result.outputs
    check(out["drift-detected"] == "true", "drift-detected", show(result))
    check((out["errors"], out["warnings"], out["notes"]) == ("0", "2", "0"), "counts", show(result))
    check(out["plan-changes"] == "3", "plan-changes (3 targets to create)", show(result))
    check(out["lockfile-changed"] == "false" and out["commit-sha"] == "", "no writes", show(result))
    check(out["exit-code"] == "0", "exit-code output", show(result))
    check(out["sarif-file"] == os.path.join(repo, sarif), "sarif-file output", out["sarif-file"])
    check(out["version"] == binary_version(), "version output", out["version"])

    doc = json.load(open(out["sarif-file"]))
    ids = [run["automationDetails"]["id"] for run in doc["runs"]]
    check(ids == ["secretzero/validate/", "secretzero/policy/", "secretzero/drift/"], "runs", ids)
    check(doc["version"] == "2.1.0" and "$schema" in doc, "SARIF header", list(doc))

    annotation = "::warning file=Secretfile.yml,line=5,col=3,title=drift/not-synced::"
    check(annotation in result.stdout, "annotation on the secret's line", result.stdout)
    for heading in ("secretzero validate", "secretzero policy", "secretzero drift",
                    "secretzero sync --dry-run"):
        check(f"::group::{heading}\n" in result.stdout, f"log group {heading}", result.stdout)
    check("SecretZero sync plan" in result.summary, "plan in the summary", result.summary)
    check("drift/not-synced" in result.summary, "drift findings in the summary", result.summary)
    check(result.path and result.path[0].endswith("x86_64-unknown-linux-musl"), "PATH", result.path)
    check(not os.path.exists(os.path.join(repo, ".env")), "checks must write no target")


@test
def drift_fails_only_when_asked(world):
    repo = world.clone("pr")
    result = world.run(repo, command="drift", fail_on_drift="true", annotations="off",
                       summary="off")
    check(result.exit_code == 4, "fail-on-drift: true must exit 4", show(result))
    check(result.outputs["exit-code"] == "4", "exit-code output", show(result))
    check("::warning" not in result.stdout, "annotations off", result.stdout)
    check(result.summary == "", "summary off", result.summary)


@test
def a_failing_stage_does_not_stop_the_others(world):
    repo = world.clone("pr")
    write(repo, "Secretfile.yml", BROKEN_SECRETFILE)
    result = world.run(repo, command="validate policy drift")
    check(result.exit_code in (1, 5), "must fail with the validation's code", show(result))
    check(int(result.outputs["errors"]) >= 1, "errors counted", show(result))
    doc = json.load(open(result.outputs["sarif-file"]))
    ids = [run["automationDetails"]["id"] for run in doc["runs"]]
    check(ids == ["secretzero/validate/", "secretzero/policy/", "secretzero/drift/"],
          "every stage still wrote its SARIF run", ids)
    check("::error file=Secretfile.yml,line=4" in result.stdout, "error annotation", result.stdout)
    check(result.stdout.count("::group::") == 3, "three stages ran", result.stdout)


@test
def rotate_dry_run_reports_without_writing(world):
    repo = world.clone("pr")
    result = world.run(repo, command="rotate", args="--dry-run", commit_lockfile="true")
    check(result.exit_code == 0, "rotate --dry-run", show(result))
    check("::group::secretzero rotate --dry-run\n" in result.stdout, "ran as a dry run", result.stdout)
    doc = json.load(open(result.outputs["sarif-file"]))
    ids = [run["automationDetails"]["id"] for run in doc["runs"]]
    check(ids == ["secretzero/rotation/"], "a rotation SARIF run", ids)
    check(result.outputs["lockfile-changed"] == "false", "nothing written", show(result))
    check("lockfile commit" not in result.stdout, "a dry run commits nothing", result.stdout)
    check(not os.path.exists(os.path.join(repo, ".gitsecrets.lock")), "no lockfile written")


@test
def a_stage_without_a_report_is_named_in_the_summary(world):
    repo = world.clone("pr")
    write(repo, "Secretfile.yml", BROKEN_SECRETFILE)
    result = world.run(repo, command="validate drift")
    check(result.exit_code != 0, "the broken Secretfile fails", show(result))
    check("secretfile/unknown-generator" in result.summary, "validate's summary", result.summary)
    # Its own report, or the Action's line saying it exited before writing one.
    check("## SecretZero drift\n" in result.summary, "drift is missing from the summary",
          result.summary)


@test
def bad_inputs_are_refused_before_anything_runs(world):
    repo = world.clone("pr")
    result = world.run(repo, command="validate deploy")
    check(result.exit_code == 2, "an unknown stage is a usage error", show(result))
    check("::error title=SecretZero::unknown command `deploy`" in result.stdout, "message", result.stdout)
    check("::group::" not in result.stdout, "no stage may run", result.stdout)
    result = world.run(repo, summary="maybe")
    check(result.exit_code == 2 and "input summary must be on or off" in result.stdout, "switch", show(result))


@test
def refused_inputs_still_write_the_outputs(world):
    repo = world.clone("pr")
    refused = {"errors": "", "warnings": "", "notes": "", "drift-detected": "false",
               "plan-changes": "", "lockfile-changed": "false", "commit-sha": "",
               "sarif-file": "", "exit-code": "2"}
    # fail-on is checked up front, also when no policy stage runs.
    result = world.run(repo, command="validate", fail_on="bogus")
    check(result.exit_code == 2, "a bad fail-on is a usage error", show(result))
    check("::error title=SecretZero::input fail-on must be error, warning or never, not `bogus`\n"
          in result.stdout, "message", result.stdout)
    check("::group::" not in result.stdout, "no stage may run", result.stdout)
    for inputs in ({"command": "validate", "fail_on": "bogus"}, {"command": "deploy"},
                   {"annotations": "maybe"}, {"args": "-s 'api_key"}):
        result = world.run(repo, **inputs)
        check(result.exit_code == 2, "refused", inputs, show(result))
        outputs = {k: v for k, v in result.outputs.items() if k != "version"}
        check(outputs == refused, "the outputs of a refused run", inputs, outputs)
    for level in ("error", "warning", "never"):
        result = world.run(repo, command="validate", fail_on=level)
        check(result.exit_code == 0, f"fail-on {level} is accepted", show(result))


@test
def every_stage_takes_the_global_options_and_one_secret_needs_its_own_step(world):
    repo = world.clone("pr")
    result = world.run(repo, command="validate policy drift plan", args="-v")
    check(result.exit_code == 0, "-v works for every stage", show(result))
    check(result.stdout.count("::group::") == 4, "four stages ran", result.stdout)
    result = world.run(repo, command="validate", args="-s api_key")
    check(result.exit_code == 2, "validate takes no -s: why the docs give it a step of its own",
          show(result))
    # The documented step: command sync with args -s api_key writes that secret alone.
    result = world.run(repo, command="sync", args="-s api_key")
    check(result.exit_code == 0, "sync -s api_key", show(result))
    check(sorted(env_values(repo)) == ["API_KEY"], "only api_key is written", env_values(repo))


@test
def args_are_split_but_never_evaluated(world):
    repo = world.clone("pr")
    canary = os.path.join(world.dir, "pwned")
    result = world.run(repo, command="plan",
                       args=f"-s 'api_key' --secret \"session_secret\" $(touch {canary}) `touch {canary}`")
    check(not os.path.exists(canary), "args were evaluated by a shell", show(result))
    check(result.exit_code == 2, "the literal `$(touch` is an unknown argument", show(result))

    result = world.run(repo, command="plan", args="-s api_key")
    check(result.exit_code == 0 and result.outputs["plan-changes"] == "1", "-s api_key", show(result))
    result = world.run(repo, command="plan", args="-s 'api_key")
    check(result.exit_code == 2 and "could not be split" in result.stdout, "unmatched quote", show(result))


@test
def working_directory_and_secretfile(world):
    repo = world.clone("pr")
    os.makedirs(os.path.join(repo, "deploy"))
    os.rename(os.path.join(repo, "Secretfile.yml"), os.path.join(repo, "deploy", "secrets.yml"))
    result = world.run(repo, command="validate", working_directory="deploy", secretfile="secrets.yml")
    check(result.exit_code == 0, "validate in a subfolder", show(result))
    result = world.run(repo, command="validate", working_directory="deploy")
    check(result.exit_code == 5, "the default Secretfile.yml is missing there", show(result))
    check("## SecretZero validate\n\nExited with code 5 before writing a report" in result.summary,
          "a stage without a report is named in the summary", result.summary)
    check(result.outputs["sarif-file"] == "", "no SARIF file without a report", show(result))


# ---- the Action: sync, rotate and commit-back -----------------------------------------------


def env_values(repo):
    values = {}
    for line in open(os.path.join(repo, ".env")):
        if "=" in line:
            key, value = line.rstrip("\n").split("=", 1)
            values[key] = value.strip("'\"")
    return values


@test
def sync_masks_values_and_commits_the_lockfile(world):
    if not has_lockfile_commit():
        raise Skip("this build has no `secretzero lockfile commit`")
    repo = world.clone("main")
    result = world.run(repo, command="sync", commit_lockfile="true")
    check(result.exit_code == 0, "sync with commit-back", show(result))
    out = result.outputs
    check(out["lockfile-changed"] == "true", "lockfile-changed", show(result))
    head = git(world.remote, "rev-parse", "main")
    check(out["commit-sha"] == head, "commit-sha is the remote's head", out["commit-sha"], head)
    files = git(world.remote, "show", "--name-only", "--format=", head).split("\n")
    check(files == [".gitsecrets.lock"], "only the lockfile is committed", files)
    subject = git(world.remote, "log", "-1", "--format=%s", head)
    check(subject == "Update .gitsecrets.lock [skip ci]", "default message", subject)
    author = git(world.remote, "log", "-1", "--format=%an <%ae>", head)
    check("github-actions[bot]" in author, "GitHub's bot identity without a git identity", author)
    check(f"Committed and pushed {head}" in result.summary, "commit in the summary", result.summary)

    # Every value is masked before anything else, and appears nowhere but in its mask line.
    values = env_values(repo)
    check(len(values) == 2, ".env holds both values", values)
    sync_out = result.steps[1]["stdout"].split("::group::secretzero sync\n", 1)[1]
    masks = [line for line in sync_out.split("\n") if line.startswith("::add-mask::")]
    check(sync_out.startswith("::add-mask::"), "masks come first", sync_out)
    for value in values.values():
        check(f"::add-mask::{value}" in masks, "value not masked", value)
        check(value not in result.stderr, "a value leaked to stderr")
        check(result.stdout.count(value) == 1, "a value leaked to stdout beyond its mask")
        check(value not in result.summary, "a value leaked to the summary")

    # Nothing changed: no commit, no output.
    again = world.run(repo, command="sync", commit_lockfile="true")
    check(again.exit_code == 0 and again.outputs["lockfile-changed"] == "false", "rerun", show(again))
    check(again.outputs["commit-sha"] == "", "no commit when unchanged", show(again))
    check(git(world.remote, "rev-parse", "main") == head, "the remote must not move")


@test
def concurrent_rotations_of_different_secrets_both_land(world):
    if not has_lockfile_commit():
        raise Skip("this build has no `secretzero lockfile commit`")
    base = world.clone("base")
    first = world.run(base, command="sync", commit_lockfile="true", commit_message="Sync [skip ci]")
    check(first.exit_code == 0, "initial sync", show(first))
    check(git(world.remote, "log", "-1", "--format=%s", "main") == "Sync [skip ci]", "commit-message")
    a, b = world.clone("a"), world.clone("b")
    ra = world.run(a, "runner-a", command="rotate", args="--force -s api_key", commit_lockfile="true")
    check(ra.exit_code == 0 and ra.outputs["commit-sha"], "first rotation", show(ra))
    rb = world.run(b, "runner-b", command="rotate", args="--force -s session_secret",
                   commit_lockfile="true")
    check(rb.exit_code == 0 and rb.outputs["commit-sha"], "second rotation after a rebase", show(rb))
    check(git(world.remote, "rev-parse", "main") == rb.outputs["commit-sha"], "b's commit on top")
    lock = json.loads(git(world.remote, "show", "main:.gitsecrets.lock"))
    text = json.dumps(lock)
    check(text.count('"rotation_count": 1') == 2 or text.count('"rotation_count":1') == 2,
          "both rotations must be recorded", text[:2000])


@test
def simultaneous_runs_both_land(world):
    if not has_lockfile_commit():
        raise Skip("this build has no `secretzero lockfile commit`")
    base = world.clone("base")
    check(world.run(base, command="sync", commit_lockfile="true").exit_code == 0, "initial sync")
    a, b = world.clone("a"), world.clone("b")
    results = {}

    def rotate(repo, runner, secret):
        results[secret] = world.run(repo, runner, command="rotate", args=f"--force -s {secret}",
                                    commit_lockfile="true")

    threads = [threading.Thread(target=rotate, args=(a, "runner-a", "api_key")),
               threading.Thread(target=rotate, args=(b, "runner-b", "session_secret"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for secret, result in results.items():
        check(result.exit_code == 0 and result.outputs["commit-sha"], f"{secret} run", show(result))
    log = git(world.remote, "log", "--format=%H", "main").split("\n")
    for result in results.values():
        check(result.outputs["commit-sha"] in log, "each pushed commit is on main", log)
    lock = json.dumps(json.loads(git(world.remote, "show", "main:.gitsecrets.lock")))
    check(lock.count('"rotation_count": 1') == 2, "both rotations are recorded", lock[:2000])


@test
def concurrent_rotations_of_the_same_secret_fail_cleanly(world):
    if not has_lockfile_commit():
        raise Skip("this build has no `secretzero lockfile commit`")
    base = world.clone("base")
    check(world.run(base, command="sync", commit_lockfile="true").exit_code == 0, "initial sync")
    a, b = world.clone("a"), world.clone("b")
    ra = world.run(a, "runner-a", command="rotate", args="--force -s api_key", commit_lockfile="true")
    check(ra.exit_code == 0, "first rotation", show(ra))
    rb = world.run(b, "runner-b", command="rotate", args="--force -s api_key", commit_lockfile="true")
    check(rb.exit_code == 1, "the second run must fail", show(rb))
    check("api_key" in rb.stderr, "the failure names the secret", rb.stderr)
    check(rb.outputs["commit-sha"] == "", "nothing pushed", show(rb))
    check(git(world.remote, "rev-parse", "main") == ra.outputs["commit-sha"], "the remote keeps a's")


if __name__ == "__main__":
    sys.exit(run_tests("action", TESTS, World))
