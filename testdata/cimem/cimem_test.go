package main

import (
	"os"
	"testing"
)

// TestLeak leaks until killed when CIMEM_LEAK is set (the `oomprof run -- go test`
// test); otherwise it is skipped, so that a plain `go test` passes.
func TestLeak(t *testing.T) {
	if os.Getenv("CIMEM_LEAK") == "" {
		t.Skip("CIMEM_LEAK not set")
	}
	leakForever(1 << 16)
}
