// heaporacle builds a varied heap — several size classes, large objects, freed and
// retained objects, inlined and generic allocators, maps and strings — then writes its
// own runtime/pprof heap profile when asked, and stays quiescent, so that a snapshot
// taken right after can be compared with it value for value.
//
// Commands on stdin, one per line, each answered "ok" or "error ...":
//
//	profile PATH   runtime.GC, then write the heap profile (runtime/pprof, gzipped proto)
//	churn          allocate and drop another round of garbage, then runtime.GC
//	rate           print runtime.MemProfileRate
//	quit           exit
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
)

var rate = flag.Int("rate", -1, "runtime.MemProfileRate to set at start (-1: keep the default)")

type record struct {
	id    int
	name  string
	attrs map[string]int
	next  *record
}

var (
	kept    []*record
	blobs   [][]byte
	strs    []string
	garbage int
)

//go:noinline
func newRecord(i int) *record {
	r := &record{id: i, name: fmt.Sprintf("record-%d", i), attrs: map[string]int{"i": i}}
	return r
}

func smallBuf(n int) []byte { return make([]byte, n) } // inlined into its callers

//go:noinline
func keepBlobs(sizes []int, count int) {
	for i := 0; i < count; i++ {
		for _, s := range sizes {
			blobs = append(blobs, smallBuf(s))
		}
	}
}

//go:noinline
func makeGarbage(count int) {
	for i := 0; i < count; i++ {
		b := make([]byte, 100+i%4000)
		garbage += len(b)
	}
}

//go:noinline
func collect[T any](n int, f func(int) T) []T {
	out := make([]T, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, f(i))
	}
	return out
}

//go:noinline
func largeObjects(n int) {
	for i := 0; i < n; i++ {
		blobs = append(blobs, make([]byte, 40000+i*1000))
	}
}

func build() {
	for i := 0; i < 20000; i++ {
		kept = append(kept, newRecord(i))
	}
	keepBlobs([]int{8, 24, 100, 1000, 5000, 20000}, 200)
	strs = collect(5000, func(i int) string { return strings.Repeat("x", i%200+1) })
	largeObjects(50)
	makeGarbage(50000)
}

func main() {
	flag.Parse()
	if *rate >= 0 {
		runtime.MemProfileRate = *rate
	}
	build()
	runtime.GC()
	fmt.Printf("ready pid=%d rate=%d\n", os.Getpid(), runtime.MemProfileRate)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		switch {
		case f[0] == "profile" && len(f) == 2:
			if err := writeProfile(f[1]); err != nil {
				fmt.Printf("error %v\n", err)
				continue
			}
			fmt.Println("ok")
		case f[0] == "churn":
			makeGarbage(20000)
			runtime.GC()
			fmt.Println("ok")
		case f[0] == "rate":
			fmt.Printf("rate %d\n", runtime.MemProfileRate)
		case f[0] == "quit":
			return
		default:
			fmt.Printf("error unknown command %q\n", in.Text())
		}
	}
}

func writeProfile(path string) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(out, 0); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
