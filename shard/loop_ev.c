/* loop_ev: the libevent backend of the shards (shard/backend.h): readiness
 * events, recv and send. Used where io_uring is unavailable, or with
 * `--io libevent`. One event_base per shard, without locks (memcached's
 * workers). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "shard/backend.h"
#include "shard/conn.h"

/* A shard's loop: its base, the listener's, the tick's and the wake's events. */
struct ev_shard {
    struct event_base *base;
    struct event *ev_accept, *ev_tick, *ev_done;
    uint64_t turn_ns; /* the first callback of this turn of the loop ran then (0: none yet) */
};

/* A connection with its two events (first: beside the connection's head,
 * not after its 76 KiB of buffers). */
struct ev_conn {
    struct event *ev_read, *ev_write;
    struct shard_conn c;
};

static struct ev_conn *ec_of(struct shard_conn *c) {
    return (struct ev_conn *)(void *)((char *)c - offsetof(struct ev_conn, c));
}
static struct ev_shard *es_of(struct shard *sh) { return sh->io; }

/* turn_begin: every callback calls it first. libevent 2.1 has no hook
 * between its wait and its callbacks, so a turn of the loop is timed from
 * its first callback (what libevent does before it, moving what epoll
 * returned to its active queue, is not counted) to the loop's return
 * (ev_shard_main). */
static void turn_begin(struct shard *sh) {
    if (es_of(sh)->turn_ns == 0) es_of(sh)->turn_ns = now_ns();
}

static void conn_close(struct shard_conn *c) {
    event_del(ec_of(c)->ev_read);
    event_del(ec_of(c)->ev_write);
    close(c->fd);
    shard_conn_put(c);
}

/* Writes what it can (the output, then an external body); returns 0 when
 * the connection was closed. */
static int flush(struct shard_conn *c) {
    while (c->out_off < c->out_len || c->ext != NULL) {
        conn_iov(c);
        ssize_t n = sendmsg(c->fd, &c->msg, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            event_add(ec_of(c)->ev_write, NULL);
            return 1;
        }
        if (n <= 0) {
            conn_close(c);
            return 0;
        }
        conn_sent(c, (size_t)n);
    }
    if (c->closing) {
        /* Lingering, the connection is only read (on_read drops it all). */
        if (c->linger && !c->lingering && shard_linger_start(c)) event_add(ec_of(c)->ev_read, NULL);
        else conn_close(c);
        return 0;
    }
    return 1;
}

/* ev_kick answers and writes until it must wait: for input (reading on),
 * for the socket to take more output (reading off: pipelined answers wait),
 * or the connection is closed. */
static void ev_kick(struct shard_conn *c) {
    for (;;) {
        conn_process(c);
        if (c->out_len == 0 && c->ext == NULL) break;
        if (!flush(c)) return;                /* closed */
        if (c->out_len > 0 || c->ext != NULL) { /* the socket is full: on_write goes on */
            event_del(ec_of(c)->ev_read);
            return;
        }
        if (c->in_len == 0) break;
    }
    /* While the lane answers, reading pauses: pipelined requests wait in the
     * socket (a closed peer is seen after the answer). */
    if (c->closing || c->waiting) event_del(ec_of(c)->ev_read);
    else event_add(ec_of(c)->ev_read, NULL);
}

