#!/usr/bin/env bash
# Build the VS Code extension from a clean checkout: npm ci, eslint, tsc --noEmit, esbuild,
# vsce package. Prints the path of the .vsix. CI calls this; so can you.
#   clients/vscode/scripts/build.sh [--skip-install]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export npm_config_yes=true npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

step() { printf '== %s\n' "$*" >&2; }

if [ "${1:-}" != "--skip-install" ]; then
  step "npm ci"
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
step "eslint"
npx --no-install eslint --max-warnings=0 src test >&2
step "tsc --noEmit"
npx --no-install tsc --noEmit -p . >&2
step "esbuild"
node esbuild.mjs --production >&2
step "vsce package"
version="$(node -p 'require("./package.json").version')"
name="$(node -p 'require("./package.json").name')"
npx --no-install vsce package --no-dependencies --out "$name-$version.vsix" >&2
echo "$PWD/$name-$version.vsix"
