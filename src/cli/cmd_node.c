#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli/cli.h"
#include "cli/cli_io.h"
#include "dcap/x509.h"
#include "identity/identity.h"
#include "kmsclient/kmsclient.h"
#include "pccs/pccs.h"
#include "util/mt_alloc.h"
#include "util/mt_b64.h"
#include "util/mt_file.h"
#include "util/mt_hex.h"
#include "util/mt_limits.h"
#include "util/mt_secret.h"
#include "util/mt_time.h"

/*
 * mero-tee node keygen --out FILE
 * mero-tee node peer-id --identity FILE
 * mero-tee node get-key --kms URL [...]
 *
 * The node's side of the KMS protocol (merod's, mero-tee-reference.md
 * 2.3-2.8), as a tool: make a node identity, show its peer ID, and run the
 * key release against a KMS with a probe result (merod kms probe) as the
 * outcome.  Exit status 0 only when a key was obtained.
 */

static void
node_usage(FILE *f)
{
    fprintf(
        f,
        "usage: mero-tee node keygen --out FILE\n"
        "       mero-tee node peer-id --identity FILE\n"
        "       mero-tee node get-key --kms URL [--quote-source dstack[:SOCKET]|tsm[:DIR]|mock]\n"
        "           [--identity KEYFILE] [--policy FILE] [--pccs URL]... [--trust-root FILE]\n"
        "           [--binding-b64 B] [--allow-mock-kms] [--insecure-http] [--ca-file FILE]\n"
        "           [--key-out FILE] [--show-key] [--json] [--now UNIX]\n"
        "  keygen           write a new Ed25519 identity key (PKCS#8 PEM, mode 0600) and print\n"
        "                   its peer ID; an existing FILE is never replaced\n"
        "  peer-id          print the peer ID and the base64 libp2p public key of an identity\n"
        "  get-key          obtain the node's storage key from a KMS:\n"
        "    --kms URL            KMS base URL; https, or http to 127.0.0.0/8 or [::1] only\n"
        "    --quote-source S     dstack[:SOCKET] (guest agent), tsm[:DIR] (configfs-TSM,\n"
        "                         the default), mock (only a KMS in mock mode accepts it)\n"
        "    --identity KEYFILE   the node key (mode 0600); default: a throwaway key\n"
        "    --policy FILE        verify the KMS first (Plane 1) against this release policy\n"
        "                         (kms-phala-attestation-policy.<profile>.json, kms_allowed_*)\n"
        "    --pccs URL           collateral source for the KMS quote (repeat; default Intel PCS)\n"
        "    --trust-root FILE    DCAP root certificate (DER or PEM); development only\n"
        "    --binding-b64 B      32-byte attest binding (default: the policy's, else the\n"
        "                         reference's domain separator)\n"
        "    --allow-mock-kms     accept a mock KMS quote (development only)\n"
        "    --insecure-http      allow plain http to any host (development only)\n"
        "    --ca-file FILE       PEM CA bundle for the KMS's https certificate\n"
        "    --key-out FILE       write the key bytes to FILE (mode 0600, atomically)\n"
        "    --show-key           print the key as hex (it is never printed otherwise)\n"
        "    --json               print the probe result as JSON\n"
        "    --now UNIX           verification time for the KMS quote (default: now)\n");
}

static int
cmd_keygen(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL;
    char detail[512], peer[MT_PEER_ID_BUF];
    EVP_PKEY *key = NULL;
    int ch, rc = MT_EXIT_FAIL;
    mt_err e;

    optind = 0;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'o':
            out = optarg;
            break;
        case 'h':
            node_usage(stdout);
            return MT_EXIT_OK;
        default:
            node_usage(stderr);
            return MT_EXIT_USAGE;
        }
    }
    if (out == NULL || optind != argc) {
        fprintf(stderr, "mero-tee node keygen: --out FILE is required\n");
        return MT_EXIT_USAGE;
    }
    detail[0] = '\0';
    e = mt_node_key_generate(&key);
    if (e == MT_OK)
        e = mt_peer_id_from_pkey(key, peer);
    if (e == MT_OK)
        e = mt_node_key_write(out, key, detail, sizeof(detail));
    if (e != MT_OK) {
        fprintf(stderr, "mero-tee node keygen: %s\n",
                detail[0] != '\0' ? detail : mt_err_message(e));
        rc = e == MT_ERR_ARG ? MT_EXIT_USAGE : MT_EXIT_FAIL;
    } else {
        printf("%s\n", peer);
        rc = MT_EXIT_OK;
    }
    EVP_PKEY_free(key);
    return rc;
}

