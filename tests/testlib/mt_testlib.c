#include "mt_testlib.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "util/mt_alloc.h"
#include "util/mt_buf.h"
#include "util/mt_file.h"
#include "util/mt_hex.h"

const char *
mt_test_shared_dir(void)
{
    const char *env = getenv("MT_SHARED_DIR");

    return env != NULL && env[0] != '\0' ? env : MT_SHARED_DIR;
}

void
mt_test_require_shared(void)
{
    char path[4096];
    struct stat st;

    snprintf(path, sizeof(path), "%s/vectors/dcap/manifest.json", mt_test_shared_dir());
    if (stat(path, &st) != 0)
        fail_msg("the shared test data folder is absent: %s not found (it must sit beside the "
                 "checkout as ../shared, or set MT_SHARED_DIR)",
                 path);
}

uint8_t *
mt_test_read_file(const char *path, size_t *len)
{
    uint8_t *b = NULL;
    mt_err e;

    e = mt_file_read(path, 64u * 1024u * 1024u, &b, len);
    if (e != MT_OK)
        fail_msg("cannot read %s: %s", path, mt_err_message(e));
    return b;
}

uint8_t *
mt_test_read_shared(const char *rel, size_t *len)
{
    char path[4096];

    mt_test_require_shared();
    snprintf(path, sizeof(path), "%s/%s", mt_test_shared_dir(), rel);
    return mt_test_read_file(path, len);
}

json_t *
mt_test_load_shared_json(const char *rel)
{
    json_error_t jerr;
    uint8_t *b;
    size_t len;
    json_t *j;

    b = mt_test_read_shared(rel, &len);
    j = json_loadb((const char *)b, len, 0, &jerr);
    mt_free(b);
    if (j == NULL)
        fail_msg("%s: malformed JSON at line %d: %s", rel, jerr.line, jerr.text);
    return j;
}

const char *
mt_test_hex(const uint8_t *b, size_t n)
{
    static char buf[2 * 4096 + 1];

    if (n > 4096)
        n = 4096;
    mt_hex_encode(b, n, buf);
    return buf;
}

int
mt_test_run_cli(char **out, const char *arg, ...)
{
    const char *argv[64];
    struct mt_buf buf;
    char chunk[4096];
    va_list ap;
    int fds[2], status, n = 0;
    ssize_t r;
    pid_t pid;

    argv[n++] = MT_CLI_PATH;
    va_start(ap, arg);
    for (const char *a = arg; a != NULL && n < 63; a = va_arg(ap, const char *))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    if (pipe(fds) != 0)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(MT_CLI_PATH, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    mt_buf_init(&buf, 16u * 1024u * 1024u);
    while ((r = read(fds[0], chunk, sizeof(chunk))) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || mt_buf_append(&buf, chunk, (size_t)r) != MT_OK)
            break;
    }
    close(fds[0]);
    if (buf.p == NULL && mt_buf_append(&buf, "", 0) != MT_OK)
        return -1;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    *out = (char *)mt_buf_take(&buf, NULL);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

json_t *
mt_test_json_at(json_t *root, const char *path)
{
    char buf[256], *tok, *save = NULL;
    json_t *o = root;

    snprintf(buf, sizeof(buf), "%s", path);
    for (tok = strtok_r(buf, "/", &save); tok != NULL && o != NULL;
         tok = strtok_r(NULL, "/", &save))
        o = json_is_array(o) ? json_array_get(o, (size_t)strtoul(tok, NULL, 10))
                             : json_object_get(o, tok);
    assert_non_null(o);
    return o;
}

int
mt_test_mkdtemp(char *dir, size_t len, const char *prefix)
{
    snprintf(dir, len, "/tmp/%s-XXXXXX", prefix);
    return mkdtemp(dir) == NULL ? -1 : 0;
}

int
mt_test_rm_rf(const char *dir)
{
    char cmd[4200];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

char *
mt_test_slurp(const char *path, int missing_ok)
{
    FILE *f = fopen(path, "rb");
    char *b;
    long n;

    if (f == NULL && missing_ok)
        return strdup("");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n >= 0);
    assert_int_equal(fseek(f, 0, SEEK_SET), 0);
    b = calloc(1, (size_t)n + 1);
    assert_non_null(b);
    if (n > 0)
        assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return b;
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
    return mt_buf_append(arg, p, size * n) == MT_OK ? size * n : 0;
}

long
mt_test_http(const char *url, const char *method, const char *content_type, const char *body,
             size_t body_len, long timeout_s, struct mt_buf *buf)
{
    struct curl_slist *hdrs = NULL;
    char hdr[256];
    long status = -1;
    CURL *h;

    h = curl_easy_init();
    assert_non_null(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, buf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    snprintf(hdr, sizeof(hdr), "Content-Type:%s%s", content_type == NULL ? "" : " ",
             content_type == NULL ? "" : content_type);
    hdrs = curl_slist_append(hdrs, hdr);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)body_len);
    }
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return status;
}

pid_t
mt_test_spawn_quiet(const char *const *argv)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        if (freopen("/dev/null", "w", stderr) == NULL)
            _exit(126);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

void
mt_test_stop_process(pid_t pid)
{
    int status;

    assert_int_equal(kill(pid, SIGTERM), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}
