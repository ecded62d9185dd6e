//go:build !noprof

package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

func profileCommand(f []string) error {
	if len(f) != 2 {
		return fmt.Errorf("usage: %s PATH", f[0])
	}
	switch f[0] {
	case "profile":
		return writeHeapProfile(f[1])
	case "frames":
		return writeFrames(f[1])
	}
	return fmt.Errorf("unknown command %q", f[0])
}

func writeHeapProfile(path string) error {
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

// writeFrames writes, for each memory-profile record, a line "stack PC..." with its
// return PCs in hex, then one line "frame PC FUNCTION FILE LINE" per logical frame
// that runtime.CallersFrames yields for that stack.
func writeFrames(path string) error {
	var recs []runtime.MemProfileRecord
	n, _ := runtime.MemProfile(nil, true)
	for {
		recs = make([]runtime.MemProfileRecord, n+50)
		var ok bool
		n, ok = runtime.MemProfile(recs, true)
		if ok {
			recs = recs[:n]
			break
		}
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	for _, r := range recs {
		stk := r.Stack()
		fmt.Fprint(out, "stack")
		for _, pc := range stk {
			fmt.Fprintf(out, " %#x", pc)
		}
		fmt.Fprintln(out)
		frames := runtime.CallersFrames(stk)
		for {
			fr, more := frames.Next()
			fmt.Fprintf(out, "frame %#x %s %s %d\n", fr.PC, fr.Function, fr.File, fr.Line)
			if !more {
				break
			}
		}
	}
	return out.Close()
}
