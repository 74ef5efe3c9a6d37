/* ctl: the Unix socket DIR/revd.sock through which the command line reaches
 * a running `revd serve` (RocksDB has one writer: the server).
 *
 * Request:  u32 length (big-endian), then JSON {"argv":[...],"cwd":"..."},
 *           at most CTL_MAX_REQUEST bytes.
 * Response: frames of u8 kind ('o' stdout, 'e' stderr, 'x' exit status in
 *           one byte), u32 length, payload; 'x' is the last.
 * The socket is mode 0600 and the server also checks the peer's uid. */
#include "node/ctl.h"
#include "node/env.h"
#include "common/jsonsafe.h"
#include "common/log.h"
#include "common/rtime.h"

#include <errno.h>
#include <fcntl.h>
#include <event2/event.h>
#include <jansson.h>
#include <limits.h>
#include <stdatomic.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ca/ca.h"

#define CTL_MAX_REQUEST (64 * 1024)
#define CTL_MAX_ARGS 64
/* A client has this long to send its whole request, and the answer may
 * wait this long in all for the client to read (bytes read do not extend
 * it): one slow or stuck client cannot hold the CA core (one command at a
 * time) for longer. */
#define CTL_READ_TIMEOUT_S 10
#define CTL_WRITE_TIMEOUT_S 30
/* accept() failed for want of descriptors or memory: the socket rests this
 * long instead of spinning on a listener that stays readable. */
#define CTL_ACCEPT_BACKOFF_MS 100

static int sock_path(const char *dir, struct sockaddr_un *sa) {
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    int n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s", dir, CTL_SOCKET_NAME);
    return n > 0 && (size_t)n < sizeof(sa->sun_path);
}

/* What the signal handlers share with the loop (a handler reaches only
 * file-level data): they set the flags (which a command in progress also
 * reads) and wake the loop through the pipe. The flags are lock-free
 * atomics, not just sig_atomic_t: the kernel may run the handler on any
 * thread (a shard's), and the main thread reads them. */
static struct {
    atomic_int stopping, hup;
    int pipe[2];
} sig = {0, 0, {-1, -1}};

static void on_signal(int signo) {
    int saved = errno;
    if (signo == SIGHUP) atomic_store(&sig.hup, 1);
    else atomic_store(&sig.stopping, signo);
    if (sig.pipe[1] >= 0) {
        ssize_t n = write(sig.pipe[1], "s", 1);
        (void)n;
    }
    errno = saved;
}

int ctl_take_hup(void) {
    if (!atomic_exchange(&sig.hup, 0)) return 0;
    return 1;
}

/* The serving side's state: one control socket per process (ctl_serve's
 * callbacks, the command runner cmd/ registers, the command in progress). */
static struct {
    ctl_runner run;
    void (*after)(void *arg, int argc, char **argv, int status);
    int (*tick)(void *arg);
    void *arg;
    double command_t0;  /* rtime_mono() when the command in progress was received */
    double write_left;  /* seconds its answer may still wait for the client to read */
} srv;

void ctl_set_runner(ctl_runner run) { srv.run = run; }

static int write_all(int fd, const void *p, size_t len) {
    const uint8_t *b = p;
    while (len > 0) {
        ssize_t n = send(fd, b, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR && !atomic_load(&sig.stopping)) continue;
        if (n <= 0) return 0;
        b += n;
        len -= (size_t)n;
    }
    return 1;
}

