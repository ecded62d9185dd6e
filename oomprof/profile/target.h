/*
 * A Go process as oomprof sees it: its binary (through /proc/PID/exe, so processes in
 * containers work), where the binary is mapped, and the runtime addresses of the
 * globals the memory profile lives in.
 */
#ifndef OOMPROF_TARGET_H
#define OOMPROF_TARGET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "gosym/gosym.h"
#include "oomprof/source/live.h"
#include "oomprof/base/procinfo.h"

struct go_target {
	pid_t pid;
	char comm[32];
	uint64_t exe_dev, exe_ino;
	struct gosym *sym; /* owned unless borrowed (see target_open_with) */
	bool sym_borrowed;
	uint64_t bias;		  /* runtime address - file vaddr */
	struct proc_maps maps;	  /* the executable's mappings */
	struct live_target addrs; /* runtime addresses (bias added) */
	uint64_t disable_memprof; /* runtime address of runtime.disableMemoryProfiling, or 0 */
};

/*
 * Opens pid's binary and resolves everything needed to read its memory profile.
 * Returns 0, or -errno with a message for the user in err: -ENOEXEC not a Go
 * program, -ENOENT a needed global is missing, -ESRCH no such process,
 * -EACCES/-EPERM no permission.
 */
int target_open(pid_t pid, struct go_target *t, char *err, size_t errlen);

/* The same with an already opened binary (from a cache), which the target borrows. */
int target_open_with(pid_t pid, struct gosym *sym, struct go_target *t, char *err, size_t errlen);

void target_close(struct go_target *t);

/*
 * Why the process has no memory profile, or NULL when it may have one: reads its
 * runtime.MemProfileRate. On a read failure returns NULL and leaves that to the reader.
 */
const char *target_profiling_problem(const struct go_target *t);

#endif
