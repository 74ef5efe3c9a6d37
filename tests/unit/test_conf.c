/* Unit tests of common/conf: the configuration file's syntax, every error
 * message (its "path:line:" and what it says), the caps exactly at and one
 * over, and conf_load on real files. Every parse reads its input from right
 * before a PROT_NONE page (guard.h), so an over-read crashes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/conf.h"
#include "tests/unit/guard.h"

#define PATH "t.conf"

/* parsed_n parses p[0..len) as PATH and fails the test if it is refused. */
static struct conf *parsed_n(const void *p, size_t len) {
    struct guard g;
    guard_init(&g, p, len);
    struct conf *c = NULL;
    struct rerr e = {{0}};
    if (!conf_parse(PATH, g.p, g.len, &c, &e)) fail_msg("refused: %s", e.msg);
    guard_free(&g);
    assert_non_null(c);
    assert_string_equal(c->path, PATH);
    return c;
}

static struct conf *parsed(const char *text) { return parsed_n(text, strlen(text)); }

/* refused_n checks that p[0..len) is refused with a message that starts with
 * prefix (the "path:line: ") and holds phrase, and that *out is untouched. */
static void refused_n(const void *p, size_t len, const char *prefix, const char *phrase) {
    struct guard g;
    guard_init(&g, p, len);
    struct conf sentinel;
    struct conf *c = &sentinel;
    struct rerr e = {{0}};
    if (conf_parse(PATH, g.p, g.len, &c, &e)) fail_msg("accepted, wanted '%s...%s'", prefix, phrase);
    guard_free(&g);
    assert_ptr_equal(c, &sentinel);
    if (strncmp(e.msg, prefix, strlen(prefix)) != 0) fail_msg("'%s' does not start with '%s'", e.msg, prefix);
    if (strstr(e.msg, phrase) == NULL) fail_msg("'%s' does not say '%s'", e.msg, phrase);
}

static void refused(const char *text, const char *prefix, const char *phrase) {
    refused_n(text, strlen(text), prefix, phrase);
}

/* refused_exactly: refused with exactly this message. */
static void refused_exactly(const char *text, const char *msg) {
    struct conf *c = NULL;
    struct rerr e = {{0}};
    assert_false(conf_parse(PATH, (const uint8_t *)text, strlen(text), &c, &e));
    assert_null(c);
    assert_string_equal(e.msg, msg);
}

/* has checks that c has key with value, from line. */
static void has(const struct conf *c, const char *key, const char *value, unsigned line) {
    const struct conf_entry *en = conf_get(c, key);
    if (en == NULL) fail_msg("no '%s'", key);
    assert_string_equal(en->key, key);
    assert_string_equal(en->value, value);
    assert_int_equal(en->line, line);
}

/* parse_value: the value of the only entry of text. */
static void value_is(const char *text, const char *want) {
    struct conf *c = parsed(text);
    assert_int_equal(c->num, 1);
    assert_string_equal(c->entries[0].value, want);
    conf_free(c);
}

/* ---- what is accepted --------------------------------------------------- */

static void test_guard_page_faults(void **state) { guard_check_faults(); }

static void test_conf_basic(void **state) {
    struct conf *c = parsed("listen = 127.0.0.1:8080\n"
                            "shards=4\n"
                            "  \tdata-dir\t =  /var/lib/revd  \t\n"
                            "empty =\n"
                            "empty2=   \n"
                            "hash = a#b # not a comment\n"
                            "eq = a=b==c\n"
                            "q = say \"hi\"\n"
                            "tab = a\tb\n"
                            "a1-b2 = x\n");
    assert_int_equal(c->num, 10);
    /* In the order of the file. */
    assert_string_equal(c->entries[0].key, "listen");
    assert_string_equal(c->entries[9].key, "a1-b2");
    has(c, "listen", "127.0.0.1:8080", 1);
    has(c, "shards", "4", 2);
    has(c, "data-dir", "/var/lib/revd", 3);
    has(c, "empty", "", 4);
    has(c, "empty2", "", 5);
    has(c, "hash", "a#b # not a comment", 6);
    has(c, "eq", "a=b==c", 7);
    has(c, "q", "say \"hi\"", 8);
    has(c, "tab", "a\tb", 9);
    has(c, "a1-b2", "x", 10);
    assert_null(conf_get(c, "absent"));
    assert_null(conf_get(c, "Listen"));
    assert_null(conf_get(c, "listen "));
    assert_null(conf_get(c, NULL));
    assert_null(conf_get(NULL, "listen"));
    conf_free(c);
    conf_free(NULL);
}

