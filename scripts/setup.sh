#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian/Ubuntu machine with Node 20: system packages
# (OpenBLAS for the native backend), npm dependencies, and the native addon.
# Every step is skipped when already done, so `npm test` and `npm start` can call it each time.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

need_pkgs=()
[ -e /usr/include/x86_64-linux-gnu/cblas.h ] || [ -e /usr/include/cblas.h ] || ls /usr/include/*/cblas.h >/dev/null 2>&1 || need_pkgs+=(libopenblas-dev)
dpkg -s libopenblas0-pthread >/dev/null 2>&1 || need_pkgs+=(libopenblas0-pthread)
command -v g++ >/dev/null || need_pkgs+=(g++)
command -v make >/dev/null || need_pkgs+=(make)
if [ "${WINDTUNNEL_WITH_REDIS:-0}" = 1 ]; then command -v redis-server >/dev/null || need_pkgs+=(redis-server); fi
# Debian's chromium, for the dashboard's browser tests (test/interfaces/ui-browser.test.ts).
if [ "${WINDTUNNEL_WITH_CHROMIUM:-0}" = 1 ]; then [ -x /usr/bin/chromium ] || need_pkgs+=(chromium); fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "setup: installing ${need_pkgs[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

# npm dependencies: reinstall when the lock file changed since the last install.
stamp=node_modules/.windtunnel-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

# node-llama-cpp for the GGUF check against the real llama.cpp (test/models/gguf-llama.test.ts):
# its own folder, so the main install does not pull its GPU builds. --omit=optional keeps the
# CUDA/Vulkan variants out; --ignore-scripts skips its post-install (which may reach GitHub);
# the prebuilt CPU binary is the pinned @node-llama-cpp/linux-x64 package from npm.
if [ "${WINDTUNNEL_WITH_LLAMA_CPP:-0}" = 1 ]; then
  llama_stamp=scripts/llama-cpp/node_modules/.windtunnel-lock
  if [ ! -f "$llama_stamp" ] || ! cmp -s scripts/llama-cpp/package-lock.json "$llama_stamp"; then
    echo "setup: installing node-llama-cpp (scripts/llama-cpp)"
    (cd scripts/llama-cpp && npm install --ignore-scripts --omit=optional --no-audit --no-fund --loglevel=error)
    cp scripts/llama-cpp/package-lock.json "$llama_stamp"
  fi
fi

# Native addon: rebuild when missing or older than any native source.
addon=build/Release/windtunnel.node
if [ -f binding.gyp ]; then
  if [ ! -f "$addon" ] || [ -n "$(find native binding.gyp -newer "$addon" -type f 2>/dev/null | head -n 1)" ]; then
    echo "setup: building the native addon"
    npx --no-install node-gyp rebuild --loglevel=error >/tmp/windtunnel-node-gyp.log 2>&1 || {
      cat /tmp/windtunnel-node-gyp.log; echo "setup: native build FAILED (see above)"; exit 1; }
  fi
fi

# Compiled JavaScript (dist/, the package's exports and the fast CLI): rebuild when missing or
# older than any source file. bin/windtunnel.js makes the same comparison before using it.
js_stamp=dist/.build-stamp
if [ ! -f "$js_stamp" ] || [ -n "$(find src tsconfig.json tsconfig.build.json -newer "$js_stamp" -type f 2>/dev/null | head -n 1)" ]; then
  echo "setup: compiling TypeScript to dist/"
  node scripts/build.mjs
fi
