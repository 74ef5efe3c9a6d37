/* loop_uring: the io_uring backend of the shards (shard/backend.h), the
 * default. Completion-based, one submission per loop turn carrying every
 * operation the turn's completions asked for, and as few kernel crossings
 * per request as the kernel allows:
 *
 * - a multishot accept on the shard's listener;
 * - a multishot receive per connection into the shard's provided buffers
 *   (a buffer ring): armed once, it delivers every segment the client
 *   sends, and an idle connection holds no buffer. Bytes are copied into
 *   the connection's input; what does not fit waits in its buffers on the
 *   connection (the pending list) and the receive is cancelled until the
 *   input has room again;
 * - deferred task work (IORING_SETUP_DEFER_TASKRUN): completions are run
 *   when the shard enters the kernel to wait, in one batch, never by
 *   interrupting it;
 * - a send and a close linked, for a client that asked for one request per
 *   connection, and closes and cancels through the ring, not by system
 *   calls.
 *
 * Each feature is checked at start (a ring setup flag refused, a buffer
 * ring not registered) or at its first use (a multishot receive or a
 * receive with IORING_RECVSEND_POLL_FIRST answered EINVAL), and left out
 * cleanly: a plain receive into the connection's input, armed only once
 * every complete request in it has been answered (the input is never moved
 * while the kernel may write into it). Tests leave each out on purpose
 * (server_config.uring_off) to run the fallbacks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <liburing.h>

#include "common/log.h"
#include "shard/backend.h"
#include "shard/conn.h"

#define RING_ENTRIES 4096
/* The provided buffers: BUFS of BUF_SIZE octets per shard (2 MiB), more
 * than one segment of a request each. */
#define BUFS 512
#define BUF_SIZE 4096
#define BGID 1

/* A shard's ring, and what its operations read or write. */
struct uring_shard {
    struct io_uring ring;
    int ring_ok;
    unsigned feat; /* SERVER_URING_*: the features this shard uses */
    uint64_t done_buf; /* the wake eventfd's count */
    struct __kernel_timespec tick_ts;
    int stop_seen;
    /* The buffer ring (feat & SERVER_URING_RECV_MULTISHOT), its buffers,
     * and per buffer what a connection has not yet taken of it. */
    struct io_uring_buf_ring *br;
    uint8_t *bufs;
    struct pend {
        int next; /* the next buffer of the connection's pending list; -1: last */
        unsigned off, len;
    } pend[BUFS];
    unsigned returned; /* buffers put back since the last advance of the ring's tail */
};

/* A connection, with what it has in flight: a receive (multishot or
 * not), a send, a close; the flags first, beside the connection's head
 * (its buffers are 76 KiB long; flags after them would cost another page
 * per operation). */
struct uring_conn {
    unsigned char recv_busy, recv_multi, send_busy, close_busy;
    unsigned char cancel_sent; /* its receive is being cancelled */
    unsigned char eof;         /* the client closed its side */
    unsigned char no_buf;      /* the buffers ran out: one plain receive next */
    unsigned char recv_pf;     /* the receive in flight was asked with POLL_FIRST */
    int closed_fd;             /* the descriptor a close in flight closes (c->fd is -1 from then on) */
    int pend_head, pend_tail;  /* provided buffers not yet copied into the input; -1: none */
    struct shard_conn c;
};

static struct uring_shard *us_of(struct shard *sh) { return sh->io; }
static struct uring_conn *uc_of(struct shard_conn *c) {
    return (struct uring_conn *)(void *)((char *)c - offsetof(struct uring_conn, c));
}

/* user_data: a connection's address with its operation in the two low
 * bits, or one of the constants (never a connection's address). */
enum { UD_ACCEPT = 1, UD_TICK = 2, UD_DONE = 3, UD_CANCEL = 5 };
#define OP_RECV 0
#define OP_SEND 1
#define OP_CLOSE 2
#define OP_MASK 3

