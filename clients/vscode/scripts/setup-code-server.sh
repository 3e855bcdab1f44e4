#!/usr/bin/env bash
# Install code-server (a real VS Code extension host that runs in a browser) for the e2e test
# tests/e2e/test_vscode_codeserver.py. Idempotent: a second run with the same version is a no-op.
#
#   clients/vscode/scripts/setup-code-server.sh        # prints the path of the code-server binary
#
# Where:   $GAP_CODE_SERVER_DIR, default ${XDG_CACHE_HOME:-$HOME/.cache}/gap-ls/code-server-<version>
#          (outside git). Version: $GAP_CODE_SERVER_VERSION, default 4.100.3 (VS Code 1.100, node 20).
# Needs:   node 20 + npm (registry reachable), build-essential, python3, pkg-config,
#          libkrb5-dev (native module `kerberos`), ripgrep (Debian's rg replaces the downloaded one).
#          As root it apt-installs the missing ones unless GAP_NO_APT is set.
#
# The recipe avoids every download that is not from the npm registry: postinstall scripts are
# skipped (they fetch binaries), native modules are rebuilt locally, and Debian's ripgrep stands
# in for @vscode/ripgrep's downloaded binary.
set -euo pipefail

version="${GAP_CODE_SERVER_VERSION:-4.100.3}"
dir="${GAP_CODE_SERVER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gap-ls/code-server-$version}"
stamp="$dir/.gap-setup-done"
bin="$dir/node_modules/.bin/code-server"

if [ -f "$stamp" ] && [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi

log() { echo "setup-code-server: $*" >&2; }

need=()
command -v rg >/dev/null || need+=(ripgrep)
[ -e /usr/include/gssapi/gssapi.h ] || need+=(libkrb5-dev)
command -v make >/dev/null || need+=(build-essential)
command -v pkg-config >/dev/null || need+=(pkg-config)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && [ -z "${GAP_NO_APT:-}" ]; then
    log "apt-get install ${need[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    log "missing system packages: ${need[*]} (apt-get install them and re-run)"
    exit 1
  fi
fi

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" != 20 ]; then
  log "warning: code-server $version is built for node 20, this is node $(node --version)"
fi

mkdir -p "$dir"
cd "$dir"
[ -f package.json ] || echo '{"name":"gap-ls-code-server","private":true}' > package.json

npm_q=(--no-audit --no-fund --loglevel=error)
# node-pty's post-install runs `npx node-gyp`; a user npmrc with `yes=false` would cancel it.
export npm_config_yes=true

log "npm install code-server@$version (scripts skipped)"
npm install "${npm_q[@]}" --ignore-scripts "code-server@$version" >&2

cs="$dir/node_modules/code-server"
log "rebuild argon2"
(cd "$dir" && npm rebuild "${npm_q[@]}" argon2 >&2)

log "lib/vscode: install production dependencies"
cd "$cs/lib/vscode"
npm install "${npm_q[@]}" --omit=dev --ignore-scripts >&2
mkdir -p node_modules/@vscode/ripgrep/bin
ln -sf "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
log "lib/vscode: rebuild native modules"
npm rebuild "${npm_q[@]}" >&2
# rebuild may run @vscode/ripgrep's postinstall, which tries a download and removes bin/: relink.
mkdir -p node_modules/@vscode/ripgrep/bin
ln -sf "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg

log "lib/vscode/extensions: install"
cd "$cs/lib/vscode/extensions"
npm install "${npm_q[@]}" --omit=dev >&2

XDG_CONFIG_HOME="$dir/.config" XDG_DATA_HOME="$dir/.data" "$bin" --version >&2
date -u +%FT%TZ > "$stamp"
echo "$bin"
