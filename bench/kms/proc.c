#include "proc.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read a small /proc file into buf (NUL-terminated); 0 on failure. */
static int
read_small(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL)
        return 0;
    n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n > 0;
}

/* utime + stime in seconds from a stat file: fields 14 and 15, counted after the ")" of the name.
 */
static double
stat_cpu_s(const char *path)
{
    char buf[1024], *p, *end;
    unsigned long long ticks = 0;
    int field;

    if (!read_small(path, buf, sizeof(buf)))
        return 0;
    p = strrchr(buf, ')');
    if (p == NULL)
        return 0;
    p++;
    /* After ")" comes field 3 (state); walk to field 14. */
    for (field = 3; field < 14 && p != NULL; field++) {
        p = strchr(p + 1, ' ');
    }
    if (p == NULL)
        return 0;
    ticks = strtoull(p, &end, 10);
    ticks += strtoull(end, NULL, 10);
    return (double)ticks / (double)sysconf(_SC_CLK_TCK);
}

static double
pid_cpu_s(pid_t pid)
{
    char path[64];

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    return stat_cpu_s(path);
}

static void
threads_cpu(pid_t pid, struct cpu_snap *s)
{
    char path[300];
    struct dirent *d;
    DIR *dir;

    snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
    dir = opendir(path);
    if (dir == NULL)
        return;
    while ((d = readdir(dir)) != NULL && s->kms_threads < CPU_MAX_THREADS) {
        if (d->d_name[0] < '0' || d->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%ld/task/%s/stat", (long)pid, d->d_name);
        s->kms_tid[s->kms_threads] = strtol(d->d_name, NULL, 10);
        s->kms_thread_s[s->kms_threads] = stat_cpu_s(path);
        s->kms_threads++;
    }
    closedir(dir);
}

static int
cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? 1 : (x > y ? -1 : 0);
}

void
cpu_snap_take(pid_t kms_pid, struct cpu_snap *s)
{
    struct timespec ts;

    memset(s, 0, sizeof(*s));
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    s->self_s = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    if (kms_pid > 0) {
        s->kms_s = pid_cpu_s(kms_pid);
        threads_cpu(kms_pid, s);
    }
}

void
cpu_use_between(const struct cpu_snap *a, const struct cpu_snap *b, double wall_s,
                struct cpu_use *u)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    double c;
    size_t i, j;

    memset(u, 0, sizeof(*u));
    if (wall_s <= 0)
        return;
    u->self_cores = (b->self_s - a->self_s) / wall_s;
    u->kms_cores = (b->kms_s - a->kms_s) / wall_s;
    u->rest_cores = (double)cpus - u->self_cores - u->kms_cores;
    if (u->rest_cores < 0)
        u->rest_cores = 0;
    for (i = 0; i < b->kms_threads; i++) {
        c = b->kms_thread_s[i];
        for (j = 0; j < a->kms_threads; j++) {
            if (a->kms_tid[j] == b->kms_tid[i])
                c -= a->kms_thread_s[j];
        }
        /* Threads that did less than 2% of a core are bookkeeping, not the pool. */
        if (c / wall_s >= 0.02)
            u->kms_thread_cores[u->kms_threads++] = c / wall_s;
    }
    qsort(u->kms_thread_cores, u->kms_threads, sizeof(double), cmp_desc);
}

double
load_average(void)
{
    char buf[128];

    if (!read_small("/proc/loadavg", buf, sizeof(buf)))
        return -1;
    return strtod(buf, NULL);
}

size_t
proc_rss_bytes(pid_t pid)
{
    char path[64], buf[4096], *p;

    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    if (!read_small(path, buf, sizeof(buf)))
        return 0;
    p = strstr(buf, "\nVmRSS:");
    if (p == NULL)
        return 0;
    return (size_t)strtoull(p + 7, NULL, 10) * 1024u;
}
