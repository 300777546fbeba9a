/*
 * Load generator for the server-bound network rows of `npm run bench`: many connections to
 * one server on 127.0.0.1, each keeping DEPTH requests in flight (pipelined), driven by one
 * epoll loop on one CPU. Written in C so that the server, not the client, runs out of CPU
 * first: the bench pins the server to one CPU and this program to another.
 *
 *   echo-load echo PORT CONNS DEPTH SIZE WARMUP SECONDS CLIENT_CPU SERVER_PID
 *   echo-load http PORT CONNS DEPTH PATH WARMUP SECONDS CLIENT_CPU SERVER_PID
 *
 * echo: a request is SIZE bytes; it is answered when SIZE more bytes came back on its
 *   connection (the servers echo a byte stream, so responses are counted in bytes).
 * http: a request is `GET PATH HTTP/1.1` with keep-alive; a response is a status line,
 *   headers and a Content-Length body (chunked responses are refused: the servers send
 *   Content-Length).
 * Each answered request is replaced by a new one at once; new requests of a connection
 * go out in one send(2).
 *
 * CLIENT_CPU: the CPU this process pins itself to (-1: no pinning). SERVER_PID: the server
 * process whose CPU time (utime, stime of /proc/PID/stat, all its threads) is read when the
 * measured window opens and closes (0: none).
 *
 * Prints one JSON line for the measured window (after WARMUP seconds, not counted):
 *   {"ops":N,"seconds":S,"bytes":B,"user":U,"sys":Y,"server_user":SU,"server_sys":SY,
 *    "machine_busy":M,"cpu":C}
 * ops: requests answered; user/sys: this process's CPU seconds; server_*: the server's CPU
 * seconds (-1 when unknown); machine_busy: busy CPU seconds of the whole machine from
 * /proc/stat (-1 if unreadable); cpu: the CPU the client ran on (-1: not pinned).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 4096
#define RECV_BUF (256 * 1024)
#define USER_HZ 100.0

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int err) {
	fprintf(stderr, "echo-load: %s: %s\n", what, strerror(err));
	exit(1);
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
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / USER_HZ;
}

/* utime and stime (fields 14 and 15) of /proc/PID/stat, in seconds; 0 on success. */
static int process_cpu(int pid, double *user, double *sys) {
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f) return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	/* The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p) return -1;
	unsigned long long ut = 0, st = 0;
	/* After ')': state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15) */
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) return -1;
	*user = ut / USER_HZ;
	*sys = st / USER_HZ;
	return 0;
}

enum mode { ECHO, HTTP };

struct conn {
	int fd;
	/* echo: bytes of the current response received so far. */
	size_t partial;
	/* Bytes of new requests not yet sent (sent as soon as the socket takes them). */
	size_t owed;
	/* Offset into the current request (a send may stop inside one). */
	size_t offset;
	int want_out;
	/* http parser: 0 = in headers, 1 = in body. */
	int in_body;
	size_t body_left;
	size_t content_length;
	size_t line_len;
	char line[256];
};

static enum mode mode;
static char *request;
static size_t request_len;
static char *send_buf;
static size_t send_buf_len;
static int epfd;

static void set_events(struct conn *c, int out) {
	if (c->want_out == out) return;
	struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl", errno);
	c->want_out = out;
}

/* Sends what the connection owes, as far as the socket takes it. */
static void flush_conn(struct conn *c) {
	while (c->owed > 0) {
		/* send_buf holds whole requests back to back: start at the current request's offset. */
		size_t len = c->owed < send_buf_len - c->offset ? c->owed : send_buf_len - c->offset;
		ssize_t n = send(c->fd, send_buf + c->offset, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				set_events(c, 1);
				return;
			}
			if (errno == EINTR) continue;
			die("send", errno);
		}
		c->owed -= n;
		c->offset = (c->offset + n) % request_len;
	}
	set_events(c, 0);
}

/*
 * HTTP/1.1 responses: header lines up to an empty line, Content-Length bytes of body.
 * Returns the responses completed in data[0..n).
 */
static unsigned long long parse_http(struct conn *c, const char *data, size_t n) {
	unsigned long long done = 0;
	size_t i = 0;
	while (i < n) {
		if (c->in_body) {
			size_t take = n - i < c->body_left ? n - i : c->body_left;
			c->body_left -= take;
			i += take;
			if (c->body_left == 0) {
				c->in_body = 0;
				done++;
			}
			continue;
		}
		char ch = data[i++];
		if (ch != '\n') {
			if (c->line_len < sizeof c->line - 1) c->line[c->line_len++] = ch;
			continue;
		}
		/* End of a header line (strip the '\r'). */
		if (c->line_len > 0 && c->line[c->line_len - 1] == '\r') c->line_len--;
		c->line[c->line_len] = 0;
		if (c->line_len == 0) {
			c->body_left = c->content_length;
			c->content_length = 0;
			if (c->body_left == 0) done++;
			else c->in_body = 1;
		} else if (strncasecmp(c->line, "content-length:", 15) == 0) {
			c->content_length = strtoull(c->line + 15, 0, 10);
		} else if (strncasecmp(c->line, "transfer-encoding:", 18) == 0) {
			fprintf(stderr, "echo-load: the server sent %s; only Content-Length responses are counted\n", c->line);
			exit(1);
		} else if (strncmp(c->line, "HTTP/1.1 ", 9) == 0 && strncmp(c->line + 9, "200", 3) != 0) {
			fprintf(stderr, "echo-load: the server answered %s\n", c->line);
			exit(1);
		}
		c->line_len = 0;
	}
	return done;
}

