#!/usr/bin/env bash
# Python test peers in a venv under target/ (rebuilt when this list changes):
# moto's server for the AWS SDK tests (boto3, which comes with it, seeds it) and
# oidc-provider-mock, a real OpenID provider for the login tests.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=target/venv
WANT="moto[server]==5.2.5 oidc-provider-mock==0.3.4"
if [ -x "$VENV/bin/moto_server" ] && [ "$(cat "$VENV/.wanted" 2>/dev/null)" = "$WANT" ]; then exit 0; fi
echo "installing Python test peers into $VENV: $WANT"
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check $WANT
echo "$WANT" > "$VENV/.wanted"
