/* handler: the API registered handlers answer through (shard/handler.h). */
#include "shard/handler.h"


#include "shard/backend.h"
#include "shard/conn.h"

uint8_t *shard_out(struct shard_conn *c, size_t *out_cap) {
    *out_cap = OUT_CAP - c->out_len;
    return c->out + c->out_len;
}

_Static_assert(ANSWER_MAX == SHARD_ANSWER_MAX, "the core keeps the room a handler is promised");

void shard_emit(struct shard_conn *c, size_t n) { conn_emit(c, n); }

void shard_status(struct shard_conn *c, int status, int keep_alive) { conn_status(c, status, keep_alive); }

void shard_body_ref(struct shard_conn *c, const uint8_t *body, size_t len, void (*put)(void *ref), void *ref) {
    c->ext = body;
    c->ext_len = len;
    c->ext_off = 0;
    c->ext_put = put;
    c->ext_ref = ref;
}

const void *shard_slot(const struct shard_conn *c, int slot) {
    /* Valid until the next tick: server_reclaim waits for two. */
    return atomic_load_explicit(&c->sh->srv->slots[slot], memory_order_acquire);
}

struct shard_metrics *shard_metrics_of(struct shard_conn *c) { return &c->sh->m; }

void shard_count_bad(struct shard_conn *c) { bump(&c->sh->bad_requests); }

int64_t shard_max_age(const struct shard_conn *c) { return live_i64(&c->sh->srv->live_max_age); }

int shard_index(const struct shard_conn *c) { return c->sh->index; }

uint64_t shard_wait(struct shard_conn *c) {
    c->waiting = 1;
    return c->id;
}

struct shard_conn *shard_resume(void *conn, uint64_t id) {
    struct shard_conn *c = conn;
    if (c->fd < 0 || c->dead || c->id != id || !c->waiting) return NULL;
    c->waiting = 0;
    return c;
}

void shard_resumed(struct shard_conn *c, int keep_alive) {
    metrics_observe(&c->sh->m.latency, MHK_LATENCY_NS, now_ns() - c->t0_ns);
    if (!keep_alive) c->closing = 1;
    c->sh->srv->be->kick(c);
}
