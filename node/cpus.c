/* cpus: the placement of the serving process's threads (node/cpus.h). */
#include "node/cpus.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>

/* read_num reads a decimal core number at *p (no sign, no blank), below
 * CPUS_MAX. 1, or 0. */
static int read_num(const char **p, int *out) {
    const char *s = *p;
    long n = 0;
    if (*s < '0' || *s > '9') return 0;
    while (*s >= '0' && *s <= '9') {
        n = n * 10 + (*s - '0');
        if (n >= CPUS_MAX) return 0;
        s++;
    }
    *out = (int)n;
    *p = s;
    return 1;
}

int cpus_check(const char *v, cpu_set_t *out, char *why, size_t wl) {
    cpu_set_t set;
    CPU_ZERO(&set);
    const char *p = v;
    for (;;) {
        int a, b;
        const char *item = p;
        if (!read_num(&p, &a)) goto bad;
        b = a;
        if (*p == '-') {
            p++;
            if (!read_num(&p, &b) || b < a) goto bad;
        }
        for (int c = a; c <= b; c++) CPU_SET(c, &set);
        if (*p == '\0') break;
        if (*p != ',') goto bad;
        p++;
        continue;
    bad:
        snprintf(why, wl, "must be a list of cores, as 0-3,6 (cores 0 to %d; a range low-high), at '%.20s'",
                 CPUS_MAX - 1, item);
        return 0;
    }
    if (out != NULL) *out = set;
    return 1;
}

/* fmt_set writes set as a list ("0-3,6"); "none" when empty. */
static void fmt_set(const cpu_set_t *set, char *out, size_t cap) {
    size_t len = 0;
    out[0] = '\0';
    for (int c = 0; c < CPUS_MAX && len < cap; c++) {
        if (!CPU_ISSET(c, set)) continue;
        int d = c;
        while (d + 1 < CPUS_MAX && CPU_ISSET(d + 1, set)) d++;
        len += (size_t)(d == c ? snprintf(out + len, cap - len, "%s%d", len ? "," : "", c)
                               : snprintf(out + len, cap - len, "%s%d-%d", len ? "," : "", c, d));
        c = d;
    }
    if (out[0] == '\0') snprintf(out, cap, "none");
}

/* listed parses spec (a list) of setting name into *out, every core of it
 * among allowed. 1, or 0 with e set. */
static int listed(const char *name, const char *spec, const cpu_set_t *allowed, cpu_set_t *out, struct rerr *e) {
    char why[160], have[256];
    if (!cpus_check(spec, out, why, sizeof(why))) return rerr_set(e, "--%s '%s': %s", name, spec, why);
    for (int c = 0; c < CPUS_MAX; c++) {
        if (!CPU_ISSET(c, out) || CPU_ISSET(c, allowed)) continue;
        fmt_set(allowed, have, sizeof(have));
        return rerr_set(e, "--%s '%s': core %d is not one this process may use (it may use cores %s: see "
                        "nproc, taskset -p, the cgroup's cpuset)", name, spec, c, have);
    }
    return 1;
}

/* auto_shards: shard-cpus auto over allowed (num of them) for threads
 * shards (0: the default): one core left to the rest when there are two or
 * more and threads does not ask for them all; threads below num, the
 * lowest threads cores. */
static void auto_shards(const cpu_set_t *allowed, int num, int threads, cpu_set_t *out) {
    int want = threads > 0 && threads < num ? threads : threads == 0 && num >= 2 ? num - 1 : num;
    CPU_ZERO(out);
    for (int c = 0, n = 0; c < CPUS_MAX && n < want; c++)
        if (CPU_ISSET(c, allowed)) CPU_SET(c, out), n++;
}

