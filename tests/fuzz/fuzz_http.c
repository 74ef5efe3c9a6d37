/* libFuzzer target: HTTP/1.x request framing (shard/http). The input is
 * what a client sent on one connection. Requests are parsed one after
 * another as a shard does (drop `consumed`, parse the rest) until one is
 * incomplete or refused. Nothing may be read past len, and each answer must
 * be self-consistent:
 *   - DONE: 0 < consumed <= len, within HTTP_MAX_REQUEST; every view
 *     inside the request's bytes (the target may be the static "/" of an
 *     absolute-form target without a path); the target a path, printable,
 *     within HTTP_MAX_TARGET; the optional views free of line ends and of
 *     whitespace at their ends; the body the last body_len bytes of the
 *     request, NULL exactly when empty, within HTTP_MAX_BODY, or a chunked
 *     body the last chunked_len bytes, which http_chunked_decode turns into
 *     at most HTTP_MAX_BODY bytes, fewer than chunked_len; the head within
 *     HTTP_MAX_HEAD;
 *   - ERROR: one of the statuses http.h lists;
 *   - AGAIN: only while fewer than HTTP_MAX_REQUEST bytes are there (beyond
 *     that a request is complete or refused);
 *   - prefixes (each in an exact-size heap copy, so ASan sees an over-read):
 *     every prefix gives AGAIN or exactly the whole input's answer, and once
 *     a prefix has an answer every longer one has the same; a DONE is DONE
 *     from `consumed` bytes on and AGAIN before. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shard/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Pipelined requests whose prefixes are all checked: the later ones get
 * only the structural checks, to keep long pipelines fast. */
#define PREFIX_CHECKED_REQUESTS 4

/* Whether v[0..n) lies inside p[0..len). */
static int is_inside(const void *v, size_t n, const uint8_t *p, size_t len) {
    const uint8_t *q = v;
    return !(q < p || q > p + len || n > (size_t)(p + len - q));
}

static enum http_result parse_exact(const uint8_t *p, size_t len, struct http_request *out) {
    uint8_t *copy = malloc(len ? len : 1);
    if (copy == NULL) abort();
    if (len > 0) memcpy(copy, p, len);
    enum http_result res = http_parse(copy, len, out);
    /* Views onto p, so that they compare with the parse of p itself. */
    if (res == HTTP_DONE) {
#define MOVE(f) \
    if (out->f != NULL) out->f = (const void *)(p + ((const uint8_t *)(const void *)out->f - copy))
        if (is_inside(out->target, out->target_len, copy, len)) MOVE(target);
        MOVE(host);
        MOVE(content_type);
        MOVE(if_none_match);
        MOVE(if_modified_since);
        MOVE(body);
        MOVE(chunked);
#undef MOVE
    }
    free(copy);
    return res;
}

static void inside(const void *v, size_t n, const uint8_t *p, size_t len) {
    if (!is_inside(v, n, p, len)) abort();
}

/* An optional view: absent (NULL, 0) or inside, without CR, LF or other
 * controls but HTAB, and without whitespace at either end. */
static void check_view(const char *v, size_t n, const uint8_t *p, size_t len) {
    if (v == NULL) {
        if (n != 0) abort();
        return;
    }
    inside(v, n, p, len);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)v[i];
        if (c == 0x7f || (c < 0x20 && c != '\t')) abort();
    }
    if (n > 0 && (v[0] == ' ' || v[0] == '\t' || v[n - 1] == ' ' || v[n - 1] == '\t')) abort();
}

