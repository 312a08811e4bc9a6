#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "cli/cli.h"
#include "cli/cli_io.h"
#include "release/assemble.h"
#include "release/sign.h"
#include "release/verify.h"
#include "util/mt_alloc.h"

/*
 * mero-tee release verify DIR --family kms|node --version X.Y.Z [...]
 * mero-tee release assemble --meta F --node-probe F... --kms-probe F... --binary F...
 *     --container-sbom F --out DIR
 * mero-tee release sign DIR --key KEY
 *
 * The release tooling of mero-tee-reference.md section 3, offline
 * (docs/release-verification.md).  Exit status: 0 success (verify: every
 * check passed), 1 a check failed or the work failed, 2 unusable arguments
 * or unreadable inputs.
 */

static void
release_usage(FILE *f)
{
    fprintf(f, "usage: mero-tee release verify DIR --family kms|node --version X.Y.Z\n"
               "           [--trusted-root FILE] [--key PUBKEY] [--certificate-identity SAN]\n"
               "           [--certificate-oidc-issuer ISSUER] [--repository OWNER/NAME] [--json]\n"
               "       mero-tee release assemble --meta FILE --node-probe FILE (x3)\n"
               "           --kms-probe FILE (x3) --binary FILE... --container-sbom FILE\n"
               "           --out DIR\n"
               "       mero-tee release sign DIR --key PRIVATE-KEY.pem\n"
               "  verify    check a downloaded release directory offline: assets, checksums,\n"
               "            schemas, cross-document consistency, profile separation and every\n"
               "            asset's signature; one PASS/FAIL line per check and a summary\n"
               "    --trusted-root FILE   Sigstore trusted_root.json (keyless bundles)\n"
               "    --key PUBKEY          PEM public key (releases signed by `release sign`)\n"
               "    --certificate-identity, --certificate-oidc-issuer\n"
               "                          override the family's workflow identity and issuer\n"
               "    --repository R        the GitHub repository the identity names (forks)\n"
               "  assemble  write mero-kms-vX.Y.Z/ and mero-tee-vX.Y.Z/ under DIR from probe\n"
               "            results (formats: docs/release-verification.md); the container\n"
               "            SBOM (syft <image> -o spdx-json) is copied in as given\n"
               "  sign      write <asset>.sig and <asset>.bundle.json for every asset in DIR\n"
               "            with an EC P-256 private key (PEM, unencrypted)\n");
}

static int
parse_family(const char *s, enum mt_rel_family *f)
{
    if (strcmp(s, "kms") == 0)
        *f = MT_REL_KMS;
    else if (strcmp(s, "node") == 0)
        *f = MT_REL_NODE;
    else
        return -1;
    return 0;
}

/* "X.Y.Z", or the family's tag ("mero-kms-vX.Y.Z"). */
static const char *
strip_tag(const char *v, enum mt_rel_family f)
{
    const char *p = mt_rel_tag_prefix(f);
    size_t n = strlen(p);

    return strncmp(v, p, n) == 0 ? v + n : v;
}

static int
print_report(const struct mt_rel_report *r, const char *title, int as_json)
{
    struct mt_buf b;

    if (as_json) {
        json_t *j = mt_rel_report_json(r, title);

        if (j == NULL) {
            /* Report strings are valid UTF-8 (report.c): only an internal failure gets here. */
            fprintf(stderr,
                    "mero-tee release verify: internal error: the JSON report could not "
                    "be built (%s)\n",
                    mt_err_code(MT_ERR_INTERNAL));
            return MT_EXIT_FAIL;
        }
        mt_cli_print_json(j);
        json_decref(j);
    } else {
        mt_buf_init(&b, 4u * 1024u * 1024u);
        if (mt_rel_report_text(r, title, &b) != MT_OK) {
            mt_buf_free(&b);
            fprintf(stderr,
                    "mero-tee release verify: internal error: the report could not be "
                    "printed (%s)\n",
                    mt_err_code(MT_ERR_INTERNAL));
            return MT_EXIT_FAIL;
        }
        fwrite(b.p, 1, b.len, stdout);
        mt_buf_free(&b);
    }
    return mt_rel_report_failed(r) == 0 && r->n > 0 ? MT_EXIT_OK : MT_EXIT_FAIL;
}