static void on_read(evutil_socket_t fd, short what, void *arg) {
    struct shard_conn *c = arg;
    turn_begin(c->sh);
    if (c->lingering) { /* read and dropped: see shard_linger_start */
        ssize_t n = recv(fd, c->in, IN_CAP, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        if (n <= 0 || !shard_linger_more(c, (size_t)n)) conn_close(c);
        return;
    }
    if (c->in_len == IN_CAP) { /* full of unanswered requests: answer first */
        ev_kick(c);
        return;
    }
    ssize_t n = recv(fd, c->in + c->in_len, IN_CAP - c->in_len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
        conn_close(c);
        return;
    }
    shard_conn_heard(c, (size_t)n);
    ev_kick(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg) {
    struct shard_conn *c = arg;
    turn_begin(c->sh);
    if (!flush(c)) return;
    if (c->out_len == 0 && c->ext == NULL) ev_kick(c);
}

/* A connection just taken: its events. */
static void ev_start(struct shard *sh, struct shard_conn *c) {
    if (ec_of(c)->ev_read == NULL) {
        ec_of(c)->ev_read = event_new(es_of(sh)->base, -1, 0, NULL, NULL);
        ec_of(c)->ev_write = event_new(es_of(sh)->base, -1, 0, NULL, NULL);
    }
    event_assign(ec_of(c)->ev_read, es_of(sh)->base, c->fd, EV_READ | EV_PERSIST, on_read, c);
    event_assign(ec_of(c)->ev_write, es_of(sh)->base, c->fd, EV_WRITE, on_write, c);
    event_add(ec_of(c)->ev_read, NULL);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg) {
    struct shard *sh = arg;
    turn_begin(sh);
    for (int i = 0; i < 64; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            /* Out of descriptors or memory: the listener stays readable, so
             * stop watching it until the next tick instead of spinning. */
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                event_del(es_of(sh)->ev_accept);
                sh->accept_paused = 1;
            }
            return;
        }
        struct shard_conn *c = shard_conn_take(sh, fd);
        if (c != NULL) ev_start(sh, c);
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
    struct shard *sh = arg;
    turn_begin(sh);
    uint64_t t = atomic_fetch_add_explicit(&sh->ticks, 1, memory_order_release) + 1;
    if (t % (1000 / TICK_MS) == 0) shard_sweep(sh); /* once a second */
    if (shard_drain_tick(sh)) {
        /* Draining: no new connection; those the kernel already completed
         * are taken first (closing the listener would reset them). */
        event_del(es_of(sh)->ev_accept);
        shard_accept_rest(sh, SOCK_NONBLOCK | SOCK_CLOEXEC, ev_start);
        close(sh->listen_fd);
        sh->listen_fd = -1;
        sh->accept_paused = 0;
    }
    if (sh->accept_paused && !sh->drain_seen) {
        sh->accept_paused = 0;
        event_add(es_of(sh)->ev_accept, NULL);
    }
    if (shard_stopping(sh)) event_base_loopbreak(es_of(sh)->base);
}

static void on_done(evutil_socket_t fd, short what, void *arg) {
    uint64_t n;
    ssize_t r = read(fd, &n, sizeof(n));
    (void)r;
    struct shard *sh = arg;
    turn_begin(sh);
    shard_woken(sh);
    if (shard_stopping(sh)) event_base_loopbreak(es_of(sh)->base);
}

static void *ev_shard_main(void *arg) {
    struct shard *sh = arg;
    /* event_base_dispatch, one turn at a time (each timed: turn_begin). */
    while (!shard_stopping(sh)) {
        int rc = event_base_loop(es_of(sh)->base, EVLOOP_ONCE);
        if (rc < 0) shard_fatal(sh, "its event loop failed", EIO);
        if (es_of(sh)->turn_ns != 0) shard_loop_turned(sh, es_of(sh)->turn_ns);
        es_of(sh)->turn_ns = 0;
        if (rc == 1) break; /* no event left (as dispatch would) */
    }
    return NULL;
}

static int ev_shard_init(struct shard *sh, struct rerr *e) {
    if ((sh->io = calloc(1, sizeof(struct ev_shard))) == NULL) return rerr_set(e, "out of memory");
    struct event_config *ec = event_config_new();
    if (ec != NULL) event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
    es_of(sh)->base = ec != NULL ? event_base_new_with_config(ec) : NULL;
    event_config_free(ec);
    if (es_of(sh)->base == NULL) return rerr_set(e, "cannot create an event loop");
    es_of(sh)->ev_done = event_new(es_of(sh)->base, sh->wake_fd, EV_READ | EV_PERSIST, on_done, sh);
    es_of(sh)->ev_accept = event_new(es_of(sh)->base, sh->listen_fd, EV_READ | EV_PERSIST, on_accept, sh);
    es_of(sh)->ev_tick = event_new(es_of(sh)->base, -1, EV_PERSIST, on_tick, sh);
    if (es_of(sh)->ev_done == NULL || es_of(sh)->ev_accept == NULL || es_of(sh)->ev_tick == NULL)
        return rerr_set(e, "cannot create an event loop");
    struct timeval tick = {0, TICK_MS * 1000};
    event_add(es_of(sh)->ev_done, NULL);
    event_add(es_of(sh)->ev_accept, NULL);
    event_add(es_of(sh)->ev_tick, &tick);
    return 1;
}

static struct shard_conn *ev_conn_new(struct shard *sh) {
    struct ev_conn *ec = calloc(1, sizeof(*ec));
    return ec != NULL ? &ec->c : NULL;
}

static void ev_conn_free(struct shard_conn *c) {
    if (ec_of(c)->ev_read) event_free(ec_of(c)->ev_read);
    if (ec_of(c)->ev_write) event_free(ec_of(c)->ev_write);
    free(ec_of(c));
}

static void ev_shard_stop(struct shard *sh) { (void)sh; }

static void ev_shard_free(struct shard *sh) {
    struct ev_shard *es = es_of(sh);
    if (es == NULL) return;
    if (es->ev_accept) event_free(es->ev_accept);
    if (es->ev_tick) event_free(es->ev_tick);
    if (es->ev_done) event_free(es->ev_done);
    if (es->base) event_base_free(es->base);
    free(es);
    sh->io = NULL;
}

const struct shard_backend shard_backend_ev = {
    .name = "libevent",
    .wake_nonblock = 1,
    .probe = NULL,
    .shard_init = ev_shard_init,
    .shard_main = ev_shard_main,
    .shard_stop = ev_shard_stop,
    .shard_free = ev_shard_free,
    .conn_new = ev_conn_new,
    .conn_free = ev_conn_free,
    .kick = ev_kick,
    .close = conn_close,
};
