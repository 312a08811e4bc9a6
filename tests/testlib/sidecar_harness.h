#ifndef MT_SIDECAR_HARNESS_H
#define MT_SIDECAR_HARNESS_H

/*
 * The fleet sidecar end-to-end harness (tests/e2e/test_sidecar_*.c): a
 * temporary directory, the TLS manager stand-in and the plain-HTTP merod
 * stand-in (mdma_stub.c), the generated configuration, the real
 * mero-fleet-sidecar binary as a process and readers for the fake meroctl's
 * records, the state file and the sidecar's log.
 */
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "mdma_stub.h"

#define SIDECAR_TOKEN "tok-SECRET-7f3a9c1e5b"

struct sidecar_fx {
    char dir[64];
    char conf[128], token[128], state_dir[128], log[128], joins[128];
    char mrtd_source[256];
    struct mdma_stub mdma, merod;
    pid_t bg;
};

void sidecar_write_file(const char *path, const char *text, mode_t mode);
/* Write f->conf; extra is appended verbatim (NULL: nothing). */
void sidecar_config(struct sidecar_fx *f, const char *extra);
/* cmocka setup/teardown: *state is a struct sidecar_fx. */
int sidecar_setup(void **state);
int sidecar_teardown(void **state);
/* Start the sidecar; script is the fake meroctl's MT_FAKE_MEROCTL_SCRIPT. */
pid_t sidecar_spawn(struct sidecar_fx *f, int once, const char *script, const char *extra_arg);
int sidecar_wait_exit(pid_t pid, int secs);
int sidecar_run_once(struct sidecar_fx *f, const char *script);
/* Records of the fake meroctl. */
int sidecar_join_count(struct sidecar_fx *f);
/* The state file's entry for group id (json_decref), or NULL. */
json_t *sidecar_state_group(struct sidecar_fx *f, const char *id);
/* The group's status in the state file, "-" without it (a static buffer). */
const char *sidecar_status_of(struct sidecar_fx *f, const char *id);
int sidecar_log_has(struct sidecar_fx *f, const char *needle);
/* The manager stand-in answers should-join with these assignments. */
void sidecar_assign(struct sidecar_fx *f, const char *ids);

#endif
