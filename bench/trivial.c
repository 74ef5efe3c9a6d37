/* bench/trivial: the least an HTTP/1.1 server can do, to show that
 * bench/loadgen is not the limit of what it measures. One thread, epoll,
 * level-triggered; every request (a head ending in CRLF CRLF, no body) is
 * answered with the same 200 and a fixed body of --size bytes; "Connection:
 * close" in a request is answered with "Connection: close" and the socket
 * closed after the answer (one connection per request: the server closes
 * first, as nginx and revd do). No parsing beyond that: it is not a server,
 * it is a floor.
 *
 *   trivial --port P [--size BYTES]
 *
 * Loopback only. Runs until killed. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FD 65536
#define IN_CAP 16384

struct c {
    size_t len;
    char in[IN_CAP];
};

static struct c *conns[MAX_FD];
static char *resp, *resp_close; /* keep-alive; "Connection: close" */
static size_t resp_len, resp_close_len;

/* drop closes fd (which takes it out of the epoll set: it is never dup'd)
 * and keeps its buffer for the next socket of that number: a connection
 * costs no allocation after the first on each fd. */
static void drop(int fd) {
    close(fd);
    conns[fd]->len = 0;
}

/* serve answers every whole request in c->in; 0 when the socket is done. */
static int serve(int fd, struct c *c) {
    char out[IN_CAP];
    size_t out_len = 0;
    int close_after = 0;
    char *p = c->in, *end = c->in + c->len, *e;
    while (!close_after && (e = memmem(p, (size_t)(end - p), "\r\n\r\n", 4)) != NULL) {
        close_after = memmem(p, (size_t)(e - p), "Connection: close", 17) != NULL;
        const char *r = close_after ? resp_close : resp;
        size_t r_len = close_after ? resp_close_len : resp_len;
        if (out_len + r_len > sizeof(out)) {
            if (write(fd, out, out_len) != (ssize_t)out_len) return 0;
            out_len = 0;
        }
        memcpy(out + out_len, r, r_len);
        out_len += r_len;
        p = e + 4;
    }
    c->len = (size_t)(end - p);
    memmove(c->in, p, c->len);
    if (out_len > 0 && write(fd, out, out_len) != (ssize_t)out_len) return 0;
    return !close_after && c->len < IN_CAP;
}

/* make_resp returns a malloc'd 200 with `extra` header lines and a body of
 * `size` bytes, its length in *out_len; NULL when out of memory. */
static char *make_resp(long size, const char *extra, size_t *out_len) {
    char head[160];
    int hl = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\n%s\r\n", size, extra);
    char *r = malloc((size_t)hl + (size_t)size);
    if (r == NULL) return NULL;
    memcpy(r, head, (size_t)hl);
    memset(r + hl, 'x', (size_t)size);
    *out_len = (size_t)hl + (size_t)size;
    return r;
}

int main(int argc, char **argv) {
    int port = 0;
    long size = 512;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0) port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--size") == 0) size = atol(argv[i + 1]);
    }
    if (port <= 0 || port > 65535 || size < 0 || size > 8192) {
        fprintf(stderr, "usage: trivial --port P [--size BYTES (0..8192)]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    resp = make_resp(size, "", &resp_len);
    resp_close = make_resp(size, "Connection: close\r\n", &resp_close_len);
    if (resp == NULL || resp_close == NULL) return 1;

    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(ls, 4096) != 0) {
        perror("trivial: bind/listen");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0 && errno != EINTR) return 1;
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ls) {
                int s;
                while ((s = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (s >= MAX_FD || (conns[s] == NULL && (conns[s] = malloc(sizeof(struct c))) == NULL)) {
                        close(s);
                        continue;
                    }
                    conns[s]->len = 0;
                    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = s};
                    epoll_ctl(ep, EPOLL_CTL_ADD, s, &cev);
                }
                continue;
            }
            struct c *c = conns[fd];
            ssize_t r = read(fd, c->in + c->len, IN_CAP - c->len);
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (r <= 0) {
                drop(fd);
                continue;
            }
            c->len += (size_t)r;
            if (!serve(fd, c)) drop(fd);
        }
    }
}
