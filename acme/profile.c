/* profile: the ACME profiles (acme/profile.h). */
#include "acme/profile.h"

#include <stdio.h>
#include <string.h>

#define LIST_MAX 8

static const struct acme_profile profiles[] = {
    {"server", "a TLS server certificate (serverAuth), with CRL and OCSP pointers", 0},
    {"end-entity", "a TLS server and client certificate (serverAuth, clientAuth), with CRL and OCSP pointers", 0},
    {"client", "a TLS client certificate (clientAuth), with CRL and OCSP pointers", 0},
    {"short-lived", "a TLS server certificate of at most 7 days, without CRL or OCSP pointers and in no CRL "
                    "(revocation is its expiry)", 7},
};

#define NPROFILES (sizeof(profiles) / sizeof(profiles[0]))

const struct acme_profile *acme_profile_find(const char *name) {
    for (size_t i = 0; name != NULL && i < NPROFILES; i++)
        if (strcmp(profiles[i].name, name) == 0) return &profiles[i];
    return NULL;
}

json_t *acme_profiles_json(void) {
    json_t *o = json_object();
    for (size_t i = 0; i < NPROFILES; i++) json_object_set_new(o, profiles[i].name, json_string(profiles[i].desc));
    return o;
}

int acme_profiles_parse(const char *list, json_t **out, struct rerr *e) {
    char buf[256];
    if (list == NULL || strlen(list) >= sizeof(buf)) return rerr_set(e, "a list of ACME profiles is expected");
    snprintf(buf, sizeof(buf), "%s", list);
    json_t *a = json_array();
    char *save = NULL;
    for (char *name = strtok_r(buf, ",", &save); name != NULL; name = strtok_r(NULL, ",", &save)) {
        int dup = 0;
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v) dup |= strcmp(json_string_value(v), name) == 0;
        if (acme_profile_find(name) == NULL || dup || json_array_size(a) == LIST_MAX) {
            json_decref(a);
            return rerr_set(e, "'%.40s': the ACME profiles are server, end-entity, client and short-lived (each once)",
                            name);
        }
        json_array_append_new(a, json_string(name));
    }
    if (json_array_size(a) == 0) {
        json_decref(a);
        return rerr_set(e, "a list of ACME profiles is expected");
    }
    *out = a;
    return 1;
}
