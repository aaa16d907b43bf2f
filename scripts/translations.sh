#!/usr/bin/env bash
# Re-extract messages and update the English catalogue: bash scripts/translations.sh
# (compiling happens in scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
pybabel extract -F babel.cfg -k _l -k N_ -k lazy_gettext --no-location --sort-output -o contest/translations/messages.pot . >/dev/null
if [ -f contest/translations/en/LC_MESSAGES/messages.po ]; then
  pybabel update -i contest/translations/messages.pot -d contest/translations -l en --no-fuzzy-matching
else
  pybabel init -i contest/translations/messages.pot -d contest/translations -l en
fi
