// leaker retains memory in three functions with known shares of the retained bytes:
//
//	retainGeneric  50 %  a generic function
//	retainInlined  30 %  inlined into its caller fillInlined
//	retainDeep     20 %  reached through a recursion deeper than 128 frames
//
// Every allocation is one chunk of the same size, handed out round-robin in the
// ratio 5:3:2, so at any moment (and at an OOM kill) the retained bytes hold those
// shares to within one chunk per function. Pages are touched so they count in RSS.
//
// Modes:
//
//	-mode=oom   allocate until killed (run it under a memory limit)
//	-mode=hold  retain -mb megabytes, print "ready", then serve commands on stdin
//
// Built with -tags noprof it never references runtime.MemProfile, so the linker
// disables memory profiling (runtime.disableMemoryProfiling).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

var (
	rate   = flag.Int("rate", -1, "set runtime.MemProfileRate to this at start (-1: keep the default)")
	mode   = flag.String("mode", "oom", "oom: allocate until killed; hold: retain -mb MiB then serve stdin")
	holdMB = flag.Int("mb", 64, "MiB to retain in hold mode")
	chunk  = flag.Int("chunk", 16384, "bytes per allocation")
	depth  = flag.Int("depth", 140, "recursion depth above retainDeep")
	pause  = flag.Duration("pause", 0, "sleep this long after each MiB allocated (oom mode)")
)

// retained keeps every chunk alive. A fixed array in .bss, not a growing slice, so
// that no heap allocation besides the chunks themselves is attributed to the fillers.
var (
	retained [1 << 17][]byte
	nchunks  int
)

func touch(b []byte) []byte {
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	return b
}

func keep(b []byte) {
	if nchunks < len(retained) {
		retained[nchunks] = b
		nchunks++
	}
}

//go:noinline
func retainGeneric[T any](n int) []T {
	return make([]T, n)
}

// retainInlined is small enough to be inlined into fillInlined.
func retainInlined(n int) []byte {
	return make([]byte, n)
}

//go:noinline
func fillInlined(n int) {
	keep(touch(retainInlined(n)))
}

//go:noinline
func fillGeneric(n int) {
	keep(touch(retainGeneric[byte](n)))
}

//go:noinline
func retainDeep(n int) []byte {
	return make([]byte, n)
}

//go:noinline
func recurse(level, n int) {
	if level == 0 {
		keep(touch(retainDeep(n)))
		return
	}
	recurse(level-1, n)
}

// allocate one round of ten chunks: 5 generic, 3 inlined, 2 deep.
func allocRound() {
	for i := 0; i < 10; i++ {
		switch {
		case i < 5:
			fillGeneric(*chunk)
		case i < 8:
			fillInlined(*chunk)
		default:
			recurse(*depth, *chunk)
		}
	}
}

func main() {
	flag.Parse()
	if *rate >= 0 {
		runtime.MemProfileRate = *rate
	}
	fmt.Printf("pid %d rate %d\n", os.Getpid(), runtime.MemProfileRate)
	switch *mode {
	case "oom":
		perMiB := (1 << 20) / (10 * *chunk)
		if perMiB < 1 {
			perMiB = 1
		}
		for round := 0; ; round++ {
			allocRound()
			if *pause > 0 && round%perMiB == 0 {
				time.Sleep(*pause)
			}
		}
	case "hold":
		for nchunks**chunk < *holdMB<<20 {
			allocRound()
		}
		runtime.GC()
		fmt.Printf("ready chunks=%d bytes=%d\n", nchunks, nchunks**chunk)
		serve()
	default:
		fmt.Fprintf(os.Stderr, "leaker: unknown mode %q\n", *mode)
		os.Exit(2)
	}
}

// serve answers commands, one per line, until stdin closes:
//
//	rate           print runtime.MemProfileRate
//	gc             run a garbage collection
//	profile PATH   runtime.GC, then write the runtime/pprof heap profile to PATH
//	frames PATH    write every memory-profile record's stack as runtime.CallersFrames gives it
//	oom            allocate until killed, as -mode=oom does
//	quit           exit
func serve() {
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "rate":
			fmt.Printf("rate %d\n", runtime.MemProfileRate)
		case "gc":
			runtime.GC()
			fmt.Println("ok")
		case "quit":
			return
		case "oom":
			for {
				allocRound()
			}
		default:
			if err := profileCommand(f); err != nil {
				fmt.Printf("error %v\n", err)
			} else {
				fmt.Println("ok")
			}
		}
	}
}
