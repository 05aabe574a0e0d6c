"""The GitLab template's jobs, run by gitlab-ci-local in shell mode.

Each test makes a project that includes .gitlab-ci-template.yml, with a bare remote that stands
in for GitLab. Two things differ from a real GitLab runner, both on purpose:

- The template's `image:` line is removed from the copy: gitlab-ci-local runs a job in the shell
  only when it has no image, and this machine has no container engine. Every other line runs as
  written.
- `origin` is `https://gitlab.example.com/group/project.git`, from which gitlab-ci-local derives
  CI_SERVER_URL and CI_PROJECT_PATH; a git `insteadOf` rule maps the URL the template builds with
  the push token onto the bare remote, so the commit-back pushes through the template's own URL.

Usage: python tests/ci/test_gitlab.py [NAME_SUBSTRING ...]
"""

import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    BIN, ROOT, Server, Skip, check, clean_env, git, has_lockfile_commit, make_release,
    path_without, run_tests, write,
)

GITLAB_CI_LOCAL = os.environ.get(
    "SECRETZERO_GITLAB_CI_LOCAL",
    os.path.join(ROOT, "target", "gitlab-ci-local", "node_modules", ".bin", "gitlab-ci-local"),
)
ORIGIN = "https://gitlab.example.com/group/project.git"
TOKEN = "glpat-canary-7Hk2Qz"
PUSH_URL = f"https://oauth2:{TOKEN}@gitlab.example.com/group/project.git"

SECRETFILE = """\
version: "1.0"
secrets:
  api_key:
    generator: {type: random-string, length: 40}
    rotation_period: 90d
    targets:
      - {type: local-file, path: .env}
"""

TESTS = []


def test(function):
    TESTS.append(function)
    return function


