// cgoprog is a cgo program for gosym tests: its binary is linked by the external
// (C) linker, holds C code with DWARF next to Go code, and imports runtime/pprof so
// memory profiling stays enabled.
//
//	cgoprog          print "ready" and the address of the C function c_work,
//	                 then wait for stdin to close
package main

/*
#include <stdint.h>

static int c_helper(int n)
{
	int s = 0;
	for (int i = 0; i < n; i++)
		s += i * i;
	return s;
}

int c_work(int n)
{
	return c_helper(n) + 1;
}

uintptr_t c_work_addr(void)
{
	return (uintptr_t)&c_work;
}
*/
import "C"

import (
	"bufio"
	"fmt"
	"os"
	"runtime/pprof"
)

var sink [][]byte

func main() {
	for i := 0; i < 64; i++ {
		sink = append(sink, make([]byte, 64<<10))
	}
	fmt.Printf("ready c_work=%#x result=%d profiles=%d\n", uintptr(C.c_work_addr()),
		int(C.c_work(10)), len(pprof.Profiles()))
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
	}
}
