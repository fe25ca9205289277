/*
 * The bench's RTP sink (scripts/bench-scrape): receives every consumer's RTP on loopback UDP and
 * keeps RFC 3550 receive statistics per stream, as server/synthetic/RtpSink.ts does, for a small
 * share of the CPU. At 2,000 consumers the worker forwards ~113,000 packets/s; node's dgram costs
 * a JavaScript callback per datagram (most of a core on this 2-core machine, which then shows up
 * as noise in every figure the bench takes), while recvmmsg() here takes 64 datagrams a call.
 * After each round it sleeps POLL_INTERVAL_US and lets the packets queue in the (large) receive
 * buffers: a sink that is woken for every datagram makes the sender pay a wake-up per sendto(),
 * which costs the mediasoup worker more than its forwarding.
 *
 * Usage: rtp-sink IP SOCKETS RCVBUF_BYTES
 *   stdout, once bound:  "ports P1 P2 ...\n"
 *   stdin "stats\n"   →  one line per stream "PORT SSRC PACKETS BYTES EXPECTED LOST\n",
 *                        then "end RTCP_PACKETS\n"
 *   stdin closed      →  exit 0
 * Streams are keyed by the sender's port and the SSRC (consumer SSRCs are random per consumer,
 * the port tells transports apart); RTCP (rtcp-mux, packet types 192-223) is counted and ignored.
 */
#define _GNU_SOURCE
#define _DEFAULT_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_SOCKETS 64
#define BATCH 64
#define DATAGRAM_MAX 2048
/* 5 ms of 113,000 packets/s over 8 sockets is ~70 datagrams each, far below what a 4 MiB buffer holds. */
#define POLL_INTERVAL_US 5000

typedef struct {
	uint64_t key; /* port << 32 | ssrc; 0 = empty slot (port 0 never sends) */
	uint64_t packets;
	uint64_t bytes;
	int64_t base_seq;
	int64_t max_ext_seq;
} stream_t;

static stream_t *streams;
static size_t capacity = 4096; /* power of two */
static size_t count;
static uint64_t rtcp_packets;

static void die(const char *what) {
	perror(what);
	exit(1);
}

static size_t slot_of(uint64_t key) {
	/* Fibonacci hashing of the key into the table. */
	return (size_t)((key * 11400714819323198485ull) >> 20) & (capacity - 1);
}

static void grow(void) {
	stream_t *old = streams;
	size_t old_capacity = capacity;
	capacity *= 2;
	streams = calloc(capacity, sizeof *streams);
	if (!streams) die("calloc");
	for (size_t i = 0; i < old_capacity; i++) {
		if (!old[i].key) continue;
		size_t at = slot_of(old[i].key);
		while (streams[at].key) at = (at + 1) & (capacity - 1);
		streams[at] = old[i];
	}
	free(old);
}

static stream_t *lookup(uint64_t key) {
	size_t at = slot_of(key);
	while (streams[at].key && streams[at].key != key) at = (at + 1) & (capacity - 1);
	if (!streams[at].key) {
		if ((count + 1) * 2 > capacity) {
			grow();
			return lookup(key);
		}
		streams[at].key = key;
		streams[at].base_seq = -1;
		streams[at].max_ext_seq = -1;
		count++;
	}
	return &streams[at];
}

/* As RtpSink.#onMessage and RtpReceiveStats.record(). */
static void on_datagram(const uint8_t *data, size_t length, uint16_t port) {
	if (length < 12 || (data[0] >> 6) != 2) return;
	if (data[1] >= 192 && data[1] <= 223) {
		rtcp_packets++;
		return;
	}
	uint32_t ssrc = (uint32_t)data[8] << 24 | (uint32_t)data[9] << 16 | (uint32_t)data[10] << 8 | data[11];
	stream_t *s = lookup((uint64_t)port << 32 | ssrc);
	int64_t seq = (int64_t)data[2] << 8 | data[3];
	if (s->packets == 0) {
		s->base_seq = seq;
		s->max_ext_seq = seq;
	} else {
		int64_t delta = (seq - (s->max_ext_seq & 0xffff)) & 0xffff;
		/* Forward within half the sequence space: newer (possibly after a wrap); else older. */
		if (delta != 0 && delta < 0x8000) s->max_ext_seq += delta;
	}
	s->packets++;
	s->bytes += length;
}

static void drain(int fd) {
	static uint8_t buffers[BATCH][DATAGRAM_MAX];
	static struct iovec iov[BATCH];
	static struct sockaddr_storage from[BATCH];
	static struct mmsghdr messages[BATCH];
	for (;;) {
		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = buffers[i];
			iov[i].iov_len = DATAGRAM_MAX;
			memset(&messages[i].msg_hdr, 0, sizeof messages[i].msg_hdr);
			messages[i].msg_hdr.msg_iov = &iov[i];
			messages[i].msg_hdr.msg_iovlen = 1;
			messages[i].msg_hdr.msg_name = &from[i];
			messages[i].msg_hdr.msg_namelen = sizeof from[i];
		}
		int received = recvmmsg(fd, messages, BATCH, MSG_DONTWAIT, NULL);
		if (received < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
			die("recvmmsg");
		}
		for (int i = 0; i < received; i++) {
			const struct sockaddr *address = (const struct sockaddr *)&from[i];
			uint16_t port = address->sa_family == AF_INET6 ? ntohs(((const struct sockaddr_in6 *)address)->sin6_port)
				: ntohs(((const struct sockaddr_in *)address)->sin_port);
			on_datagram(buffers[i], messages[i].msg_len, port);
		}
		if (received < BATCH) return;
	}
}