static uint64_t ud_of(struct shard_conn *c, int op) { return (uint64_t)(uintptr_t)c | (uint64_t)op; }

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
             io_uring_opcode_supported(p, IORING_OP_TIMEOUT) && io_uring_opcode_supported(p, IORING_OP_READ) &&
             io_uring_opcode_supported(p, IORING_OP_ASYNC_CANCEL) && io_uring_opcode_supported(p, IORING_OP_CLOSE);
    if (p != NULL) io_uring_free_probe(p);
    io_uring_queue_exit(&r);
    if (!ok) *why = "the kernel lacks an operation the shards use (accept, recv, send, timeout, read, cancel, close)";
    return ok;
}

/* ---- provided buffers ---- */

static void buf_return(struct shard *sh, int bid) {
    struct uring_shard *us = us_of(sh);
    io_uring_buf_ring_add(us->br, us->bufs + (size_t)bid * BUF_SIZE, BUF_SIZE, (unsigned short)bid,
                          io_uring_buf_ring_mask(BUFS), (int)us->returned);
    us->returned++;
}

/* buf_publish makes the buffers put back this turn visible to the kernel
 * (once per turn: one store to the ring's tail). */
static void buf_publish(struct shard *sh) {
    struct uring_shard *us = us_of(sh);
    if (us->returned == 0) return;
    io_uring_buf_ring_advance(us->br, (int)us->returned);
    us->returned = 0;
}

static void pend_drop(struct shard_conn *c) {
    struct uring_conn *uc = uc_of(c);
    while (uc->pend_head >= 0) {
        int bid = uc->pend_head;
        uc->pend_head = us_of(c->sh)->pend[bid].next;
        buf_return(c->sh, bid);
    }
    uc->pend_tail = -1;
}

/* pend_move copies what c's pending buffers hold into its input while it
 * has room, putting back each buffer emptied. */
static void pend_move(struct shard_conn *c) {
    struct uring_conn *uc = uc_of(c);
    struct uring_shard *us = us_of(c->sh);
    size_t moved = 0;
    while (uc->pend_head >= 0 && c->in_len + moved < IN_CAP) {
        struct pend *p = &us->pend[uc->pend_head];
        size_t n = p->len < IN_CAP - c->in_len - moved ? p->len : IN_CAP - c->in_len - moved;
        memcpy(c->in + c->in_len + moved, us->bufs + (size_t)uc->pend_head * BUF_SIZE + p->off, n);
        moved += n;
        p->off += (unsigned)n;
        p->len -= (unsigned)n;
        if (p->len > 0) break;
        int bid = uc->pend_head;
        uc->pend_head = p->next;
        buf_return(c->sh, bid);
    }
    if (uc->pend_head < 0) uc->pend_tail = -1;
    if (moved > 0) shard_conn_heard(c, moved);
}

static void pend_add(struct shard_conn *c, int bid, size_t len) {
    struct uring_conn *uc = uc_of(c);
    struct pend *p = &us_of(c->sh)->pend[bid];
    p->next = -1;
    p->off = 0;
    p->len = (unsigned)len;
    if (uc->pend_tail >= 0) us_of(c->sh)->pend[uc->pend_tail].next = bid;
    else uc->pend_head = bid;
    uc->pend_tail = bid;
}

/* ---- operations ---- */