static int
load_identity(const char *what, const char *path, EVP_PKEY **key)
{
    char detail[512];
    mt_err e;

    e = mt_node_key_load(path, key, detail, sizeof(detail));
    if (e != MT_OK) {
        fprintf(stderr, "mero-tee node %s: %s\n", what,
                detail[0] != '\0' ? detail : mt_err_message(e));
        return -1;
    }
    return 0;
}

static int
cmd_peer_id(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"identity", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    uint8_t pb[MT_LIBP2P_ED25519_PB_LEN];
    char peer[MT_PEER_ID_BUF], *b64 = NULL;
    EVP_PKEY *key = NULL;
    int ch, rc = MT_EXIT_FAIL;

    optind = 0;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'i':
            path = optarg;
            break;
        case 'h':
            node_usage(stdout);
            return MT_EXIT_OK;
        default:
            node_usage(stderr);
            return MT_EXIT_USAGE;
        }
    }
    if (path == NULL || optind != argc) {
        fprintf(stderr, "mero-tee node peer-id: --identity FILE is required\n");
        return MT_EXIT_USAGE;
    }
    if (load_identity("peer-id", path, &key) != 0)
        return MT_EXIT_USAGE;
    if (mt_peer_id_from_pkey(key, peer) == MT_OK && mt_libp2p_pubkey_encode(key, pb) == MT_OK &&
        (b64 = mt_b64_encode_alloc(pb, sizeof(pb))) != NULL) {
        printf("peer_id %s\npublic_key_b64 %s\n", peer, b64);
        rc = MT_EXIT_OK;
    } else {
        fprintf(stderr, "mero-tee node peer-id: cannot encode the key\n");
    }
    mt_free(b64);
    EVP_PKEY_free(key);
    return rc;
}

struct get_key_args {
    const char *kms, *quote_source, *identity, *policy, *trust_root, *binding_b64, *key_out;
    const char *ca_file;
    const char *pccs[MT_PCCS_MAX_URLS];
    size_t num_pccs;
    int allow_mock, insecure_http, show_key, json;
    int64_t now;
};

