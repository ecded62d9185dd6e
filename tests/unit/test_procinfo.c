#include <string.h>
#include <unistd.h>

#include "oomprof/base/procinfo.h"
#include "tests/unit/testhelp.h"

TEST(procinfo_container_id_from_docker_and_k8s_paths)
{
	char id[80];
	const char *hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char path[256];

	snprintf(path, sizeof(path), "/system.slice/docker-%s.scope", hex);
	container_id_from_cgroup(path, id, sizeof(id));
	CHECK_STR(id, hex);
	snprintf(path, sizeof(path), "/kubepods/burstable/pod1234/%s", hex);
	container_id_from_cgroup(path, id, sizeof(id));
	CHECK_STR(id, hex);
	container_id_from_cgroup("/user.slice/session-2.scope", id, sizeof(id));
	CHECK_STR(id, "");
	/* 65 hex digits is not an id */
	snprintf(path, sizeof(path), "/x/%sa", hex);
	container_id_from_cgroup(path, id, sizeof(id));
	CHECK_STR(id, "");
}

TEST(procinfo_self)
{
	struct proc_maps maps;
	uint64_t dev, ino, ticks;
	char comm[32], cg[512];

	REQUIRE(proc_comm(getpid(), comm, sizeof(comm)) == 0);
	CHECK(strlen(comm) > 0);
	REQUIRE(proc_exe_id(getpid(), &dev, &ino) == 0);
	REQUIRE(proc_exe_mappings(getpid(), ino, &maps) == 0);
	CHECK(maps.n >= 2);
	CHECK(proc_maps_base(&maps) != 0);
	bool any_exec = false;
	for (size_t i = 0; i < maps.n; i++)
		any_exec |= maps.maps[i].exec;
	CHECK(any_exec);
	proc_maps_free(&maps);
	CHECK(proc_start_time(getpid(), &ticks) == 0 && ticks > 0);
	CHECK(proc_memcg_path(getpid(), cg, sizeof(cg)) == 0 && cg[0] == '/');
	CHECK(proc_comm(999999999, comm, sizeof(comm)) < 0);
}
