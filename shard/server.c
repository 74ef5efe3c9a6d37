/* server: start, publish, stop (shard/server.h). */
#include "shard/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "shard/backend.h"
#include "shard/conn.h"

static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len) {
    char host[128];
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s || (size_t)(colon - s) >= sizeof(host)) return 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 1 || port > 65535) return 0;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    memset(ss, 0, sizeof(*ss));
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        host[strlen(host) - 1] = '\0';
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        *len = sizeof(*a);
        return inet_pton(AF_INET6, host + 1, &a->sin6_addr) == 1;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    *len = sizeof(*a);
    return inet_pton(AF_INET, host, &a->sin_addr) == 1;
}

static int listen_socket(const struct sockaddr_storage *ss, socklen_t len, struct rerr *e, const char *what) {
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        /* Linux gives accepted connections the listener's TCP_NODELAY: one
         * system call here instead of one per connection. */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
        bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, 1024) != 0) {
        rerr_set(e, "--listen %s: %s", what, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

static void free_shards(struct server *s) {
    for (int i = 0; i < s->num_shards; i++) {
        struct shard *sh = &s->shards[i];
        /* The loop first: it cancels what is in flight on the connections'
         * buffers. */
        s->be->shard_stop(sh);
        while (sh->all_conns != NULL) {
            struct shard_conn *c = sh->all_conns;
            sh->all_conns = c->next_all;
            if (c->fd >= 0) close(c->fd);
            conn_drop_ext(c);
            s->be->conn_free(c);
        }
        s->be->shard_free(sh);
        if (sh->wake_fd >= 0) close(sh->wake_fd);
        if (sh->listen_fd >= 0) close(sh->listen_fd);
    }
    free(s->shards);
}

static void free_init(const struct server_slot init[SERVER_SLOTS]) {
    for (int i = 0; i < SERVER_SLOTS; i++)
        if (init[i].free_fn != NULL && init[i].p != NULL) init[i].free_fn(init[i].p);
}

/* What the slots hold now (server_stop, a failed start). */
static void free_slots(struct server *s) {
    for (int i = 0; i < SERVER_SLOTS; i++) {
        void *p = atomic_load(&s->slots[i]);
        if (s->slot_free[i] != NULL && p != NULL) s->slot_free[i](p);
    }
}

int server_route_add(struct server_config *cfg, const struct shard_route *rt) {
    if (cfg->num_routes >= SERVER_MAX_ROUTES) return 0;
    cfg->routes[cfg->num_routes++] = *rt;
    return 1;
}

/* The routes' lengths, and which wake hooks run (each distinct hook and
 * argument once: the routes of one handler share them). */
static void index_routes(struct server *s) {
    for (size_t i = 0; i < s->cfg.num_routes; i++) {
        const struct shard_route *rt = &s->cfg.routes[i];
        s->path_len[i] = strlen(rt->path);
        s->suffix_len[i] = rt->suffix != NULL ? strlen(rt->suffix) : 0;
        if (rt->wake == NULL) continue;
        int seen = 0;
        for (int k = 0; k < s->num_wakes && !seen; k++) {
            const struct shard_route *o = &s->cfg.routes[s->wakes[k]];
            seen = o->wake == rt->wake && o->arg == rt->arg && o->ctx_of == rt->ctx_of;
        }
        if (!seen) s->wakes[s->num_wakes++] = (int)i;
    }
}

/* Each route's context for shard sh: 1, or 0 with e set. */
static int shard_contexts(struct server *s, struct shard *sh, struct rerr *e) {
    for (size_t i = 0; i < s->cfg.num_routes; i++) {
        const struct shard_route *rt = &s->cfg.routes[i];
        sh->ctx[i] = rt->ctx_of != NULL ? rt->ctx_of(rt->arg, s, sh->index) : rt->arg;
        if (sh->ctx[i] == NULL) return rerr_set(e, "the handler of %s has no context for shard %d", rt->path, sh->index);
    }
    return 1;
}

/* Each shard's listener, wake eventfd, route contexts and loop: 1, or 0
 * with e set (free_shards undoes what was done). */
static int setup_shards(struct server *s, const struct sockaddr_storage *ss, socklen_t sl, struct rerr *e) {
    int ok = 1;
    for (int i = 0; i < s->num_shards; i++) {
        struct shard *sh = &s->shards[i];
        sh->srv = s;
        sh->index = i;
        sh->listen_fd = -1;
        sh->wake_fd = -1;
    }
    for (int i = 0; i < s->num_shards && ok; i++) {
        struct shard *sh = &s->shards[i];
        sh->listen_fd = listen_socket(ss, sl, e, s->cfg.listen);
        if (sh->listen_fd < 0) {
            ok = 0;
            break;
        }
        /* io_uring reads it (a non-blocking eventfd may complete a read with
         * -EAGAIN on some kernels); libevent reads it when readable. */
        sh->wake_fd = eventfd(0, EFD_CLOEXEC | (s->be->wake_nonblock ? EFD_NONBLOCK : 0));
        if (sh->wake_fd < 0) {
            rerr_set(e, "cannot set up a shard: %s", strerror(errno));
            ok = 0;
            break;
        }
        ok = shard_contexts(s, sh, e) && s->be->shard_init(sh, e);
    }
    return ok;
}

/* start_shard starts sh's thread, named revd-shard-N (top -H, and
 * node/cpus.c tells the shards by it) and, when the config names shard
 * cores, pinned to its own from its first instruction. */
static void start_shard(struct server *s, struct shard *sh, const struct server_config *cfg) {
    pthread_attr_t attr;
    int pinned = cfg->num_shard_cpus > 0 && cfg->shard_cpus != NULL && pthread_attr_init(&attr) == 0;
    if (pinned) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cfg->shard_cpus[sh->index % cfg->num_shard_cpus], &set);
        pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
    }
    int rc = pthread_create(&sh->thread, pinned ? &attr : NULL, s->be->shard_main, sh);
    if (pinned) pthread_attr_destroy(&attr);
    if (rc != 0) shard_fatal(sh, "cannot start its thread", rc);
    char name[16];
    snprintf(name, sizeof(name), "revd-shard-%d", sh->index);
    pthread_setname_np(sh->thread, name);
}

