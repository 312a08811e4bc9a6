#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "release/fetch.h"
#include "release/merod_config.h"
#include "release/verify.h"
#include "util/mt_alloc.h"
#include "util/mt_file.h"

/*
 * mero-tee policy merod-config --profile P --release DIR|URL --kms-url URL
 *     [--out FILE] [--apply --merod-home H [--node N] [--dry-run]]
 *
 * mero-tee-reference.md 3.8 and 3.9 in one command: verify the KMS release
 * (every check of `release verify`), then write the merod [tee.kms.phala]
 * block for the profile's KMS, or run `merod config` with the same values.
 * Nothing is written or run unless the whole release verifies.
 */

static void
policy_usage(FILE *f)
{
    fprintf(f, "usage: mero-tee policy merod-config --release DIR|URL --kms-url URL\n"
               "           [--profile P] [--version X.Y.Z] [--out FILE]\n"
               "           [--apply --merod-home H [--node N] [--dry-run] [--merod BIN]]\n"
               "           [--trusted-root FILE] [--key PUBKEY] [--certificate-identity SAN]\n"
               "           [--certificate-oidc-issuer ISSUER] [--repository OWNER/NAME]\n"
               "  --release DIR|URL  the KMS release (mero-kms-vX.Y.Z directory or https download\n"
               "                     URL);\n"
               "                     it is verified first, like `mero-tee release verify`\n"
               "  --profile P        debug | debug-read-only | locked-read-only (default)\n"
               "  --version X.Y.Z    default: from the release's name mero-kms-vX.Y.Z\n"
               "  --out FILE         write the TOML there (atomically) instead of stdout\n"
               "  --apply            run `merod --home H --node N config KEY=VALUE` per setting\n"
               "                     (directly, no shell; stops at the first failing command);\n"
               "                     with --dry-run print the commands instead\n"
               "  --merod BIN        the merod program (default: merod, looked up in PATH)\n");
}

struct args {
    const char *profile, *release, *kms_url, *out, *version, *home, *node, *merod;
    int apply, dry_run;
    struct mt_rel_trust_cfg trust;
};

static int
parse(int argc, char **argv, struct args *a)
{
    static const struct option longopts[] = {
        {"profile", required_argument, NULL, 'p'},
        {"release", required_argument, NULL, 'r'},
        {"kms-url", required_argument, NULL, 'u'},
        {"out", required_argument, NULL, 'o'},
        {"version", required_argument, NULL, 'v'},
        {"apply", no_argument, NULL, 'a'},
        {"merod-home", required_argument, NULL, 'H'},
        {"node", required_argument, NULL, 'n'},
        {"dry-run", no_argument, NULL, 'd'},
        {"merod", required_argument, NULL, 'm'},
        {"trusted-root", required_argument, NULL, 't'},
        {"key", required_argument, NULL, 'k'},
        {"certificate-identity", required_argument, NULL, 'i'},
        {"certificate-oidc-issuer", required_argument, NULL, 'I'},
        {"repository", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    memset(a, 0, sizeof(*a));
    a->profile = "locked-read-only";
    a->node = "default";
    a->merod = "merod";
    optind = 0;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'p':
            a->profile = optarg;
            break;
        case 'r':
            a->release = optarg;
            break;
        case 'u':
            a->kms_url = optarg;
            break;
        case 'o':
            a->out = optarg;
            break;
        case 'v':
            a->version = optarg;
            break;
        case 'a':
            a->apply = 1;
            break;
        case 'H':
            a->home = optarg;
            break;
        case 'n':
            a->node = optarg;
            break;
        case 'd':
            a->dry_run = 1;
            break;
        case 'm':
            a->merod = optarg;
            break;
        case 't':
            a->trust.trusted_root = optarg;
            break;
        case 'k':
            a->trust.key = optarg;
            break;
        case 'i':
            a->trust.identity = optarg;
            break;
        case 'I':
            a->trust.issuer = optarg;
            break;
        case 'R':
            a->trust.repository = optarg;
            break;
        case 'h':
            policy_usage(stdout);
            return 1;
        default:
            policy_usage(stderr);
            return -1;
        }
    }
    if (optind != argc || a->release == NULL || a->kms_url == NULL) {
        fprintf(stderr, "mero-tee policy merod-config: --release and --kms-url are required\n");
        return -1;
    }
    if (mt_rel_profile_index(a->profile) < 0) {
        fprintf(stderr, "mero-tee policy merod-config: --profile: unknown profile '%s'\n",
                a->profile);
        return -1;
    }
    if (mt_rel_kms_url_check(a->kms_url) != MT_OK) {
        fprintf(stderr, "mero-tee policy merod-config: --kms-url: want an http(s) URL without "
                        "spaces, quotes or backslashes\n");
        return -1;
    }
    if (a->apply != (a->home != NULL) || (a->dry_run && !a->apply)) {
        fprintf(stderr, "mero-tee policy merod-config: --apply and --merod-home go together; "
                        "--dry-run needs --apply\n");
        return -1;
    }
    return 0;
}

