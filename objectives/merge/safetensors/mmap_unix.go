//go:build unix

package safetensors

import (
	"os"
	"syscall"
	"unsafe"
)

// mapFile maps a whole file read-only. Reading tensors through the mapping
// costs no copy and no system call; the kernel maps page-cache pages in
// large runs. nil (no error) when the file is empty.
func mapFile(f *os.File, size int64) ([]byte, error) {
	if size <= 0 || int64(int(size)) != size {
		return nil, nil
	}
	return syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
}

func unmapFile(b []byte) error { return syscall.Munmap(b) }

// Release drops the page-table entries of the whole pages inside b, a part
// of a mapped file that will not be read again soon: the pages stay in the
// page cache, but no longer count in the process's resident memory, so
// streaming a model larger than RAM keeps the resident set small.
func Release(b []byte) {
	const page = 4096
	if len(b) < page {
		return
	}
	start := uintptr(unsafe.Pointer(&b[0]))
	lo := (start + page - 1) &^ (page - 1)
	hi := (start + uintptr(len(b))) &^ (page - 1)
	if hi <= lo {
		return
	}
	syscall.Syscall(syscall.SYS_MADVISE, lo, hi-lo, uintptr(syscall.MADV_DONTNEED))
}
