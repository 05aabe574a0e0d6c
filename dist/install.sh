#!/usr/bin/env bash
# Installs the secretzero binary for the GitHub Action (and for anyone else who wants it).
#
# It picks the release asset for this machine's OS and architecture, downloads it with the
# release's SHA256SUMS, checks the asset against its line in SHA256SUMS before the binary is ever
# run, and keeps it in a cache folder per version. When the release has no asset for this
# platform, it builds the Action's own source with `cargo install --locked` instead. A checksum
# mismatch, or a SHA256SUMS without the asset, stops the install: nothing is cached, nothing is
# added to the PATH.
#
# Settings, all from the environment:
#   SECRETZERO_VERSION      `latest` (default), a release tag such as `v0.1.0` (or `0.1.0`),
#                           `local` (use the `secretzero` already on PATH) or the path of an
#                           existing binary, or of a folder holding one.
#   SECRETZERO_REPOSITORY   owner/name whose GitHub releases hold the assets; the Action passes
#                           `github.action_repository`.
#   SECRETZERO_RELEASE_URL  where this version's assets are, instead of GitHub releases: an
#                           https:// (never plain http) or file:// URL, or a local folder.
#                           `{version}` in it is replaced by the tag.
#   SECRETZERO_SOURCE_DIR   the source tree for the `cargo install` fallback (the Action passes
#                           its own checkout, GITHUB_ACTION_PATH).
#   SECRETZERO_CACHE_DIR    the cache root; default $RUNNER_TOOL_CACHE, else
#                           ${XDG_CACHE_HOME:-~/.cache}.
#   SECRETZERO_PLATFORM     the asset's target triple, when the guess from `uname` is wrong.
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

# Copies a URL (https://, file:// or a plain path) to a file; exit 0 on success. `missing` is
# printed on standard output when the source answered that the file does not exist.
fetch() {
  local url=$1 out=$2
  url=${url#file://}
  case $url in
    /* | ./* | ../* | [A-Za-z]:[/\\]*)
      if [[ -f $url ]]; then
        cp -- "$url" "$out"
        return 0
      fi
      echo missing
      return 1
      ;;
  esac
  if command -v curl >/dev/null; then
    local code
    code=$(curl --proto '=https' --proto-redir '=https' --location --silent --show-error --retry 3 \
      --output "$out" --write-out '%{http_code}' -- "$url") || return 1
    [[ $code == 200 ]] && return 0
    [[ $code == 404 ]] && echo missing
    return 1
  fi
  if command -v wget >/dev/null; then
    wget --quiet --output-document="$out" -- "$url" && return 0
    echo missing
    return 1
  fi
  die "neither curl nor wget is installed" "install curl, or set SECRETZERO_VERSION to a binary"
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

# A release: `0.1.0` and `v0.1.0` name the same tag.
[[ $version =~ ^(latest|v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?)$ ]] ||
  die "version \`$version\` is not \`latest\`, a release such as v0.1.0, \`local\` or a path"
tag=$version
[[ $tag == latest || $tag == v* ]] || tag=v$tag
triple=$(platform)
cache_root=${SECRETZERO_CACHE_DIR:-${RUNNER_TOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}}}
cache_arch=${triple:-source-$(uname -m)}

# A pinned version already in the cache is used as it is; the `.complete` marker is written last,
# so a half-finished install is never picked up. `latest` is always resolved anew.
if [[ $tag != latest ]]; then
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
  if [[ $tag != latest && $got != "${tag#v}" ]]; then
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

# No asset for this version or platform: build the Action's source, all providers included.
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

if [[ -z $triple ]]; then
  build_from_source "no release asset is built for $(uname -s) $(uname -m)"
fi
asset=secretzero-$triple
[[ $exe == *.exe ]] && asset=$asset.exe

if [[ -n ${SECRETZERO_RELEASE_URL:-} ]]; then
  base=${SECRETZERO_RELEASE_URL//\{version\}/$tag}
elif [[ -n ${SECRETZERO_REPOSITORY:-} ]]; then
  if [[ $tag == latest ]]; then
    base=https://github.com/$SECRETZERO_REPOSITORY/releases/latest/download
  else
    base=https://github.com/$SECRETZERO_REPOSITORY/releases/download/$tag
  fi
else
  die "no release to download from" "set SECRETZERO_REPOSITORY or SECRETZERO_RELEASE_URL"
fi
base=${base%/}

log "downloading $asset ($tag) from $base"
if ! answer=$(fetch "$base/$asset" "$work/$asset"); then
  if [[ $answer == missing ]]; then
    build_from_source "the release $tag has no asset $asset"
  fi
  die "could not download $base/$asset"
fi
fetch "$base/SHA256SUMS" "$work/SHA256SUMS" >/dev/null ||
  die "could not download $base/SHA256SUMS, so $asset cannot be verified; nothing was installed"

# Verify before anything runs the download. A line is `<hex>  <name>` (or `<hex> *<name>`).
expected=$(awk -v name="$asset" '$2 == name || $2 == "*" name { print tolower($1); exit }' \
  "$work/SHA256SUMS")
[[ -n $expected ]] ||
  die "SHA256SUMS of $tag has no line for $asset, so it cannot be verified; nothing was installed"
actual=$(sha256 "$work/$asset")
if [[ $actual != "$expected" ]]; then
  die "checksum mismatch for $asset: SHA256SUMS says $expected, the download is $actual;\
 nothing was installed" \
    "the download was corrupted or tampered with; re-run the job, and report it if it persists"
fi
log "checksum verified: $actual"
chmod 0755 "$work/$asset"
store "$work/$asset"
