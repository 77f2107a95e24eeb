package blob

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

var (
	_ Store   = (*S3Store)(nil)
	_ Sweeper = (*S3Store)(nil)
)

// S3Store keeps blobs as objects of an S3-compatible bucket, so every
// process on every machine that reaches the bucket shares them. A blob is
// the object <prefix><key>. A Put streams its content into a temporary
// object <prefix>tmp/<random> (a multipart upload of PartSize parts),
// hashing it on the way, then copies it under its key on the server and
// deletes the temporary one: a failed Put leaves at most a temporary
// object or an unfinished upload, which the sweep removes once older than
// its cutoff.
//
// The sweep judges a blob's age by its object's LastModified, which a Put
// of the same content refreshes (the copy rewrites the object). S3 has no
// atomic rename to move a blob aside as the directory store does, so a
// Put's copy and the sweep's last look and delete of the same key are
// serialised by a Postgres advisory lock on the key (docs/scaling.md).
type S3Store struct {
	client   *minio.Client
	pool     *pgxpool.Pool
	bucket   string
	prefix   string
	partSize uint64
	lockNS   string
}

// S3Location names a bucket on an S3-compatible server and the keys that
// reach it.
type S3Location struct {
	// Endpoint is the server's host:port.
	Endpoint string
	// TLS selects https.
	TLS bool
	// Region is the bucket's region; empty asks the server.
	Region string
	// Bucket is the bucket, which must exist.
	Bucket string
	// Prefix is put before every object name, e.g. "gamepipe/"; empty
	// uses the bucket's root.
	Prefix string
	// AccessKey and SecretKey sign requests; both empty sends anonymous
	// requests.
	AccessKey string
	SecretKey string
}

// S3StoreConfig configures an S3Store.
type S3StoreConfig struct {
	S3Location
	// PartSize is the size of one part of an upload, held in memory while
	// it is sent: defaults to 5 MiB, S3's smallest, which allows blobs of
	// up to 50 GB (10,000 parts).
	PartSize uint64
	// Pool holds the advisory locks that keep a sweep from deleting a
	// blob a Put is storing again.
	Pool *pgxpool.Pool
}

const (
	// s3MinPartSize is S3's smallest part but the last.
	s3MinPartSize = 5 << 20
	// s3MaxCopySize is the largest object S3 copies in one request.
	s3MaxCopySize = 5 << 30
)

// NewS3Store returns a store on cfg's bucket. It sends no request: a
// wrong address or key shows on first use (see S3Store.Check).
func NewS3Store(cfg *S3StoreConfig) (*S3Store, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("blob: an S3 store needs an endpoint and a bucket")
	}
	if cfg.Pool == nil {
		return nil, errors.New("blob: an S3 store needs a Postgres pool for its locks")
	}
	if (cfg.AccessKey == "") != (cfg.SecretKey == "") {
		return nil, errors.New("blob: an S3 store needs both an access key and a secret key, or neither")
	}
	partSize := cmp.Or(cfg.PartSize, s3MinPartSize)
	if partSize < s3MinPartSize {
		return nil, fmt.Errorf("blob: S3 part size %d is below S3's minimum of 5 MiB", partSize)
	}
	var creds *credentials.Credentials
	if cfg.AccessKey != "" {
		creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")
	} else {
		creds = credentials.New(&credentials.Static{})
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  creds,
		Secure: cfg.TLS,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("blob: error creating the S3 client for %s: %w", cfg.Endpoint, err)
	}
	return &S3Store{
		client:   client,
		pool:     cfg.Pool,
		bucket:   cfg.Bucket,
		prefix:   cfg.Prefix,
		partSize: partSize,
		// Not the endpoint: processes may reach one bucket by different
		// names.
		lockNS: "blob:s3:" + cfg.Bucket + "/" + cfg.Prefix,
	}, nil
}

// Check reports whether the bucket can be reached with the store's
// credentials: a process calls it at start, to refuse a wrong address,
// bucket or key at once rather than on the first upload.
func (s *S3Store) Check(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("blob: error reaching S3 bucket %s: %w", s.bucket, err)
	}
	if !ok {
		return fmt.Errorf("blob: S3 bucket %s does not exist", s.bucket)
	}
	return nil
}

func (s *S3Store) object(key string) string { return s.prefix + key }

const s3TmpDir = "tmp/"

