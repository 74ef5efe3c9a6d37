/* loop_uring: the io_uring backend of the shards (shard/backend.h), the
 * default. Completion-based: a multishot accept on the shard's listener, a
 * recv and a send per connection at most in flight, a timeout for the
 * tick, a read of the lane's eventfd. One submission per loop turn carries
 * every operation the turn's completions asked for.
 *
 * A connection's input is only moved (a request consumed) while no recv is
 * in flight into it: recv is armed only once every complete request in the
 * input has been answered, with room for another answer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <liburing.h>

#include "shard/backend.h"
#include "shard/conn.h"

#define RING_ENTRIES 4096

/* A shard's ring, and what its operations read or write. */
struct uring_shard {
    struct io_uring ring;
    int ring_ok;
    uint64_t done_buf; /* the wake eventfd's count */
    struct __kernel_timespec tick_ts;
    int stop_seen;
    int no_multishot; /* the kernel has no multishot accept: plain accepts */
};

/* A connection, with what it has in flight (a recv and a send at most):
 * the flags first, beside the connection's head (its buffers are 76 KiB
 * long; flags after them would cost another page per operation). */
struct uring_conn {
    int recv_busy, send_busy;
    struct shard_conn c;
};

static struct uring_shard *us_of(struct shard *sh) { return sh->io; }
static struct uring_conn *uc_of(struct shard_conn *c) {
    return (struct uring_conn *)(void *)((char *)c - offsetof(struct uring_conn, c));
}

enum { UD_ACCEPT = 1, UD_TICK = 2, UD_DONE = 3, UD_CANCEL = 5 };
#define OP_RECV 0
#define OP_SEND 1

static struct io_uring_sqe *sqe_get(struct shard *sh) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&us_of(sh)->ring);
    while (sqe == NULL) { /* the queue is full: hand it to the kernel */
        io_uring_submit(&us_of(sh)->ring);
        sqe = io_uring_get_sqe(&us_of(sh)->ring);
    }
    return sqe;
}

static int uring_probe(const char **why) {
    struct io_uring r;
    int rc = io_uring_queue_init(8, &r, 0);
    if (rc < 0) {
        *why = strerror(-rc);
        return 0;
    }
    struct io_uring_probe *p = io_uring_get_probe_ring(&r);
    int ok = p != NULL && io_uring_opcode_supported(p, IORING_OP_ACCEPT) &&
             io_uring_opcode_supported(p, IORING_OP_RECV) && io_uring_opcode_supported(p, IORING_OP_SEND) &&
             io_uring_opcode_supported(p, IORING_OP_TIMEOUT) && io_uring_opcode_supported(p, IORING_OP_READ);
    if (p != NULL) io_uring_free_probe(p);
    io_uring_queue_exit(&r);
    if (!ok) *why = "the kernel lacks an operation the shards use (accept, recv, send, timeout, read)";
    return ok;
}

static void arm_accept(struct shard *sh) {
    struct io_uring_sqe *sqe = sqe_get(sh);
    if (us_of(sh)->no_multishot) io_uring_prep_accept(sqe, sh->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    else io_uring_prep_multishot_accept(sqe, sh->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, UD_ACCEPT);
}

static void arm_tick(struct shard *sh) {
    struct io_uring_sqe *sqe = sqe_get(sh);
    io_uring_prep_timeout(sqe, &us_of(sh)->tick_ts, 0, 0);
    io_uring_sqe_set_data64(sqe, UD_TICK);
}

static void arm_done(struct shard *sh) {
    struct io_uring_sqe *sqe = sqe_get(sh);
    io_uring_prep_read(sqe, sh->wake_fd, &us_of(sh)->done_buf, sizeof(us_of(sh)->done_buf), 0);
    io_uring_sqe_set_data64(sqe, UD_DONE);
}

static void finish_close(struct shard_conn *c) {
    close(c->fd);
    shard_conn_put(c);
}

/* conn_shut closes c once nothing is in flight on it (a shutdown ends an
 * outstanding recv). */
static void conn_shut(struct shard_conn *c) {
    if (c->dead) return;
    c->dead = 1;
    if (uc_of(c)->recv_busy || uc_of(c)->send_busy) shutdown(c->fd, SHUT_RDWR);
    else finish_close(c);
}

static void uring_kick(struct shard_conn *c) {
    if (c->dead) return;
    struct shard *sh = c->sh;
    if (!uc_of(c)->recv_busy) conn_process(c);
    if ((c->out_len > c->out_off || c->ext != NULL) && !uc_of(c)->send_busy) {
        struct io_uring_sqe *sqe = sqe_get(sh);
        if (c->ext != NULL) { /* the output, then the external body: c->msg lives until completion */
            conn_iov(c);
            io_uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_NOSIGNAL);
        } else {
            io_uring_prep_send(sqe, c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        }
        io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)c | OP_SEND);
        uc_of(c)->send_busy = 1;
    }
    if (c->closing) {
        if (uc_of(c)->send_busy) return;
        /* Lingering, the connection is only read (on_conn drops it all). */
        if (!c->lingering && !(c->linger && shard_linger_start(c))) {
            conn_shut(c);
        } else if (!uc_of(c)->recv_busy) {
            struct io_uring_sqe *sqe = sqe_get(sh);
            io_uring_prep_recv(sqe, c->fd, c->in, IN_CAP, 0);
            io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)c | OP_RECV);
            uc_of(c)->recv_busy = 1;
        }
        return;
    }
    if (!uc_of(c)->recv_busy && !c->waiting && c->in_len < IN_CAP && OUT_CAP - c->out_len >= ANSWER_MAX) {
        struct io_uring_sqe *sqe = sqe_get(sh);
        io_uring_prep_recv(sqe, c->fd, c->in + c->in_len, IN_CAP - c->in_len, 0);
        io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)c | OP_RECV);
        uc_of(c)->recv_busy = 1;
    }
}

