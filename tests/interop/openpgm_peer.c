/*
 * openpgm_peer.c - the OpenPGM (libpgm 5.3) sender / receiver of this project: driven by the
 * interop tests (tests/interop/harness.py) and by the golden-vector capture
 * (tests/fixtures/openpgm/capture.py).  Compiled at test time:
 *
 *   gcc -O2 -rdynamic -o openpgm_peer openpgm_peer.c $(pkg-config --cflags --libs openpgm-5.3)
 *
 * Usage:
 *   openpgm_peer send -n IFACE;GROUP -p DPORT [-u] [-s SPORT] [-g GSI] -i FILE
 *                     [-r RATE] [-a AVG] [-d GAP_MS] [-w SQNS] [-m MTU] [-T TOS] [-H] [-l LINGER]
 *                     [-t TIMEOUT] [-L] [-F N:K:H:O]
 *   openpgm_peer recv -n IFACE;GROUP -p DPORT [-u] -o FILE [-e FILE] [-g GSI]
 *                     [-x EXPIRY] [-y SPMR_MS] [-k KEEP] [-w SQNS] [-m MTU] [-T TOS] [-t TIMEOUT] [-L]
 *
 *   -n  OpenPGM network string, e.g. "veth0;239.192.0.1" or "veth0;ff08::1" (IPv6)
 *   -p  PGM data-destination port
 *   -u  UDP encapsulation; the UDP port (unicast = multicast, as ZeroMQ epgm) is DPORT
 *   -s  data-source port (sender; 0 = OpenPGM picks one)
 *   -g  the GSI is pgm_gsi_create_from_string(GSI) (default: from the hostname)
 *   -i  messages to send: a file of [4-byte big-endian length][bytes] records
 *   -o  received messages are written here in the same format
 *   -e  expected messages (same format): the receiver stops once the last one arrived
 *   -r  TXW_MAX_RTE in bytes/s (default 40 000 000: a 16-fragment APDU must fit one
 *       millisecond's allowance of OpenPGM's token bucket, docs/protocol.md §12)
 *   -a  average pace in bytes/s (0 = as fast as TXW_MAX_RTE lets it)
 *   -d  sender: after each message, service the socket (answer NAKs) GAP_MS milliseconds
 *   -T  PGM_TOS: the IP type-of-service byte (default: libpgm's)
 *   -w  TXW_SQNS / RXW_SQNS (default 32768)
 *   -m  PGM_MTU: largest TPDU including the IP (and UDP) header (default 1500)
 *   -H  sender: after half of the messages print HALF and wait for "more" on stdin
 *   -l  sender: after the last send keep servicing repairs until "close" arrives on stdin
 *       or LINGER seconds passed, then pgm_close(sock, TRUE) (3 SPMs with OPT_FIN)
 *   -x  receiver: PEER_EXPIRY seconds (default 300)
 *   -y  receiver: SPMR_EXPIRY milliseconds (default 250)
 *   -k  receiver: keep servicing the socket KEEP seconds after the last expected message
 *   -t  hard limit for the whole run in seconds (default 60)
 *   -F  sender: Reed-Solomon FEC, PGM_USE_FEC with block size N, group size K, H pro-active
 *       parity packets per group, on-demand parity if O is 1 (variable lengths allowed); the
 *       transmit window is then 10 s of TXW_SECS (libpgm 5.3 aborts at its first parity packet
 *       with a window in packets, docs/protocol.md §13)
 *   -L  print libpgm's session log (peer expiry etc.) on stderr as
 *       "LOG <level> <wall-clock time> <message>" lines
 *
 * Protocol on stdout (line based, flushed):
 *   sender:   READY <gsi hex> <sport> (connected) -- waits for a line "go" on stdin --
 *             [HALF -- "more" --]
 *             SENT <messages> <bytes> -- services repairs, waits for "close" --
 *             CLOSED
 *   receiver: READY (joined) ... RESET <n> (each unrecoverable-loss report) ...
 *             FIN / EOF (pgm_recv returned PGM_IO_STATUS_FIN / _EOF) ...
 *             LAST (the last expected message arrived) ...
 *             RESULT messages=<n> bytes=<n> resets=<n> last=<0|1>
 *   The receiver also stops on "stop" on stdin or SIGTERM.  Exit status 0 when the run did
 *   what was asked (sender: all sent; receiver: last expected message seen, no reset).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <pgm/pgm.h>

#define MAX_APDU 65536

static volatile sig_atomic_t stop_flag = 0;
static void on_signal (int sig) { (void)sig; stop_flag = 1; }

/*
 * Work-around for Debian's libpgm 5.3.128 (x86-64), see tests/fixtures/openpgm/README.md: its
 * SSE2 checksum-and-copy helper, reached through the exported pgm_compat_csum_partial_copy(),
 * faults unless source and destination are congruent mod 16, which fragmented sends violate.
 * libpgm calls it through its PLT, so this definition in the executable (-rdynamic) replaces
 * it: memcpy, then libpgm's own pgm_compat_csum_partial().  The bytes on the wire are unchanged.
 */