// Put implements Store.
func (s *S3Store) Put(ctx context.Context, r io.Reader, limit int64) (Info, error) {
	var rnd [16]byte
	_, _ = rand.Read(rnd[:])
	tmp := s.prefix + s3TmpDir + hex.EncodeToString(rnd[:])
	src := &hashingReader{r: ctxReader{ctx, r}, h: sha256.New(), limit: limit}
	_, err := s.client.PutObject(ctx, s.bucket, tmp, src, -1, minio.PutObjectOptions{
		PartSize:    s.partSize,
		ContentType: "application/octet-stream",
	})
	// The temporary object goes whatever happened; one a crash leaves is
	// the sweep's.
	defer s.removeQuietly(ctx, tmp)
	switch {
	case src.tooLarge:
		return Info{}, ErrTooLarge
	case src.err != nil:
		// The content's reader failed: report its error, not the
		// upload's rendering of it.
		return Info{}, fmt.Errorf("error writing blob: %w", src.err)
	case err != nil:
		return Info{}, s3StorageError("error writing blob", err)
	}
	info := Info{Key: hex.EncodeToString(src.h.Sum(nil)), Size: src.n}
	// The copy rewrites an object already stored, so that the sweep
	// sees it new again.
	err = s.withKeyLocks(ctx, []string{info.Key}, false, func() error {
		dst := minio.CopyDestOptions{Bucket: s.bucket, Object: s.object(info.Key)}
		src := minio.CopySrcOptions{Bucket: s.bucket, Object: tmp}
		var err error
		if info.Size <= s3MaxCopySize {
			_, err = s.client.CopyObject(ctx, dst, src)
		} else {
			_, err = s.client.ComposeObject(ctx, dst, src) // copied part by part
		}
		return err
	})
	if err != nil {
		return Info{}, s3StorageError("error storing blob "+info.Key, err)
	}
	return info, nil
}

// removeQuietly deletes an object, even once ctx is done, ignoring
// failure.
func (s *S3Store) removeQuietly(ctx context.Context, object string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	_ = s.client.RemoveObject(ctx, s.bucket, object, minio.RemoveObjectOptions{})
}

// withKeyLocks runs fn in a transaction holding keys' advisory locks,
// taken in the order given: shared for a Put (Puts of one content may
// copy at once), exclusive for the sweep, which gives them sorted.
func (s *S3Store) withKeyLocks(ctx context.Context, keys []string, exclusive bool, fn func() error) error {
	lock := "pg_advisory_xact_lock_shared"
	if exclusive {
		lock = "pg_advisory_xact_lock"
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, key := range keys {
			if _, err := tx.Exec(ctx, "SELECT "+lock+"(hashtext($1), hashtext($2))", s.lockNS, key); err != nil {
				return fmt.Errorf("error locking blob %s: %w", key, err)
			}
		}
		return fn()
	})
}

// hashingReader hashes and counts what is read through it, and fails
// once more than limit bytes (limit > 0) have been read, so that an
// upload of too much content is abandoned rather than completed.
type hashingReader struct {
	r        io.Reader
	h        hash.Hash
	limit    int64
	n        int64
	tooLarge bool
	err      error
}

func (h *hashingReader) Read(p []byte) (int, error) {
	if h.tooLarge {
		return 0, ErrTooLarge
	}
	n, err := h.r.Read(p)
	h.n += int64(n)
	if h.limit > 0 && h.n > h.limit {
		h.tooLarge = true
		return 0, ErrTooLarge
	}
	h.h.Write(p[:n])
	if err != nil && !errors.Is(err, io.EOF) {
		h.err = err
	}
	return n, err
}

// Open implements Store. The reader fetches the object as it is read; a
// Seek makes the next Read ask for the rest from there (a range request).
func (s *S3Store) Open(ctx context.Context, key string) (io.ReadSeekCloser, Info, error) {
	if !validKey(key) {
		return nil, Info{}, ErrNotFound
	}
	obj, err := s.client.GetObject(ctx, s.bucket, s.object(key), minio.GetObjectOptions{})
	if err != nil {
		return nil, Info{}, s3ReadError("error opening blob "+key, err)
	}
	st, err := obj.Stat()
	if err != nil {
		_ = obj.Close()
		return nil, Info{}, s3ReadError("error opening blob "+key, err)
	}
	return obj, Info{Key: key, Size: st.Size}, nil
}

// Stat implements Store.
func (s *S3Store) Stat(ctx context.Context, key string) (Info, error) {
	if !validKey(key) {
		return Info{}, ErrNotFound
	}
	st, err := s.client.StatObject(ctx, s.bucket, s.object(key), minio.StatObjectOptions{})
	if err != nil {
		return Info{}, s3ReadError("error reading blob "+key, err)
	}
	return Info{Key: key, Size: st.Size}, nil
}

// Delete implements Store.
func (s *S3Store) Delete(ctx context.Context, key string) error {
	if !validKey(key) {
		return nil
	}
	if err := s.client.RemoveObject(ctx, s.bucket, s.object(key), minio.RemoveObjectOptions{}); err != nil &&
		!isS3NotFound(err) {
		return fmt.Errorf("error deleting blob %s: %w", key, err)
	}
	return nil
}

// isS3NotFound reports an answer that the object does not exist.
func isS3NotFound(err error) bool {
	resp := minio.ToErrorResponse(err)
	return resp.Code == "NoSuchKey" || resp.StatusCode == http.StatusNotFound && resp.Code != "NoSuchBucket"
}