static void on_conn(struct shard_conn *c, int op, int res) {
    if (op == OP_RECV) uc_of(c)->recv_busy = 0;
    else uc_of(c)->send_busy = 0;
    if (c->dead) {
        if (!uc_of(c)->recv_busy && !uc_of(c)->send_busy) finish_close(c);
        return;
    }
    if (op == OP_RECV && c->lingering) { /* read and dropped: see shard_linger_start */
        if (res <= 0 || !shard_linger_more(c, (size_t)res)) conn_shut(c);
        else uring_kick(c);
        return;
    }
    if (op == OP_RECV) {
        if (res <= 0) { /* the peer closed, or an error */
            conn_shut(c);
            return;
        }
        shard_conn_heard(c, (size_t)res);
    } else {
        if (res < 0) {
            conn_shut(c);
            return;
        }
        conn_sent(c, (size_t)res);
    }
    uring_kick(c);
}

static void uring_start(struct shard *sh, struct shard_conn *c) { uring_kick(c); }

static void on_accept(struct shard *sh, int res, unsigned flags) {
    if (res >= 0) { /* (also while draining: accepted before the cancel took effect, it is answered) */
        struct shard_conn *c = shard_conn_take(sh, res);
        if (c != NULL) uring_kick(c);
    }
    if (flags & IORING_CQE_F_MORE) return; /* the multishot accept goes on */
    if (sh->drain_seen) return;             /* cancelled: draining */
    if (res == -EINVAL && !us_of(sh)->no_multishot) {
        us_of(sh)->no_multishot = 1; /* a kernel before 5.19 */
        arm_accept(sh);
    } else if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM || res == -EINVAL) {
        sh->accept_paused = 1; /* accepting again at once would fail at once: at the next tick */
    } else {
        arm_accept(sh);
    }
}

static void on_tick(struct shard *sh) {
    uint64_t t = atomic_fetch_add_explicit(&sh->ticks, 1, memory_order_release) + 1;
    if (shard_stopping(sh)) us_of(sh)->stop_seen = 1;
    if (shard_drain_tick(sh)) {
        /* Draining: no new connection; those the kernel already completed
         * are taken first (closing the listener would reset them), then
         * the listener goes (the pending accept holds its own reference
         * until cancelled). */
        shard_accept_rest(sh, SOCK_CLOEXEC, uring_start);
        struct io_uring_sqe *sqe = sqe_get(sh);
        io_uring_prep_cancel64(sqe, UD_ACCEPT, 0);
        io_uring_sqe_set_data64(sqe, UD_CANCEL);
        close(sh->listen_fd);
        sh->listen_fd = -1;
        sh->accept_paused = 0;
    }
    if (sh->accept_paused && !sh->drain_seen) {
        sh->accept_paused = 0;
        arm_accept(sh);
    }
    if (t % (1000 / TICK_MS) == 0) shard_sweep(sh); /* once a second */
    arm_tick(sh);
}

