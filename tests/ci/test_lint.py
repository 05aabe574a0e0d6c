"""Static checks of the CI packaging files with the tools GitHub and GitLab users run on them.

- action.yml, .github/workflows/*.yml and every workflow in docs/github-action.md: GitHub's
  schemas (check-jsonschema), zizmor (offline), actionlint with shellcheck. The docs' workflows
  are linted with `OWNER/secretzero@v1` pointing at this checkout's action.yml, so actionlint
  checks their `with:` keys against the Action's real inputs.
- .gitlab-ci-template.yml and the docs' GitLab pipelines: GitLab's CI schema; every job's
  script through shellcheck as POSIX sh.
- dist/install.sh and action.yml's scripts: shellcheck as bash.
- The Dockerfile's last stage holds nothing but the binary.
- Every input and output of action.yml appears in docs/github-action.md, and every input is used.

Tools come from SECRETZERO_CI_VENV (default target/ci-venv) and PATH (shellcheck).
Usage: python tests/ci/test_lint.py [NAME_SUBSTRING ...]
"""

import glob
import os
import re
import shutil
import subprocess
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, check, git, run_tests, write  # noqa: E402

VENV = os.environ.get("SECRETZERO_CI_VENV", os.path.join(ROOT, "target", "ci-venv"))
WORKFLOWS = sorted(glob.glob(os.path.join(ROOT, ".github", "workflows", "*.yml")))
TESTS = []


def test(function):
    TESTS.append(function)
    return function


def tool(name):
    path = os.path.join(VENV, "bin", name)
    return path if os.path.exists(path) else shutil.which(name) or name


