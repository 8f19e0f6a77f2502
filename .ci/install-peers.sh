#!/usr/bin/env bash
# Installs the independent WebSocket peer servers used by interop_test.go:
#   - Python `websockets` (Debian package python3-websockets, for /usr/bin/python3)
#   - Node.js `ws` (npm, pinned by testdata/interop/node/package-lock.json)
# Idempotent; meant to run as root on a Debian (bookworm) machine.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
node_dir="$repo_root/testdata/interop/node"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive

need_apt=()
if ! /usr/bin/python3 -c 'import websockets' >/dev/null 2>&1; then
	need_apt+=(python3 python3-websockets)
fi
if ! command -v node >/dev/null 2>&1; then
	need_apt+=(nodejs)
fi
if ! command -v npm >/dev/null 2>&1; then
	need_apt+=(npm)
fi

if [ "${#need_apt[@]}" -gt 0 ]; then
	$SUDO apt-get update
	$SUDO apt-get install -y --no-install-recommends "${need_apt[@]}"
fi

/usr/bin/python3 -c 'import websockets; print("python3-websockets", websockets.__version__)'

cd "$node_dir"
if [ -f node_modules/ws/package.json ] && node -e '
	const want = require("./package-lock.json").packages["node_modules/ws"].version;
	const have = require("./node_modules/ws/package.json").version;
	process.exit(want === have ? 0 : 1);
' >/dev/null 2>&1; then
	echo "node ws already installed"
else
	npm ci --no-audit --no-fund
fi
node -e 'console.log("node", process.version, "ws", require("ws/package.json").version)'
