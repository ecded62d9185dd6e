//go:build cgoleak

// Built with -tags cgoleak the leaker holds C code, so the Go linker hands the link
// to the C linker (external linking): .text then starts with C start-up code and the
// Go functions' base is moduledata.text, not the section start. Its "frames" command
// is the oracle for symbolizing such binaries (go tool addr2line is wrong there).
package main

/*
static int c_touch(int n) { return n + 1; }
*/
import "C"

func init() {
	if C.c_touch(1) != 2 {
		panic("cgo call failed")
	}
}
