#!/bin/sh
# Installs the Debian packages greenops needs to build and test, when they are missing.
# As root it runs apt-get; otherwise it prints the command to run and fails.
set -eu

pkgs="build-essential pkg-config python3 python3-h2
libcurl4-openssl-dev libsqlite3-dev libgsl-dev libyaml-dev libjansson-dev
libmicrohttpd-dev libprotobuf-c-dev protobuf-c-compiler libonnx-dev
libcmocka-dev clang-format libslurm-dev
nodejs librsvg2-bin"
# greenops report: nodejs (npm installs the plotting libraries at build time and node draws the
# SVG figures) and librsvg2-bin (the PNG figures). npm comes with some nodejs builds and is a
# package of its own in Debian's.
command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm"
# What the end-to-end tests start: a one-node Slurm, a Prometheus, the reference LLM server's
# HTTP side (aiohttp), headless Chromium (which loads the report), zsh (its completion),
# python3-venv (a fresh environment the Python package installs into) and tmux (a terminal for
# greenops top). GREENOPS_DEPS=build (the container image's build stage) leaves them out.
[ "${GREENOPS_DEPS:-}" = build ] ||
	pkgs="$pkgs slurmctld slurmd slurm-client munge prometheus python3-aiohttp chromium zsh python3-venv tmux"

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "greenops: missing packages; run as root:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
echo "greenops: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends $missing >/dev/null; then
	apt-get update >/dev/null
	apt-get install -y --no-install-recommends $missing >/dev/null
fi