/* Bytes >= 0x80 pass through, valid UTF-8 or not. */
static void test_conf_utf8_passes(void **state) {
    value_is("name = Zürich CA \xe2\x9c\x93\n", "Zürich CA \xe2\x9c\x93");
    value_is("name = \xff\xfe\x80\n", "\xff\xfe\x80");
    value_is("name = \"\xc3\xa9\\\"\xc0\"\n", "\xc3\xa9\"\xc0");
}

static void test_conf_empty(void **state) {
    static const char *const empties[] = {"", "\n", "\n\n\n", "   \t\n", "\r\n", " \r\n\t\r\n", "# only\n", "#", "   "};
    for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
        struct conf *c = parsed(empties[i]);
        assert_int_equal(c->num, 0);
        assert_null(conf_get(c, "a"));
        conf_free(c);
    }
    /* A NULL buffer of no bytes is an empty file too. */
    struct conf *c = NULL;
    struct rerr e = {{0}};
    assert_true(conf_parse(PATH, NULL, 0, &c, &e));
    assert_int_equal(c->num, 0);
    conf_free(c);
}

static void test_conf_comments(void **state) {
    struct conf *c = parsed("# revd.conf\n"
                            "#\n"
                            "   # indented = not an entry\n"
                            "\t#tabbed\n"
                            "#listen = 1\n"
                            "listen = 2\n"
                            "# \"unterminated, and Bad Key = in a comment \\q\n");
    assert_int_equal(c->num, 1);
    has(c, "listen", "2", 6);
    conf_free(c);
}

static void test_conf_crlf(void **state) {
    struct conf *c = parsed("a = 1\r\n"
                            "\r\n"
                            "# comment\r\n"
                            "b = two words  \r\n"
                            "c = \"  quoted  \"\r\n"
                            "d = mixed\n"
                            "e =\r\n"
                            "f = last\r\n");
    assert_int_equal(c->num, 6);
    has(c, "a", "1", 1);
    has(c, "b", "two words", 4);
    has(c, "c", "  quoted  ", 5);
    has(c, "d", "mixed", 6);
    has(c, "e", "", 7);
    has(c, "f", "last", 8);
    conf_free(c);
    /* Only one CR is a line ending's; a second is a control character. */
    refused("a = 1\r\r\n", PATH ":1: ", "control character 0x0d");
    /* A CR that ends no line: in a line, or at the very end of the file. */
    refused("a = 1\rb = 2\n", PATH ":1: ", "control character 0x0d");
    refused("a = 1\nb = 2\r", PATH ":2: ", "control character 0x0d");
    refused("a = 1\n\r", PATH ":2: ", "control character 0x0d");
}

static void test_conf_last_line(void **state) {
    value_is("a = 1", "1");
    value_is("a = 1  \t", "1");
    value_is("a =", "");
    value_is("a = \"x y\"", "x y");
    value_is("a = \"x y\"  ", "x y");
    struct conf *c = parsed("a = 1\nb = 2");
    assert_int_equal(c->num, 2);
    has(c, "b", "2", 2);
    conf_free(c);
    c = parsed("a = 1\n# end");
    assert_int_equal(c->num, 1);
    conf_free(c);
    /* The line after the last LF is not a line of its own. */
    c = parsed("a = 1\n");
    assert_int_equal(c->num, 1);
    conf_free(c);
    refused("a = 1\nb", PATH ":2: ", "no '='");
    refused("a = 1\nb = \"x", PATH ":2: ", "unterminated quote");
    refused("a = 1\nb = \"x\\", PATH ":2: ", "unterminated quote");
}

