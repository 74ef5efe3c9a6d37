/* serve: `revd serve`'s entry point: its --help (the settings' part from
 * node/settings.c's table), --help-config (docs/config.md's settings table,
 * the same table in Markdown), then node/serve.c's serve_run. */
#include <stdio.h>
#include <string.h>

#include "cmd/cli.h"
#include "node/edge.h"
#include "node/env.h"
#include "node/serve.h"
#include "node/settings.h"

static void help(FILE *f) {
    settings_usage(f);
    fputs("\n"
          "Holds DIR and answers the other commands over DIR/revd.sock (mode 0600), so\n"
          "that they keep working while it runs. With --listen, it also answers OCSP\n"
          "(POST /ocsp, GET /ocsp/{base64}), /ca/NAME.der, /healthz and /metrics over HTTP\n"
          "on N shards (default: one per core), from precomputed responses: stored ones are\n"
          "reused at start, a changed status is re-signed before the command returns,\n"
          "and every response is re-signed at about half its validity. Bulk signing\n"
          "(the first start, a new CA, an import, refresh passes) uses N threads.\n\n"
          "  --dir DIR            the data directory (default $REVD_DIR, else ./revd-data)\n"
          "  --config FILE        settings file (default DIR/revd.conf when it exists):\n"
          "                       `name = value` lines, names as the options below\n"
          "                       without --; options given here override it\n"
          "  --help-config        the settings as docs/config.md's table (Markdown)\n",
          f);
    settings_help(f);
    fputs("\nWith --listen, CRLs are served at /crl/... and published under DIR/crl/.\n\n"
          "With --nats URLS, every signed response, CRL and CA certificate is also\n"
          "published to NATS JetStream for edge responders (docs/edge.md):\n\n"
          "  revd serve --edge --dir EDGEDIR --listen ADDRESS:PORT --nats URLS --trust FILE\n\n"
          "runs one: no CA key and no index, only what the feed brought (checked against\n"
          "the anchors in FILE), served as the primary serves it; /healthz fails while it\n"
          "bootstraps or catches up and when the primary's heartbeat is older than\n"
          "--heartbeat-max-age.\n\n", f);
    settings_help_reload(f);
    fputs("SIGTERM or SIGINT stops it: no new connection, the answers in progress are\n"
          "sent, then every connection is closed.\n",
          f);
}

int cmd_serve(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            help(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--help-config") == 0) {
            settings_markdown(stdout);
            return 0;
        }
    }
    /* --edge: an edge responder (node/edge.h), with the same settings less it. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--edge") == 0) {
            for (int j = i; j < argc; j++) argv[j] = argv[j + 1];
            return edge_run(env_dir_from_args(argc - 1, argv), argc - 1, argv);
        }
    }
    return serve_run(env_dir_from_args(argc, argv), argc, argv);
}
