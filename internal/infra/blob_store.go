package infra

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gamepipe/gamepipe/internal/blob"
)

// BlobConfig says which blob store a process opens (BLOB_URL, read by
// package config).
type BlobConfig struct {
	// Kind is "dir", "postgres" or "s3".
	Kind string
	// Dir is a dir store's directory, where MinFreeBytes stay free.
	Dir          string
	MinFreeBytes int64
	// S3 is an s3 store's bucket.
	S3 blob.S3Location
}

// blobCheckTimeout bounds the first look at an S3 bucket.
const blobCheckTimeout = 30 * time.Second

// BlobStore opens the blob store cfg names: "dir", files under cfg.Dir;
// "postgres", the blobs and blob_chunks tables on pool, shared by every
// copy on every machine; or "s3", objects of a bucket every copy reaches,
// locked through pool. An s3 store's bucket is looked at once, so a wrong
// address, bucket or key stops the process at its start.
func BlobStore(ctx context.Context, cfg *BlobConfig, pool *pgxpool.Pool) (blob.Store, error) {
	switch cfg.Kind {
	case "", "dir":
		return blob.NewDirStoreWithConfig(cfg.Dir, &blob.DirStoreConfig{MinFreeBytes: cfg.MinFreeBytes})
	case "postgres":
		return blob.NewPostgresStore(pool, nil), nil
	case "s3":
		s, err := blob.NewS3Store(&blob.S3StoreConfig{S3Location: cfg.S3, Pool: pool})
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(ctx, blobCheckTimeout)
		defer cancel()
		if err := s.Check(ctx); err != nil {
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("unknown blob store %q: use dir, postgres or s3", cfg.Kind)
}
