//go:build noprof

package main

import "fmt"

// Without runtime/pprof the linker disables memory profiling; there is nothing to write.
func profileCommand(f []string) error {
	return fmt.Errorf("built without runtime/pprof")
}