def run(*command, cwd=ROOT):
    done = subprocess.run(list(command), cwd=cwd, capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout + done.stderr


def passes(*command, cwd=ROOT):
    code, out = run(*command, cwd=cwd)
    check(code == 0, f"{os.path.basename(command[0])} failed (exit {code}):", out)
    return out


def yaml_blocks(markdown_path):
    text = open(markdown_path, encoding="utf-8").read()
    return re.findall(r"```yaml\n(.*?)```", text, flags=re.S)


def doc_workflows():
    return [b for b in yaml_blocks(os.path.join(ROOT, "docs", "github-action.md")) if "\njobs:" in b]


@test
def schemas(folder):
    passes(tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", "action.yml")
    passes(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *WORKFLOWS)
    passes(tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci",
           ".gitlab-ci-template.yml")
    check(any(w.endswith("release.yml") for w in WORKFLOWS), "no release workflow", WORKFLOWS)


@test
def zizmor(folder):
    passes(tool("zizmor"), "--offline", "--no-progress", "action.yml", *WORKFLOWS)


@test
def actionlint(folder):
    # `uses: ./` in the example workflows makes actionlint read action.yml and check inputs.
    check(shutil.which("shellcheck"), "shellcheck is not installed; actionlint would skip scripts")
    passes(tool("actionlint"), "-pyflakes", "", *[os.path.relpath(w, ROOT) for w in WORKFLOWS])


@test
def documented_workflows(folder):
    blocks = doc_workflows()
    check(len(blocks) == 3, "docs/github-action.md should hold 3 complete workflows", len(blocks))
    git(folder, "init", "--quiet")
    shutil.copy(os.path.join(ROOT, "action.yml"), folder)
    shutil.copytree(os.path.join(ROOT, "dist"), os.path.join(folder, "dist"))
    names = []
    for index, block in enumerate(blocks):
        check("OWNER/secretzero@v1" in block, f"workflow {index + 1} does not use the Action")
        name = f".github/workflows/doc-{index + 1}.yml"
        write(folder, name, block.replace("OWNER/secretzero@v1", "./ # zizmor: ignore[self-repository]"))
        names.append(name)
    passes(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *names,
           cwd=folder)
    passes(tool("actionlint"), "-pyflakes", "", *names, cwd=folder)
    passes(tool("zizmor"), "--offline", "--no-progress", *names, cwd=folder)


@test
def documented_gitlab_pipelines(folder):
    blocks = [b for b in yaml_blocks(os.path.join(ROOT, "docs", "gitlab.md")) if "include:" in b]
    check(len(blocks) >= 1, "docs/gitlab.md holds no pipeline with `include:`")
    names = []
    for index, block in enumerate(blocks):
        names.append(os.path.join(folder, f"gitlab-{index + 1}.yml"))
        write(folder, names[-1], block)
    passes(tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", *names)


@test
def shell_scripts(folder):
    check(shutil.which("shellcheck"), "shellcheck is not installed")
    passes("shellcheck", "-s", "bash", "dist/install.sh")

    action = yaml.safe_load(open(os.path.join(ROOT, "action.yml")))
    scripts = []
    for index, step in enumerate(action["runs"]["steps"]):
        scripts.append(os.path.join(folder, f"action-step-{index}.sh"))
        write(folder, scripts[-1], "#!/usr/bin/env bash\n" + step["run"])
    passes("shellcheck", "-s", "bash", *scripts)

    # GitLab jobs: before_script and script joined as the runner joins them. SC2086 (word
    # splitting) is the point of the unquoted $SECRETZERO_ARGS, with globbing switched off.
    template = yaml.safe_load(open(os.path.join(ROOT, ".gitlab-ci-template.yml")))

    def resolved(name, key):
        job = template[name]
        if key in job:
            return job[key]
        parents = job.get("extends", [])
        for parent in [parents] if isinstance(parents, str) else parents:
            found = resolved(parent, key)
            if found is not None:
                return found
        return None

    jobs = [name for name in template if not name.startswith(".") and name != "variables"]
    check(len(jobs) == 6, "the template should have 6 jobs", jobs)
    scripts = []
    for name in jobs:
        lines = (resolved(name, "before_script") or []) + resolved(name, "script")
        scripts.append(os.path.join(folder, f"gitlab-{name}.sh"))
        write(folder, scripts[-1], "#!/bin/sh\n" + "\n".join(lines) + "\n")
    passes("shellcheck", "-s", "sh", "-e", "SC2086", *scripts)


@test
def dockerfile_ships_only_the_binary(folder):
    lines = [line.strip() for line in open(os.path.join(ROOT, "Dockerfile"))
             if line.strip() and not line.startswith("#")]
    stages = [i for i, line in enumerate(lines) if line.upper().startswith("FROM ")]
    check(len(stages) >= 2, "a multi-stage build", lines)
    final = lines[stages[-1]:]
    check(re.match(r"FROM (scratch|gcr\.io/distroless/static\S*)$", final[0]), "final base", final[0])
    copies = [line for line in final if line.upper().startswith(("COPY", "ADD"))]
    check(len(copies) == 1 and "--from=build" in copies[0] and copies[0].split()[2].endswith(
        "/release/secretzero"), "the final stage copies only the binary", copies)
    check(not any(line.upper().startswith("RUN") for line in final), "no RUN in the final stage")
    check(any("--all-features" in line for line in lines), "the image ships every provider")


@test
def inputs_and_outputs_are_documented_and_used(folder):
    action = yaml.safe_load(open(os.path.join(ROOT, "action.yml")))
    docs = open(os.path.join(ROOT, "docs", "github-action.md")).read()
    steps = yaml.safe_dump(action["runs"]["steps"])
    for name in action["inputs"]:
        check(f"| `{name}` |" in docs, f"input {name} is not in the docs' inputs table")
        check(f"inputs.{name} }}}}" in steps, f"input {name} is never used")
    for name in action["outputs"]:
        check(f"`{name}`" in docs, f"output {name} is not in the docs' outputs table")
    for step in action["runs"]["steps"]:
        check("${{" not in step.get("run", ""), f"`${{{{ }}}}` inside run: of {step.get('id')}")


@test
def docs_say_what_the_binary_does(folder):
    def doc(name):
        return open(os.path.join(ROOT, "docs", name), encoding="utf-8").read()

    # One merge driver line everywhere, with the conflict markers' size.
    driver = ("git config merge.secretzero-lockfile.driver "
              "'secretzero lockfile merge %O %A %B --marker-size %L'")
    for name in ("github-action.md", "gitlab.md", "lockfile.md"):
        lines = [line for line in doc(name).split("\n") if "merge.secretzero-lockfile.driver" in line]
        check(lines == [driver], f"docs/{name}: the merge driver line", lines)

    # Masks come before any target is written or any value could be printed, not before every
    # line (debug lines with -v may come first).
    action_doc = doc("github-action.md")
    action_text = open(os.path.join(ROOT, "action.yml"), encoding="utf-8").read()
    for name, text in (("docs/github-action.md", action_doc), ("action.yml", action_text)):
        check("anything else" not in text, f"{name} claims masks come before anything else")
    check("before any target is\nwritten or any value could be printed" in action_doc,
          "docs/github-action.md: the masking guarantee")

    # `args` reaches every stage: only the global options, and -s in a step of its own.
    action = yaml.safe_load(action_text)
    described = " ".join(action["inputs"]["args"]["description"].split())
    check("Every stage accepts only the global options: -v (or -vv) and -q" in described,
          "action.yml: which args every stage accepts", described)
    check("`command: sync` and `args: -s api_key`" in described, "action.yml: one secret", described)
    check("`-s api_key`, `--dry-run`" not in action_doc, "the docs still offer -s for every stage")
    step = "      - uses: OWNER/secretzero@v1\n        with:\n          command: sync\n          args: -s api_key\n"
    check(step in yaml_blocks(os.path.join(ROOT, "docs", "github-action.md")),
          "docs/github-action.md: the one-secret step")
    gitlab = yaml_blocks(os.path.join(ROOT, "docs", "gitlab.md"))
    check(any("secretzero-sync:\n  variables:\n    SECRETZERO_ARGS: -s api_key" in b for b in gitlab),
          "docs/gitlab.md: -s on the sync job alone")


if __name__ == "__main__":
    sys.exit(run_tests("lint", TESTS, lambda folder: folder))