static void arm_accept(struct shard *sh) {
    struct io_uring_sqe *sqe = sqe_get(sh);
    if (us_of(sh)->feat & SERVER_URING_ACCEPT_MULTISHOT)
        io_uring_prep_multishot_accept(sqe, sh->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    else io_uring_prep_accept(sqe, sh->listen_fd, NULL, NULL, SOCK_CLOEXEC);
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

static void cancel_op(struct shard_conn *c, int op) {
    struct io_uring_sqe *sqe = sqe_get(c->sh);
    io_uring_prep_cancel64(sqe, ud_of(c, op), 0);
    io_uring_sqe_set_data64(sqe, UD_CANCEL);
}

/* arm_recv: a multishot receive into the provided buffers, or a plain one
 * into what is free of the input (POLL_FIRST: the client has just been
 * answered, its next request is not there yet). */
static void arm_recv(struct shard_conn *c) {
    struct uring_conn *uc = uc_of(c);
    unsigned feat = us_of(c->sh)->feat;
    struct io_uring_sqe *sqe = sqe_get(c->sh);
    if ((feat & SERVER_URING_RECV_MULTISHOT) && !uc->no_buf && !c->lingering) {
        io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = BGID;
        uc->recv_multi = 1;
    } else {
        size_t off = c->lingering ? 0 : c->in_len; /* lingering, everything read is dropped */
        io_uring_prep_recv(sqe, c->fd, c->in + off, IN_CAP - off, 0);
        uc->recv_pf = (feat & SERVER_URING_POLL_FIRST) != 0;
        if (uc->recv_pf) sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
        uc->recv_multi = 0;
        uc->no_buf = 0;
    }
    io_uring_sqe_set_data64(sqe, ud_of(c, OP_RECV));
    uc->recv_busy = 1;
    uc->cancel_sent = 0;
}

/* ring_close closes c's descriptor through the ring (OP_CLOSE's
 * completion puts c back); c->fd is -1 from then on, so that nothing
 * closes the number again once another descriptor may have it. */
static void ring_close(struct shard_conn *c) {
    struct uring_conn *uc = uc_of(c);
    struct io_uring_sqe *sqe = sqe_get(c->sh);
    io_uring_prep_close(sqe, c->fd);
    io_uring_sqe_set_data64(sqe, ud_of(c, OP_CLOSE));
    uc->close_busy = 1;
    uc->closed_fd = c->fd;
    c->fd = -1;
}

/* finish_close: nothing is in flight on c: its descriptor is closed
 * (through the ring when it can) and it goes back to the pool. */
static void finish_close(struct shard_conn *c) {
    pend_drop(c);
    if (c->fd < 0) { /* closed, or being closed, by the ring */
        shard_conn_put(c);
        return;
    }
    ring_close(c);
}

static int in_flight(const struct uring_conn *uc) { return uc->recv_busy || uc->send_busy || uc->close_busy; }

/* conn_shut closes c once nothing is in flight on it: what is in flight is
 * cancelled. */
static void conn_shut(struct shard_conn *c) {
    if (c->dead) return;
    struct uring_conn *uc = uc_of(c);
    c->dead = 1;
    pend_drop(c);
    if (uc->recv_busy && !uc->cancel_sent) cancel_op(c, OP_RECV), uc->cancel_sent = 1;
    if (uc->send_busy) cancel_op(c, OP_SEND);
    if (!in_flight(uc)) finish_close(c);
}

/* send_out sends what c has to send; a connection that closes after this
 * answer (one request per connection) gets its close linked after the
 * send, in the same submission. */
static void send_out(struct shard_conn *c) {
    struct uring_conn *uc = uc_of(c);
    int link = c->closing && !c->linger && c->ext == NULL && c->out_off == 0 &&
               (us_of(c->sh)->feat & SERVER_URING_LINKED_CLOSE);
    /* A chain must not be split between two submissions. */
    if (link && io_uring_sq_space_left(&us_of(c->sh)->ring) < 2) io_uring_submit(&us_of(c->sh)->ring);
    struct io_uring_sqe *sqe = sqe_get(c->sh);
    if (c->ext != NULL) { /* the output, then the external body: c->msg lives until completion */
        conn_iov(c);
        io_uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_NOSIGNAL);
    } else {
        io_uring_prep_send(sqe, c->fd, c->out + c->out_off, c->out_len - c->out_off,
                           MSG_NOSIGNAL | (link ? MSG_WAITALL : 0));
    }
    io_uring_sqe_set_data64(sqe, ud_of(c, OP_SEND));
    uc->send_busy = 1;
    if (!link) return;
    /* Linked: the close runs once the send has sent everything (or is
     * cancelled with it). The receive is cancelled first. */
    sqe->flags |= IOSQE_IO_LINK;
    ring_close(c);
    c->dead = 1;
    pend_drop(c);
    if (uc->recv_busy && !uc->cancel_sent) cancel_op(c, OP_RECV), uc->cancel_sent = 1;
}

static void uring_kick(struct shard_conn *c) {
    if (c->dead) return;
    struct uring_conn *uc = uc_of(c);
    if (uc->pend_head >= 0 && !c->lingering) pend_move(c);
    /* The input may move while a multishot receive is armed (it writes
     * into the provided buffers), not while a plain one is. */
    if (!uc->recv_busy || uc->recv_multi) conn_process(c);
    if ((c->out_len > c->out_off || c->ext != NULL) && !uc->send_busy) {
        send_out(c);
        if (c->dead) return;
    }
    if (c->closing) {
        if (uc->send_busy) return;
        /* Lingering, the connection is only read (on_recv drops it all). */
        if (!c->lingering) {
            if (!(c->linger && shard_linger_start(c))) {
                conn_shut(c);
                return;
            }
            pend_drop(c);
        }
        if (!uc->recv_busy) arm_recv(c);
        return;
    }
    if (uc->eof) { /* the client is done sending: close once it has every answer */
        if (!uc->send_busy && !c->waiting && c->out_len == c->out_off && c->ext == NULL) conn_shut(c);
        return;
    }
    if (uc->recv_busy) {
        /* Input full and more waiting: stop receiving until there is room. */
        if (uc->recv_multi && uc->pend_head >= 0 && !uc->cancel_sent) cancel_op(c, OP_RECV), uc->cancel_sent = 1;
        return;
    }
    if (uc->pend_head >= 0 || c->in_len >= IN_CAP) return;
    if (uc->recv_multi || (us_of(c->sh)->feat & SERVER_URING_RECV_MULTISHOT)) {
        arm_recv(c);
    } else if (!c->waiting && OUT_CAP - c->out_len >= ANSWER_MAX) {
        arm_recv(c);
    }
}

/* on_recv: a receive's completion. A multishot one that failed with
 * EINVAL (a kernel before 6.0, or one without POLL_FIRST) is armed again
 * without the feature, for this connection and every later one. */
static void on_recv(struct shard_conn *c, int res, unsigned flags) {
    struct uring_conn *uc = uc_of(c);
    struct uring_shard *us = us_of(c->sh);
    int more = uc->recv_multi && (flags & IORING_CQE_F_MORE);
    if (!more) uc->recv_busy = 0;
    int bid = (flags & IORING_CQE_F_BUFFER) ? (int)(flags >> IORING_CQE_BUFFER_SHIFT) : -1;
    if (c->dead) {
        if (bid >= 0) buf_return(c->sh, bid);
        if (!in_flight(uc)) finish_close(c);
        return;
    }
    if (res == -EINVAL && !more && (uc->recv_multi || uc->recv_pf)) {
        unsigned off = uc->recv_multi ? SERVER_URING_RECV_MULTISHOT : SERVER_URING_POLL_FIRST;
        us->feat &= ~off;
        rlog(LOG_WARN, "shard.io_uring_fallback", "shard %d: the kernel refused %s: receiving without it",
             c->sh->index, off == SERVER_URING_RECV_MULTISHOT ? "a multishot receive" : "IORING_RECVSEND_POLL_FIRST");
        uring_kick(c);
        return;
    }
    if (res == -ENOBUFS && !more) { /* every buffer is taken: one plain receive, then multishot again */
        uc->no_buf = 1;
        uring_kick(c);
        return;
    }
    if (res == -ECANCELED && !more) { /* stopped for room: armed again by the kick */
        uring_kick(c);
        return;
    }
    if (c->lingering) { /* read and dropped: see shard_linger_start */
        if (bid >= 0) buf_return(c->sh, bid);
        if (res <= 0 || !shard_linger_more(c, (size_t)res)) conn_shut(c);
        else uring_kick(c);
        return;
    }
    if (res < 0) { /* an error */
        if (bid >= 0) buf_return(c->sh, bid);
        conn_shut(c);
        return;
    }
    if (res == 0) uc->eof = 1; /* the client closed its side */
    else if (bid >= 0) pend_add(c, bid, (size_t)res);
    else shard_conn_heard(c, (size_t)res);
    uring_kick(c);
}

static void on_conn(struct shard_conn *c, int op, int res, unsigned flags) {
    struct uring_conn *uc = uc_of(c);
    if (op == OP_RECV) {
        on_recv(c, res, flags);
        return;
    }
    if (op == OP_CLOSE) {
        uc->close_busy = 0;
        if (res == -ECANCELED) close(uc->closed_fd); /* its linked send failed */
        if (!in_flight(uc)) finish_close(c);
        return;
    }
    uc->send_busy = 0;
    if (c->dead) {
        if (!in_flight(uc)) finish_close(c);
        return;
    }
    if (res < 0) {
        conn_shut(c);
        return;
    }
    conn_sent(c, (size_t)res);
    uring_kick(c);
}

/* uring_start: c was just accepted (its backend state is reset: it may
 * come from the pool). */
static void uring_start(struct shard *sh, struct shard_conn *c) {
    struct uring_conn *uc = uc_of(c);
    uc->recv_busy = uc->recv_multi = uc->recv_pf = uc->send_busy = uc->close_busy = 0;
    uc->cancel_sent = uc->eof = uc->no_buf = 0;
    uc->pend_head = uc->pend_tail = -1;
    uring_kick(c);
}

static void on_accept(struct shard *sh, int res, unsigned flags) {
    if (res >= 0) { /* (also while draining: accepted before the cancel took effect, it is answered) */
        struct shard_conn *c = shard_conn_take(sh, res);
        if (c != NULL) uring_start(sh, c);
    }
    if (flags & IORING_CQE_F_MORE) return; /* the multishot accept goes on */
    if (sh->drain_seen) return;             /* cancelled: draining */
    if (res == -EINVAL && (us_of(sh)->feat & SERVER_URING_ACCEPT_MULTISHOT)) {
        us_of(sh)->feat &= ~SERVER_URING_ACCEPT_MULTISHOT; /* a kernel before 5.19 */
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

static void dispatch(struct shard *sh, const struct cqe_copy *q) {
    uint64_t ud = q->ud;
    if (ud == UD_ACCEPT) on_accept(sh, q->res, q->flags);
    else if (ud == UD_TICK) on_tick(sh);
    else if (ud == UD_CANCEL) return;
    else if (ud == UD_DONE) {
        shard_woken(sh);
        if (shard_stopping(sh)) us_of(sh)->stop_seen = 1; /* server_stop's wake-up */
        arm_done(sh);
    } else {
        on_conn((struct shard_conn *)(uintptr_t)(ud & ~(uint64_t)OP_MASK), (int)(ud & OP_MASK), q->res, q->flags);
    }
}

static void *uring_shard_main(void *arg) {
    struct shard *sh = arg;
    struct uring_shard *us = us_of(sh);
    /* liburing 2.3 has no io_uring_enable_rings: the register call itself. */
    if ((us->ring.flags & IORING_SETUP_R_DISABLED) &&
        syscall(__NR_io_uring_register, us->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0) != 0)
        shard_fatal(sh, "cannot enable its io_uring", errno);
    arm_accept(sh);
    arm_tick(sh);
    arm_done(sh);
    static _Thread_local struct cqe_copy batch[CQE_BATCH];
    while (!us->stop_seen) {
        buf_publish(sh);
        int rc = io_uring_submit_and_wait(&us->ring, 1);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) shard_fatal(sh, "io_uring_enter", -rc);
        uint64_t turn_ns = now_ns(); /* the turn's stall: from here to the next wait */
        for (;;) {
            struct io_uring_cqe *cqe;
            unsigned head, n = 0;
            io_uring_for_each_cqe(&us->ring, head, cqe) {
                if (n == CQE_BATCH) break;
                batch[n++] = (struct cqe_copy){io_uring_cqe_get_data64(cqe), cqe->res, cqe->flags};
            }
            if (n == 0) break;
            io_uring_cq_advance(&us->ring, n);
            for (unsigned i = 0; i < n; i++) dispatch(sh, &batch[i]);
        }
        shard_loop_turned(sh, turn_ns);
    }
    io_uring_submit(&us->ring); /* the closes the last turn asked for */
    return NULL;
}

/* ring_init: the ring, with the setup flags this kernel takes (each
 * falling back to the one before it: DEFER_TASKRUN needs 6.1,
 * SINGLE_ISSUER and COOP_TASKRUN 6.0 and 5.19). The shard's thread enables
 * it (R_DISABLED): the single issuer is the thread that enables. */
static int ring_init(struct uring_shard *us, unsigned off) {
    static const unsigned tries[][2] = {
        {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED, SERVER_URING_DEFER_TASKRUN},
        {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_R_DISABLED, 0},
        {0, 0},
    };
    int rc = -EINVAL;
    for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]) && rc == -EINVAL; i++) {
        if (tries[i][1] & off) continue;
        struct io_uring_params p;
        memset(&p, 0, sizeof(p));
        p.flags = tries[i][0];
        rc = io_uring_queue_init_params(RING_ENTRIES, &us->ring, &p);
        if (rc == 0) us->feat |= tries[i][1];
    }
    return rc;
}