struct server *server_start(const struct server_config *cfg, const struct server_slot init[SERVER_SLOTS],
                            struct rerr *e) {
    struct sockaddr_storage ss;
    socklen_t sl;
    if (!parse_listen(cfg->listen, &ss, &sl)) {
        rerr_set(e, "--listen '%s': expected ADDRESS:PORT (127.0.0.1:8080, [::1]:8080)", cfg->listen);
        free_init(init);
        return NULL;
    }
    struct server *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        rerr_set(e, "out of memory");
        free_init(init);
        return NULL;
    }
    s->cfg = *cfg;
    s->cfg.shard_cpus = NULL; /* the caller's: read at start only */
    index_routes(s);
    struct rlimit rl;
    s->fd_line = LONG_MAX;
    if (cfg->fd_reserve > 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)LONG_MAX)
        s->fd_line = (long)rl.rlim_cur - cfg->fd_reserve;
    if (s->cfg.num_metrics_allow == 0) { /* loopback only */
        size_t n;
        char why[128];
        if (!cidr_parse_list("127.0.0.0/8,::1", s->cfg.metrics_allow, CIDR_LIST_MAX, &n, why, sizeof(why))) abort();
        s->cfg.num_metrics_allow = n;
    }
    server_set_live(s, cfg);
    if (!server_uring_off_parse(cfg->uring_off, &s->uring_off, e)) {
        free(s);
        free_init(init);
        return NULL;
    }
    const char *why = NULL;
    int uring = cfg->io != SERVER_IO_LIBEVENT && shard_backend_uring.probe(&why);
    if (!uring && cfg->io == SERVER_IO_URING) {
        rerr_set(e, "--io uring: io_uring is unavailable here (%s)", why);
        free(s);
        free_init(init);
        return NULL;
    }
    if (!uring && cfg->io == SERVER_IO_AUTO)
        rlog(LOG_WARN, "shard.no_io_uring", "io_uring is unavailable here (%s): the shards run on libevent", why);
    s->be = uring ? &shard_backend_uring : &shard_backend_ev;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    s->num_shards = cfg->threads > 0 ? cfg->threads : (int)(cores > 0 ? cores : 1);
    s->shards = calloc((size_t)s->num_shards, sizeof(struct shard));
    if (s->shards == NULL) {
        rerr_set(e, "out of memory");
        free(s);
        free_init(init);
        return NULL;
    }
    for (int i = 0; i < SERVER_SLOTS; i++) {
        atomic_store(&s->slots[i], init[i].p);
        s->slot_free[i] = init[i].free_fn;
    }
    int ok = setup_shards(s, &ss, sl, e);
    if (!ok) {
        free_shards(s);
        free_slots(s);
        free(s);
        return NULL;
    }
    for (int i = 0; i < s->num_shards; i++) start_shard(s, &s->shards[i], cfg);
    return s;
}

static const struct {
    const char *name;
    unsigned bit;
} uring_features[] = {{"defer-taskrun", SERVER_URING_DEFER_TASKRUN},
                      {"recv-multishot", SERVER_URING_RECV_MULTISHOT},
                      {"accept-multishot", SERVER_URING_ACCEPT_MULTISHOT},
                      {"poll-first", SERVER_URING_POLL_FIRST},
                      {"linked-close", SERVER_URING_LINKED_CLOSE}};

int server_uring_off_parse(const char *list, unsigned *out, struct rerr *e) {
    *out = 0;
    for (const char *p = list; p != NULL && *p != '\0';) {
        size_t n = strcspn(p, ",");
        int found = (n == 3 && memcmp(p, "all", 3) == 0) || (n == 4 && memcmp(p, "none", 4) == 0);
        if (found && n == 3) *out = ~0u;
        for (size_t i = 0; !found && i < sizeof(uring_features) / sizeof(uring_features[0]); i++)
            if (strlen(uring_features[i].name) == n && memcmp(p, uring_features[i].name, n) == 0) {
                *out |= uring_features[i].bit;
                found = 1;
            }
        if (!found)
            return rerr_set(e, "unknown io_uring feature \"%.*s\" (known: defer-taskrun, recv-multishot, "
                               "accept-multishot, poll-first, linked-close, all, none)", (int)(n < 64 ? n : 64), p);
        p += n;
        if (*p == ',') p++;
    }
    return 1;
}

