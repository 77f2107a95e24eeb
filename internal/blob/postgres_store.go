package blob

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

var (
	_ Store   = (*PostgresStore)(nil)
	_ Sweeper = (*PostgresStore)(nil)
)

// PostgresStore keeps blobs in Postgres (tables blobs and blob_chunks), so
// every process that shares the database shares the blobs, whatever
// machine it runs on. A Put streams its content into chunks inside one
// transaction and commits them under the content's key at the end, so a
// failed or interrupted Put leaves nothing. The trade-off against an
// object store: blobs count against the database's disk, backups and
// replication, and a Put holds a connection for as long as its upload
// lasts (docs/scaling.md).
type PostgresStore struct {
	pool      *pgxpool.Pool
	chunkSize int
}

// PostgresStoreConfig configures a PostgresStore.
type PostgresStoreConfig struct {
	// ChunkSize is the size of one stored chunk of a new blob. Defaults to
	// 1 MiB. Each blob records its own, so it may change between Puts.
	ChunkSize int
}

// NewPostgresStore returns a store on pool, whose schema has the blobs and
// blob_chunks tables (migrations). cfg may be nil.
func NewPostgresStore(pool *pgxpool.Pool, cfg *PostgresStoreConfig) *PostgresStore {
	if cfg == nil {
		cfg = &PostgresStoreConfig{}
	}
	return &PostgresStore{pool: pool, chunkSize: cmp.Or(cfg.ChunkSize, 1<<20)}
}

// pgStorageError wraps err, marking a full disk as ErrInsufficientStorage.
func pgStorageError(doing string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "53100" || pe.Code == "53200") { // disk_full, out_of_memory
		return fmt.Errorf("%w: %s: %w", ErrInsufficientStorage, doing, err)
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// Put implements Store.
func (s *PostgresStore) Put(ctx context.Context, r io.Reader, limit int64) (Info, error) {
	var upload [16]byte
	_, _ = rand.Read(upload[:])
	upload[6] = upload[6]&0x0f | 0x40 // a version 4 UUID
	upload[8] = upload[8]&0x3f | 0x80
	var info Info
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		h := sha256.New()
		src := io.Reader(ctxReader{ctx, r})
		if limit > 0 {
			src = io.LimitReader(src, limit+1)
		}
		buf := make([]byte, s.chunkSize)
		var n int64
		for i := 0; ; i++ {
			m, rerr := io.ReadFull(src, buf)
			if m > 0 {
				n += int64(m)
				if limit > 0 && n > limit {
					return ErrTooLarge
				}
				h.Write(buf[:m])
				if _, err := tx.Exec(ctx, `INSERT INTO blob_chunks (upload_id, n, data) VALUES ($1, $2, $3)`,
					upload, i, buf[:m]); err != nil {
					return pgStorageError("error writing blob", err)
				}
			}
			if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
				break
			}
			if rerr != nil {
				return fmt.Errorf("error writing blob: %w", rerr)
			}
		}
		info = Info{Key: hex.EncodeToString(h.Sum(nil)), Size: n}
		// The same content stored already (or by a concurrent Put, whose
		// commit this waits for): keep that one, fresh again for the sweep,
		// and drop these chunks with the transaction's other work.
		var kept [16]byte
		if err := tx.QueryRow(ctx, `INSERT INTO blobs (key, upload_id, size, chunk_size) VALUES ($1, $2, $3, $4)
			ON CONFLICT (key) DO UPDATE SET updated_at = now()
			RETURNING upload_id`, info.Key, upload, n, s.chunkSize).Scan(&kept); err != nil {
			return pgStorageError("error storing blob "+info.Key, err)
		}
		if kept != upload {
			if _, err := tx.Exec(ctx, `DELETE FROM blob_chunks WHERE upload_id = $1`, upload); err != nil {
				return fmt.Errorf("error storing blob %s: %w", info.Key, err)
			}
		}
		return nil
	})
	if err != nil {
		return Info{}, err
	}
	return info, nil
}

// Open implements Store. The reader fetches one chunk at a time.
func (s *PostgresStore) Open(ctx context.Context, key string) (io.ReadSeekCloser, Info, error) {
	if !validKey(key) {
		return nil, Info{}, ErrNotFound
	}
	rd := &pgReader{pool: s.pool, cur: -1}
	err := s.pool.QueryRow(ctx, `SELECT upload_id, size, chunk_size FROM blobs WHERE key = $1`, key).
		Scan(&rd.upload, &rd.size, &rd.chunkSize)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, Info{}, ErrNotFound
	}
	if err != nil {
		return nil, Info{}, fmt.Errorf("error opening blob %s: %w", key, err)
	}
	return rd, Info{Key: key, Size: rd.size}, nil
}

// Stat implements Store.
func (s *PostgresStore) Stat(ctx context.Context, key string) (Info, error) {
	if !validKey(key) {
		return Info{}, ErrNotFound
	}
	info := Info{Key: key}
	err := s.pool.QueryRow(ctx, `SELECT size FROM blobs WHERE key = $1`, key).Scan(&info.Size)
	if errors.Is(err, pgx.ErrNoRows) {
		return Info{}, ErrNotFound
	}
	if err != nil {
		return Info{}, fmt.Errorf("error reading blob %s: %w", key, err)
	}
	return info, nil
}