static int
cmd_verify(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"family", required_argument, NULL, 'f'},
        {"version", required_argument, NULL, 'v'},
        {"trusted-root", required_argument, NULL, 't'},
        {"key", required_argument, NULL, 'k'},
        {"certificate-identity", required_argument, NULL, 'i'},
        {"certificate-oidc-issuer", required_argument, NULL, 'o'},
        {"repository", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct mt_rel_trust_cfg cfg;
    struct mt_rel_report r;
    enum mt_rel_family fam = MT_REL_KMS;
    const char *dir = NULL, *version = NULL, *family = NULL;
    char why[512], title[128];
    int ch, as_json = 0, rc;
    mt_err e;

    memset(&cfg, 0, sizeof(cfg));
    optind = 0;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'f':
            family = optarg;
            break;
        case 'v':
            version = optarg;
            break;
        case 't':
            cfg.trusted_root = optarg;
            break;
        case 'k':
            cfg.key = optarg;
            break;
        case 'i':
            cfg.identity = optarg;
            break;
        case 'o':
            cfg.issuer = optarg;
            break;
        case 'r':
            cfg.repository = optarg;
            break;
        case 'j':
            as_json = 1;
            break;
        case 'h':
            release_usage(stdout);
            return MT_EXIT_OK;
        default:
            release_usage(stderr);
            return MT_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc || family == NULL || version == NULL ||
        parse_family(family, &fam) != 0) {
        fprintf(stderr, "mero-tee release verify: want DIR --family kms|node --version X.Y.Z\n");
        return MT_EXIT_USAGE;
    }
    dir = argv[optind];
    version = strip_tag(version, fam);
    if (mt_rel_version_check(version) != MT_OK) {
        fprintf(stderr, "mero-tee release verify: --version: want X.Y.Z\n");
        return MT_EXIT_USAGE;
    }
    mt_rel_report_init(&r);
    why[0] = '\0';
    e = mt_rel_verify_release(&cfg, dir, fam, version, &r, NULL, why, sizeof(why));
    if (e != MT_OK) {
        fprintf(stderr, "mero-tee release verify: %s\n", why[0] ? why : mt_err_message(e));
        mt_rel_report_free(&r);
        return MT_EXIT_USAGE;
    }
    snprintf(title, sizeof(title), "%s%s", mt_rel_tag_prefix(fam), version);
    rc = print_report(&r, title, as_json);
    mt_rel_report_free(&r);
    return rc;
}

