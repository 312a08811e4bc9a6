#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/cli_io.h"
#include "image/image_rtmr3.h"
#include "measure/eventlog.h"
#include "util/mt_alloc.h"
#include "util/mt_err.h"
#include "util/mt_file.h"
#include "util/mt_hex.h"
#include "util/mt_json.h"
#include "util/mt_limits.h"

/*
 * mero-tee rtmr expected --profile P --root-hash H [--json]
 *   The RTMR3 a node image boot yields after mero-measure-boot.service
 *   (image/image_rtmr3.h): prints the digest and RTMR3.  H is 64 lowercase
 *   hex digits or "none" (the reference's value when the command line has
 *   no root hash; mero-tee measure boot never measures "none").
 * mero-tee rtmr replay EVENTLOG [--json]
 *   Replay a dstack event log (a JSON array, or a GetQuote response object
 *   whose "event_log" member holds it) with the measure library.  Each RTMR
 *   is replayed from the events of its own IMR, so a log whose boot events
 *   were stripped (real TDX agents) still yields RTMR3; an RTMR that cannot
 *   be replayed is reported as unavailable with the reason.
 * Exit 0, 1 when the input is refused, 2 for usage errors and unreadable files.
 */

static int
usage(void)
{
    fprintf(stderr, "usage: mero-tee rtmr expected --profile P --root-hash H [--json]\n"
                    "       mero-tee rtmr replay EVENTLOG [--json]\n");
    return MT_EXIT_USAGE;
}

static int
rtmr_expected(int argc, char **argv)
{
    const char *profile = NULL, *root_hash = NULL;
    uint8_t digest[MT_RTMR_SIZE], rtmr3[MT_RTMR_SIZE];
    char dhex[2 * MT_RTMR_SIZE + 1], rhex[2 * MT_RTMR_SIZE + 1];
    int as_json = 0, i;
    json_t *j;
    mt_err e;

    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            as_json = 1;
        else if (strcmp(argv[i], "--profile") == 0 && i + 1 < argc)
            profile = argv[++i];
        else if (strcmp(argv[i], "--root-hash") == 0 && i + 1 < argc)
            root_hash = argv[++i];
        else
            return usage();
    }
    if (profile == NULL || root_hash == NULL)
        return usage();
    e = mt_image_rtmr3_expected(profile, root_hash, digest, rtmr3);
    if (e != MT_OK) {
        fprintf(stderr, "mero-tee: rtmr expected: %s (%s)\n", mt_err_message(e), mt_err_code(e));
        return MT_EXIT_FAIL;
    }
    mt_hex_encode(digest, sizeof(digest), dhex);
    mt_hex_encode(rtmr3, sizeof(rtmr3), rhex);
    if (as_json) {
        j = json_pack("{s:s, s:s, s:s, s:s}", "profile", profile, "root_hash", root_hash, "digest",
                      dhex, "rtmr3", rhex);
        if (j == NULL)
            return MT_EXIT_USAGE;
        mt_cli_print_json(j);
        json_decref(j);
    } else {
        printf("digest %s\nrtmr3 %s\n", dhex, rhex);
    }
    return MT_EXIT_OK;
}

/* The event-log text: the file itself, or its "event_log" member (string or array). */
static mt_err
load_log(const uint8_t *data, size_t len, struct mt_eventlog **out)
{
    json_t *root = NULL, *el;
    char *text = NULL;
    mt_err rv;

    if (len == 0 || data[strspn((const char *)data, " \t\r\n")] != '{')
        return mt_eventlog_parse((const char *)data, len, out);
    MT_GUARD(mt_json_parse((const char *)data, len, MT_MAX_DSTACK_RESPONSE, &root));
    el = json_object_get(root, "event_log");
    if (json_is_string(el)) {
        rv = mt_eventlog_parse(json_string_value(el), json_string_length(el), out);
    } else if (json_is_array(el)) {
        text = json_dumps(el, JSON_COMPACT);
        rv = text == NULL ? MT_ERR_NOMEM : mt_eventlog_parse(text, strlen(text), out);
    } else {
        rv = MT_ERR_JSON_FIELD;
    }
    mt_free_libc(text);
    json_decref(root);
    return rv;
}

/* Replay RTMR imr from that IMR's events only. */
static mt_err
replay_one(const struct mt_eventlog *log, uint32_t imr, uint8_t out[MT_RTMR_SIZE])
{
    uint8_t all[MT_RTMR_COUNT][MT_RTMR_SIZE];
    struct mt_eventlog *sub = NULL;
    size_t i;
    mt_err rv = MT_OK;

    MT_GUARD(mt_eventlog_new(&sub));
    for (i = 0; i < log->num_events; i++) {
        if (log->events[i].imr == imr)
            MT_GUARD_GOTO(mt_eventlog_append_event(sub, &log->events[i]), rv, out);
    }
    MT_GUARD_GOTO(mt_eventlog_replay(sub, all), rv, out);
    memcpy(out, all[imr], MT_RTMR_SIZE);
out:
    mt_eventlog_free(sub);
    return rv;
}

static int
rtmr_replay(int argc, char **argv)
{
    struct mt_eventlog *log = NULL;
    uint8_t *data = NULL, r[MT_RTMR_SIZE];
    char hex[2 * MT_RTMR_SIZE + 1], key[8];
    const char *path = NULL;
    json_t *j = NULL;
    size_t len = 0;
    int as_json = 0, rc = MT_EXIT_OK;
    uint32_t imr;
    mt_err e;

    if (mt_cli_path_and_json(argc, argv, 2, &path, &as_json) != 0)
        return usage();
    e = mt_file_read(path, MT_MAX_DSTACK_RESPONSE, &data, &len);
    if (e != MT_OK) {
        fprintf(stderr, "mero-tee: rtmr replay: %s: %s\n", path, mt_err_message(e));
        return MT_EXIT_USAGE;
    }
    e = load_log(data, len, &log);
    mt_free(data);
    if (e != MT_OK) {
        fprintf(stderr, "mero-tee: rtmr replay: %s: %s (%s)\n", path, mt_err_message(e),
                mt_err_code(e));
        return MT_EXIT_FAIL;
    }
    if (as_json) {
        j = json_object();
        if (j == NULL) {
            mt_eventlog_free(log);
            return MT_EXIT_USAGE;
        }
        if (json_object_set_new(j, "events", json_integer((json_int_t)log->num_events)) != 0)
            rc = MT_EXIT_USAGE;
    } else {
        printf("events %zu\n", log->num_events);
    }
    for (imr = 0; imr < MT_RTMR_COUNT; imr++) {
        snprintf(key, sizeof(key), "rtmr%u", (unsigned)imr);
        e = replay_one(log, imr, r);
        if (e == MT_OK)
            mt_hex_encode(r, sizeof(r), hex);
        if (as_json) {
            json_t *v = e == MT_OK ? json_string(hex)
                                   : json_pack("{s:s, s:s}", "unavailable", mt_err_code(e),
                                               "reason", mt_err_message(e));
            if (v == NULL || json_object_set_new(j, key, v) != 0)
                rc = MT_EXIT_USAGE;
        } else if (e == MT_OK) {
            printf("%s %s\n", key, hex);
        } else {
            printf("%s unavailable: %s (%s)\n", key, mt_err_message(e), mt_err_code(e));
        }
    }
    if (as_json) {
        mt_cli_print_json(j);
        json_decref(j);
    }
    mt_eventlog_free(log);
    return rc;
}

int
mt_cmd_rtmr(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "expected") == 0)
        return rtmr_expected(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "replay") == 0)
        return rtmr_replay(argc, argv);
    return usage();
}