/* The version from "…/mero-kms-vX.Y.Z[/]" into out. */
static int
version_from(const char *release, char *out, size_t out_len)
{
    size_t n = strlen(release);
    const char *end, *start;

    while (n > 0 && release[n - 1] == '/')
        n--;
    end = release + n;
    start = end;
    while (start > release && start[-1] != '/')
        start--;
    if ((size_t)(end - start) <= 10 || strncmp(start, "mero-kms-v", 10) != 0 ||
        (size_t)(end - start - 10) >= out_len)
        return -1;
    memcpy(out, start + 10, (size_t)(end - start - 10));
    out[end - start - 10] = '\0';
    return mt_rel_version_check(out) == MT_OK ? 0 : -1;
}

static void
remove_dir(const char *dir)
{
    char path[MT_REL_MAX_PATH];
    struct dirent *de;
    DIR *d = opendir(dir);

    if (d != NULL) {
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
                mt_rel_path(dir, de->d_name, path, sizeof(path)) == MT_OK)
                unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* A fresh private directory under $TMPDIR (default /tmp) for a downloaded release. */
static int
temp_dir(char *out, size_t out_len)
{
    const char *base = getenv("TMPDIR");
    int n;

    if (base == NULL || base[0] != '/' || strlen(base) > MT_REL_MAX_PATH / 2)
        base = "/tmp";
    n = snprintf(out, out_len, "%s/mero-tee-release-XXXXXX", base);
    if (n <= 0 || (size_t)n >= out_len || mkdtemp(out) == NULL)
        return -1;
    return 0;
}

/* Print one argument shell-quoted ('...' with ' as '\''). */
static void
print_quoted(const char *s)
{
    putchar('\'');
    for (; *s != '\0'; s++) {
        if (*s == '\'')
            fputs("'\\''", stdout);
        else
            putchar(*s);
    }
    putchar('\'');
}

/*
 * Run argv (argv[0] a path, or a name looked up in PATH) directly, without
 * a shell.  *status gets the wait status; *exec_errno the errno of a
 * failed exec (0 when the program ran), passed back over a close-on-exec
 * pipe so that "could not be run" is told apart from "exited 127".
 */
static int
run(char *const argv[], int *status, int *exec_errno)
{
    int fds[2], err = 0;
    ssize_t n;
    pid_t pid;

    *exec_errno = 0;
    if (pipe(fds) != 0)
        return -1;
    if (fcntl(fds[0], F_SETFD, FD_CLOEXEC) != 0 || fcntl(fds[1], F_SETFD, FD_CLOEXEC) != 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        execvp(argv[0], argv);
        err = errno;
        if (write(fds[1], &err, sizeof(err)) < 0)
            _exit(127);
        _exit(127);
    }
    close(fds[1]);
    do
        n = read(fds[0], &err, sizeof(err));
    while (n < 0 && errno == EINTR);
    close(fds[0]);
    if (n == (ssize_t)sizeof(err))
        *exec_errno = err != 0 ? err : EIO;
    while (waitpid(pid, status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return 0;
}

/*
 * 3.9: `merod --home H --node N config KEY=VALUE` once per setting, in
 * order, each an argument vector of its own (no shell: values with quotes,
 * brackets or spaces reach merod as they are).  The first command that
 * cannot be run or does not exit 0 stops the run; stderr names it, its
 * position, its exit status (or signal) and how many were applied before
 * it.
 */
static int
apply(const struct args *a, char *settings[MT_REL_MEROD_SETTINGS])
{
    size_t i, k;

    for (i = 0; i < MT_REL_MEROD_SETTINGS; i++) {
        char *argv[] = {(char *)a->merod, "--home", (char *)a->home, "--node",
                        (char *)a->node,  "config", settings[i],     NULL};
        int status = 0, exec_errno = 0;

        if (a->dry_run) {
            for (k = 0; argv[k] != NULL; k++) {
                if (k > 0)
                    putchar(' ');
                print_quoted(argv[k]);
            }
            putchar('\n');
            continue;
        }
        if (run(argv, &status, &exec_errno) != 0) {
            fprintf(stderr, "mero-tee policy merod-config: merod config %s: %s (%s)\n", settings[i],
                    strerror(errno), mt_err_code(MT_ERR_RELEASE_MEROD));
            return MT_EXIT_FAIL;
        }
        if (exec_errno != 0) {
            fprintf(stderr,
                    "mero-tee policy merod-config: command %zu of %d: cannot run %s: %s; "
                    "%zu of %d settings applied (%s)\n",
                    i + 1, MT_REL_MEROD_SETTINGS, a->merod, strerror(exec_errno), i,
                    MT_REL_MEROD_SETTINGS, mt_err_code(MT_ERR_RELEASE_MEROD));
            return MT_EXIT_FAIL;
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            printf("applied %s\n", settings[i]);
            continue;
        }
        if (WIFEXITED(status))
            fprintf(stderr,
                    "mero-tee policy merod-config: command %zu of %d failed with exit status "
                    "%d: merod config %s; %zu of %d settings applied (%s)\n",
                    i + 1, MT_REL_MEROD_SETTINGS, WEXITSTATUS(status), settings[i], i,
                    MT_REL_MEROD_SETTINGS, mt_err_code(MT_ERR_RELEASE_MEROD));
        else
            fprintf(stderr,
                    "mero-tee policy merod-config: command %zu of %d killed by signal %d: merod "
                    "config %s; %zu of %d settings applied (%s)\n",
                    i + 1, MT_REL_MEROD_SETTINGS, WIFSIGNALED(status) ? WTERMSIG(status) : 0,
                    settings[i], i, MT_REL_MEROD_SETTINGS, mt_err_code(MT_ERR_RELEASE_MEROD));
        return MT_EXIT_FAIL;
    }
    return MT_EXIT_OK;
}

int
mt_cmd_policy(int argc, char **argv)
{
    struct mt_rel_loaded loaded;
    struct mt_rel_report r;
    struct args a;
    struct mt_buf toml;
    char version[MT_REL_MAX_VERSION + 1], why[1024], tmp[MT_REL_MAX_PATH];
    char *settings[MT_REL_MEROD_SETTINGS] = {NULL};
    const char *dir;
    const json_t *doc;
    int rc, fetched = 0, idx;
    mt_err e;

    if (argc < 2 || strcmp(argv[1], "merod-config") != 0) {
        policy_usage(stderr);
        return MT_EXIT_USAGE;
    }
    rc = parse(argc - 1, argv + 1, &a);
    if (rc != 0)
        return rc > 0 ? MT_EXIT_OK : MT_EXIT_USAGE;
    if (a.version != NULL) {
        if (strncmp(a.version, "mero-kms-v", 10) == 0)
            a.version += 10;
        if (mt_rel_version_check(a.version) != MT_OK || strlen(a.version) >= sizeof(version)) {
            fprintf(stderr, "mero-tee policy merod-config: --version: want X.Y.Z\n");
            return MT_EXIT_USAGE;
        }
        memcpy(version, a.version, strlen(a.version) + 1);
    } else if (version_from(a.release, version, sizeof(version)) != 0) {
        fprintf(stderr,
                "mero-tee policy merod-config: cannot tell the version from '%s'; give "
                "--version\n",
                a.release);
        return MT_EXIT_USAGE;
    }
    dir = a.release;
    why[0] = '\0';
    if (strncmp(a.release, "https://", 8) == 0 || strncmp(a.release, "http://", 7) == 0) {
        int plain = 0;

        /* https only (http just to 127.0.0.1, for tests), no credentials: checked parsed. */
        e = mt_rel_fetch_url_check(a.release, &plain, why, sizeof(why));
        if (e != MT_OK) {
            fprintf(stderr, "mero-tee policy merod-config: --release: %s (%s)\n",
                    why[0] ? why : mt_err_message(e), mt_err_code(e));
            return e == MT_ERR_NOMEM ? MT_EXIT_FAIL : MT_EXIT_USAGE;
        }
        if (temp_dir(tmp, sizeof(tmp)) != 0) {
            perror("mero-tee policy merod-config: mkdtemp");
            return MT_EXIT_USAGE;
        }
        fetched = 1;
        e = mt_rel_fetch_release(a.release, MT_REL_KMS, tmp, why, sizeof(why));
        if (e != MT_OK) {
            fprintf(stderr, "mero-tee policy merod-config: download: %s (%s)\n",
                    why[0] ? why : mt_err_message(e), mt_err_code(e));
            remove_dir(tmp);
            return MT_EXIT_FAIL;
        }
        dir = tmp;
    }
    memset(&loaded, 0, sizeof(loaded));
    mt_rel_report_init(&r);
    rc = MT_EXIT_FAIL;
    e = mt_rel_verify_release(&a.trust, dir, MT_REL_KMS, version, &r, &loaded, why, sizeof(why));
    if (e != MT_OK) {
        fprintf(stderr, "mero-tee policy merod-config: %s\n", why[0] ? why : mt_err_message(e));
        rc = MT_EXIT_USAGE;
        goto out;
    }
    if (mt_rel_report_failed(&r) != 0) {
        size_t i;

        fprintf(stderr, "mero-tee policy merod-config: release mero-kms-v%s does not verify:\n",
                version);
        for (i = 0; i < r.n; i++) {
            if (r.v[i].err != MT_OK)
                fprintf(stderr, "FAIL %s: %s (%s)\n", r.v[i].name, r.v[i].detail,
                        mt_err_code(r.v[i].err));
        }
        goto out;
    }
    idx = mt_rel_profile_index(a.profile);
    doc = loaded.kms.policy[idx];
    if (a.apply) {
        e = mt_rel_merod_settings(doc, a.kms_url, settings);
        if (e != MT_OK) {
            fprintf(stderr, "mero-tee policy merod-config: %s\n", mt_err_message(e));
            goto out;
        }
        rc = apply(&a, settings);
        mt_rel_merod_settings_free(settings);
        goto out;
    }
    mt_buf_init(&toml, 1024u * 1024u);
    e = mt_rel_merod_toml(doc, version, a.profile, a.kms_url, &toml);
    if (e == MT_OK && a.out != NULL)
        e = mt_file_write_atomic(a.out, toml.p, toml.len, 0644);
    else if (e == MT_OK)
        fwrite(toml.p, 1, toml.len, stdout);
    mt_buf_free(&toml);
    if (e != MT_OK) {
        fprintf(stderr, "mero-tee policy merod-config: %s%s%s\n", a.out ? a.out : "",
                a.out ? ": " : "", mt_err_message(e));
        goto out;
    }
    rc = MT_EXIT_OK;
out:
    mt_rel_report_free(&r);
    mt_rel_loaded_free(&loaded);
    if (fetched)
        remove_dir(tmp);
    return rc;
}
