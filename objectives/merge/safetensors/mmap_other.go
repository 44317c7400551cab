//go:build !unix

package safetensors

import "os"

// mapFile does not map files here: tensors are read with ReadAt.
func mapFile(f *os.File, size int64) ([]byte, error) { return nil, nil }

func unmapFile(b []byte) error { return nil }

// Release does nothing where files are not mapped.
func Release(b []byte) {}
