"""Runs a composite action's steps the way a GitHub runner does, without GitHub.

Each `run:` step is executed with `bash --noprofile --norc -eo pipefail FILE` (GitHub's `shell:
bash`), with the runner's environment (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_PATH,
GITHUB_ENV, RUNNER_TEMP, RUNNER_TOOL_CACHE, GITHUB_ACTION_PATH, ...) and the step's `env:` after
its `${{ }}` expressions are substituted. Only the expressions an action of ours may use are
understood (inputs, steps.<id>.outputs, github.action_path, github.action_repository,
github.action_ref); any other expression is an error, so a new one cannot slip by untested.
Like the runner, a step's GITHUB_OUTPUT file is read after it ends (both `k=v` and `k<<EOF`
forms), folders appended to GITHUB_PATH are put in front of PATH for the following steps, and the
action's outputs are evaluated from `outputs:` at the end.

Usage as a program: runner.py ACTION_DIR WORKSPACE [input=value ...]; prints the result as JSON.
"""

import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


class Result:
    def __init__(self):
        self.exit_code = 0
        self.outputs = {}
        self.stdout = ""
        self.stderr = ""
        self.summary = ""
        self.path = []
        self.steps = []

    def as_dict(self):
        return {k: v for k, v in vars(self).items()}


def read_file_commands(path):
    """Parses a GITHUB_OUTPUT or GITHUB_ENV file: `name=value` lines and `name<<DELIM` blocks."""
    values = {}
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            while i < len(lines) and lines[i] != delimiter:
                body.append(lines[i])
                i += 1
            if i == len(lines):
                raise ValueError(f"{path}: no closing {delimiter!r} for {name!r}")
            i += 1
            values[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
        else:
            raise ValueError(f"{path}: line {line!r} is neither name=value nor name<<DELIM")
    return values


def substitute(text, context, where):
    def one(match):
        expression = match.group(1)
        parts = expression.split(".")
        if parts[0] == "inputs" and len(parts) == 2:
            return context["inputs"][parts[1]]
        if parts[0] == "github" and len(parts) == 2 and parts[1] in context["github"]:
            return context["github"][parts[1]]
        if parts[0] == "steps" and len(parts) == 4 and parts[2] == "outputs":
            return context["steps"].get(parts[1], {}).get(parts[3], "")
        raise ValueError(f"{where}: the harness does not know the expression {expression!r}")

    return EXPRESSION.sub(one, str(text))


def run_action(action_dir, workspace, inputs, env, runner_dir, timeout=600):
    """Runs every step of ACTION_DIR/action.yml in WORKSPACE; returns a Result."""
    with open(os.path.join(action_dir, "action.yml"), encoding="utf-8") as handle:
        action = yaml.safe_load(handle)
    assert action["runs"]["using"] == "composite", "not a composite action"

    declared = action.get("inputs", {})
    unknown = set(inputs) - set(declared)
    if unknown:
        raise ValueError(f"inputs not declared by the action: {sorted(unknown)}")
    values = {name: str(spec.get("default", "")) for name, spec in declared.items()}
    values.update({name: str(value) for name, value in inputs.items()})
    context = {
        "inputs": values,
        "github": {
            "action_path": action_dir,
            "action_repository": env.get("GITHUB_ACTION_REPOSITORY", ""),
            "action_ref": env.get("GITHUB_ACTION_REF", ""),
        },
        "steps": {},
    }

    temp = os.path.join(runner_dir, "temp")
    os.makedirs(temp, exist_ok=True)
    os.makedirs(os.path.join(runner_dir, "tool-cache"), exist_ok=True)
    path_file = os.path.join(runner_dir, "path")
    env_file = os.path.join(runner_dir, "env")
    for name in (path_file, env_file):
        open(name, "a").close()
    base = dict(env)
    base.setdefault("RUNNER_TEMP", temp)
    base.setdefault("RUNNER_TOOL_CACHE", os.path.join(runner_dir, "tool-cache"))
    base.update(
        GITHUB_ACTIONS="true",
        CI="true",
        GITHUB_WORKSPACE=workspace,
        GITHUB_ACTION_PATH=action_dir,
        GITHUB_PATH=path_file,
        GITHUB_ENV=env_file,
    )

    result = Result()
    summaries = []
    for index, step in enumerate(action["runs"]["steps"]):
        step_id = step.get("id", f"__{index}")
        where = f"step {step_id}"
        if "uses" in step or "run" not in step:
            raise ValueError(f"{where}: the harness runs only `run:` steps")
        if step.get("shell") != "bash":
            raise ValueError(f"{where}: the harness runs only `shell: bash` steps")
        if "if" in step:
            raise ValueError(f"{where}: the harness does not evaluate `if:`")
        if EXPRESSION.search(step["run"]):
            raise ValueError(f"{where}: `${{{{ }}}}` inside run: (script injection)")

        step_env = dict(base)
        step_env.update(read_file_commands(env_file))
        added = [line for line in open(path_file, encoding="utf-8").read().split("\n") if line]
        step_env["PATH"] = os.pathsep.join(list(reversed(added)) + [base.get("PATH", "")])
        for name, value in (step.get("env") or {}).items():
            step_env[name] = substitute(value, context, f"{where} env {name}")
        output_file = os.path.join(runner_dir, f"output-{index}")
        summary_file = os.path.join(runner_dir, f"summary-{index}")
        open(output_file, "w").close()
        open(summary_file, "w").close()
        step_env.update(GITHUB_OUTPUT=output_file, GITHUB_STEP_SUMMARY=summary_file)

        script = os.path.join(temp, f"step-{index}.sh")
        with open(script, "w", encoding="utf-8") as handle:
            handle.write(step["run"])
        cwd = workspace
        if "working-directory" in step:
            cwd = os.path.join(workspace, substitute(step["working-directory"], context, where))
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", script],
            cwd=cwd,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        outputs = read_file_commands(output_file)
        context["steps"][step_id] = outputs
        summaries.append(open(summary_file, encoding="utf-8").read())
        result.stdout += done.stdout
        result.stderr += done.stderr
        result.steps.append(
            {"id": step_id, "exit_code": done.returncode, "outputs": outputs,
             "stdout": done.stdout, "stderr": done.stderr}
        )
        if done.returncode != 0:
            result.exit_code = done.returncode
            break

    for name, spec in (action.get("outputs") or {}).items():
        result.outputs[name] = substitute(spec["value"], context, f"output {name}")
    result.summary = "".join(summaries)
    result.path = [line for line in open(path_file, encoding="utf-8").read().split("\n") if line]
    return result


def main():
    action_dir, workspace, *pairs = sys.argv[1:]
    inputs = dict(pair.split("=", 1) for pair in pairs)
    with tempfile.TemporaryDirectory() as runner_dir:
        result = run_action(action_dir, workspace, inputs, dict(os.environ), runner_dir)
    json.dump(result.as_dict(), sys.stdout, indent=2)
    print()
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