/* bufs_init: the provided buffers, registered as a ring (5.19). 1, or 0:
 * receives go without them. */
static int bufs_init(struct uring_shard *us) {
    size_t ring_bytes = BUFS * sizeof(struct io_uring_buf);
    void *br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (br == MAP_FAILED) return 0;
    us->bufs = malloc((size_t)BUFS * BUF_SIZE);
    struct io_uring_buf_reg reg = {.ring_addr = (unsigned long)(uintptr_t)br, .ring_entries = BUFS, .bgid = BGID};
    if (us->bufs == NULL || io_uring_register_buf_ring(&us->ring, &reg, 0) != 0) {
        munmap(br, ring_bytes);
        free(us->bufs);
        us->bufs = NULL;
        return 0;
    }
    us->br = br;
    io_uring_buf_ring_init(us->br);
    for (int i = 0; i < BUFS; i++)
        io_uring_buf_ring_add(us->br, us->bufs + (size_t)i * BUF_SIZE, BUF_SIZE, (unsigned short)i,
                              io_uring_buf_ring_mask(BUFS), i);
    io_uring_buf_ring_advance(us->br, BUFS);
    return 1;
}

static const char *feat_names(unsigned feat, char *out, size_t cap) {
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{SERVER_URING_DEFER_TASKRUN, "defer-taskrun"},     {SERVER_URING_RECV_MULTISHOT, "recv-multishot"},
                 {SERVER_URING_ACCEPT_MULTISHOT, "accept-multishot"}, {SERVER_URING_POLL_FIRST, "poll-first"},
                 {SERVER_URING_LINKED_CLOSE, "linked-close"}};
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (feat & names[i].bit)
            n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s%s", n > 0 ? " " : "", names[i].name);
    return n > 0 ? out : "none";
}

