#ifndef MT_CLI_IO_H
#define MT_CLI_IO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/mt_err.h"

/*
 * Reading the CLI's input files and writing its output.  Reading a quote:
 * binary, or with hex = 1 hex text (optional 0x prefix, surrounding
 * whitespace allowed).  *out is freed with mt_free.
 */
MT_WUR mt_err mt_cli_read_quote(const char *path, int hex, uint8_t **out, size_t *out_len);

/* Print a JSON value to stdout, indented, with a final newline. */
void mt_cli_print_json(const json_t *j);

/* "mero-tee: <what>: <message>" on stderr. */
void mt_cli_error(const char *what, mt_err e);

/*
 * Parse the arguments argv[first..argc-1] of a subcommand that takes one
 * path and an optional --json.  Returns 0, or -1 on any other option, a
 * second path or no path (the caller prints its usage).
 */
int mt_cli_path_and_json(int argc, char **argv, int first, const char **path, int *as_json);

#endif