extern uint32_t pgm_compat_csum_partial (const void*, uint16_t, uint32_t);
uint32_t pgm_compat_csum_partial_copy (const void* src, void* dst, uint16_t len, uint32_t csum);
uint32_t pgm_compat_csum_partial_copy (const void* src, void* dst, uint16_t len, uint32_t csum)
{
	memcpy (dst, src, len);
	uint32_t sum = pgm_compat_csum_partial (dst, len, csum);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

static double now_s (void)
{
	struct timespec ts;
	clock_gettime (CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die (const char* what, pgm_error_t* err)
{
	fprintf (stderr, "openpgm_peer: %s: %s\n", what, err ? err->message : "failed");
	exit (2);
}

static void on_log (const int level, const char* message, void* closure)
{
	(void)closure;
	struct timespec ts;
	clock_gettime (CLOCK_REALTIME, &ts);
	fprintf (stderr, "LOG %d %.6f %s\n", level, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9, message);
}

/* ---- message files --------------------------------------------------------------------- */

struct msgs { unsigned char* data; size_t size; size_t count; size_t* off; size_t* len; };

static void load_msgs (const char* path, struct msgs* m)
{
	FILE* f = fopen (path, "rb");
	if (!f) { perror (path); exit (2); }
	fseek (f, 0, SEEK_END);
	const long size = ftell (f);
	fseek (f, 0, SEEK_SET);
	m->data = malloc ((size_t)size + 1);
	if (!m->data || fread (m->data, 1, (size_t)size, f) != (size_t)size) { perror (path); exit (2); }
	fclose (f);
	m->size = (size_t)size;
	size_t cap = 1024, n = 0, pos = 0;
	m->off = malloc (cap * sizeof(size_t));
	m->len = malloc (cap * sizeof(size_t));
	while (pos + 4 <= m->size) {
		const size_t len = ((size_t)m->data[pos] << 24) | ((size_t)m->data[pos + 1] << 16) |
				   ((size_t)m->data[pos + 2] << 8) | (size_t)m->data[pos + 3];
		pos += 4;
		if (len > MAX_APDU - 1 || pos + len > m->size) { fprintf (stderr, "%s: bad record\n", path); exit (2); }
		if (n == cap) {
			cap *= 2;
			m->off = realloc (m->off, cap * sizeof(size_t));
			m->len = realloc (m->len, cap * sizeof(size_t));
		}
		m->off[n] = pos;
		m->len[n] = len;
		n++;
		pos += len;
	}
	m->count = n;
}

static void write_record (FILE* f, const unsigned char* buf, size_t len)
{
	const unsigned char hdr[4] = { (unsigned char)(len >> 24), (unsigned char)(len >> 16),
				       (unsigned char)(len >> 8), (unsigned char)len };
	fwrite (hdr, 1, 4, f);
	fwrite (buf, 1, len, f);
}

/* ---- socket set-up --------------------------------------------------------------------- */

static bool set_int (pgm_sock_t* sock, int opt, int value)
{
	return pgm_setsockopt (sock, IPPROTO_PGM, opt, &value, sizeof(value));
}

#define SETOPT(opt, value) do { if (!set_int (sock, opt, (int)(value))) { \
	fprintf (stderr, "openpgm_peer: setsockopt " #opt " failed\n"); exit (2); } } while (0)

struct config {
	bool sender, udp, log, half;
	const char* network;
	int dport, sport, window, mtu, spmr_ms, tos, gap_ms;
	const char* gsi;
	long rate, pace;
	double linger, expiry, keep, timeout;
	const char *in, *out, *expect;
	int fec_n, fec_k, fec_h, fec_ond;	/* -F */
};

static void force_buffer (pgm_sock_t* sock, int which, int opt)
{
	int fd = -1;
	socklen_t len = sizeof(fd);
	if (!pgm_getsockopt (sock, IPPROTO_PGM, which, &fd, &len) || fd < 0) return;
	const int size = 8 * 1024 * 1024;
	/* root: bypass net.core.rmem_max / wmem_max (docs/protocol.md §12) */
	if (setsockopt (fd, SOL_SOCKET, opt, &size, sizeof(size)) != 0)
		setsockopt (fd, SOL_SOCKET, opt == SO_RCVBUFFORCE ? SO_RCVBUF : SO_SNDBUF, &size, sizeof(size));
}

static pgm_gsi_t my_gsi;	/* printed on the sender's READY line */

static pgm_sock_t* open_socket (const struct config* c)
{
	pgm_error_t* err = NULL;
	struct pgm_addrinfo_t* res = NULL;
	pgm_sock_t* sock = NULL;

	if (!pgm_getaddrinfo (c->network, NULL, &res, &err)) die ("pgm_getaddrinfo", err);
	const sa_family_t family = res->ai_send_addrs[0].gsr_group.ss_family;
	if (!pgm_socket (&sock, family, SOCK_SEQPACKET, c->udp ? IPPROTO_UDP : IPPROTO_PGM, &err))
		die ("pgm_socket", err);
	if (c->udp) {
		/* unicast = multicast port, as ZeroMQ's epgm and pgmsend -p (docs/protocol.md §11) */
		SETOPT (PGM_UDP_ENCAP_UCAST_PORT, c->dport);
		SETOPT (PGM_UDP_ENCAP_MCAST_PORT, c->dport);
	}
	if (AF_INET == family)	/* no router alert, as ZeroMQ; libpgm refuses the option for IPv6 */
		SETOPT (PGM_IP_ROUTER_ALERT, 0);
	SETOPT (PGM_MTU, c->mtu);
	if (c->sender) {
		const int heartbeat[] = { (int)pgm_msecs (100), (int)pgm_msecs (100), (int)pgm_msecs (100),
					  (int)pgm_msecs (100), (int)pgm_msecs (1300), (int)pgm_secs (7),
					  (int)pgm_secs (16), (int)pgm_secs (25), (int)pgm_secs (30) };
		SETOPT (PGM_SEND_ONLY, 1);
		if (c->fec_k) {
			struct pgm_fecinfo_t fec = { .block_size = (uint8_t)c->fec_n,
				.proactive_packets = (uint8_t)c->fec_h, .group_size = (uint8_t)c->fec_k,
				.ondemand_parity_enabled = c->fec_ond != 0, .var_pktlen_enabled = true };
			if (!pgm_setsockopt (sock, IPPROTO_PGM, PGM_USE_FEC, &fec, sizeof(fec)))
				die ("setsockopt PGM_USE_FEC", NULL);
			SETOPT (PGM_TXW_SECS, 10);
		} else
			SETOPT (PGM_TXW_SQNS, c->window);
		SETOPT (PGM_TXW_MAX_RTE, c->rate);
		SETOPT (PGM_AMBIENT_SPM, pgm_secs (30));
		if (!pgm_setsockopt (sock, IPPROTO_PGM, PGM_HEARTBEAT_SPM, heartbeat, sizeof(heartbeat)))
			die ("setsockopt PGM_HEARTBEAT_SPM", NULL);
	} else {
		SETOPT (PGM_RECV_ONLY, 1);
		SETOPT (PGM_PASSIVE, 0);
		SETOPT (PGM_RXW_SQNS, c->window);
		SETOPT (PGM_PEER_EXPIRY, (uint64_t)(c->expiry * 1e6));
		SETOPT (PGM_SPMR_EXPIRY, pgm_msecs (c->spmr_ms));
		/* ZeroMQ's receive timers (docs/protocol.md §12) */
		SETOPT (PGM_NAK_BO_IVL, pgm_msecs (50));
		SETOPT (PGM_NAK_RPT_IVL, pgm_msecs (200));
		SETOPT (PGM_NAK_RDATA_IVL, pgm_msecs (200));
		SETOPT (PGM_NAK_DATA_RETRIES, 50);
		SETOPT (PGM_NAK_NCF_RETRIES, 50);
	}

	struct pgm_sockaddr_t addr;
	memset (&addr, 0, sizeof(addr));
	addr.sa_port = (uint16_t)c->dport;
	addr.sa_addr.sport = c->sender ? (uint16_t)c->sport : 0;
	const bool gsi_ok = c->gsi ? pgm_gsi_create_from_string (&addr.sa_addr.gsi, c->gsi, -1)
				   : pgm_gsi_create_from_hostname (&addr.sa_addr.gsi, &err);
	if (!gsi_ok) die ("creating the GSI", err);
	memcpy (&my_gsi, &addr.sa_addr.gsi, sizeof(my_gsi));

	struct pgm_interface_req_t if_req;
	memset (&if_req, 0, sizeof(if_req));
	if_req.ir_interface = res->ai_recv_addrs[0].gsr_interface;
	memcpy (&if_req.ir_address, &res->ai_send_addrs[0].gsr_addr, sizeof(struct sockaddr_storage));
	if (AF_INET6 == family) {
		struct sockaddr_in6 sa6;
		memcpy (&sa6, &res->ai_recv_addrs[0].gsr_group, sizeof(sa6));
		if_req.ir_scope_id = sa6.sin6_scope_id;
	}
	if (!pgm_bind3 (sock, &addr, sizeof(addr), &if_req, sizeof(if_req), &if_req, sizeof(if_req), &err))
		die ("pgm_bind3", err);
	for (unsigned i = 0; i < res->ai_recv_addrs_len; i++)
		if (!pgm_setsockopt (sock, IPPROTO_PGM, PGM_JOIN_GROUP, &res->ai_recv_addrs[i], sizeof(struct group_req)))
			die ("setsockopt PGM_JOIN_GROUP", NULL);
	if (!pgm_setsockopt (sock, IPPROTO_PGM, PGM_SEND_GROUP, &res->ai_send_addrs[0], sizeof(struct group_req)))
		die ("setsockopt PGM_SEND_GROUP", NULL);
	pgm_freeaddrinfo (res);

	SETOPT (PGM_MULTICAST_LOOP, 0);
	SETOPT (PGM_MULTICAST_HOPS, 16);
	if (c->tos >= 0)
		SETOPT (PGM_TOS, c->tos);
	SETOPT (PGM_NOBLOCK, 1);
	if (!pgm_connect (sock, &err)) die ("pgm_connect", err);
	force_buffer (sock, PGM_RECV_SOCK, SO_RCVBUFFORCE);
	force_buffer (sock, PGM_SEND_SOCK, SO_SNDBUFFORCE);
	return sock;
}

/* ---- I/O ----------------------------------------------------------------------------------- */

/* wait for socket activity, a libpgm timer, stdin (if watch_stdin) or at most max_ms;
 * returns true if stdin became readable */
static bool wait_io (pgm_sock_t* sock, int status, int max_ms, bool watch_stdin)
{
	struct pollfd fds[8];
	int n = 6;
	int timeout = max_ms;
	if (status == PGM_IO_STATUS_TIMER_PENDING || status == PGM_IO_STATUS_RATE_LIMITED) {
		struct timeval tv;
		socklen_t optlen = sizeof(tv);
		if (pgm_getsockopt (sock, IPPROTO_PGM,
				    status == PGM_IO_STATUS_TIMER_PENDING ? PGM_TIME_REMAIN : PGM_RATE_REMAIN,
				    &tv, &optlen)) {
			const int ms = (int)(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
			if (ms < timeout) timeout = ms;
		}
	}
	memset (fds, 0, sizeof(fds));
	pgm_poll_info (sock, fds, &n, POLLIN);
	if (watch_stdin) { fds[n].fd = STDIN_FILENO; fds[n].events = POLLIN; n++; }
	const int rc = poll (fds, (nfds_t)n, timeout < 0 ? 0 : timeout);
	return watch_stdin && rc > 0 && (fds[n - 1].revents & (POLLIN | POLLHUP));
}

/* sender: let libpgm process NAKs, SPMRs and timers (it answers NAKs only from inside
 * pgm_recv, docs/protocol.md §12) until the deadline; returns early with true if stdin is readable
 * and watch_stdin */
static bool service (pgm_sock_t* sock, double deadline, bool watch_stdin)
{
	static unsigned char sink[MAX_APDU];
	for (;;) {
		size_t bytes = 0;
		pgm_error_t* err = NULL;
		const int status = pgm_recv (sock, sink, sizeof(sink), 0, &bytes, &err);
		if (err) { pgm_error_free (err); err = NULL; }
		if (status == PGM_IO_STATUS_NORMAL || status == PGM_IO_STATUS_RESET) continue;
		if (status == PGM_IO_STATUS_ERROR) { fprintf (stderr, "openpgm_peer: pgm_recv error\n"); return false; }
		const double left = deadline - now_s ();
		if (stop_flag || left <= 0) return false;
		int ms = (int)(left * 1000) + 1;
		if (ms > 50) ms = 50;
		if (wait_io (sock, status, ms, watch_stdin) && watch_stdin) return true;
	}
}

static bool read_command (const char* want)
{
	char line[64];
	if (!fgets (line, sizeof(line), stdin)) return true;	/* EOF counts as any command */
	return 0 == strncmp (line, want, strlen (want));
}

static int run_sender (pgm_sock_t* sock, const struct config* c, double hard_deadline)
{
	struct msgs m;
	load_msgs (c->in, &m);
	unsigned char* buf = NULL;
	if (posix_memalign ((void**)&buf, 64, MAX_APDU)) return 2;
	printf ("READY ");
	for (unsigned i = 0; i < sizeof(my_gsi); i++) printf ("%02x", ((const unsigned char*)&my_gsi)[i]);
	printf (" %d\n", c->sport); fflush (stdout);
	while (!stop_flag && now_s () < hard_deadline) {
		if (service (sock, hard_deadline, true)) { if (read_command ("go")) break; }
	}
	size_t sent = 0, bytes_sent = 0;
	const double t0 = now_s ();
	double t0_pace = t0;
	size_t paced_from = 0;
	for (size_t i = 0; i < m.count && !stop_flag && now_s () < hard_deadline; i++) {
		if (c->half && i == m.count / 2) {	/* a running session: let a receiver join late */
			printf ("HALF\n"); fflush (stdout);
			while (!stop_flag && now_s () < hard_deadline)
				if (service (sock, hard_deadline, true) && read_command ("more")) break;
			t0_pace = now_s ();
			paced_from = bytes_sent;
		}
		if (c->pace > 0) {	/* keep the average rate at c->pace bytes/s */
			const double due = t0_pace + (double)(bytes_sent - paced_from) / (double)c->pace;
			if (now_s () < due) service (sock, due, false);
		}
		memcpy (buf, m.data + m.off[i], m.len[i]);
		for (;;) {
			size_t bytes = 0;
			const int status = pgm_send (sock, buf, m.len[i], &bytes);
			if (status == PGM_IO_STATUS_NORMAL) { sent++; bytes_sent += m.len[i]; break; }
			if (status == PGM_IO_STATUS_RATE_LIMITED || status == PGM_IO_STATUS_WOULD_BLOCK ||
			    status == PGM_IO_STATUS_TIMER_PENDING) {
				/* the same arguments again later continue this APDU */
				wait_io (sock, status, 2, false);
				service (sock, now_s (), false);
				if (now_s () > hard_deadline || stop_flag) break;
				continue;
			}
			fprintf (stderr, "openpgm_peer: pgm_send status %d\n", status);
			return 4;
		}
		if (c->gap_ms > 0)	/* a pause after each message, answering NAKs */
			service (sock, now_s () + c->gap_ms / 1000.0, false);
		else if ((i & 15) == 15)
			service (sock, now_s (), false);	/* answer NAKs while sending */
	}
	printf ("SENT %zu %zu\n", sent, bytes_sent); fflush (stdout);
	double end = now_s () + c->linger;
	if (end > hard_deadline) end = hard_deadline;
	while (!stop_flag && now_s () < end) {
		if (service (sock, end, true) && read_command ("close")) break;
	}
	pgm_close (sock, true);	/* 3 SPMs with OPT_FIN */
	printf ("CLOSED\n"); fflush (stdout);
	free (buf);
	return sent == m.count ? 0 : 5;
}

static int run_receiver (pgm_sock_t* sock, const struct config* c, double hard_deadline)
{
	static unsigned char buf[MAX_APDU];
	struct msgs want = { 0 };
	if (c->expect) load_msgs (c->expect, &want);
	const unsigned char* last = want.count ? want.data + want.off[want.count - 1] : NULL;
	const size_t last_len = want.count ? want.len[want.count - 1] : 0;
	FILE* out = fopen (c->out, "wb");
	if (!out) { perror (c->out); return 2; }
	size_t msgs = 0, bytes = 0, resets = 0;
	bool got_last = false;
	double stop_at = hard_deadline;
	printf ("READY\n"); fflush (stdout);
	while (!stop_flag && now_s () < stop_at) {
		size_t len = 0;
		pgm_error_t* err = NULL;
		const int status = pgm_recv (sock, buf, sizeof(buf), 0, &len, &err);
		if (err) { fprintf (stderr, "openpgm_peer: %s\n", err->message); pgm_error_free (err); err = NULL; }
		if (status == PGM_IO_STATUS_NORMAL) {
			write_record (out, buf, len);
			msgs++;
			bytes += len;
			if (!got_last && last && len == last_len && 0 == memcmp (buf, last, len)) {
				got_last = true;
				fflush (out);
				printf ("LAST\n"); fflush (stdout);
				const double keep = now_s () + c->keep;
				if (keep < stop_at) stop_at = keep;
			}
			continue;
		}
		if (status == PGM_IO_STATUS_RESET) { resets++; printf ("RESET %zu\n", resets); fflush (stdout); continue; }
		/* the API's end-of-session statuses: reported if libpgm ever acts on OPT_FIN */
		if (status == PGM_IO_STATUS_FIN) { printf ("FIN\n"); fflush (stdout); continue; }
		if (status == PGM_IO_STATUS_EOF) { printf ("EOF\n"); fflush (stdout); break; }
		if (status == PGM_IO_STATUS_ERROR) break;
		int ms = (int)((stop_at - now_s ()) * 1000) + 1;
		if (ms > 50) ms = 50;
		if (wait_io (sock, status, ms, true) && read_command ("stop")) break;
	}
	fclose (out);
	printf ("RESULT messages=%zu bytes=%zu resets=%zu last=%d\n", msgs, bytes, resets, got_last ? 1 : 0);
	fflush (stdout);
	pgm_close (sock, false);
	return (got_last || !c->expect) && resets == 0 ? 0 : 6;
}

int main (int argc, char** argv)
{
	struct config c = { .network = NULL, .dport = 7500, .sport = 0, .window = 32768, .mtu = 1500, .spmr_ms = 250, .tos = -1, .gap_ms = 0,
			    .rate = 40 * 1000 * 1000, .pace = 0, .linger = 10.0, .expiry = 300.0,
			    .keep = 0.0, .timeout = 60.0 };
	if (argc < 2 || (strcmp (argv[1], "send") && strcmp (argv[1], "recv"))) {
		fprintf (stderr, "usage: %s send|recv -n IFACE;GROUP -p PORT [options] (see the source)\n", argv[0]);
		return 1;
	}
	c.sender = 0 == strcmp (argv[1], "send");
	int opt;
	optind = 2;
	while ((opt = getopt (argc, argv, "n:p:us:g:i:o:e:r:a:d:w:m:T:l:x:y:k:t:F:HL")) != -1) {
		switch (opt) {
		case 'n': c.network = optarg; break;
		case 'p': c.dport = atoi (optarg); break;
		case 'u': c.udp = true; break;
		case 's': c.sport = atoi (optarg); break;
		case 'g': c.gsi = optarg; break;
		case 'i': c.in = optarg; break;
		case 'o': c.out = optarg; break;
		case 'e': c.expect = optarg; break;
		case 'r': c.rate = atol (optarg); break;
		case 'a': c.pace = atol (optarg); break;
		case 'd': c.gap_ms = atoi (optarg); break;
		case 'T': c.tos = atoi (optarg); break;
		case 'w': c.window = atoi (optarg); break;
		case 'm': c.mtu = atoi (optarg); break;
		case 'l': c.linger = atof (optarg); break;
		case 'x': c.expiry = atof (optarg); break;
		case 'y': c.spmr_ms = atoi (optarg); break;
		case 'H': c.half = true; break;
		case 'k': c.keep = atof (optarg); break;
		case 't': c.timeout = atof (optarg); break;
		case 'L': c.log = true; break;
		case 'F':
			if (4 != sscanf (optarg, "%d:%d:%d:%d", &c.fec_n, &c.fec_k, &c.fec_h, &c.fec_ond)) return 1;
			break;
		default: return 1;
		}
	}
	if (!c.network || (c.sender && !c.in) || (!c.sender && !c.out)) {
		fprintf (stderr, "openpgm_peer: -n and -i (send) or -o (recv) are required\n");
		return 1;
	}
	const double hard_deadline = now_s () + c.timeout;
	signal (SIGINT, on_signal);
	signal (SIGTERM, on_signal);
	signal (SIGPIPE, SIG_IGN);
	setvbuf (stderr, NULL, _IOLBF, 0);

	pgm_error_t* err = NULL;
	if (!pgm_init (&err)) die ("pgm_init", err);
	if (c.log) {	/* after pgm_init, which sets both from PGM_LOG_MASK / PGM_MIN_LOG_LEVEL */
		pgm_log_mask = PGM_LOG_ROLE_SESSION;
		pgm_min_log_level = PGM_LOG_LEVEL_TRACE;
		pgm_log_set_handler (on_log, NULL);
	}
	pgm_sock_t* sock = open_socket (&c);
	const int rc = c.sender ? run_sender (sock, &c, hard_deadline) : run_receiver (sock, &c, hard_deadline);
	pgm_shutdown ();
	return rc;
}