static int
cmd_assemble(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"meta", required_argument, NULL, 'm'},
        {"node-probe", required_argument, NULL, 'n'},
        {"kms-probe", required_argument, NULL, 'k'},
        {"binary", required_argument, NULL, 'b'},
        {"container-sbom", required_argument, NULL, 'c'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *meta_path = NULL, *node[8], *kms[8], *bins[MT_REL_MAX_BINARIES];
    size_t n_node = 0, n_kms = 0, n_bins = 0, i;
    struct mt_rel_assemble_in in;
    json_t *meta = NULL, *probes[2][MT_REL_NUM_PROFILES];
    char why[512];
    int ch, rc = MT_EXIT_USAGE;
    mt_err e;

    memset(&in, 0, sizeof(in));
    memset(probes, 0, sizeof(probes));
    optind = 0;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'm':
            meta_path = optarg;
            break;
        case 'n':
            if (n_node == 8)
                goto usage;
            node[n_node++] = optarg;
            break;
        case 'k':
            if (n_kms == 8)
                goto usage;
            kms[n_kms++] = optarg;
            break;
        case 'b':
            if (n_bins == MT_REL_MAX_BINARIES)
                goto usage;
            bins[n_bins++] = optarg;
            break;
        case 'c':
            in.container_sbom = optarg;
            break;
        case 'o':
            in.out_dir = optarg;
            break;
        case 'h':
            release_usage(stdout);
            return MT_EXIT_OK;
        default:
            goto usage;
        }
    }
    if (optind != argc || meta_path == NULL || in.out_dir == NULL || in.container_sbom == NULL ||
        n_node != MT_REL_NUM_PROFILES || n_kms != MT_REL_NUM_PROFILES || n_bins == 0)
        goto usage;
    e = mt_rel_probe_load(meta_path, MT_REL_PROBE_META, &meta, why, sizeof(why));
    for (i = 0; e == MT_OK && i < 2 * MT_REL_NUM_PROFILES; i++) {
        int k = i >= MT_REL_NUM_PROFILES;
        const char *path = k ? kms[i - MT_REL_NUM_PROFILES] : node[i];
        json_t *p = NULL;
        int idx;

        e = mt_rel_probe_load(path, k ? MT_REL_PROBE_KMS : MT_REL_PROBE_NODE, &p, why, sizeof(why));
        if (e != MT_OK) {
            fprintf(stderr, "mero-tee release assemble: %s: %s\n", path, why);
            goto out;
        }
        idx = mt_rel_profile_index(json_string_value(json_object_get(p, "profile")));
        if (probes[k][idx] != NULL) {
            fprintf(stderr, "mero-tee release assemble: two %s probes for %s\n", k ? "KMS" : "node",
                    mt_rel_profiles[idx]);
            json_decref(p);
            goto out;
        }
        probes[k][idx] = p;
    }
    if (e != MT_OK) {
        fprintf(stderr, "mero-tee release assemble: %s: %s\n", meta_path, why);
        goto out;
    }
    in.meta = meta;
    for (i = 0; i < MT_REL_NUM_PROFILES; i++) {
        in.node_probe[i] = probes[0][i];
        in.kms_probe[i] = probes[1][i];
    }
    in.binaries = bins;
    in.num_binaries = n_bins;
    e = mt_rel_assemble(&in, why, sizeof(why));
    if (e != MT_OK) {
        fprintf(stderr, "mero-tee release assemble: %s\n", why[0] ? why : mt_err_message(e));
        rc = e == MT_ERR_ARG ? MT_EXIT_USAGE : MT_EXIT_FAIL;
        goto out;
    }
    printf("assembled %s/mero-kms-v%s and %s/mero-tee-v%s\n", in.out_dir,
           json_string_value(json_object_get(meta, "version")), in.out_dir,
           json_string_value(json_object_get(meta, "version")));
    rc = MT_EXIT_OK;
out:
    json_decref(meta);
    for (i = 0; i < MT_REL_NUM_PROFILES; i++) {
        json_decref(probes[0][i]);
        json_decref(probes[1][i]);
    }
    return rc;
usage:
    fprintf(stderr, "mero-tee release assemble: want --meta FILE, three --node-probe, three "
                    "--kms-probe, at least one --binary, --container-sbom FILE and --out DIR\n");
    return MT_EXIT_USAGE;
}

static int
cmd_sign(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"key", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *key_path = NULL;
    EVP_PKEY *key = NULL;
    char why[512];
    size_t n = 0;
    int ch;
    mt_err e;

    optind = 0;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'k':
            key_path = optarg;
            break;
        case 'h':
            release_usage(stdout);
            return MT_EXIT_OK;
        default:
            release_usage(stderr);
            return MT_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc || key_path == NULL) {
        fprintf(stderr, "mero-tee release sign: want DIR --key KEY\n");
        return MT_EXIT_USAGE;
    }
    e = mt_rel_sign_key_load(key_path, &key);
    if (e != MT_OK) {
        fprintf(stderr, "mero-tee release sign: --key %s: %s\n", key_path, mt_err_message(e));
        return MT_EXIT_USAGE;
    }
    why[0] = '\0';
    e = mt_rel_sign_dir(argv[optind], key, &n, why, sizeof(why));
    EVP_PKEY_free(key);
    if (e != MT_OK) {
        fprintf(stderr, "mero-tee release sign: %s\n", why[0] ? why : mt_err_message(e));
        return e == MT_ERR_IO || e == MT_ERR_ARG ? MT_EXIT_USAGE : MT_EXIT_FAIL;
    }
    printf("signed %zu assets in %s\n", n, argv[optind]);
    return MT_EXIT_OK;
}

int
mt_cmd_release(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "verify") == 0)
        return cmd_verify(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "assemble") == 0)
        return cmd_assemble(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "sign") == 0)
        return cmd_sign(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        release_usage(stdout);
        return MT_EXIT_OK;
    }
    release_usage(stderr);
    return MT_EXIT_USAGE;
}
