/* Unit tests of ca/csvrow: one line of a `revd import` inventory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/csvrow.h"
#include "common/reason.h"

#define T_2030 1893456000        /* 2030-01-01T00:00:00Z */
#define T_REV 1714557600         /* 2024-05-01T10:00:00Z */

/* Parses exactly len bytes copied into a buffer of that size, so that a read
 * past the end is caught under ASan. */
static int parse_n(const char *line, size_t len, struct csvrow *out, struct rerr *e) {
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, line, len);
    memset(out, 0x5a, sizeof(*out));
    e->msg[0] = '\0';
    int ok = csvrow_parse(copy, len, out, e);
    /* cdp is a view into the line: rebase it onto the caller's copy. */
    if (ok && out->cdp != NULL) {
        assert_true(out->cdp >= copy && out->cdp + out->cdp_len <= copy + len);
        out->cdp = line + (out->cdp - copy);
    }
    free(copy);
    return ok;
}

static void parse_ok(const char *line, struct csvrow *out) {
    struct rerr e;
    if (!parse_n(line, strlen(line), out, &e)) fail_msg("csvrow_parse refused '%s': %s", line, e.msg);
}

/* Refused, with a message that contains want. */
static void refused(const char *line, size_t len, const char *want) {
    struct csvrow row;
    struct rerr e;
    if (parse_n(line, len, &row, &e)) fail_msg("csvrow_parse accepted '%.*s'", (int)len, line);
    if (strstr(e.msg, want) == NULL)
        fail_msg("csvrow_parse('%.*s') said '%s'; expected it to mention '%s'", (int)len, line, e.msg, want);
}

static void refused_s(const char *line, const char *want) { refused(line, strlen(line), want); }

static void test_good(void **state) {
    struct csvrow r;
    parse_ok("01,2030-01-01T00:00:00Z,good", &r);
    assert_int_equal(r.serial_len, 1);
    assert_int_equal(r.serial[0], 0x01);
    assert_int_equal(r.not_after, T_2030);
    assert_int_equal(r.status, CSVROW_GOOD);
    assert_int_equal(r.revoked_at, 0);
    assert_int_equal(r.reason, 0);
    assert_null(r.cdp);
    assert_int_equal(r.cdp_len, 0);

    parse_ok("0x00FF,2030-01-01,GOOD", &r);
    assert_int_equal(r.serial_len, 2);
    assert_memory_equal(r.serial, ((const uint8_t[]){0x00, 0xff}), 2);
    assert_int_equal(r.not_after, T_2030);
    assert_int_equal(r.status, CSVROW_GOOD);

    parse_ok("7f:00:01,@1893456000,Good,,", &r);
    assert_int_equal(r.serial_len, 3);
    assert_memory_equal(r.serial, ((const uint8_t[]){0x7f, 0x00, 0x01}), 3);
    assert_int_equal(r.not_after, T_2030);
    assert_int_equal(r.status, CSVROW_GOOD);
    assert_null(r.cdp);

    parse_ok("02,2030-01-01,good,,,", &r);
    assert_int_equal(r.status, CSVROW_GOOD);
    assert_null(r.cdp);
}

static void test_revoked(void **state) {
    struct csvrow r;
    parse_ok("02,2030-01-01,revoked,2024-05-01T10:00:00Z,keyCompromise", &r);
    assert_int_equal(r.status, CSVROW_REVOKED);
    assert_int_equal(r.revoked_at, T_REV);
    assert_int_equal(r.reason, REASON_KEY_COMPROMISE);
    assert_null(r.cdp);

    /* No reason (or an empty one): unspecified. */
    parse_ok("03,2030-01-01,revoked,2024-05-01T10:00:00Z", &r);
    assert_int_equal(r.status, CSVROW_REVOKED);
    assert_int_equal(r.revoked_at, T_REV);
    assert_int_equal(r.reason, REASON_UNSPECIFIED);
    parse_ok("03,2030-01-01,REVOKED,2024-05-01T10:00:00Z,", &r);
    assert_int_equal(r.status, CSVROW_REVOKED);
    assert_int_equal(r.reason, REASON_UNSPECIFIED);

    /* Every reason an operator may give, by name and in any case. */
    static const struct {
        const char *name;
        int code;
    } reasons[] = {
        {"unspecified", 0},        {"keyCompromise", 1},       {"cACompromise", 2},
        {"affiliationChanged", 3}, {"superseded", 4},          {"cessationOfOperation", 5},
        {"privilegeWithdrawn", 9}, {"aACompromise", 10},       {"KEYCOMPROMISE", 1},
        {"superSEDED", 4},
    };
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        char line[128];
        snprintf(line, sizeof(line), "0a,2030-01-01,revoked,2024-05-01,%s", reasons[i].name);
        parse_ok(line, &r);
        assert_int_equal(r.status, CSVROW_REVOKED);
        assert_int_equal(r.reason, reasons[i].code);
        assert_int_equal(r.revoked_at, 1714521600);
    }
}

