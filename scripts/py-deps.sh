#!/usr/bin/env bash
# Python test peers in a venv under target/ (rebuilt when this list changes):
# moto's server for the AWS SDK tests, boto3 (comes with moto) for seeding it.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=target/venv
WANT='moto[server]==5.2.5'
if [ -x "$VENV/bin/moto_server" ] && [ "$(cat "$VENV/.wanted" 2>/dev/null)" = "$WANT" ]; then exit 0; fi
echo "installing Python test peers into $VENV: $WANT"
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "$WANT"
echo "$WANT" > "$VENV/.wanted"