int main(int argc, char **argv) {
	if (argc != 10 || (strcmp(argv[1], "echo") != 0 && strcmp(argv[1], "http") != 0)) {
		fprintf(stderr,
			"usage: echo-load echo PORT CONNS DEPTH SIZE WARMUP SECONDS CLIENT_CPU SERVER_PID\n"
			"       echo-load http PORT CONNS DEPTH PATH WARMUP SECONDS CLIENT_CPU SERVER_PID\n");
		return 2;
	}
	mode = strcmp(argv[1], "echo") == 0 ? ECHO : HTTP;
	int port = atoi(argv[2]);
	int nconns = atoi(argv[3]);
	int depth = atoi(argv[4]);
	double warmup = atof(argv[6]);
	double seconds = atof(argv[7]);
	int client_cpu = atoi(argv[8]);
	int server_pid = atoi(argv[9]);
	if (nconns < 1 || nconns > MAX_CONNS || depth < 1 || port < 1 || port > 65535) {
		fprintf(stderr, "echo-load: bad arguments\n");
		return 2;
	}
	if (mode == ECHO) {
		request_len = strtoul(argv[5], 0, 10);
		if (request_len < 1 || request_len > (1 << 20)) {
			fprintf(stderr, "echo-load: SIZE must be 1..1048576\n");
			return 2;
		}
		request = malloc(request_len);
		if (!request) die("malloc", ENOMEM);
		for (size_t i = 0; i < request_len; i++) request[i] = 'a' + i % 26;
	} else {
		size_t cap = strlen(argv[5]) + 128;
		request = malloc(cap);
		if (!request) die("malloc", ENOMEM);
		request_len = snprintf(request, cap, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n", argv[5]);
	}
	if (client_cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(client_cpu, &set);
		if (sched_setaffinity(0, sizeof set, &set) < 0) die("sched_setaffinity", errno);
	}
	/* Requests back to back, enough for any one send. */
	size_t reps = (64 * 1024) / request_len + (size_t)depth + 1;
	send_buf_len = reps * request_len;
	send_buf = malloc(send_buf_len);
	if (!send_buf) die("malloc", ENOMEM);
	for (size_t i = 0; i < reps; i++) memcpy(send_buf + i * request_len, request, request_len);
	char *recv_buf = malloc(RECV_BUF);
	if (!recv_buf) die("malloc", ENOMEM);

	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0) die("epoll_create1", errno);
	struct conn *conns = calloc(nconns, sizeof *conns);
	if (!conns) die("calloc", ENOMEM);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < nconns; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) die("socket", errno);
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		/* Blocking connect: the listen backlog of every server takes CONNS at once. */
		if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect", errno);
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		conns[i].fd = fd;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl", errno);
	}
	for (int i = 0; i < nconns; i++) {
		conns[i].owed = (size_t)depth * request_len;
		flush_conn(&conns[i]);
	}

	unsigned long long ops = 0, bytes = 0, ops0 = 0, bytes0 = 0;
	double warm_end = now() + warmup, t0 = 0, end = 0;
	double user0 = 0, sys0 = 0, busy0 = 0, su0 = -1, ss0 = -1;
	int measuring = 0;
	struct epoll_event events[256];
	for (;;) {
		int n = epoll_wait(epfd, events, 256, 10);
		if (n < 0) {
			if (errno == EINTR) continue;
			die("epoll_wait", errno);
		}
		for (int e = 0; e < n; e++) {
			struct conn *c = events[e].data.ptr;
			if (events[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
				for (;;) {
					ssize_t got = recv(c->fd, recv_buf, RECV_BUF, 0);
					if (got < 0) {
						if (errno == EAGAIN || errno == EWOULDBLOCK) break;
						if (errno == EINTR) continue;
						die("recv", errno);
					}
					if (got == 0) {
						fprintf(stderr, "echo-load: the server closed a connection\n");
						return 1;
					}
					bytes += got;
					unsigned long long done;
					if (mode == ECHO) {
						c->partial += got;
						done = c->partial / request_len;
						c->partial %= request_len;
					} else {
						done = parse_http(c, recv_buf, got);
					}
					ops += done;
					c->owed += done * request_len;
					if (got < RECV_BUF) break;
				}
			}
			if (c->owed > 0) flush_conn(c);
		}
		double t = now();
		if (!measuring) {
			if (t >= warm_end) {
				measuring = 1;
				t0 = t;
				end = t + seconds;
				ops0 = ops;
				bytes0 = bytes;
				user0 = cpu_seconds(1);
				sys0 = cpu_seconds(0);
				busy0 = machine_busy();
				if (server_pid > 0 && process_cpu(server_pid, &su0, &ss0) < 0) su0 = ss0 = -1;
			}
		} else if (t >= end) {
			double busy = machine_busy();
			double su1 = -1, ss1 = -1;
			int server_known = server_pid > 0 && su0 >= 0 && process_cpu(server_pid, &su1, &ss1) == 0;
			printf("{\"ops\":%llu,\"seconds\":%.6f,\"bytes\":%llu,\"user\":%.6f,\"sys\":%.6f,\"server_user\":%.2f,\"server_sys\":%.2f,"
			       "\"machine_busy\":%.2f,\"cpu\":%d}\n",
			       ops - ops0, t - t0, bytes - bytes0, cpu_seconds(1) - user0, cpu_seconds(0) - sys0,
			       server_known ? su1 - su0 : -1.0, server_known ? ss1 - ss0 : -1.0,
			       busy < 0 || busy0 < 0 ? -1.0 : busy - busy0, client_cpu);
			fflush(stdout);
			break;
		}
	}
	for (int i = 0; i < nconns; i++) close(conns[i].fd);
	return 0;
}
