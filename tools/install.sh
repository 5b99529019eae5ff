#!/bin/sh
# Installs the pinned official MCP tools into tools/: node_modules (Node 22, conformance, Inspector)
# and venv (the Python SDK). Only the package registries are used.
set -eu
cd "$(dirname "$0")"
timeout 900 npm install --no-fund --no-audit --loglevel=error
[ -x venv/bin/python ] || python3 -m venv venv
timeout 600 venv/bin/pip install -q -r requirements.txt
echo "tools: node $(node_modules/.bin/node --version), mcp $(venv/bin/python -c 'import importlib.metadata as m; print(m.version("mcp"))')"