int cpus_plan_make(const char *shard_spec, const char *work_spec, int threads, struct cpus_plan *out,
                   struct rerr *e) {
    cpu_set_t allowed, shard;
    memset(out, 0, sizeof(*out));
    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
        return rerr_set(e, "cannot read the cores this process may use: %s", strerror(errno));
    out->num_allowed = CPU_COUNT(&allowed);
    if (strcmp(shard_spec, "off") == 0) {
        out->off = 1;
        return 1;
    }
    if (strcmp(shard_spec, "auto") == 0) {
        auto_shards(&allowed, out->num_allowed, threads, &shard);
    } else if (!listed("shard-cpus", shard_spec, &allowed, &shard, e)) {
        return 0;
    }
    for (int c = 0; c < CPUS_MAX; c++)
        if (CPU_ISSET(c, &shard)) out->shard[out->num_shard++] = c;
    if (strcmp(work_spec, "auto") == 0) {
        CPU_XOR(&out->work, &allowed, &shard); /* shard is a subset of allowed */
        if (CPU_COUNT(&out->work) == 0) out->work = allowed;
    } else if (!listed("work-cpus", work_spec, &allowed, &out->work, e)) {
        return 0;
    }
    out->num_work = CPU_COUNT(&out->work);
    cpu_set_t both;
    CPU_AND(&both, &out->work, &shard);
    out->low_priority = CPU_COUNT(&both) > 0;
    errno = 0;
    int base = getpriority(PRIO_PROCESS, 0); /* this thread's (Linux: per thread) */
    if (errno != 0) base = 0;
    out->nice = base + CPUS_LOW_NICE < 19 ? base + CPUS_LOW_NICE : 19;
    return 1;
}

/* left_alone: whether thread tid of this process stays where it is: a
 * shard (by the name shard/server.c gives it), or one of io_uring's
 * workers (iou-wrk-N, iou-sqp-N: the kernel's, placed with their ring's
 * thread, and refusing a new affinity). */
static int left_alone(pid_t tid) {
    char path[64], name[32] = "";
    snprintf(path, sizeof(path), "/proc/self/task/%d/comm", (int)tid);
    FILE *f = fopen(path, "re");
    if (f == NULL) return 0;
    int ok = fgets(name, sizeof(name), f) != NULL;
    fclose(f);
    return ok && (strncmp(name, "revd-shard", 10) == 0 || strncmp(name, "iou-", 4) == 0);
}

int cpus_place(const struct cpus_plan *p, struct rerr *e) {
    if (p->off) return 1;
    DIR *d = opendir("/proc/self/task");
    if (d == NULL) return rerr_set(e, "cannot list this process's threads (/proc/self/task): %s", strerror(errno));
    int ok = 1;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) { /* the first failure said; the others placed all the same */
        if (de->d_name[0] < '0' || de->d_name[0] > '9') continue;
        pid_t tid = (pid_t)strtol(de->d_name, NULL, 10);
        if (left_alone(tid)) continue;
        if (sched_setaffinity(tid, sizeof(p->work), &p->work) != 0 && errno != ESRCH && ok)
            ok = rerr_set(e, "cannot place thread %d on the work cores: %s", (int)tid, strerror(errno));
        errno = 0;
        int now = getpriority(PRIO_PROCESS, (id_t)tid);
        if (p->low_priority && errno == 0 && now < p->nice &&
            setpriority(PRIO_PROCESS, (id_t)tid, p->nice) != 0 && errno != ESRCH && ok)
            ok = rerr_set(e, "cannot lower the priority of thread %d: %s", (int)tid, strerror(errno));
    }
    closedir(d);
    return ok;
}

void cpus_describe(const struct cpus_plan *p, char *out, size_t cap) {
    char s[256], w[256];
    if (p->off) {
        snprintf(out, cap, "shard-cpus off: threads placed by the system, not by revd");
        return;
    }
    cpu_set_t shard;
    CPU_ZERO(&shard);
    for (int i = 0; i < p->num_shard; i++) CPU_SET(p->shard[i], &shard);
    fmt_set(&shard, s, sizeof(s));
    fmt_set(&p->work, w, sizeof(w));
    char lp[48] = "";
    if (p->low_priority) snprintf(lp, sizeof(lp), " at low priority (nice %d)", p->nice);
    if (p->num_work == p->num_allowed && CPU_EQUAL(&shard, &p->work))
        snprintf(out, cap, "shards on cores %s; signing, CRLs, index on every core (%s)%s", s, w, lp);
    else
        snprintf(out, cap, "shards on cores %s; signing, CRLs, index on cores %s%s", s, w, lp);
}
