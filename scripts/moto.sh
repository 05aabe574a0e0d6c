# Sourced by scripts/test and bench/remote: installs moto's server into target/moto-venv (the
# lean install; the `moto[server]` extra pulls in much more), starts it on a free port of
# 127.0.0.1, stops it when the calling script exits, and exports:
#   SECRETZERO_TEST_MOTO         its URL (http://127.0.0.1:PORT)
#   SECRETZERO_TEST_MOTO_PYTHON  a Python with boto3 (installed with moto), to check the stores
#                                independently of SecretZero

moto_venv=target/moto-venv
moto_check='import importlib.metadata as m, sys; sys.exit(m.version("moto") != "5.2.5")'
if [[ ! -x $moto_venv/bin/moto_server ]] || ! "$moto_venv/bin/python" -c "$moto_check" 2>/dev/null
then
  echo "==> installing moto 5.2.5 into $moto_venv" >&2
  python3 -m venv "$moto_venv"
  "$moto_venv/bin/pip" install --quiet --disable-pip-version-check \
    'moto==5.2.5' flask flask-cors pyyaml
fi
moto_port=$("$moto_venv/bin/python" -c \
  'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p target
"$moto_venv/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >target/moto.log 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true' EXIT
moto_ready=no
for _ in $(seq 1 150); do
  if "$moto_venv/bin/python" -c \
    "import urllib.request as u; u.urlopen('http://127.0.0.1:$moto_port/moto-api/')" 2>/dev/null
  then
    moto_ready=yes
    break
  fi
  kill -0 "$moto_pid" 2>/dev/null || break
  sleep 0.2
done
if [[ $moto_ready != yes ]]; then
  echo "moto_server did not start; its log:" >&2
  cat target/moto.log >&2
  exit 1
fi
export SECRETZERO_TEST_MOTO="http://127.0.0.1:$moto_port"
export SECRETZERO_TEST_MOTO_PYTHON="$PWD/$moto_venv/bin/python"
echo "==> moto_server on $SECRETZERO_TEST_MOTO" >&2
