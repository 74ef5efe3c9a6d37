/* log: revd's running log, one line per event on stderr.
 *
 * Formats: plain (default, for people: "revd: MESSAGE"), kv (key=value:
 * ts, level, event, msg) and json (the same keys). In every format the
 * message's bytes outside printable ASCII are written as \xNN, so that
 * network bytes quoted in a message cannot forge a line or a terminal
 * escape; kv and json escape their quotes too. Each event name may write at
 * most LOG_BURST lines per LOG_WINDOW_S seconds; the lines past that are
 * counted and said in one "log.suppressed" line when the event next comes
 * after its window.
 *
 * Privacy: revd logs no client address of the OCSP and CRL listener at all
 * (the shards log nothing per request); the admin API's client addresses
 * are in the audit log, not here.
 *
 * Thread: any (a mutex inside; nothing on the request path logs). */
#ifndef REVD_COMMON_LOG_H
#define REVD_COMMON_LOG_H

#include <stddef.h>

#define LOG_BURST 10
#define LOG_WINDOW_S 10

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO };
enum log_format { LOG_PLAIN, LOG_KV, LOG_JSON };

/* log_format_parse: "plain", "kv" or "json". 1 or 0. */
int log_format_parse(const char *s, enum log_format *out);
void log_set_format(enum log_format f);

/* log_escape writes s into out (cap bytes) as the plain format does: bytes
 * outside printable ASCII as \xNN. For messages printed outside rlog. */
void log_escape(char *out, size_t cap, const char *s);

/* rlog writes one line for event ("crl.build_failed": lowercase words and
 * dots) at level. event must live as long as the process (a literal): the
 * rate limit keeps the pointer. */
void rlog(enum log_level level, const char *event, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
