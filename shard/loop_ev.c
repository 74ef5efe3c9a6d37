/* loop_ev: the libevent backend of the shards (shard/internal.h): readiness
 * events, recv and send. Used where io_uring is unavailable, or with
 * `--io libevent`. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "shard/internal.h"

static void conn_close(struct conn *c) {
    event_del(c->ev_read);
    event_del(c->ev_write);
    close(c->fd);
    shard_conn_put(c);
}

/* Writes what it can (the output, then an external body); returns 0 when
 * the connection was closed. */
static int flush(struct conn *c) {
    while (c->out_off < c->out_len || c->ext != NULL) {
        conn_iov(c);
        ssize_t n = sendmsg(c->fd, &c->msg, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            event_add(c->ev_write, NULL);
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
        if (c->linger && !c->lingering && shard_linger_start(c)) event_add(c->ev_read, NULL);
        else conn_close(c);
        return 0;
    }
    return 1;
}

/* ev_kick answers and writes until it must wait: for input (reading on),
 * for the socket to take more output (reading off: pipelined answers wait),
 * or the connection is closed. */
void ev_kick(struct conn *c) {
    for (;;) {
        conn_process(c);
        if (c->out_len == 0 && c->ext == NULL) break;
        if (!flush(c)) return;                /* closed */
        if (c->out_len > 0 || c->ext != NULL) { /* the socket is full: on_write goes on */
            event_del(c->ev_read);
            return;
        }
        if (c->in_len == 0) break;
    }
    /* While the lane answers, reading pauses: pipelined requests wait in the
     * socket (a closed peer is seen after the answer). */
    if (c->closing || c->waiting) event_del(c->ev_read);
    else event_add(c->ev_read, NULL);
}

static void on_read(evutil_socket_t fd, short what, void *arg) {
    struct conn *c = arg;
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
    struct conn *c = arg;
    if (!flush(c)) return;
    if (c->out_len == 0 && c->ext == NULL) ev_kick(c);
}

/* A connection just taken: its events. */
static void ev_start(struct shard *sh, struct conn *c) {
    if (c->ev_read == NULL) {
        c->ev_read = event_new(sh->base, -1, 0, NULL, NULL);
        c->ev_write = event_new(sh->base, -1, 0, NULL, NULL);
    }
    event_assign(c->ev_read, sh->base, c->fd, EV_READ | EV_PERSIST, on_read, c);
    event_assign(c->ev_write, sh->base, c->fd, EV_WRITE, on_write, c);
    event_add(c->ev_read, NULL);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg) {
    struct shard *sh = arg;
    for (int i = 0; i < 64; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            /* Out of descriptors or memory: the listener stays readable, so
             * stop watching it until the next tick instead of spinning. */
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                event_del(sh->ev_accept);
                sh->accept_paused = 1;
            }
            return;
        }
        struct conn *c = shard_conn_take(sh, fd);
        if (c != NULL) ev_start(sh, c);
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
    struct shard *sh = arg;
    uint64_t t = atomic_fetch_add_explicit(&sh->ticks, 1, memory_order_release) + 1;
    if (t % (1000 / TICK_MS) == 0) shard_sweep(sh, conn_close); /* once a second */
    if (shard_drain_tick(sh, conn_close)) {
        /* Draining: no new connection; those the kernel already completed
         * are taken first (closing the listener would reset them). */
        event_del(sh->ev_accept);
        shard_accept_rest(sh, SOCK_NONBLOCK | SOCK_CLOEXEC, ev_start);
        close(sh->listen_fd);
        sh->listen_fd = -1;
        sh->accept_paused = 0;
    }
    if (sh->accept_paused && !sh->drain_seen) {
        sh->accept_paused = 0;
        event_add(sh->ev_accept, NULL);
    }
    if (atomic_load(&sh->srv->stopping)) event_base_loopbreak(sh->base);
}

static void on_done(evutil_socket_t fd, short what, void *arg) {
    uint64_t n;
    ssize_t r = read(fd, &n, sizeof(n));
    (void)r;
    struct shard *sh = arg;
    shard_done_drain(sh);
    if (atomic_load(&sh->srv->stopping)) event_base_loopbreak(sh->base);
}

void *ev_shard_main(void *arg) {
    struct shard *sh = arg;
    if (event_base_dispatch(sh->base) < 0) shard_fatal(sh, "its event loop failed", EIO);
    return NULL;
}

int ev_shard_init(struct shard *sh, struct rerr *e) {
    sh->evict = conn_close;
    struct event_config *ec = event_config_new();
    if (ec != NULL) event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
    sh->base = ec != NULL ? event_base_new_with_config(ec) : NULL;
    event_config_free(ec);
    if (sh->base == NULL) return rerr_set(e, "cannot create an event loop");
    sh->ev_done = event_new(sh->base, sh->done_fd, EV_READ | EV_PERSIST, on_done, sh);
    sh->ev_accept = event_new(sh->base, sh->listen_fd, EV_READ | EV_PERSIST, on_accept, sh);
    sh->ev_tick = event_new(sh->base, -1, EV_PERSIST, on_tick, sh);
    if (sh->ev_done == NULL || sh->ev_accept == NULL || sh->ev_tick == NULL)
        return rerr_set(e, "cannot create an event loop");
    struct timeval tick = {0, TICK_MS * 1000};
    event_add(sh->ev_done, NULL);
    event_add(sh->ev_accept, NULL);
    event_add(sh->ev_tick, &tick);
    return 1;
}

void ev_conn_free(struct conn *c) {
    if (c->ev_read) event_free(c->ev_read);
    if (c->ev_write) event_free(c->ev_write);
}

void ev_shard_free(struct shard *sh) {
    if (sh->ev_accept) event_free(sh->ev_accept);
    if (sh->ev_tick) event_free(sh->ev_tick);
    if (sh->ev_done) event_free(sh->ev_done);
    if (sh->base) event_base_free(sh->base);
}
