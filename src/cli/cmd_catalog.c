#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "release/assemble.h"
#include "release/catalog.h"
#include "util/mt_alloc.h"
#include "util/mt_file.h"

/*
 * mero-tee catalog update --releases DIR... [--out FILE] [trust options]
 *
 * Each DIR holds release directories side by side (what `release assemble
 * --out DIR` writes): every mero-kms-vX.Y.Z/ with its mero-tee-vX.Y.Z/.
 * A version is listed only when both verify and agree (catalog.h).  Exit 0
 * when every version found was listed, 1 when some were left out (the
 * catalog is written either way, with the reasons on stderr), 2 for usage
 * errors.
 */

#define MAX_RELEASE_DIRS 64
#define MAX_VERSIONS 1024

static void
catalog_usage(FILE *f)
{
    fprintf(f, "usage: mero-tee catalog update --releases DIR... [--out FILE]\n"
               "           [--trusted-root FILE] [--key PUBKEY] [--repository OWNER/NAME]\n"
               "  every DIR/mero-kms-vX.Y.Z with DIR/mero-tee-vX.Y.Z is verified (both families\n"
               "  and their agreement); compatibility-catalog.json lists those that pass\n");
}

static int
check_version(const struct mt_rel_trust_cfg *trust, const char *root, const char *version,
              json_t *entries)
{
    char kms[MT_REL_MAX_PATH], node[MT_REL_MAX_PATH], why[512];
    struct mt_rel_report r;
    json_t *entry = NULL;
    struct stat st;
    size_t i;
    mt_err e;

    if (mt_rel_family_dir(root, MT_REL_KMS, version, kms, sizeof(kms)) != MT_OK ||
        mt_rel_family_dir(root, MT_REL_NODE, version, node, sizeof(node)) != MT_OK)
        return -1;
    if (stat(node, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "excluded %s: no %s beside %s\n", version, node, kms);
        return 1;
    }
    mt_rel_report_init(&r);
    why[0] = '\0';
    e = mt_rel_catalog_check(trust, kms, node, version, &r, &entry, why, sizeof(why));
    if (e != MT_OK) {
        fprintf(stderr, "excluded %s: %s\n", version, why[0] ? why : mt_err_message(e));
        mt_rel_report_free(&r);
        return e == MT_ERR_NOMEM ? -1 : 1;
    }
    if (entry == NULL) {
        fprintf(stderr, "excluded %s: %zu failed checks\n", version, mt_rel_report_failed(&r));
        for (i = 0; i < r.n; i++) {
            if (r.v[i].err != MT_OK)
                fprintf(stderr, "  FAIL %s: %s (%s)\n", r.v[i].name, r.v[i].detail,
                        mt_err_code(r.v[i].err));
        }
        mt_rel_report_free(&r);
        return 1;
    }
    mt_rel_report_free(&r);
    fprintf(stderr, "included %s\n", version);
    return json_array_append_new(entries, entry) == 0 ? 0 : -1;
}

int
mt_cmd_catalog(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"releases", no_argument, NULL, 'r'},
        {"out", required_argument, NULL, 'o'},
        {"trusted-root", required_argument, NULL, 't'},
        {"key", required_argument, NULL, 'k'},
        {"repository", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct mt_rel_trust_cfg trust;
    const char *dirs[MAX_RELEASE_DIRS], *out = NULL;
    size_t n_dirs = 0, found = 0, i;
    json_t *entries = NULL, *doc = NULL;
    struct mt_buf b;
    int ch, releases = 0, excluded = 0, rc = MT_EXIT_USAGE;
    mt_err e;

    if (argc < 2 || strcmp(argv[1], "update") != 0) {
        catalog_usage(stderr);
        return MT_EXIT_USAGE;
    }
    memset(&trust, 0, sizeof(trust));
    optind = 0;
    argc--;
    argv++;
    /* --releases takes every following non-option argument. */
    while ((ch = getopt_long(argc, argv, "-h", longopts, NULL)) != -1) {
        switch (ch) {
        case 1:
            if (!releases || n_dirs == MAX_RELEASE_DIRS) {
                catalog_usage(stderr);
                return MT_EXIT_USAGE;
            }
            dirs[n_dirs++] = optarg;
            break;
        case 'r':
            releases = 1;
            break;
        case 'o':
            out = optarg;
            break;
        case 't':
            trust.trusted_root = optarg;
            break;
        case 'k':
            trust.key = optarg;
            break;
        case 'R':
            trust.repository = optarg;
            break;
        case 'h':
            catalog_usage(stdout);
            return MT_EXIT_OK;
        default:
            catalog_usage(stderr);
            return MT_EXIT_USAGE;
        }
    }
    if (n_dirs == 0) {
        fprintf(stderr, "mero-tee catalog update: --releases DIR... is required\n");
        return MT_EXIT_USAGE;
    }
    entries = json_array();
    if (entries == NULL)
        return MT_EXIT_USAGE;
    for (i = 0; i < n_dirs; i++) {
        struct dirent *de;
        DIR *d = opendir(dirs[i]);

        if (d == NULL) {
            fprintf(stderr, "mero-tee catalog update: %s: cannot open\n", dirs[i]);
            goto out;
        }
        while ((de = readdir(d)) != NULL) {
            const char *v = de->d_name + 10;
            int r;

            if (strncmp(de->d_name, "mero-kms-v", 10) != 0 || mt_rel_version_check(v) != MT_OK)
                continue;
            if (++found > MAX_VERSIONS) {
                closedir(d);
                fprintf(stderr, "mero-tee catalog update: more than %d releases\n", MAX_VERSIONS);
                goto out;
            }
            r = check_version(&trust, dirs[i], v, entries);
            if (r < 0) {
                closedir(d);
                fprintf(stderr, "mero-tee catalog update: out of memory\n");
                goto out;
            }
            excluded |= r;
        }
        closedir(d);
    }
    e = mt_rel_catalog_doc(entries, &doc);
    if (e != MT_OK) {
        fprintf(stderr, "mero-tee catalog update: %s\n",
                e == MT_ERR_ARG ? "one version appears in two --releases directories"
                                : mt_err_message(e));
        goto out;
    }
    mt_buf_init(&b, 16u * 1024u * 1024u);
    e = mt_rel_json_dump(doc, &b);
    if (e == MT_OK && out != NULL)
        e = mt_file_write_atomic(out, b.p, b.len, 0644);
    else if (e == MT_OK)
        fwrite(b.p, 1, b.len, stdout);
    mt_buf_free(&b);
    if (e != MT_OK) {
        fprintf(stderr, "mero-tee catalog update: %s\n", mt_err_message(e));
        goto out;
    }
    rc = excluded ? MT_EXIT_FAIL : MT_EXIT_OK;
out:
    json_decref(entries);
    json_decref(doc);
    return rc;
}
