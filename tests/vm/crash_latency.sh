#!/usr/bin/env bash
# vm.crash_latency: tests/integration/test_crash_anywhere.sh for network.latency, which needs
# sch_fq (the EDT mechanism) and sch_netem (the netem mechanism, egress and ingress on an IFB)
# that the host kernel lacks. Same checks, fewer points: 3 per phase of each mechanism (12),
# since every agent start is slow under qemu TCG. The full suite of the other types runs on
# the host (integration.crash_anywhere).
export FL_CRASH_TYPES=${FL_CRASH_TYPES:-latency-edt,latency-netem}
export POINTS_PER_PHASE=${POINTS_PER_PHASE:-3}
exec bash "$(dirname "$0")/../integration/test_crash_anywhere.sh"
