package config

import (
	"errors"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
)

// Blob says where blobs live, from BLOB_URL:
//
//   - file:///var/lib/gamepipe/blobs (or file:relative/dir): files in a
//     directory, by default DATA_DIR/blobs;
//   - postgres: in the database of DATABASE_URL;
//   - s3://bucket/optional/prefix?endpoint=host:port&region=…&tls=false: objects
//     of an S3-compatible bucket, signed with AWS_ACCESS_KEY_ID and
//     AWS_SECRET_ACCESS_KEY.
//
// BLOB_STORE=dir or postgres is the older way to say file (in DATA_DIR) or
// postgres; set with BLOB_URL, it must name the same kind.
type Blob struct {
	// Kind is BlobKindDir, BlobKindPostgres or BlobKindS3.
	Kind string
	// Dir is a dir store's directory.
	Dir string
	// S3 is an s3 store's bucket, server and keys.
	S3 BlobS3
}

// Blob kinds.
const (
	BlobKindDir      = "dir"
	BlobKindPostgres = "postgres"
	BlobKindS3       = "s3"
)

// BlobS3 names a bucket on an S3-compatible server and the keys that reach
// it. Its fields are those of blob.S3Location, which it converts to.
type BlobS3 struct {
	// Endpoint is the server's host:port (BLOB_URL's endpoint).
	Endpoint string
	// TLS selects https (tls=false for plain http; default true).
	TLS bool
	// Region is the bucket's region (region=…); empty asks the server.
	Region string
	// Bucket is BLOB_URL's host.
	Bucket string
	// Prefix is BLOB_URL's path, with a trailing slash: put before every
	// object name.
	Prefix string
	// AccessKey and SecretKey are AWS_ACCESS_KEY_ID and
	// AWS_SECRET_ACCESS_KEY: both, or neither for anonymous requests.
	AccessKey string
	SecretKey string
}

// errBlobKeys is the error for one S3 key without the other.
var errBlobKeys = errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: set both, or neither for anonymous requests")

// blobBucketName is S3's rule for bucket names.
var blobBucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// blob reads BLOB_URL and BLOB_STORE; dataDir is DATA_DIR.
func (r *reader) blob(dataDir string) Blob {
	const name = "BLOB_URL"
	legacy := ""
	if r.getenv("BLOB_STORE") != "" {
		legacy = r.oneOf("BLOB_STORE", BlobKindDir, BlobKindDir, BlobKindPostgres)
	}
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		if legacy == BlobKindPostgres {
			return Blob{Kind: BlobKindPostgres}
		}
		return Blob{Kind: BlobKindDir, Dir: filepath.Join(dataDir, "blobs")}
	}
	u, err := url.Parse(v)
	if err != nil {
		r.fail(name, "must be a file:, postgres: or s3:// URL", "<unparsable>")
		return Blob{}
	}
	var b Blob
	switch u.Scheme {
	case "file":
		b = r.blobFile(name, u)
	case "postgres":
		b = Blob{Kind: BlobKindPostgres}
		if u.Host != "" || u.Path != "" || u.Opaque != "" || u.RawQuery != "" || u.User != nil {
			r.fail(name, "postgres: takes nothing more (blobs go to DATABASE_URL's database)", redactBlobURL(u))
		}
	case "s3":
		b = r.blobS3(name, u)
	default:
		r.fail(name, "must use scheme file, postgres or s3", redactBlobURL(u))
		return Blob{}
	}
	if legacy != "" && legacy != b.Kind {
		r.fail("BLOB_STORE", "disagrees with BLOB_URL ("+b.Kind+"): set only BLOB_URL", legacy)
	}
	return b
}

func (r *reader) blobFile(name string, u *url.URL) Blob {
	dir := u.Path
	if u.Opaque != "" {
		dir = u.Opaque // file:relative/dir
	}
	if (u.Host != "" && u.Host != "localhost") || dir == "" || u.RawQuery != "" || u.User != nil {
		r.fail(name, "a file URL names a directory: file:///abs/dir or file:rel/dir", redactBlobURL(u))
	}
	return Blob{Kind: BlobKindDir, Dir: filepath.Clean(dir)}
}

// blobS3Params are the query parameters an s3 BLOB_URL takes.
var blobS3Params = map[string]bool{"endpoint": true, "region": true, "tls": true}

// redactBlobURL hides a password and the values of unknown parameters (a
// key put there by mistake), so a config error never prints them.
func redactBlobURL(u *url.URL) string {
	c := *u
	q := c.Query()
	for k := range q {
		if !blobS3Params[k] {
			q.Set(k, "xxxxx")
		}
	}
	c.RawQuery = q.Encode()
	return c.Redacted()
}

func (r *reader) blobS3(name string, u *url.URL) Blob {
	shown := redactBlobURL(u)
	if u.User != nil {
		// Keys go in their own variables, never in a URL that gets logged.
		r.fail(name, "must not hold credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", shown)
	}
	s := BlobS3{Bucket: u.Host, TLS: true}
	if !blobBucketName.MatchString(s.Bucket) {
		r.fail(name, "must name a bucket: s3://bucket?endpoint=host:port", shown)
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		s.Prefix = p + "/"
	}
	q := u.Query()
	for k := range q {
		if !blobS3Params[k] {
			r.fail(name, "takes only endpoint, region and tls, not "+k, shown)
		}
	}
	s.Endpoint = q.Get("endpoint")
	if host, _, err := net.SplitHostPort(s.Endpoint); s.Endpoint == "" || strings.Contains(s.Endpoint, "/") ||
		(err == nil && host == "") {
		r.fail(name, "needs endpoint=host:port, the S3 server's address", shown)
	}
	s.Region = q.Get("region")
	switch q.Get("tls") {
	case "", "true":
	case "false":
		s.TLS = false
	default:
		r.fail(name, "tls must be true or false", shown)
	}
	s.AccessKey = strings.TrimSpace(r.getenv("AWS_ACCESS_KEY_ID"))
	s.SecretKey = strings.TrimSpace(r.getenv("AWS_SECRET_ACCESS_KEY"))
	if (s.AccessKey == "") != (s.SecretKey == "") {
		// The message names the variables, never their values.
		r.errs = append(r.errs, errBlobKeys)
	}
	return Blob{Kind: BlobKindS3, S3: s}
}
