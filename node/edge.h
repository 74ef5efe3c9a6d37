/* edge: `revd serve --edge`, an edge responder. It holds no CA key and no
 * index: EDGEDIR (--dir) holds only what the feed brought (feed/edge.h).
 * It serves OCSP, CRLs, CA certificates, /healthz and /metrics on the
 * shards exactly as the primary does, from what the primary published to
 * NATS JetStream (--nats), checked against --trust. SIGTERM or SIGINT
 * drains and stops it. Main thread. */
#ifndef REVD_NODE_EDGE_H
#define REVD_NODE_EDGE_H

/* edge_run runs an edge with the settings of argc/argv (the same table as
 * `revd serve`, without --edge) over dir. Returns the exit status. */
int edge_run(const char *dir, int argc, char **argv);

#endif