const char *server_io_name(const struct server *s) { return s->be->name; }

void server_publish(struct server *s, int slot, void *p, void (*free_fn)(void *p)) {
    void *old = atomic_exchange_explicit(&s->slots[slot], p, memory_order_acq_rel);
    void (*old_free)(void *p) = s->slot_free[slot];
    s->slot_free[slot] = free_fn;
    if (old == NULL || old_free == NULL) return;
    struct retired *r = malloc(sizeof(*r) + (size_t)s->num_shards * sizeof(uint64_t));
    if (r == NULL) {
        /* Out of memory: wait out the shards here instead. */
        uint64_t seen[1];
        for (int i = 0; i < s->num_shards; i++) {
            seen[0] = atomic_load(&s->shards[i].ticks);
            while (atomic_load(&s->shards[i].ticks) < seen[0] + 2 && !atomic_load(&s->stopping)) {
                struct timespec ts = {0, 5 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
        }
        old_free(old);
        return;
    }
    r->p = old;
    r->free_fn = old_free;
    for (int i = 0; i < s->num_shards; i++) r->seen[i] = atomic_load(&s->shards[i].ticks);
    r->next = s->retired;
    s->retired = r;
    server_reclaim(s);
}

int server_reclaim(struct server *s) {
    int left = 0;
    for (struct retired **p = &s->retired; *p != NULL;) {
        struct retired *r = *p;
        /* Each shard ticks between callbacks: once every shard has ticked
         * twice after the swap, none is inside a callback that loaded the
         * old pointer. */
        int done = 1;
        for (int i = 0; i < s->num_shards && done; i++)
            done = atomic_load_explicit(&s->shards[i].ticks, memory_order_acquire) >= r->seen[i] + 2;
        if (!done) {
            left++;
            p = &r->next;
            continue;
        }
        *p = r->next;
        r->free_fn(r->p);
        free(r);
    }
    return left;
}

void server_wake(struct server *s, int shard) {
    uint64_t one = 1;
    ssize_t n = write(s->shards[shard].wake_fd, &one, sizeof(one));
    (void)n;
}

void server_stats(const struct server *s, struct server_stats *out) {
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < s->num_shards; i++) {
        const struct shard *sh = &s->shards[i];
        out->requests += atomic_load_explicit(&sh->requests, memory_order_relaxed);
        out->bad_requests += atomic_load_explicit(&sh->bad_requests, memory_order_relaxed);
        out->refused_conns += atomic_load_explicit(&sh->refused_conns, memory_order_relaxed);
    }
}

struct metrics_core *server_core_metrics(struct server *s) { return &s->core_metrics; }

void server_set_live(struct server *s, const struct server_config *cfg) {
    atomic_store_explicit(&s->live_max_age, cfg->max_age < 0 ? 3600 : cfg->max_age, memory_order_relaxed);
    atomic_store_explicit(&s->live_idle_timeout, cfg->idle_timeout > 0 ? cfg->idle_timeout : SERVER_IDLE_TIMEOUT_S,
                          memory_order_relaxed);
    atomic_store_explicit(&s->live_read_timeout, cfg->read_timeout > 0 ? cfg->read_timeout : SERVER_READ_TIMEOUT_S,
                          memory_order_relaxed);
    atomic_store_explicit(&s->live_no_metrics, cfg->no_metrics, memory_order_relaxed);
}

int server_drain(struct server *s, int timeout_ms) {
    atomic_store_explicit(&s->draining, 1, memory_order_release);
    for (int waited = 0;; waited += 20) {
        uint64_t open = 0;
        for (int i = 0; i < s->num_shards; i++)
            open += atomic_load_explicit(&s->shards[i].m.conns_open, memory_order_relaxed);
        if (open == 0 || waited >= timeout_ms) return (int)open;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

void server_stop(struct server *s) {
    if (s == NULL) return;
    atomic_store(&s->stopping, 1);
    /* Wake every loop now rather than at its next tick: a libevent loop
     * sleeps on a timer whose clock can jump (a clock stepped back under
     * libfaketime left one asleep for a day). */
    for (int i = 0; i < s->num_shards; i++) {
        uint64_t one = 1;
        ssize_t n = write(s->shards[i].wake_fd, &one, sizeof(one));
        (void)n;
    }
    for (int i = 0; i < s->num_shards; i++) pthread_join(s->shards[i].thread, NULL);
    free_shards(s); /* closes the connections still open */
    while (s->retired != NULL) {
        struct retired *r = s->retired;
        s->retired = r->next;
        r->free_fn(r->p);
        free(r);
    }
    free_slots(s);
    free(s);
}

void server_set_health(struct server *s, const char *why) {
    atomic_store_explicit(&s->unhealthy, why, memory_order_release);
}
