/* msg: the messages of the feed, the wire format between the primary
 * (feed/pub.h) and its edges (feed/edge.h), carried by NATS JetStream.
 *
 * One message per key, in streams that keep the last message of each
 * subject (MaxMsgsPerSubject 1), so a stream is the current state and a
 * consumer that reads it all bootstraps:
 *
 *   kind  subject                               stream
 *   OCSP  revd.ocsp.<k>.<caid>.<serialhex>       REVD_OCSP_<k>, k = feed_msg_shard(serial)
 *   CRL   revd.crl.<caid>.<pathhash>             REVD_CRL (a partition or the CA-scope CRL)
 *   CA    revd.meta.ca.<caid>                    REVD_META (the CA's certificate and name)
 *   HB    revd.meta.hb                           REVD_META (the primary's heartbeat)
 *
 * The OCSP subjects are spread over FEED_OCSP_STREAMS streams: a NATS
 * server's memory grows with the subjects of one stream (notes/nats.md).
 *
 * Payload, big-endian, every length checked against what is left:
 *
 *   OCSP  "RVO1" version:8 caid:4 serial_len:1 serial  len:4 der(SHA-1 CertID)  len:4 der(SHA-256 CertID)
 *   CRL   "RVC1" version:8 caid:4 path_len:2 path refresh_at:8 len:4 der
 *   CA    "RVA1" version:8 caid:4 name_len:2 name len:4 der
 *   HB    "RVH1" version:8 sent_at_us:8 position:8 complete:8 acked:8 x FEED_STREAMS
 *
 * version: the primary's counter, strictly increasing across its restarts
 * (feed/pub.h); an edge keeps a key's message only when its version is
 * above the one it holds, so a replayed or reordered older message never
 * replaces a newer one. The signed bytes are checked by the edge
 * (feed/verify.h): nothing here is trusted because it decodes.
 *
 * Pure; any thread. Return convention: 1/0 with e set, sizes 0 on error. */
#ifndef REVD_FEED_MSG_H
#define REVD_FEED_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "common/rerr.h"

#define FEED_OCSP_STREAMS 4
#define FEED_SERIAL_MAX 32          /* octets of a serial (RFC 5280: 20) */
#define FEED_RESPONSE_MAX 65536     /* octets of one OCSP response */
#define FEED_CRL_MAX (2u << 20)     /* octets of one CRL (partitions are at most 1 MB) */
#define FEED_CERT_MAX 65536         /* octets of a CA certificate */
#define FEED_NAME_MAX 335           /* a CA name, a CRL path */
#define FEED_SUBJECT_MAX 160        /* a subject, NUL included */

enum feed_kind { FEED_OCSP, FEED_CRL, FEED_CA, FEED_HB };

/* One message, decoded (views into the payload) or to encode (views into
 * the caller's bytes). */
struct feed_msg {
    enum feed_kind kind;
    uint64_t version;
    uint32_t caid;                  /* OCSP, CRL, CA */
    const uint8_t *serial;          /* OCSP */
    size_t serial_len;
    const uint8_t *der[2];          /* OCSP: SHA-1, SHA-256 CertID responses; CRL, CA: der[0] */
    size_t der_len[2];
    const char *name;               /* CRL: its HTTP path ("/crl/NAME/3.crl"); CA: its name */
    size_t name_len;
    int64_t refresh_at;             /* CRL: when the primary re-signs it at the latest */
    int64_t sent_at_us;             /* HB: the primary's clock when it sent it */
    uint64_t position;              /* HB: the primary's change-log position */
    uint64_t complete;              /* HB: 1 when everything the primary had to send at its start (or
                                       again after its outbox overflowed) is acknowledged */
    uint64_t acked[6];              /* HB: the last sequence JetStream acknowledged of each stream
                                       (FEED_STREAMS of them) when it was sent: an edge that has read
                                       that far has caught up */
};

/* feed_msg_size: the payload's size, or 0 when a field is past its cap. */
size_t feed_msg_size(const struct feed_msg *m);

/* feed_msg_encode writes the payload into out[0..cap); returns its size,
 * or 0 when it does not fit or a field is past its cap. */
size_t feed_msg_encode(const struct feed_msg *m, uint8_t *out, size_t cap);

/* feed_msg_decode reads p[0..len) (exactly one payload, nothing after it).
 * 1 with m's views into p, or 0 with e set. */
int feed_msg_decode(const uint8_t *p, size_t len, struct feed_msg *m, struct rerr *e);

/* feed_msg_subject writes m's subject (NUL-terminated, < FEED_SUBJECT_MAX);
 * its stream's name into stream (at least 16 bytes) when stream is not
 * NULL. Returns its length. */
size_t feed_msg_subject(const struct feed_msg *m, char out[FEED_SUBJECT_MAX], char *stream);

/* feed_msg_shard: the OCSP stream of a serial (0 .. FEED_OCSP_STREAMS). */
unsigned feed_msg_shard(const uint8_t *serial, size_t len);

/* feed_msg_key: a 64-bit key of m's subject (for de-duplication sets). */
uint64_t feed_msg_key(const struct feed_msg *m);

/* The streams and what they hold (feed/pub.c creates them, feed/edge.c
 * reads them). */
#define FEED_STREAMS (FEED_OCSP_STREAMS + 2)
_Static_assert(FEED_STREAMS <= 6, "struct feed_msg's acked");
const char *feed_stream_name(unsigned i);    /* REVD_OCSP_0.., REVD_CRL, REVD_META */
const char *feed_stream_subject(unsigned i); /* revd.ocsp.0.>, ..., revd.crl.>, revd.meta.> */

#endif
