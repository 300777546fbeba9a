/*
 * Baselines for `npm run bench`: the same workloads as bench/workloads, written on liburing.
 *
 *   uring-bench nop   BATCH WARMUP SECONDS FLAGS        NOP submit+reap, BATCH per submit
 *   uring-bench rand  FILE QD WARMUP SECONDS FLAGS      4 KiB reads at random 4 KiB-aligned offsets
 *   uring-bench seq   FILE QD WARMUP SECONDS FLAGS      1 MiB reads, sequential, wrapping at EOF
 *   uring-bench pread FILE WARMUP SECONDS               4 KiB pread(2) loop (reference only)
 *
 * FLAGS: io_uring setup flags (hex or decimal) -- the bench passes those the JS ring was
 * granted, so both run on identically configured rings. The ring fd is registered
 * (IORING_ENTER_REGISTERED_RING), as ours is. Two flags are dropped because this liburing
 * cannot set them up: IORING_SETUP_NO_MMAP (liburing 2.3 has no io_uring_queue_init_mem;
 * the kernel does the same work on its own pages) and IORING_SETUP_NO_SQARRAY.
 *
 * SQPOLL: with IORING_SETUP_SQPOLL in FLAGS, the optional trailing arguments IDLE_MS and
 * SQ_CPU set sq_thread_idle and (SQ_CPU >= 0, with IORING_SETUP_SQ_AFF) the SQ thread's CPU,
 * and every wait becomes a spin on the CQ: io_uring_submit() (no system call while the SQ
 * thread is awake) then reading CQEs as they appear, never io_uring_enter to wait.
 *
 * Prints one JSON line: {"ops":N,"seconds":S,"bytes":B,"user":U,"sys":Y,"machine_busy":M} for
 * the measured window (CPU seconds from getrusage; M: busy CPU seconds of the whole machine
 * from /proc/stat, -1 if unreadable, so the bench can tell how much other work competed). The warm-up runs first and is not counted. The loops
 * mirror bench/workloads/nop.ts and reads.ts step for step, clock checks included.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef IORING_SETUP_NO_SQARRAY
#define IORING_SETUP_NO_SQARRAY (1U << 16)
#endif
#ifndef IORING_SETUP_NO_MMAP
#define IORING_SETUP_NO_MMAP (1U << 14)
#endif

/* sq_thread_idle (ms) and SQ thread CPU (-1: any) for SQPOLL rings. */
static unsigned sq_idle_ms = 0;
static int sq_cpu = -1;

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int err) {
	fprintf(stderr, "uring-bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

/* Same generator as bench/workloads/common.ts (xorshift32). */
static uint32_t rng_state = 0x9e3779b9u;
static inline uint32_t xorshift32(void) {
	uint32_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return rng_state = x;
}

static void setup(struct io_uring *ring, unsigned entries, unsigned flags) {
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	/* liburing 2.3 predates NO_SQARRAY and would write its SQ index array over the ring header. */
	p.flags = flags & ~(IORING_SETUP_NO_SQARRAY | IORING_SETUP_NO_MMAP);
	if (flags & IORING_SETUP_SQPOLL) {
		p.sq_thread_idle = sq_idle_ms;
		if (sq_cpu >= 0) {
			p.flags |= IORING_SETUP_SQ_AFF;
			p.sq_thread_cpu = sq_cpu;
		}
	}
	int r = io_uring_queue_init_params(entries, ring, &p);
	if (r < 0) die("io_uring_queue_init_params", r);
	r = io_uring_register_ring_fd(ring);
	if (r < 0 && r != -EINVAL) die("io_uring_register_ring_fd", r);
}

/*
 * Submits what is queued and waits for `want` CQEs: io_uring_submit_and_wait, or on an
 * SQPOLL ring io_uring_submit (which enters the kernel only to wake a sleeping SQ thread)
 * and a spin on the CQ tail.
 */
static void submit_wait(struct io_uring *ring, unsigned want) {
	if (!(ring->flags & IORING_SETUP_SQPOLL)) {
		int r = io_uring_submit_and_wait(ring, want);
		if (r < 0) die("io_uring_submit_and_wait", r);
		return;
	}
	int r = io_uring_submit(ring);
	if (r < 0) die("io_uring_submit", r);
	while (io_uring_cq_ready(ring) < want) {
	}
}

static double cpu_seconds(int user) {
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	struct timeval tv = user ? ru.ru_utime : ru.ru_stime;
	return tv.tv_sec + tv.tv_usec / 1e6;
}

/* Busy CPU seconds of the whole machine (all CPUs), from /proc/stat; -1 if unreadable. */
static double machine_busy(void) {
	FILE *f = fopen("/proc/stat", "r");
	if (!f) return -1;
	unsigned long long v[8] = {0};
	int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n < 8) return -1;
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / 100.0; /* USER_HZ */
}

/* The warm-up, then the measured window: call window_tick after each chunk of work. */
struct window {
	double warm_end, t0, end, user0, sys0, busy0;
	unsigned long long ops0, bytes0;
	int measuring;
};

static void window_start(struct window *w, double warmup) {
	memset(w, 0, sizeof *w);
	w->warm_end = now() + warmup;
}

/* Returns 1 once the window is over (after printing the result). */
static int window_tick(struct window *w, double seconds, unsigned long long ops, unsigned long long bytes) {
	double t = now();
	if (!w->measuring) {
		if (t >= w->warm_end) {
			w->measuring = 1;
			w->t0 = t;
			w->end = t + seconds;
			w->ops0 = ops;
			w->bytes0 = bytes;
			w->user0 = cpu_seconds(1);
			w->sys0 = cpu_seconds(0);
			w->busy0 = machine_busy();
		}
		return 0;
	}
	if (t < w->end) return 0;
	double busy = machine_busy();
	printf("{\"ops\":%llu,\"seconds\":%.6f,\"bytes\":%llu,\"user\":%.6f,\"sys\":%.6f,\"machine_busy\":%.2f}\n", ops - w->ops0,
	       t - w->t0, bytes - w->bytes0, cpu_seconds(1) - w->user0, cpu_seconds(0) - w->sys0,
	       busy < 0 || w->busy0 < 0 ? -1.0 : busy - w->busy0);
	return 1;
}

/* Ops per clock check, as in the JS loops: 2048 NOPs (whole batches). */
static int run_nop(unsigned batch, double warmup, double seconds, unsigned flags) {
	struct io_uring ring;
	setup(&ring, batch > 256 ? batch : 256, flags);
	unsigned batches = batch >= 2048 ? 1 : 2048 / batch;
	unsigned long long ops = 0;
	struct window w;
	window_start(&w, warmup);
	do {
		for (unsigned k = 0; k < batches; k++) {
			for (unsigned i = 0; i < batch; i++) io_uring_prep_nop(io_uring_get_sqe(&ring));
			submit_wait(&ring, batch);
			struct io_uring_cqe *cqe;
			unsigned head, seen = 0;
			io_uring_for_each_cqe(&ring, head, cqe) {
				if (cqe->res < 0) die("nop", cqe->res);
				seen++;
			}
			io_uring_cq_advance(&ring, seen);
			ops += seen;
		}
	} while (!window_tick(&w, seconds, ops, 0));
	return 0;
}

static int open_file(const char *path, off_t *size) {
	int fd = open(path, O_RDONLY);
	if (fd < 0) die(path, errno);
	struct stat st;
	if (fstat(fd, &st) < 0) die("fstat", errno);
	*size = st.st_size;
	return fd;
}

/*
 * rand (4 KiB blocks, random offsets) and seq (1 MiB blocks, sequential): keep QD reads in
 * flight; each turn is one submit_and_wait(1) and one pass over the ready CQEs, re-arming
 * each completed read into the same buffer.
 */
static int run_reads(const char *path, unsigned qd, double warmup, double seconds, unsigned flags, int sequential) {
	off_t size;
	int fd = open_file(path, &size);
	size_t block = sequential ? (1u << 20) : 4096;
	uint64_t blocks = (uint64_t)size / block;
	uint64_t next_block = 0;
	char *mem;
	if (posix_memalign((void **)&mem, 4096, block * qd)) die("posix_memalign", ENOMEM);
	memset(mem, 0, block * qd);
	struct io_uring ring;
	unsigned entries = 8;
	while (entries < qd) entries <<= 1;
	/* SQPOLL: the SQ thread may post a read's CQE before it moves the SQ head past the batch,
	 * so a completed read's SQE slot can still look taken: twice the depth always has room. */
	if (flags & IORING_SETUP_SQPOLL) entries <<= 1;
	setup(&ring, entries, flags);
	for (unsigned i = 0; i < qd; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
		uint64_t b = sequential ? next_block++ % blocks : xorshift32() % blocks;
		io_uring_prep_read(sqe, fd, mem + i * block, block, b * block);
		sqe->user_data = i;
	}
	unsigned turns = (sequential ? 32 : 2048) / qd;
	if (turns == 0) turns = 1;
	unsigned long long ops = 0;
	struct window w;
	window_start(&w, warmup);
	do {
		for (unsigned k = 0; k < turns; k++) {
			submit_wait(&ring, 1);
			struct io_uring_cqe *cqe;
			unsigned head, seen = 0;
			io_uring_for_each_cqe(&ring, head, cqe) {
				if (cqe->res != (int)block) die("read", cqe->res < 0 ? cqe->res : EIO);
				unsigned i = (unsigned)cqe->user_data;
				struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
				if (!sqe) die("io_uring_get_sqe", EBUSY);
				uint64_t b = sequential ? next_block++ % blocks : xorshift32() % blocks;
				io_uring_prep_read(sqe, fd, mem + i * block, block, b * block);
				sqe->user_data = i;
				seen++;
			}
			io_uring_cq_advance(&ring, seen);
			ops += seen;
		}
	} while (!window_tick(&w, seconds, ops, ops * block));
	return 0;
}

static int run_pread(const char *path, double warmup, double seconds) {
	off_t size;
	int fd = open_file(path, &size);
	uint64_t blocks = (uint64_t)size / 4096;
	static char buf[4096] __attribute__((aligned(4096)));
	unsigned long long ops = 0;
	struct window w;
	window_start(&w, warmup);
	do {
		for (int k = 0; k < 256; k++) {
			if (pread(fd, buf, 4096, (off_t)(xorshift32() % blocks) * 4096) != 4096) die("pread", errno);
		}
		ops += 256;
	} while (!window_tick(&w, seconds, ops, ops * 4096));
	return 0;
}

int main(int argc, char **argv) {
	/* Trailing SQPOLL settings: nop takes 6 fixed arguments, rand and seq 7. */
	int fixed = argc > 1 && strcmp(argv[1], "nop") == 0 ? 6 : 7;
	if (argc == fixed + 2 && (strcmp(argv[1], "nop") == 0 || strcmp(argv[1], "rand") == 0 || strcmp(argv[1], "seq") == 0)) {
		sq_idle_ms = strtoul(argv[fixed], 0, 0);
		sq_cpu = atoi(argv[fixed + 1]);
		argc = fixed;
	}
	if (argc == 6 && strcmp(argv[1], "nop") == 0) return run_nop(atoi(argv[2]), atof(argv[3]), atof(argv[4]), strtoul(argv[5], 0, 0));
	if (argc == 7 && strcmp(argv[1], "rand") == 0) return run_reads(argv[2], atoi(argv[3]), atof(argv[4]), atof(argv[5]), strtoul(argv[6], 0, 0), 0);
	if (argc == 7 && strcmp(argv[1], "seq") == 0) return run_reads(argv[2], atoi(argv[3]), atof(argv[4]), atof(argv[5]), strtoul(argv[6], 0, 0), 1);
	if (argc == 5 && strcmp(argv[1], "pread") == 0) return run_pread(argv[2], atof(argv[3]), atof(argv[4]));
	fprintf(stderr,
		"usage: uring-bench nop BATCH WARMUP SECONDS FLAGS [IDLE_MS SQ_CPU]\n"
		"       | rand FILE QD WARMUP SECONDS FLAGS [IDLE_MS SQ_CPU]\n"
		"       | seq FILE QD WARMUP SECONDS FLAGS [IDLE_MS SQ_CPU] | pread FILE WARMUP SECONDS\n");
	return 2;
}
