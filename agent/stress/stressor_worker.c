/*
 * The stressor workers: the agent binary re-executed as
 *   faultlined --internal-stress-worker INDEX MODE ARGS...
 * by stressor.c, already in its cgroup and without capabilities. Each reports through its
 * slot (INDEX) of the status pages on fd 3 and works until it is killed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "stressor.h"

#define FD_STATUS 3
#define FD_DATA 4
#define NSEC 1000000000ULL

static struct stressor_status *st;

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / NSEC), .tv_nsec = (long)(ns % NSEC) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void set_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
	va_end(ap);
}

static void set_state(enum stressor_state s)
{
	__atomic_store_n(&st->state, s, __ATOMIC_RELEASE);
}

static void set_done(uint64_t v)
{
	__atomic_store_n(&st->done, v, __ATOMIC_RELAXED);
}

static __attribute__((noreturn)) void fail(int err, const char *what)
{
	st->err = err;
	set_msg("%s", what);
	set_state(STRESSOR_FAILED);
	/* Stay until killed, so the agent reads the reason rather than a dead worker. */
	for (;;)
		pause();
}

static __attribute__((noreturn)) void hold(enum stressor_state s)
{
	set_state(s);
	for (;;)
		pause();
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || end == s || *end ? -EINVAL : 0;
}

/*
 * Duty cycle from the worker's own CPU time: spin while the CPU time used lags
 * load * wall time, sleep while it is ahead. On a loaded machine the spins get less CPU
 * than their wall time, the lag grows, and the worker spins longer: it self-corrects up
 * to what the scheduler can give. The debt is capped so a stall is not paid back in one
 * long burst.
 */
static __attribute__((noreturn)) void cpu_worker(uint64_t load_ppm)
{
	const uint64_t slice = 10 * 1000000ULL, cap = 200 * 1000000ULL;
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC), c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);

	set_state(STRESSOR_RUNNING);
	for (;;) {
		uint64_t now = clock_ns(CLOCK_MONOTONIC), cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
		uint64_t want = (uint64_t)((unsigned __int128)(now - t0) * load_ppm / 1000000);
		uint64_t used = cpu - c0;

		set_done(used);
		if (want > used + cap) {
			/* Forgive debt beyond the cap by moving the start of the account. */
			t0 += (uint64_t)((unsigned __int128)(want - used - cap) * 1000000 /
					 load_ppm);
			continue;
		}
		if (want > used) {
			uint64_t until = cpu + (want - used < slice ? want - used : slice);

			while (clock_ns(CLOCK_PROCESS_CPUTIME_ID) < until)
				;
			continue;
		}
		if (load_ppm >= 1000000)
			continue;
		/* Ahead: wall time must grow by (used - want) / load for the account to balance. */
		{
			uint64_t ns = (uint64_t)((unsigned __int128)(used - want) * 1000000 /
						 load_ppm);

			sleep_ns(ns < slice ? (ns ? ns : 100000) : slice);
		}
	}
}

/* Grow to bytes (over ramp_ns), never letting MemAvailable fall below floor. */
static __attribute__((noreturn)) void memory_worker(uint64_t bytes, uint64_t ramp_ns,
						   uint64_t floor)
{
	const uint64_t chunk = 4ULL << 20;
	long page = sysconf(_SC_PAGESIZE);
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC), done = 0, total, avail;
	char *mem;

	mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		   -1, 0);
	if (mem == MAP_FAILED)
		fail(errno, "mmap");
	set_state(STRESSOR_RUNNING);
	while (done < bytes) {
		uint64_t n = bytes - done < chunk ? bytes - done : chunk;

		if (ramp_ns) {
			/* Chunk k is due when k/total of the ramp has passed. */
			uint64_t due = t0 + (uint64_t)((unsigned __int128)ramp_ns * done / bytes);
			uint64_t now = clock_ns(CLOCK_MONOTONIC);

			if (due > now)
				sleep_ns(due - now);
		}
		if (stressor_meminfo(&total, &avail))
			fail(errno, "reading /proc/meminfo");
		if (avail < floor + n) {
			set_msg("stopped at %llu of %llu bytes: MemAvailable %llu would fall below the "
				"policy's min_free_memory %llu",
				(unsigned long long)done, (unsigned long long)bytes,
				(unsigned long long)avail, (unsigned long long)floor);
			hold(STRESSOR_LIMITED);
		}
		/* A nonzero byte per page: a real page each, never the shared zero page. */
		for (uint64_t off = 0; off < n; off += (uint64_t)page)
			mem[done + off] = (char)0xa5;
		done += n;
		set_done(done);
	}
	hold(STRESSOR_HOLDING);
}

/* Fill the file on fd 4 to bytes: fallocate in steps, else writes. */
static __attribute__((noreturn)) void fill_worker(uint64_t bytes)
{
	const uint64_t step = 64ULL << 20;
	static char buf[1 << 20];
	uint64_t done = 0;
	bool use_write = false;

	memset(buf, 0xa5, sizeof(buf));
	set_state(STRESSOR_RUNNING);
	while (done < bytes) {
		uint64_t n = bytes - done < step ? bytes - done : step;

		if (!use_write) {
			if (!fallocate(FD_DATA, 0, (off_t)done, (off_t)n)) {
				done += n;
				set_done(done);
				continue;
			}
			if (errno != EOPNOTSUPP) {
				if (errno == ENOSPC || errno == EDQUOT) {
					set_msg("filesystem full after %llu of %llu bytes",
						(unsigned long long)done, (unsigned long long)bytes);
					hold(STRESSOR_LIMITED);
				}
				fail(errno, "fallocate");
			}
			use_write = true;
		}
		for (uint64_t w = 0; w < n;) {
			size_t len = n - w < sizeof(buf) ? (size_t)(n - w) : sizeof(buf);
			ssize_t r = pwrite(FD_DATA, buf, len, (off_t)(done + w));

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && (errno == ENOSPC || errno == EDQUOT)) {
				set_msg("filesystem full after %llu of %llu bytes (written)",
					(unsigned long long)(done + w), (unsigned long long)bytes);
				hold(STRESSOR_LIMITED);
			}
			if (r < 0)
				fail(errno, "pwrite");
			w += (uint64_t)r;
			set_done(done + w);
		}
		/* Written data only takes space once allocated: make the usage real. */
		if (fdatasync(FD_DATA))
			fail(errno, "fdatasync");
		done += n;
	}
	hold(STRESSOR_HOLDING);
}