static void test_conf_quoting(void **state) {
    value_is("a = \"  spaced  \"\n", "  spaced  ");
    value_is("a = \"\"\n", "");
    value_is("a=\"x\"\n", "x");
    value_is("a = \"say \\\"hi\\\"\"\n", "say \"hi\"");
    value_is("a = \"back\\\\slash\"\n", "back\\slash");
    value_is("a = \"\\\\\"\n", "\\");
    value_is("a = \"\\\"\"\n", "\"");
    value_is("a = \"# not a comment\"\n", "# not a comment");
    value_is("a = \"k = v\"\n", "k = v");
    value_is("a = \"tab\there\"\t \n", "tab\there");
    value_is("a = \"'single'\"\n", "'single'");
    /* A quote that does not start the value is a plain character, and so is
     * a backslash outside quotes. */
    value_is("a = x\"y\"\n", "x\"y\"");
    value_is("a = C:\\dir\\n\n", "C:\\dir\\n");
}

/* ---- every error -------------------------------------------------------- */

static void test_conf_control(void **state) {
    static const uint8_t nul_value[] = "a = x\0y\n";
    refused_n(nul_value, sizeof(nul_value) - 1, PATH ":1: ", "control character 0x00");
    static const uint8_t nul_comment[] = "a = 1\n# x\0\n";
    refused_n(nul_comment, sizeof(nul_comment) - 1, PATH ":2: ", "control character 0x00");
    static const uint8_t nul_only[] = {0};
    refused_n(nul_only, 1, PATH ":1: ", "control character 0x00");
    refused("a = 1\nb = 2\nc = x\x01y\n", PATH ":3: ", "control character 0x01");
    refused("a = \"\x1b[31m\"\n", PATH ":1: ", "control character 0x1b");
    refused("\x0c\n", PATH ":1: ", "control character 0x0c");
    refused("a = \x0b\n", PATH ":1: ", "control character 0x0b");
    refused("a = \x1f\n", PATH ":1: ", "control character 0x1f");
    refused("a = x\x7f\n", PATH ":1: ", "control character 0x7f");
    refused("# \x07 bell\n", PATH ":1: ", "control character 0x07");
    /* Before any other fault of the line. */
    refused("Bad Key \x01\n", PATH ":1: ", "control character 0x01");
    /* Tab is fine everywhere. */
    struct conf *c = parsed("\ta\t=\tb\tc\t\n\t# \t\n");
    has(c, "a", "b\tc", 1);
    conf_free(c);
}

static void test_conf_no_equals(void **state) {
    refused_exactly("listen\n", PATH ":1: no '=' (expected key = value, or '#' for a comment)");
    refused("# comment\n\nlisten 127.0.0.1\n", PATH ":3: ", "no '='");
    refused("a = 1\n  \"x\"  \n", PATH ":2: ", "no '='");
    refused("a: 1\n", PATH ":1: ", "no '='");
}

