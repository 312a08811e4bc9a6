#ifndef MT_KMS_THREAD_H
#define MT_KMS_THREAD_H

#include "dcap/dcap.h"
#include "dstack/dstack_client.h"
#include "kms/kms.h"

/*
 * Objects that must not be shared between threads, one per server thread:
 * a DCAP verifier (its cache makes a known platform cost one ECDSA
 * verification) and a dstack client.  Created on first use, freed when the
 * thread exits.  NULL when out of memory.
 */
struct mt_verifier *mt_kms_thread_verifier(struct mt_kms *k);
struct mt_dstack_client *mt_kms_thread_dstack(struct mt_kms *k);

#endif
