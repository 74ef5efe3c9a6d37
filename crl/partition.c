/* partition: a CA's CRLs listed from the partitions ca/ bound
 * (ca_crl_each_part), each with its file and HTTP path. */
#include "crl/partition.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/view.h"
#include "common/urls.h"

/* Fills ref's file and path from its URL: under the CA's base URL, the
 * path after it; an imported CDP elsewhere gets NAME/imported-K.crl. */
static void ref_paths(const char *name, const char *base_url, struct crl_ref *ref) {
    size_t bl = strlen(base_url);
    if (strncmp(ref->url, base_url, bl) == 0 && ref->url[bl] == '/' && strncmp(ref->url + bl, "/crl/", 5) == 0) {
        snprintf(ref->path, sizeof(ref->path), "%s", ref->url + bl);
        snprintf(ref->file, sizeof(ref->file), "%s", ref->url + bl + 5);
    } else {
        snprintf(ref->file, sizeof(ref->file), "%s/imported-%u.crl", name, ref->part - URLS_PART_EXTERNAL);
        snprintf(ref->path, sizeof(ref->path), "/crl/%s", ref->file);
    }
}

struct listing {
    struct crl_ref *list;
    size_t num, cap;
    const char *why; /* set when add_part stopped the walk */
};

static int add_part(void *arg, uint32_t part, const char *url, size_t url_len) {
    struct listing *l = arg;
    if (url_len >= sizeof(l->list[0].url)) { /* ca/ keeps them under URLS_MAX */
        l->why = "a partition URL too long";
        return 0;
    }
    if (l->num == l->cap) {
        struct crl_ref *l2 = realloc(l->list, 2 * l->cap * sizeof(*l2));
        if (l2 == NULL) {
            l->why = "out of memory";
            return 0;
        }
        l->list = l2;
        l->cap *= 2;
    }
    struct crl_ref *r = &l->list[l->num++];
    memset(r, 0, sizeof(*r));
    r->part = part;
    memcpy(r->url, url, url_len); /* byte for byte what the certificates carry */
    r->url[url_len] = '\0';
    return 1;
}

int crl_partition_list(struct ca_core *c, const char *name, struct crl_ref **out, size_t *n, struct rerr *e) {
    struct ca_info info;
    if (!ca_info_get(c, name, &info, e)) return 0;
    struct listing l = {calloc(16, sizeof(struct crl_ref)), 0, 16, NULL};
    if (l.list == NULL) return rerr_set(e, "out of memory");
    int ok = ca_crl_each_part(c, name, add_part, &l, e);
    if (ok && l.why != NULL) ok = rerr_set(e, "CA %s: %s", name, l.why);
    if (!ok) {
        free(l.list);
        return 0;
    }
    for (size_t i = 0; i < l.num; i++) ref_paths(info.name, info.base_url, &l.list[i]);
    *out = l.list;
    *n = l.num;
    return 1;
}
