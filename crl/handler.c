/* handler: the CRL GET (crl/handler.h). */
#include "crl/handler.h"

#include <stdatomic.h>
#include <string.h>

#include "common/rtime.h"
#include "crl/set.h"
#include "shard/handler.h"
#include "shard/httpout.h"
#include "shard/server.h"

/* The slot each registration reads: the routes' argument (a registration
 * allocates nothing). */
static const int slots[SERVER_SLOTS] = {0, 1, 2, 3};

static void blob_put(void *b) { crl_blob_put(b); }

/* CRLs refused past their nextUpdate (crl_handler_stale). */
static _Atomic uint64_t stale;

uint64_t crl_handler_stale(void) { return atomic_load_explicit(&stale, memory_order_relaxed); }

/* A CRL: its head into the output, its body sent from the blob itself
 * (up to a megabyte) with a reference held until it is. */
static void handle_crl(struct shard_conn *c, const struct http_request *r, void *ctx) {
    const struct crl_set *set = shard_slot(c, *(const int *)ctx);
    const char *q = memchr(r->target, '?', r->target_len);
    size_t plen = q ? (size_t)(q - r->target) : r->target_len;
    struct crl_blob *b = set != NULL ? crl_set_find(set, r->target, plen) : NULL;
    if (b == NULL) return shard_status(c, 404, r->keep_alive);
    int64_t now = rtime_now();
    if (b->next_update != 0 && now >= b->next_update) { /* never a CRL past its nextUpdate (an edge cut off) */
        atomic_fetch_add_explicit(&stale, 1, memory_order_relaxed);
        return shard_status(c, 503, r->keep_alive);
    }
    struct httpout_cache cache = {b->this_update, b->next_update, b->refresh_at, shard_max_age(c)};
    int64_t since;
    size_t cap;
    uint8_t *out = shard_out(c, &cap);
    if ((r->if_none_match != NULL && httpout_etag_matches(r->if_none_match, r->if_none_match_len, b->etag)) ||
        (r->if_none_match == NULL && r->if_modified_since != NULL &&
         httpout_parse_date(r->if_modified_since, r->if_modified_since_len, &since) && since >= b->this_update)) {
        shard_emit(c, httpout_not_modified(out, cap, b->etag, &cache, now, r->keep_alive));
        return;
    }
    size_t h = httpout_crl_head(out, cap, b->len, b->etag, &cache, now, r->keep_alive);
    shard_emit(c, h);
    if (h == 0 || r->method == HTTP_METHOD_HEAD) return;
    shard_body_ref(c, b->der, b->len, blob_put, crl_blob_ref(b));
}

int crl_handler_register(struct server_config *cfg, int slot) {
    if (slot < 0 || slot >= SERVER_SLOTS) return 0;
    const struct shard_route rt = {"/crl/", SHARD_MATCH_PREFIX, NULL, SHARD_GET | SHARD_HEAD, MK_CRL, handle_crl,
                                   (void *)(uintptr_t)&slots[slot], NULL, NULL};
    return server_route_add(cfg, &rt);
}

void crl_handler_free_set(void *set) { crl_set_free(set); }
