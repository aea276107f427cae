#!/bin/sh
# `npm test`: every test, in two vitest runs side by side. Vitest gives one worker per core but one
# (one on this 2-core machine), which would run the long e2e files (the demo, rollouts on the real
# hub stack: mostly waiting on TALM and the controllers) one after the other behind the unit and
# integration tests; side by side the whole run takes about as long as its longest half.
# The compiled CLI is built once first, so the two runs' build steps find dist/ fresh.
set -u
tsc -p tsconfig.json || exit 1
vitest run --project e2e --passWithNoTests "$@" &
e2e=$!
vitest run --project unit --project integration --passWithNoTests "$@"
rest=$?
wait "$e2e"
e2e_rc=$?
echo "npm test: unit and integration exit $rest, e2e exit $e2e_rc"
[ "$rest" -eq 0 ] && [ "$e2e_rc" -eq 0 ]