static void test_hold(void **state) {
    struct csvrow r;
    parse_ok("04,2030-01-01,hold,2024-05-01T10:00:00Z", &r);
    assert_int_equal(r.status, CSVROW_HOLD);
    assert_int_equal(r.reason, REASON_CERTIFICATE_HOLD);
    assert_int_equal(r.revoked_at, T_REV);

    parse_ok("04,2030-01-01,HOLD,2024-05-01T10:00:00Z,certificateHold", &r);
    assert_int_equal(r.status, CSVROW_HOLD);
    assert_int_equal(r.reason, REASON_CERTIFICATE_HOLD);

    /* revoked with certificateHold is a hold. */
    parse_ok("05,2030-01-01,revoked,2024-05-01T10:00:00Z,certificatehold", &r);
    assert_int_equal(r.status, CSVROW_HOLD);
    assert_int_equal(r.reason, REASON_CERTIFICATE_HOLD);
    assert_int_equal(r.revoked_at, T_REV);

    refused_s("06,2030-01-01,hold,2024-05-01T10:00:00Z,keyCompromise", "certificateHold");
    refused_s("06,2030-01-01,hold,2024-05-01T10:00:00Z,unspecified", "certificateHold");
    refused_s("06,2030-01-01,hold", "revocation_time");
    refused_s("06,2030-01-01,hold,,certificateHold", "revocation_time");
}

static void test_cdp(void **state) {
    struct csvrow r;
    const char *line = "07,2030-01-01,revoked,2024-05-01,superseded,http://old.example/crl/1.crl";
    parse_ok(line, &r);
    assert_int_equal(r.status, CSVROW_REVOKED);
    assert_int_equal(r.reason, REASON_SUPERSEDED);
    assert_non_null(r.cdp);
    assert_int_equal(r.cdp_len, strlen("http://old.example/crl/1.crl"));
    assert_memory_equal(r.cdp, "http://old.example/crl/1.crl", r.cdp_len);
    assert_ptr_equal(r.cdp, strstr(line, "http://"));

    parse_ok("08,2030-01-01,good,,,https://x.example/a.crl", &r);
    assert_int_equal(r.status, CSVROW_GOOD);
    assert_int_equal(r.cdp_len, strlen("https://x.example/a.crl"));
    assert_memory_equal(r.cdp, "https://x.example/a.crl", r.cdp_len);

    /* The longest CDP, 255 bytes, is accepted; 256 is not. */
    char cdp[300], buf[400];
    strcpy(cdp, "http://x.example/");
    size_t n = strlen(cdp);
    memset(cdp + n, 'c', CSVROW_MAX_CDP - n);
    cdp[CSVROW_MAX_CDP] = '\0';
    snprintf(buf, sizeof(buf), "09,2030-01-01,good,,,%s", cdp);
    parse_ok(buf, &r);
    assert_int_equal(r.cdp_len, CSVROW_MAX_CDP);
    cdp[CSVROW_MAX_CDP] = 'c';
    cdp[CSVROW_MAX_CDP + 1] = '\0';
    snprintf(buf, sizeof(buf), "09,2030-01-01,good,,,%s", cdp);
    refused_s(buf, "cdp longer than");

    refused_s("09,2030-01-01,good,,,ftp://x.example/a.crl", "http:// or https://");
    refused_s("09,2030-01-01,good,,,x.example/a.crl", "http:// or https://");
    refused_s("09,2030-01-01,good,,,http://", "http:// or https://");
    refused_s("09,2030-01-01,good,,,https://", "http:// or https://");
    refused_s("09,2030-01-01,good,,,http://a b/c.crl", "cannot hold");
    refused_s("09,2030-01-01,good,,,http://a\"b/c.crl", "cannot hold");
    refused_s("09,2030-01-01,good,,,http://a/c.crl\t", "cannot hold");
    refused_s("09,2030-01-01,good,,,http://a/\x7f.crl", "cannot hold");
    refused_s("09,2030-01-01,good,,,http://a/\xc3\xa9.crl", "cannot hold");
    static const char nul[] = "09,2030-01-01,good,,,http://a/\0.crl";
    refused(nul, sizeof(nul) - 1, "NUL");
}