// s3ReadError maps a missing object to ErrNotFound.
func s3ReadError(doing string, err error) error {
	if isS3NotFound(err) {
		return ErrNotFound
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// s3FullCodes are the error codes S3-compatible servers answer a write
// with when the bucket or the server has no room for it: over a bucket
// quota, or out of disk.
var s3FullCodes = map[string]bool{
	"QuotaExceeded":                  true,
	"XMinioAdminBucketQuotaExceeded": true,
	"XMinioStorageFull":              true,
	"StorageFull":                    true,
	"InsufficientStorage":            true,
}

// s3StorageError wraps err, marking a full bucket or server as
// ErrInsufficientStorage.
func s3StorageError(doing string, err error) error {
	resp := minio.ToErrorResponse(err)
	if s3FullCodes[resp.Code] || resp.StatusCode == http.StatusInsufficientStorage {
		return fmt.Errorf("%w: %s: %w", ErrInsufficientStorage, doing, err)
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// Sweep implements Sweeper. It first removes temporary objects and
// unfinished uploads older than cutoff (Puts a crash interrupted), then
// judges the blobs whose objects were last written before cutoff: those
// referenced does not claim are locked, looked at again (a Put since the
// listing made one new, or a concurrent sweep deleted it), checked again
// by referenced (a record written since the first check), and deleted. A Put of the same content waits for the lock, then stores the
// blob again.
func (s *S3Store) Sweep(ctx context.Context, cutoff time.Time, referenced Referenced) (SweepResult, error) {
	var res SweepResult
	if err := s.sweepTemporary(ctx, cutoff, &res); err != nil {
		return res, err
	}
	var batch []string
	listCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	for obj := range s.client.ListObjects(listCtx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix}) {
		if obj.Err != nil {
			return res, fmt.Errorf("error sweeping blobs: %w", obj.Err)
		}
		key := strings.TrimPrefix(obj.Key, s.prefix)
		if !validKey(key) || !obj.LastModified.Before(cutoff) {
			continue // the tmp/ folder, or not a blob, or new
		}
		res.Checked++
		if batch = append(batch, key); len(batch) == sweepBatch {
			if err := s.sweepBatch(ctx, cutoff, batch, referenced, &res); err != nil {
				return res, fmt.Errorf("error sweeping blobs: %w", err)
			}
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		if err := s.sweepBatch(ctx, cutoff, batch, referenced, &res); err != nil {
			return res, fmt.Errorf("error sweeping blobs: %w", err)
		}
	}
	return res, nil
}

func (s *S3Store) sweepBatch(ctx context.Context, cutoff time.Time, keys []string, referenced Referenced, res *SweepResult) error {
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
	slices.Sort(unused)
	return s.withKeyLocks(ctx, unused, true, func() error {
		old, sizes, err := s.stillOld(ctx, cutoff, unused)
		if err != nil || len(old) == 0 {
			return err
		}
		used, err := referenced(ctx, old)
		if err != nil {
			return err
		}
		for _, key := range old {
			if used[key] {
				continue
			}
			if err := s.client.RemoveObject(ctx, s.bucket, s.object(key), minio.RemoveObjectOptions{}); err != nil {
				return fmt.Errorf("error deleting blob %s: %w", key, err)
			}
			res.Deleted++
			res.Bytes += sizes[key]
		}
		return nil
	})
}

// stillOld returns which of keys still have an object last written
// before cutoff, and their sizes.
func (s *S3Store) stillOld(ctx context.Context, cutoff time.Time, keys []string) ([]string, map[string]int64, error) {
	var old []string
	sizes := map[string]int64{}
	for _, key := range keys {
		st, err := s.client.StatObject(ctx, s.bucket, s.object(key), minio.StatObjectOptions{})
		if isS3NotFound(err) {
			continue // another sweep's
		}
		if err != nil {
			return nil, nil, fmt.Errorf("error reading blob %s: %w", key, err)
		}
		if st.LastModified.Before(cutoff) {
			old = append(old, key)
			sizes[key] = st.Size
		}
	}
	return old, sizes, nil
}

// sweepTemporary removes the temporary objects and unfinished uploads of
// Puts older than cutoff.
func (s *S3Store) sweepTemporary(ctx context.Context, cutoff time.Time, res *SweepResult) error {
	tmp := s.prefix + s3TmpDir
	listCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	for obj := range s.client.ListObjects(listCtx, s.bucket, minio.ListObjectsOptions{Prefix: tmp}) {
		if obj.Err != nil {
			return fmt.Errorf("error sweeping temporary blobs: %w", obj.Err)
		}
		if !obj.LastModified.Before(cutoff) {
			continue
		}
		if err := s.client.RemoveObject(ctx, s.bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil && !isS3NotFound(err) {
			return fmt.Errorf("error deleting temporary blob %s: %w", obj.Key, err)
		}
		res.Temporary++
	}
	for up := range s.client.ListIncompleteUploads(listCtx, s.bucket, tmp, true) {
		if up.Err != nil {
			return fmt.Errorf("error listing unfinished uploads: %w", up.Err)
		}
		if !up.Initiated.Before(cutoff) {
			continue
		}
		if err := s.client.RemoveIncompleteUpload(ctx, s.bucket, up.Key); err != nil && !isS3NotFound(err) {
			return fmt.Errorf("error aborting unfinished upload %s: %w", up.Key, err)
		}
		res.Temporary++
	}
	return nil
}
