#!/usr/bin/env bash
# vm.crash_lease_latency: tests/integration/test_crash_lease.sh for network.latency, which
# needs sch_fq (EDT) and sch_netem that the host kernel lacks: the agent SIGKILLed with each
# latency mechanism active, its watchdog must put the qdiscs and IFB devices back within the
# lease TTL, with no restart. The other fault types run on the host (integration.crash_lease).
export FL_CRASH_LEASE_ONLY=${FL_CRASH_LEASE_ONLY:-latency-edt,latency-netem}
exec bash "$(dirname "$0")/../integration/test_crash_lease.sh"
