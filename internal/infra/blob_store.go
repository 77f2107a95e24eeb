package infra

import (
	"fmt"
	"path/filepath"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gamepipe/gamepipe/internal/blob"
)

// BlobStore opens the blob store kind names (BLOB_STORE): "dir", files
// under dataDir/blobs keeping minFree bytes free, or "postgres", the blobs
// and blob_chunks tables on pool, shared by every copy on every machine.
func BlobStore(kind, dataDir string, minFree int64, pool *pgxpool.Pool) (blob.Store, error) {
	switch kind {
	case "", "dir":
		return blob.NewDirStoreWithConfig(filepath.Join(dataDir, "blobs"), &blob.DirStoreConfig{MinFreeBytes: minFree})
	case "postgres":
		return blob.NewPostgresStore(pool, nil), nil
	}
	return nil, fmt.Errorf("unknown blob store %q: use dir or postgres", kind)
}
