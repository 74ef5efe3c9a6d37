/* nonce: minted under an HMAC key, taken once (acme/nonce.h). */
#include "acme/nonce.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "ca/ca.h"
#include "common/b64url.h"
#include "common/hex.h"

#define NS "acme"
#define KEY_REC "nonce-key"
#define MARK_PREFIX "n/"
#define RAW 32  /* time 8, random 8, mac 16 */
#define BODY 16
#define PURGE_ROUNDS 64

/* The wall clock in ms: a nonce's age must hold across a restart, which
 * the monotonic clock does not. */
static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct acme_nonces {
    struct ca_core *core;
    uint8_t key[32];
};

struct acme_nonces *acme_nonces_new(struct ca_core *c, struct rerr *e) {
    struct acme_nonces *n = calloc(1, sizeof(*n));
    if (n == NULL) {
        rerr_set(e, "out of memory");
        return NULL;
    }
    n->core = c;
    uint8_t *v = NULL;
    size_t vl = 0;
    int r = ca_rec_get(c, NS, KEY_REC, &v, &vl, e);
    if (r == 1 && vl == sizeof(n->key)) {
        memcpy(n->key, v, vl);
    } else if (r == 0) {
        struct ca_rec_put p = {KEY_REC, n->key, sizeof(n->key)};
        if (RAND_bytes(n->key, sizeof(n->key)) != 1 || !ca_rec_write(c, NS, &p, 1, NULL, NULL, NULL, 1, e)) r = -1;
    } else if (r == 1) {
        rerr_set(e, "the index's ACME nonce key is %zu octets, not %zu", vl, sizeof(n->key));
        r = -1;
    }
    OPENSSL_clear_free(v, vl);
    if (r < 0) {
        OPENSSL_cleanse(n->key, sizeof(n->key));
        free(n);
        return NULL;
    }
    return n;
}

void acme_nonces_free(struct acme_nonces *n) {
    if (n == NULL) return;
    OPENSSL_cleanse(n->key, sizeof(n->key));
    free(n);
}

static void mac(const struct acme_nonces *n, const uint8_t body[BODY], uint8_t out[RAW - BODY]) {
    uint8_t full[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), n->key, sizeof(n->key), body, BODY, full, &len);
    memcpy(out, full, RAW - BODY);
}

void acme_nonce_mint(struct acme_nonces *n, char out[ACME_NONCE_LEN + 1]) {
    uint8_t raw[RAW];
    uint64_t ms = (uint64_t)now_ms();
    for (int i = 0; i < 8; i++) raw[i] = (uint8_t)(ms >> (56 - 8 * i));
    if (RAND_bytes(raw + 8, 8) != 1) abort(); /* no entropy: nothing safe to hand out */
    mac(n, raw, raw + BODY);
    b64url_encode(raw, RAW, out, ACME_NONCE_LEN + 1);
}

/* The mark's key: the prefix and the body in hex, so that marks sort by
 * issue time (the purge stops at the first live one). */
static void mark_key(const uint8_t body[BODY], char out[sizeof(MARK_PREFIX) + 2 * BODY]) {
    memcpy(out, MARK_PREFIX, sizeof(MARK_PREFIX) - 1);
    hex_encode(body, BODY, out + sizeof(MARK_PREFIX) - 1);
}

int acme_nonce_take(struct acme_nonces *n, const char *nonce, struct rerr *e) {
    uint8_t raw[RAW], want[RAW - BODY];
    size_t rl = 0;
    if (strlen(nonce) != ACME_NONCE_LEN || !b64url_decode(nonce, ACME_NONCE_LEN, raw, sizeof(raw), &rl) || rl != RAW)
        return 0;
    mac(n, raw, want);
    if (CRYPTO_memcmp(want, raw + BODY, sizeof(want)) != 0) return 0;
    uint64_t ms = 0;
    for (int i = 0; i < 8; i++) ms = ms << 8 | raw[i];
    int64_t now = now_ms();
    if ((int64_t)ms > now + 60000 || now - (int64_t)ms > (int64_t)ACME_NONCE_LIFETIME_S * 1000) return 0;
    char k[sizeof(MARK_PREFIX) + 2 * BODY];
    mark_key(raw, k);
    uint8_t *v = NULL;
    size_t vl = 0;
    int r = ca_rec_get(n->core, NS, k, &v, &vl, e);
    free(v);
    if (r != 0) return r > 0 ? 0 : -1;
    struct ca_rec_put p = {k, "", 0};
    return ca_rec_write(n->core, NS, &p, 1, NULL, NULL, NULL, 0, e) ? 1 : -1;
}

struct purge {
    char cutoff[sizeof(MARK_PREFIX) + 2 * BODY];
    char (*keys)[sizeof(MARK_PREFIX) + 2 * BODY];
    size_t n, cap;
};

static int purge_row(void *arg, const char *key, size_t key_len, const uint8_t *val, size_t len) {
    struct purge *p = arg;
    if (strcmp(key, p->cutoff) >= 0 || p->n == p->cap) return 0;
    snprintf(p->keys[p->n++], sizeof(p->keys[0]), "%s", key);
    return 1;
}

size_t acme_nonces_purge(struct acme_nonces *n) {
    struct purge p = {.cap = 4096};
    uint8_t body[BODY] = {0};
    uint64_t ms = (uint64_t)(now_ms() - (int64_t)ACME_NONCE_LIFETIME_S * 1000 - 60000);
    for (int i = 0; i < 8; i++) body[i] = (uint8_t)(ms >> (56 - 8 * i));
    mark_key(body, p.cutoff);
    p.keys = malloc(p.cap * sizeof(p.keys[0]));
    struct rerr e;
    size_t done = 0;
    struct ca_rec_put *puts = calloc(p.cap, sizeof(*puts));
    /* A batch at a time, at most PURGE_ROUNDS of them a call. */
    for (int round = 0; round < PURGE_ROUNDS && p.keys != NULL && puts != NULL; round++) {
        p.n = 0;
        if (!ca_rec_scan(n->core, NS, MARK_PREFIX, purge_row, &p, &e) || p.n == 0) break;
        for (size_t i = 0; i < p.n; i++) puts[i].key = p.keys[i];
        if (!ca_rec_write(n->core, NS, puts, p.n, NULL, NULL, NULL, 0, &e)) break;
        done += p.n;
        if (p.n < p.cap) break;
    }
    free(puts);
    free(p.keys);
    return done;
}