static int read_all(int fd, void *p, size_t len) {
    uint8_t *b = p;
    while (len > 0) {
        ssize_t n = read(fd, b, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return 0;
        b += n;
        len -= (size_t)n;
    }
    return 1;
}

/* read_by reads len bytes before the monotonic deadline. Server side. */
static int read_by(int fd, void *p, size_t len, double deadline) {
    uint8_t *b = p;
    while (len > 0) {
        double left = deadline - rtime_mono();
        if (left <= 0 || atomic_load(&sig.stopping)) return 0;
        struct pollfd pf = {fd, POLLIN, 0};
        int r = poll(&pf, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 0;
        ssize_t n = read(fd, b, len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) return 0;
        b += n;
        len -= (size_t)n;
    }
    return 1;
}

/* send_by writes len bytes, waiting for the client at most srv.write_left
 * seconds in all (what it waits is taken off). Server side. */
static int send_by(int fd, const void *p, size_t len) {
    const uint8_t *b = p;
    while (len > 0) {
        ssize_t n = send(fd, b, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            b += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR && !atomic_load(&sig.stopping)) continue;
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) || srv.write_left <= 0 || atomic_load(&sig.stopping))
            return 0;
        double t0 = rtime_mono();
        struct pollfd pf = {fd, POLLOUT, 0};
        int r = poll(&pf, 1, (int)(srv.write_left * 1000) + 1);
        srv.write_left -= rtime_mono() - t0;
        if (r < 0 && errno != EINTR) return 0;
        if (r == 0) srv.write_left = 0;
    }
    return 1;
}

static int send_frame(int fd, char kind, const void *p, size_t len) {
    uint8_t h[5] = {(uint8_t)kind, (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                    (uint8_t)len};
    return send_by(fd, h, 5) && (len == 0 || send_by(fd, p, len));
}

int ctl_forward(const char *dir, int argc, char **argv) {
    struct sockaddr_un sa;
    if (!sock_path(dir, &sa)) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    /* The request is JSON: arguments and the directory must be UTF-8, and
     * the directory absolute (the server resolves file names from it). */
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) == NULL || cwd[0] != '/' || !jsafe_valid_utf8(cwd, strlen(cwd))) {
        close(fd);
        fprintf(stderr, "revd: the current directory cannot be sent to the server on %s "
                        "(not UTF-8 or unreadable); run from another directory\n", dir);
        return 1;
    }
    json_t *args = json_array();
    for (int i = 0; i < argc; i++) {
        json_t *a = json_string(argv[i]);
        if (a == NULL) {
            json_decref(args);
            close(fd);
            fprintf(stderr, "revd: argument %d is not valid UTF-8; the server on %s takes UTF-8 only\n",
                    i + 1, dir);
            return 2;
        }
        json_array_append_new(args, a);
    }
    json_t *req = json_pack("{s:o,s:s}", "argv", args, "cwd", cwd);
    char *s = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (s == NULL) {
        close(fd);
        fprintf(stderr, "revd: out of memory\n");
        return 1;
    }
    size_t len = strlen(s);
    uint8_t h[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
    int ok = write_all(fd, h, 4) && write_all(fd, s, len);
    free(s);
    int status = -1;
    uint8_t buf[65536];
    while (ok) {
        uint8_t fh[5];
        if (!read_all(fd, fh, 5)) break;
        uint32_t n = (uint32_t)fh[1] << 24 | (uint32_t)fh[2] << 16 | (uint32_t)fh[3] << 8 | fh[4];
        if (fh[0] == 'x') {
            if (n == 1 && read_all(fd, buf, 1)) status = buf[0];
            break;
        }
        FILE *to = fh[0] == 'e' ? stderr : stdout;
        while (n > 0) {
            size_t chunk = n < sizeof(buf) ? n : sizeof(buf);
            if (!read_all(fd, buf, chunk)) {
                ok = 0;
                break;
            }
            fwrite(buf, 1, chunk, to);
            n -= (uint32_t)chunk;
        }
    }
    close(fd);
    fflush(stdout);
    if (status < 0) {
        fprintf(stderr, "revd: the server on %s/%s closed the connection before answering; "
                        "check its log\n", dir, CTL_SOCKET_NAME);
        return 1;
    }
    return status;
}

/* A FILE whose writes become frames on the socket. */
struct frame_sink {
    int fd;
    char kind;
    int broken;
};

static ssize_t sink_write(void *cookie, const char *buf, size_t size) {
    struct frame_sink *s = cookie;
    if (s->broken || !send_frame(s->fd, s->kind, buf, size)) {
        s->broken = 1;
        return -1;
    }
    return (ssize_t)size;
}