// Delete implements Store.
func (s *PostgresStore) Delete(ctx context.Context, key string) error {
	if !validKey(key) {
		return nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return deleteBlobs(ctx, tx, []string{key}, nil)
	})
	if err != nil {
		return fmt.Errorf("error deleting blob %s: %w", key, err)
	}
	return nil
}

// deleteBlobs deletes keys' rows and chunks in tx, adding their count and
// size to res when given.
func deleteBlobs(ctx context.Context, tx pgx.Tx, keys []string, res *SweepResult) error {
	rows, err := tx.Query(ctx, `DELETE FROM blobs WHERE key = ANY($1) RETURNING upload_id, size`, keys)
	if err != nil {
		return err
	}
	var uploads [][16]byte
	for rows.Next() {
		var u [16]byte
		var size int64
		if err := rows.Scan(&u, &size); err != nil {
			return err
		}
		uploads = append(uploads, u)
		if res != nil {
			res.Deleted++
			res.Bytes += size
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(uploads) == 0 {
		return nil
	}
	_, err = tx.Exec(ctx, `DELETE FROM blob_chunks WHERE upload_id = ANY($1)`, uploads)
	return err
}

// Sweep implements Sweeper. Candidates are blobs last Put before cutoff
// that referenced does not claim; they are then locked, so that a Put of
// the same content waits, and checked again, by time (a Put since the
// listing made one new) and by referenced (a record written since the
// first check), before they are deleted. A Put's uncommitted chunks are
// never seen, and a failed Put leaves none, so there are no temporary
// files to sweep.
func (s *PostgresStore) Sweep(ctx context.Context, cutoff time.Time, referenced Referenced) (SweepResult, error) {
	var res SweepResult
	for after := ""; ; {
		var keys []string
		rows, err := s.pool.Query(ctx, `SELECT key FROM blobs WHERE updated_at < $1 AND key > $2 ORDER BY key LIMIT $3`,
			cutoff, after, sweepBatch)
		if err != nil {
			return res, fmt.Errorf("error sweeping blobs: %w", err)
		}
		keys, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return res, fmt.Errorf("error sweeping blobs: %w", err)
		}
		if len(keys) == 0 {
			return res, nil
		}
		after = keys[len(keys)-1]
		res.Checked += len(keys)
		if err := s.sweepBatch(ctx, cutoff, keys, referenced, &res); err != nil {
			return res, fmt.Errorf("error sweeping blobs: %w", err)
		}
	}
}

func (s *PostgresStore) sweepBatch(ctx context.Context, cutoff time.Time, keys []string, referenced Referenced, res *SweepResult) error {
	used, err := referenced(ctx, keys)
	if err != nil {
		return err
	}
	var unused []string
	for _, k := range keys {
		if !used[k] {
			unused = append(unused, k)
		}
	}
	if len(unused) == 0 {
		return nil
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT key FROM blobs WHERE key = ANY($1) AND updated_at < $2 ORDER BY key FOR UPDATE`,
			unused, cutoff)
		if err != nil {
			return err
		}
		locked, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(locked) == 0 {
			return err
		}
		used, err := referenced(ctx, locked)
		if err != nil {
			return err
		}
		var gone []string
		for _, k := range locked {
			if !used[k] {
				gone = append(gone, k)
			}
		}
		if len(gone) == 0 {
			return nil
		}
		return deleteBlobs(ctx, tx, gone, res)
	})
}

// pgReaderChunkTimeout bounds the fetch of one chunk. io.Reader carries
// no context, so each fetch has its own deadline instead.
const pgReaderChunkTimeout = 30 * time.Second

// pgReader reads a PostgresStore blob chunk by chunk.
type pgReader struct {
	pool      *pgxpool.Pool
	upload    [16]byte
	size      int64
	chunkSize int
	off       int64
	cur       int
	data      []byte
	closed    bool
}

func (r *pgReader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, errors.New("blob: read of a closed reader")
	}
	if r.off >= r.size {
		return 0, io.EOF
	}
	n := int(r.off / int64(r.chunkSize))
	if n != r.cur {
		r.data = r.data[:0]
		ctx, cancel := context.WithTimeout(context.Background(), pgReaderChunkTimeout)
		defer cancel()
		err := r.pool.QueryRow(ctx, `SELECT data FROM blob_chunks WHERE upload_id = $1 AND n = $2`, r.upload, n).Scan(&r.data)
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, fmt.Errorf("blob: chunk %d is gone (blob deleted while read): %w", n, io.ErrUnexpectedEOF)
		}
		if err != nil {
			return 0, fmt.Errorf("error reading blob chunk %d: %w", n, err)
		}
		r.cur = n
	}
	at := r.off - int64(n)*int64(r.chunkSize)
	if at >= int64(len(r.data)) {
		return 0, fmt.Errorf("blob: chunk %d is shorter than its blob's size: %w", n, io.ErrUnexpectedEOF)
	}
	m := copy(p, r.data[at:])
	r.off += int64(m)
	return m, nil
}

func (r *pgReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.size
	default:
		return 0, errors.New("blob: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("blob: negative position")
	}
	r.off = offset
	return offset, nil
}

func (r *pgReader) Close() error {
	r.closed = true
	r.data = nil
	return nil
}
