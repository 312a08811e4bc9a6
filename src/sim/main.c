/*
 * mero-tee-sim: a dstack-compatible guest agent for a simulated TDX machine
 * whose quotes really verify (against the test PKI it creates), and a PCCS
 * serving that PKI's collateral.  docs/simulator.md says what is simulated.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "measure/rtmr.h"
#include "sim/sim_agent.h"
#include "sim/sim_http.h"
#include "sim/sim_machine.h"
#include "sim/sim_node.h"
#include "sim/sim_pcs.h"
#include "sim/sim_pki.h"
#include "util/mt_alloc.h"
#include "util/mt_hex.h"
#include "util/mt_time.h"

static const char *const profiles[] = {"locked-read-only", "debug-read-only", "debug", "kms"};

static void
usage(FILE *f)
{
    fprintf(f, "usage: mero-tee-sim init --state-dir DIR [--force]\n"
               "       mero-tee-sim [serve] --state-dir DIR [--machine FILE --socket PATH]\n"
               "                    [--pccs 127.0.0.1:PORT] [--pccs-collateral "
               "good|stale|revoked|broken]\n"
               "                    [--node-admin 127.0.0.1:PORT]\n"
               "       mero-tee-sim measurements --machine FILE [--event NAME=VALUE]... "
               "[--env]\n");
}

/* One JSON object per line on stderr. */
static void
log_event(const char *level, const char *msg, const char *key, const char *value)
{
    json_t *o = json_pack("{s:s,s:s,s:s}", "level", level, "msg", msg, "component", "mero-tee-sim");
    char *text;

    if (o == NULL)
        return;
    if (key != NULL)
        json_object_set_new(o, key, json_string(value));
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text != NULL)
        fprintf(stderr, "%s\n", text);
    mt_free_libc(text);
    json_decref(o);
}

static int
fail(const char *msg, const char *detail)
{
    log_event("error", msg, "detail", detail);
    return 1;
}

static int
cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {{"state-dir", required_argument, NULL, 'd'},
                                         {"force", no_argument, NULL, 'f'},
                                         {NULL, 0, NULL, 0}};
    struct mt_sim_machine *m = NULL;
    const char *dir = NULL;
    char path[4096], why[256];
    int c, force = 0, bad = 0;
    size_t i;
    mt_err e;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd')
            dir = optarg;
        else if (c == 'f')
            force = 1;
        else
            bad = 1;
    }
    if (bad || dir == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }
    e = mt_sim_pki_init(dir, force, why, sizeof(why));
    if (e != MT_OK)
        return fail("cannot create the test PKI", why);
    for (i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
        char *json = NULL;

        snprintf(path, sizeof(path), "%s/machine-%s.json", dir, profiles[i]);
        e = mt_sim_machine_default(profiles[i], &m);
        if (e == MT_OK)
            e = mt_sim_machine_to_json(m, &json);
        if (e == MT_OK)
            e = mt_sim_write_private(path, json, strlen(json));
        mt_free(json);
        mt_sim_machine_free(m);
        m = NULL;
        if (e != MT_OK)
            return fail("cannot write a machine profile", path);
    }
    printf("state directory: %s\n"
           "test trust root: %s/root.der (also root.pem) -- for --trust-root, never production\n"
           "machine profiles: %s/machine-{locked-read-only,debug-read-only,debug,kms}.json\n",
           dir, dir, dir);
    return 0;
}

/*
 * --event NAME=VALUE: extend RTMR3 as dstack's EmitEvent would, so a policy can
 * name the registers after runtime events (the KMS's calimero.kms.profile).
 */
static int
apply_event(uint8_t rtmr3[48], const char *spec)
{
    const char *eq = strchr(spec, '=');
    uint8_t digest[48];

    if (eq == NULL || eq == spec)
        return 0;
    return mt_rtmr_event_digest(MT_DSTACK_RUNTIME_EVENT_TYPE, spec, (size_t)(eq - spec),
                                (const uint8_t *)eq + 1, strlen(eq + 1), digest) == MT_OK &&
           mt_rtmr_extend(rtmr3, digest) == MT_OK;
}

/* The registers a machine boots with, as JSON: what a policy for it must allow. */
static int
cmd_measurements(int argc, char **argv)
{
    struct mt_sim_machine *m = NULL;
    const char *machine = NULL;
    uint8_t rtmr[4][48];
    char why[256], hex[97];
    int i, env = 0, ev_first = 0, ev_count = 0;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--machine") == 0 && i + 1 < argc && machine == NULL) {
            machine = argv[++i];
        } else if (strcmp(argv[i], "--env") == 0) {
            env = 1;
        } else if (strcmp(argv[i], "--event") == 0 && i + 1 < argc) {
            /* Events are applied in order after the machine is loaded. */
            if (ev_count == 0)
                ev_first = i;
            ev_count++;
            i++;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (machine == NULL) {
        usage(stderr);
        return 2;
    }
    if (mt_sim_machine_load(machine, &m, why, sizeof(why)) != MT_OK)
        return fail("invalid machine profile", why);
    if (mt_sim_boot_registers(m, rtmr) != MT_OK) {
        mt_sim_machine_free(m);
        return fail("cannot replay the machine's boot", machine);
    }
    for (i = ev_first; ev_count > 0 && i < argc; i++) {
        if (strcmp(argv[i], "--event") != 0)
            continue;
        if (!apply_event(rtmr[3], argv[++i])) {
            mt_sim_machine_free(m);
            return fail("--event wants NAME=VALUE", argv[i]);
        }
    }
    mt_hex_encode(m->mrtd, 48, hex);
    /* --env: shell assignments, for scripts without a JSON tool. */
    printf(env ? "MRTD=%s\n" : "{\"mrtd\":\"%s\"", hex);
    for (i = 0; i < 4; i++) {
        mt_hex_encode(rtmr[i], 48, hex);
        printf(env ? "RTMR%d=%s\n" : ",\"rtmr%d\":\"%s\"", i, hex);
    }
    if (!env)
        printf("}\n");
    mt_sim_machine_free(m);
    return 0;
}

