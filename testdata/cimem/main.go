// cimem is the Go test program of the `oomprof run` and pre-kill trigger tests. Each
// mode keeps its memory in a function of its own, so a profile names the mode:
//
//	-mode=leak     leakForever allocates -chunk bytes at a time until killed
//	-mode=settle   settleAt retains -mb MiB, prints "settled", sleeps -for, exits 0
//	-mode=idle     idleSmall retains 1 MiB, sleeps -for, exits 0
//	-mode=thrash   settleAt retains -mb MiB, then reads -file over and over for -for
//	               (page-cache reclaim under a tight limit: memory pressure)
//
// Pages are touched so that they count in RSS and in the memory cgroup. The program
// writes its own heap profile with -profile PATH at the end (which also keeps
// runtime/pprof reachable: the linker leaves memory profiling on).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"time"
)

var (
	mode    = flag.String("mode", "leak", "leak, settle, idle or thrash")
	mb      = flag.Int("mb", 100, "MiB retained by settle and thrash")
	chunk   = flag.Int("chunk", 1<<20, "bytes per allocation")
	rate    = flag.Int("rate", -1, "runtime.MemProfileRate (-1: the default)")
	forDur  = flag.Duration("for", 10*time.Second, "how long settle, idle and thrash last")
	file    = flag.String("file", "", "file thrash reads")
	profile = flag.String("profile", "", "write the program's own heap profile here at the end")
	step    = flag.Duration("step", 0, "sleep this long after each chunk (settle, leak)")
)

var retained [][]byte

func touch(b []byte) []byte {
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	return b
}

//go:noinline
func leakForever(n int) {
	for {
		retained = append(retained, touch(make([]byte, n)))
		if *step > 0 {
			time.Sleep(*step)
		}
	}
}

//go:noinline
func settleAt(total, n int) {
	for got := 0; got < total; got += n {
		retained = append(retained, touch(make([]byte, n)))
		if *step > 0 {
			time.Sleep(*step)
		}
	}
}

//go:noinline
func idleSmall() {
	retained = append(retained, touch(make([]byte, 1<<20)))
}

func thrash(path string, d time.Duration) error {
	buf := make([]byte, 1<<20)
	for end := time.Now().Add(d); time.Now().Before(end); {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		for {
			if _, err := f.Read(buf); err == io.EOF {
				break
			} else if err != nil {
				f.Close()
				return err
			}
		}
		f.Close()
	}
	return nil
}

func writeProfile(path string) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(out, 0); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func main() {
	flag.Parse()
	if *rate >= 0 {
		runtime.MemProfileRate = *rate
	}
	fmt.Printf("pid %d mode %s\n", os.Getpid(), *mode)
	switch *mode {
	case "leak":
		leakForever(*chunk)
	case "settle":
		settleAt(*mb<<20, *chunk)
		runtime.GC()
		fmt.Println("settled")
		time.Sleep(*forDur)
	case "idle":
		idleSmall()
		fmt.Println("settled")
		time.Sleep(*forDur)
	case "thrash":
		settleAt(*mb<<20, *chunk)
		fmt.Println("settled")
		if err := thrash(*file, *forDur); err != nil {
			fmt.Fprintln(os.Stderr, "cimem:", err)
			os.Exit(1)
		}
	default:
		fmt.Fprintf(os.Stderr, "cimem: unknown mode %q\n", *mode)
		os.Exit(2)
	}
	if *profile != "" {
		if err := writeProfile(*profile); err != nil {
			fmt.Fprintln(os.Stderr, "cimem:", err)
			os.Exit(1)
		}
	}
}
