// SPDX-License-Identifier: BSD-2-Clause
/*
 * fuzz_gso.c - libFuzzer target: software segmentation (daemon/vhost/gso.c), which
 * every port without a virtio-net header runs on offloaded frames from guests and
 * netmap clients with a header.
 *
 * Security model: the whole input is peer-controlled: bytes 0..11 are the virtio-net
 * header, byte 12 picks the fragment size, the rest is the frame, handed over in
 * exact-size heap fragments so that any read past a fragment is an ASan report.
 * Beyond the sanitizers: a result is -EINVAL, -E2BIG, -EPROTONOSUPPORT or a segment
 * count in 1..VNM_GSO_MAX_SEGS whose segments lie inside the scratch buffer, are
 * 14..65535 bytes long and do not overlap; anything else traps.
 */
// FUZZ_SOURCES: lib/csb.c
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../daemon/vhost/gso.c"

#define REQUIRE(c)                        \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

static uint8_t scratch[VNM_GSO_SCRATCH];
static struct vnm_frame segs[VNM_GSO_MAX_SEGS];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_net_hdr_mrg h;
	struct vnm_frame f;
	uint8_t *pieces[NM_MAX_FRAGS];

	if (size < 13)
		return 0;
	memcpy(&h, data, sizeof(h));
	uint32_t fsz = data[12] ? data[12] * 16u : 2048;
	data += 13;
	size -= 13;
	if (size > VNM_FRAME_MAX)
		size = VNM_FRAME_MAX;
	if ((size + fsz - 1) / fsz > NM_MAX_FRAGS)
		fsz = (uint32_t)(size + NM_MAX_FRAGS - 1) / NM_MAX_FRAGS;
	memset(&f, 0, sizeof(f));
	for (size_t off = 0; off < size; off += fsz) {
		uint32_t l = size - off < fsz ? (uint32_t)(size - off) : fsz;
		pieces[f.nfrags] = malloc(l);
		REQUIRE(pieces[f.nfrags]);
		memcpy(pieces[f.nfrags], data + off, l);
		f.frag[f.nfrags] = pieces[f.nfrags];
		f.frag_len[f.nfrags] = (uint16_t)l;
		f.nfrags++;
	}
	f.len = (uint32_t)size;
	f.flags = VNM_FRAME_F_VNET;
	f.vnet_hdr = &h;
	int n = vnm_gso_segment(&f, segs, VNM_GSO_MAX_SEGS, scratch, sizeof(scratch));
	REQUIRE(n == -EINVAL || n == -E2BIG || n == -EPROTONOSUPPORT ||
		(n >= 1 && n <= VNM_GSO_MAX_SEGS));
	const uint8_t *prev_end = scratch;
	for (int i = 0; i < n; i++) {
		const struct vnm_frame *s = &segs[i];
		REQUIRE(s->nfrags == 1 && s->flags == 0 && s->len == s->frag_len[0]);
		REQUIRE(s->len <= 65535 && (s->len >= 14 || (h.gso_type & 0x7f) == 0));
		REQUIRE(s->frag[0] >= prev_end && s->frag[0] + s->len <= scratch + sizeof(scratch));
		prev_end = s->frag[0] + s->len;
	}
	for (unsigned i = 0; i < f.nfrags; i++)
		free(pieces[i]);
	return 0;
}
