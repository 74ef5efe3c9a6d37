/* changes: what changed in what is published (ca/changes.h). */
#include "ca/changes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"

/* Past this many changes a full re-publication is cheaper. Above the
 * 200,000 of one `revd revoke --file`: a mass revocation re-signs only
 * what it revoked instead of reloading every table. */
#define CHANGES_MAX 262144

void changes_note(struct ca_core *c, const struct ca *ca, const uint8_t *serial, size_t slen) {
    if (c->changes_full) return;
    if (c->num_changes >= CHANGES_MAX || slen > HEX_SERIAL_MAX + 1) {
        changes_all(c);
        return;
    }
    if (c->num_changes == c->cap_changes) {
        size_t cap = c->cap_changes ? c->cap_changes * 2 : 16;
        struct ca_change *n = realloc(c->changes, cap * sizeof(*n));
        if (n == NULL) {
            changes_all(c);
            return;
        }
        c->changes = n;
        c->cap_changes = cap;
    }
    struct ca_change *ch = &c->changes[c->num_changes++];
    snprintf(ch->ca, sizeof(ch->ca), "%s", ca->name);
    memcpy(ch->serial, serial, slen);
    ch->serial_len = slen;
}

void changes_all(struct ca_core *c) {
    c->changes_full = 1;
    c->num_changes = 0;
}

int ca_take_changes(struct ca_core *c, struct ca_change **out, size_t *num) {
    int full = c->changes_full;
    *out = full ? NULL : c->changes;
    *num = full ? 0 : c->num_changes;
    if (full) free(c->changes);
    c->changes = NULL;
    c->num_changes = c->cap_changes = 0;
    c->changes_full = 0;
    return full;
}

