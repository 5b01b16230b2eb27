#!/usr/bin/env bash
# Refreshes the official Socket.IO browser client the dashboard serves (no CDN: the dashboard
# works offline). The version is pinned here and in the file's banner.
set -euo pipefail
version=4.8.3
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "socket.io-client@$version" >/dev/null && tar xzf "socket.io-client-$version.tgz")
cp "$work/package/dist/socket.io.min.js" "$root/assets/vendor/socket.io.min.js"
echo "assets/vendor/socket.io.min.js is socket.io-client $version"