static void test_conf_bad_key(void **state) {
    refused_exactly("Listen = 1\n", PATH ":1: bad key 'Listen' (a key is a-z, then a-z, 0-9 or '-')");
    refused("a = 1\n1a = x\n", PATH ":2: ", "bad key '1a'");
    refused("-a = x\n", PATH ":1: ", "bad key '-a'");
    refused("a_b = x\n", PATH ":1: ", "bad key 'a_b'");
    refused("a.b = x\n", PATH ":1: ", "bad key 'a.b'");
    refused("listen port = 1\n", PATH ":1: ", "bad key 'listen port'");
    refused("= x\n", PATH ":1: ", "bad key ''");
    refused("  \t= x\n", PATH ":1: ", "bad key ''");
    refused("\"a\" = x\n", PATH ":1: ", "bad key '\"a\"'");
    /* Quoted escaped: quotes, backslashes, tabs and bytes >= 0x80. */
    refused("it's = x\n", PATH ":1: ", "bad key 'it\\'s'");
    refused("a\\b = x\n", PATH ":1: ", "bad key 'a\\\\b'");
    refused("a\tb = x\n", PATH ":1: ", "bad key 'a\\x09b'");
    refused("cl\xc3\xa9 = x\n", PATH ":1: ", "bad key 'cl\\xc3\\xa9'");
    refused("\xef\xbb\xbfkey = x\n", PATH ":1: ", "bad key '\\xef\\xbb\\xbfkey'");

    /* 64 characters are a key, 65 are not; 64 are shown, then "...". */
    char key[CONF_KEY_MAX + 2];
    memset(key, 'k', sizeof(key));
    char text[256];
    snprintf(text, sizeof(text), "%.*s = v\n", CONF_KEY_MAX, key);
    struct conf *c = parsed(text);
    assert_int_equal(strlen(c->entries[0].key), CONF_KEY_MAX);
    conf_free(c);
    snprintf(text, sizeof(text), "%.*s = v\n", CONF_KEY_MAX + 1, key);
    char want[256];
    snprintf(want, sizeof(want), PATH ":1: bad key '%.*s...' (longer than %d characters)", CONF_KEY_MAX, key,
             CONF_KEY_MAX);
    refused_exactly(text, want);

    /* A long bad key: at most 64 of its bytes are quoted, escaped. */
    char big[2000];
    memset(big, '\xff', 1000);
    strcpy(big + 1000, " = v\n");
    struct conf *out = NULL;
    struct rerr e = {{0}};
    assert_false(conf_parse(PATH, (const uint8_t *)big, strlen(big), &out, &e));
    char shown[4 * CONF_KEY_MAX + 1] = "";
    for (int i = 0; i < CONF_KEY_MAX; i++) strcat(shown, "\\xff");
    snprintf(want, sizeof(want), PATH ":1: bad key '%s...' (", shown);
    assert_int_equal(strncmp(e.msg, want, strlen(want)), 0);
}

static void test_conf_duplicate(void **state) {
    refused_exactly("# revd\n\nlisten = a\nshards = 2\nlisten = a\n",
                    PATH ":5: 'listen' given twice (first on line 3)");
    refused("a = 1\nb = 2\n  a=\n", PATH ":3: ", "'a' given twice (first on line 1)");
    /* The same key with other spacing or quoting is the same key. */
    refused("a = \"1\"\n\ta\t=\t\"1\"\t\n", PATH ":2: ", "'a' given twice (first on line 1)");
}

static void test_conf_unterminated(void **state) {
    refused_exactly("a = \"abc\n",
                    PATH ":1: unterminated quote in the value of 'a' (a quoted value ends with \" on its line)");
    refused("a = 1\nb = \"abc\\\"\n", PATH ":2: ", "unterminated quote");
    refused("b = \"abc\\\n", PATH ":1: ", "unterminated quote");
    refused("b = \"\n", PATH ":1: ", "unterminated quote");
    refused("b = \"  \n", PATH ":1: ", "unterminated quote");
    /* The quote does not go on to the next line. */
    refused("b = \"one\ntwo\"\n", PATH ":1: ", "unterminated quote");
}

static void test_conf_bad_escape(void **state) {
    refused_exactly("a = \"x\\ny\"\n",
                    PATH ":1: bad escape '\\n' in the value of 'a' (inside quotes only \\\" and \\\\ are escapes)");
    refused("a = 1\nb = \"\\t\"\n", PATH ":2: ", "bad escape '\\t'");
    refused("b = \"\\x41\"\n", PATH ":1: ", "bad escape '\\x'");
    refused("b = \"\\'\"\n", PATH ":1: ", "bad escape '\\\\''");
    refused("b = \"\\ \"\n", PATH ":1: ", "bad escape '\\ '");
    refused("b = \"\\\tx\"\n", PATH ":1: ", "bad escape '\\\\x09'");
    refused("b = \"\\\xc3\xa9\"\n", PATH ":1: ", "bad escape '\\\\xc3'");
}

