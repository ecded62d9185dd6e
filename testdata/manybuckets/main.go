// manybuckets creates at least -buckets distinct allocation sites (memory-profile
// buckets), each with a stack -depth frames deep, retaining one small object in each.
//
// Site i is reached through 16 levels of recursion whose call sites spell the bits of
// i (bit0 calls from one call site, bit1 from another), so every i has its own
// stack of return PCs, below a straight recursion that pads the stack to -depth.
//
// Modes: -mode=hold prints "ready" and waits on stdin (commands: "rate", "quit",
// "profile PATH": write its own runtime/pprof heap profile, timed);
// -mode=oom then allocates large chunks from one site until killed.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"
)

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

var (
	nbuckets = flag.Int("buckets", 60000, "distinct allocation sites to create (at most 65536)")
	depth    = flag.Int("depth", 128, "frames above each allocation")
	mode     = flag.String("mode", "hold", "hold or oom")
	rate     = flag.Int("rate", 1, "runtime.MemProfileRate")
)

const bits = 16

var (
	sites [1 << bits][]byte
	big   [1 << 16][]byte
)

//go:noinline
func leaf(i int) {
	sites[i] = make([]byte, 64)
}

//go:noinline
func bit0(level, i int) {
	if level == bits {
		leaf(i)
		return
	}
	if i>>level&1 == 0 {
		bit0(level+1, i)
	} else {
		bit1(level+1, i)
	}
}

//go:noinline
func bit1(level, i int) {
	if level == bits {
		leaf(i)
		return
	}
	if i>>level&1 == 0 {
		bit0(level+1, i)
	} else {
		bit1(level+1, i)
	}
}

//go:noinline
func pad(n, i int) {
	if n <= 0 {
		bit0(0, i)
		return
	}
	pad(n-1, i)
}

//go:noinline
func grow(k int) {
	b := make([]byte, 1<<20)
	for j := 0; j < len(b); j += 4096 {
		b[j] = 1
	}
	big[k%len(big)] = b
}

func main() {
	flag.Parse()
	runtime.MemProfileRate = *rate
	if *nbuckets > 1<<bits {
		*nbuckets = 1 << bits
	}
	for i := 0; i < *nbuckets; i++ {
		pad(*depth-bits-3, i)
	}
	runtime.GC()
	fmt.Printf("ready pid=%d buckets=%d\n", os.Getpid(), *nbuckets)
	if *mode == "oom" {
		for k := 0; ; k++ {
			grow(k)
		}
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		switch {
		case len(f) == 0:
		case f[0] == "rate":
			fmt.Printf("rate %d\n", runtime.MemProfileRate)
		case f[0] == "profile" && len(f) == 2:
			// The peer for benchmarks: the program writing its own heap profile.
			start := time.Now()
			if err := writeProfile(f[1]); err != nil {
				fmt.Printf("error %v\n", err)
				continue
			}
			fmt.Printf("ok elapsed_ns=%d\n", time.Since(start).Nanoseconds())
		case f[0] == "quit":
			return
		}
	}
}
