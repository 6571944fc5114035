#!/usr/bin/env bash
# The client assets under content-hashed names, precompressed (called by `make site`).
#   scripts/assets.sh PKG_DIR debug|release
# Copies ops-console.{js,wasm,css} to ops-console.<hash>.{js,wasm,css}, where <hash> is the first
# 16 hex digits of the SHA-256 of the three files, writes the name to PKG_DIR/hashed-name (the
# server reads it at start: docs/ARCHITECTURE.md, "Static assets"), and writes .gz and .br copies
# beside each hashed file, served when the browser accepts them. The release build compresses at
# the highest levels (gzip -9, brotli -q 11); the debug build, whose wasm is ~19 MB, at fast ones.
# Older hashed copies are removed. brotli is Debian's `brotli` package: without it only .gz is
# written, and a browser that accepts both gets the gzip copy.
set -euo pipefail
pkg=$1
profile=${2:-debug}
cd "$pkg"
for f in ops-console.js ops-console.wasm ops-console.css; do
  [ -f "$f" ] || { echo "assets: $pkg/$f is missing (make wasm css first)" >&2; exit 1; }
done
hash=$(cat ops-console.js ops-console.wasm ops-console.css | sha256sum | cut -c1-16)
name="ops-console.$hash"
find . -maxdepth 1 -regextype posix-extended -regex '\./ops-console\.[0-9a-f]{16}\.(js|wasm|css)(\.gz|\.br)?' \
  ! -name "$name.*" -delete
if [ "$profile" = release ]; then gz=9; br=11; else gz=1; br=2; fi
for ext in js wasm css; do
  f="$name.$ext"
  cp ops-console.$ext "$f"
  gzip -"$gz" -n -k -f "$f"
  if command -v brotli >/dev/null; then brotli -q "$br" -k -f "$f"; fi
done
command -v brotli >/dev/null || echo "assets: brotli not found (apt-get install brotli): only .gz written"
echo "$name" >hashed-name
echo "assets: $name.{js,wasm,css} ($(stat -c %s "$name.wasm") B wasm$( [ -f "$name.wasm.br" ] && echo ", $(stat -c %s "$name.wasm.br") B brotli"))"