class Project:
    def __init__(self, folder):
        self.dir = folder
        self.home = os.path.join(folder, "home")
        os.makedirs(self.home)
        self.env = clean_env(self.home)
        self.release = make_release(os.path.join(folder, "release"))
        self.remote = os.path.join(folder, "remote.git")
        git(folder, "init", "--quiet", "--bare", "--initial-branch=main", self.remote)
        git(folder, "config", "--file", os.path.join(self.home, ".gitconfig"),
            f"url.{self.remote}.insteadOf", PUSH_URL)

        self.repo = os.path.join(folder, "project")
        git(folder, "init", "--quiet", "--initial-branch=main", self.repo)
        template = open(os.path.join(ROOT, ".gitlab-ci-template.yml")).read()
        shell_only, removed = re.subn(r"(?m)^  image: \$SECRETZERO_IMAGE\n", "", template)
        check(removed == 1, "the template's image line was not found")
        write(self.repo, ".gitlab-ci-template.yml", shell_only)
        write(self.repo, ".gitlab-ci.yml", "include:\n  - local: .gitlab-ci-template.yml\n")
        write(self.repo, ".gitignore", ".env\n.gitlab-ci-local/\nsecretzero-reports/\n")
        write(self.repo, "Secretfile.yml", SECRETFILE)
        git(self.repo, "add", ".")
        self.commit("Add the Secretfile")
        git(self.repo, "push", "--quiet", self.remote, "main")
        git(self.repo, "remote", "add", "origin", ORIGIN)
        git(self.repo, "update-ref", "refs/remotes/origin/main", "HEAD")
        git(self.repo, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")

    def commit(self, message):
        git(self.repo, "-c", "user.name=Test", "-c", "user.email=test@example.invalid",
            "commit", "--quiet", "--all", "-m", message, env=self.env)

    def run(self, *jobs, source="push", **variables):
        """Runs JOBS with gitlab-ci-local; returns (exit code, output)."""
        variables = {"CI_PIPELINE_SOURCE": source, "SECRETZERO_VERSION": "local", **variables}
        command = [GITLAB_CI_LOCAL, "--shell-isolation", "--no-color", "--concurrency", "1"]
        for name, value in variables.items():
            command += ["--variable", f"{name}={value}"]
        env = dict(self.env)
        env["PATH"] = os.path.dirname(BIN) + os.pathsep + env["PATH"]
        done = subprocess.run(command + list(jobs), cwd=self.repo, env=env, capture_output=True,
                              text=True, timeout=300)
        return done.returncode, done.stdout + done.stderr

    def jobs(self, source):
        """The jobs a pipeline of this source would run, by name."""
        done = subprocess.run(
            [GITLAB_CI_LOCAL, "--list-json", "--variable", f"CI_PIPELINE_SOURCE={source}"],
            cwd=self.repo, env=self.env, capture_output=True, text=True, timeout=120,
        )
        check(done.returncode == 0, "gitlab-ci-local --list-json failed", done.stderr)
        listed = json.loads(done.stdout[done.stdout.index("["):])
        return sorted(job["name"] for job in listed if job["when"] != "never")

    def artifact(self, job, name):
        path = os.path.join(self.repo, ".gitlab-ci-local", "artifacts", job, "secretzero-reports",
                            name)
        check(os.path.exists(path), f"{job} exported no artifact {name}",
              sorted(os.listdir(os.path.dirname(path))) if os.path.isdir(os.path.dirname(path))
              else "no artifact folder")
        return open(path).read()


@test
def pipelines_pick_their_jobs(project):
    checks = ["secretzero-drift", "secretzero-plan", "secretzero-policy", "secretzero-validate"]
    check(project.jobs("merge_request_event") == checks, "merge request jobs",
          project.jobs("merge_request_event"))
    check(project.jobs("push") == ["secretzero-sync"], "push to main", project.jobs("push"))
    check(project.jobs("schedule") == ["secretzero-rotate"], "schedule", project.jobs("schedule"))


@test
def merge_request_checks_publish_reports(project):
    code, out = project.run("secretzero-validate", "secretzero-policy", "secretzero-drift",
                            "secretzero-plan", source="merge_request_event")
    check(code == 0, "drift alone must not fail the pipeline", out)
    check(re.search(r"WARN\s+secretzero-drift", out), "drift is a warning (exit 4 allowed)", out)
    for job in ("secretzero-validate", "secretzero-policy", "secretzero-plan"):
        check(re.search(rf"PASS\s+{job}\b", out), f"{job} must pass", out)

    quality = json.loads(project.artifact("secretzero-drift", "drift.codequality.json"))
    check([issue["check_name"] for issue in quality] == ["drift/not-synced"], "Code Quality", quality)
    check(quality[0]["location"] == {"lines": {"begin": 3}, "path": "Secretfile.yml"},
          "Code Quality location", quality[0])
    sarif = json.loads(project.artifact("secretzero-drift", "drift.sarif"))
    check(sarif["runs"][0]["automationDetails"]["id"] == "secretzero/drift/", "SARIF run", sarif)
    check(json.loads(project.artifact("secretzero-validate", "validate.codequality.json")) == [],
          "validate: an empty Code Quality report")
    check("SecretZero sync plan" in project.artifact("secretzero-plan", "plan.md"), "plan summary")
    plan = json.loads(project.artifact("secretzero-plan", "plan.json"))
    check(plan["summary"]["create"] == 1, "plan JSON", plan["summary"])


@test
def a_failing_check_still_publishes_its_report(project):
    write(project.repo, "Secretfile.yml", SECRETFILE.replace("random-string", "random-strng"))
    project.commit("Break the Secretfile")
    code, out = project.run("secretzero-validate", source="merge_request_event")
    check(code != 0 and re.search(r"FAIL\s+secretzero-validate", out), "validate must fail", out)
    quality = json.loads(project.artifact("secretzero-validate", "validate.codequality.json"))
    check(quality and quality[0]["check_name"] == "secretfile/unknown-generator", "report", quality)
    check(quality[0]["severity"] in ("major", "critical", "blocker"), "an error", quality[0])


@test
def policy_fails_at_the_chosen_severity(project):
    write(project.repo, "Secretfile.yml", SECRETFILE.replace(
        'version: "1.0"\n', 'version: "1.0"\nmetadata:\n  compliance: [soc2]\n').replace(
        "    rotation_period: 90d\n", ""))
    project.commit("Switch on SOC 2")
    code, out = project.run("secretzero-policy", source="merge_request_event")
    check(code != 0 and re.search(r"FAIL\s+secretzero-policy", out), "policy errors fail", out)
    quality = json.loads(project.artifact("secretzero-policy", "policy.codequality.json"))
    rules = {issue["check_name"] for issue in quality}
    check("soc2/rotation-required" in rules, "the finding is in Code Quality", rules)
    code, out = project.run("secretzero-policy", source="merge_request_event",
                            SECRETZERO_FAIL_ON="never")
    check(code == 0 and re.search(r"PASS\s+secretzero-policy", out), "--fail-on never", out)


@test
def the_release_is_verified_before_it_runs(project):
    release = {"SECRETZERO_VERSION": "latest", "SECRETZERO_RELEASE_URL": "file://" + project.release}
    code, out = project.run("secretzero-validate", source="merge_request_event", **release)
    check(code == 0 and "secretzero 0." in out, "a good release installs and runs", out)

    make_release(project.release, corrupt=True)
    code, out = project.run("secretzero-validate", source="merge_request_event", **release)
    check(code != 0, "a checksum mismatch must fail the job", out)
    check("checksum mismatch for secretzero-x86_64-unknown-linux-musl" in out, "message", out)
    check("> secretzero 0." not in out, "the downloaded binary must never run", out)

    code, out = project.run("secretzero-validate", source="merge_request_event",
                            SECRETZERO_VERSION="latest")
    check(code != 0 and "set SECRETZERO_REPOSITORY" in out, "no release source", out)


@test
def github_releases_are_the_default_source(project):
    # A stand-in curl serves the local release for any URL and records the URLs it was given.
    stubs = os.path.join(project.dir, "stubs")
    write(stubs, "curl", "#!/usr/bin/env bash\n"
          f'printf "%s\\n" "${{@: -1}}" >> {project.dir}/curl-urls\n'
          'while [[ $# -gt 1 ]]; do [[ $1 == -o ]] && out=$2; shift; done\n'
          f'cp "{project.release}/${{1##*/}}" "$out" && printf 200\n')
    os.chmod(os.path.join(stubs, "curl"), 0o755)
    project.env["PATH"] = stubs + os.pathsep + project.env["PATH"]
    code, out = project.run("secretzero-validate", source="merge_request_event",
                            SECRETZERO_VERSION="v9.9.9", SECRETZERO_REPOSITORY="example/secretzero")
    check(code == 0 and "secretzero 0." in out, "install through GitHub releases", out)
    base = "https://github.com/example/secretzero/releases/download/v9.9.9/"
    urls = open(os.path.join(project.dir, "curl-urls")).read().split("\n")
    check(urls[:2] == [base + "SHA256SUMS", base + "secretzero-x86_64-unknown-linux-musl"],
          "release URLs, SHA256SUMS first", urls)


@test
def a_missing_release_or_asset_fails_at_once(project):
    missing = os.path.join(project.dir, "{version}")
    code, out = project.run("secretzero-validate", source="merge_request_event",
                            SECRETZERO_VERSION="v9.9.9", SECRETZERO_RELEASE_URL="file://" + missing)
    check(code != 0, "a missing release must fail", out)
    check(f"error: no release v9.9.9 at file://{project.dir}/v9.9.9 (it has no SHA256SUMS); "
          "check SECRETZERO_VERSION, SECRETZERO_REPOSITORY and SECRETZERO_RELEASE_URL" in out,
          "message", out)

    # A relative folder is a folder in the project, not a URL: this one's SHA256SUMS lists only
    # another platform.
    write(project.repo, "mirror/v0.1.0/SHA256SUMS", f"{'0' * 64}  secretzero-x86_64-apple-darwin\n")
    git(project.repo, "add", "mirror")
    project.commit("Add a mirror")
    code, out = project.run("secretzero-validate", source="merge_request_event",
                            SECRETZERO_VERSION="v0.1.0", SECRETZERO_RELEASE_URL="mirror/{version}")
    check(code != 0, "a release without the asset must fail", out)
    check("error: the release v0.1.0 has no asset secretzero-x86_64-unknown-linux-musl (its "
          "SHA256SUMS has no line for it); use SECRETZERO_VERSION: local with an image that holds "
          "secretzero" in out, "the relative folder was read", out)


@test
def downloads_are_https_only_and_bounded_in_time(project):
    code, out = project.run("secretzero-validate", source="merge_request_event",
                            SECRETZERO_VERSION="v0.1.0",
                            SECRETZERO_RELEASE_URL="http://127.0.0.1:9/{version}")
    check(code != 0, "plain http must fail", out)
    check("error: refusing http://127.0.0.1:9/v0.1.0/SHA256SUMS: only https:// is used, never "
          "plain http" in out, "message", out)

    web = os.path.join(project.dir, "web")
    make_release(os.path.join(web, "v0.1.0"))
    plain = Server(project.dir, "http", folder=web)
    secure = Server(project.dir, "https", folder=web,
                    redirects={"/to-http/v0.1.0/SHA256SUMS": plain.url + "/v0.1.0/SHA256SUMS"})
    trust = secure.trust_env(project.dir)
    try:
        for tool, path in (("curl", path_without(project.dir, "wget")),
                           ("wget", path_without(project.dir, "curl"))):
            project.env["PATH"] = path
            code, out = project.run("secretzero-validate", source="merge_request_event",
                                    SECRETZERO_VERSION="v0.1.0", **trust,
                                    SECRETZERO_RELEASE_URL=secure.url + "/{version}")
            check(code == 0 and "secretzero 0." in out, f"{tool}: an https release installs", out)
            code, out = project.run("secretzero-validate", source="merge_request_event",
                                    SECRETZERO_VERSION="v0.1.0", **trust,
                                    SECRETZERO_RELEASE_URL=secure.url + "/to-http/{version}")
            check(code != 0, f"{tool}: a redirect to plain http must fail", out)
            url = secure.url + "/to-http/v0.1.0/SHA256SUMS"
            expected = {"curl": f"error: could not download {url} (no answer: see curl's error above)",
                        "wget": f"error: {url} redirected to plain http, refused: only https:// is used"}
            check(expected[tool] in out, f"{tool}: message", out)
    finally:
        plain.close()
        secure.close()

    silent = Server(project.dir, "silent")
    try:
        for tool, path in (("curl", path_without(project.dir, "wget")),
                           ("wget", path_without(project.dir, "curl"))):
            project.env["PATH"] = path
            began = time.monotonic()
            code, out = project.run(
                "secretzero-validate", source="merge_request_event", SECRETZERO_VERSION="v0.1.0",
                SECRETZERO_RELEASE_URL=silent.url + "/{version}", SECRETZERO_CONNECT_TIMEOUT="1",
                SECRETZERO_DOWNLOAD_TIMEOUT="2", SECRETZERO_DOWNLOAD_RETRIES="1")
            took = time.monotonic() - began
            check(code != 0, f"{tool}: a silent server must fail the job", out)
            check(took < 60, f"{tool}: took {took:.0f}s", out)
            check(f"error: could not download {silent.url}/v0.1.0/SHA256SUMS" in out,
                  f"{tool}: message", out)
    finally:
        silent.close()


@test
def sync_on_main_pushes_the_lockfile_with_the_token(project):
    if not has_lockfile_commit():
        raise Skip("this build has no `secretzero lockfile commit`")
    code, out = project.run("secretzero-sync", SECRETZERO_PUSH_TOKEN=TOKEN)
    check(code == 0, "sync must pass", out)
    head = git(project.remote, "log", "-1", "--format=%H%n%s%n%an <%ae>", "main").split("\n")
    check(head[1] == "Update .gitsecrets.lock [skip ci]", "commit message", head)
    check(head[2] == "SecretZero <secretzero@users.noreply.localhost>", "fallback identity", head)
    files = git(project.remote, "show", "--name-only", "--format=", "main").split("\n")
    check(files == [".gitsecrets.lock"], "only the lockfile is committed", files)
    check(head[0] in out, "the pushed commit is printed", out)
    check(TOKEN not in out, "the token was printed", out)
    value = open(os.path.join(project.repo, ".gitlab-ci-local", "builds", "secretzero-sync",
                              ".env")).read().split("=", 1)[1].strip()
    check(value not in out, "a secret value was printed", out)

    # A scheduled pipeline rotates (forced here: nothing is due yet) and pushes again.
    git(project.repo, "fetch", "--quiet", project.remote, "main")
    git(project.repo, "merge", "--quiet", "--ff-only", "FETCH_HEAD")
    code, out = project.run("secretzero-rotate", source="schedule", SECRETZERO_PUSH_TOKEN=TOKEN,
                            SECRETZERO_ARGS="--force", SECRETZERO_COMMIT_MESSAGE="Rotate [skip ci]")
    check(code == 0, "rotate must pass", out)
    log = git(project.remote, "log", "--format=%s", "main").split("\n")
    check(log[:2] == ["Rotate [skip ci]", "Update .gitsecrets.lock [skip ci]"], "history", log)
    lock = json.loads(git(project.remote, "show", "main:.gitsecrets.lock"))
    check('"rotation_count": 1' in json.dumps(lock), "the rotation is recorded", lock)


@test
def commit_back_without_a_token_fails_clearly(project):
    code, out = project.run("secretzero-sync")
    check(code != 0, "sync without SECRETZERO_PUSH_TOKEN must fail", out)
    check("set a masked CI/CD variable SECRETZERO_PUSH_TOKEN" in out, "message", out)
    check(git(project.remote, "rev-list", "--count", "main") == "1", "nothing pushed")


if __name__ == "__main__":
    if not os.access(GITLAB_CI_LOCAL, os.X_OK):
        print(f"no gitlab-ci-local at {GITLAB_CI_LOCAL}", file=sys.stderr)
        sys.exit(1)
    sys.exit(run_tests("gitlab", TESTS, Project))
