module oomprof.test/testdata

go 1.19
