#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"quote", mt_cmd_quote, "parse FILE [--hex] | verify QUOTE --collateral FILE --now UNIX"},
    {"collateral", mt_cmd_collateral, "fetch QUOTE --pccs URL [--out FILE]"},
    {"bench", mt_cmd_bench, "verify --quote Q --collateral C --now T [--seconds S]"},
    {"dev", mt_cmd_dev, "sample --out DIR [--kind tdx|tdx15|sgx] [--now UNIX] [--debug-td] | port"},
    {"errors", mt_cmd_errors, "[--markdown]: every error code with its message"},
    {"node", mt_cmd_node,
     "keygen --out FILE | peer-id --identity FILE | get-key --kms URL "
     "[--quote-source dstack[:SOCK]|tsm[:DIR]|mock] [--policy FILE] [--json]"},
    {"audit", mt_cmd_audit, "verify FILE [--json]"},
    {"sigstore", mt_cmd_sigstore,
     "verify (FILE | --digest sha256:HEX) --bundle B --trusted-root R "
     "--certificate-identity I --certificate-oidc-issuer O [--json] | "
     "verify FILE --key K (--bundle B | --signature S) [--json]"},
    {"release", mt_cmd_release,
     "verify DIR --family kms|node --version X.Y.Z [--trusted-root R] [--key K] [--json] | "
     "assemble --meta F --node-probe F (x3) --kms-probe F (x3) --binary F... --out DIR | "
     "sign DIR --key KEY"},
    {"policy", mt_cmd_policy,
     "merod-config --profile P --release DIR|URL --kms-url URL [--out FILE] "
     "[--apply --merod-home H [--node N] [--dry-run]]"},
    {"catalog", mt_cmd_catalog,
     "update --releases DIR... [--out FILE] [--key K | --trusted-root R]"},
    {"image", mt_cmd_image, "root-hash ROOT [--manifest]"},
    {"measure", mt_cmd_measure, "boot [--cmdline PATH] [--tdx-root DIR] [--marker PATH]"},
    {"rtmr", mt_cmd_rtmr, "expected --profile P --root-hash H [--json] | replay EVENTLOG [--json]"},
    {"compose-hash", mt_cmd_compose, "FILE (app-compose.json)"},
};

static void
usage(FILE *f)
{
    size_t i;

    fprintf(f, "usage: mero-tee COMMAND ...\n");
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  mero-tee %s %s\n", commands[i].name, commands[i].summary);
}

int
main(int argc, char **argv)
{
    size_t i;

    if (argc < 2) {
        usage(stderr);
        return MT_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return MT_EXIT_OK;
    }
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "mero-tee: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return MT_EXIT_USAGE;
}
