/* extsort: an external sort of fixed-size records, for inputs larger than
 * memory (the rows of `revd import`).
 *
 * The caller fills a chunk of records in memory and hands it to
 * extsort_add, which sorts it in place and writes it as a sorted run file
 * in a directory the caller owns; the last chunk may stay in memory and go
 * to extsort_merge_begin instead. The merge reads every run through a
 * buffer of about EXTSORT_BUF bytes and yields all the records in order
 * (equal records in no set order). At most EXTSORT_FANIN runs are kept:
 * adding one more first merges them into one, so that the memory and the
 * open files are bounded whatever the input's size.
 *
 * Ownership: a struct extsort owns its run files (extsort_free removes
 * them); the records handed in stay the caller's. Records are written as
 * they lie in memory: a run file is read back only by the process that
 * wrote it.
 * Returns: 1, or 0 with e set (the file and what went wrong);
 * extsort_merge_next 1, 0 at the end, -1 on an error.
 * Thread: one thread at a time per struct extsort. */
#ifndef REVD_CA_EXTSORT_H
#define REVD_CA_EXTSORT_H

#include <stddef.h>
#include <stdint.h>

#include "common/rerr.h"

#define EXTSORT_FANIN 64
#define EXTSORT_BUF (64 * 1024)

struct extsort;
struct extsort_merge;

typedef int (*extsort_cmp)(const void *a, const void *b);

/* extsort_new: a sort of rec_size-byte records (rec_size <= EXTSORT_BUF)
 * ordered by cmp, whose runs are files DIR/TAG-N.run. dir and tag are
 * copied. NULL on out of memory. */
struct extsort *extsort_new(const char *dir, const char *tag, size_t rec_size, extsort_cmp cmp);

/* extsort_free removes the run files and frees s (NULL is fine). */
void extsort_free(struct extsort *s);

/* extsort_add sorts recs[0..n) in place and writes them as a run (n == 0:
 * nothing). */
int extsort_add(struct extsort *s, void *recs, size_t n, struct rerr *e);

/* extsort_num_runs: the run files s holds now. */
size_t extsort_num_runs(const struct extsort *s);

/* extsort_merge_begin starts the merge of every run with mem[0..mem_n),
 * which it sorts in place and reads from where it lies (it must outlive
 * the merge; may be NULL when mem_n is 0). The runs stay s's. */
int extsort_merge_begin(struct extsort *s, void *mem, size_t mem_n, struct extsort_merge **out,
                        struct rerr *e);

/* extsort_merge_next: *rec is the next record, a view valid until the
 * next call. */
int extsort_merge_next(struct extsort_merge *m, const void **rec, struct rerr *e);

void extsort_merge_free(struct extsort_merge *m);

#endif
