// allocbench allocates as fast as it can — small objects, some kept, most dropped —
// and prints how long one allocation took on average. The benchmark runs it with and
// without the oomprof daemon watching, to show the daemon costs the program nothing.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"
)

var (
	n    = flag.Int("n", 20000000, "allocations")
	heap = flag.String("heap", "", "write a heap profile here at the end (keeps memory profiling on, as in a real service)")
	keep [4096]*node
)

type node struct {
	next *node
	data [48]byte
}

//go:noinline
func alloc(i int) *node {
	return &node{data: [48]byte{byte(i)}}
}

func main() {
	flag.Parse()
	start := time.Now()
	for i := 0; i < *n; i++ {
		p := alloc(i)
		if i%16 == 0 {
			keep[i/16%len(keep)] = p
		}
	}
	elapsed := time.Since(start)
	fmt.Printf("ns_per_alloc %.3f rate %d\n", float64(elapsed.Nanoseconds())/float64(*n), runtime.MemProfileRate)
	if *heap != "" {
		if f, err := os.Create(*heap); err == nil {
			pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
}
