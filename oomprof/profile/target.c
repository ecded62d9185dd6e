#include "oomprof/profile/target.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int fail(char *err, size_t errlen, int code, const char *fmt, pid_t pid, const char *comm,
		const char *detail)
{
	snprintf(err, errlen, fmt, (int)pid, comm, detail);
	return code;
}

static int resolve(struct go_target *t, char *err, size_t errlen)
{
	static const enum gosym_global needed[] = {GOSYM_MBUCKETS, GOSYM_MEMPROFILERATE,
						   GOSYM_MPROFCYCLE};
	uint64_t addr[3] = {0};
	int e;

	if ((e = proc_exe_mappings(t->pid, t->exe_ino, &t->maps)) < 0)
		return fail(err, errlen, e, "process %d (%s): cannot read its mappings: %s", t->pid,
			    t->comm, strerror(-e));
	if (!proc_maps_base(&t->maps))
		return fail(err, errlen, -ENOEXEC,
			    "process %d (%s): its executable is not mapped%s", t->pid, t->comm, "");
	t->bias = gosym_load_bias(t->sym, proc_maps_base(&t->maps));
	for (size_t i = 0; i < 3; i++)
		if (gosym_global(t->sym, needed[i], &addr[i], NULL) < 0)
			return fail(err, errlen, -ENOENT,
				    "process %d (%s): %s not found in its binary", t->pid, t->comm,
				    gosym_global_name(needed[i]));
	t->addrs.mbuckets = addr[0] + t->bias;
	t->addrs.mem_profile_rate = addr[1] + t->bias;
	t->addrs.prof_cycle = addr[2] + t->bias;
	if (gosym_global(t->sym, GOSYM_DISABLE_MEMPROF, &addr[0], NULL) == 0)
		t->disable_memprof = addr[0] + t->bias;
	return 0;
}

static int describe(pid_t pid, struct go_target *t, char *err, size_t errlen)
{
	int e;

	memset(t, 0, sizeof(*t));
	t->pid = pid;
	if ((e = proc_comm(pid, t->comm, sizeof(t->comm))) < 0)
		return fail(err, errlen, e == -ENOENT ? -ESRCH : e, "process %d%s: %s", pid, "",
			    e == -ENOENT ? "no such process" : strerror(-e));
	if ((e = proc_exe_id(pid, &t->exe_dev, &t->exe_ino)) < 0)
		return fail(err, errlen, e == -ENOENT ? -ESRCH : e,
			    "process %d (%s): cannot open its executable: %s", pid, t->comm,
			    e == -EACCES || e == -EPERM ? "permission denied (run as root)"
							: strerror(-e));
	return 0;
}

int target_open_with(pid_t pid, struct gosym *sym, struct go_target *t, char *err, size_t errlen)
{
	int e = describe(pid, t, err, errlen);

	if (e)
		return e;
	t->sym = sym;
	t->sym_borrowed = true;
	if ((e = resolve(t, err, errlen)))
		target_close(t);
	return e;
}

int target_open(pid_t pid, struct go_target *t, char *err, size_t errlen)
{
	char path[64], why[256] = "";
	struct gosym_opts opts = {.errbuf = why, .errbuf_len = sizeof(why)};
	int e = describe(pid, t, err, errlen);

	if (e)
		return e;
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	t->sym = gosym_open(path, &opts);
	if (!t->sym) {
		e = -errno;
		if (e == -ENOEXEC)
			fail(err, errlen, e, "process %d (%s) is not a Go program%s", pid, t->comm,
			     "");
		else
			fail(err, errlen, e, "process %d (%s): cannot read its executable: %s", pid,
			     t->comm, why[0] ? why : strerror(-e));
		target_close(t);
		return e;
	}
	if ((e = resolve(t, err, errlen)))
		target_close(t);
	return e;
}

void target_close(struct go_target *t)
{
	if (!t)
		return;
	if (!t->sym_borrowed)
		gosym_close(t->sym);
	t->sym = NULL;
	proc_maps_free(&t->maps);
}

const char *target_profiling_problem(const struct go_target *t)
{
	char path[64];
	int64_t rate;
	int fd, e;

	snprintf(path, sizeof(path), "/proc/%d/mem", t->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	e = live_read_mem(fd, t->addrs.mem_profile_rate, &rate, sizeof(rate));
	close(fd);
	if (e || rate != 0)
		return NULL;
	if (gosym_info(t->sym)->profiling_disabled == 1)
		return "memory profiling is disabled in this binary: the linker switched it off "
		       "because nothing in the program reaches runtime.MemProfile. Fix: use "
		       "runtime/pprof or net/http/pprof in code the program can reach (a blank "
		       "import is not enough), or run `oomprof watch --enable-memprofile` "
		       "(samples allocations made after it starts)";
	return "the program set runtime.MemProfileRate to 0, so it records no heap samples";
}
