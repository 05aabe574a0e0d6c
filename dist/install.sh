#!/usr/bin/env bash
# Installs the secretzero binary for the GitHub Action (and for anyone else who wants it).
#
# It downloads the release's SHA256SUMS, picks the release asset for this machine's OS and
# architecture, checks the asset against its line in SHA256SUMS before the binary is ever run,
# and keeps it in a cache folder per version. When the release exists but has no asset for this
# platform (its SHA256SUMS has no line for one), it builds the Action's own source with
# `cargo install --locked` instead; a release that does not exist (no SHA256SUMS) stops at once.
# A checksum mismatch, or an asset listed in SHA256SUMS but missing, stops the install: nothing
# is cached, nothing is added to the PATH.
#
# Downloads use curl, or wget when curl is missing, the same way with either: https:// only
# (also for every redirect), a connect timeout, a time limit per download and a few retries
# for transient errors; 404 means "not there", anything else is an error that says why.
#
# Settings, all from the environment:
#   SECRETZERO_VERSION      `latest` (default), a release tag such as `v0.1.0` (or `0.1.0`),
#                           `local` (use the `secretzero` already on PATH), `source` (build
#                           SECRETZERO_SOURCE_DIR with cargo, download nothing) or the path of an
#                           existing binary, or of a folder holding one.
#   SECRETZERO_REPOSITORY   owner/name whose GitHub releases hold the assets; the Action passes
#                           `github.action_repository`.
#   SECRETZERO_RELEASE_URL  where this version's assets are, instead of GitHub releases: an
#                           https:// URL (never plain http), or a local folder: a file:// URL or
#                           anything without `://`, relative to the current folder unless
#                           absolute. `{version}` in it is replaced by the tag.
#   SECRETZERO_SOURCE_DIR   the source tree for `cargo install` (the Action passes its own
#                           checkout, GITHUB_ACTION_PATH).
#   SECRETZERO_CACHE_DIR    the cache root; default $RUNNER_TOOL_CACHE, else
#                           ${XDG_CACHE_HOME:-~/.cache}.
#   SECRETZERO_PLATFORM     the asset's target triple, when the guess from `uname` is wrong.
#   SECRETZERO_CONNECT_TIMEOUT   seconds to connect (and to wait for data), default 15.
#   SECRETZERO_DOWNLOAD_TIMEOUT  seconds for one download attempt, default 300.
#   SECRETZERO_DOWNLOAD_RETRIES  retries after a timeout or a transient error, default 3.
#
# On success the binary's absolute path is printed on standard output, its folder is appended to
# $GITHUB_PATH and `bin=PATH` and `version=VERSION` to $GITHUB_OUTPUT (when those are set).
# Everything for people goes to standard error.
set -euo pipefail

log() { printf 'secretzero-install: %s\n' "$*" >&2; }
die() {
  printf 'secretzero-install: error: %s\n' "$1" >&2
  [[ $# -gt 1 ]] && printf 'secretzero-install: hint: %s\n' "$2" >&2
  exit 1
}

# The asset name for this machine, or nothing when no release asset is built for it.
platform() {
  if [[ -n ${SECRETZERO_PLATFORM:-} ]]; then
    printf '%s\n' "$SECRETZERO_PLATFORM"
    return
  fi
  local os arch
  os=$(uname -s)
  arch=$(uname -m)
  case $arch in
    x86_64 | amd64) arch=x86_64 ;;
    aarch64 | arm64) arch=aarch64 ;;
    *) return 0 ;;
  esac
  case $os in
    Linux) printf '%s-unknown-linux-musl\n' "$arch" ;;
    Darwin) printf '%s-apple-darwin\n' "$arch" ;;
    MINGW* | MSYS* | CYGWIN* | Windows_NT)
      [[ $arch == x86_64 ]] && printf 'x86_64-pc-windows-msvc\n'
      ;;
  esac
}