/* Completions are copied out and the queue advanced before any is
 * handled: handling may submit, and a submission must never wait on a
 * completion queue this loop is still holding. */
#define CQE_BATCH 512

struct cqe_copy {
    uint64_t ud;
    int res;
    unsigned flags;
};

static void *uring_shard_main(void *arg) {
    struct shard *sh = arg;
    /* liburing 2.3 has no io_uring_enable_rings: the register call itself. */
    if ((us_of(sh)->ring.flags & IORING_SETUP_R_DISABLED) &&
        syscall(__NR_io_uring_register, us_of(sh)->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0) != 0)
        shard_fatal(sh, "cannot enable its io_uring", errno);
    arm_accept(sh);
    arm_tick(sh);
    arm_done(sh);
    static _Thread_local struct cqe_copy batch[CQE_BATCH];
    while (!us_of(sh)->stop_seen) {
        int rc = io_uring_submit_and_wait(&us_of(sh)->ring, 1);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) shard_fatal(sh, "io_uring_enter", -rc);
        uint64_t turn_ns = now_ns(); /* the turn's stall: from here to the next wait */
        for (;;) {
            struct io_uring_cqe *cqe;
            unsigned head, n = 0;
            io_uring_for_each_cqe(&us_of(sh)->ring, head, cqe) {
                if (n == CQE_BATCH) break;
                batch[n++] = (struct cqe_copy){io_uring_cqe_get_data64(cqe), cqe->res, cqe->flags};
            }
            if (n == 0) break;
            io_uring_cq_advance(&us_of(sh)->ring, n);
            for (unsigned i = 0; i < n; i++) {
                uint64_t ud = batch[i].ud;
                if (ud == UD_ACCEPT) on_accept(sh, batch[i].res, batch[i].flags);
                else if (ud == UD_TICK) on_tick(sh);
                else if (ud == UD_CANCEL) continue;
                else if (ud == UD_DONE) {
                    shard_woken(sh);
                    if (shard_stopping(sh)) us_of(sh)->stop_seen = 1; /* server_stop's wake-up */
                    arm_done(sh);
                } else {
                    on_conn((struct shard_conn *)(uintptr_t)(ud & ~(uint64_t)1), (int)(ud & 1), batch[i].res);
                }
            }
        }
        shard_loop_turned(sh, turn_ns);
    }
    return NULL;
}

static int uring_shard_init(struct shard *sh, struct rerr *e) {
    if ((sh->io = calloc(1, sizeof(struct uring_shard))) == NULL) return rerr_set(e, "out of memory");
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    /* One thread submits (the shard's, which enables the ring); completions
     * are run when it enters the kernel, not by interrupting it. */
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_R_DISABLED;
    int rc = io_uring_queue_init_params(RING_ENTRIES, &us_of(sh)->ring, &p);
    if (rc == -EINVAL) { /* an older kernel */
        memset(&p, 0, sizeof(p));
        rc = io_uring_queue_init_params(RING_ENTRIES, &us_of(sh)->ring, &p);
    }
    if (rc < 0) return rerr_set(e, "io_uring: %s", strerror(-rc));
    us_of(sh)->ring_ok = 1;
    us_of(sh)->tick_ts.tv_sec = 0;
    us_of(sh)->tick_ts.tv_nsec = TICK_MS * 1000000LL;
    return 1;
}

static void uring_shard_stop(struct shard *sh) {
    if (us_of(sh) != NULL && us_of(sh)->ring_ok) io_uring_queue_exit(&us_of(sh)->ring);
    if (us_of(sh) != NULL) us_of(sh)->ring_ok = 0;
}

static void uring_shard_free(struct shard *sh) {
    uring_shard_stop(sh);
    free(sh->io);
    sh->io = NULL;
}

static struct shard_conn *uring_conn_new(struct shard *sh) {
    struct uring_conn *uc = calloc(1, sizeof(*uc));
    return uc != NULL ? &uc->c : NULL;
}

static void uring_conn_free(struct shard_conn *c) { free(uc_of(c)); }

const struct shard_backend shard_backend_uring = {
    .name = "io_uring",
    .wake_nonblock = 0,
    .probe = uring_probe,
    .shard_init = uring_shard_init,
    .shard_main = uring_shard_main,
    .shard_stop = uring_shard_stop,
    .shard_free = uring_shard_free,
    .conn_new = uring_conn_new,
    .conn_free = uring_conn_free,
    .kick = uring_kick,
    .close = conn_shut,
};