static int uring_shard_init(struct shard *sh, struct rerr *e) {
    if ((sh->io = calloc(1, sizeof(struct uring_shard))) == NULL) return rerr_set(e, "out of memory");
    struct uring_shard *us = us_of(sh);
    unsigned off = sh->srv->uring_off;
    int rc = ring_init(us, off);
    if (rc < 0) return rerr_set(e, "io_uring: %s", strerror(-rc));
    us->ring_ok = 1;
    /* Features a kernel may lack are tried at their first use (EINVAL
     * there turns them off), except the buffer ring, registered now. */
    us->feat |= (SERVER_URING_ACCEPT_MULTISHOT | SERVER_URING_POLL_FIRST | SERVER_URING_LINKED_CLOSE) & ~off;
    if (!(off & SERVER_URING_RECV_MULTISHOT) && bufs_init(us)) us->feat |= SERVER_URING_RECV_MULTISHOT;
    us->tick_ts.tv_sec = 0;
    us->tick_ts.tv_nsec = TICK_MS * 1000000LL;
    if (sh->index == 0) {
        char names[128];
        rlog(LOG_INFO, "shard.io_uring", "io_uring features: %s", feat_names(us->feat, names, sizeof(names)));
    }
    return 1;
}

static void uring_shard_stop(struct shard *sh) {
    if (us_of(sh) != NULL && us_of(sh)->ring_ok) io_uring_queue_exit(&us_of(sh)->ring);
    if (us_of(sh) != NULL) us_of(sh)->ring_ok = 0;
}

static void uring_shard_free(struct shard *sh) {
    uring_shard_stop(sh);
    if (sh->io != NULL && us_of(sh)->br != NULL) munmap(us_of(sh)->br, BUFS * sizeof(struct io_uring_buf));
    if (sh->io != NULL) free(us_of(sh)->bufs);
    free(sh->io);
    sh->io = NULL;
}

static struct shard_conn *uring_conn_new(struct shard *sh) {
    struct uring_conn *uc = calloc(1, sizeof(*uc));
    if (uc == NULL) return NULL;
    uc->pend_head = uc->pend_tail = -1;
    return &uc->c;
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
