#ifndef MT_BENCH_PROC_H
#define MT_BENCH_PROC_H

/*
 * Who used the CPU during a phase: this process and the KMS process (by
 * pid, from /proc, with each of its threads), so a result can say whether
 * both cores were busy and how much of them the load generator itself
 * took.  /proc/stat is not used: in this VM its idle count lags under load
 * and made other processes appear busy that were not.
 */
#include <stddef.h>
#include <sys/types.h>

/* Threads of the KMS followed one by one (MHD's pool plus a few of its own). */
#define CPU_MAX_THREADS 16

struct cpu_snap {
    double self_s; /* this process's user + system CPU seconds */
    double kms_s;  /* the KMS's, or 0 without a pid */
    size_t kms_threads;
    long kms_tid[CPU_MAX_THREADS];
    double kms_thread_s[CPU_MAX_THREADS];
};

struct cpu_use {
    double self_cores; /* CPU seconds per wall second */
    double kms_cores;
    double rest_cores; /* online CPUs minus the two above: idle, or used by other processes */
    /* The KMS's threads that worked, busiest first: shows whether the pool spread the load. */
    size_t kms_threads;
    double kms_thread_cores[CPU_MAX_THREADS];
};

/* A snapshot; kms_pid 0 leaves kms_s at 0.  Unreadable /proc files give zeros. */
void cpu_snap_take(pid_t kms_pid, struct cpu_snap *s);
/* The use between two snapshots over wall_s seconds. */
void cpu_use_between(const struct cpu_snap *a, const struct cpu_snap *b, double wall_s,
                     struct cpu_use *u);
/* The 1-minute load average, or -1. */
double load_average(void);
/* VmRSS of pid in bytes; 0 when unreadable. */
size_t proc_rss_bytes(pid_t pid);
/* Monotonic seconds. */
double now_s(void);

#endif
