#ifndef MT_SIM_MACHINE_H
#define MT_SIM_MACHINE_H

#include <stddef.h>
#include <stdint.h>

#include "measure/eventlog.h"
#include "util/mt_err.h"

/*
 * A simulated TD: what a machine profile file (machine.json) describes.
 * The firmware measurements (MRTD, boot events for RTMR0-2, and events
 * extended into RTMR3 before the guest agent starts) come from the file;
 * the dstack runtime events of a boot (system-preparing ... system-ready,
 * dstack.md 3.6) are derived from the app fields when the simulator starts.
 */
enum mt_sim_emit_mode {
    MT_SIM_EMIT_EXTEND = 0, /* append the event, extend RTMR3 (a real TDX guest) */
    MT_SIM_EMIT_NOOP,       /* 200 null, nothing changes (dstack simulator <= 0.5.8) */
    MT_SIM_EMIT_REJECT,     /* 400 (dstack simulator 0.5.9 - 0.5.11) */
};

struct mt_sim_machine {
    char name[64]; /* profile name, e.g. "locked-read-only" */

    /* TD report fields (dcap-verify.md 1.5) */
    uint8_t mrtd[48];
    uint8_t mr_seam[48];
    uint8_t td_attributes[8];
    uint8_t xfam[8];
    uint8_t tee_tcb_svn[16];
    uint8_t mr_config_id[48]; /* default 0x01 || compose_hash || zeros (dstack.md 5.1) */
    uint8_t mr_owner[48];
    uint8_t mr_owner_config[48];

    /* platform (the PCK certificate the simulator issues) */
    uint8_t fmspc[6];
    uint8_t cpu_svn[16];
    uint16_t pce_svn;

    /* measured before the agent starts; imr 0..3 */
    struct mt_eventlog *boot_log;

    /* dstack app identity (dstack.md 5) */
    uint8_t app_id[20];
    uint8_t instance_id[20];
    int has_instance_id;
    char *app_name;
    char *app_compose;  /* exact text; compose_hash = SHA-256 of it */
    char *key_provider; /* JSON text, payload of the key-provider event */
    uint8_t os_image_hash[32];
    int has_os_image_hash;
    char *vm_config; /* JSON text, returned as is */
    uint8_t compose_hash[32];

    /* GetKey's app key (dstack.md 2.2); wiped when freed */
    uint8_t app_key[32];

    enum mt_sim_emit_mode emit_mode;
    int stripped_event_log; /* GetQuote returns the real-TDX (stripped) event log */
};

/* Read a machine profile; every field is checked (MT_ERR_JSON_FIELD names none, so the
 * reason is written to why[why_len]). */
MT_WUR mt_err mt_sim_machine_load(const char *path, struct mt_sim_machine **out, char *why,
                                  size_t why_len);
/* Parse the JSON text of a machine profile. */
MT_WUR mt_err mt_sim_machine_parse(const char *json, size_t len, struct mt_sim_machine **out,
                                   char *why, size_t why_len);
/*
 * A default machine for an image profile ("debug", "debug-read-only",
 * "locked-read-only"): shared firmware, a kernel command line and an RTMR3
 * node marker that name the profile (mero-tee-reference.md 4.3, 4.4), and a
 * fresh random app key and instance id.  A profile named "kms..." is a KMS
 * CVM instead: no node marker (its profile event is emitted by the KMS).
 */
MT_WUR mt_err mt_sim_machine_default(const char *profile, struct mt_sim_machine **out);
/* The machine as machine.json text; *out freed with mt_free. */
MT_WUR mt_err mt_sim_machine_to_json(const struct mt_sim_machine *m, char **out);
/* NULL-safe; wipes the app key. */
void mt_sim_machine_free(struct mt_sim_machine *m);

/* The node RTMR3 marker string "calimero-rtmr3-v2:node:<profile>:<root_hash>" into out. */
MT_WUR mt_err mt_sim_node_marker(const char *profile, const char *root_hash, char *out,
                                 size_t out_len);

#endif
