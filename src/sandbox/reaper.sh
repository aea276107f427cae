#!/usr/bin/env bash
# Watchdog for one test control plane: when the process that owns it dies without stopping it
# (a crash, SIGKILL, an interrupted test run), end the processes listed in <dir>/pids and
# remove the folders listed in <dir>/dirs, then <dir>. A clean stop removes <dir> first, and the watchdog then exits by itself.
owner=$1
dir=$2
while kill -0 "$owner" 2>/dev/null && [ -d "$dir" ]; do sleep 1; done
[ -d "$dir" ] || exit 0
pids=$(cat "$dir/pids" 2>/dev/null)
alive() { for p in $pids; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
if [ -n "$pids" ]; then
  kill -TERM $pids 2>/dev/null
  for _ in 1 2 3 4 5 6 7 8 9 10; do alive || break; sleep 1; done
  kill -KILL $pids 2>/dev/null
fi
# Folders the owner made beside the control plane (ControlPlane.adopt): sysroots, a registry's.
if [ -f "$dir/dirs" ]; then
  while IFS= read -r d; do
    case "$d" in /?*) chattr -R -i "$d" 2>/dev/null; rm -rf "$d" ;; esac
  done < "$dir/dirs"
fi
chattr -R -i "$dir" 2>/dev/null
rm -rf "$dir"