static int
get_key_args_parse(int argc, char **argv, struct get_key_args *a)
{
    static const struct option longopts[] = {
        {"kms", required_argument, NULL, 'k'},
        {"quote-source", required_argument, NULL, 'q'},
        {"identity", required_argument, NULL, 'i'},
        {"policy", required_argument, NULL, 'p'},
        {"pccs", required_argument, NULL, 'P'},
        {"trust-root", required_argument, NULL, 'r'},
        {"binding-b64", required_argument, NULL, 'b'},
        {"allow-mock-kms", no_argument, NULL, 'M'},
        {"insecure-http", no_argument, NULL, 'I'},
        {"ca-file", required_argument, NULL, 'c'},
        {"key-out", required_argument, NULL, 'o'},
        {"show-key", no_argument, NULL, 'S'},
        {"json", no_argument, NULL, 'j'},
        {"now", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    memset(a, 0, sizeof(*a));
    a->quote_source = "tsm";
    optind = 0;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'k':
            a->kms = optarg;
            break;
        case 'q':
            a->quote_source = optarg;
            break;
        case 'i':
            a->identity = optarg;
            break;
        case 'p':
            a->policy = optarg;
            break;
        case 'P':
            if (a->num_pccs == MT_PCCS_MAX_URLS) {
                fprintf(stderr, "mero-tee node get-key: at most %u --pccs URLs\n",
                        MT_PCCS_MAX_URLS);
                return -1;
            }
            a->pccs[a->num_pccs++] = optarg;
            break;
        case 'r':
            a->trust_root = optarg;
            break;
        case 'b':
            a->binding_b64 = optarg;
            break;
        case 'M':
            a->allow_mock = 1;
            break;
        case 'I':
            a->insecure_http = 1;
            break;
        case 'c':
            a->ca_file = optarg;
            break;
        case 'o':
            a->key_out = optarg;
            break;
        case 'S':
            a->show_key = 1;
            break;
        case 'j':
            a->json = 1;
            break;
        case 'n':
            if (mt_parse_int64(optarg, &a->now) != MT_OK || a->now <= 0) {
                fprintf(stderr, "mero-tee node get-key: bad --now '%s' (Unix seconds)\n", optarg);
                return -1;
            }
            break;
        case 'h':
            node_usage(stdout);
            return 1;
        default:
            return -1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "mero-tee node get-key: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return 0;
}

/* Print the result (and the key, when asked) and return the exit status. */
static int
report(const struct get_key_args *a, const struct mt_kc_result *r, const struct mt_secret *key)
{
    char *hex = NULL;
    json_t *j;

    if (r->ok && a->show_key) {
        hex = mt_malloc(2 * key->len + 1);
        if (hex == NULL) {
            fprintf(stderr, "mero-tee node get-key: out of memory\n");
            return MT_EXIT_FAIL;
        }
        mt_hex_encode(key->p, key->len, hex);
    }
    if (a->json) {
        j = mt_kc_result_to_json(r);
        if (j != NULL && hex != NULL && json_object_set_new(j, "key", json_string(hex)) != 0) {
            json_decref(j);
            j = NULL;
        }
        if (j == NULL) {
            fprintf(stderr, "mero-tee node get-key: out of memory\n");
        } else {
            mt_cli_print_json(j);
            /* the key's hex went through jansson: nothing more can be wiped there */
            json_decref(j);
        }
    } else if (r->ok) {
        fprintf(stderr, "mero-tee node get-key: %s\n", r->details);
        if (hex != NULL)
            printf("%s\n", hex);
    } else {
        fprintf(stderr, "mero-tee node get-key: %s: %s%s%s%s: %s\n", mt_kc_stage_name(r->stage),
                r->code, r->kms_error[0] != '\0' ? " (" : "", r->kms_error,
                r->kms_error[0] != '\0' ? ")" : "", r->details);
    }
    fflush(stdout);
    if (hex != NULL) {
        OPENSSL_cleanse(hex, 2 * key->len + 1);
        mt_free(hex);
    }
    return r->ok ? MT_EXIT_OK : MT_EXIT_FAIL;
}

static int
cmd_get_key(int argc, char **argv)
{
    struct get_key_args a;
    struct mt_kc_opts o;
    struct mt_kc_result r;
    struct mt_quote_source src;
    struct mt_policy *policy = NULL;
    struct mt_secret key;
    EVP_PKEY *identity = NULL;
    uint8_t *root = NULL, *root_der = NULL, *binding = NULL;
    size_t root_len = 0, root_der_len = 0, binding_len = 0;
    char why[512], peer[MT_PEER_ID_BUF];
    int rc = MT_EXIT_USAGE, curl_ready = 0;
    mt_err e;

    memset(&key, 0, sizeof(key));
    switch (get_key_args_parse(argc, argv, &a)) {
    case 0:
        break;
    case 1:
        return MT_EXIT_OK;
    default:
        node_usage(stderr);
        return MT_EXIT_USAGE;
    }
    mt_kc_opts_init(&o);
    if (mt_quote_source_parse(a.quote_source, &src) != MT_OK) {
        fprintf(stderr, "mero-tee node get-key: bad --quote-source '%s'\n", a.quote_source);
        goto out;
    }
    if (a.identity != NULL) {
        if (load_identity("get-key", a.identity, &identity) != 0)
            goto out;
    } else {
        if (mt_node_key_generate(&identity) != MT_OK ||
            mt_peer_id_from_pkey(identity, peer) != MT_OK) {
            fprintf(stderr, "mero-tee node get-key: cannot make a throwaway identity\n");
            rc = MT_EXIT_FAIL;
            goto out;
        }
        fprintf(stderr,
                "mero-tee node get-key: no --identity: using a throwaway identity (peer %s)\n",
                peer);
    }
    if (a.policy != NULL) {
        e = mt_kc_policy_load(a.policy, &policy, why, sizeof(why));
        if (e != MT_OK) {
            fprintf(stderr, "mero-tee node get-key: policy %s: %s\n", a.policy,
                    why[0] != '\0' ? why : mt_err_message(e));
            goto out;
        }
    } else if (a.trust_root != NULL || a.num_pccs > 0 || a.binding_b64 != NULL || a.allow_mock) {
        fprintf(stderr, "mero-tee node get-key: --trust-root, --pccs, --binding-b64 and "
                        "--allow-mock-kms apply to KMS verification, which needs --policy\n");
        goto out;
    }
    if (a.binding_b64 != NULL && (mt_b64_decode_alloc(a.binding_b64, strlen(a.binding_b64), 32,
                                                      &binding, &binding_len) != MT_OK ||
                                  binding_len != 32)) {
        fprintf(stderr, "mero-tee node get-key: --binding-b64 must be base64 of 32 bytes\n");
        goto out;
    }
    if (a.trust_root != NULL) {
        e = mt_file_read(a.trust_root, MT_MAX_FILE_SIZE, &root, &root_len);
        if (e == MT_OK)
            e = mt_root_load(root, root_len, &root_der, &root_der_len);
        if (e != MT_OK) {
            mt_cli_error(a.trust_root, e);
            goto out;
        }
        fprintf(stderr, "mero-tee node get-key: WARNING: --trust-root replaces the Intel SGX "
                        "Root CA; for development and tests only\n");
    }
    if (a.insecure_http)
        fprintf(stderr, "mero-tee node get-key: WARNING: --insecure-http allows plain http to "
                        "any host\n");
    if (a.allow_mock)
        fprintf(stderr, "mero-tee node get-key: WARNING: --allow-mock-kms accepts an "
                        "unauthenticated KMS quote\n");

    o.http.url = a.kms;
    o.http.insecure_http = a.insecure_http;
    o.http.ca_file = a.ca_file;
    o.policy = policy;
    o.binding = binding;
    o.allow_mock_kms = a.allow_mock;
    o.pccs_urls = a.pccs;
    o.num_pccs_urls = a.num_pccs;
    o.trust_root_der = root_der;
    o.trust_root_der_len = root_der_len;
    o.now = a.now;
    o.quote_source = &src;
    o.identity = identity;

    if (mt_pccs_global_init() != MT_OK) {
        fprintf(stderr, "mero-tee node get-key: cannot initialise libcurl\n");
        rc = MT_EXIT_FAIL;
        goto out;
    }
    curl_ready = 1;
    e = mt_kc_get_key(&o, &key, &r);
    if (e == MT_OK && a.key_out != NULL &&
        mt_file_write_atomic(a.key_out, key.p, key.len, 0600) != MT_OK) {
        fprintf(stderr, "mero-tee node get-key: cannot write %s: %s\n", a.key_out, strerror(errno));
        rc = MT_EXIT_FAIL;
        goto out;
    }
    rc = report(&a, &r, &key);
out:
    if (curl_ready)
        mt_pccs_global_cleanup();
    mt_secret_free(&key);
    mt_policy_free(policy);
    EVP_PKEY_free(identity);
    mt_free(root);
    mt_free(root_der);
    mt_free(binding);
    return rc;
}

int
mt_cmd_node(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "keygen") == 0)
        return cmd_keygen(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "peer-id") == 0)
        return cmd_peer_id(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "get-key") == 0)
        return cmd_get_key(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        node_usage(stdout);
        return MT_EXIT_OK;
    }
    fprintf(stderr, "mero-tee node: unknown or missing sub-command\n");
    node_usage(stderr);
    return MT_EXIT_USAGE;
}
