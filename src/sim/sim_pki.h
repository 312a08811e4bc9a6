#ifndef MT_SIM_PKI_H
#define MT_SIM_PKI_H

#include <stddef.h>
#include <stdint.h>

#include "sim/sim_pcs.h"
#include "testpki/testpki.h"
#include "util/mt_err.h"

/*
 * The simulator's state directory and its test PKI:
 *   DIR/pki/          keys (0600) and certificates of the test PKI
 *   DIR/root.der, DIR/root.pem   the test root, for --trust-root
 *   DIR/machine-<profile>.json   machine profiles written by init
 */

/* Create DIR (0700) with a fresh PKI; refuses an existing PKI unless force. */
MT_WUR mt_err mt_sim_pki_init(const char *dir, int force, char *why, size_t why_len);
MT_WUR mt_err mt_sim_pki_load(const char *dir, struct mt_testpki **out, char *why, size_t why_len);
/* Write a file readable by its owner only (temp file, fsync, rename). */
MT_WUR mt_err mt_sim_write_private(const char *path, const void *data, size_t len);

/* What the PCCS serves: good collateral, or one of the failures tests need. */
enum mt_sim_collateral_mode {
    MT_SIM_COLLATERAL_GOOD = 0,
    MT_SIM_COLLATERAL_STALE,   /* TCB Info, QE Identity and CRLs past their nextUpdate */
    MT_SIM_COLLATERAL_REVOKED, /* the PCK leaf listed in the PCK CRL */
    MT_SIM_COLLATERAL_BROKEN,  /* TCB Info signature broken */
};

MT_WUR mt_err mt_sim_collateral_mode_parse(const char *s, enum mt_sim_collateral_mode *out);

/*
 * Collateral for the machine whose quotes use `params` (NULL: the PKI's
 * default TDX machine, re-issued at now), in the given mode.
 */
MT_WUR mt_err mt_sim_collateral(struct mt_testpki *pki, const struct mt_testpki_params *params,
                                int64_t now, enum mt_sim_collateral_mode mode,
                                struct mt_collateral **out);

/* Serve that collateral as an Intel PCS v4 API on 127.0.0.1:port. */
MT_WUR mt_err mt_sim_pccs_start(struct mt_testpki *pki, const struct mt_testpki_params *params,
                                int64_t now, enum mt_sim_collateral_mode mode, uint16_t port,
                                struct mt_pcs_server **out, char *why, size_t why_len);

#endif
