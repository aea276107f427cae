#!/bin/sh
# `npm test`: every test, in three vitest runs side by side. Vitest gives one worker per core but
# one (one on this 2-core machine), which would run the long e2e files one after the other behind
# the unit and integration tests. The e2e files mostly wait on TALM's timeouts and Argo CD's sync
# waves, so the rollouts on the real hub stack (hub-stack.test.ts) run beside the other e2e files
# (the demo), and both beside the unit and integration tests: the whole run takes about as long as
# its longest part. The compiled CLI is built once first, so the runs' build steps find dist/ fresh.
set -u
tsc -p tsconfig.json || exit 1
vitest run --project e2e --passWithNoTests test/e2e/hub-stack.test.ts "$@" &
stack=$!
vitest run --project e2e --passWithNoTests --exclude test/e2e/hub-stack.test.ts "$@" &
e2e=$!
vitest run --project unit --project integration --passWithNoTests "$@"
rest=$?
wait "$stack"
stack_rc=$?
wait "$e2e"
e2e_rc=$?
echo "npm test: unit and integration exit $rest, e2e: hub stack exit $stack_rc, others exit $e2e_rc"
[ "$rest" -eq 0 ] && [ "$stack_rc" -eq 0 ] && [ "$e2e_rc" -eq 0 ]
