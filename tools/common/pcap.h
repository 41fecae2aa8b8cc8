/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pcap.h - a buffered writer of classic libpcap files (the format tcpdump -w writes
 * and tshark -r, capinfos, wireshark read), LINKTYPE_ETHERNET, no libpcap needed.
 *
 * File: a 24-byte global header, then per frame a 16-byte record header and caplen
 * bytes. All fields in the writer's byte order (readers detect it from the magic):
 *
 *     global: magic u32 (0xa1b2c3d4: usec timestamps, 0xa1b23c4d: nsec), version
 *             major u16 = 2, minor u16 = 4, thiszone i32 = 0, sigfigs u32 = 0,
 *             snaplen u32, linktype u32 (1 = Ethernet)
 *     record: ts_sec u32, ts_usec (or ts_nsec) u32, caplen u32, origlen u32
 *
 * The buffer only ever holds whole records (and the global header), and a flush
 * writes all of it: so on a regular file a failed write (ENOSPC, EIO) is undone with
 * ftruncate back to the last complete record, and the file stays readable.
 * Contract: pcap_out_reserve() then fill the caplen bytes before the next call.
 */
#ifndef VNM_TOOLS_PCAP_H
#define VNM_TOOLS_PCAP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define PCAP_MAGIC_USEC 0xa1b2c3d4u
#define PCAP_MAGIC_NSEC 0xa1b23c4du
#define PCAP_LINKTYPE_ETHERNET 1
#define PCAP_HDR_LEN 24
#define PCAP_REC_LEN 16
#define PCAP_SNAPLEN_MAX 262144 /* tcpdump's default and largest snapshot length */

struct pcap_out {
	int fd;
	int nano;          /* nanosecond timestamps (PCAP_MAGIC_NSEC) */
	int regular;       /* fd is a regular file: truncate back after a failed write */
	uint32_t snaplen;
	unsigned char *buf;
	size_t len, size;  /* bytes buffered (whole records), buffer size */
	uint64_t written;  /* bytes of complete records in the file */
	uint64_t records;  /* records handed to the writer */
};

/*
 * Set up writing to fd (not closed by the writer) with a buffer of bufsize bytes
 * (at least PCAP_HDR_LEN + PCAP_REC_LEN + snaplen; 0: 1 MiB) and put the global
 * header in it. snaplen in 1..PCAP_SNAPLEN_MAX. 0, -EINVAL or -ENOMEM.
 */
int pcap_out_init(struct pcap_out *o, int fd, uint32_t snaplen, int nano, size_t bufsize);

/*
 * A record of a frame of origlen bytes, caplen = min(origlen, snaplen) of them kept
 * (*caplen receives it), at time ts (CLOCK_REALTIME). Returns where the caller
 * copies the caplen bytes, or NULL with *err = -errno when the flush that made room
 * failed (see pcap_out_flush).
 */
void *pcap_out_reserve(struct pcap_out *o, const struct timespec *ts, uint32_t origlen,
		       uint32_t *caplen, int *err);

/*
 * Write every buffered byte (retrying EINTR and short writes, waiting out EAGAIN).
 * 0, or -errno: -EPIPE when the reader went away (SIGPIPE must be ignored), -ENOSPC...
 * After an error the buffer is emptied and, for a regular file, the file is cut back
 * to its last complete record.
 */
int pcap_out_flush(struct pcap_out *o);

/* Free the buffer (does not flush). */
void pcap_out_free(struct pcap_out *o);

#endif /* VNM_TOOLS_PCAP_H */
