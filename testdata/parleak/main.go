// parleak leaks memory until it is killed, in ways that test what a kill-time profile
// can honestly say:
//
//	-goroutines N  N goroutines allocate in parallel (with -procs threads running Go
//	               code), so that several threads of the process are in the kernel
//	               allocating when the OOM killer strikes
//	-zero-rate     after allocating -before MiB in main.warmUp, set
//	               runtime.MemProfileRate = 0 at run time (as cmd/compile does), then
//	               leak in main.leakChunk: the profile holds only the warm-up
//
// Every chunk is kept and its pages touched, so it counts in RSS. It prints
// "zeroed rate at <ms>" when it zeroes the rate.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"
)

var (
	goroutines = flag.Int("goroutines", 1, "goroutines allocating in parallel")
	procs      = flag.Int("procs", 0, "GOMAXPROCS (0: the runtime's default)")
	zeroRate   = flag.Bool("zero-rate", false, "set runtime.MemProfileRate = 0 after the warm-up")
	beforeMB   = flag.Int("before", 4, "MiB allocated in main.warmUp before the rate is zeroed")
	chunk      = flag.Int("chunk", 65536, "bytes per allocation")
	pause      = flag.Duration("pause", 0, "sleep this long after each MiB a goroutine allocates")
	wait       = flag.Duration("wait", 0, "sleep this long after zeroing the rate, before leaking")
	heapProf   = flag.Bool("heapprofile", false, "write runtime/pprof's heap profile to stdout first")
)

var (
	mu       sync.Mutex
	retained [][]byte
)

func keep(b []byte) {
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	mu.Lock()
	retained = append(retained, b)
	mu.Unlock()
}

//go:noinline
func warmUp(n int) []byte {
	return make([]byte, n)
}

//go:noinline
func leakChunk(n int) []byte {
	return make([]byte, n)
}

func leak() {
	perMiB := (1 << 20) / *chunk
	if perMiB < 1 {
		perMiB = 1
	}
	for i := 1; ; i++ {
		keep(leakChunk(*chunk))
		if *pause > 0 && i%perMiB == 0 {
			time.Sleep(*pause)
		}
	}
}

func main() {
	flag.Parse()
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	// A reachable use of runtime/pprof: the linker keeps memory profiling on.
	if *heapProf {
		_ = pprof.WriteHeapProfile(os.Stdout)
	}
	start := time.Now()
	fmt.Printf("pid %d rate %d\n", os.Getpid(), runtime.MemProfileRate)
	if *zeroRate {
		for n := 0; n < *beforeMB<<20; n += *chunk {
			keep(warmUp(*chunk))
		}
		runtime.MemProfileRate = 0
		fmt.Printf("zeroed rate at %d\n", time.Since(start).Milliseconds())
		time.Sleep(*wait)
	}
	for g := 1; g < *goroutines; g++ {
		go leak()
	}
	leak()
}