static void test_conf_after_quote(void **state) {
    refused_exactly("a = \"x\" y\n",
                    PATH ":1: text after the closing quote of the value of 'a' (no comments after a value)");
    refused("a = \"x\" # comment\n", PATH ":1: ", "text after the closing quote");
    refused("a = 1\nb = \"x\"\"y\"\n", PATH ":2: ", "text after the closing quote");
    refused("b = \"x\"\\\n", PATH ":1: ", "text after the closing quote");
}

/* ---- caps --------------------------------------------------------------- */

static void test_conf_cap_entries(void **state) {
    size_t cap = (CONF_MAX_ENTRIES + 1) * 32;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t len = 0;
    for (int i = 0; i < CONF_MAX_ENTRIES; i++) len += (size_t)snprintf(text + len, cap - len, "k%d = %d\n", i, i);
    struct conf *c = parsed_n(text, len);
    assert_int_equal(c->num, CONF_MAX_ENTRIES);
    has(c, "k0", "0", 1);
    has(c, "k255", "255", 256);
    conf_free(c);
    /* Comments and blank lines do not count. */
    char *more = malloc(cap + 64);
    assert_non_null(more);
    int n = snprintf(more, cap + 64, "# head\n\n%.*s", (int)len, text);
    c = parsed_n(more, (size_t)n);
    assert_int_equal(c->num, CONF_MAX_ENTRIES);
    has(c, "k255", "255", 258);
    conf_free(c);
    /* One more. */
    len += (size_t)snprintf(text + len, cap - len, "k%d = %d\n", CONF_MAX_ENTRIES, CONF_MAX_ENTRIES);
    text[len] = '\0';
    char want[64];
    snprintf(want, sizeof(want), PATH ":%d: more than %d entries", CONF_MAX_ENTRIES + 1, CONF_MAX_ENTRIES);
    refused_exactly(text, want);
    free(more);
    free(text);
}

static void test_conf_cap_value(void **state) {
    char *text = malloc(CONF_VALUE_MAX + 64);
    char *want = malloc(CONF_VALUE_MAX + 2);
    assert_non_null(text);
    assert_non_null(want);
    memset(want, 'v', CONF_VALUE_MAX + 1);
    want[CONF_VALUE_MAX + 1] = '\0';

    /* Unquoted: 4096 bytes, with blanks around that do not count. */
    snprintf(text, CONF_VALUE_MAX + 64, "a = %.*s \t \n", CONF_VALUE_MAX, want);
    struct conf *c = parsed(text);
    assert_int_equal(strlen(conf_get(c, "a")->value), CONF_VALUE_MAX);
    conf_free(c);
    snprintf(text, CONF_VALUE_MAX + 64, "# x\na = %.*s\n", CONF_VALUE_MAX + 1, want);
    refused_exactly(text, PATH ":2: the value of 'a' is longer than 4096 bytes");

    /* Quoted: counted as unescaped; 4094 bytes and two escapes are 4096. */
    snprintf(text, CONF_VALUE_MAX + 64, "a = \"%.*s\\\\\\\"\"\n", CONF_VALUE_MAX - 2, want);
    c = parsed(text);
    const char *v = conf_get(c, "a")->value;
    assert_int_equal(strlen(v), CONF_VALUE_MAX);
    assert_int_equal(v[CONF_VALUE_MAX - 2], '\\');
    assert_int_equal(v[CONF_VALUE_MAX - 1], '"');
    conf_free(c);
    snprintf(text, CONF_VALUE_MAX + 64, "a = \"%.*s\"\n", CONF_VALUE_MAX, want);
    c = parsed(text);
    assert_int_equal(strlen(conf_get(c, "a")->value), CONF_VALUE_MAX);
    conf_free(c);
    snprintf(text, CONF_VALUE_MAX + 64, "a = \"%.*s\"\n", CONF_VALUE_MAX + 1, want);
    refused_exactly(text, PATH ":1: the value of 'a' is longer than 4096 bytes");
    snprintf(text, CONF_VALUE_MAX + 64, "a = \"%.*s\\\\\"\n", CONF_VALUE_MAX, want);
    refused(text, PATH ":1: ", "longer than 4096 bytes");
    free(want);
    free(text);
}