/*
 * Writes at rate bytes per second from a token account, in blocks of a hundredth of a
 * second, over a window of the file so that sustained IO does not turn into a disk fill.
 */
static __attribute__((noreturn)) void io_worker(uint64_t rate, bool do_fsync)
{
	uint64_t block = rate / 100, window, written = 0, fsyncs = 0, off = 0, t0;
	char *buf;

	if (block < 4096)
		block = 4096;
	if (block > (4ULL << 20))
		block = 4ULL << 20;
	window = rate * 2;
	if (window < (1ULL << 20))
		window = 1ULL << 20;
	if (window > (256ULL << 20))
		window = 256ULL << 20;
	buf = malloc(block);
	if (!buf)
		fail(ENOMEM, "allocating the write buffer");
	memset(buf, 0x5a, block);
	set_state(STRESSOR_RUNNING);
	t0 = clock_ns(CLOCK_MONOTONIC);
	for (;;) {
		uint64_t now = clock_ns(CLOCK_MONOTONIC);
		uint64_t allowed = (uint64_t)((unsigned __int128)(now - t0) * rate / NSEC);
		ssize_t r;

		if (written + block > allowed) {
			uint64_t ns = (uint64_t)((unsigned __int128)(written + block - allowed) *
						 NSEC / rate);

			sleep_ns(ns);
			continue;
		}
		if (off + block > window)
			off = 0;
		r = pwrite(FD_DATA, buf, block, (off_t)off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOSPC || errno == EDQUOT) {
				set_msg("filesystem full: waiting for space");
				sleep_ns(NSEC / 10);
				continue;
			}
			fail(errno, "pwrite");
		}
		if (do_fsync) {
			if (fdatasync(FD_DATA))
				fail(errno, "fdatasync");
			__atomic_store_n(&st->extra, ++fsyncs, __ATOMIC_RELAXED);
		}
		written += (uint64_t)r;
		off += (uint64_t)r;
		set_done(written);
	}
}

/* Hold count more open descriptors: /dev/null, then duplicates of it. */
static __attribute__((noreturn)) void fds_worker(uint64_t count)
{
	int fd = open("/dev/null", O_RDONLY);

	if (fd < 0)
		fail(errno, "opening /dev/null");
	set_state(STRESSOR_RUNNING);
	for (uint64_t held = 1; held < count; held++) {
		if (dup(fd) < 0) {
			char what[96];

			snprintf(what, sizeof(what), "dup after %llu descriptors",
				 (unsigned long long)held);
			fail(errno, what);
		}
		if (!(held % 1024))
			set_done(held);
	}
	set_done(count);
	hold(STRESSOR_HOLDING);
}

int stressor_worker_main(int argc, char **argv)
{
	struct stat sb;
	uint64_t idx, a = 0, b = 0, c = 0;
	const char *mode;

	/* argv: faultlined --internal-stress-worker INDEX MODE ARGS... */
	/* fd 3 must be the agent's status memfd (F_GET_SEALS fails on anything else). */
	if (argc < 4 || parse_u64(argv[2], &idx) || fcntl(FD_STATUS, F_GET_SEALS) < 0 ||
	    fstat(FD_STATUS, &sb) || (idx + 1) * sizeof(*st) > (uint64_t)sb.st_size) {
		fprintf(stderr, "faultlined: %s is internal to the agent\n", STRESSOR_WORKER_ARG);
		_exit(2);
	}
	st = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, FD_STATUS, 0);
	if (st == MAP_FAILED)
		_exit(2);
	st += idx;
	/* Spawned at the agent's --nice (below 0): the load it injects runs at the default. */
	if (setpriority(PRIO_PROCESS, 0, 0))
		fail(errno, "resetting the scheduling priority to 0");
	signal(SIGPIPE, SIG_DFL);
	mode = argv[3];
	/* "exe" (from /proc/self/exe) would tell an operator nothing: fl-cpu, fl-memory... */
	{
		char comm[16];

		snprintf(comm, sizeof(comm), "fl-%s", mode);
		prctl(PR_SET_NAME, comm, 0, 0, 0);
	}
	if ((argc > 4 && parse_u64(argv[4], &a)) || (argc > 5 && parse_u64(argv[5], &b)) ||
	    (argc > 6 && parse_u64(argv[6], &c)))
		fail(EINVAL, "bad worker arguments");
	if (!strcmp(mode, "cpu") && argc == 5 && a >= 1 && a <= 1000000)
		cpu_worker(a);
	if (!strcmp(mode, "memory") && argc == 7 && a)
		memory_worker(a, b, c);
	if (!strcmp(mode, "fill") && argc == 5)
		fill_worker(a);
	if (!strcmp(mode, "io") && argc == 6 && a)
		io_worker(a, b != 0);
	if (!strcmp(mode, "fds") && argc == 5 && a)
		fds_worker(a);
	fail(EINVAL, "unknown worker mode or arguments");
}
