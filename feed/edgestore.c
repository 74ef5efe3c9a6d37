/* edgestore: an edge's large CA in a response store (feed/edgestore.h). */
#include "feed/edgestore.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/der.h"
#include "common/rtime.h"
#include "feed/edgedb.h"
#include "feed/msg.h"
#include "ocsp/store.h"

size_t edgestore_suffix(const uint8_t *der, size_t len) {
    struct der d, resp, wrap, bytes, basic, status, oid, octets, tbs, alg, sig, certs, el;
    der_init(&d, der, len);
    if (!der_get(&d, DER_SEQUENCE, &resp) || !der_get(&resp, DER_ENUMERATED, &status) ||
        !der_get(&resp, DER_CONTEXT(0) | DER_CONSTRUCTED, &wrap) || !der_get(&wrap, DER_SEQUENCE, &bytes) ||
        !der_get(&bytes, DER_OID, &oid) || !der_get(&bytes, DER_OCTET_STRING, &octets) ||
        !der_get(&octets, DER_SEQUENCE, &basic) || !der_get(&basic, DER_SEQUENCE, &tbs) ||
        !der_get(&basic, DER_SEQUENCE, &alg) || !der_get(&basic, DER_BIT_STRING, &sig) || basic.len == 0)
        return 0;
    unsigned tag;
    if (!der_get_any(&basic, &tag, &certs, &el) || tag != (DER_CONTEXT(0) | DER_CONSTRUCTED) || basic.len != 0)
        return 0;
    /* Every enclosing element ends where the block does. */
    return el.p + el.len == der + len ? el.len : 0;
}

/* issuer_key_hash: SHA-1 of the CA's public key (the store's meta). */
static int issuer_key_hash(const uint8_t *der, size_t len, uint8_t out[20]) {
    const unsigned char *p = der;
    X509 *c = d2i_X509(NULL, &p, (long)len);
    const ASN1_BIT_STRING *k = c ? X509_get0_pubkey_bitstr(c) : NULL;
    int ok = k != NULL && EVP_Q_digest(NULL, "SHA1", NULL, k->data, (size_t)k->length, out, NULL);
    X509_free(c);
    return ok;
}

struct ocsp_store *edgestore_write(struct edgedb *db, uint32_t caid, const uint8_t *ca_der, size_t ca_len,
                                   const char *dir, uint64_t *count, struct rerr *e) {
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%u.store", dir, caid);
    struct ocsp_store_meta meta = {.ca_id = caid, .created = rtime_now()};
    if (!issuer_key_hash(ca_der, ca_len, meta.issuer_kh)) return rerr_set(e, "CA %u: a certificate unread", caid), NULL;
    struct edgedb_iter *it = edgedb_iter_new_ca(db, caid);
    struct ocsp_store_writer *w = NULL;
    struct edgedb_rec r;
    *count = 0;
    while (it != NULL && edgedb_iter_next(it, &r)) {
        struct feed_msg m;
        if (!feed_msg_decode(r.payload, r.len, &m, e) || m.kind != FEED_OCSP) continue;
        if (w == NULL) { /* the responder's certificates end its responses: kept once */
            size_t sl = edgestore_suffix(m.der[0], m.der_len[0]);
            w = ocsp_store_writer_open(path, &meta, m.der[0] + m.der_len[0] - sl, sl, e);
            if (w == NULL) break;
        }
        struct ocsp_store_rec rec = {.serial = m.serial, .serial_len = m.serial_len, .this_update = r.this_update,
                                     .next_update = r.next_update, .der = {m.der[0], m.der[1]},
                                     .der_len = {m.der_len[0], m.der_len[1]}};
        if (!ocsp_store_writer_add(w, &rec, e)) {
            ocsp_store_writer_abort(w);
            w = NULL;
            break;
        }
        (*count)++;
    }
    edgedb_iter_free(it);
    if (w == NULL) {
        if (*count == 0 && e->msg[0] == '\0') rerr_set(e, "CA %u: no responses to store", caid);
        return NULL;
    }
    if (!ocsp_store_writer_commit(w, e)) return NULL;
    return ocsp_store_open(path, NULL, e);
}