# One HTTP GET of an https:// URL into a file, never following a redirect: sets `status` (the
# HTTP status, empty when there was no answer), `location` (a redirect's target, resolved) and
# `reason` (why there was no answer).
http_get() {
  local url=$1 out=$2 code=0 answer
  status="" location="" reason=""
  if command -v curl >/dev/null; then
    answer=$(curl --proto '=https' --max-redirs 0 --silent --show-error \
      --connect-timeout "$connect_timeout" --max-time "$download_timeout" \
      --retry "$retries" --output "$out" --write-out '%{http_code} %{redirect_url}' \
      -- "$url" 2>"$work/fetch.log") || code=$?
    if [[ $code == 0 && ${answer%% *} != 000 ]]; then
      status=${answer%% *}
      location=${answer#* }
    else
      reason=$(grep -v '^[[:space:]]*$' "$work/fetch.log" | tail -n 1)
      reason=${reason:-curl exited with code $code}
    fi
    return 0
  fi
  if command -v wget >/dev/null; then
    local limit=()
    command -v timeout >/dev/null && limit=(timeout "$download_timeout")
    ${limit[@]+"${limit[@]}"} wget --max-redirect=0 --server-response --output-file="$work/fetch.log" \
      --timeout="$connect_timeout" --tries=$((retries + 1)) --waitretry=2 \
      --retry-on-http-error=408,429,500,502,503,504 --output-document="$out" -- "$url" ||
      code=$?
    # The server's headers are indented by two spaces in wget's log; the last answer counts.
    status=$(sed -n 's|^  HTTP/[0-9.]* \([0-9][0-9][0-9]\).*|\1|p' "$work/fetch.log" | tail -n 1)
    if [[ $code == 124 ]]; then
      status="" reason="timed out after $download_timeout seconds"
    elif [[ $code != 0 && $status == 2* ]]; then
      status="" reason=$(grep -v '^[[:space:]]*$' "$work/fetch.log" | tail -n 1)
    elif [[ -z $status ]]; then
      reason=$(grep -v '^[[:space:]]*$' "$work/fetch.log" | tail -n 1)
      reason=${reason:-wget exited with code $code}
    elif [[ $status == 3* ]]; then
      location=$(sed -n 's|^  Location: *\(.*\)|\1|p' "$work/fetch.log" | tail -n 1 | tr -d '\r')
      case $location in
        *://*) ;;
        //*) location=https:$location ;;
        /*) location=$(printf '%s' "$url" | cut -d/ -f1-3)$location ;;
        ?*) location=${url%/*}/$location ;;
      esac
    fi
    return 0
  fi
  die "neither curl nor wget is installed" "install curl, or set SECRETZERO_VERSION to a binary"
}

# Copies a URL (https://, file:// or a local path) to a file. Returns 0 on success, 2 when the
# source answered that the file does not exist (HTTP 404, or no such local file), 1 on any other
# failure, with `fetch_error` saying why.
fetch() {
  local url=$1 out=$2 hops
  fetch_error=""
  if [[ $url == file://* || $url != *://* ]]; then
    url=${url#file://}
    if [[ -f $url ]]; then
      cp -- "$url" "$out"
      return 0
    fi
    fetch_error="no such file: $url"
    return 2
  fi
  for hops in 0 1 2 3 4 5 6 7 8 9 10; do
    if [[ $url != https://* ]]; then
      fetch_error="refusing to download $url: only https:// is used, never plain http"
      [[ $hops == 0 ]] || fetch_error="redirected to $url, refused: only https:// is used"
      return 1
    fi
    http_get "$url" "$out"
    case $status in
      200) return 0 ;;
      404) fetch_error="not found (HTTP 404)"; return 2 ;;
      "") fetch_error=$reason; return 1 ;;
      301 | 302 | 303 | 307 | 308)
        [[ -n $location ]] || { fetch_error="HTTP $status without a Location"; return 1; }
        url=$location
        ;;
      *) fetch_error="the server answered HTTP $status"; return 1 ;;
    esac
  done
  fetch_error="more than 10 redirects"
  return 1
}

sha256() {
  if command -v sha256sum >/dev/null; then
    sha256sum -- "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null; then
    shasum -a 256 -- "$1" | cut -d' ' -f1
  else
    die "neither sha256sum nor shasum is installed, so the download cannot be verified"
  fi
}

# Appends the binary's folder to GITHUB_PATH and reports it; the single place every way of
# installing ends.
finish() {
  local bin=$1 version dir
  version=$("$bin" --version 2>/dev/null | awk '{print $2}') ||
    die "$bin does not run on this machine"
  [[ -n $version ]] || die "$bin --version printed no version"
  dir=$(cd -- "$(dirname -- "$bin")" && pwd)
  bin=$dir/$(basename -- "$bin")
  if [[ -n ${GITHUB_PATH:-} ]]; then
    if command -v cygpath >/dev/null; then
      cygpath -w "$dir" >>"$GITHUB_PATH"
    else
      printf '%s\n' "$dir" >>"$GITHUB_PATH"
    fi
  fi
  if [[ -n ${GITHUB_OUTPUT:-} ]]; then
    printf 'bin=%s\nversion=%s\n' "$bin" "$version" >>"$GITHUB_OUTPUT"
  fi
  log "using secretzero $version at $bin"
  printf '%s\n' "$bin"
  exit 0
}

version=${SECRETZERO_VERSION:-latest}
exe=secretzero
case $(uname -s) in MINGW* | MSYS* | CYGWIN* | Windows_NT) exe=secretzero.exe ;; esac

# An existing binary: `local` is whatever is on PATH; anything with a slash is a path.
if [[ $version == local ]]; then
  found=$(command -v "$exe") || die "version is \`local\` but no $exe is on PATH"
  finish "$found"
fi
if [[ $version == */* || $version == *\\* ]]; then
  [[ -d $version ]] && version=${version%/}/$exe
  [[ -x $version ]] || die "$version is not an executable file"
  finish "$version"
