/*
 * Shared by the stand-in commands in tests/helpers (fake_merod, fake_meroctl).
 */
#ifndef MT_FAKE_CMD_H
#define MT_FAKE_CMD_H

/*
 * Appends one record to the file named log: every argument after argv[0],
 * each followed by a NUL byte, then one newline (arguments must not contain
 * newlines).  Returns the number of this run, counted from 1 by the records
 * already in the log, or -1 when log is NULL or cannot be written.
 */
long fake_cmd_log_run(const char *log, int argc, char **argv);

#endif
