/* Unit tests of node/tlshttp: a bad listen address is refused naming the
 * setting (the context taken even then); two servers run on one base and
 * an accept() failure (descriptors exhausted) is counted by the server
 * whose listener failed, the first started too, not by the other; each is
 * freed in either order. The caps, deadlines and the reserve are tested
 * through the admin API (tests/cli/test_admin_hostile.sh). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>

#include "node/tlshttp.h"

static const struct tlshttp_limits LIM = {8, 4, 5, 5, 16};

static void on_request(struct evhttp_request *req, void *arg) {
    (void)arg;
    evhttp_send_error(req, 404, NULL);
}

/* free_port: a port nobody listens on now on 127.0.0.1 (the kernel's
 * choice for a bind to port 0). */
static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* start: a server named key on 127.0.0.1 (a few ports tried); *out_port its port. */
static struct tlshttp *start(struct event_base *base, const char *key, int *out_port) {
    for (int i = 0; i < 5; i++) {
        char listen[32];
        struct rerr e;
        *out_port = free_port();
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", *out_port);
        struct tlshttp *t = tlshttp_start(base, key, key, "--test-listen", listen, SSL_CTX_new(TLS_server_method()),
                                          &LIM, 1024, EVHTTP_REQ_GET, on_request, NULL, &e);
        if (t != NULL) return t;
        assert_non_null(strstr(e.msg, "cannot listen")); /* the port was taken meanwhile */
    }
    fail_msg("no free port in 5 tries");
    return NULL;
}

static void test_tlshttp_bad_listen(void **state) {
    (void)state;
    struct event_base *base = event_base_new();
    struct rerr e;
    const char *bad[] = {"8443", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", ":8443", "127.0.0.1:8x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        /* The context is taken even on failure (a leak shows under ASan). */
        assert_null(tlshttp_start(base, "test", "test", "--test-listen", bad[i], SSL_CTX_new(TLS_server_method()),
                                  &LIM, 1024, EVHTTP_REQ_GET, on_request, NULL, &e));
        assert_non_null(strstr(e.msg, "--test-listen"));
        assert_non_null(strstr(e.msg, "expected ADDRESS:PORT"));
    }
    assert_null(tlshttp_ssl(NULL));
    event_base_free(base);
}

/* fill_fds opens descriptors until accept() can have none; returns how
 * many (closed by unfill_fds). The soft limit is lowered first, so that
 * this takes a few, not thousands. */
static int fill_fds(int *fds, int cap, struct rlimit *saved) {
    int top = dup(0);
    assert_true(top >= 0);
    close(top);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, saved), 0);
    struct rlimit low = *saved;
    low.rlim_cur = (rlim_t)top + 8;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    int n = 0;
    while (n < cap && (fds[n] = open("/dev/null", O_RDONLY)) >= 0) n++;
    assert_true(n < cap && errno == EMFILE);
    return n;
}

static void unfill_fds(int *fds, int n, const struct rlimit *saved) {
    for (int i = 0; i < n; i++) close(fds[i]);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, saved), 0);
}

static void run_for_ms(struct event_base *base, int ms) {
    struct timeval tv = {0, ms * 1000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

/* A client connects to one server while no descriptor is left: that
 * server's accept() fails (EMFILE) and only it counts the failure (other
 * may be NULL). Then, with descriptors back, the listener comes back from
 * its rest and takes the connection (closed by then), so that it does not
 * wait in the backlog for the next check. */
static void accept_fails_on(struct event_base *base, struct tlshttp *on, struct tlshttp *other, int port) {
    struct tlshttp_stats on0, on1, other0, other1;
    tlshttp_stats(on, &on0);
    if (other != NULL) tlshttp_stats(other, &other0);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_true(c >= 0);
    assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0); /* done by the kernel, in the backlog */
    int fds[64];
    struct rlimit saved;
    int n = fill_fds(fds, 64, &saved);
    run_for_ms(base, 250); /* the listener rests 100 ms after each failure */
    unfill_fds(fds, n, &saved);
    tlshttp_stats(on, &on1);
    if (other != NULL) tlshttp_stats(other, &other1);
    close(c);
    run_for_ms(base, 250);
    assert_true(on1.accept_failures > on0.accept_failures);
    if (other != NULL) assert_true(other1.accept_failures == other0.accept_failures);
}

static void test_tlshttp_two_servers(void **state) {
    (void)state;
    struct event_base *base = event_base_new();
    int port1, port2;
    struct tlshttp *t1 = start(base, "one", &port1);
    struct tlshttp *t2 = start(base, "two", &port2);
    tlshttp_set_limits(t1, &LIM);
    tlshttp_set_ctx(t2, SSL_CTX_new(TLS_server_method())); /* the old one freed */
    /* The first started first: a process-wide "the listener" (the last
     * started) would miss it. */
    accept_fails_on(base, t1, t2, port1);
    accept_fails_on(base, t2, t1, port2);
    tlshttp_free(t1);
    /* The other still finds its listener once the first is gone. */
    accept_fails_on(base, t2, NULL, port2);
    struct tlshttp_stats s;
    tlshttp_stats(t2, &s);
    assert_int_equal(s.open, 0);
    assert_int_equal(s.refused_total + s.refused_source + s.refused_fds + s.deadline_closed, 0);
    tlshttp_free(t2);
    tlshttp_free(NULL);
    event_base_free(base);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tlshttp_bad_listen),
        cmocka_unit_test(test_tlshttp_two_servers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
