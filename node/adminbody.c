#include "node/adminbody.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"

enum ftype { F_STR, F_INT, F_BOOL, F_STRS }; /* F_STRS: an array of at most hi strings */

struct field {
    const char *name;
    enum ftype type;
    int required;
    long long lo, hi;
};

#define END {NULL, F_STR, 0, 0, 0}

static const struct field f_none[] = {END};
static const struct field f_create[] = {
    {"name", F_STR, 1, 0, 0},        {"parent", F_STR, 0, 0, 0},
    {"subject", F_STR, 1, 0, 0},     {"key", F_STR, 0, 0, 0},
    {"days", F_INT, 0, 1, 36500},    {"base_url", F_STR, 0, 0, 0},
    {"partition_size", F_INT, 0, 1, 100000000}, {"complete_crl", F_BOOL, 0, 0, 0},
    {"path_len", F_INT, 0, 0, 100},  {"key_uri", F_STR, 0, 0, 0},
    {"permit_dns", F_STRS, 0, 0, 64}, {"exclude_dns", F_STRS, 0, 0, 64},
    {"permit_ip", F_STRS, 0, 0, 64},  {"exclude_ip", F_STRS, 0, 0, 64}, END};
static const struct field f_delete[] = {{"restore_days", F_INT, 0, 7, 3650}, END};
static const struct field f_issue[] = {
    {"csr", F_STR, 1, 0, 0},          {"template", F_STR, 0, 0, 0}, {"days", F_INT, 0, 1, 36500},
    {"hours", F_INT, 0, 1, 876000},   {"san", F_STR, 0, 0, 0},      {"idempotency_key", F_STR, 0, 0, 0},
    {"path_len", F_INT, 0, 0, 100},   END};
static const struct field f_revoke[] = {{"reason", F_STR, 0, 0, 0}, {"invalidity_date", F_STR, 0, 0, 0}, END};
static const struct field f_cred[] = {
    {"name", F_STR, 1, 0, 0}, {"role", F_STR, 1, 0, 0},  {"cas", F_STR, 0, 0, 0},
    {"templates", F_STR, 0, 0, 0}, {"days", F_INT, 0, 1, 825}, {"csr", F_STR, 1, 0, 0}, END};

static const struct field f_eab[] = {
    {"ca", F_STR, 1, 0, 0}, {"templates", F_STR, 0, 0, 0}, {"allow", F_STRS, 0, 0, 64}, END};

static const struct field *const specs[AB_NUM] = {f_none, f_create, f_delete, f_issue, f_revoke, f_cred, f_eab};

int adminbody_check(enum adminbody_kind kind, json_t *body, char *why, size_t wl) {
    if ((unsigned)kind >= AB_NUM) return snprintf(why, wl, "no such call"), 0;
    if (!json_is_object(body)) return snprintf(why, wl, "the body must be a JSON object"), 0;
    const struct field *spec = specs[kind];
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        const struct field *f = spec;
        while (f->name != NULL && strcmp(f->name, key) != 0) f++;
        if (f->name == NULL) {
            char list[400] = "";
            for (const struct field *g = spec; g->name; g++) {
                if (list[0]) strncat(list, ", ", sizeof(list) - strlen(list) - 1);
                strncat(list, g->name, sizeof(list) - strlen(list) - 1);
            }
            /* The name is the client's: bytes outside printable ASCII
             * (a newline, say) are shown as \xNN. */
            char cut[65], shown[65 * 4 + 8];
            snprintf(cut, sizeof(cut), "%s", key);
            log_escape(shown, sizeof(shown), cut);
            snprintf(why, wl, "unknown field '%s' (this call takes: %s)", shown, list[0] ? list : "no fields");
            return 0;
        }
        if (json_is_null(v)) continue; /* as absent (required ones below) */
        switch (f->type) {
        case F_STR:
            if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
                return snprintf(why, wl, "field %s must be a string (without NUL)", f->name), 0;
            break;
        case F_INT:
            if (!json_is_integer(v) || json_integer_value(v) < f->lo || json_integer_value(v) > f->hi)
                return snprintf(why, wl, "field %s must be a whole number from %lld to %lld", f->name, f->lo, f->hi),
                       0;
            break;
        case F_BOOL:
            if (!json_is_boolean(v)) return snprintf(why, wl, "field %s must be true or false", f->name), 0;
            break;
        case F_STRS:
            if (!json_is_array(v) || json_array_size(v) > (size_t)f->hi)
                return snprintf(why, wl, "field %s must be an array of at most %lld strings", f->name, f->hi), 0;
            for (size_t i = 0; i < json_array_size(v); i++) {
                json_t *s = json_array_get(v, i);
                if (!json_is_string(s) || strlen(json_string_value(s)) != json_string_length(s))
                    return snprintf(why, wl, "field %s: element %zu must be a string (without NUL)", f->name, i), 0;
            }
            break;
        }
    }
    for (const struct field *f = spec; f->name; f++)
        if (f->required && (json_object_get(body, f->name) == NULL || json_is_null(json_object_get(body, f->name))))
            return snprintf(why, wl, "missing field %s", f->name), 0;
    return 1;
}

json_t *adminbody_parse(enum adminbody_kind kind, const uint8_t *p, size_t n, char *why, size_t wl) {
    if (n > ADMINBODY_MAX) return snprintf(why, wl, "the body is %zu bytes; at most %d", n, ADMINBODY_MAX), NULL;
    json_t *body;
    if (n == 0) {
        body = json_object();
    } else {
        json_error_t je;
        body = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &je);
        if (body == NULL) {
            char text[sizeof(je.text) * 4 + 8]; /* jansson quotes the client's bytes */
            log_escape(text, sizeof(text), je.text);
            snprintf(why, wl, "the body is not JSON: line %d, column %d: %s", je.line, je.column, text);
            return NULL;
        }
    }
    if (!adminbody_check(kind, body, why, wl)) {
        json_decref(body);
        return NULL;
    }
    return body;
}
