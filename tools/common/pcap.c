// SPDX-License-Identifier: BSD-2-Clause
/*
 * pcap.c - buffered classic-pcap writer (pcap.h).
 *
 * Security model: the writer copies no frame bytes itself; lengths come from the
 * caller (already clamped to what it received) and are bounded by snaplen here.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pcap.h"

static void put32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, 4); /* host order: the magic tells the reader which */
}

static void put16(unsigned char *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

int pcap_out_init(struct pcap_out *o, int fd, uint32_t snaplen, int nano, size_t bufsize)
{
	struct stat st;

	memset(o, 0, sizeof(*o));
	if (snaplen == 0 || snaplen > PCAP_SNAPLEN_MAX)
		return -EINVAL;
	if (bufsize == 0)
		bufsize = 1u << 20;
	if (bufsize < PCAP_HDR_LEN + PCAP_REC_LEN + (size_t)snaplen)
		return -EINVAL;
	o->buf = malloc(bufsize);
	if (!o->buf)
		return -ENOMEM;
	o->fd = fd;
	o->nano = nano;
	o->snaplen = snaplen;
	o->size = bufsize;
	o->regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	put32(o->buf, nano ? PCAP_MAGIC_NSEC : PCAP_MAGIC_USEC);
	put16(o->buf + 4, 2);
	put16(o->buf + 6, 4);
	put32(o->buf + 8, 0);  /* thiszone: timestamps are UTC */
	put32(o->buf + 12, 0); /* sigfigs */
	put32(o->buf + 16, snaplen);
	put32(o->buf + 20, PCAP_LINKTYPE_ETHERNET);
	o->len = PCAP_HDR_LEN;
	return 0;
}

int pcap_out_flush(struct pcap_out *o)
{
	size_t off = 0;

	while (off < o->len) {
		ssize_t n = write(o->fd, o->buf + off, o->len - off);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* an O_NONBLOCK fd inherited from the shell: wait for room */
			struct pollfd p = { .fd = o->fd, .events = POLLOUT };
			if (poll(&p, 1, -1) >= 0 || errno == EINTR)
				continue;
		}
		int err = n < 0 ? -errno : -EIO;
		/* drop the partial record so the file ends on a record boundary */
		if (o->regular && off && ftruncate(o->fd, (off_t)o->written) < 0)
			err = -errno;
		o->len = 0;
		return err;
	}
	o->written += o->len;
	o->len = 0;
	return 0;
}

void *pcap_out_reserve(struct pcap_out *o, const struct timespec *ts, uint32_t origlen,
		       uint32_t *caplen, int *err)
{
	uint32_t cl = origlen < o->snaplen ? origlen : o->snaplen;
	unsigned char *p;

	*err = 0;
	if (o->size - o->len < PCAP_REC_LEN + (size_t)cl) {
		int r = pcap_out_flush(o);
		if (r < 0) {
			*err = r;
			return NULL;
		}
	}
	p = o->buf + o->len;
	put32(p, (uint32_t)ts->tv_sec);
	put32(p + 4, (uint32_t)(o->nano ? ts->tv_nsec : ts->tv_nsec / 1000));
	put32(p + 8, cl);
	put32(p + 12, origlen);
	o->len += PCAP_REC_LEN + cl;
	o->records++;
	*caplen = cl;
	return p + PCAP_REC_LEN;
}

void pcap_out_free(struct pcap_out *o)
{
	free(o->buf);
	o->buf = NULL;
	o->len = o->size = 0;
}