double ctl_command_started(void) { return srv.command_t0; }

static void handle(struct ca_core *core, int fd) {
    srv.command_t0 = rtime_mono();
    srv.write_left = CTL_WRITE_TIMEOUT_S;
    struct ucred cred;
    socklen_t cl = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0 ||
        (cred.uid != geteuid() && cred.uid != 0)) {
        static const char msg[] = "revd: permission denied: only the owner of DIR may use this socket\n";
        send_frame(fd, 'e', msg, sizeof(msg) - 1);
        uint8_t st = 1;
        send_frame(fd, 'x', &st, 1);
        return;
    }
    double deadline = rtime_mono() + CTL_READ_TIMEOUT_S;
    uint8_t h[4];
    if (!read_by(fd, h, 4, deadline)) return;
    uint32_t len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    if (len == 0 || len > CTL_MAX_REQUEST) return;
    char *body = malloc(len);
    if (body == NULL || !read_by(fd, body, len, deadline)) {
        free(body);
        return;
    }
    json_error_t je;
    json_t *req = json_loadb(body, len, 0, &je);
    free(body);
    json_t *args = json_object_get(req, "argv");
    const char *cwd = json_string_value(json_object_get(req, "cwd"));
    size_t n = json_array_size(args);
    struct frame_sink so = {fd, 'o', 0}, se = {fd, 'e', 0};
    cookie_io_functions_t io = {.write = sink_write};
    FILE *out = fopencookie(&so, "w", io);
    FILE *err = fopencookie(&se, "w", io);
    int status = 2;
    if (req == NULL || !json_is_array(args) || n == 0 || n > CTL_MAX_ARGS || cwd == NULL || cwd[0] != '/') {
        fprintf(err, "revd: malformed request on the control socket\n");
    } else {
        char *argv[CTL_MAX_ARGS + 1];
        int ok = 1;
        for (size_t i = 0; i < n; i++) {
            const char *a = json_string_value(json_array_get(args, i));
            if (a == NULL) ok = 0;
            argv[i] = (char *)a;
        }
        argv[n] = NULL;
        if (ok && (strcmp(argv[0], "serve") == 0 || strcmp(argv[0], "demo") == 0)) {
            fprintf(err, "revd: '%s' cannot run through a running server\n", argv[0]);
        } else if (ok && srv.run == NULL) {
            fprintf(err, "revd: this server runs no commands\n");
            status = 1;
        } else if (ok) {
            char who[96], from[48];
            env_local_user(cred.uid, who, sizeof(who));
            snprintf(from, sizeof(from), "unix pid=%ld", (long)cred.pid);
            ca_set_actor(core, who, from);
            status = srv.run(core, out, err, cwd, (int)n, argv);
            ca_set_actor(core, "revd serve", "internal");
            fflush(out);
            if (srv.after != NULL) srv.after(srv.arg, (int)n, argv, status);
        }
    }
    fclose(out);
    fclose(err);
    json_decref(req);
    uint8_t st = (uint8_t)status;
    send_frame(fd, 'x', &st, 1);
}

struct loop {
    struct event_base *base;
    struct ca_core *core;
    int fd;
    struct event *tick;
    struct event *ev_ctl, *resume;
};

static void on_resume(evutil_socket_t fd, short what, void *arg) {
    struct loop *l = arg;
    event_add(l->ev_ctl, NULL);
}

static void on_ctl(evutil_socket_t fd, short what, void *arg) {
    struct loop *l = arg;
    int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            rlog(LOG_WARN, "ctl.accept_failed", "control socket: accept failed: %s; trying again in %d ms",
                 strerror(errno), CTL_ACCEPT_BACKOFF_MS);
            struct timeval tv = {0, CTL_ACCEPT_BACKOFF_MS * 1000};
            event_del(l->ev_ctl);
            evtimer_add(l->resume, &tv);
        }
        return;
    }
    handle(l->core, c);
    close(c);
    /* Background work gets its turn between commands. */
    event_active(l->tick, EV_TIMEOUT, 0);
}