fi

# A release: `0.1.0` and `v0.1.0` name the same tag; `source` builds without downloading.
[[ $version =~ ^(latest|source|v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?)$ ]] ||
  die "version \`$version\` is not \`latest\`, a release such as v0.1.0, \`local\`, \`source\` or a path"
tag=$version
[[ $tag == latest || $tag == source || $tag == v* ]] || tag=v$tag
connect_timeout=${SECRETZERO_CONNECT_TIMEOUT:-15}
download_timeout=${SECRETZERO_DOWNLOAD_TIMEOUT:-300}
retries=${SECRETZERO_DOWNLOAD_RETRIES:-3}
for setting in "$connect_timeout" "$download_timeout" "$retries"; do
  [[ $setting =~ ^[0-9]+$ ]] ||
    die "SECRETZERO_CONNECT_TIMEOUT, SECRETZERO_DOWNLOAD_TIMEOUT and SECRETZERO_DOWNLOAD_RETRIES must be whole numbers, not \`$setting\`"
done
triple=$(platform)
[[ $tag == source ]] && triple=""
cache_root=${SECRETZERO_CACHE_DIR:-${RUNNER_TOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}}}
cache_arch=${triple:-source-$(uname -m)}

# A pinned version already in the cache is used as it is; the `.complete` marker is written last,
# so a half-finished install is never picked up. `latest` is always resolved anew.
if [[ $tag == v* ]]; then
  cached=$cache_root/secretzero/${tag#v}/$cache_arch
  if [[ -f $cached.complete && -x $cached/$exe ]]; then
    log "found secretzero ${tag#v} in the cache"
    finish "$cached/$exe"
  fi
fi

work=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/secretzero-install.XXXXXX")
trap 'rm -rf -- "$work"' EXIT

# Store a verified (or freshly built) binary under its own version, then finish from there.
# Jobs on one machine may share the cache: the binary is copied beside its place and renamed
# into it, so a job that is running it, or reading the cache, never sees a half-written file.
store() {
  local bin=$1 got dest
  got=$("$bin" --version 2>/dev/null | awk '{print $2}') || die "the installed binary does not run"
  if [[ $tag == v* && $got != "${tag#v}" ]]; then
    die "asked for secretzero ${tag#v} but the binary says it is $got"
  fi
  dest=$cache_root/secretzero/$got/$cache_arch
  mkdir -p -- "$dest"
  cp -- "$bin" "$dest/$exe.$$.partial"
  chmod 0755 "$dest/$exe.$$.partial"
  mv -f -- "$dest/$exe.$$.partial" "$dest/$exe"
  : >"$dest.complete"
  finish "$dest/$exe"
}

# Asked for, or no asset for this platform in the release: build the Action's source, all
# providers included.
build_from_source() {
  local src=${SECRETZERO_SOURCE_DIR:-${GITHUB_ACTION_PATH:-}}
  [[ -n $src && -f $src/Cargo.toml ]] ||
    die "$1, and there is no source to build (SECRETZERO_SOURCE_DIR)"
  command -v cargo >/dev/null ||
    die "$1, and cargo is not installed to build it from source" \
      "add a Rust toolchain step (for example dtolnay/rust-toolchain) before this one"
  log "$1; building from source with cargo install (this takes several minutes)"
  cargo install --locked --all-features --path "$src" --root "$work/cargo" >&2 ||
    die "cargo install failed"
  store "$work/cargo/bin/$exe"
}

[[ $tag == source ]] && build_from_source "version \`source\` was asked for"

if [[ -n ${SECRETZERO_RELEASE_URL:-} ]]; then
  base=${SECRETZERO_RELEASE_URL//\{version\}/$tag}
  hint="check SECRETZERO_VERSION, and that SECRETZERO_RELEASE_URL holds the release's assets"
elif [[ -n ${SECRETZERO_REPOSITORY:-} ]]; then
  if [[ $tag == latest ]]; then
    base=https://github.com/$SECRETZERO_REPOSITORY/releases/latest/download
  else
    base=https://github.com/$SECRETZERO_REPOSITORY/releases/download/$tag
  fi
  hint="the releases are listed at https://github.com/$SECRETZERO_REPOSITORY/releases"
else
  [[ -z $triple ]] && build_from_source "no release asset is built for $(uname -s) $(uname -m)"
  die "no release to download from" "set SECRETZERO_REPOSITORY or SECRETZERO_RELEASE_URL"
fi
base=${base%/}
# Anything without `://` is a local folder, relative to the current one unless absolute.
case $base in
  https://* | file://* | /* | [A-Za-z]:[/\\]*) ;;
  *://*)
    die "the release URL $base is neither https:// nor file://" \
      "plain http is never used: downloads must be protected in transit; use https:// or a local folder"
    ;;
  *) base=$PWD/$base ;;
esac

# The release's SHA256SUMS first: without it the release does not exist, and nothing is built.
log "downloading SHA256SUMS of $tag from $base"
code=0
fetch "$base/SHA256SUMS" "$work/SHA256SUMS" || code=$?
if [[ $code == 2 ]]; then
  die "no release $tag at $base (it has no SHA256SUMS: $fetch_error)" "$hint"
elif [[ $code != 0 ]]; then
  die "could not download $base/SHA256SUMS: $fetch_error; nothing was installed" \
    "check the runner's network access to $base, then re-run the job"
fi
[[ -n $triple ]] || build_from_source "no release asset is built for $(uname -s) $(uname -m)"
asset=secretzero-$triple
[[ $exe == *.exe ]] && asset=$asset.exe

# A line is `<hex>  <name>` (or `<hex> *<name>`); none means no asset for this platform.
expected=$(awk -v name="$asset" '$2 == name || $2 == "*" name { print tolower($1); exit }' \
  "$work/SHA256SUMS")
[[ -n $expected ]] ||
  build_from_source "the release $tag has no asset $asset (its SHA256SUMS has no line for it)"

log "downloading $asset ($tag) from $base"
code=0
fetch "$base/$asset" "$work/$asset" || code=$?
if [[ $code == 2 ]]; then
  die "the release $tag lists $asset in its SHA256SUMS but has no such asset ($fetch_error);\
 nothing was installed" "the release is incomplete; report it to its maintainers"
elif [[ $code != 0 ]]; then
  die "could not download $base/$asset: $fetch_error; nothing was installed" \
    "check the runner's network access to $base, then re-run the job"
fi

# Verify before anything runs the download.
actual=$(sha256 "$work/$asset")
if [[ $actual != "$expected" ]]; then
  die "checksum mismatch for $asset: SHA256SUMS says $expected, the download is $actual;\
 nothing was installed" \
    "the download was corrupted or tampered with; re-run the job, and report it if it persists"
fi
log "checksum verified: $actual"
chmod 0755 "$work/$asset"
store "$work/$asset"
