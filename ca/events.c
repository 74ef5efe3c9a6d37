/* events: what an operator watches, one JSON object per line appended to
 * DIR/events.jsonl (or the file ca_events_set_path names). State changes
 * become events when their operations-log record is durable (oplog_commit),
 * never before and never for a write that failed; what the server notices
 * (expiry, a CRL it could not publish) comes through ca_event. The audit
 * log stays the record of truth: an event carries its record's seq. */
#include "ca/events.h"
#include "common/reason.h"
#include "common/log.h"
#include "common/jsonsafe.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/rtime.h"

const char *ca_severity_label(int severity) {
    return severity <= 0 ? "info" : severity < 40 ? "low" : severity < 70 ? "medium" : severity < 90 ? "high"
                                                                                                      : "critical";
}

void ca_events_set_path(struct ca_core *c, const char *path) {
    if (c->events_fd >= 0) close(c->events_fd);
    c->events_fd = -1;
    snprintf(c->events_path, sizeof(c->events_path), "%s", path ? path : "");
}

void ca_events_path(const struct ca_core *c, char *out, size_t size) {
    if (c->events_path[0] != '\0') snprintf(out, size, "%s", c->events_path);
    else snprintf(out, size, "%s/events.jsonl", c->dir);
}

void ca_events_reopen(struct ca_core *c) {
    if (c->events_fd >= 0) close(c->events_fd);
    c->events_fd = -1;
}

static void write_line(struct ca_core *c, const char *s, size_t n) {
    if (c->events_fd < 0) {
        char def[PATH_MAX];
        const char *path = c->events_path;
        if (path[0] == '\0') {
            snprintf(def, sizeof(def), "%s/events.jsonl", c->dir);
            path = def;
        }
        /* Never through a symlink, never a file of another user's
         * (fs_open_append): the path may be outside DIR. */
        struct rerr e;
        if (!fs_open_append(path, 0600, &c->events_fd, &e)) {
            c->events_fd = -1;
            c->events_failures++;
            if (c->events_failures == 1)
                rlog(LOG_WARN, "events.write_failed", "events: %s (events are dropped; the audit log has them)",
                        e.msg);
            return;
        }
    }
    /* One write per line, O_APPEND: lines never interleave. */
    if (write(c->events_fd, s, n) != (ssize_t)n) {
        c->events_failures++;
        if (c->events_failures == 1)
            rlog(LOG_WARN, "events.write_failed", "events: cannot write: %s (events are dropped; the audit log has them)",
                    strerror(errno));
    }
}