/* Background work (refresh, CRLs, reload) in slices, each asking when it
 * wants the next. */
static void on_tick(evutil_socket_t fd, short what, void *arg) {
    struct loop *l = arg;
    int wait_ms = srv.tick != NULL ? srv.tick(srv.arg) : 1000;
    if (wait_ms < 0 || wait_ms > 1000) wait_ms = 1000;
    struct timeval tv = {wait_ms / 1000, (wait_ms % 1000) * 1000};
    evtimer_add(l->tick, &tv);
}

static void on_sig_pipe(evutil_socket_t fd, short what, void *arg) {
    struct loop *l = arg;
    char buf[64];
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
    if (atomic_load(&sig.stopping)) event_base_loopbreak(l->base);
    else if (atomic_load(&sig.hup)) event_active(l->tick, EV_TIMEOUT, 0);
}

int ctl_serve(struct ca_core *core, const char *dir, FILE *err,
              void (*after)(void *arg, int argc, char **argv, int status), int (*tick)(void *arg), void *arg,
              struct event_base *base) {
    srv.after = after;
    srv.tick = tick;
    srv.arg = arg;
    struct sockaddr_un sa;
    if (!sock_path(dir, &sa)) {
        fprintf(err, "revd: %s: path too long for a Unix socket\n", dir);
        return 1;
    }
    /* A socket file left by a server that died is removed; one that answers
     * belongs to a live server. */
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        close(probe);
        fprintf(err, "revd: another revd serve already answers on %s\n", sa.sun_path);
        return 1;
    }
    if (probe >= 0) close(probe);
    unlink(sa.sun_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    mode_t old = umask(0177);
    int b = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (fd < 0 || b != 0 || chmod(sa.sun_path, 0600) != 0 || listen(fd, 64) != 0) {
        fprintf(err, "revd: %s: cannot listen: %s\n", sa.sun_path, strerror(errno));
        if (fd >= 0) close(fd);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    if (sig.pipe[0] < 0 && pipe2(sig.pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        fprintf(err, "revd: cannot make a pipe: %s\n", strerror(errno));
        close(fd);
        return 1;
    }
    struct sigaction act = {0};
    act.sa_handler = on_signal;
    sigaction(SIGTERM, &act, NULL);
    sigaction(SIGINT, &act, NULL);
    sigaction(SIGHUP, &act, NULL);
    struct loop l = {base, core, fd, NULL, NULL, NULL};
    struct event *ev_ctl = event_new(base, fd, EV_READ | EV_PERSIST, on_ctl, &l);
    l.ev_ctl = ev_ctl;
    l.tick = evtimer_new(base, on_tick, &l);
    l.resume = evtimer_new(base, on_resume, &l);
    struct event *ev_sig = event_new(base, sig.pipe[0], EV_READ | EV_PERSIST, on_sig_pipe, &l);
    if (ev_ctl == NULL || l.tick == NULL || l.resume == NULL || ev_sig == NULL || event_add(ev_ctl, NULL) != 0 ||
        event_add(ev_sig, NULL) != 0) {
        fprintf(err, "revd: cannot set up the control loop\n");
        atomic_store(&sig.stopping, -1);
    } else {
        rlog(LOG_INFO, "serve.ready", "serving %s on %s", dir, sa.sun_path);
        struct timeval first = {1, 0};
        evtimer_add(l.tick, &first);
        if (!atomic_load(&sig.stopping)) event_base_dispatch(base);
    }
    if (ev_ctl != NULL) event_free(ev_ctl);
    if (l.tick != NULL) event_free(l.tick);
    if (l.resume != NULL) event_free(l.resume);
    if (ev_sig != NULL) event_free(ev_sig);
    close(fd);
    unlink(sa.sun_path);
    if (atomic_load(&sig.stopping) < 0) return 1;
    rlog(LOG_INFO, "serve.stopped", "stopped (signal %d)", atomic_load(&sig.stopping));
    return 0;
}
