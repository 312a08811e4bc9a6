#ifndef MT_QUOTE_JSON_H
#define MT_QUOTE_JSON_H

#include <jansson.h>

#include "quote/quote.h"

/*
 * A parsed quote as JSON, every byte field as lowercase hex, names in
 * camelCase (mrTd, rtMr0, reportData, ...).  NULL when out of memory.
 */
json_t *mt_quote_to_json(const struct mt_quote *q);
/* Only the measurements: mrTd, rtMr0..3, reportData (TD) or mrEnclave, mrSigner, reportData (SGX).
 */
json_t *mt_quote_measurements_json(const struct mt_quote *q);
/* An SGX enclave report (also a QE report) as JSON. */
json_t *mt_sgx_report_to_json(const struct mt_sgx_report *r);

#endif
