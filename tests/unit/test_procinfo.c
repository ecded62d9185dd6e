#include <stdio.h>
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

/* Real cgroup v2 path shapes of the systemd and cgroupfs drivers. */
TEST(procinfo_container_id_from_v2_paths)
{
	static const char *const shapes[] = {
	    "/kubepods.slice/kubepods-burstable.slice/"
	    "kubepods-burstable-pod3b5e0d32_8d8c_4d7c_9a2c_1d2e3f4a5b6c.slice/"
	    "cri-containerd-%s.scope",
	    "/kubepods.slice/kubepods-besteffort.slice/"
	    "kubepods-besteffort-pod3b5e0d32_8d8c_4d7c_9a2c_1d2e3f4a5b6c.slice/crio-%s.scope",
	    "/kubepods.slice/kubepods-pod3b5e0d32_8d8c_4d7c_9a2c_1d2e3f4a5b6c.slice/"
	    "crio-conmon-%s.scope",
	    "/system.slice/docker-%s.scope",
	    "/machine.slice/libpod-%s.scope/container",
	    "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-%s.scope",
	    "/kubepods/burstable/pod3b5e0d32-8d8c-4d7c-9a2c-1d2e3f4a5b6c/%s",
	    "/kubepods/pod3b5e0d32-8d8c-4d7c-9a2c-1d2e3f4a5b6c/%s",
	    "/docker/%s",
	};
	const char *hex = "4f8e1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7";
	char id[80], path[512];

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		snprintf(path, sizeof(path), shapes[i], hex);
		container_id_from_cgroup(path, id, sizeof(id));
		CHECK_MSG(!strcmp(id, hex), "%s: got '%s'", path, id);
	}
	/* A pod's own cgroup, and the system's, name no container. */
	container_id_from_cgroup("/kubepods.slice/kubepods-burstable.slice/"
				 "kubepods-burstable-pod3b5e0d32_8d8c_4d7c_9a2c_1d2e3f4a5b6c.slice",
				 id, sizeof(id));
	CHECK_STR(id, "");
	container_id_from_cgroup("/kubepods/burstable/pod3b5e0d32-8d8c-4d7c-9a2c-1d2e3f4a5b6c", id,
				 sizeof(id));
	CHECK_STR(id, "");
	container_id_from_cgroup("/system.slice/containerd.service", id, sizeof(id));
	CHECK_STR(id, "");
}

/* memory.max of a cgroup that does not exist: an error, and nothing written. */
TEST(procinfo_memcg_limit_missing)
{
	uint64_t v = 7;

	CHECK(memcg_limit_bytes("/no-such-cgroup-oomprof-unit", &v) < 0);
	CHECK_EQ_U64(v, 7);
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
