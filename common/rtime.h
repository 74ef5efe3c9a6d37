/* rtime: the time formats of revd's command line and reports. Pure; any thread. */
#ifndef REVD_COMMON_RTIME_H
#define REVD_COMMON_RTIME_H

#include <stddef.h>
#include <stdint.h>

/* rtime_parse reads "YYYY-MM-DDTHH:MM:SSZ", "YYYY-MM-DD" (midnight UTC) or
 * "@SECONDS" (Unix time) between 1950 and 9999 into Unix seconds.
 * Returns 1, or 0 if s is anything else (fields out of range included). */
int rtime_parse(const char *s, int64_t *out);

/* rtime_parse_n is rtime_parse over exactly len bytes (no NUL needed). */
int rtime_parse_n(const char *s, size_t len, int64_t *out);

/* rtime_format writes t as "YYYY-MM-DDTHH:MM:SSZ" into out (at least 21 bytes). */
void rtime_format(int64_t t, char out[21]);

/* rtime_now is the wall clock in Unix seconds. */
int64_t rtime_now(void);

/* rtime_mono is the monotonic clock in seconds (for intervals and
 * deadlines; never a date); rtime_mono_ms the same in milliseconds. */
double rtime_mono(void);
int64_t rtime_mono_ms(void);

/* rtime_from_civil converts a UTC calendar date and time to Unix seconds
 * (proleptic Gregorian; no validation). */
int64_t rtime_from_civil(int y, int mon, int d, int h, int mi, int s);

#endif
