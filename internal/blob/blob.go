// Package blob stores large files (videos, level models, generated images)
// content-addressed by SHA-256, behind a small interface so an object store
// can replace the directory store later. Writes are streamed: a blob is never
// held whole in memory.
package blob

import (
	"context"
	"errors"
	"io"
)

// ErrNotFound is returned for a blob that does not exist.
var ErrNotFound = errors.New("blob not found")

// ErrTooLarge is returned by Put when the content exceeds the given limit;
// nothing is stored.
var ErrTooLarge = errors.New("blob exceeds the size limit")

// ErrInsufficientStorage is returned by Put when the store has no room for
// the content: the filesystem is full, or storing it would leave less free
// space than the store keeps in reserve. Nothing is stored; the same Put
// may succeed once space is freed, so callers answer "retry later" (HTTP
// 507) rather than blame the content. Its message names no path.
var ErrInsufficientStorage = errors.New("insufficient storage for the blob")

// Info describes a stored blob.
type Info struct {
	// Key is the blob's address: the lower-case hex SHA-256 of its content.
	Key string
	// Size is its length in bytes.
	Size int64
}

// Store is a content-addressed blob store.
type Store interface {
	// Put streams r into the store, at most limit bytes (ErrTooLarge past
	// it; limit ≤ 0 means no limit), and returns its key and size. Storing
	// content that exists already is a no-op that returns the same key.
	// A failed or cancelled Put leaves nothing behind. A Put that meets a
	// full store fails with ErrInsufficientStorage.
	Put(ctx context.Context, r io.Reader, limit int64) (Info, error)
	// Open returns a reader of the blob; the caller closes it.
	Open(ctx context.Context, key string) (io.ReadSeekCloser, Info, error)
	// Stat reports a blob's info, or ErrNotFound.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes a blob; deleting a missing blob is not an error.
	Delete(ctx context.Context, key string) error
}