static void test_refusals(void **state) {
    /* Columns. */
    refused_s("01,2030-01-01,good,,,http://a/b.crl,extra", "more than 6 columns");
    refused_s("01,2030-01-01,good,,,,", "more than 6 columns");
    refused_s("01,2030-01-01", "at least serial,not_after,status");
    refused_s("01", "at least serial,not_after,status");
    refused_s("", "at least serial,not_after,status");
    /* Serial. */
    refused_s(",2030-01-01,good", "bad serial");
    refused_s("zz,2030-01-01,good", "not a positive hex number");
    refused_s("0,2030-01-01,good", "not a positive hex number");
    refused_s("00:00,2030-01-01,good", "not a positive hex number");
    refused_s(" 01,2030-01-01,good", "not a positive hex number");
    refused_s("010000000000000000000000000000000000000000,2030-01-01,good", "not a positive hex number");
    char longserial[200];
    memset(longserial, '1', 100);
    strcpy(longserial + 100, ",2030-01-01,good");
    refused_s(longserial, "bad serial");
    /* not_after. */
    refused_s("01,2023-02-29,good", "not_after is not a time");
    refused_s("01,,good", "not_after is not a time");
    refused_s("01,2030-01-01T00:00:00,good", "not_after is not a time");
    refused_s("01,1949-12-31,good", "not_after is not a time");
    /* Status. */
    refused_s("01,2030-01-01,bogus", "status must be");
    refused_s("01,2030-01-01,", "status must be");
    refused_s("01,2030-01-01,good ", "status must be");
    refused_s("01,2030-01-01,goodx", "status must be");
    /* A good certificate has no revocation time or reason. */
    refused_s("01,2030-01-01,good,2024-05-01T10:00:00Z", "a good certificate");
    refused_s("01,2030-01-01,good,2024-05-01T10:00:00Z,keyCompromise", "a good certificate");
    refused_s("01,2030-01-01,good,,keyCompromise", "a good certificate");
    /* A revoked one needs its time. */
    refused_s("01,2030-01-01,revoked", "needs its revocation_time");
    refused_s("01,2030-01-01,revoked,", "needs its revocation_time");
    refused_s("01,2030-01-01,revoked,,keyCompromise", "needs its revocation_time");
    refused_s("01,2030-01-01,revoked,2024-13-01", "revocation_time is not a time");
    refused_s("01,2030-01-01,revoked,yesterday,keyCompromise", "revocation_time is not a time");
    /* Reasons. */
    refused_s("01,2030-01-01,revoked,2024-05-01,foo", "reason 'foo' is not one of");
    refused_s("01,2030-01-01,revoked,2024-05-01,removeFromCRL", "reason 'removeFromCRL' is not one of");
    refused_s("01,2030-01-01,revoked,2024-05-01,keyCompromise ", "is not one of");
    char longreason[200];
    strcpy(longreason, "01,2030-01-01,revoked,2024-05-01,");
    size_t n = strlen(longreason);
    memset(longreason + n, 'k', 100);
    longreason[n + 100] = '\0';
    refused_s(longreason, "unknown reason");
}

static void test_line_too_long(void **state) {
    char *line = malloc(CSVROW_MAX_LINE + 2);
    assert_non_null(line);
    /* A valid start, padded with spaces in the cdp column. */
    const char *head = "01,2030-01-01,good,,,";
    size_t hl = strlen(head);
    memcpy(line, head, hl);
    memset(line + hl, ' ', CSVROW_MAX_LINE + 1 - hl);
    line[CSVROW_MAX_LINE + 1] = '\0';
    refused(line, CSVROW_MAX_LINE + 1, "longer than 2048");
    /* At the limit the length is fine; the cdp is what is wrong. */
    struct csvrow r;
    struct rerr e;
    assert_false(parse_n(line, CSVROW_MAX_LINE, &r, &e));
    assert_null(strstr(e.msg, "longer than 2048"));
    assert_true(e.msg[0] != '\0');
    free(line);
}

/* The input is length-delimited: a NUL byte inside a field is not the end of
 * the field; the line is refused, saying why. */
static void test_embedded_nul_serial(void **state) {
    static const char serial[] = "01\0zz,2030-01-01,good";
    refused(serial, sizeof(serial) - 1, "NUL");
}

static void test_embedded_nul_reason(void **state) {
    static const char reason[] = "01,2030-01-01,revoked,2024-05-01,keyCompromise\0junk";
    refused(reason, sizeof(reason) - 1, "NUL");
}

static void test_is_header(void **state) {
    const char *h1 = "serial,not_after,status";
    const char *h2 = "Serial,Not_After,Status,revocation_time,reason,cdp";
    assert_true(csvrow_is_header(h1, strlen(h1)));
    assert_true(csvrow_is_header(h2, strlen(h2)));
    assert_true(csvrow_is_header("SERIAL", 6));
    assert_false(csvrow_is_header("serial", 5));
    assert_false(csvrow_is_header("seria", 5));
    assert_false(csvrow_is_header("01,2030-01-01,good", strlen("01,2030-01-01,good")));
    assert_false(csvrow_is_header("0xserial", 8));
    assert_false(csvrow_is_header("", 0));
    /* And the header is not a row. */
    struct csvrow r;
    struct rerr e;
    assert_false(parse_n(h1, strlen(h1), &r, &e));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_revoked),
        cmocka_unit_test(test_hold),
        cmocka_unit_test(test_cdp),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_line_too_long),
        cmocka_unit_test(test_embedded_nul_serial),
        cmocka_unit_test(test_embedded_nul_reason),
        cmocka_unit_test(test_is_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