/* fill writes a file of exactly len bytes of comment lines and one entry. */
static void fill(char *p, size_t len) {
    memset(p, 'x', len);
    memcpy(p, "a = 1\n", 6);
    for (size_t i = 6; i < len; i += 64) {
        p[i] = '#';
        if (i + 63 < len) p[i + 63] = '\n';
    }
}

static void test_conf_cap_parse_size(void **state) {
    char *p = malloc(CONF_MAX_BYTES + 1);
    assert_non_null(p);
    fill(p, CONF_MAX_BYTES);
    struct conf *c = parsed_n(p, CONF_MAX_BYTES);
    assert_int_equal(c->num, 1);
    conf_free(c);
    fill(p, CONF_MAX_BYTES + 1);
    refused_n(p, CONF_MAX_BYTES + 1, PATH ": larger than 64 KiB", "");
    free(p);
}

/* ---- conf_load ---------------------------------------------------------- */

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) { return remove(p); }

static int tmpdir_setup(void **state) {
    char *d = strdup("/tmp/revd-test-conf-XXXXXX");
    if (d == NULL || mkdtemp(d) == NULL) return -1;
    *state = d;
    return 0;
}

static int tmpdir_teardown(void **state) {
    char *d = *state;
    nftw(d, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(d);
    return 0;
}

static void write_file(const char *path, const void *p, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void test_conf_load(void **state) {
    const char *dir = *state;
    char path[512], want[1024];
    struct rerr e = {{0}};
    struct conf *c = NULL;

    snprintf(path, sizeof(path), "%s/revd.conf", dir);
    static const char good[] = "# revd\nlisten = 127.0.0.1:8080\r\nname = \"  x  \"";
    write_file(path, good, sizeof(good) - 1);
    assert_true(conf_load(path, &c, &e));
    assert_string_equal(c->path, path);
    assert_int_equal(c->num, 2);
    has(c, "listen", "127.0.0.1:8080", 2);
    has(c, "name", "  x  ", 3);
    conf_free(c);

    /* An empty file. */
    write_file(path, "", 0);
    c = NULL;
    assert_true(conf_load(path, &c, &e));
    assert_int_equal(c->num, 0);
    conf_free(c);

    /* Parse errors name the file. */
    write_file(path, "a = 1\nb\n", 8);
    c = NULL;
    assert_false(conf_load(path, &c, &e));
    assert_null(c);
    snprintf(want, sizeof(want), "%s:2: no '='", path);
    assert_int_equal(strncmp(e.msg, want, strlen(want)), 0);

    /* Missing. */
    snprintf(path, sizeof(path), "%s/missing.conf", dir);
    assert_false(conf_load(path, &c, &e));
    assert_null(c);
    snprintf(want, sizeof(want), "%s: no such file", path);
    assert_string_equal(e.msg, want);

    /* A directory: the file and strerror. */
    assert_false(conf_load(dir, &c, &e));
    assert_null(c);
    snprintf(want, sizeof(want), "%s: cannot read: %s", dir, strerror(EISDIR));
    assert_string_equal(e.msg, want);

    /* A path through a file: not "no such file". */
    snprintf(path, sizeof(path), "%s/revd.conf/x", dir);
    assert_false(conf_load(path, &c, &e));
    snprintf(want, sizeof(want), "%s: cannot open: %s", path, strerror(ENOTDIR));
    assert_string_equal(e.msg, want);

    /* Unreadable (root reads anything, so only when not root). */
    if (geteuid() != 0) {
        snprintf(path, sizeof(path), "%s/secret.conf", dir);
        write_file(path, "a = 1\n", 6);
        assert_int_equal(chmod(path, 0), 0);
        assert_false(conf_load(path, &c, &e));
        snprintf(want, sizeof(want), "%s: cannot open: %s", path, strerror(EACCES));
        assert_string_equal(e.msg, want);
    } else {
        print_message("(unreadable file not tried: root reads anything)\n");
    }
}

static void test_conf_load_size(void **state) {
    const char *dir = *state;
    char path[512], want[1024];
    struct rerr e = {{0}};
    struct conf *c = NULL;
    char *p = malloc(CONF_MAX_BYTES + 1);
    assert_non_null(p);
    snprintf(path, sizeof(path), "%s/big.conf", dir);

    /* Exactly 64 KiB: read and parsed. */
    fill(p, CONF_MAX_BYTES);
    write_file(path, p, CONF_MAX_BYTES);
    assert_true(conf_load(path, &c, &e));
    assert_int_equal(c->num, 1);
    has(c, "a", "1", 1);
    conf_free(c);

    /* One byte more: refused before parsing. */
    fill(p, CONF_MAX_BYTES + 1);
    write_file(path, p, CONF_MAX_BYTES + 1);
    c = NULL;
    assert_false(conf_load(path, &c, &e));
    assert_null(c);
    snprintf(want, sizeof(want), "%s: larger than 64 KiB", path);
    assert_string_equal(e.msg, want);
    free(p);
}

/* ---- every prefix ------------------------------------------------------- */

/* Each prefix of a file that uses every construct is parsed (accepted or
 * refused) under the guard page, so no read goes past the end wherever the
 * file stops; a refusal always says why. */
static void test_conf_prefixes(void **state) {
    static const char text[] = "# head\r\n\n  listen\t= 127.0.0.1:80 # x\r\n"
                               "name = \"a \\\"b\\\" \\\\ c\"  \nempty=\nlast = \"q\"";
    for (size_t n = 0; n <= sizeof(text) - 1; n++) {
        struct guard g;
        guard_init(&g, (const uint8_t *)text, n);
        struct conf *c = NULL;
        struct rerr e = {{0}};
        if (conf_parse(PATH, g.p, g.len, &c, &e)) {
            assert_true(c->num <= 4);
            conf_free(c);
        } else {
            assert_null(c);
            assert_int_equal(strncmp(e.msg, PATH ":", strlen(PATH ":")), 0);
        }
        guard_free(&g);
    }
    struct conf *c = parsed(text);
    assert_int_equal(c->num, 4);
    has(c, "listen", "127.0.0.1:80 # x", 3);
    has(c, "name", "a \"b\" \\ c", 4);
    has(c, "empty", "", 5);
    has(c, "last", "q", 6);
    conf_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guard_page_faults),
        cmocka_unit_test(test_conf_basic),
        cmocka_unit_test(test_conf_utf8_passes),
        cmocka_unit_test(test_conf_empty),
        cmocka_unit_test(test_conf_comments),
        cmocka_unit_test(test_conf_crlf),
        cmocka_unit_test(test_conf_last_line),
        cmocka_unit_test(test_conf_quoting),
        cmocka_unit_test(test_conf_control),
        cmocka_unit_test(test_conf_no_equals),
        cmocka_unit_test(test_conf_bad_key),
        cmocka_unit_test(test_conf_duplicate),
        cmocka_unit_test(test_conf_unterminated),
        cmocka_unit_test(test_conf_bad_escape),
        cmocka_unit_test(test_conf_after_quote),
        cmocka_unit_test(test_conf_cap_entries),
        cmocka_unit_test(test_conf_cap_value),
        cmocka_unit_test(test_conf_cap_parse_size),
        cmocka_unit_test_setup_teardown(test_conf_load, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_conf_load_size, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test(test_conf_prefixes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