/* Some 100 KB at 2,800 streams: more than a pipe holds, so this may wait for the reader for a
 * moment, while the sockets' buffers (megabytes) keep what arrives. */
static void print_stats(void) {
	for (size_t i = 0; i < capacity; i++) {
		const stream_t *s = &streams[i];
		if (!s->key) continue;
		int64_t expected = s->max_ext_seq < 0 ? 0 : s->max_ext_seq - s->base_seq + 1;
		int64_t lost = expected - (int64_t)s->packets;
		printf("%u %u %llu %llu %lld %lld\n", (unsigned)(s->key >> 32), (unsigned)(s->key & 0xffffffffu),
			(unsigned long long)s->packets, (unsigned long long)s->bytes, (long long)expected, (long long)(lost < 0 ? 0 : lost));
	}
	printf("end %llu\n", (unsigned long long)rtcp_packets);
	fflush(stdout);
}

/* Reads stdin's commands; returns 0 once stdin is closed. */
static int on_stdin(void) {
	static char line[256];
	static size_t used;
	ssize_t n = read(STDIN_FILENO, line + used, sizeof line - 1 - used);
	if (n == 0) return 0;
	if (n < 0) return errno == EINTR || errno == EAGAIN;
	used += (size_t)n;
	for (char *newline; (newline = memchr(line, '\n', used)) != NULL;) {
		*newline = '\0';
		if (strcmp(line, "stats") == 0) print_stats();
		else fprintf(stderr, "rtp-sink: unknown command \"%s\"\n", line);
		size_t consumed = (size_t)(newline - line) + 1;
		memmove(line, newline + 1, used - consumed);
		used -= consumed;
	}
	if (used == sizeof line - 1) used = 0; /* an overlong line: dropped */
	return 1;
}

int main(int argc, char **argv) {
	if (argc != 4) {
		fprintf(stderr, "usage: rtp-sink IP SOCKETS RCVBUF_BYTES\n");
		return 2;
	}
	const char *ip = argv[1];
	int sockets = atoi(argv[2]);
	int rcvbuf = atoi(argv[3]);
	if (sockets < 1 || sockets > MAX_SOCKETS || rcvbuf < 0) {
		fprintf(stderr, "rtp-sink: SOCKETS must be 1-%d and RCVBUF_BYTES not negative\n", MAX_SOCKETS);
		return 2;
	}
	struct sockaddr_storage address;
	socklen_t address_length;
	memset(&address, 0, sizeof address);
	int family;
	struct sockaddr_in *v4 = (struct sockaddr_in *)&address;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&address;
	if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
		family = v4->sin_family = AF_INET;
		address_length = sizeof *v4;
	} else if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
		family = v6->sin6_family = AF_INET6;
		address_length = sizeof *v6;
	} else {
		fprintf(stderr, "rtp-sink: not an IP address: %s\n", ip);
		return 2;
	}
	streams = calloc(capacity, sizeof *streams);
	if (!streams) die("calloc");
	int epoll = epoll_create1(0);
	if (epoll < 0) die("epoll_create1");
	struct epoll_event event = { .events = EPOLLIN, .data.fd = STDIN_FILENO };
	if (epoll_ctl(epoll, EPOLL_CTL_ADD, STDIN_FILENO, &event) < 0) die("epoll_ctl stdin");
	printf("ports");
	for (int i = 0; i < sockets; i++) {
		int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		if (fd < 0) die("socket");
		/* Linux caps it at net.core.rmem_max; a default-sized buffer drops bursts. */
		if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0) die("SO_RCVBUF");
		int granted = 0;
		socklen_t granted_length = sizeof granted;
		/* Linux reports twice what it grants; a small buffer would show up as forwarding loss. */
		if (i == 0 && getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &granted_length) == 0 && granted / 2 < rcvbuf) {
			fprintf(stderr, "rtp-sink: receive buffers of %d bytes, %d asked (net.core.rmem_max caps them)\n", granted / 2, rcvbuf);
		}
		if (bind(fd, (struct sockaddr *)&address, address_length) < 0) die("bind");
		struct sockaddr_storage bound;
		socklen_t bound_length = sizeof bound;
		if (getsockname(fd, (struct sockaddr *)&bound, &bound_length) < 0) die("getsockname");
		printf(" %u", family == AF_INET ? ntohs(((struct sockaddr_in *)&bound)->sin_port) : ntohs(((struct sockaddr_in6 *)&bound)->sin6_port));
		event.data.fd = fd;
		if (epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) < 0) die("epoll_ctl socket");
	}
	printf("\n");
	fflush(stdout);
	struct epoll_event ready[MAX_SOCKETS + 1];
	for (;;) {
		int n = epoll_wait(epoll, ready, MAX_SOCKETS + 1, -1);
		if (n < 0) {
			if (errno == EINTR) continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			if (ready[i].data.fd == STDIN_FILENO) {
				if (!on_stdin()) return 0;
			} else {
				drain(ready[i].data.fd);
			}
		}
		usleep(POLL_INTERVAL_US);
	}
}
