/*
 * The deadline clock of a netfault instance (include/faultline/netfault.h,
 * NETFAULT_COARSE_SLACK_NS): the program reads the time for the lease deadlines from jiffies
 * once cfg's clock_tick and clock_base are set. Here the tick (TICK_NSEC of the running
 * kernel's HZ) is measured once per process, by watching jiffies advance through samples the
 * netfault_clock program takes with BPF_PROG_TEST_RUN, and each instance's base is set from
 * one more sample whenever a deadline is written. If the tick cannot be told, the program
 * keeps the coarse clock (a helper call per packet that a rule with a deadline matched).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_ether.h>

#include "log.h"
#include "netfault_impl.h"
#include "netfault.skel.h"

/* The HZ a kernel can be built with (Kconfig's choices on x86 and arm64). */
static const unsigned int hz_choices[] = {100, 250, 300, 1000};

/* A jiffies step seen between two samples at most this far apart brackets a tick edge. */
#define EDGE_MAX_NS 50000ULL
/* Edges measured across at least this long (and two ticks): the tick within 1 %. */
#define SPAN_MIN_NS 20000000ULL
/* Measuring stops after this long without an answer: the coarse clock stays. */
#define MEASURE_MAX_NS 1000000000ULL

/* The tick in ns: 0 not measured yet, UINT64_MAX not measurable here. */
static uint64_t process_tick;

/* One sample (jiffies, CLOCK_MONOTONIC ns) by the netfault_clock program. */
static int clock_sample(struct netfault *nf, uint64_t *j, uint64_t *ns)
{
	uint8_t frame[ETH_HLEN] = {0};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = sizeof(frame));
	volatile struct netfault_config *cfg = &nf->c->skel->bss->cfg;

	*j = 0;
	*ns = 0;
	if (bpf_prog_test_run_opts(bpf_program__fd(nf->c->skel->progs.netfault_clock), &opts))
		return -errno;
	*j = cfg->clock_j;
	*ns = cfg->clock_ns;
	return 0;
}

/*
 * TICK_NSEC of the HZ whose tick lies in [lo, hi] widened by 1 %, when exactly one does;
 * else 0.
 */
static uint64_t tick_choice(uint64_t lo, uint64_t hi)
{
	uint64_t found = 0;

	for (size_t i = 0; i < sizeof(hz_choices) / sizeof(hz_choices[0]); i++) {
		uint64_t tick = (1000000000ULL + hz_choices[i] / 2) / hz_choices[i];

		if (tick * 100 >= lo * 99 && tick * 100 <= hi * 101) {
			if (found)
				return 0;
			found = tick;
		}
	}
	return found;
}

/*
 * Watch jiffies advance: an edge is a step of one jiffy between two samples less than
 * EDGE_MAX_NS apart (so it happened within that bracket). The first edge and a later one at
 * least SPAN_MIN_NS and two jiffies after it bound the tick (steps in between, however
 * sampled, count by their jiffies), which must then match one HZ; if none or two match, the
 * later edge becomes the first. The tick, or 0 after MEASURE_MAX_NS.
 */
static uint64_t tick_measure(struct netfault *nf)
{
	uint64_t j = 0, ns = 0, pj = 0, pns = 0, start, e0_j = 0, e0_lo = 0, e0_hi = 0;
	bool have_e0 = false;

	if (clock_sample(nf, &pj, &pns))
		return 0;
	start = pns;
	for (;;) {
		if (clock_sample(nf, &j, &ns))
			return 0;
		if (ns - start > MEASURE_MAX_NS)
			return 0;
		if (j != pj && j - pj == 1 && ns - pns <= EDGE_MAX_NS) {
			if (have_e0 && j - e0_j >= 2 && pns - e0_hi >= SPAN_MIN_NS) {
				uint64_t n = j - e0_j;
				uint64_t tick = tick_choice((pns - e0_hi) / n, (ns - e0_lo) / n);

				if (tick)
					return tick;
				have_e0 = false;
			}
			if (!have_e0) {
				have_e0 = true;
				e0_j = j, e0_lo = pns, e0_hi = ns;
			}
		}
		pj = j, pns = ns;
	}
}

/* The process's tick, measured on first use: 0 when it cannot be told. */
static uint64_t tick_get(struct netfault *nf)
{
	uint64_t tick = __atomic_load_n(&process_tick, __ATOMIC_RELAXED);

	if (!tick) {
		tick = tick_measure(nf);
		if (tick)
			log_debug("netfault: jiffies tick %llu ns: the deadline clock reads jiffies",
				  (unsigned long long)tick);
		else
			log_info("netfault: the kernel's tick could not be measured: the lease deadlines "
				 "are checked with the coarse clock (a helper call per matched packet)");
		tick = tick ? tick : UINT64_MAX;
		__atomic_store_n(&process_tick, tick, __ATOMIC_RELAXED);
	}
	return tick == UINT64_MAX ? 0 : tick;
}

void netfault_clock_sync(struct netfault *nf)
{
	struct netfault_config *cfg = &nf->c->skel->bss->cfg;
	uint64_t tick = tick_get(nf), j = 0, ns = 0, base, j2 = 0, ns2 = 0, est;
	uint64_t ahead = (NETFAULT_COARSE_SLACK_NS + tick - 1) / (tick ? tick : 1) + 1;

	if (!tick)
		goto coarse;
	if (clock_sample(nf, &j, &ns))
		goto coarse;
	/* time = ns + (jiffies - j + ahead) * tick, in unsigned (modular) arithmetic */
	base = ns - j * tick + ahead * tick;
	/* Checked on a second sample: never behind, not ahead by more than promised. */
	if (clock_sample(nf, &j2, &ns2))
		goto coarse;
	est = base + j2 * tick;
	if (est < ns2 || est - ns2 > NETFAULT_COARSE_SLACK_NS + 3 * tick) {
		log_warn("netfault: the jiffies clock is %lld ns off CLOCK_MONOTONIC: the lease "
			 "deadlines are checked with the coarse clock",
			 (long long)(est - ns2));
		goto coarse;
	}
	/* The base before the tick: a program that sees the tick sees this base or a later one. */
	__atomic_store_n(&cfg->clock_base, base, __ATOMIC_RELEASE);
	__atomic_store_n(&cfg->clock_tick, tick, __ATOMIC_RELEASE);
	return;
coarse:
	__atomic_store_n(&cfg->clock_tick, 0, __ATOMIC_RELEASE);
}

uint64_t netfault_clock_tick(const struct netfault *nf)
{
	return __atomic_load_n(&nf->c->skel->bss->cfg.clock_tick, __ATOMIC_ACQUIRE);
}