static char *encode(const struct ca_core *c, uint64_t seq, const char *type, int severity, const char *ca,
                    const uint8_t *serial, size_t slen, json_t *details) {
    char when[21], hex[2 * (HEX_SERIAL_MAX + 1) + 1] = "";
    rtime_format(rtime_now(), when);
    if (serial != NULL && slen <= HEX_SERIAL_MAX + 1) hex_encode_serial(serial, slen, hex);
    json_t *j = json_pack("{s:s,s:s,s:i,s:s,s:o,s:s?,s:o,s:o}", "time", when, "type", type, "severity", severity,
                          "level", ca_severity_label(severity), "ca", jsafe_string(ca ? ca : ""), "serial",
                          serial ? hex : NULL, "principal", jsafe_string(c->principal[0] ? c->principal : "unknown"),
                          "details", details ? details : json_object());
    if (j != NULL && seq > 0) json_object_set_new(j, "audit_seq", json_integer((json_int_t)seq));
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (s == NULL) return NULL;
    size_t n = strlen(s);
    char *line = realloc(s, n + 2);
    if (line == NULL) {
        free(s);
        return NULL;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    return line;
}

void ca_event(struct ca_core *c, const char *type, int severity, const char *ca, const uint8_t *serial, size_t slen,
              json_t *details) {
    char *s = encode(c, 0, type, severity, ca, serial, slen, details);
    if (s != NULL) write_line(c, s, strlen(s));
    free(s);
}

/* The event an operations-log record makes, if any. */
void events_pending(struct ca_core *c, const char *op, const char *ca_name, const uint8_t *serial, size_t slen,
                    json_t *params) {
    const char *type = NULL;
    int sev = 10;
    char acme_type[64];
    json_t *d = json_object();
    const struct ca *ca = ca_name ? core_find(c, ca_name) : NULL;
    if (strcmp(op, "issue") == 0) {
        type = "cert.issued";
        const char *tpl = json_string_value(json_object_get(params, "template"));
        int root = ca != NULL && ca->depth == 1 && ca->parent[0] == '\0';
        int ca_cert = tpl != NULL && strcmp(tpl, "sub-ca") == 0;
        json_object_set_new(d, "template", json_string(tpl ? tpl : ""));
        if (root && !ca_cert) {
            sev = 80;
            json_object_set_new(d, "why", json_string("a root CA issued a certificate that is not a CA certificate"));
        }
    } else if (strcmp(op, "revoke") == 0) {
        type = "cert.revoked";
        const char *reason = json_string_value(json_object_get(params, "reason"));
        json_object_set_new(d, "reason", json_string(reason ? reason : "unspecified"));
        int code = REASON_UNSPECIFIED;
        if (reason != NULL && !reason_parse(reason, &code)) code = REASON_UNSPECIFIED;
        sev = code == REASON_KEY_COMPROMISE || code == REASON_CA_COMPROMISE ? 70 : 40;
    } else if (strcmp(op, "unhold") == 0) {
        type = "cert.released";
        sev = 30;
    } else if (strncmp(op, "ca-create", 9) == 0 || strcmp(op, "ca-import") == 0) {
        type = "ca.created";
        sev = 50;
    } else if (strcmp(op, "ca-disable") == 0) {
        type = "ca.disabled";
        sev = 60;
    } else if (strcmp(op, "ca-enable") == 0) {
        type = "ca.enabled";
        sev = 40;
    } else if (strcmp(op, "ca-delete") == 0) {
        type = "ca.deleted";
        sev = 75;
        json_t *p = json_object_get(params, "purge_at");
        if (p != NULL) json_object_set(d, "purge_at", p);
    } else if (strcmp(op, "ca-restore") == 0) {
        type = "ca.restored";
        sev = 60;
    } else if (strcmp(op, "ca-purge") == 0) {
        type = "ca.purged";
        sev = 80;
    } else if (strncmp(op, "acme-", 5) == 0 && strlen(op) < sizeof(acme_type) - 1) {
        /* The ACME server's steps (docs/acme.md): acme-order-new is
         * acme.order_new, with the record's params (no secrets). */
        snprintf(acme_type, sizeof(acme_type), "acme.%s", op + 5);
        for (char *p = acme_type + 5; *p; p++)
            if (*p == '-') *p = '_';
        type = acme_type;
        sev = strncmp(op, "acme-eab-", 9) == 0 || strcmp(op, "acme-renew-early") == 0 ? 50 : 20;
        if (json_is_object(params)) json_object_update(d, params);
    } else if (strcmp(op, "ocsp-responder") == 0) {
        type = "ocsp.signer_rotated";
        sev = 10;
        json_t *na = json_object_get(params, "not_after");
        if (na != NULL) json_object_set(d, "not_after", na);
    }
    if (type == NULL) {
        json_decref(d);
        return;
    }
    char *s = encode(c, c->oplog_seq, type, sev, ca_name, serial, slen, d);
    if (s == NULL) return;
    size_t n = strlen(s);
    char *grown = realloc(c->ev_pending, c->ev_pending_len + n + 1);
    if (grown == NULL) {
        free(s);
        return;
    }
    memcpy(grown + c->ev_pending_len, s, n + 1);
    c->ev_pending = grown;
    c->ev_pending_len += n;
    free(s);
}

void events_flush(struct ca_core *c, int durable) {
    if (durable && c->ev_pending_len > 0) {
        /* A burst (a bulk revocation) in writes of whole lines. */
        size_t off = 0;
        while (off < c->ev_pending_len) {
            size_t n = c->ev_pending_len - off;
            if (n > 1 << 20) {
                const char *nl = memchr(c->ev_pending + off + (1 << 20), '\n', n - (1 << 20));
                n = nl ? (size_t)(nl - (c->ev_pending + off)) + 1 : n;
            }
            write_line(c, c->ev_pending + off, n);
            off += n;
        }
    }
    free(c->ev_pending);
    c->ev_pending = NULL;
    c->ev_pending_len = 0;
}
