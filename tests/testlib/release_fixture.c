#include "mt_testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "release/sign.h"
#include "release_fixture.h"
#include "util/mt_file.h"
#include "util/mt_hex.h"

void
release_inputs_load(struct release_inputs *ri)
{
    static const char *const bins[2] = {
        RELEASE_GOLDEN "/inputs/mero-kms-phala_x86_64-unknown-linux-gnu.tar.gz",
        RELEASE_GOLDEN "/inputs/mero-kms-phala_aarch64-unknown-linux-gnu.tar.gz"};
    char path[512], why[256];
    size_t i;

    memset(ri, 0, sizeof(*ri));
    EXPECT_OK(mt_rel_probe_load(RELEASE_GOLDEN "/inputs/meta.json", MT_REL_PROBE_META, &ri->meta,
                                why, sizeof(why)));
    for (i = 0; i < MT_REL_NUM_PROFILES; i++) {
        snprintf(path, sizeof(path), RELEASE_GOLDEN "/inputs/node-%s.json", mt_rel_profiles[i]);
        EXPECT_OK(mt_rel_probe_load(path, MT_REL_PROBE_NODE, &ri->node[i], why, sizeof(why)));
        snprintf(path, sizeof(path), RELEASE_GOLDEN "/inputs/kms-%s.json", mt_rel_profiles[i]);
        EXPECT_OK(mt_rel_probe_load(path, MT_REL_PROBE_KMS, &ri->kms[i], why, sizeof(why)));
        ri->in.node_probe[i] = ri->node[i];
        ri->in.kms_probe[i] = ri->kms[i];
    }
    ri->in.meta = ri->meta;
    ri->in.binaries = bins;
    ri->in.num_binaries = 2;
    ri->in.container_sbom = RELEASE_GOLDEN "/inputs/kms-phala-container-sbom.spdx.json";
}

void
release_inputs_free(struct release_inputs *ri)
{
    size_t i;

    json_decref(ri->meta);
    for (i = 0; i < MT_REL_NUM_PROFILES; i++) {
        json_decref(ri->node[i]);
        json_decref(ri->kms[i]);
    }
    memset(ri, 0, sizeof(*ri));
}

void
release_assemble_golden(const char *out, const char *version)
{
    struct release_inputs ri;
    char why[256];

    release_inputs_load(&ri);
    if (version != NULL)
        json_object_set_new(ri.meta, "version", json_string(version));
    ri.in.out_dir = out;
    if (mt_rel_assemble(&ri.in, why, sizeof(why)) != MT_OK)
        fail_msg("assemble %s: %s", version != NULL ? version : "the golden inputs", why);
    release_inputs_free(&ri);
}

void
release_sign_dir(const char *dir, const char *priv_path)
{
    EVP_PKEY *key = NULL;
    char why[256];

    EXPECT_OK(mt_rel_sign_key_load(priv_path, &key));
    EXPECT_OK(mt_rel_sign_dir(dir, key, NULL, why, sizeof(why)));
    EVP_PKEY_free(key);
}

void
release_make_key(const char *priv_path, const char *pub_path)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    FILE *f;

    assert_non_null(k);
    f = fopen(priv_path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    f = fopen(pub_path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PUBKEY(f, k), 1);
    fclose(f);
    EVP_PKEY_free(k);
}

void
release_write_text(const char *path, const char *text)
{
    EXPECT_OK(mt_file_write_atomic(path, text, strlen(text), 0644));
}

void
release_set_regs(json_t *o, const uint8_t mrtd[48], uint8_t rtmr[4][48])
{
    char hex[97], key[8];
    int i;

    mt_hex_encode(mrtd, 48, hex);
    json_object_set_new(o, "mrtd", json_string(hex));
    for (i = 0; i < 4; i++) {
        mt_hex_encode(rtmr[i], 48, hex);
        snprintf(key, sizeof(key), "rtmr%d", i);
        json_object_set_new(o, key, json_string(hex));
    }
}