static int
parse_loopback(const char *s, uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    int64_t v;

    /* Loopback only: the simulator's PCCS and node admin API are for this machine. */
    if (colon == NULL || (size_t)(colon - s) != strlen("127.0.0.1") ||
        strncmp(s, "127.0.0.1", (size_t)(colon - s)) != 0)
        return 0;
    if (mt_parse_int64(colon + 1, &v) != MT_OK || v < 0 || v > 65535)
        return 0;
    *port = (uint16_t)v;
    return 1;
}

static int
cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {{"state-dir", required_argument, NULL, 'd'},
                                         {"machine", required_argument, NULL, 'm'},
                                         {"socket", required_argument, NULL, 's'},
                                         {"pccs", required_argument, NULL, 'p'},
                                         {"pccs-collateral", required_argument, NULL, 'c'},
                                         {"node-admin", required_argument, NULL, 'n'},
                                         {NULL, 0, NULL, 0}};
    const char *dir = NULL, *machine = NULL, *sock = NULL, *pccs = NULL, *mode = "good",
               *admin = NULL;
    struct mt_sim_node *node = NULL;
    uint16_t admin_port = 0;
    struct mt_testpki *pki = NULL;
    struct mt_sim_machine *m = NULL;
    struct mt_sim_agent *agent = NULL;
    struct mt_sim_http *http = NULL;
    struct mt_pcs_server *pcs = NULL;
    struct mt_clock clock = mt_clock_system();
    enum mt_sim_collateral_mode cmode;
    sigset_t set;
    uint16_t port = 0;
    char why[256], buf[64];
    int c, sig, rc = 1;
    mt_err e;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'm':
            machine = optarg;
            break;
        case 's':
            sock = optarg;
            break;
        case 'p':
            pccs = optarg;
            break;
        case 'c':
            mode = optarg;
            break;
        case 'n':
            admin = optarg;
            break;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (dir == NULL || optind != argc || (machine == NULL) != (sock == NULL) ||
        (machine == NULL && pccs == NULL) || (pccs != NULL && !parse_loopback(pccs, &port)) ||
        (admin != NULL && (machine == NULL || !parse_loopback(admin, &admin_port))) ||
        mt_sim_collateral_mode_parse(mode, &cmode) != MT_OK) {
        usage(stderr);
        return 2;
    }
    /* Signals are taken by sigwait below; block them before any thread starts. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    e = mt_sim_pki_load(dir, &pki, why, sizeof(why));
    if (e != MT_OK) {
        rc = fail("cannot load the test PKI (run mero-tee-sim init)", why);
        goto out;
    }
    if (machine != NULL) {
        e = mt_sim_machine_load(machine, &m, why, sizeof(why));
        if (e != MT_OK) {
            rc = fail("invalid machine profile", why);
            goto out;
        }
        e = mt_sim_agent_new(m, pki, mt_clock_now(&clock), &agent);
        m = NULL;
        if (e == MT_OK)
            e = mt_sim_http_start(sock, agent, &http);
        if (e != MT_OK) {
            rc = fail("cannot start the guest agent", sock);
            goto out;
        }
        log_event("info", "guest agent listening", "socket", sock);
    }
    if (admin != NULL) {
        e = mt_sim_node_start(agent, admin_port, &node, why, sizeof(why));
        if (e != MT_OK) {
            rc = fail("cannot start the node admin API", why);
            goto out;
        }
        snprintf(buf, sizeof(buf), "http://127.0.0.1:%u", (unsigned)mt_sim_node_port(node));
        log_event("info", "node admin API listening", "url", buf);
    }
    if (pccs != NULL) {
        e = mt_sim_pccs_start(pki, agent == NULL ? NULL : mt_sim_agent_params(agent),
                              mt_clock_now(&clock), cmode, port, &pcs, why, sizeof(why));
        if (e != MT_OK) {
            rc = fail("cannot start the PCCS", why);
            goto out;
        }
        snprintf(buf, sizeof(buf), "%s", mt_pcs_server_url(pcs));
        log_event("info", "PCCS listening", "url", buf);
    }
    log_event("warning", "simulated TEE: quotes are signed by a TEST PKI, not by Intel", NULL,
              NULL);
    while (sigwait(&set, &sig) != 0)
        ;
    log_event("info", "stopping", NULL, NULL);
    rc = 0;
out:
    mt_sim_node_stop(node);
    mt_sim_http_stop(http);
    mt_pcs_server_stop(pcs);
    mt_sim_agent_free(agent);
    mt_sim_machine_free(m);
    mt_testpki_free(pki);
    return rc;
}

int
main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "init") == 0)
        return cmd_init(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "measurements") == 0)
        return cmd_measurements(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "serve") == 0)
        return cmd_serve(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    return cmd_serve(argc, argv);
}
