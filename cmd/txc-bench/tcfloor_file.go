package main

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// syncedFile is the floor's durable write: appends to a file preallocated
// with zeros (so an append changes no file size and fdatasync writes no
// metadata, as in the embedded store), each followed by fdatasync. At its
// end it starts again at the beginning: nothing is ever read back.
type syncedFile struct {
	f         *os.File
	off, size int64
}

func openSyncedFile(dir string, size int64) (*syncedFile, error) {
	f, err := os.OpenFile(filepath.Join(dir, "floor.log"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := fillZeros(f, size); err != nil {
		f.Close()
		return nil, fmt.Errorf("floor: preallocate: %w", err)
	}
	return &syncedFile{f: f, size: size}, nil
}

func fillZeros(f *os.File, size int64) error {
	if err := unix.Fallocate(int(f.Fd()), 0, 0, size); err != nil {
		return err
	}
	zeros := make([]byte, 1<<20)
	for pos := int64(0); pos < size; pos += int64(len(zeros)) {
		if _, err := f.WriteAt(zeros[:min(int64(len(zeros)), size-pos)], pos); err != nil {
			return err
		}
	}
	return f.Sync()
}

// append writes b at the end of what was written and syncs it.
func (l *syncedFile) append(b []byte) error {
	if l.off+int64(len(b)) > l.size {
		l.off = 0
	}
	if _, err := l.f.WriteAt(b, l.off); err != nil {
		return err
	}
	l.off += int64(len(b))
	return unix.Fdatasync(int(l.f.Fd()))
}

func (l *syncedFile) close() error { return l.f.Close() }