static void check_one(const uint8_t *p, size_t len, enum http_result res, const struct http_request *r) {
    switch (res) {
    case HTTP_AGAIN:
        if (len >= HTTP_MAX_REQUEST) abort();
        break;
    case HTTP_ERROR:
        switch (r->error_status) {
        case 400: case 411: case 413: case 414: case 431: case 501: case 505:
            break;
        default:
            abort();
        }
        break;
    case HTTP_DONE: {
        if (r->error_status != 0) abort();
        if (r->consumed == 0 || r->consumed > len || r->consumed > HTTP_MAX_REQUEST) abort();
        size_t c = r->consumed;
        if (r->method != HTTP_METHOD_GET && r->method != HTTP_METHOD_HEAD && r->method != HTTP_METHOD_POST &&
            r->method != HTTP_METHOD_OTHER && r->method != HTTP_METHOD_UNKNOWN)
            abort();
        if (r->target == NULL || r->target_len == 0 || r->target_len > HTTP_MAX_TARGET) abort();
        /* Outside only as the static "/" of an absolute-form target. */
        if (!is_inside(r->target, r->target_len, p, c) && (r->target_len != 1 || r->target[0] != '/')) abort();
        check_view(r->host, r->host_len, p, c);
        if (r->expect_continue != 0 && r->expect_continue != 1) abort();
        if (r->target[0] != '/') abort();
        for (size_t i = 0; i < r->target_len; i++)
            if ((uint8_t)r->target[i] < 0x21 || (uint8_t)r->target[i] > 0x7e) abort();
        if (r->minor_version != 0 && r->minor_version != 1) abort();
        if (r->keep_alive != 0 && r->keep_alive != 1) abort();
        check_view(r->content_type, r->content_type_len, p, c);
        check_view(r->if_none_match, r->if_none_match_len, p, c);
        check_view(r->if_modified_since, r->if_modified_since_len, p, c);
        if ((r->body == NULL) != (r->body_len == 0)) abort();
        if (r->body_len > HTTP_MAX_BODY || r->body_len >= c) abort();
        if (r->body != NULL && r->body != p + c - r->body_len) abort();
        if (c - r->body_len > HTTP_MAX_HEAD || r->head_len > HTTP_MAX_HEAD) abort();
        if (r->chunked != NULL) {
            if (r->body != NULL || r->chunked_len == 0 || r->chunked != p + c - r->chunked_len) abort();
            if (r->head_len + r->chunked_len != c) abort();
            uint8_t *copy = malloc(r->chunked_len);
            if (copy == NULL) abort();
            memcpy(copy, r->chunked, r->chunked_len);
            size_t n = http_chunked_decode(copy, r->chunked_len, copy); /* in place, as a shard does */
            if (n > HTTP_MAX_BODY || n >= r->chunked_len) abort();
            free(copy);
        } else if (r->chunked_len != 0 || r->head_len + r->body_len != c) {
            abort();
        }
        break;
    }
    default:
        abort();
    }
}

static int same(enum http_result ra, const struct http_request *a, enum http_result rb,
                const struct http_request *b) {
    if (ra != rb) return 0;
    if (ra == HTTP_ERROR) return a->error_status == b->error_status;
    if (ra == HTTP_AGAIN) return 1;
    return a->method == b->method && a->target == b->target && a->target_len == b->target_len &&
           a->minor_version == b->minor_version && a->keep_alive == b->keep_alive &&
           a->content_type == b->content_type && a->content_type_len == b->content_type_len &&
           a->if_none_match == b->if_none_match && a->if_none_match_len == b->if_none_match_len &&
           a->if_modified_since == b->if_modified_since && a->if_modified_since_len == b->if_modified_since_len &&
           a->body == b->body && a->body_len == b->body_len && a->consumed == b->consumed &&
           a->host == b->host && a->host_len == b->host_len && a->expect_continue == b->expect_continue &&
           a->chunked == b->chunked && a->chunked_len == b->chunked_len && a->head_len == b->head_len;
}

/* Whether the prefix of k bytes (of len) is checked: all of them for short
 * inputs; for long ones the first bytes, those around the answer and the
 * caps, and a sample in between. */
static int checked_prefix(size_t k, size_t len, size_t consumed) {
    if (len <= 1024 || k < 512) return 1;
    if (consumed > 0 && k + 2 >= consumed && k <= consumed + 1) return 1;
    if (k + 2 >= HTTP_MAX_REQUEST && k <= HTTP_MAX_REQUEST + 1) return 1;
    if (k + 2 >= len) return 1;
    return k % 61 == 0;
}

static void check_prefixes(const uint8_t *p, size_t len, enum http_result res, const struct http_request *whole) {
    int decided = 0;
    size_t consumed = res == HTTP_DONE ? whole->consumed : 0;
    for (size_t k = 0; k < len; k++) {
        if (!checked_prefix(k, len, consumed)) continue;
        struct http_request r;
        enum http_result rk = parse_exact(p, k, &r);
        check_one(p, k, rk, &r);
        if (rk == HTTP_AGAIN) {
            if (decided) abort(); /* an answer, then AGAIN with more bytes */
            if (res == HTTP_DONE && k >= consumed) abort();
            continue;
        }
        /* A DONE on a prefix is DONE with the same consumed on the whole;
         * an ERROR on a prefix is the same ERROR on the whole. */
        if (!same(rk, &r, res, whole)) abort();
        if (res == HTTP_DONE && k < consumed) abort();
        decided = 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *p = data;
    size_t left = size;
    for (int n = 0;; n++) {
        struct http_request r;
        memset(&r, 0xa5, sizeof(r));
        enum http_result res = http_parse(p, left, &r);
        check_one(p, left, res, &r);
        /* Deterministic, and the same from an exact-size copy. */
        struct http_request again;
        if (!same(parse_exact(p, left, &again), &again, res, &r)) abort();
        if (n < PREFIX_CHECKED_REQUESTS) check_prefixes(p, left, res, &r);
        if (res != HTTP_DONE) break;
        p += r.consumed;
        left -= r.consumed;
    }
    return 0;
}
